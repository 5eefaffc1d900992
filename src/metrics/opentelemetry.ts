/**
 * `modelhost/otel`: a span per request and the Prometheus metric set, through
 * @opentelemetry/api (bring your own SDK, exporter and sampler).
 *
 * ```ts
 * import { instrument } from 'modelhost/otel';
 * instrument(host, { tracer: trace.getTracer('my-service'), meter: metrics.getMeter('my-service') });
 * ```
 *
 * Spans start inside `predict`/`predictBatch`, so they join the caller's active context; the
 * rest (queue wait, batch, version, error code) arrives by event, matched by request id.
 */
import { context, metrics, SpanKind, SpanStatusCode, trace, TraceFlags, ValueType, type Attributes, type BatchObservableCallback, type Meter, type Span, type Tracer } from '@opentelemetry/api';
import { MONITORING_METRICS, monitoringPoints, sampleSinks, SINK_METRICS, type ModelHost, type Outputs, type PredictOptions, type SampleSinkCounts } from 'modelhost';
import type { ModelHostEvents, RequestCompletedEvent, RequestFailedEvent } from 'modelhost';
import { checkBoolean, checkObject, invalidOption } from '../errors/option-checks.js';

export interface OtelOptions {
  /** Default: `trace.getTracer('modelhost')`. */
  readonly tracer?: Tracer;
  /** Default: `metrics.getMeter('modelhost')`. */
  readonly meter?: Meter;
  /**
   * Span per request. Default true. A request whose caller's span is not sampled gets none
   * (what the SDK's default parent-based sampler decides anyway, without its 2–3 µs cost).
   */
  readonly traces?: boolean;
  /** Default true. */
  readonly metrics?: boolean;
  /**
   * Record request and queue latency histograms per request. The OpenTelemetry SDK hashes
   * attributes on every record (about a microsecond here): at hundreds of thousands of
   * requests per second turn this off and keep the per-batch histograms, counters and
   * gauges. Default true.
   */
  readonly requestHistograms?: boolean;
  /**
   * Sample sinks to export the counts of, by name (the `modelhost.sink` attribute):
   * `{ samples: sink }` gives the counters `modelhost.samples_written` and `modelhost.samples_dropped`.
   */
  readonly sinks?: Readonly<Record<string, SampleSinkCounts>>;
}

export interface OtelInstrumentation {
  /** Restores `predict`/`predictBatch`, unsubscribes, and stops the observable gauges. */
  stop(): void;
}

const BREAKER_VALUE = { closed: 0, halfOpen: 0.5, open: 1 } as const;

