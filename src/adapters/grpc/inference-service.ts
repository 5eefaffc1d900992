/**
 * The handlers of `inference.GRPCInferenceService` over the public ModelHost API: health,
 * metadata, ModelInfer, ModelStreamInfer and the repository extension. Thin, as the HTTP
 * adapters: translate messages, map error codes to statuses.
 */
import type * as GrpcJs from '@grpc/grpc-js';
import { declaredDatatype, ErrorCode, isModelHostError, ModelHostError, type ModelHost, type TensorSpec } from 'modelhost';
import type { HttpRequest } from 'modelhost/http';
import { answeredBy, PLATFORM, versionThatAnswered } from '../http/kserve-v2.js';
import { PACKAGE_VERSION } from '../../version.js';
import { parseVersion, shownVersion } from '../http/version-segment.js';
import { isRequestId, newRequestId, requestIdProblem } from '../http/request-id.js';
import { logInferenceFailure } from '../http/inference-failure-log.js';
import type { ResolvedGrpcOptions } from './grpc-options.js';
import type { Grpc } from './grpc-peer.js';
import { decodeInferRequest, encodeOutputs } from './infer-codec.js';
import type { ModelInferRequest, ModelInferResponse, ModelRepositoryParameter, RepositoryModelRequest } from './infer-messages.js';
import { GrpcCallError, grpcErrorOf, GrpcStatus } from './status-codes.js';

/** What every call has: metadata, deadline, cancellation (grpc-js does not export this type). */
type SurfaceCall = GrpcJs.ServerUnaryCall<unknown, unknown> | GrpcJs.ServerDuplexStream<unknown, unknown>;

type Unary<Req, Res> = (call: GrpcJs.ServerUnaryCall<Req, Res>) => Promise<Res> | Res;

const SERVICE_PATH = '/inference.GRPCInferenceService/';

/** The extensions ServerMetadata announces (Triton's names). */
const EXTENSIONS = ['model_repository'];

