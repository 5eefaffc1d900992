import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ModelHost, type ModelHostError } from '../../../src/index.js';
import { instrument } from '../../../src/metrics/opentelemetry.js';
import { FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';

const spans = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
const contextManager = new AsyncLocalStorageContextManager();

describe('modelhost/otel', () => {
  beforeAll(() => {
    context.setGlobalContextManager(contextManager.enable());
  });
  afterAll(() => {
    context.disable();
  });

  it('creates a span per request that joins the caller’s active context, with queue, batch, version and error code', async () => {
    const runtime = fakeRuntime({ failRun: (inputs) => ((inputs['x']!.data as Float32Array)[0] === 13 ? new Error('bad row') : undefined) });
    const host = new ModelHost({ runtimes: { fake: runtime }, defaults: { batching: false } });
    const tracer = provider.getTracer('test');
    const { stop } = instrument(host, { tracer, metrics: false });
    await host.load('m', { source: FAKE_SOURCE });
    spans.reset();
    await tracer.startActiveSpan('http request', async (parent) => {
      await host.predict('m', [1, 2, 3, 4]);
      await host.predict('m', [13, 0, 0, 0]).catch((e: ModelHostError) => e);
      parent.end();
    });
    const finished = spans.getFinishedSpans();
    const parent = finished.find((s) => s.name === 'http request')!;
    const ok = finished.find((s) => s.name === 'modelhost.predict m' && s.status.code !== 2)!;
    const failed = finished.find((s) => s.name === 'modelhost.predict m' && s.status.code === 2)!;
    expect(ok.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(ok.spanContext().traceId).toBe(parent.spanContext().traceId);
    expect(ok.attributes).toMatchObject({ 'modelhost.model': 'm', 'modelhost.version': 1, 'modelhost.batch_size': 1, 'modelhost.rows': 1 });
    expect(typeof ok.attributes['modelhost.queue_ms']).toBe('number');
    expect(ok.events.map((e) => e.name)).toEqual(['modelhost.queued', 'modelhost.batch_started']);
    // The runtime refused that input alone while others run: pinned on the request (INVALID_INPUT).
    expect(failed.attributes).toMatchObject({ 'modelhost.error_code': 'INVALID_INPUT' });
    stop();
    spans.reset();
    await host.predict('m', [1, 2, 3, 4]);
    expect(spans.getFinishedSpans()).toEqual([]); // uninstrumented again
    await host.close();
  });

  it('starts no span under a caller whose trace is not sampled, and the request still runs', async () => {
    const host = new ModelHost({ runtimes: { fake: fakeRuntime() }, defaults: { batching: false } });
    const tracer = provider.getTracer('test');
    const { stop } = instrument(host, { tracer, metrics: false });
    await host.load('m', { source: FAKE_SOURCE });
    spans.reset();
    const unsampled = trace.setSpanContext(context.active(), { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 0 });
    const sampled = trace.setSpanContext(context.active(), { traceId: 'c'.repeat(32), spanId: 'd'.repeat(16), traceFlags: 1 });
    const startSpan = vi.spyOn(tracer, 'startSpan');
    expect(await context.with(unsampled, () => host.predict('m', [1, 2, 3, 4]))).toBeDefined();
    expect(startSpan).not.toHaveBeenCalled(); // not even asked: no ids generated, no sampler run
    expect(spans.getFinishedSpans()).toEqual([]);
    await context.with(sampled, () => host.predict('m', [1, 2, 3, 4]));
    expect(startSpan).toHaveBeenCalledTimes(1);
    expect(spans.getFinishedSpans().map((s) => [s.name, s.spanContext().traceId])).toEqual([['modelhost.predict m', 'c'.repeat(32)]]);
    stop();
    await host.close();
  });

  it('refuses an option it does not take, before it touches the host', async () => {
    const host = new ModelHost({ runtimes: { fake: fakeRuntime() } });
    const predict = host.predict;
    // `trace: false` was ignored: every request still got a span.
    expect(() => instrument(host, { trace: false } as never)).toThrow("`options` has an unknown option 'trace' (did you mean 'tracer'?); known options: tracer, meter, traces, metrics, requestHistograms");
    expect(host.predict).toBe(predict);
    await host.close();
  });

  it('records the Prometheus metric set through the meter', async () => {
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
    const meterProvider = new MeterProvider({ readers: [reader] });
    const host = new ModelHost({ runtimes: { fake: fakeRuntime() } });
    instrument(host, { meter: meterProvider.getMeter('test'), tracer: trace.getTracer('noop') });
    await host.load('m', { source: FAKE_SOURCE });
    await Promise.all(Array.from({ length: 4 }, () => host.predict('m', [1, 2, 3, 4])));
    await reader.forceFlush();
    const metrics = exporter.getMetrics().flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics));
    const byName = new Map(metrics.map((m) => [m.descriptor.name, m]));
    expect([...byName.keys()].sort()).toEqual(
      [
        'modelhost.batch.size',
        'modelhost.breaker.state',
        'modelhost.inference.duration',
        'modelhost.model.loads',
        'modelhost.model.ready',
        'modelhost.queue.depth',
        'modelhost.queue.duration',
        'modelhost.request.duration',
        'modelhost.requests',
        'modelhost.version.traffic_ratio',
      ].sort(),
    );
    const requests = byName.get('modelhost.requests')!.dataPoints;
    expect(requests).toEqual([expect.objectContaining({ value: 4, attributes: { 'modelhost.model': 'm', 'modelhost.version': 1, 'modelhost.code': 'OK' } })]);
    expect(byName.get('modelhost.model.ready')!.dataPoints[0]!.value).toBe(1);
    await meterProvider.shutdown();
    await host.close();
  });
});
