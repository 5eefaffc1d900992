import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ErrorCode, ModelHost, type ModelHostError, type ModelOptions, type RequestCompletedEvent, type RequestFailedEvent, type RequestSampledEvent, type Runtime } from '../../../src/index.js';
import { instrument } from '../../../src/metrics/opentelemetry.js';
import { collectMetrics } from '../../../src/metrics/prometheus.js';
import { FAKE_SOURCE } from '../../helpers/fake-runtime.js';
import { hangingRuntime } from '../../helpers/hanging-runtime.js';

/**
 * Session 10: a `predictBatch` of 3× `maxBatchSize` rows runs as three chunks, and each chunk
 * emitted its own `requestCompleted` / `requestFailed`: one request counted three times by
 * stats, Prometheus, OpenTelemetry and the rollout guard. One request is one event now.
 */
const MAX = 2;
const ROWS = [[1], [2], [3], [4], [5], [6]]; // 3 × MAX rows
const FAILING = [[1], [2], [13], [4], [5], [6]]; // the second chunk fails
const HANGING = [[666], [2], [3], [4], [5], [6]]; // the first chunk waits for `release`

/** Every row 13 fails, alone or not (the model's fault on this input: no other input fails); a run holding 666 waits for `release`. */
function rowsRuntime(): { runtime: Runtime; release: () => void; started: Promise<void>; batches: number[] } {
  const { runtime, release, started, state } = hangingRuntime({ name: 'rows', throwOn: 13 });
  return { runtime, release, started, batches: state.batches };
}

async function setup(extra: Partial<ModelOptions> = {}) {
  const rows = rowsRuntime();
  const host = new ModelHost({ runtimes: { rows: rows.runtime }, models: { m: { runtime: 'rows', batching: { maxBatchSize: MAX, maxDelayMs: 1 }, breaker: { enabled: false }, ...extra } } });
  const completed: RequestCompletedEvent[] = [];
  const failed: RequestFailedEvent[] = [];
  let batches = 0;
  host.on('requestCompleted', (e) => completed.push(e));
  host.on('requestFailed', (e) => failed.push(e));
  host.on('batchCompleted', () => batches++);
  await host.load('m', { source: FAKE_SOURCE });
  rows.batches.length = 0;
  return { host, completed, failed, batchCount: () => batches, ...rows };
}

/** A request cancelled while its first chunk runs: the other two never run. */
async function cancelMidway(s: Awaited<ReturnType<typeof setup>>): Promise<ModelHostError> {
  const controller = new AbortController();
  const pending = s.host.predictBatch('m', { x: HANGING }, { signal: controller.signal, id: 'r-cancel' }).catch((e: ModelHostError) => e);
  await s.started;
  controller.abort();
  const error = (await pending) as ModelHostError;
  s.release();
  return error;
}