/** The implementation object for `server.addService(service, implementation)`. */
export function inferenceHandlers(grpc: Grpc, host: ModelHost, options: ResolvedGrpcOptions): GrpcJs.UntypedServiceImplementation {
  /** `requestId`: an inference's id, logged and sent back in the `x-request-id` trailer, as HTTP's errors carry it. */
  const fail = (method: string, error: unknown, requestId: string | undefined): GrpcJs.ServiceError => {
    logUnexpected(host, method, error, requestId);
    logInferenceFailure(host, requestId, error);
    const { code, details, trailers } = grpcErrorOf(error);
    const metadata = new grpc.Metadata();
    for (const [key, value] of Object.entries(trailers)) metadata.set(key, value);
    if (requestId !== undefined) metadata.set('x-request-id', requestId);
    return Object.assign(new Error(details), { code, details, metadata }) as GrpcJs.ServiceError;
  };
  const unary =
    <Req, Res>(method: string, handler: Unary<Req, Res>): GrpcJs.handleUnaryCall<Req, Res> =>
    (call, callback) => {
      Promise.resolve()
        .then(() => handler(call))
        .then(
          (response) => callback(null, response),
          (error: unknown) => callback(fail(method, error, undefined)),
        );
    };
  const admin =
    <Req, Res>(method: string, handler: Unary<Req, Res>): GrpcJs.handleUnaryCall<Req, Res> =>
      unary(method, async (call) => {
        await authorizeAdmin(call, method, options);
        return handler(call);
      });

  /**
   * One ModelInfer named `id` (`inferRequestId`): deadline and cancellation of `call` reach the
   * queued task; its response carries `id`, so a client that named none can still send feedback.
   */
  const infer = async (request: ModelInferRequest, call: SurfaceCall, signal: AbortSignal, id: string): Promise<ModelInferResponse> => {
    const model = request.model_name;
    if (model === '') throw new ModelHostError(ErrorCode.INVALID_INPUT, 'model_name is empty');
    // The one request-id rule (HTTP too): an id a response carries is one feedback accepts. '' is proto3's "none".
    if (request.id !== '' && !isRequestId(request.id)) throw new ModelHostError(ErrorCode.INVALID_INPUT, requestIdProblem('id', request.id), { model });
    const version = versionOf(model, request.model_version);
    const meta = host.metadata(model, version);
    const decoded = decodeInferRequest(request, meta.outputs, model);
    const timeoutMs = earliest(options.timeoutMs, decoded.timeoutMs, remainingMs(call.getDeadline()));
    if (timeoutMs !== undefined && timeoutMs <= 0) throw new ModelHostError(ErrorCode.DEADLINE_EXCEEDED, 'the call\'s deadline had passed before it was queued', { model });
    const predictOptions = { version, signal, timeoutMs, id };
    // KServe shapes carry the batch dimension; a model without one takes its full shapes.
    const outputs = meta.batched ? await host.predictBatch(model, decoded.inputs, predictOptions) : await host.predict(model, decoded.inputs, predictOptions);
    const names = decoded.outputs ?? meta.outputs.map((s: TensorSpec) => s.name);
    const encoded = encodeOutputs(outputs, names, decoded.raw, options.maxSendMessageBytes);
    return { model_name: model, model_version: versionThatAnswered(outputs, answeredBy(host, model, version)) ?? '', id, ...encoded };
  };

  return {
    ServerLive: unary('ServerLive', () => ({ live: host.live() })),
    ServerReady: unary('ServerReady', () => ({ ready: host.ready() })),
    ModelReady: unary<{ name: string; version: string }, { ready: boolean }>('ModelReady', ({ request }) => {
      const version = versionOf(request.name, request.version);
      const status = host.status(request.name); // an unknown model is NOT_FOUND
      return { ready: version === undefined ? host.ready(request.name) : status.versions.some((v) => v.version === version && v.state === 'ready') };
    }),
    ServerMetadata: unary('ServerMetadata', () => ({ name: options.serverName, version: PACKAGE_VERSION, extensions: EXTENSIONS })),
    ModelMetadata: unary<{ name: string; version: string }, unknown>('ModelMetadata', ({ request }) => {
      const meta = host.metadata(request.name, versionOf(request.name, request.version));
      const spec = (s: TensorSpec) => ({ name: s.name, datatype: declaredDatatype(s).kserve, shape: s.shape.map(String) });
      return { name: meta.name, versions: meta.versions.map(String), platform: PLATFORM[meta.runtime] ?? meta.runtime, inputs: meta.inputs.map(spec), outputs: meta.outputs.map(spec) };
    }),
    ModelInfer: (call: GrpcJs.ServerUnaryCall<ModelInferRequest, ModelInferResponse>, callback: GrpcJs.sendUnaryData<ModelInferResponse>) => {
      const id = inferRequestId(call.request, call.metadata);
      Promise.resolve()
        .then(() => infer(call.request, call, cancelSignal(call), id))
        .then(
          (response) => callback(null, response),
          (error: unknown) => callback(fail('ModelInfer', error, id)),
        );
    },
    ModelStreamInfer: (call: GrpcJs.ServerDuplexStream<ModelInferRequest, unknown>) =>
      streamInfer(call, infer, options.maxStreamInFlight, (error, id) => {
        logUnexpected(host, 'ModelStreamInfer', error, id);
        logInferenceFailure(host, id, error);
      }),
    RepositoryIndex: admin<{ repository_name: string; ready: boolean }, unknown>('RepositoryIndex', ({ request }) => {
      checkRepository(request.repository_name);
      const models = host.status().flatMap((m) =>
        m.versions.map((v) => ({ name: m.name, version: String(v.version), state: v.state === 'ready' ? 'READY' : v.state.toUpperCase(), reason: v.error?.message ?? '' })),
      );
      return { models: request.ready ? models.filter((m) => m.state === 'READY') : models };
    }),
    RepositoryModelLoad: admin<RepositoryModelRequest, object>('RepositoryModelLoad', async ({ request }) => {
      const { version } = repositoryRequest(request, ['version']);
      await host.load(request.model_name, { version });
      return {};
    }),
    RepositoryModelUnload: admin<RepositoryModelRequest, object>('RepositoryModelUnload', async ({ request }) => {
      // tritonclient always sends unload_dependents; modelhost has no ensembles, so it changes nothing.
      const { version } = repositoryRequest(request, ['version', 'unload_dependents']);
      await host.unload(request.model_name, version);
      return {};
    }),
  };
}

