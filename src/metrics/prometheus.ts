/**
 * `modelhost/prometheus`: the host's events as Prometheus metrics (prom-client).
 *
 * ```ts
 * import { collectMetrics } from 'modelhost/prometheus';
 * const { registry } = collectMetrics(host);
 * app.get('/metrics', async (_req, res) => res.type(registry.contentType).send(await registry.metrics()));
 * ```
 *
 * A subscriber only: requests are counted into plain arrays as events arrive, and turned
 * into prom-client metric families when scraped, so the hot path pays a few additions.
 */
import promClient from 'prom-client';
import type { Registry } from 'prom-client';
import { MONITORING_METRICS, monitoringPoints, sampleSinks, SINK_METRICS, type ModelHost, type SampleSinkCounts } from 'modelhost';
import { checkObject, checkString, invalidOption } from '../errors/option-checks.js';
import type { BatchCompletedEvent, BatchFailedEvent, ModelHostEvents, RequestCompletedEvent, RequestFailedEvent } from 'modelhost';

export interface PrometheusBuckets {
  /** Request latency, seconds. */
  readonly requestSeconds?: readonly number[];
  /** Time queued before a batch started, seconds. */
  readonly queueSeconds?: readonly number[];
  /** Runtime time of one batch, seconds. */
  readonly inferenceSeconds?: readonly number[];
  /** Rows per batch. */
  readonly batchSize?: readonly number[];
}

export interface PrometheusOptions {
  /** Where the metrics register. Default: a new Registry (pass prom-client's `register` to share the global one). */
  readonly registry?: Registry;
  /** Prefix of every metric name. Default `modelhost_`. */
  readonly prefix?: string;
  readonly buckets?: PrometheusBuckets;
  /**
   * Sample sinks to export the counts of, by name (the `sink` label): `{ samples: sink }` gives
   * `modelhost_samples_written_total{sink="samples"}` and `modelhost_samples_dropped_total`.
   * A sink drops rather than block requests; this is where its drops show.
   */
  readonly sinks?: Readonly<Record<string, SampleSinkCounts>>;
}

export interface PrometheusCollector {
  readonly registry: Registry;
  /** Unsubscribes from the host and removes the metrics from the registry. */
  stop(): void;
}

export const DEFAULT_BUCKETS: Required<{ [K in keyof PrometheusBuckets]: readonly number[] }> = Object.freeze({
  requestSeconds: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  queueSeconds: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
  inferenceSeconds: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  batchSize: [1, 2, 4, 8, 16, 32, 64, 128, 256],
});

const BREAKER_VALUE = { closed: 0, halfOpen: 0.5, open: 1 } as const;

/** Fixed-bucket histogram counts: `observe` is a short scan and two additions. */
class Buckets {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length);
  }
  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    if (i < bounds.length) this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

/** What one model version accumulated. */
class Series {
  ok = 0;
  readonly failed = new Map<string, number>();
  readonly request: Buckets;
  readonly queue: Buckets;
  readonly inference: Buckets;
  readonly batchSize: Buckets;
  constructor(
    readonly model: string,
    readonly version: string,
    buckets: typeof DEFAULT_BUCKETS,
  ) {
    this.request = new Buckets(buckets.requestSeconds);
    this.queue = new Buckets(buckets.queueSeconds);
    this.inference = new Buckets(buckets.inferenceSeconds);
    this.batchSize = new Buckets(buckets.batchSize);
  }
}

interface Sample {
  readonly labels: Record<string, string | number>;
  readonly value: number;
  readonly metricName?: string;
}

/** A metric family computed at scrape time, in the shape prom-client's Registry formats. */
function family(name: string, help: string, type: 'counter' | 'gauge' | 'histogram', collect: () => Sample[]) {
  return {
    name,
    help,
    type,
    aggregator: 'sum' as const,
    get: async () => ({ name, help, type, aggregator: 'sum' as const, values: collect() }),
    reset: () => undefined,
  };
}

