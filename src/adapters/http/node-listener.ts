import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { ErrorCode, type ModelHost, type ModelMetadata } from 'modelhost';
import { ADAPTIVE_LIMIT_DEFAULTS, AdaptiveLimit } from './adaptive-limit.js';
import { AdmissionGate, WaitExpired, type Permit } from './admission-gate.js';
import { withAdmissionMetrics } from './admission-metrics.js';
import { ByteBudget } from './byte-budget.js';
import { ConnectionHold } from './connection-hold.js';
import { ConnectionPark } from './connection-park.js';
import { requestSignal } from './connection-signal.js';
import { bodyIsEncoded } from './content-encoding.js';
import { handlerFor, inferModelOf, routePathOf } from './http-handler.js';
import { textOf } from './json-body.js';
import { badRequest, errorResponse, json, statusFor } from './http-errors.js';
import { requestIdOfHeaders } from './request-id.js';
import { continueBody } from './expect-continue.js';
import { resolveHttpOptions, type HttpOptions, type HttpResponse } from './http-types.js';
import { resolveLimits, type ListenerLimits } from './listener-limits.js';
import { ParseTurns } from './parse-turns.js';
import { withHeader } from './with-header.js';

export type NodeListener = ((req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void) & {
  /**
   * Shutdown: resumes every parked connection and parks no more, so a request already sent on
   * one is read (and answered) rather than lost when the server closes idle connections
   * (`server.close()` does, since Node 19). `createNodeServer`'s `close()` calls it; with a
   * server of your own, call it a turn or two before `server.close()` (see {@link resumeParkedOnClose}).
   */
  stopParking(): void;
};

export interface NodeListenerOptions extends HttpOptions {
  /** Bounds on what requests make this listener hold (docs/http.md, "Limits"). */
  readonly limits?: ListenerLimits;
}

/** Longest a refused connection is held unread, ms: below Node's keep-alive and socket timeouts. */
const MAX_HOLD_MS = 10_000;

/** Longest a connection is parked while its model's gate is busy, ms: below Node's keep-alive timeout (5 s). */
const MAX_PARK_MS = 1000;

/**
 * An admitted request whose body has not arrived this long after admission gives its slot
 * back (it is still served when its body ends, within `bodyTimeoutMs`): clients that trickle
 * their bodies must not hold a model's slots and starve everyone waiting. Short, because a
 * slot is worth one run of the model: at 1 s, 100 connections trickling 1 MiB bodies held a
 * small model's every slot and halved the normal load's rate (bench/slow-clients.ts). A body
 * on a fast network arrives within a few ms; a slower upload is served all the same, only
 * outside the gate's count (the host's queue still bounds it). Over a whole attack the slot
 * time clients can hold this way is at most `maxConnections` × this ÷ `bodyTimeoutMs` slots
 * (4096 × 20 ms ÷ 30 s ≈ 3) unless they finish each body and start another.
 */
const SLOW_BODY_MS = 20;

/** A body refused on its headers is read to its end and dropped up to this size (the connection stays open); past it the connection closes. */
const DRAIN_REFUSED_BODY_BYTES = 64 * 1024;

/** The model an inference request names (`/v2/models/{m}[/versions/{v}]/infer`, `/v1/models/{m}…:predict`). */
const INFERENCE_PATH = /^\/v[12]\/models\/([^/:?]+)(?:\/(?:versions|labels)\/[^/:?]+)?(?:\/infer|:predict)$/;

/**
 * A `node:http` request listener (also an Express/Connect middleware: unknown paths go to
 * `next`). Inference requests pass a per-model admission gate on their headers
 * (`limits.concurrency` in flight, the next ones wait unread up to `limits.maxWaitMs`, past
 * that 429 before the body is read). It reads the body within `bodyLimitBytes` (413 beyond),
 * `limits.bodyTimeoutMs` (408) and the listener-wide `limits.maxBufferedBytes` (503); large
 * JSON bodies are parsed one per event-loop turn. A client that disconnects aborts its request: a queued inference
 * is cancelled and frees its slot. After a 429, the connection is not read again before its
 * `Retry-After` (`limits.holdRefusedConnections`).
 *
 * @throws TypeError when a limit is not a positive integer (or a boolean where one is expected).
 */
export function createNodeListener(host: ModelHost, options: NodeListenerOptions = {}): NodeListener {
  const gates = new Map<string, AdmissionGate>();
  const parks = new Map<AdmissionGate, ConnectionPark>();
  // An adaptive gate's limit and the model metadata its floor was taken from: a reload or a
  // rollout to a version with another batch size moves the floor (the metadata object changes).
  const floors = new Map<AdmissionGate, { readonly limit: AdaptiveLimit; seen: ModelMetadata | undefined }>();
  // `/metrics` also reports the gates: requests waiting here are nowhere in the host's queue.
  // A gate of a model no longer served (unloaded, removed by the poll), with nothing waiting or in flight, is forgotten
  // at the next scrape: its labels leave `/metrics` and the maps stay as small as what the host serves.
  const forgetUnserved = () => {
    for (const [model, gate] of gates) {
      if (gate.waiting > 0 || gate.inFlight > 0 || host.ready(model)) continue;
      gates.delete(model);
      floors.delete(gate);
      parks.get(gate)?.resumeAll();
      parks.delete(gate);
    }
  };
  const resolved = resolveHttpOptions(options);
  const { bodyLimitBytes } = resolved;
  const handle = handlerFor(host, resolved.metrics === undefined ? resolved : { ...resolved, metrics: withAdmissionMetrics(resolved.metrics, gates, undefined, forgetUnserved) });
  const limits = resolveLimits(options.limits);
  const budget = new ByteBudget(limits.maxBufferedBytes);
  const hold = limits.holdRefusedConnections ? new ConnectionHold() : undefined;
  const parses = new ParseTurns();
  const { timeoutMs } = resolveHttpOptions(options);
  // A request waits for admission no longer than its own deadline.
  const waitBoundMs = Math.min(limits.maxWaitMs, timeoutMs ?? Infinity);
  const waitLimit = timeoutMs !== undefined && waitBoundMs === timeoutMs ? `the request's deadline, ${timeoutMs} ms` : `${limits.maxWaitMs} ms`;
  const gateFor = (req: IncomingMessage): AdmissionGate | undefined => {
    if (req.method !== 'POST' || req.url === undefined) return undefined;
    // The path as the handler routes it (dot segments, a trailing slash, a fragment): every spelling of a model's inference route passes its gate.
    const path = routePathOf(req.url);
    if (path === undefined) return undefined;
    // The common path (/v2/models/{m}/infer, a plain name) without the regular expression's match array.
    const model = inferModelOf(path) ?? inferencePathModel(path);
    if (model === undefined) return undefined;
    let gate = gates.get(model);
    // Only models the host serves get a gate (the map stays as small as the repository).
    if (gate === undefined && host.ready(model)) {
      const seen = metadataOf(host, model);
      const limit = limits.concurrency === 'adaptive' ? new AdaptiveLimit({ minLimit: adaptiveFloor(seen) }) : limits.concurrency;
      gate = new AdmissionGate({ limit, maxWaiting: limits.maxWaitingRequests, maxWaitMs: waitBoundMs });
      gates.set(model, gate);
      if (typeof limit !== 'number') floors.set(gate, { limit, seen });
      if (limits.parkConnections) parks.set(gate, new ConnectionPark(Math.min(MAX_PARK_MS, waitBoundMs)));
    } else if (gate !== undefined) {
      const floor = floors.get(gate);
      if (floor !== undefined) {
        // The cached metadata is the same object while nothing it says changed: one comparison per request.
        const now = metadataOf(host, model);
        if (now !== undefined && now !== floor.seen) {
          floor.seen = now;
          floor.limit.setMinLimit(adaptiveFloor(now));
        }
      }
    }
    return gate;
  };
  let parking = limits.parkConnections;
  const listener = (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): void => {
    const gate = gateFor(req);
    // A draining host answers 503 SHUTTING_DOWN at once: nothing to wait for.
    if (gate === undefined) return serveRequest(req, res, next, 0);
    const park = parks.get(gate);
    if (host.draining) {
      park?.resumeAll();
      return serveRequest(req, res, next, 0);
    }
    park?.arrived(req.socket);
    const entry = gate.enter();
    if (entry.kind === 'admitted') return serveRequest(req, res, next, 0, entry.permit, gate, park);
    if (entry.kind === 'refused') return refuseOnHeaders(req, res, retryAfter(entry.retryAfterMs), entry.reason === 'full' ? `${limits.maxWaitingRequests} requests are already waiting for this model` : `the requests ahead of it need about ${Math.round(entry.retryAfterMs)} ms (limit ${waitLimit})`);
    const arrived = performance.now();
    // A response queued behind another on its connection is told of the connection's close only by the connection (see serveRequest).
    const connection = isQueued(res) ? requestSignal(req, res) : undefined;
    res.once('close', entry.cancel);
    connection?.addEventListener('abort', entry.cancel);
    entry.permit.then(
      (permit) => {
        res.off('close', entry.cancel);
        connection?.removeEventListener('abort', entry.cancel);
        if (res.destroyed || connection?.aborted === true) return permit.yield();
        serveRequest(req, res, next, performance.now() - arrived, permit, gate, park);
      },
      (error: unknown) => {
        res.off('close', entry.cancel);
        connection?.removeEventListener('abort', entry.cancel);
        if (!(error instanceof WaitExpired)) throw error;
        if (timeoutMs !== undefined && waitBoundMs === timeoutMs) {
          return refuseOnHeaders(req, res, undefined, `the deadline (${timeoutMs} ms) passed while the request waited for admission`);
        }
        refuseOnHeaders(req, res, 1000, `the request waited ${limits.maxWaitMs} ms for admission`);
      },
    );
  };
  const stopParking = (): void => {
    parking = false;
    for (const park of parks.values()) park.resumeAll();
  };
  return Object.assign(listener, { stopParking });

  /** Sends an answer; every answer while the host drains closes its connection (so no client reuses one serve is about to close). */
  function reply(res: ServerResponse, response: HttpResponse, close = false): void {
    send(res, named(res, response), close || host.draining);
  }

  /**
   * Hands a request to the framework's next handler (Express's 404 and error page, the app's
   * later routes); while the host drains, their answer closes its connection too.
   */
  function passOn(res: ServerResponse, next: (error?: unknown) => void, error?: unknown): void {
    if (host.draining && !res.headersSent) res.setHeader('connection', 'close');
    next(error);
  }

  /** A 429 (or with no Retry-After, 504) without reading the body: a small one is dropped, a large one closes the connection. */
  function refuseOnHeaders(req: IncomingMessage, res: ServerResponse, retryAfterMs: number | undefined, why: string): void {
    // Built without an Error: under overload these are made thousands of times a second.
    const response =
      retryAfterMs === undefined
        ? json(statusFor(ErrorCode.DEADLINE_EXCEEDED), { error: why }, { 'x-modelhost-error-code': ErrorCode.DEADLINE_EXCEEDED })
        : json(statusFor(ErrorCode.QUEUE_FULL), { error: `refused before its body was read: ${why}; retry later` }, { 'x-modelhost-error-code': ErrorCode.QUEUE_FULL, 'retry-after': String(Math.ceil(retryAfterMs / 1000)) });
    const declared = Number(req.headers['content-length'] ?? 0);
    reply(res, response, !(declared <= DRAIN_REFUSED_BODY_BYTES) || req.headers['transfer-encoding'] !== undefined);
    if (retryAfterMs !== undefined) holdAfter(req, res, Number(response.headers['retry-after']));
  }

  /**
   * After a 429 with `Retry-After: seconds`, the connection is not read before then (at most MAX_HOLD_MS), unless a request
   * pipelined behind the refused one already has it: pausing would stall that request's body and hide its client's close.
   */
  function holdAfter(req: IncomingMessage, res: ServerResponse, seconds: number): void {
    if (hold === undefined || !(seconds > 0)) return;
    const ms = Math.min(seconds * 1000, MAX_HOLD_MS);
    const socket = req.socket;
    // Once the response is sent, Node resumes the socket to drop the unread body (req._dump,
    // a tick later): a pause made before that was undone, and the next request on the
    // connection was read at once. Hold it after.
    res.once('finish', () =>
      setImmediate(() => {
        if (!busyAfter(socket, res)) hold.hold(socket, ms);
      }),
    );
  }

  function serveRequest(req: IncomingMessage, res: ServerResponse, next: ((error?: unknown) => void) | undefined, waitedMs: number, permit?: Permit, gate?: AdmissionGate, park?: ConnectionPark): void {
    const signal = requestSignal(req, res);
    const exchange = new Exchange(req, res, next, waitedMs, permit, gate, park, signal);
    // 'close' on the response (emitted once, a tick after 'finish' and before the next read): sent, or the client went away before it was.
    // A response queued behind another on its connection (HTTP pipelining) is not told when the connection closes (Node emits
    // its 'close' only once the socket is assigned to it), so the connection's close settles it too; whichever comes first.
    const close = (exchange.onClose = () => closed(exchange));
    res.on('close', close);
    if (signal.aborted) {
      // The connection closed while the request waited: nothing to read, nobody to answer.
      permit?.bodyRead();
      return close();
    }
    // Only a queued response listens: the common one, already on its socket, hears 'close' on its response and adds nothing.
    if (isQueued(res)) {
      exchange.listening = true;
      signal.addEventListener('abort', close);
    }
    if (req.method === 'GET' || req.method === 'HEAD') {
      permit?.bodyRead();
      return answer(exchange, undefined);
    }
    // Behind a framework's body parser (express.json()) the stream is consumed: use what it left.
    if (req.readableEnded) return readAhead(exchange);
    readBody(exchange);
  }

  /**
   * Answers a request whose body other code read to its end before the listener ran, with what
   * it left in `req.body`, judged only then (a body parser that skipped a request may still set
   * `req.body = {}`, as Express 4's do: that is not the body the listener reads itself): bytes
   * (`express.raw()`) and text (`express.text()`) are the body as sent; a value a JSON parser
   * made is taken as parsed; a form parser's fields, or nothing where a body was declared,
   * cannot be read back exactly and are refused naming the mistake.
   */
  function readAhead(exchange: Exchange): void {
    const { req, permit } = exchange;
    permit?.bodyRead();
    const left = (req as { body?: unknown }).body;
    if (left instanceof Uint8Array) return answer(exchange, left);
    if (left === undefined) return declaresBody(req) ? failed(exchange, new BodyConsumed()) : answer(exchange, undefined);
    // A string is the body's text (express.text()). (A JSON parser outside strict mode makes one of a JSON string: never a request modelhost serves.)
    if (typeof left === 'string') return answer(exchange, Buffer.from(left, 'utf8'));
    const type = mediaTypeOf(req);
    if (FORM_TYPES.has(type)) return failed(exchange, new BodyConsumed(type));
    respond(exchange, undefined, left);
  }

  function closed(exchange: Exchange): void {
    if (exchange.closed) return;
    exchange.closed = true;
    const { req, res, permit, gate, park } = exchange;
    if (exchange.listening) exchange.signal.removeEventListener('abort', exchange.onClose!);
    // Enough requests are already waiting to refill every slot: this connection's next one can wait unread
    // (a 429 holds its connection for its Retry-After instead; one that closes after its response has no next request).
    // Decided before this slot is given back, as at 'finish'.
    if (park !== undefined && parking && !host.draining && res.writableFinished && res.shouldKeepAlive && res.statusCode !== 429 && gate!.waiting + park.pending >= gate!.limit && !busyAfter(req.socket, res)) park.park(req.socket);
    if (permit !== undefined) settlePermit(permit, res);
    if (park !== undefined) refill(gate!, park);
    // A body waiting for its parse turn is still held: given back when its turn drops it.
    if (!exchange.parsing) giveBack(exchange);
  }

  /**
   * Reads the body within `bodyLimitBytes`, `limits.bodyTimeoutMs` and the listener's budget,
   * then answers. Callbacks into `answer`, not a promise awaited: the promise, its resolving
   * functions and the await were ~0.5 KB of garbage per request (docs/benchmarks.md, issue 17's
   * sixth pass). The admission slot is yielded when the body is still arriving SLOW_BODY_MS
   * after the start (if that comes before the timeout); a request paused by a middleware in
   * front is resumed then. A declared Content-Length that cannot
   * fit is refused before a byte is read (and before a held "100 Continue" is sent).
   */
  function readBody(exchange: Exchange): void {
    const { req, res, permit } = exchange;
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > bodyLimitBytes) {
      req.resume();
      return bodyFailed(exchange, new BodyRefused('too-large'));
    }
    continueBody(res);
    const timeoutMs = limits.bodyTimeoutMs;
    // Once answered (the body ended, failed or was refused), later events of the stream change nothing.
    let settled = false;
    const stop = (reason: BodyRefused['reason']) => {
      settled = true;
      clearTimeout(timer);
      req.removeAllListeners('data');
      req.resume();
      bodyFailed(exchange, new BodyRefused(reason));
    };
    // One timer per body: the slow-body mark first when it comes before the timeout (the
    // admission slot is given back), then the body timeout.
    let marked = SLOW_BODY_MS < timeoutMs;
    let timer = setTimeout(
      function expire() {
        if (!marked) return stop('too-slow');
        marked = false;
        // A middleware in front that paused the request (during an auth check, say) passed it on paused, and a 'data'
        // listener does not resume a stream paused by hand: without this its body never came, and it was 408 blaming the
        // client. Checked here, on the slow path, not per request.
        if (req.readableFlowing === false) req.resume();
        permit?.yield();
        timer = setTimeout(expire, timeoutMs - SLOW_BODY_MS);
        timer.unref();
      },
      marked ? SLOW_BODY_MS : timeoutMs,
    );
    timer.unref();
    req.on('data', (chunk: Buffer) => {
      exchange.size += chunk.byteLength;
      if (exchange.size > bodyLimitBytes) return stop('too-large');
      if (!budget.take(chunk.byteLength)) return stop('budget');
      exchange.taken += chunk.byteLength;
      exchange.chunks.push(chunk);
    });
    // `on`, not `once`: 'end' comes once, and a wrapper per listener per request is garbage.
    req.on('end', () => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      const { size, chunks } = exchange;
      permit?.bodyRead();
      if (size === 0) {
        // Node ends a body only after its Content-Length bytes: none here means a middleware in front took them all and
        // passed the request on before its 'end'. Checked on empty bodies only (the common body costs nothing more).
        return Number(req.headers['content-length']) > 0 ? failed(exchange, new BodyConsumed()) : answer(exchange, undefined);
      }
      // One chunk (a small body) is used as it is; more are joined once.
      answer(exchange, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    });
    req.on('error', (error) => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      bodyFailed(exchange, error);
    });
  }

  /** A body that was refused or failed: the slot is no longer the body's, and the answer says why. */
  function bodyFailed(exchange: Exchange, error: unknown): void {
    exchange.permit?.bodyRead();
    failed(exchange, error);
  }

  /**
   * Handles and answers one request whose body (if any) was read. The common request is one
   * promise callback, not an async function: its frame and its awaits were ~0.4 KB of garbage
   * per request (docs/benchmarks.md, issue 17's sixth pass).
   */
  function answer(exchange: Exchange, bytes: Uint8Array | undefined): void {
    const { req } = exchange;
    let large: boolean;
    try {
      // A large JSON body (not KServe's binary extension) is parsed here, one per turn.
      large = bytes !== undefined && bytes.byteLength >= limits.largeBodyBytes && req.headers['inference-header-content-length'] === undefined && !bodyIsEncoded(req.headers);
    } catch (error) {
      return failed(exchange, error);
    }
    if (large) return void parseThenRespond(exchange, bytes!);
    respond(exchange, bytes, undefined);
  }

  /**
   * Parses a large body in its turn, then answers. Its bytes stay counted in the budget until then, even when the client
   * left meanwhile (they are still held here): the budget bounds memory, not connections. A body whose client left is
   * dropped unparsed when its turn comes.
   */
  async function parseThenRespond(exchange: Exchange, bytes: Uint8Array): Promise<void> {
    let parsedBody: unknown;
    exchange.parsing = true;
    try {
      parsedBody = await parses.run(() => (exchange.closed ? GONE : decodeJson(bytes)));
    } catch (error) {
      return failed(exchange, error);
    } finally {
      exchange.parsing = false;
      if (exchange.closed) giveBack(exchange);
    }
    if (parsedBody !== GONE) respond(exchange, bytes, parsedBody);
  }

  /** The body's bytes leave the budget. */
  function giveBack(exchange: Exchange): void {
    budget.give(exchange.taken);
    exchange.taken = 0;
  }

  function respond(exchange: Exchange, body: Uint8Array | undefined, parsedBody: unknown): void {
    const { req, waitedMs, signal } = exchange;
    let answered: Promise<HttpResponse | undefined>;
    try {
      answered = handle({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body, parsedBody, signal, waitedMs: waitedMs > 0 ? waitedMs : undefined });
    } catch (error) {
      return failed(exchange, error);
    }
    answered.then(
      (response) => sendAnswer(exchange, response),
      (error: unknown) => failed(exchange, error),
    );
  }

  function sendAnswer(exchange: Exchange, response: HttpResponse | undefined): void {
    const { req, res, next } = exchange;
    try {
      if (response === undefined) {
        if (next !== undefined) return passOn(res, next);
        return reply(res, json(404, { error: `no route for ${req.method} ${req.url}` }));
      }
      // Node ends a body only after its Content-Length bytes: fewer read here means a middleware in front took some and
      // passed the request on, and the client is not to blame for what is left. Checked on a 400 only (nothing per request).
      if (response.status === 400 && readPart(exchange)) return failed(exchange, new BodyConsumed());
      reply(res, response);
      if (response.status === 429) holdAfter(req, res, Number(response.headers['retry-after']));
    } catch (error) {
      failed(exchange, error);
    }
  }

  /** The answer to a request that failed before or while it was handled. */
  function failed(exchange: Exchange, error: unknown): void {
    const { res, next } = exchange;
    if (error instanceof BodyRefused) return reply(res, error.response(bodyLimitBytes, limits), true);
    if (error instanceof BadJson && readPart(exchange)) error = new BodyConsumed();
    // A mounting mistake, answered in words the operator can act on (a framework's error page would say 'internal error').
    if (error instanceof BodyConsumed) return reply(res, json(500, { error: error.message }));
    if (error instanceof BadJson) return reply(res, errorResponse(badRequest(error.message)));
    if (next !== undefined) return passOn(res, next, error);
    reply(res, json(500, { error: 'internal error' }));
  }
}

