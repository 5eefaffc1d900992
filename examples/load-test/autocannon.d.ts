/**
 * The part of autocannon's programmatic API that examples/load-test and bench/http use.
 * autocannon ships no types; with `@types/autocannon` in devDependencies this file can go.
 */
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';

  namespace autocannon {
    interface Options {
      url: string;
      method?: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'HEAD';
      headers?: Record<string, string>;
      body?: string | Buffer;
      connections?: number;
      /** Seconds. */
      duration?: number;
      /** Requests to send, instead of a duration. */
      amount?: number;
      pipelining?: number;
      /** Seconds to wait for a response. */
      timeout?: number;
      /** An unmeasured run first, with these options overriding the others. */
      warmup?: { connections?: number; duration?: number };
      title?: string;
      /** ms between the samples of requests/s; the run also ends on a sample tick. Default 1000. */
      sampleInt?: number;
      /** Requests each connection sends in turn (overriding method, path, headers, body). */
      requests?: { method?: Options['method']; path?: string; headers?: Record<string, string>; body?: string | Buffer }[];
    }

    /** hdr-histogram-percentiles-obj. */
    interface Histogram {
      average: number;
      mean: number;
      stddev: number;
      min: number;
      max: number;
      total: number;
      p50: number;
      p90: number;
      p99: number;
    }

    interface Result {
      url: string;
      requests: Histogram;
      /** ms, whole milliseconds (2xx responses only). */
      latency: Histogram;
      throughput: Histogram;
      /** Seconds. */
      duration: number;
      errors: number;
      timeouts: number;
      mismatches: number;
      non2xx: number;
      resets: number;
      '1xx': number;
      '2xx': number;
      '3xx': number;
      '4xx': number;
      '5xx': number;
      statusCodeStats: Record<string, { count: number }>;
      start: Date;
      finish: Date;
    }

    interface Instance extends EventEmitter, PromiseLike<Result> {
      stop(): void;
      /** Every response: the status code, its size, and its latency in ms (fractional). */
      on(event: 'response', listener: (client: unknown, statusCode: number, resBytes: number, responseTime: number) => void): this;
      on(event: 'reqError', listener: (error: Error) => void): this;
      on(event: 'done', listener: (result: Result) => void): this;
      on(event: string, listener: (...args: unknown[]) => void): this;
    }
  }

  function autocannon(options: autocannon.Options): autocannon.Instance;
  export = autocannon;
}
