/**
 * One HTTP side of a cell: autocannon (closed loop: each connection sends its next request
 * when the previous response arrived, like bench/lib/closed-loop.ts's callers) against the
 * server process, with per-response latencies: autocannon's own histogram keeps whole
 * milliseconds, too coarse for a small model.
 */
import autocannon from 'autocannon';
import { summarize, type Summary } from '../lib/stats.js';
import { cpuWindow, mergeHttpCpu, type HttpCpu } from './process-cpu.js';

export interface HttpRunOptions {
  /** Server origin, e.g. http://127.0.0.1:8080. */
  readonly url: string;
  readonly path: string;
  /** Requests (body and headers), sent in turn by every connection. */
  readonly requests: readonly { readonly body: string | Buffer; readonly headers: Readonly<Record<string, string>> }[];
  readonly connections: number;
  /** Unmeasured seconds first, on the same connections; 0 for none. */
  readonly warmupSec: number;
  readonly measureSec: number;
  /** The server's pid, to tell its CPU from the client's. */
  readonly serverPid: number;
}

export interface HttpRunResult {
  readonly concurrency: number;
  /** 2xx responses in the measured run. */
  readonly requests: number;
  /** Connection errors and timeouts, and non-2xx responses. */
  readonly errors: number;
  readonly non2xx: number;
  readonly elapsedMs: number;
  readonly requestsPerSec: number;
  /** 2xx latency, ms, request written → response read, as autocannon times it. */
  readonly latency: Summary;
  readonly cpu: HttpCpu | undefined;
  readonly samples: readonly number[];
}

export async function runHttp(options: HttpRunOptions): Promise<HttpRunResult> {
  const requests = options.requests.map(({ body, headers }) => ({ method: 'POST' as const, path: options.path, headers: { ...headers }, body }));
  // One autocannon run for warmup and measurement, so the measured window starts on warm,
  // established connections; responses before the warmup ends are not counted. sampleInt
  // 100: a run ends on a sample tick, so this keeps it within 0.1 s of its duration.
  const samples: number[] = [];
  let errors = 0;
  let non2xx = 0;
  let measuring = options.warmupSec <= 0;
  let measureStart = performance.now();
  let lastResponse = measureStart;
  let cpu = measuring ? cpuWindow(options.serverPid) : undefined;
  const timer = measuring
    ? undefined
    : setTimeout(() => {
        measuring = true;
        measureStart = lastResponse = performance.now();
        cpu = cpuWindow(options.serverPid);
      }, options.warmupSec * 1000);
  const instance = autocannon({ url: `${options.url}${options.path}`, connections: options.connections, timeout: 60, sampleInt: 100, requests, duration: options.warmupSec + options.measureSec });
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    if (!measuring) return;
    lastResponse = performance.now();
    if (statusCode >= 200 && statusCode < 300) samples.push(responseTime);
    else non2xx++;
  });
  instance.on('reqError', () => {
    if (measuring) errors++;
  });
  await instance;
  clearTimeout(timer);
  const shares = cpu?.end();
  const elapsedMs = Math.max(1, lastResponse - measureStart);
  return {
    concurrency: options.connections,
    requests: samples.length,
    errors,
    non2xx,
    elapsedMs,
    requestsPerSec: samples.length / (elapsedMs / 1000),
    latency: summarize(samples),
    cpu: shares,
    samples,
  };
}

/** One side measured in several runs. */
export function mergeHttpRuns(parts: readonly HttpRunResult[]): HttpRunResult {
  const first = parts[0];
  if (first === undefined) throw new Error('mergeHttpRuns needs at least one result');
  const samples = parts.flatMap((p) => p.samples);
  const elapsedMs = parts.reduce((sum, p) => sum + p.elapsedMs, 0);
  return {
    concurrency: first.concurrency,
    requests: samples.length,
    errors: parts.reduce((sum, p) => sum + p.errors, 0),
    non2xx: parts.reduce((sum, p) => sum + p.non2xx, 0),
    elapsedMs,
    requestsPerSec: samples.length / (elapsedMs / 1000),
    latency: summarize(samples),
    cpu: mergeHttpCpu(parts.map((p) => ({ cpu: p.cpu, ms: p.elapsedMs }))),
    samples,
  };
}