/**
 * Makes `server.close()` resume the listener's parked connections first (and park no more).
 * The server stops accepting connections at once, as `close()` always does; only the closing
 * of idle connections that Node's `close()` does waits two turns: a parked connection's next
 * request waits in its socket buffer, unread, so Node would count the connection idle and close
 * it with the request lost (the client sees a reset, not a 503). One turn reads those
 * requests, the next closes what is still idle.
 */
export function resumeParkedOnClose<S extends { close(callback?: (error?: Error) => void): S; closeIdleConnections?(): void }>(
  server: S,
  listener: Pick<NodeListener, 'stopParking'>,
): S {
  const close = server.close.bind(server);
  server.close = (callback?: (error?: Error) => void): S => {
    const closeIdle = server.closeIdleConnections;
    if (closeIdle === undefined) {
      // Not an http(s).Server: nothing to split; close once the parked requests are read.
      void unpark(listener).then(() => close(callback));
      return server;
    }
    // http.Server.close() is closeIdleConnections() then net.Server.close(): the listening
    // socket closes now, the idle sweep runs after unpark().
    const resumed = unpark(listener);
    const own = Object.hasOwn(server, 'closeIdleConnections');
    server.closeIdleConnections = () => void resumed.then(() => closeIdle.call(server));
    try {
      close(callback);
    } finally {
      if (own) server.closeIdleConnections = closeIdle;
      else delete server.closeIdleConnections;
    }
    return server;
  };
  return server;
}