function histogramSamples(name: string, labels: Record<string, string>, b: Buckets): Sample[] {
  const out: Sample[] = [];
  let cumulative = 0;
  for (let i = 0; i < b.bounds.length; i++) {
    cumulative += b.counts[i]!;
    out.push({ labels: { ...labels, le: b.bounds[i]! }, value: cumulative, metricName: `${name}_bucket` });
  }
  out.push({ labels: { ...labels, le: '+Inf' }, value: b.count, metricName: `${name}_bucket` });
  out.push({ labels, value: b.sum, metricName: `${name}_sum` });
  out.push({ labels, value: b.count, metricName: `${name}_count` });
  return out;
}

/** Registers modelhost's metrics and keeps them current from the host's events. */
export function collectMetrics(host: ModelHost, options: PrometheusOptions = {}): PrometheusCollector {
  // A misspelt key (`prefx`, `bucket`) would silently export under the defaults.
  checkObject(options, 'options', ['registry', 'prefix', 'buckets', 'sinks']);
  const sinks = sampleSinks(options.sinks);
  if (options.prefix !== undefined && options.prefix !== '') checkString(options.prefix, 'prefix');
  if (options.buckets !== undefined) checkObject(options.buckets, 'buckets', Object.keys(DEFAULT_BUCKETS));
  if (options.registry !== undefined && typeof (options.registry as { registerMetric?: unknown } | null)?.registerMetric !== 'function') {
    throw invalidOption('registry', 'a prom-client Registry', options.registry);
  }
  const registry = options.registry ?? new promClient.Registry();
  const prefix = options.prefix ?? 'modelhost_';
  const buckets = { ...DEFAULT_BUCKETS, ...options.buckets } as typeof DEFAULT_BUCKETS;
  for (const [name, bounds] of Object.entries(buckets)) {
    if (!Array.isArray(bounds) || !bounds.every((b, i) => Number.isFinite(b) && (i === 0 || b > bounds[i - 1]!))) throw invalidOption(`buckets.${name}`, 'increasing finite numbers', bounds);
  }

  // model → version → series. Nested maps: no key string built per event.
  const series = new Map<string, Map<number, Series>>();
  const seriesOf = (model: string, version: number): Series => {
    let versions = series.get(model);
    if (versions === undefined) series.set(model, (versions = new Map()));
    let s = versions.get(version);
    if (s === undefined) versions.set(version, (s = new Series(model, String(version), buckets)));
    return s;
  };
  const loads = new Map<string, { success: number; failure: number }>();
  const rollbacks = new Map<string, { manual: number; automatic: number }>();

  const listeners: { [E in keyof ModelHostEvents]?: (e: ModelHostEvents[E][0]) => void } = {
    requestCompleted: (e: RequestCompletedEvent) => {
      const s = seriesOf(e.model, e.version);
      s.ok++;
      s.request.observe(e.totalMs / 1000);
      // A cache hit (`cached`) is a request served that never queued.
      if (!e.cached) s.queue.observe(e.queueMs / 1000);
    },
    requestFailed: (e: RequestFailedEvent) => {
      const s = seriesOf(e.model, e.version);
      s.failed.set(e.code, (s.failed.get(e.code) ?? 0) + 1);
      s.request.observe(e.totalMs / 1000);
    },
    batchCompleted: (e: BatchCompletedEvent) => {
      const s = seriesOf(e.model, e.version);
      s.inference.observe(e.computeMs / 1000);
      s.batchSize.observe(e.batchSize);
    },
    batchFailed: (e: BatchFailedEvent) => {
      const s = seriesOf(e.model, e.version);
      s.inference.observe(e.computeMs / 1000);
      s.batchSize.observe(e.batchSize);
    },
    modelLoaded: (e) => void countOf(loads, e.model, { success: 0, failure: 0 }).success++,
    modelLoadFailed: (e) => void countOf(loads, e.model, { success: 0, failure: 0 }).failure++,
    versionRolledBack: (e) => void countOf(rollbacks, e.model, { manual: 0, automatic: 0 })[e.automatic ? 'automatic' : 'manual']++,
  };
  for (const [event, listener] of Object.entries(listeners)) host.on(event as keyof ModelHostEvents, listener as never);

  const all = () => [...series.values()].flatMap((m) => [...m.values()]);
  // Monitoring families read host.stats() when scraped: nothing is counted on the request path.
  const scrapeMonitoring = () => monitoringPoints(host.stats());
  const labelsOf = (s: Series) => ({ model: s.model, version: s.version });
  const families = [
    family(`${prefix}requests_total`, 'Requests by model, version and outcome (code OK, or the error code).', 'counter', () =>
      all().flatMap((s) => [{ labels: { ...labelsOf(s), code: 'OK' }, value: s.ok }, ...[...s.failed].map(([code, n]) => ({ labels: { ...labelsOf(s), code }, value: n }))]),
    ),
    family(`${prefix}request_duration_seconds`, 'Request latency from admission to answer, seconds.', 'histogram', () =>
      all().flatMap((s) => histogramSamples(`${prefix}request_duration_seconds`, labelsOf(s), s.request)),
    ),
    family(`${prefix}queue_duration_seconds`, 'Time a request waited before its batch started, seconds.', 'histogram', () =>
      all().flatMap((s) => histogramSamples(`${prefix}queue_duration_seconds`, labelsOf(s), s.queue)),
    ),
    family(`${prefix}inference_duration_seconds`, 'Runtime time of one batch, seconds.', 'histogram', () =>
      all().flatMap((s) => histogramSamples(`${prefix}inference_duration_seconds`, labelsOf(s), s.inference)),
    ),
    family(`${prefix}batch_size`, 'Rows per runtime call.', 'histogram', () => all().flatMap((s) => histogramSamples(`${prefix}batch_size`, labelsOf(s), s.batchSize))),
    family(`${prefix}queue_depth`, 'Rows waiting in the version queue.', 'gauge', () =>
      host.status().flatMap((m) => m.versions.filter((v) => v.state === 'ready' || v.state === 'draining').map((v) => ({ labels: { model: m.name, version: String(v.version) }, value: v.queueDepth }))),
    ),
    family(`${prefix}breaker_state`, 'Circuit breaker of the version: 0 closed, 0.5 half-open, 1 open.', 'gauge', () =>
      host.status().flatMap((m) => m.versions.filter((v) => v.breaker !== undefined).map((v) => ({ labels: { model: m.name, version: String(v.version) }, value: BREAKER_VALUE[v.breaker!] }))),
    ),
    family(`${prefix}model_ready`, 'Whether the model has a ready default version (1) or not (0).', 'gauge', () =>
      host.status().map((m) => ({ labels: { model: m.name }, value: m.ready ? 1 : 0 })),
    ),
    family(`${prefix}version_traffic_ratio`, 'Share of unpinned traffic per version.', 'gauge', () =>
      host.status().flatMap((m) => Object.entries(m.traffic).map(([version, share]) => ({ labels: { model: m.name, version }, value: share }))),
    ),
    family(`${prefix}model_loads_total`, 'Version loads by result.', 'counter', () =>
      [...loads].flatMap(([model, n]) => [{ labels: { model, result: 'success' }, value: n.success }, { labels: { model, result: 'failure' }, value: n.failure }]),
    ),
    family(`${prefix}rollbacks_total`, 'Rollbacks, manual or automatic (by the rollout guard).', 'counter', () =>
      [...rollbacks].flatMap(([model, n]) => [{ labels: { model, automatic: 'false' }, value: n.manual }, { labels: { model, automatic: 'true' }, value: n.automatic }]),
    ),
    // Sampling, drift, cache and live quality (docs/monitoring.md): read from host.stats() once per scrape.
    ...MONITORING_METRICS.map((m) => family(`${prefix}${m.name}`, m.help, m.type, () => scrapeMonitoring().get(m.name) ?? [])),
    ...SINK_METRICS.map((m) => family(`${prefix}${m.name}`, m.help, 'counter', () => sinks.map(([sink, counts]) => ({ labels: { sink }, value: m.count(counts) })))),
  ];
  for (const f of families) registry.registerMetric(f as unknown as promClient.Metric);

  return {
    registry,
    stop() {
      for (const [event, listener] of Object.entries(listeners)) host.off(event as keyof ModelHostEvents, listener as never);
      for (const f of families) registry.removeSingleMetric(f.name);
    },
  };
}

function countOf<T>(map: Map<string, T>, model: string, initial: T): T {
  let entry = map.get(model);
  if (entry === undefined) map.set(model, (entry = initial));
  return entry;
}
