/**
 * What observability costs on the hot path: the MLP (onnx) at 64 closed-loop callers, the
 * same host with nothing listening, with the default stats recorder, with the Prometheus
 * exporter, with Prometheus + OpenTelemetry (an SDK tracer sampling 1% and a meter), and
 * with each of OpenTelemetry's per-request parts (spans, histograms), both, and neither.
 * Sides are interleaved (a b c d d c b a ...) so drift hits all alike.
 *
 *   npx tsx bench/exporters.ts [--quick]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { metrics as otelMetrics, trace } from '@opentelemetry/api';
import { InMemoryMetricExporter, AggregationTemporality, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace-base';
import { Registry } from 'prom-client';
import { ModelHost } from '../src/index.js';
import { collectMetrics } from '../src/metrics/prometheus.js';
import { instrument } from '../src/metrics/opentelemetry.js';
import { runClosedLoop } from './lib/closed-loop.js';
import { inputRows, writeRepository } from './load/models.js';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 2 : 4;
const MEASURE_MS = quick ? 1000 : 2500;

type Side = 'bare' | 'stats' | 'prometheus' | 'prometheus+otel' | 'prometheus+otel spans' | 'prometheus+otel histograms' | 'prometheus+otel lean';
const SIDES: readonly Side[] = ['bare', 'stats', 'prometheus', 'prometheus+otel', 'prometheus+otel spans', 'prometheus+otel histograms', 'prometheus+otel lean'];
/** What each OpenTelemetry side turns on beyond counters, gauges and per-batch histograms. */
const OTEL: Partial<Record<Side, { traces: boolean; requestHistograms: boolean }>> = {
  'prometheus+otel': { traces: true, requestHistograms: true },
  'prometheus+otel spans': { traces: true, requestHistograms: false },
  'prometheus+otel histograms': { traces: false, requestHistograms: true },
  'prometheus+otel lean': { traces: false, requestHistograms: false },
};

async function main(): Promise<void> {
  const root = await mkdtemp(path.join(tmpdir(), 'modelhost-bench-exporters-'));
  await writeRepository(root, ['mlp-onnx']);
  const rows = inputRows('mlp-onnx', 256);
  const hosts = new Map<Side, ModelHost>();
  const spans = new InMemorySpanExporter();
  for (const side of SIDES) {
    const host = new ModelHost({
      repository: root,
      stats: side !== 'bare',
      defaults: { batching: { maxBatchSize: 64, maxDelayMs: 2 }, instances: { kind: 'inline' } },
      models: { 'mlp-onnx': { onnx: { intraOpNumThreads: 1 } } },
    });
    if (side !== 'bare' && side !== 'stats') collectMetrics(host, { registry: new Registry() });
    const otel = OTEL[side];
    if (otel !== undefined) {
      const tracer = new BasicTracerProvider({ sampler: new TraceIdRatioBasedSampler(0.01), spanProcessors: [new SimpleSpanProcessor(spans)] }).getTracer('bench');
      const meter = new MeterProvider({ readers: [new PeriodicExportingMetricReader({ exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE), exportIntervalMillis: 60_000 })] }).getMeter('bench');
      // spans: a span per request (1% sampled); histograms: per-request SDK histogram records
      instrument(host, { tracer, meter, ...otel });
    }
    await host.load('mlp-onnx');
    hosts.set(side, host);
  }
  void trace;
  void otelMetrics;

  const totals = new Map<Side, { requests: number; ms: number }>(SIDES.map((s) => [s, { requests: 0, ms: 0 }]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? SIDES : [...SIDES].reverse();
    for (const side of order) {
      const host = hosts.get(side)!;
      let i = 0;
      const result = await runClosedLoop({
        concurrency: 64,
        request: () => host.predict('mlp-onnx', rows[i++ & 255]!),
        warmup: { ms: 300 },
        measure: { ms: MEASURE_MS },
      });
      const t = totals.get(side)!;
      t.requests += result.requests;
      t.ms += result.elapsedMs;
      process.stderr.write(`round ${round + 1} ${side}: ${Math.round(result.requestsPerSec)} req/s\n`);
    }
  }
  const rate = (side: Side) => totals.get(side)!.requests / (totals.get(side)!.ms / 1000);
  const lines = ['| host | req/s | ÷ bare | ÷ stats (default) |', '|---|--:|--:|--:|'];
  for (const side of SIDES) lines.push(`| ${side} | ${Math.round(rate(side)).toLocaleString('en-US')} | ${(rate(side) / rate('bare')).toFixed(3)} | ${(rate(side) / rate('stats')).toFixed(3)} |`);
  console.log(`\nMLP onnx, 64 closed-loop callers, ${ROUNDS} interleaved rounds of ${MEASURE_MS} ms per side\n`);
  console.log(lines.join('\n'));
  console.log(`\nPrometheus ÷ stats: ${(rate('prometheus') / rate('stats')).toFixed(3)}; Prometheus + OpenTelemetry (defaults) ÷ stats: ${(rate('prometheus+otel lean') / rate('stats')).toFixed(3)}, with spans and per-request histograms: ${(rate('prometheus+otel') / rate('stats')).toFixed(3)}; target ≥ 0.97`);
  for (const host of hosts.values()) await host.close();
  await rm(root, { recursive: true, force: true });
}

await main();