/**
 * Stops the listener parking and resolves two turns later: one turn reads the requests that
 * waited on the parked connections, so by then none of them looks idle to `server.close()`.
 */
export async function unpark(listener: Pick<NodeListener, 'stopParking'>): Promise<void> {
  listener.stopParking();
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
}

/**
 * The adaptive limit's floor for `model`: at least one full batch (but no more than its queue's
 * `queue.maxSize` rows; never below 8). A batched model's latency
 * grows with the rows in flight by design (a batch fills, then runs once for all of them), and
 * the gradient reads that as queueing: under 64 connections the limit settled at 32–40 for a
 * 64-row model, so batches of 13–19 rows and ~1.5–2× the runs per request (bench/http-ablation.ts,
 * docs/benchmarks.md "Fifth pass"). Holding back fewer than a batch never shortens a run, it only
 * splits it. The floor is also the limit the no-load latency is measured at, so the gradient
 * compares with the latency of one full batch in flight. Taken from the model's default version,
 * and taken again whenever that changes (a reload, a rollout to a version with another batch size).
 */
function adaptiveFloor(metadata: ModelMetadata | undefined): number {
  const { minLimit, maxLimit } = ADAPTIVE_LIMIT_DEFAULTS;
  if (metadata === undefined) return minLimit; // not ready (unloaded between the check and here)
  // No more than the version's queue holds: a floor past it has the host read and refuse (429) what the gate would have held unread.
  const rows = Math.min(metadata.maxBatchSize, metadata.queueMaxSize);
  return Math.min(maxLimit, Math.max(minLimit, rows));
}

