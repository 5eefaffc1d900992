import { ErrorCode, isModelHostError, ModelHostError, type ModelHost } from 'modelhost';
import * as adminRoutes from './admin.js';
import { errorResponse, json } from './http-errors.js';
import { HTTP_OPTION_KEYS, resolveHttpOptions, type HttpOptions, type HttpRequest, type HttpResponse, type ResolvedHttpOptions, type RouteContext, type RouteHandler } from './http-types.js';
import { feedback } from './feedback.js';
import * as kserve from './kserve-v2.js';
import { chartAsset } from './chart-assets.js';
import { unsupportedBodyEncoding } from './content-encoding.js';
import { openApiDocument } from './openapi.js';
import { statusJson, statusPage } from './status-page.js';
import * as tfserving from './tfserving.js';
import { requestIdOfHeaders } from './request-id.js';
import { isModelName } from '../../repository/model-name.js';
import { logInferenceFailure } from './inference-failure-log.js';
import { withHeader } from './with-header.js';

export interface Route {
  readonly method: string;
  readonly pattern: RegExp;
  readonly handler: RouteHandler;
}

// A model name; its characters may come percent-encoded (RFC 3986 §6.2.2.2: `%2D` is `-`), checked once decoded (`namesModel`).
const NAME = '(?<model>(?:[A-Za-z0-9_.-]|%[0-9A-Fa-f]{2})+)';

/**
 * Whether a path's model segment, percent-decoded, is a model name by the repository's one rule
 * (`%2F`, `%00`, a leading '.', '..' or more than 128 characters are not).
 */
function namesModel(segment: string | undefined): boolean {
  if (segment === undefined) return true;
  if (!segment.includes('%')) return isModelName(segment);
  try {
    return isModelName(decodeURIComponent(segment));
  } catch {
    return false;
  }
}
const VERSION = '(?<version>[^/:]+)';
const LABEL = '(?<label>[^/:]+)';

function route(method: string, path: string, handler: RouteHandler): Route {
  return { method, pattern: new RegExp(`^${path}$`), handler };
}

const metricsRoute: RouteHandler = async ({ options }) => {
  if (options.metrics === undefined) return json(404, { error: 'metrics are not exported: pass { metrics: collectMetrics(host).registry }' });
  return { status: 200, headers: { 'content-type': options.metrics.contentType }, body: await options.metrics.metrics() };
};

/** Every route but the status page's; docs/openapi (`openapi.ts`) describes each, as test/adapters/http/openapi.test.ts checks. */
export const ROUTES: readonly Route[] = [
  // KServe v2 / Open Inference Protocol
  route('GET', '/v2', kserve.serverMetadata),
  route('GET', '/v2/health/live', kserve.serverLive),
  route('GET', '/v2/health/ready', kserve.serverReady),
  route('GET', `/v2/models/${NAME}/ready`, kserve.modelReady),
  route('GET', `/v2/models/${NAME}/versions/${VERSION}/ready`, kserve.modelReady),
  route('GET', `/v2/models/${NAME}`, kserve.modelMetadata),
  route('GET', `/v2/models/${NAME}/versions/${VERSION}`, kserve.modelMetadata),
  route('POST', `/v2/models/${NAME}/infer`, kserve.infer),
  route('POST', `/v2/models/${NAME}/versions/${VERSION}/infer`, kserve.infer),
  // modelhost extension: late labels for live quality
  route('POST', `/v2/models/${NAME}/feedback`, feedback),
  // KServe model repository extension (admin)
  route('POST', '/v2/repository/index', adminRoutes.repositoryIndex),
  route('POST', `/v2/repository/models/${NAME}/load`, adminRoutes.loadModel),
  route('POST', `/v2/repository/models/${NAME}/unload`, adminRoutes.unloadModel),
  // TF Serving REST
  route('GET', `/v1/models/${NAME}`, tfserving.modelStatus),
  route('GET', `/v1/models/${NAME}/versions/${VERSION}`, tfserving.modelStatus),
  route('GET', `/v1/models/${NAME}/labels/${LABEL}`, tfserving.modelStatus),
  route('GET', `/v1/models/${NAME}/metadata`, tfserving.modelMetadata),
  route('GET', `/v1/models/${NAME}/versions/${VERSION}/metadata`, tfserving.modelMetadata),
  route('GET', `/v1/models/${NAME}/labels/${LABEL}/metadata`, tfserving.modelMetadata),
  route('POST', `/v1/models/${NAME}:predict`, tfserving.predict),
  route('POST', `/v1/models/${NAME}/versions/${VERSION}:predict`, tfserving.predict),
  route('POST', `/v1/models/${NAME}/labels/${LABEL}:predict`, tfserving.predict),
  // Admin
  route('POST', `/admin/models/${NAME}/load`, adminRoutes.loadModel),
  route('POST', `/admin/models/${NAME}/deploy`, adminRoutes.deploy),
  route('POST', `/admin/models/${NAME}/promote`, adminRoutes.promote),
  route('POST', `/admin/models/${NAME}/rollback`, adminRoutes.rollback),
  route('PUT', `/admin/models/${NAME}/traffic`, adminRoutes.setTraffic),
  route('DELETE', `/admin/models/${NAME}`, adminRoutes.unloadModel),
  route('DELETE', `/admin/models/${NAME}/versions/${VERSION}`, adminRoutes.unloadModel),
  // Operations
  route('GET', '/metrics', metricsRoute),
  route('GET', '/status.json', statusJson),
  route('GET', '/openapi.json', openApiDocument),
];