/**
 * ModelStreamInfer: every request of the stream runs at once (up to `limit` in flight, counted
 * until the answer is written, then reading pauses), each answered by one ModelStreamInferResponse — its result, or its error in
 * `error_message` (the stream goes on). The stream's cancellation or deadline aborts the
 * requests still queued.
 */
function streamInfer(
  call: GrpcJs.ServerDuplexStream<ModelInferRequest, unknown>,
  infer: (request: ModelInferRequest, call: SurfaceCall, signal: AbortSignal, id: string) => Promise<ModelInferResponse>,
  limit: number,
  onError: (error: unknown, id: string) => void,
): void {
  const signal = cancelSignal(call);
  let inFlight = 0;
  let ended = false;
  const finish = () => {
    if (ended && inFlight === 0 && !signal.aborted) call.end();
  };
  call.on('data', (request: ModelInferRequest) => {
    inFlight += 1;
    if (inFlight >= limit) call.pause();
    // The call's metadata names the stream, not each of its requests: a new id for each that has none.
    const id = inferRequestId(request, undefined);
    infer(request, call, signal, id)
      .then(
        (response) => ({ error_message: '', infer_response: response }),
        (error: unknown) => (onError(error, id), { error_message: grpcErrorOf(error).details, infer_response: { id, model_name: request.model_name, model_version: request.model_version } }),
      )
      .then((message) => {
        // A request counts until its answer is handed to HTTP/2 (flow control): a client that
        // sends without reading cannot make the server buffer answers without bound.
        const settled = () => {
          inFlight -= 1;
          if (inFlight < limit) call.resume();
          finish();
        };
        if (signal.aborted) settled();
        else call.write(message, settled);
      });
  });
  call.on('end', () => {
    ended = true;
    finish();
  });
  call.on('error', () => undefined); // a reset stream: 'cancelled' aborts what is queued
}

/**
 * The id a ModelInfer names its request by, as HTTP does: its `id` when that is a request id
 * ('' is proto3's "none"), else the call's `x-request-id` metadata when that is one (a unary
 * call's only: a stream's would name all its requests alike), else a new UUID. The response (or the error's trailers, a stream's error message) carries it, the host's
 * feedback and logs know the request by it. (An `id` that is no request id is refused: the
 * refusal is named by the metadata's id or a new one.)
 */
function inferRequestId(request: ModelInferRequest, metadata: GrpcJs.Metadata | undefined): string {
  if (isRequestId(request.id)) return request.id;
  const header = metadata?.get('x-request-id')[0];
  return isRequestId(header) ? header : newRequestId();
}