/** The model's metadata (its default version's), or undefined while it is not ready. */
function metadataOf(host: ModelHost, model: string): ModelMetadata | undefined {
  try {
    return host.metadata(model);
  } catch {
    return undefined;
  }
}

/** The model any inference path names, decoded; undefined for another path or a broken encoding (the handler answers it). */
function inferencePathModel(path: string): string | undefined {
  const match = INFERENCE_PATH.exec(path);
  if (match === null) return undefined;
  try {
    return decodeURIComponent(match[1]!);
  } catch {
    return undefined;
  }
}

/** Resumes parked connections, oldest first, until about `limit` requests are waiting or on their way. */
function refill(gate: AdmissionGate, park: ConnectionPark): void {
  while (park.size > 0 && gate.waiting + park.pending < gate.limit) if (!park.resumeOldest()) break;
}

/**
 * Frees a request's slot when its response closes. Only an answer that took the model's time
 * (2xx, a 500 from a failed run, a 504 deadline) teaches the gate latency: a 400 or 404 answered
 * in microseconds, a refusal, or a client that left says nothing of the model's pace, and
 * learning from them would make the no-load latency tiny (the adaptive limit then stays at its
 * minimum) and the predicted waits optimistic.
 */
export function settlePermit(permit: Permit, res: { readonly statusCode: number; readonly writableFinished: boolean }): void {
  const status = res.statusCode;
  if (res.writableFinished && ((status >= 200 && status < 300) || status === 500 || status === 504)) permit.release();
  else permit.yield();
}

