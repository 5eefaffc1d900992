/**
 * The status page: a self-contained HTML page (no framework, no CDN) that polls
 * `status.json` every second and shows, per model, its versions (state, where each runs,
 * traffic, breaker), the rollout (candidate, shadow, guard verdict) and small live charts
 * (uPlot, served by `chart-assets.ts`), with links to `status.json` and (when served) `/metrics`.
 */
import type { ModelHost } from 'modelhost';
import { json } from './http-errors.js';
import type { RouteHandler } from './http-types.js';
import { STATUS_PAGE_HTML } from './status-page-html.js';

/** p50 and p99 of one latency over the last minute, ms. */
export interface LatencyPercentiles {
  readonly p50: number;
  readonly p99: number;
}

export interface StatusSnapshot {
  readonly live: boolean;
  readonly ready: boolean;
  readonly models: readonly {
    readonly name: string;
    readonly ready: boolean;
    readonly defaultVersion: number | undefined;
    readonly candidate: number | undefined;
    /** The version that receives a mirrored share of requests, and that share (0..1). */
    readonly shadow: { readonly version: number; readonly fraction: number } | undefined;
    /** The rollout guard watching the candidate; undefined when none is. Rates 0..1, latencies ms, over the guard's window. */
    readonly guard:
      | {
          readonly active: boolean;
          readonly candidate: number;
          readonly baseline: number | undefined;
          readonly candidateRequests: number;
          readonly candidateErrorRate: number;
          readonly baselineErrorRate: number;
          readonly candidateP99Ms: number;
          readonly baselineP99Ms: number;
        }
      | undefined;
    readonly versions: readonly {
      readonly version: number;
      readonly state: string;
      readonly runtime: string | undefined;
      /** Where its batches run: `inline` on the event loop's thread, or `count` worker threads; undefined until loaded. */
      readonly instances: { readonly kind: 'inline' | 'thread'; readonly count: number } | undefined;
      /** Share of unpinned traffic, 0..1. */
      readonly traffic: number;
      readonly breaker: string | undefined;
      // Over the last minute:
      readonly requestsPerSecond: number;
      /** Total latency p99, ms. */
      readonly p99Ms: number;
      readonly queueMs: LatencyPercentiles;
      readonly computeMs: LatencyPercentiles;
      /** Mean rows per batch. */
      readonly meanBatchSize: number;
      readonly requests: number;
      /** Every failed request, whoever's fault. */
      readonly errors: number;
      /** Failures that are the version's (runtime failures, deadlines while it ran, an open breaker), not the caller's. */
      readonly versionErrors: number;
      /** versionErrors ÷ requests, 0..1 (0 without requests): a client sending bad input does not raise it. */
      readonly errorRate: number;
      /** Rows waiting in the queue now. */
      readonly queueDepth: number;
      readonly error: string | undefined;
      /** Why a ready version cannot answer now (its runs stopped returning: `instances.runTimeoutMs`). */
      readonly stalled: string | undefined;
    }[];
  }[];
}

export function snapshot(host: ModelHost): StatusSnapshot {
  const stats = host.stats();
  return {
    live: host.live(),
    ready: host.ready(),
    models: host.status().map((m) => {
      const guard = stats[m.name]?.guard;
      return {
        name: m.name,
        ready: m.ready,
        defaultVersion: m.defaultVersion,
        candidate: m.candidate,
        shadow: m.shadow === undefined ? undefined : { version: m.shadow.version, fraction: m.shadow.fraction },
        guard:
          guard === undefined
            ? undefined
            : {
                active: guard.active,
                candidate: guard.candidate,
                baseline: guard.baseline,
                candidateRequests: guard.candidateRequests,
                candidateErrorRate: guard.candidateErrorRate,
                baselineErrorRate: guard.baselineErrorRate,
                candidateP99Ms: guard.candidateP99Ms,
                baselineP99Ms: guard.baselineP99Ms,
              },
        versions: m.versions.map((v) => {
          const w = stats[m.name]?.versions[v.version]?.windows['1m'];
          const requests = w?.requests ?? 0;
          const versionErrors = w?.versionErrors ?? 0;
          return {
            version: v.version,
            state: v.state,
            runtime: v.runtime,
            instances: v.instances === undefined ? undefined : { kind: v.instances.kind, count: v.instances.count },
            traffic: m.traffic[v.version] ?? 0,
            breaker: v.breaker,
            requestsPerSecond: w?.requestsPerSecond ?? 0,
            p99Ms: w?.latencyMs.total.p99 ?? 0,
            queueMs: { p50: w?.latencyMs.queue.p50 ?? 0, p99: w?.latencyMs.queue.p99 ?? 0 },
            computeMs: { p50: w?.latencyMs.compute.p50 ?? 0, p99: w?.latencyMs.compute.p99 ?? 0 },
            meanBatchSize: w?.meanBatchSize ?? 0,
            requests,
            errors: w?.errors ?? 0,
            versionErrors,
            errorRate: requests === 0 ? 0 : versionErrors / requests,
            queueDepth: v.queueDepth,
            error: v.error?.message,
            stalled: v.stalled,
          };
        }),
      };
    }),
  };
}

export const statusJson: RouteHandler = ({ host }) => json(200, snapshot(host), { 'cache-control': 'no-store' });

/**
 * Scripts only from this server (the page's own inline script and the vendored uPlot),
 * fetches only to it, styles inline or from it, images only as data: URLs, no frames.
 */
export const STATUS_PAGE_CSP = "default-src 'self'; img-src data:; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

export const statusPage: RouteHandler = ({ options }) => ({
  status: 200,
  headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-security-policy': STATUS_PAGE_CSP },
  // The /metrics link only where /metrics is served.
  body: options.metrics === undefined ? STATUS_PAGE_HTML : STATUS_PAGE_HTML.replace('<a id="status-json"', '<a id="metrics">metrics</a> · <a id="status-json"'),
});