/** Paths that still answer while the host drains: probes and metrics (the rest get 503 SHUTTING_DOWN). */
const DURING_DRAIN: ReadonlySet<string> = new Set(['/v2/health/live', '/v2/health/ready', '/metrics']);

export const PAGES: readonly Route[] = [route('GET', '/', statusPage), route('GET', '/status', statusPage), route('GET', '/status/(?<asset>uplot\\.min\\.(?:js|css))', chartAsset)];

/**
 * The protocol-neutral handler: KServe v2, TF Serving REST, admin, metrics and the status
 * page over the public ModelHost API. Resolves to undefined for a path it does not serve,
 * so a framework can pass the request on. Usable from node:http, Express, Nest, Fastify.
 */
export function createHttpHandler(host: ModelHost, options: HttpOptions = {}): (request: HttpRequest) => Promise<HttpResponse | undefined> {
  // Its own keys only: the listener's `limits` would not hold here.
  return handlerFor(host, resolveHttpOptions(options, HTTP_OPTION_KEYS));
}

/** `createHttpHandler` for an adapter that resolved its own, wider options (the listener). */
export function handlerFor(host: ModelHost, resolved: ResolvedHttpOptions): (request: HttpRequest) => Promise<HttpResponse | undefined> {
  const routes = resolved.statusPage ? [...ROUTES, ...PAGES] : ROUTES;
  // Not async: the route's promise is returned as it is (an async wrapper would add a promise and two turns per request).
  return (request) => {
    try {
      return route(request);
    } catch (error) {
      return Promise.reject(error);
    }
  };

  function route(request: HttpRequest): Promise<HttpResponse | undefined> {
    const path = routePathOf(request.url);
    if (path === undefined) return unrouted(request, json(400, { error: 'the request URL is not valid' }));
    // The hot route, found without the table: the one route a POST to /v2/models/{m}/infer with a plain name matches.
    const model = request.method === 'POST' ? inferModelOf(path) : undefined;
    if (model !== undefined) {
      if (host.draining) return unrouted(request, shuttingDown());
      return run(kserve.infer, host, resolved, request, { model });
    }
    const allowed: string[] = [];
    for (const r of routes) {
      const match = r.pattern.exec(path);
      if (match === null || !namesModel(match.groups?.['model'])) continue;
      allowed.push(r.method === 'GET' ? 'GET, HEAD' : r.method);
      if (r.method !== request.method && !(r.method === 'GET' && request.method === 'HEAD')) continue;
      // Draining: a transient state, never answered as if a model were unknown (404).
      if (host.draining && !DURING_DRAIN.has(path)) return unrouted(request, shuttingDown());
      const params = decodeParams(match.groups ?? {});
      if (params === undefined) return unrouted(request, json(400, { error: `the path ${path} has a broken percent-encoding` }));
      return run(r.handler, host, resolved, request, params);
    }
    // RFC 9110 §15.5.6: a 405 names the methods the path does allow.
    if (allowed.length > 0) return unrouted(request, json(405, { error: `method ${request.method} is not allowed on ${path}` }, { allow: allowed.join(', ') }));
    return Promise.resolve(undefined);
  }
}

/** An answer made before any route ran (a draining server, a bad path, a method not allowed) names its request too. */
function unrouted(request: HttpRequest, response: HttpResponse): Promise<HttpResponse> {
  return Promise.resolve(named(response, requestIdOfHeaders(request.headers)));
}

function shuttingDown(): HttpResponse {
  return errorResponse(new ModelHostError(ErrorCode.SHUTTING_DOWN, 'the server is shutting down; retry on another replica'));
}

/**
 * Runs a route and names its answer. Not async: a synchronous route answers in this turn, an
 * asynchronous one through one `then` (an async function here would add a promise and a turn
 * to every request).
 */
function run(handler: RouteHandler, host: ModelHost, options: ResolvedHttpOptions, request: HttpRequest, params: Record<string, string>): Promise<HttpResponse> {
  // The route may name the request otherwise (KServe's body `id`): answers and logs read the context's id when they are made.
  const context = new Context(host, options, request, params, requestIdOfHeaders(request.headers));
  let answer: Promise<HttpResponse> | HttpResponse;
  try {
    answer = unsupportedBodyEncoding(request) ?? handler(context);
  } catch (error) {
    return Promise.resolve(failed(host, request, context.requestId, error));
  }
  if (typeof (answer as Partial<PromiseLike<HttpResponse>>).then !== 'function') return Promise.resolve(named(answer as HttpResponse, context.requestId));
  // Promise.resolve of a native promise is that promise: no wrapper on the common path.
  return Promise.resolve(answer).then(
    (response) => named(response, context.requestId),
    (error: unknown) => failed(host, request, context.requestId, error),
  );
}