/** Retry-After for a predicted wait: at least a second. */
function retryAfter(ms: number): number {
  return Math.max(1000, ms);
}

/** A parse turn's result for a body whose client left before its turn. */
const GONE = Symbol('client gone');

/** Why a body was not read to its end. */
class BodyRefused extends Error {
  constructor(readonly reason: 'too-large' | 'too-slow' | 'budget') {
    super(reason);
  }

  response(bodyLimitBytes: number, limits: { maxBufferedBytes: number; bodyTimeoutMs: number }): HttpResponse {
    if (this.reason === 'too-large') return json(413, { error: `the request body exceeds ${bodyLimitBytes} bytes` });
    if (this.reason === 'too-slow') return json(408, { error: `the request body did not arrive within ${limits.bodyTimeoutMs} ms` });
    return json(503, { error: `the server holds its limit of request bodies (${limits.maxBufferedBytes} bytes); retry later` }, { 'retry-after': '1' });
  }
}

class BadJson extends Error {}

/** The body was read by other code before the listener ran, and left nowhere it can use (`req.body`), or only as a form's fields. */
class BodyConsumed extends Error {
  constructor(formType?: string) {
    super(
      formType === undefined
        ? 'the request body was read before modelhost received the request, and not left in req.body: mount modelhost before the middleware that reads it'
        : `the request body was parsed as ${formType} fields before modelhost received the request (express.urlencoded(), a Nest app's default body parser), which does not keep its bytes: send the body with Content-Type: application/json, or mount modelhost before that parser`,
    );
  }
}