describe('review (s10): a split predictBatch is one request to every consumer', () => {
  it('success: one requestCompleted with all its rows, its whole latency and queue time; batch events stay per batch', async () => {
    const s = await setup();
    const before = Date.now();
    const out = await s.host.predictBatch('m', { x: ROWS }, { id: 'r-ok' });
    expect(Array.from(out['y']!.data as Float32Array)).toEqual([2, 4, 6, 8, 10, 12]);
    expect(s.batchCount()).toBe(3);
    expect(s.batches).toEqual([2, 2, 2]);
    expect(s.failed).toEqual([]);
    expect(s.completed).toHaveLength(1);
    const e = s.completed[0]!;
    expect(e).toMatchObject({ model: 'm', version: 1, id: 'r-ok', rows: 6, batchSize: MAX, cached: false });
    expect(e.totalMs).toBeGreaterThanOrEqual(e.queueMs);
    expect(e.totalMs).toBeGreaterThanOrEqual(0);
    expect(e.queueMs).toBeGreaterThanOrEqual(0);
    expect(e.totalMs).toBeLessThanOrEqual(Date.now() - before + 1);
    const w = s.host.stats('m').versions[1]!.windows['1m'];
    expect(w).toMatchObject({ requests: 1, rows: 6, errors: 0, batches: 3, batchSizes: { 2: 3 } });
    await s.host.close();
  });

  it('one chunk failing: one requestFailed with the request’s rows and its code, no requestCompleted', async () => {
    const s = await setup();
    const error = (await s.host.predictBatch('m', { x: FAILING }, { id: 'r-fail' }).catch((e: ModelHostError) => e)) as ModelHostError;
    expect(error.code).toBe(ErrorCode.INFERENCE_FAILED);
    expect(s.completed).toEqual([]);
    expect(s.failed).toHaveLength(1);
    expect(s.failed[0]).toMatchObject({ id: 'r-fail', code: error.code, message: error.message, rows: 6 });
    expect(s.failed[0]!.totalMs).toBeGreaterThanOrEqual(s.failed[0]!.queueMs);
    const w = s.host.stats('m').versions[1]!.windows['1m'];
    expect(w).toMatchObject({ requests: 1, rows: 0, errors: 1, errorsByCode: { INFERENCE_FAILED: 1 } });
    await s.host.close();
  });

  it('cancelled mid-way: one requestFailed (CANCELLED), the chunks never run', async () => {
    const s = await setup();
    const error = await cancelMidway(s);
    expect(error.code).toBe(ErrorCode.CANCELLED);
    expect(s.completed).toEqual([]);
    expect(s.failed).toHaveLength(1);
    expect(s.failed[0]).toMatchObject({ id: 'r-cancel', code: ErrorCode.CANCELLED, rows: 6 });
    expect(s.host.stats('m').versions[1]!.windows['1m']).toMatchObject({ requests: 1, errors: 1, errorsByCode: { CANCELLED: 1 } });
    await s.host.close();
  });

  it('Prometheus: modelhost_requests_total and the duration histograms count the request once', async () => {
    const s = await setup();
    const registry = new Registry();
    const { stop } = collectMetrics(s.host, { registry });
    await s.host.predictBatch('m', { x: ROWS });
    await s.host.predictBatch('m', { x: FAILING }).catch(() => undefined);
    await cancelMidway(s);
    const text = await registry.metrics();
    expect(text).toContain('modelhost_requests_total{model="m",version="1",code="OK"} 1');
    expect(text).toContain('modelhost_requests_total{model="m",version="1",code="INFERENCE_FAILED"} 1');
    expect(text).toContain('modelhost_requests_total{model="m",version="1",code="CANCELLED"} 1');
    expect(text).toMatch(/modelhost_request_duration_seconds_count\{model="m",version="1"\} 3\n/);
    expect(text).toMatch(/modelhost_queue_duration_seconds_count\{model="m",version="1"\} 1\n/);
    stop();
    await s.host.close();
  });

  it('the rollout guard counts the request once', async () => {
    const s = await setup({ rollout: { enabled: true } });
    await s.host.deploy('m', 2, { source: FAKE_SOURCE, canary: 0.5 });
    await s.host.predictBatch('m', { x: ROWS }, { version: 2 });
    await s.host.predictBatch('m', { x: FAILING }, { version: 2 }).catch(() => undefined);
    const guard = s.host.stats('m').guard;
    expect(guard).toMatchObject({ candidate: 2, candidateRequests: 2, candidateErrorRate: 0.5 });
    await s.host.close();
  });

  it('sampling: one requestSampled with every row, one sample counted', async () => {
    const s = await setup({ sampling: { rate: 1 } });
    const sampled: RequestSampledEvent[] = [];
    s.host.on('requestSampled', (e) => sampled.push(e));
    await s.host.predictBatch('m', { x: ROWS }, { id: 'r-sampled' });
    expect(sampled).toHaveLength(1);
    expect(sampled[0]).toMatchObject({ id: 'r-sampled', rows: 6 });
    expect(sampled[0]!.inputs!['x']!.shape).toEqual([6, 1]);
    expect(sampled[0]!.outputs!['y']!.shape).toEqual([6, 1]);
    expect(s.host.stats('m').monitoring!.sampling).toEqual({ rate: 1, sampled: 1 });
    await s.host.close();
  });
});

