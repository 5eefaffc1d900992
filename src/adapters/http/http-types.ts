import { ErrorCode, ModelHostError, type ModelHost } from 'modelhost';
import { checkBoolean, checkFunction, checkInteger, checkObject, checkString, invalidOption, MAX_TIMER_MS } from '../../errors/option-checks.js';

/** A request as the protocol handlers see it, whatever server received it. */
export interface HttpRequest {
  readonly method: string;
  /** Path and query, e.g. `/v2/models/mlp/infer?x=1`. */
  readonly url: string;
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** The raw body (already size-limited by the server side), or a value a framework already parsed. */
  readonly body: Uint8Array | undefined;
  readonly parsedBody?: unknown;
  /** Fires when the client goes away: the request's queued task is cancelled. */
  readonly signal: AbortSignal;
  /**
   * Time the request already waited in the server before its handler ran (admission), ms:
   * counted against its `timeoutMs`.
   */
  readonly waitedMs?: number;
}

/** The deadline left for a request's inference, ms: `timeoutMs` less the time it waited for admission. */
export function timeoutLeft(timeoutMs: number | undefined, request: HttpRequest): number | undefined {
  if (timeoutMs === undefined || request.waitedMs === undefined) return timeoutMs;
  return Math.max(1, timeoutMs - request.waitedMs);
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | Uint8Array;
}

export interface JsonLimits {
  /** Deepest nesting of a JSON body: an integer from 1 to 1000. Default 64. */
  readonly maxDepth?: number;
  /** Most values (numbers, strings, …) in a JSON body: an integer ≥ 1. Default 10 000 000. */
  readonly maxElements?: number;
}

/**
 * The deepest `json.maxDepth` allowed. The exact-integer parser (lossless-json) and the limits
 * walk recurse once per level: measured on Node 20, ~4,700 levels fit Node's default stack
 * (984 KiB) and ~1,800 fit 400 KiB, so 1000 leaves room for a caller deep in its own frames
 * (test: http-options, "holds at the cap with 40% of the default stack"). Python's json stops
 * at the same depth (its default recursion limit).
 */
export const JSON_MAX_DEPTH_LIMIT = 1000;

/**
 * Options of every HTTP adapter, checked at construction: a wrong value throws
 * `ModelHostError` INVALID_CONFIG naming the option, what it must be and what it got.
 */
export interface HttpOptions {
  /** Largest request body, bytes (an integer ≥ 1); larger ones get 413. Default 32 MiB. */
  readonly bodyLimitBytes?: number;
  readonly json?: JsonLimits;
  /**
   * Largest response body, bytes. A JSON response past it is refused with a 400 that points at
   * the KServe binary extension (`binary_data_output`); JSON is written a slice at a time, so the
   * event loop keeps turning while it is. Default 64 MiB.
   */
  readonly maxResponseBytes?: number;
  /** Deadline of every inference request, ms (> 0; its `timeoutMs`). Default: the model's own. */
  readonly timeoutMs?: number;
  /**
   * Admin routes (load, deploy, promote, rollback, traffic, unload) are off without it.
   * Return true to allow, false to refuse (403); throw or return 401 to ask for credentials.
   */
  readonly authorize?: (request: HttpRequest) => boolean | 401 | 403 | Promise<boolean | 401 | 403>;
  /**
   * Who may post labels to `POST /v2/models/{m}/feedback` (a modelhost extension); the same
   * answers as `authorize`. Default: `authorize` (no hook: the route is off).
   */
  readonly authorizeFeedback?: (request: HttpRequest) => boolean | 401 | 403 | Promise<boolean | 401 | 403>;
  /** Serves `GET /metrics` from this prom-client registry (e.g. `collectMetrics(host).registry`). */
  readonly metrics?: { metrics(): Promise<string>; readonly contentType: string };
  /** Serve the HTML status page at `/` and `/status`. Default true. */
  readonly statusPage?: boolean;
  /** Server name in `GET /v2`. Default `modelhost`. */
  readonly serverName?: string;
}

export interface ResolvedHttpOptions {
  readonly bodyLimitBytes: number;
  readonly maxResponseBytes: number;
  readonly maxDepth: number;
  readonly maxElements: number;
  readonly timeoutMs: number | undefined;
  readonly authorize: HttpOptions['authorize'];
  readonly authorizeFeedback: HttpOptions['authorizeFeedback'];
  readonly metrics: HttpOptions['metrics'];
  readonly statusPage: boolean;
  readonly serverName: string;
}