export function instrument(host: ModelHost, options: OtelOptions = {}): OtelInstrumentation {
  // A misspelt key (`trace: false`) would silently keep the default.
  checkObject(options, 'options', ['tracer', 'meter', 'traces', 'metrics', 'requestHistograms', 'sinks']);
  const sinks = sampleSinks(options.sinks);
  // A string 'false' would leave tracing on; a tracer that is not one would fail the first request.
  for (const flag of ['traces', 'metrics', 'requestHistograms'] as const) if (options[flag] !== undefined) checkBoolean(options[flag], flag);
  if (options.tracer !== undefined && typeof (options.tracer as { startSpan?: unknown } | null)?.startSpan !== 'function') throw invalidOption('tracer', 'an OpenTelemetry Tracer ({ startSpan() })', options.tracer);
  if (options.meter !== undefined && typeof (options.meter as { createHistogram?: unknown } | null)?.createHistogram !== 'function') throw invalidOption('meter', 'an OpenTelemetry Meter ({ createHistogram() })', options.meter);
  const tracer = options.tracer ?? trace.getTracer('modelhost');
  const meter = options.meter ?? metrics.getMeter('modelhost');
  const cleanups: (() => void)[] = [];
  const on = <E extends keyof ModelHostEvents>(event: E, listener: (e: ModelHostEvents[E][0]) => void) => {
    host.on(event, listener as never);
    cleanups.push(() => host.off(event, listener as never));
  };

  if (options.traces !== false) {
    const spans = new Map<string, Span>();
    let sequence = 0;
    const traced = (kind: 'predict' | 'predictBatch', original: ModelHost['predict']) =>
      function (this: ModelHost, name: string, inputs: unknown, opts?: PredictOptions): Promise<Outputs> {
        const active = context.active();
        // The caller's trace is not recorded: a child would not be either (parent-based sampling).
        const parent = trace.getSpanContext(active);
        if (parent !== undefined && (parent.traceFlags & TraceFlags.SAMPLED) === 0) return original.call(this, name, inputs, opts);
        const span = tracer.startSpan(`modelhost.${kind} ${name}`, { kind: SpanKind.INTERNAL, attributes: { 'modelhost.model': name } }, active);
        // Not sampled: nothing will be exported, so the request goes through untouched.
        if (!span.isRecording()) {
          span.end();
          return original.call(this, name, inputs, opts);
        }
        const id = opts?.id ?? `modelhost-${++sequence}`;
        spans.set(id, span);
        const end = () => {
          spans.delete(id);
          span.end();
        };
        return original.call(this, name, inputs, { ...opts, id }).then(
          (outputs) => {
            end();
            return outputs;
          },
          (error: unknown) => {
            const code = (error as { code?: string }).code;
            span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message });
            if (code !== undefined) span.setAttribute('modelhost.error_code', code);
            end();
            throw error;
          },
        );
      };
    const predict = host.predict;
    const predictBatch = host.predictBatch;
    host.predict = traced('predict', predict);
    host.predictBatch = traced('predictBatch', predictBatch);
    cleanups.push(() => {
      host.predict = predict;
      host.predictBatch = predictBatch;
    });
    on('requestCompleted', (e: RequestCompletedEvent) => {
      const span = e.id === undefined ? undefined : spans.get(e.id);
      if (span === undefined) return;
      const end = e.timestamp;
      span.setAttributes({
        'modelhost.version': e.version,
        'modelhost.batch_size': e.batchSize,
        'modelhost.rows': e.rows,
        'modelhost.queue_ms': e.queueMs,
        'modelhost.compute_ms': e.computeMs,
        'modelhost.cached': e.cached,
      });
      span.addEvent('modelhost.queued', end - e.totalMs);
      // A cache hit never reached a batch.
      if (!e.cached) span.addEvent('modelhost.batch_started', { 'modelhost.batch_size': e.batchSize }, end - e.computeMs);
    });
    on('requestFailed', (e: RequestFailedEvent) => {
      const span = e.id === undefined ? undefined : spans.get(e.id);
      if (span === undefined) return;
      span.setAttributes({ 'modelhost.version': e.version, 'modelhost.error_code': e.code, 'modelhost.queue_ms': e.queueMs });
    });
  }

  if (options.metrics !== false) {
    const requestDuration = meter.createHistogram('modelhost.request.duration', { description: 'Request latency from admission to answer.', unit: 's' });
    const queueDuration = meter.createHistogram('modelhost.queue.duration', { description: 'Time a request waited before its batch started.', unit: 's' });
    const inferenceDuration = meter.createHistogram('modelhost.inference.duration', { description: 'Runtime time of one batch.', unit: 's' });
    const batchSize = meter.createHistogram('modelhost.batch.size', { description: 'Rows per runtime call.', valueType: ValueType.INT });
    // Counters are counted here and reported when the SDK collects (observable counters):
    // an SDK `add` per request would hash its attributes every time.
    const counts = new Map<string, { counter: 'requests' | 'loads' | 'rollbacks'; attributes: Attributes; value: number }>();
    const count = (counter: 'requests' | 'loads' | 'rollbacks', key: string, attributes: Attributes) => {
      const entry = counts.get(key);
      if (entry !== undefined) entry.value++;
      else counts.set(key, { counter, attributes, value: 1 });
    };
    // Request counts: one entry per model, version and code, found through nested maps.
    const requestCounts = new Map<string, Map<number, Map<string, { value: number }>>>();
    const countRequest = (model: string, version: number, code: string) => {
      let versions = requestCounts.get(model);
      if (versions === undefined) requestCounts.set(model, (versions = new Map()));
      let codes = versions.get(version);
      if (codes === undefined) versions.set(version, (codes = new Map()));
      const entry = codes.get(code);
      if (entry !== undefined) entry.value++;
      else codes.set(code, { value: 1 });
    };
    const requests = meter.createObservableCounter('modelhost.requests', { description: 'Requests by model, version and outcome (code OK, or the error code).', valueType: ValueType.INT });
    const loads = meter.createObservableCounter('modelhost.model.loads', { description: 'Version loads by result.', valueType: ValueType.INT });
    const rollbacks = meter.createObservableCounter('modelhost.rollbacks', { description: 'Rollbacks, manual or automatic.', valueType: ValueType.INT });
    // One attributes object per model version, reused.
    const attributesOf = cache((model: string, version: number): Attributes => ({ 'modelhost.model': model, 'modelhost.version': version }));
    const perRequest = options.requestHistograms !== false;
    on('requestCompleted', (e) => {
      countRequest(e.model, e.version, 'OK');
      if (!perRequest) return;
      const attributes = attributesOf(e.model, e.version);
      requestDuration.record(e.totalMs / 1000, attributes);
      if (!e.cached) queueDuration.record(e.queueMs / 1000, attributes);
    });
    on('requestFailed', (e) => {
      countRequest(e.model, e.version, e.code);
      if (perRequest) requestDuration.record(e.totalMs / 1000, attributesOf(e.model, e.version));
    });
    const batch = (e: ModelHostEvents['batchCompleted'][0] | ModelHostEvents['batchFailed'][0]) => {
      const attributes = attributesOf(e.model, e.version);
      inferenceDuration.record(e.computeMs / 1000, attributes);
      batchSize.record(e.batchSize, attributes);
    };
    on('batchCompleted', batch);
    on('batchFailed', batch);
    on('modelLoaded', (e) => count('loads', `${e.model}\u0000success`, { 'modelhost.model': e.model, 'modelhost.result': 'success' }));
    on('modelLoadFailed', (e) => count('loads', `${e.model}\u0000failure`, { 'modelhost.model': e.model, 'modelhost.result': 'failure' }));
    on('versionRolledBack', (e) => count('rollbacks', `${e.model}\u0000${e.automatic}`, { 'modelhost.model': e.model, 'modelhost.automatic': e.automatic }));

    const queueDepth = meter.createObservableGauge('modelhost.queue.depth', { description: 'Rows waiting in the version queue.', valueType: ValueType.INT });
    const breaker = meter.createObservableGauge('modelhost.breaker.state', { description: 'Circuit breaker: 0 closed, 0.5 half-open, 1 open.' });
    const ready = meter.createObservableGauge('modelhost.model.ready', { description: 'Whether the model has a ready default version.', valueType: ValueType.INT });
    const traffic = meter.createObservableGauge('modelhost.version.traffic_ratio', { description: 'Share of unpinned traffic per version.' });
    const gauges = [queueDepth, breaker, ready, traffic, requests, loads, rollbacks];
    const counters = { requests, loads, rollbacks } as const;
    const observer: BatchObservableCallback = (result) => {
      for (const { counter, attributes, value } of counts.values()) result.observe(counters[counter], value, attributes);
      for (const [model, versions] of requestCounts) {
        for (const [version, codes] of versions) {
          for (const [code, { value }] of codes) result.observe(requests, value, { 'modelhost.model': model, 'modelhost.version': version, 'modelhost.code': code });
        }
      }
      for (const m of host.status()) {
        result.observe(ready, m.ready ? 1 : 0, { 'modelhost.model': m.name });
        for (const [version, share] of Object.entries(m.traffic)) result.observe(traffic, share, { 'modelhost.model': m.name, 'modelhost.version': Number(version) });
        for (const v of m.versions) {
          const attributes = { 'modelhost.model': m.name, 'modelhost.version': v.version };
          if (v.state === 'ready' || v.state === 'draining') result.observe(queueDepth, v.queueDepth, attributes);
          if (v.breaker !== undefined) result.observe(breaker, BREAKER_VALUE[v.breaker], attributes);
        }
      }
    };
    meter.addBatchObservableCallback(observer, gauges);
    cleanups.push(() => meter.removeBatchObservableCallback(observer, gauges));

    // Sampling, drift, cache and live quality (docs/monitoring.md), read from host.stats() when collected.
    const monitoring = MONITORING_METRICS.map((m) => ({
      name: m.name,
      instrument: m.type === 'counter' ? meter.createObservableCounter(`modelhost.${m.name.replace(/_total$/, '')}`, { description: m.help }) : meter.createObservableGauge(`modelhost.${m.name}`, { description: m.help }),
    }));
    const monitoringObserver: BatchObservableCallback = (result) => {
      const points = monitoringPoints(host.stats());
      for (const { name, instrument } of monitoring) {
        for (const p of points.get(name) ?? []) {
          const attributes: Attributes = {};
          for (const [key, value] of Object.entries(p.labels)) attributes[`modelhost.${key}`] = key === 'version' ? Number(value) : value;
          result.observe(instrument, p.value, attributes);
        }
      }
    };
    const monitoringInstruments = monitoring.map((m) => m.instrument);
    if (sinks.length > 0) {
      const sinkCounters = SINK_METRICS.map((m) => ({ count: m.count, instrument: meter.createObservableCounter(`modelhost.${m.name.replace(/_total$/, '')}`, { description: m.help, valueType: ValueType.INT }) }));
      const sinkObserver: BatchObservableCallback = (result) => {
        for (const { count, instrument } of sinkCounters) for (const [sink, counts] of sinks) result.observe(instrument, count(counts), { 'modelhost.sink': sink });
      };
      const sinkInstruments = sinkCounters.map((c) => c.instrument);
      meter.addBatchObservableCallback(sinkObserver, sinkInstruments);
      cleanups.push(() => meter.removeBatchObservableCallback(sinkObserver, sinkInstruments));
    }
    meter.addBatchObservableCallback(monitoringObserver, monitoringInstruments);
    cleanups.push(() => meter.removeBatchObservableCallback(monitoringObserver, monitoringInstruments));
  }

  return {
    stop() {
      for (const cleanup of cleanups.splice(0)) cleanup();
    },
  };
}

function cache<T>(make: (model: string, version: number) => T): (model: string, version: number) => T {
  const byModel = new Map<string, Map<number, T>>();
  return (model, version) => {
    let versions = byModel.get(model);
    if (versions === undefined) byModel.set(model, (versions = new Map()));
    let value = versions.get(version);
    if (value === undefined) versions.set(version, (value = make(model, version)));
    return value;
  };
}