/** A failure that is no ModelHostError is a bug: answered "internal error", its detail to the host's logger. */
function logUnexpected(host: ModelHost, method: string, error: unknown, requestId?: string): void {
  if (isModelHostError(error) || error instanceof GrpcCallError) return;
  try {
    host.logger?.error('unexpected error answered with INTERNAL', { method: SERVICE_PATH + method, requestId, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  } catch {
    // A logger that throws must not turn an answer into a crash.
  }
}

/** Aborts when the client cancels the call, or its deadline passes (gRPC cancels it then too). */
function cancelSignal(call: SurfaceCall): AbortSignal {
  const controller = new AbortController();
  if (call.cancelled) controller.abort();
  else call.once('cancelled', () => controller.abort());
  return controller.signal;
}

/** Ms left until a gRPC deadline (a Date or ms since the epoch; Infinity: none). */
function remainingMs(deadline: GrpcJs.Deadline): number | undefined {
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(at) ? at - Date.now() : undefined;
}

function earliest(...values: (number | undefined)[]): number | undefined {
  const given = values.filter((v): v is number => v !== undefined);
  return given.length === 0 ? undefined : Math.min(...given);
}

/** `model_version` / `version`: empty for the router's choice; else canonical decimal (the one strict parser). */
function versionOf(model: string, text: string): number | undefined {
  if (text === '') return undefined;
  const version = parseVersion(text);
  if (version === undefined) {
    throw new ModelHostError(ErrorCode.VERSION_NOT_FOUND, `model '${model}' has no version ${shownVersion(text)} (versions are positive integers in canonical decimal form)`, { model });
  }
  return version;
}

function checkRepository(name: string): void {
  if (name !== '') throw new ModelHostError(ErrorCode.INVALID_INPUT, `repository_name must be empty: this server has one repository, got ${JSON.stringify(name)}`);
}

/**
 * The parameters of RepositoryModelLoad/Unload modelhost understands: `version` (a canonical
 * decimal string or an int64). Others are refused by name — Triton's `config` and `file:*`
 * would write a model from the request, which modelhost never does.
 */
function repositoryRequest(request: RepositoryModelRequest, known: readonly string[]): { version: number | undefined } {
  checkRepository(request.repository_name);
  if (request.model_name === '') throw new ModelHostError(ErrorCode.INVALID_INPUT, 'model_name is empty');
  for (const key of Object.keys(request.parameters)) {
    if (!known.includes(key)) throw new ModelHostError(ErrorCode.INVALID_INPUT, `parameter ${JSON.stringify(key.slice(0, 60))} is not supported (supported: ${known.join(', ')})`);
  }
  const parameter: ModelRepositoryParameter | undefined = Object.hasOwn(request.parameters, 'version') ? request.parameters['version'] : undefined;
  if (parameter === undefined) return { version: undefined };
  const text = parameter.parameter_choice === 'string_param' ? parameter.string_param : parameter.parameter_choice === 'int64_param' ? parameter.int64_param : undefined;
  const version = text === undefined ? undefined : parseVersion(text);
  if (version === undefined) throw new ModelHostError(ErrorCode.INVALID_INPUT, `parameter "version" must be a positive integer (string_param or int64_param), got ${JSON.stringify(parameter)}`);
  return { version };
}

/** The admin check of the HTTP adapter, on the call's metadata. */
async function authorizeAdmin(call: SurfaceCall, method: string, options: ResolvedGrpcOptions): Promise<void> {
  const { authorize } = options;
  if (authorize === undefined) throw new ModelHostError(ErrorCode.UNAUTHORIZED, 'the repository extension is disabled: the server did not configure authorize(request)');
  const headers: Record<string, string | string[]> = {};
  for (const [key, value] of Object.entries(call.metadata.getMap())) headers[key] = typeof value === 'string' ? value : Buffer.from(value as Uint8Array).toString('base64');
  const request: HttpRequest = { method: 'POST', url: SERVICE_PATH + method, headers, body: undefined, signal: cancelSignal(call) };
  const verdict = await Promise.resolve()
    .then(() => authorize(request))
    .catch((): 401 => 401);
  if (verdict === 401) throw new GrpcCallError(GrpcStatus.UNAUTHENTICATED, 'the repository extension needs credentials (metadata "authorization: Bearer <token>")');
  if (verdict !== true) throw new ModelHostError(ErrorCode.UNAUTHORIZED, 'this call may not use the repository extension');
}