/** Every answer names its request, so a client can send feedback and trace it (a handler may name it itself). */
function named(response: HttpResponse, requestId: string): HttpResponse {
  return response.headers['x-request-id'] !== undefined ? response : { status: response.status, headers: withHeader(response.headers, 'x-request-id', requestId), body: response.body };
}

/** A route's failure as its answer: bad input is a ModelHostError with a 4xx; anything else is a bug that must be seen. */
function failed(host: ModelHost, request: HttpRequest, requestId: string, error: unknown): HttpResponse {
  if (!isModelHostError(error)) logUnexpected(host, request, requestId, error);
  else logInferenceFailure(host, requestId, error);
  return named(errorResponse(error), requestId);
}

/** A route's context. A class: an object literal with a getter is built slowly, as a dictionary, on every request. */
class Context implements RouteContext {
  #query: URLSearchParams | undefined;

  constructor(
    readonly host: ModelHost,
    readonly options: ResolvedHttpOptions,
    readonly request: HttpRequest,
    readonly params: Readonly<Record<string, string>>,
    public requestId: string,
  ) {}

  nameRequest(id: string): void {
    this.requestId = id;
  }

  /** Built on first use: no route reads it on the hot path. */
  get query(): URLSearchParams {
    return (this.#query ??= targetUrl(this.request.url).searchParams);
  }
}


/** `requestId`: the id the answer carries (a header that was no request id, or none, was replaced by a new one). */
function logUnexpected(host: ModelHost, request: HttpRequest, requestId: string, error: unknown): void {
  const fields = {
    requestId,
    method: request.method,
    path: request.url.split('?')[0],
    error: error instanceof Error ? (error.stack ?? error.message) : String(error),
  };
  try {
    host.logger?.error('unexpected error answered with 500', fields);
  } catch {
    // A logger that throws must not turn a 500 into a crash.
  }
}

/** The request target as a URL: an origin-form target ('/v2/...', '//x/...') is a path on this server, never another host. @throws TypeError when it is not a valid URL. */
function targetUrl(target: string): URL {
  return new URL(target.startsWith('/') ? `http://localhost${target}` : target, 'http://localhost');
}

/**
 * Slash-separated segments of characters the WHATWG URL parser keeps as they are in a path
 * (no '%', '\\', '#', '?', spaces or controls), none of them empty, '.' or '..': such a path is
 * its own `new URL(…).pathname`, so the common request needs no URL object.
 */
const PLAIN_PATH = /^(?:\/(?!\.{1,2}(?:\/|$))[A-Za-z0-9._~:@!$&'()*+,;=-]+)+$/;

/** The target's path as `new URL` normalizes it (dot segments, percent-encoding, backslashes); undefined when it is not a valid URL. */
export function pathOf(target: string): string | undefined {
  const queryAt = target.indexOf('?');
  const path = queryAt === -1 ? target : target.slice(0, queryAt);
  if (PLAIN_PATH.test(path)) return path;
  try {
    return targetUrl(target).pathname;
  } catch {
    return undefined;
  }
}

/** The path routes are matched against: `pathOf`, without a trailing slash (`/v2/models/m/` routes as `/v2/models/m`). */
export function routePathOf(target: string): string | undefined {
  // The listener's admission gate and the handler both ask for the same request's path.
  if (target === lastTarget) return lastPath;
  const pathname = pathOf(target);
  lastPath = pathname !== undefined && pathname.length > 1 && pathname.endsWith('/') ? pathname.slice(0, -1) : pathname;
  lastTarget = target;
  return lastPath;
}

let lastTarget: string | undefined;
let lastPath: string | undefined;

const INFER_PREFIX = '/v2/models/';
const INFER_SUFFIX = '/infer';

/** The model of `/v2/models/{m}/infer` when `m` is a model name as it is (no '%'); undefined for every other path. */
export function inferModelOf(path: string): string | undefined {
  if (!path.startsWith(INFER_PREFIX) || !path.endsWith(INFER_SUFFIX)) return undefined;
  const model = path.slice(INFER_PREFIX.length, path.length - INFER_SUFFIX.length);
  return isModelName(model) ? model : undefined;
}

/** The path parameters decoded; undefined when one is not valid percent-encoding (`%E0%A4%A`). */
function decodeParams(groups: Record<string, string | undefined>): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  try {
    for (const key in groups) {
      const value = groups[key];
      if (value === undefined) continue;
      // Versions stay raw: only their canonical decimal form names one, and '%31' is not it.
      if (!value.includes('%')) params[key] = value;
      else {
        const decoded = decodeURIComponent(value);
        params[key] = key === 'version' ? value : decoded;
      }
    }
  } catch {
    return undefined;
  }
  return params;
}