/** Media types whose parsers (express.urlencoded(), multer) leave fields, not the bytes sent. */
const FORM_TYPES = new Set(['application/x-www-form-urlencoded', 'multipart/form-data']);

/** The request's media type, lower case, without parameters ('' without a Content-Type). */
function mediaTypeOf(req: IncomingMessage): string {
  const type = req.headers['content-type'];
  if (type === undefined) return '';
  const end = type.indexOf(';');
  return (end < 0 ? type : type.slice(0, end)).trim().toLowerCase();
}

/**
 * Whether a request pipelined behind the one `res` answered already has the connection: Node hands the socket to the next
 * queued response as `res` finishes (`socket._httpMessage`, `_http_server.js` resOnFinish). Parking or holding the
 * connection then would stall that request's body mid-way, and hide its client's close, for as long as the pause.
 */
function busyAfter(socket: Socket | null, res: ServerResponse): boolean {
  const current = (socket as (Socket & { _httpMessage?: unknown }) | null)?._httpMessage;
  return current !== null && current !== undefined && current !== res;
}

/**
 * Whether `res` waits behind another response on its connection (HTTP pipelining): Node assigns the socket to a response only
 * when the one before it has finished (`_http_server.js`, `state.outgoing`), and emits a queued response's 'close' only then.
 */