describe('review (s10): a split predictBatch is one request to monitoring and rollouts', () => {
  it('the cache: a miss per request (the second one stored), then one hit answered whole (one requestCompleted each)', async () => {
    const s = await setup({ cache: { enabled: true } });
    await s.host.predictBatch('m', { x: ROWS });
    await s.host.predictBatch('m', { x: ROWS }); // a key seen twice is kept (the cache's doorkeeper)
    const again = await s.host.predictBatch('m', { x: ROWS });
    expect(Array.from(again['y']!.data as Float32Array)).toEqual([2, 4, 6, 8, 10, 12]);
    expect(s.host.stats('m').monitoring!.cache).toMatchObject({ hits: 1, misses: 2, entries: 1 });
    expect(s.completed.map((e) => [e.rows, e.cached])).toEqual([
      [6, false],
      [6, false],
      [6, true],
    ]);
    expect(s.host.stats('m').versions[1]!.windows['1m']).toMatchObject({ requests: 3, rows: 18, batches: 6 });
    await s.host.close();
  });

  it('feedback by request id: one prediction kept, matched once with all its rows', async () => {
    const s = await setup({ feedback: { task: 'regression' } });
    await s.host.predictBatch('m', { x: ROWS }, { id: 'r-feedback' });
    expect(s.host.stats('m').monitoring!.feedback).toMatchObject({ pending: 1 });
    const result = s.host.feedback('m', 'r-feedback', ROWS.map(([v]) => 2 * v!));
    expect(result).toMatchObject({ matched: true, version: 1, labels: 6, absoluteError: 0 });
    expect(s.host.stats('m').monitoring!.feedback).toMatchObject({ pending: 0, duplicateIds: 0 });
    await s.host.close();
  });

  it('a shadow compares the request once, whole', async () => {
    const s = await setup();
    await s.host.deploy('m', 2, { source: FAKE_SOURCE, shadow: 1 });
    const compared: number[] = [];
    s.host.on('shadowCompared', (e) => compared.push(e.version));
    await s.host.predictBatch('m', { x: ROWS });
    await vi.waitFor(() => expect(compared).toEqual([2]));
    expect(s.host.stats('m').guard).toMatchObject({ shadowCompared: 1 });
    // The caller's request counted once on the default version; the mirror once on the shadow.
    expect(s.completed.map((e) => [e.version, e.rows])).toEqual(expect.arrayContaining([[1, 6]]));
    expect(s.completed.filter((e) => e.version === 1)).toHaveLength(1);
    expect(s.completed.filter((e) => e.version === 2).length).toBeLessThanOrEqual(1);
    await s.host.close();
  });
});

describe('review (s10): a split predictBatch is one OpenTelemetry request', () => {
  const spans = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
  const contextManager = new AsyncLocalStorageContextManager();
  beforeAll(() => void context.setGlobalContextManager(contextManager.enable()));
  afterAll(() => void context.disable());

  it('one span with one queued event, and the requests counter and duration histogram count it once', async () => {
    const s = await setup();
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
    const meterProvider = new MeterProvider({ readers: [reader] });
    const { stop } = instrument(s.host, { tracer: provider.getTracer('test'), meter: meterProvider.getMeter('test') });
    spans.reset();
    await s.host.predictBatch('m', { x: ROWS });
    await s.host.predictBatch('m', { x: FAILING }).catch(() => undefined);
    const finished = spans.getFinishedSpans().filter((span) => span.name === 'modelhost.predictBatch m');
    expect(finished).toHaveLength(2);
    const ok = finished.find((span) => span.status.code !== 2)!;
    expect(ok.attributes).toMatchObject({ 'modelhost.rows': 6, 'modelhost.batch_size': MAX });
    expect(ok.events.map((e) => e.name)).toEqual(['modelhost.queued', 'modelhost.batch_started']);
    await reader.forceFlush();
    const metrics = exporter.getMetrics().flatMap((r) => r.scopeMetrics.flatMap((m) => m.metrics));
    const requests = metrics.find((m) => m.descriptor.name === 'modelhost.requests')!;
    const byCode = Object.fromEntries(requests.dataPoints.map((p) => [p.attributes['modelhost.code'], p.value]));
    expect(byCode).toEqual({ OK: 1, INFERENCE_FAILED: 1 });
    const duration = metrics.find((m) => m.descriptor.name === 'modelhost.request.duration')!;
    expect(duration.dataPoints.map((p) => (p.value as { count: number }).count)).toEqual([2]);
    stop();
    await meterProvider.shutdown();
    await s.host.close();
  });
});