/**
 * Every key of `HttpOptions`: what `createHttpHandler` takes. Anything else is a typo, or an
 * option of another adapter (the listener's `limits`), that would silently not hold.
 */
export const HTTP_OPTION_KEYS: readonly string[] = ['bodyLimitBytes', 'json', 'maxResponseBytes', 'timeoutMs', 'authorize', 'authorizeFeedback', 'metrics', 'statusPage', 'serverName'] satisfies readonly (keyof HttpOptions)[];

/** The listener's keys (`createNodeListener`, the Express router, the Nest controller, `createNodeServer`): `HttpOptions` and `limits`. */
export const LISTENER_OPTION_KEYS: readonly string[] = [...HTTP_OPTION_KEYS, 'limits'];

/**
 * `known`: the keys the caller takes (the listener's by default).
 * @throws ModelHostError INVALID_CONFIG when an option is unknown or out of its range (see `HttpOptions`).
 */
export function resolveHttpOptions(options: HttpOptions = {}, known: readonly string[] = LISTENER_OPTION_KEYS): ResolvedHttpOptions {
  checkObject(options, 'options', known);
  if (options.authorize !== undefined) checkFunction(options.authorize, 'authorize');
  if (options.authorizeFeedback !== undefined) checkFunction(options.authorizeFeedback, 'authorizeFeedback');
  if (options.metrics !== undefined && typeof (options.metrics as { metrics?: unknown } | null)?.metrics !== 'function') {
    throw invalidOption('metrics', 'a prom-client Registry ({ metrics(), contentType }), e.g. collectMetrics(host).registry', options.metrics);
  }
  if (options.statusPage !== undefined) checkBoolean(options.statusPage, 'statusPage');
  if (options.serverName !== undefined) checkString(options.serverName, 'serverName');
  const json = options.json === undefined ? {} : checkObject(options.json, 'json', ['maxDepth', 'maxElements']);
  const timeoutMs = options.timeoutMs;
  if (timeoutMs !== undefined && !(typeof timeoutMs === 'number' && timeoutMs > 0 && timeoutMs <= MAX_TIMER_MS)) throw invalidOption('timeoutMs', `a positive number of ms up to ${MAX_TIMER_MS}`, timeoutMs);
  return {
    bodyLimitBytes: options.bodyLimitBytes === undefined ? 32 * 1024 * 1024 : checkInteger(options.bodyLimitBytes, 'bodyLimitBytes', 1),
    maxResponseBytes: positiveInteger(options.maxResponseBytes, 'maxResponseBytes') ?? 64 * 1024 * 1024,
    maxDepth: json['maxDepth'] === undefined ? 64 : checkInteger(json['maxDepth'], 'json.maxDepth', 1, JSON_MAX_DEPTH_LIMIT),
    maxElements: json['maxElements'] === undefined ? 10_000_000 : checkInteger(json['maxElements'], 'json.maxElements', 1),
    timeoutMs,
    authorize: options.authorize,
    authorizeFeedback: options.authorizeFeedback ?? options.authorize,
    metrics: options.metrics,
    statusPage: options.statusPage ?? true,
    serverName: options.serverName ?? 'modelhost',
  };
}

function positiveInteger(value: number | undefined, name: string): number | undefined {
  if (value === undefined || (Number.isSafeInteger(value) && value > 0)) return value;
  throw new ModelHostError(ErrorCode.INVALID_CONFIG, `\`${name}\` must be a positive integer (bytes), got ${String(value)}`);
}

/** What a route handler gets. */
export interface RouteContext {
  readonly host: ModelHost;
  readonly options: ResolvedHttpOptions;
  readonly request: HttpRequest;
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  /**
   * The request's id: its `x-request-id` header when that is a request id (`isRequestId`), else a
   * new UUID, until the route names it otherwise (`nameRequest`); echoed as `x-request-id` on its
   * answer, success or error, and logged under `requestId`.
   */
  readonly requestId: string;
  /**
   * Names the request `id` from now on (KServe's body `id`, which wins over the header): its
   * answer, success or error, carries it and its log lines name it, so one id names the request
   * everywhere. `id` must be a request id (`isRequestId`).
   */
  nameRequest(id: string): void;
}

export type RouteHandler = (context: RouteContext) => Promise<HttpResponse> | HttpResponse;
