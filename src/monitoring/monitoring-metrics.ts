import { ErrorCode, ModelHostError } from '../errors/index.js';
import { invalidOption } from '../errors/option-checks.js';
import type { ModelStats } from '../host/model-host.js';

/** One labelled value of a metric. */
export interface MetricPoint {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A monitoring metric as both exporters publish it (name without the prefix). */
export interface MonitoringMetric {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge';
  readonly points: (model: string, stats: ModelStats) => MetricPoint[];
}

/**
 * The monitoring metrics, read from `host.stats()` when scraped: nothing on the request path.
 * Prometheus and OpenTelemetry publish the same names (docs/monitoring.md lists them).
 */
export const MONITORING_METRICS: readonly MonitoringMetric[] = Object.freeze([
  {
    name: 'drift_score',
    help: 'PSI of each monitored feature in the last full drift window (0.1 moderate, 0.2 significant).',
    type: 'gauge',
    points: (model, s) =>
      (['inputs', 'outputs'] as const).flatMap((group) => s.monitoring?.drift?.[group].last?.features.map((f) => ({ labels: { model, group, feature: f.name }, value: f.psi })) ?? []),
  },
  {
    name: 'drift_windows_total',
    help: 'Full drift windows compared with the reference, by whether they drifted.',
    type: 'counter',
    points: (model, s) =>
      (['inputs', 'outputs'] as const).flatMap((group) => {
        const g = s.monitoring?.drift?.[group];
        return g === undefined || g.windows === 0
          ? []
          : [
              { labels: { model, group, drifted: 'true' }, value: g.driftedWindows },
              { labels: { model, group, drifted: 'false' }, value: g.windows - g.driftedWindows },
            ];
      }),
  },
  {
    name: 'samples_total',
    help: 'Requests sampled for payload logging and drift.',
    type: 'counter',
    points: (model, s) => (s.monitoring === undefined || s.monitoring.sampling.rate === 0 ? [] : [{ labels: { model }, value: s.monitoring.sampling.sampled }]),
  },
  {
    name: 'cache_hits_total',
    help: 'Requests answered from the response cache.',
    type: 'counter',
    points: (model, s) => (s.monitoring?.cache === undefined ? [] : [{ labels: { model }, value: s.monitoring.cache.hits }]),
  },
  {
    name: 'cache_misses_total',
    help: 'Requests the response cache could not answer (they ran the model).',
    type: 'counter',
    points: (model, s) => (s.monitoring?.cache === undefined ? [] : [{ labels: { model }, value: s.monitoring.cache.misses }]),
  },
  {
    name: 'cache_bytes',
    help: 'Bytes held by the response cache: the inputs and outputs of its answers, as counted against cache.maxBytes.',
    type: 'gauge',
    points: (model, s) => (s.monitoring?.cache === undefined ? [] : [{ labels: { model }, value: s.monitoring.cache.bytes }]),
  },
  {
    name: 'live_accuracy',
    help: 'Share of labelled rows predicted right, per version, over the feedback window.',
    type: 'gauge',
    points: (model, s) => qualityPoints(model, s, 'accuracy'),
  },
  {
    name: 'live_mae',
    help: 'Mean absolute error of labelled rows, per version, over the feedback window.',
    type: 'gauge',
    points: (model, s) => qualityPoints(model, s, 'mae'),
  },
  {
    name: 'feedback_labels',
    help: 'Labelled rows per version in the feedback window.',
    type: 'gauge',
    points: (model, s) =>
      Object.entries(s.versions).flatMap(([version, v]) => (v.quality === undefined ? [] : [{ labels: { model, version }, value: v.quality.labels }])),
  },
]);

function qualityPoints(model: string, s: ModelStats, key: 'accuracy' | 'mae'): MetricPoint[] {
  return Object.entries(s.versions).flatMap(([version, v]) => {
    const value = v.quality?.[key];
    return value === undefined ? [] : [{ labels: { model, version }, value }];
  });
}

/** Every monitoring metric's points for a host's models, computed once per scrape. */
export function monitoringPoints(stats: Readonly<Record<string, ModelStats>>): Map<string, MetricPoint[]> {
  const out = new Map<string, MetricPoint[]>();
  for (const metric of MONITORING_METRICS) {
    const points: MetricPoint[] = [];
    for (const [model, s] of Object.entries(stats)) if (s.monitoring !== undefined || metric.name.startsWith('live_') || metric.name === 'feedback_labels') points.push(...metric.points(model, s));
    out.set(metric.name, points);
  }
  return out;
}

/** A sample sink's counts, as the exporters read them (`JsonlSink` has them; so may a sink of your own). */
export interface SampleSinkCounts {
  /** Samples accepted: written, or waiting for the disk. */
  readonly written: number;
  /** Samples dropped: the buffer was full, or the file failed. */
  readonly dropped: number;
}

/**
 * What the sinks named in `sinks` (`collectMetrics`/`instrument` option: a name per sink, the
 * `sink` label) have written and dropped, read when scraped. A sink drops rather than block
 * requests, so its drops are only seen here (and in its `dropped` count).
 */
export const SINK_METRICS: readonly { readonly name: string; readonly help: string; readonly count: (sink: SampleSinkCounts) => number }[] = Object.freeze([
  { name: 'samples_written_total', help: 'Samples a sink accepted (written, or waiting for the disk).', count: (sink: SampleSinkCounts) => sink.written },
  { name: 'samples_dropped_total', help: 'Samples a sink dropped rather than block requests: its buffer was full, or its file failed.', count: (sink: SampleSinkCounts) => sink.dropped },
]);

/**
 * The `sinks` option of an exporter, checked.
 * @throws ModelHostError INVALID_CONFIG when it is not an object of sinks with numeric `written`
 *   and `dropped` under non-empty names, or names one sink twice (its counts would be summed twice).
 */
export function sampleSinks(sinks: unknown): readonly (readonly [string, SampleSinkCounts])[] {
  if (sinks === undefined) return [];
  const what = 'an object naming each sample sink ({ samples: sink })';
  // Said in words: a JsonlSink holds its host, so its JSON (what `invalidOption` shows) is circular.
  if (Array.isArray(sinks)) throw refused(`\`sinks\` must be ${what}, got an array`);
  if (isSinkCounts(sinks)) throw refused(`\`sinks\` must be ${what}, got a sink without a name: pass { samples: sink }`);
  if (typeof sinks !== 'object' || sinks === null) throw invalidOption('sinks', what, sinks);
  const names = new Map<unknown, string>();
  return Object.entries(sinks).map(([name, sink]: [string, unknown]) => {
    // Prometheus reads sink="" as no label at all.
    if (name === '') throw refused(`\`sinks\` must name each sample sink (sink="" is no label to Prometheus), got the name ''`);
    if (!isSinkCounts(sink)) throw invalidOption(`sinks.${name}`, 'a sample sink (a JsonlSink, or { written, dropped } counts)', sink);
    const earlier = names.get(sink);
    if (earlier !== undefined) throw refused(`\`sinks.${name}\` must be a sink not named already, got the sink named '${earlier}' (its counts would show twice in a sum over sink)`);
    names.set(sink, name);
    return [name, sink as SampleSinkCounts] as const;
  });
}

function isSinkCounts(value: unknown): value is SampleSinkCounts {
  const counts = value as Partial<SampleSinkCounts> | null;
  return typeof counts?.written === 'number' && typeof counts.dropped === 'number';
}

function refused(message: string): ModelHostError {
  return new ModelHostError(ErrorCode.INVALID_CONFIG, message);
}
