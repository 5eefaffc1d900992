import type { EventEmitter } from 'eventemitter3';
import type { Clock } from '../scheduler/clock.js';
import type { BatchFailedEvent, ModelHostEvents, RequestFailedEvent } from './events.js';
import type { CacheHitEvent, InternalEvents, RequestsCompletedEvent } from './internal-events.js';
import type { LatencyHistogram } from './latency-histogram.js';
import { RollingWindow } from './rolling-window.js';
import { isVersionFault } from '../errors/index.js';

export interface LatencySummary {
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly mean: number;
  readonly max: number;
}

/** A version's traffic over one window. Latencies in ms. */
export interface WindowStats {
  readonly windowMs: number;
  readonly requests: number;
  readonly requestsPerSecond: number;
  /** Successful requests' rows. */
  readonly rows: number;
  /** Every failed request, whoever's fault. */
  readonly errors: number;
  /** Failures that are the version's, not the caller's (the rollout guard's rule: `isVersionFault`). */
  readonly versionErrors: number;
  readonly errorsByCode: Readonly<Record<string, number>>;
  readonly latencyMs: { readonly total: LatencySummary; readonly queue: LatencySummary; readonly compute: LatencySummary };
  readonly batches: number;
  readonly meanBatchSize: number;
  /** Batches by size (rows). */
  readonly batchSizes: Readonly<Record<number, number>>;
}

const WINDOWS = { '1m': 60_000, '5m': 300_000 } as const;
export type WindowName = keyof typeof WINDOWS;

/**
 * Rolling statistics per model and version (1 and 5 minutes), built only from the host's
 * events: the hot path does not know it exists. Successes come one payload per batch (the
 * internal `requestsCompleted`), so keeping statistics builds no object per request.
 */
export class StatsRecorder {
  /** model → version → window: nested maps, so no key string is built per event. */
  private readonly windows = new Map<string, Map<number, RollingWindow>>();
  private readonly detach: () => void;

  constructor(
    events: EventEmitter<ModelHostEvents>,
    internal: EventEmitter<InternalEvents>,
    private readonly clock: Clock,
  ) {
    const completed = (e: RequestsCompletedEvent) => this.completed(e);
    const hit = (e: CacheHitEvent) => this.hit(e);
    const failed = (e: RequestFailedEvent) => this.failed(e);
    const batch = (e: BatchFailedEvent) => this.batch(this.slice(e.model, e.version), e.batchSize);
    // Completed batches come with their requests (`requestsCompleted`); only failed ones need the public event.
    internal.on('requestsCompleted', completed);
    internal.on('cacheHit', hit);
    events.on('requestFailed', failed);
    events.on('batchFailed', batch);
    this.detach = () => {
      internal.off('requestsCompleted', completed);
      internal.off('cacheHit', hit);
      events.off('requestFailed', failed);
      events.off('batchFailed', batch);
    };
  }

  stop(): void {
    this.detach();
  }

  /** Statistics of one version over the named windows; zeros when it had no traffic. */
  version(model: string, version: number): Record<WindowName, WindowStats> {
    const window = this.windows.get(model)?.get(version);
    const now = this.clock.now();
    const out = {} as Record<WindowName, WindowStats>;
    for (const [name, ms] of Object.entries(WINDOWS) as [WindowName, number][]) out[name] = summarize(window, now, ms);
    return out;
  }

  /** Forgets an unloaded version. */
  forget(model: string, version: number): void {
    this.windows.get(model)?.delete(version);
  }

  /** The current slice of a version's window; `now` when the event already read the clock. */
  private slice(model: string, version: number, now = this.clock.now()) {
    let versions = this.windows.get(model);
    if (versions === undefined) this.windows.set(model, (versions = new Map()));
    let window = versions.get(version);
    if (window === undefined) {
      window = new RollingWindow(WINDOWS['5m'], now, 30);
      versions.set(version, window);
    }
    return window.slice(now);
  }

  private completed(e: RequestsCompletedEvent): void {
    const slice = this.slice(e.model, e.version, e.endedAt);
    slice.requests += e.requests;
    slice.rows += e.rows;
    const { enqueuedAt, counts, startedAt, endedAt } = e;
    for (let i = 0; i < e.runs; i++) {
      slice.total.record(endedAt - enqueuedAt[i]!, counts[i]);
      slice.queue.record(startedAt - enqueuedAt[i]!, counts[i]);
    }
    if (e.requests > 0) slice.compute.record(e.computeMs, e.requests);
    if (e.batchRows !== undefined) this.batch(slice, e.batchRows);
  }

  /** A cached answer never queued nor ran: a request served, with its latency, nothing else. */
  private hit(e: CacheHitEvent): void {
    const slice = this.slice(e.model, e.version, e.answeredAt);
    slice.requests++;
    slice.rows += e.rows;
    slice.total.record(e.totalMs);
  }

  private failed(e: RequestFailedEvent): void {
    const slice = this.slice(e.model, e.version);
    slice.requests++;
    slice.errors++;
    if (isVersionFault(e.code, e.blame)) slice.versionErrors++;
    slice.errorsByCode.set(e.code, (slice.errorsByCode.get(e.code) ?? 0) + 1);
  }

  private batch(slice: ReturnType<StatsRecorder['slice']>, rows: number): void {
    slice.batches++;
    slice.batchRows += rows;
    slice.batchSizes.set(rows, (slice.batchSizes.get(rows) ?? 0) + 1);
  }
}

function summarize(window: RollingWindow | undefined, now: number, windowMs: number): WindowStats {
  const t = window?.totals(now, windowMs);
  const seconds = Math.max(1, (t?.spanMs ?? windowMs) / 1000);
  return {
    windowMs,
    requests: t?.requests ?? 0,
    requestsPerSecond: (t?.requests ?? 0) / seconds,
    rows: t?.rows ?? 0,
    errors: t?.errors ?? 0,
    versionErrors: t?.versionErrors ?? 0,
    errorsByCode: Object.fromEntries(t?.errorsByCode ?? []),
    latencyMs: { total: latency(t?.total), queue: latency(t?.queue), compute: latency(t?.compute) },
    batches: t?.batches ?? 0,
    meanBatchSize: t === undefined || t.batches === 0 ? 0 : t.batchRows / t.batches,
    batchSizes: Object.fromEntries(t?.batchSizes ?? []),
  };
}

function latency(h: LatencyHistogram | undefined): LatencySummary {
  if (h === undefined) return { p50: 0, p95: 0, p99: 0, mean: 0, max: 0 };
  return { p50: h.quantile(0.5), p95: h.quantile(0.95), p99: h.quantile(0.99), mean: h.mean, max: h.max };
}
