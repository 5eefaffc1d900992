import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { ErrorCode, JsonlSink, ModelHost } from '../../../src/index.js';
import { trace } from '@opentelemetry/api';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { collectMetrics } from '../../../src/metrics/prometheus.js';
import { instrument } from '../../../src/metrics/opentelemetry.js';
import { FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';

/** A host where every monitoring metric has a value: drift windows, samples, cache, live quality. */
async function busyHost() {
  const host = new ModelHost({
    runtimes: { fake: fakeRuntime() },
    models: { m: { sampling: { rate: 1 }, drift: { enabled: true, referenceSize: 20, windowSize: 20 }, cache: { enabled: true }, feedback: { task: 'regression' } } },
  });
  await host.load('m', { source: FAKE_SOURCE });
  for (let i = 0; i < 40; i++) await host.predict('m', [i % 7, 1, 2, 3], { id: `r${i}` });
  host.feedback('m', 'r0', 0.5); // y[0] = 1: error 0.5
  return host;
}

describe('monitoring metrics', () => {
  it('Prometheus exposes drift score, drift windows, samples, cache hits/misses/bytes and live quality per version', async () => {
    const host = await busyHost();
    const { registry } = collectMetrics(host);
    const text = await registry.metrics();
    expect(text).toMatch(/^modelhost_drift_score\{model="m",group="inputs",feature="x\[0\]"\} [\d.e-]+$/m);
    expect(text).toMatch(/^modelhost_drift_windows_total\{model="m",group="inputs",drifted="false"\} 1$/m);
    expect(text).toMatch(/^modelhost_samples_total\{model="m"\} 40$/m);
    // 7 distinct inputs among 40 requests: each misses twice (an answer is kept from its second sighting), 14 misses, 26 hits.
    expect(text).toMatch(/^modelhost_cache_hits_total\{model="m"\} 26$/m);
    expect(text).toMatch(/^modelhost_cache_misses_total\{model="m"\} 14$/m);
    expect(text).toMatch(/^modelhost_cache_bytes\{model="m"\} [1-9]\d*$/m);
    expect(text).toMatch(/^modelhost_live_mae\{model="m",version="1"\} 0\.5$/m);
    expect(text).toMatch(/^modelhost_feedback_labels\{model="m",version="1"\} 1$/m);
    expect(text).not.toMatch(/^modelhost_live_accuracy\{/m);
    await host.close();
  });

  it('OpenTelemetry publishes the same as modelhost.<name> (counters without _total)', async () => {
    const host = await busyHost();
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
    const provider = new MeterProvider({ readers: [reader] });
    const { stop } = instrument(host, { meter: provider.getMeter('test'), tracer: trace.getTracer('noop') });
    await reader.forceFlush();
    const metrics = new Map(exporter.getMetrics().flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics)).map((m) => [m.descriptor.name, m]));
    expect(metrics.get('modelhost.cache_hits')!.dataPoints).toEqual([expect.objectContaining({ value: 26, attributes: { 'modelhost.model': 'm' } })]);
    expect(metrics.get('modelhost.live_mae')!.dataPoints).toEqual([expect.objectContaining({ value: 0.5, attributes: { 'modelhost.model': 'm', 'modelhost.version': 1 } })]);
    expect(metrics.get('modelhost.drift_score')!.dataPoints.map((p) => p.attributes['modelhost.feature'])).toContain('x[0]');
    stop();
    await provider.shutdown();
    await host.close();
  });

  it('the counts of the sample sinks named in `sinks`: written and dropped per sink, read when scraped (a sink drops rather than block, so this is where drops show)', async () => {
    const host = await busyHost();
    const full = new Writable({ highWaterMark: 1, write: (_chunk, _encoding, done) => setTimeout(done, 60_000).unref() });
    // A stream that never drains and a 16-byte buffer: past the first line, every sample is dropped and counted.
    const tiny = await JsonlSink.open(host, { stream: full, maxBufferBytes: 16 });
    const counts = { written: 3, dropped: 1 };
    const { registry, stop } = collectMetrics(host, { sinks: { tiny, mine: counts } });
    for (let i = 0; i < 5; i++) await host.predict('m', [i, 1, 2, 3]);
    counts.written = 7;
    const text = await registry.metrics();
    expect([tiny.written, tiny.dropped]).toEqual([1, 4]);
    expect(text).toMatch(/^modelhost_samples_written_total\{sink="tiny"\} 1$/m);
    expect(text).toMatch(/^modelhost_samples_dropped_total\{sink="tiny"\} 4$/m);
    expect(text).toMatch(/^modelhost_samples_written_total\{sink="mine"\} 7$/m);
    expect(text).toMatch(/^modelhost_samples_dropped_total\{sink="mine"\} 1$/m);
    stop();
    // Without sinks: the families are there, with no series.
    expect(await collectMetrics(host).registry.metrics()).not.toMatch(/^modelhost_samples_(written|dropped)_total\{/m);

    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
    const provider = new MeterProvider({ readers: [reader] });
    const otel = instrument(host, { meter: provider.getMeter('test'), tracer: trace.getTracer('noop'), sinks: { tiny } });
    await reader.forceFlush();
    const metrics = new Map(exporter.getMetrics().flatMap((r) => r.scopeMetrics.flatMap((m) => m.metrics)).map((m) => [m.descriptor.name, m]));
    expect(metrics.get('modelhost.samples_dropped')!.dataPoints).toEqual([expect.objectContaining({ value: 4, attributes: { 'modelhost.sink': 'tiny' } })]);
    expect(metrics.get('modelhost.samples_written')!.dataPoints).toEqual([expect.objectContaining({ value: 1, attributes: { 'modelhost.sink': 'tiny' } })]);
    otel.stop();
    await provider.shutdown();
    full.destroy(); // it never drains: close() would wait for it
    await tiny.close();
    await host.close();
  });

  it('refuses `sinks` that are not sinks by name (INVALID_CONFIG naming the key)', async () => {
    const host = await busyHost();
    for (const sinks of [[{ written: 0, dropped: 0 }], 'samples', { samples: {} }, { samples: { written: '1', dropped: 0 } }]) {
      expect(() => collectMetrics(host, { sinks } as never)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_CONFIG, message: expect.stringMatching(/^`sinks(\.samples)?` must be/) }));
      expect(() => instrument(host, { sinks } as never)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_CONFIG }));
    }
    // One sink under two names: every count twice in a sum over `sink`. An empty name: Prometheus reads `sink=""` as no label.
    const sink = { written: 3, dropped: 1 };
    for (const [sinks, message] of [
      [{ a: sink, b: sink }, /^`sinks\.b` must be a sink not named already, got the sink named 'a'/],
      [{ '': sink }, /^`sinks` must name each sample sink/],
    ] as const) {
      expect(() => collectMetrics(host, { sinks })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_CONFIG, message: expect.stringMatching(message) }));
      expect(() => instrument(host, { sinks })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_CONFIG, message: expect.stringMatching(message) }));
    }
    await host.close();
  });

  it('a refused `sinks` message says what was received, also for a real JsonlSink (its JSON is circular: it read `got [object Object]`)', async () => {
    const host = await busyHost();
    const sink = Object.assign({ written: 3, dropped: 1 }, { host }); // a JsonlSink holds its host: JSON.stringify throws
    for (const [sinks, message] of [
      // The sink itself where an object of sinks by name goes: the likeliest slip.
      [sink, /^`sinks` must be an object naming each sample sink \(\{ samples: sink \}\), got a sink without a name: pass \{ samples: sink \}$/],
      [{ '': sink }, /^`sinks` must name each sample sink \(sink="" is no label to Prometheus\), got the name ''$/],
      [[sink], /^`sinks` must be an object naming each sample sink \(\{ samples: sink \}\), got an array$/],
    ] as const) {
      expect(() => collectMetrics(host, { sinks } as never)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_CONFIG, message: expect.stringMatching(message) }));
      expect(() => instrument(host, { sinks } as never)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_CONFIG, message: expect.stringMatching(message) }));
    }
    await host.close();
  });

  it('the Grafana dashboard is valid JSON whose every query uses metrics the exporter publishes, with labels their series carry', async () => {
    const dashboard = JSON.parse(await readFile(new URL('../../../docs/grafana/modelhost-monitoring.json', import.meta.url), 'utf8')) as {
      title: string;
      uid: string;
      schemaVersion: number;
      templating: { list: { name: string; query: string }[] };
      panels: { id: number; type: string; title: string; gridPos: { x: number; y: number; w: number; h: number }; targets?: { refId: string; expr: string; datasource: { uid: string } }[] }[];
    };
    expect(dashboard).toMatchObject({ title: expect.any(String), uid: 'modelhost-monitoring', schemaVersion: expect.any(Number) });
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const host = await busyHost();
    const { registry } = collectMetrics(host);
    await host.predict('m', [9, 9, 9, 9]); // request counters count from the collector's start
    const published = new Set((await registry.metrics()).split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]!));
    const used = new Set<string>();
    for (const panel of dashboard.panels) {
      expect(panel.gridPos.x + panel.gridPos.w).toBeLessThanOrEqual(24);
      if (panel.type === 'row') continue;
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets!) {
        expect(target.datasource.uid).toBe('${datasource}');
        for (const name of target.expr.match(/modelhost_[a-z_]+/g) ?? []) used.add(name.replace(/_(bucket|sum|count)$/, ''));
      }
    }
    for (const v of dashboard.templating.list) for (const name of v.query.match(/modelhost_[a-z_]+/g) ?? []) used.add(name);
    expect([...used].filter((name) => !published.has(name))).toEqual([]);
    for (const name of ['modelhost_drift_score', 'modelhost_cache_hits_total', 'modelhost_cache_misses_total', 'modelhost_live_accuracy', 'modelhost_live_mae']) expect(used).toContain(name);
    // Labels too: a selector or a `by (…)` naming a label the series do not carry shows an empty panel.
    const labelsOf = new Map<string, Set<string>>();
    for (const line of (await registry.metrics()).split('\n')) {
      const series = /^(modelhost_[a-z_]+)\{(.*)\} /.exec(line);
      if (series === null) continue;
      const name = series[1]!.replace(/_(bucket|sum|count)$/, '');
      const labels = labelsOf.get(name) ?? new Set<string>();
      for (const [, label] of series[2]!.matchAll(/([a-z_]+)="/g)) labels.add(label!);
      labelsOf.set(name, labels);
    }
    const unknown: string[] = [];
    for (const expr of dashboard.panels.flatMap((p) => p.targets ?? []).map((t) => t.expr)) {
      const inExpr = new Set<string>();
      for (const [, name, matchers] of expr.matchAll(/(modelhost_[a-z_]+)(?:\{([^}]*)\})?/g)) {
        const labels = labelsOf.get(name!.replace(/_(bucket|sum|count)$/, ''));
        if (labels === undefined) continue; // no series on this host (rollbacks): its labels are checked in prometheus.test.ts
        labels.forEach((l) => inExpr.add(l));
        for (const [, label] of (matchers ?? '').matchAll(/([a-z_]+)\s*[=!~]/g)) if (!labels.has(label!)) unknown.push(`${name}{${label}} in ${expr}`);
      }
      for (const [, list] of expr.matchAll(/by \(([^)]*)\)/g)) for (const label of list!.split(',').map((l) => l.trim())) if (inExpr.size > 0 && !inExpr.has(label)) unknown.push(`by (${label}) in ${expr}`);
    }
    expect(unknown).toEqual([]);
    for (const name of ['modelhost_drift_score', 'modelhost_drift_windows_total', 'modelhost_live_mae', 'modelhost_cache_hits_total', 'modelhost_requests_total']) expect(labelsOf.has(name), name).toBe(true);
    await host.close();
  });
});