function isQueued(res: ServerResponse): boolean {
  return res.socket === null || res.socket === undefined;
}

/**
 * Whether the listener read only part of a body whose length was declared: Node ends a body only after its Content-Length
 * bytes, so a middleware in front took the rest and passed the request on (the client is not to blame for what is left).
 */
function readPart({ req, size }: Exchange): boolean {
  return size > 0 && size < Number(req.headers['content-length']);
}

/** Whether the request's headers announce a body (RFC 9112 §6.3: Transfer-Encoding, or a Content-Length other than 0). */
function declaresBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && Number(length) !== 0);
}

/** The body's JSON, read as the handler reads a small body: UTF-8 only (refused, never replaced), a leading BOM dropped. */
function decodeJson(bytes: Uint8Array): unknown {
  let text: string;
  try {
    text = textOf(bytes);
  } catch (error) {
    throw new BadJson((error as Error).message);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new BadJson(`the request body is not valid JSON: ${(error as Error).message}`);
  }
}

/** One request being answered: what its body's reading, its answer and its 'close' need, in one object. */
class Exchange {
  /** Bytes of this request's body held in the listener's budget, given back when its response closes. */
  taken = 0;
  /** Bytes of the body read so far, and its chunks. */
  size = 0;
  /** Settled (slot, budget): by its response's 'close' or, queued behind another response, its connection's. */
  closed = false;
  /** What settles it, listened for on `signal` too. */
  onClose: (() => void) | undefined = undefined;
  /** Whether `onClose` listens on `signal` (only a response queued behind another does). */
  listening = false;
  /** A large body waiting for (or in) its parse turn: its bytes are held. */
  parsing = false;
  readonly chunks: Buffer[] = [];

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly next: ((error?: unknown) => void) | undefined,
    readonly waitedMs: number,
    readonly permit: Permit | undefined,
    readonly gate: AdmissionGate | undefined,
    readonly park: ConnectionPark | undefined,
    readonly signal: AbortSignal,
  ) {}
}

/**
 * An answer the listener made itself (a refusal before the body was read, a body too large or
 * too slow, no route) names its request as a route's answer does: the client's `x-request-id`
 * when it is a request id, else a new one. A route's answer is named already (one property read).
 */
function named(res: ServerResponse, response: HttpResponse): HttpResponse {
  if (response.headers['x-request-id'] !== undefined) return response;
  return { status: response.status, headers: withHeader(response.headers, 'x-request-id', requestIdOfHeaders(res.req.headers)), body: response.body };
}

function send(res: ServerResponse, response: HttpResponse, close = false): void {
  if (res.headersSent || res.destroyed) return;
  const headers = withHeader<string | number>(response.headers, 'content-length', typeof response.body === 'string' ? Buffer.byteLength(response.body) : response.body.byteLength);
  if (close) headers['connection'] = 'close';
  res.writeHead(response.status, headers);
  res.end(response.body);
}
