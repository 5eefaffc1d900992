/**
 * The KServe v2 / Open Inference Protocol REST API over the public ModelHost API:
 * server and model metadata, health, and `infer` with JSON tensors and the binary tensor
 * data extension.
 */
import type { ModelHost, Outputs } from 'modelhost';
import { ConversionError, declaredDatatype, fallbackVersionOf, DTYPES, dtypeFromKServe, fromRawBytes, shapeSize, toRawBytes, type DType, type Tensor, type TensorSpec, type TypedArray } from 'modelhost';
import { badRequest, json } from './http-errors.js';
import { timeoutLeft, type HttpResponse, type RouteContext, type RouteHandler } from './http-types.js';
import { parseJson, parseJsonUnread } from './json-body.js';
import { isNumberDType, jsonNumbersInto, type NumberDType } from './json-numbers.js';
import { PACKAGE_VERSION } from '../../version.js';
import { TensorJson, writeJson } from './json-writer.js';
import { inferResponseText, type JsonOutput } from './infer-response-text.js';
import { flatValues } from './tensor-json.js';
import { describeRequestValue } from './request-value.js';
import { versionParam } from './version-segment.js';
import { withHeader } from './with-header.js';
import { isRequestId, requestIdProblem } from './request-id.js';

const BINARY_HEADER = 'inference-header-content-length';

interface InferInput {
  name?: unknown;
  shape?: unknown;
  datatype?: unknown;
  parameters?: { binary_data_size?: unknown } & Record<string, unknown>;
  data?: unknown;
}

interface InferRequest {
  id?: unknown;
  parameters?: Record<string, unknown>;
  inputs?: unknown;
  outputs?: unknown;
}

export const serverMetadata: RouteHandler = ({ options }) =>
  json(200, { name: options.serverName, version: PACKAGE_VERSION, extensions: ['binary_tensor_data', 'model_repository'] });

export const serverLive: RouteHandler = ({ host }) => (host.live() ? json(200, { live: true }) : json(503, { live: false }));

/**
 * 200 or 503 as `host.readiness()` says, with the reason and each model's readiness in the
 * body (absolute paths in load errors are elided: the probe route needs no credentials).
 */
export const serverReady: RouteHandler = ({ host }) => {
  const report = host.readiness();
  const models = Object.fromEntries(Object.entries(report.models).map(([name, m]) => [name, m.reason === undefined ? m : { ...m, reason: withoutPaths(m.reason) }]));
  const body = report.reason === undefined ? { ready: report.ready, models } : { ready: report.ready, reason: withoutPaths(report.reason), models };
  return json(report.ready ? 200 : 503, body, host.draining ? { connection: 'close' } : {});
};

/** `/srv/models/m/3` or `C:\\models\\m` → `<path>`. */
function withoutPaths(text: string): string {
  return text.replace(/(?<![\w.:/])(?:[A-Za-z]:\\|\/)[^\s'",;()]+/g, '<path>');
}

export const modelReady: RouteHandler = ({ host, params }) => {
  const version = versionParam(params);
  const status = host.status(params['model']!); // an unknown model is 404 (MODEL_NOT_FOUND), with or without /versions/{v}
  const ready = version === undefined ? host.ready(params['model']!) : status.versions.some((v) => v.version === version && v.state === 'ready' && v.stalled === undefined);
  return ready ? json(200, { name: params['model'], ready: true }) : json(503, { name: params['model'], ready: false });
};

export const modelMetadata: RouteHandler = ({ host, params }) => {
  const meta = host.metadata(params['model']!, versionParam(params));
  // The datatype the model declares (a tfjs uint8 image is UINT8, though tfjs computes on int32).
  const spec = (s: TensorSpec) => ({ name: s.name, datatype: declaredDatatype(s).kserve, shape: [...s.shape] });
  return json(200, {
    name: meta.name,
    versions: meta.versions.map(String),
    platform: PLATFORM[meta.runtime] ?? meta.runtime,
    inputs: meta.inputs.map(spec),
    outputs: meta.outputs.map(spec),
  });
};

/**
 * `POST /v2/models/{m}[/versions/{v}]/infer`. Not async: the request is checked in this turn
 * (a refusal is thrown here), and the answer is one `then` on the host's promise; an async
 * function here and the handler's own would be two more promises and turns per request.
 */
export const infer: RouteHandler = (context) => {
  const { host, params, request, options } = context;
  const model = params['model']!;
  const version = versionParam(params);
  const meta = host.metadata(model, version);
  const { body, binary, numbers } = readBody(context, hasExactIntegers(meta.inputs));
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('the infer request must be a JSON object with "inputs"');
  const req = body as InferRequest;
  if (!Array.isArray(req.inputs) || req.inputs.length === 0) throw badRequest('the infer request must have a non-empty "inputs" array');
  if (req.id !== undefined && !isRequestId(req.id)) throw badRequest(requestIdProblem('"id"', req.id));
  // KServe's `id` names the request when given, over the `x-request-id` header: in the answer,
  // an error's too, and in the logs (one id a client can send feedback with and find in them).
  if (req.id !== undefined) context.nameRequest(req.id);
  refuseUnservedExtension(req.parameters, 'the request');
  const binaryAll = req.parameters?.['binary_data_output'] ?? false;
  if (typeof binaryAll !== 'boolean') throw badRequest(`parameters.binary_data_output must be a boolean, got ${describe(binaryAll)}`);

  // Everything from the request is checked before the model runs: inputs, then requested outputs.
  const inputs = readInputs(req.inputs as unknown[], binary, numbers);
  const requested = readRequestedOutputs(req.outputs, meta.outputs, model);

  const id = context.requestId;
  const predictOptions = { version, id, signal: request.signal, timeoutMs: timeoutLeft(options.timeoutMs, request) };
  // The host routes a request when it is called, in this same turn: the version serving now is
  // the one that answers, even if a swap lands while it runs (asking again afterwards would
  // name the new version for an answer the old one gave).
  // One ready version (the usual case) is the one that answers: no status to build.
  const modelVersion = version === undefined && meta.versions.length === 1 ? String(meta.versions[0]) : answeredBy(host, model, version);
  // KServe shapes carry the batch dimension; a model without one takes its full shapes.
  const outputs = meta.batched ? host.predictBatch(model, inputs, predictOptions) : host.predict(model, inputs, predictOptions);
  const answer: InferAnswer = { model, modelVersion, id, binaryAll, requested, specs: meta.outputs, maxResponseBytes: options.maxResponseBytes };
  return outputs.then((out) => inferResponse(answeredVersion(answer, out), out));
};

/** `answer` with the `model_version` of the version that made `outputs` (`versionThatAnswered`). */
function answeredVersion(answer: InferAnswer, outputs: Outputs): InferAnswer {
  const modelVersion = versionThatAnswered(outputs, answer.modelVersion);
  return modelVersion === answer.modelVersion ? answer : { ...answer, modelVersion };
}

/**
 * An answer's `model_version` (KServe REST and gRPC): `routed`, the version the request went to,
 * unless another version made the outputs (the baseline's answer, `breaker.fallback`): that one,
 * or none for a mix of versions' rows.
 */
export function versionThatAnswered(outputs: Outputs, routed: string | undefined): string | undefined {
  const other = fallbackVersionOf(outputs);
  return other === undefined ? routed : other === 'several' ? undefined : String(other);
}

/** What the answer to an infer request needs besides the outputs. */
interface InferAnswer {
  readonly model: string;
  readonly modelVersion: string | undefined;
  readonly id: string;
  readonly binaryAll: boolean;
  readonly requested: ReadonlyMap<string, boolean | undefined> | undefined;
  readonly specs: readonly TensorSpec[];
  readonly maxResponseBytes: number;
}

/** The infer response: JSON outputs in one pass when they are of the common kind, else the generic writer (and the binary extension). */
function inferResponse(answer: InferAnswer, outputs: Outputs): HttpResponse | Promise<HttpResponse> {
  const { model, modelVersion, id, binaryAll, requested, specs, maxResponseBytes } = answer;
  const headers = { 'content-type': 'application/json', 'x-request-id': id };
  // The common answer (all JSON, a few exact numbers) in one pass; anything else below.
  if (!binaryAll && (requested === undefined || !hasBinaryOutput(requested))) {
    const text = inferResponseText(model, modelVersion, id, jsonOutputs(outputs, requested === undefined ? outputNames(specs) : [...requested.keys()]), maxResponseBytes);
    if (text !== undefined) return { status: 200, headers, body: text };
  }
  return writtenResponse(answer, outputs, headers);
}

/** Any other answer: the generic JSON writer (a slice at a time, bounded), outputs in binary where asked. */
async function writtenResponse({ model, modelVersion, id, binaryAll, requested, specs, maxResponseBytes }: InferAnswer, outputs: Outputs, headers: Record<string, string>): Promise<HttpResponse> {
  const wanted = requested ?? new Map(specs.map((s) => [s.name, undefined]));
  const parts: Uint8Array[] = [];
  const outputJson = [...wanted].map(([name, own]) => {
    const t = outputs[name]!;
    const entry = { name, datatype: DTYPES[t.dtype].kserve, shape: [...t.shape] };
    // An output's own "binary_data" overrides the request's "binary_data_output" (both ways).
    if (own ?? binaryAll) {
      const bytes = toRawBytes(t.data);
      parts.push(bytes);
      return { ...entry, parameters: { binary_data_size: bytes.byteLength } };
    }
    return { ...entry, data: new TensorJson(name, t, 0, [shapeSize(t.shape)]) };
  });
  const response = { model_name: model, ...(modelVersion === undefined ? {} : { model_version: modelVersion }), id, outputs: outputJson };
  const binaryBytes = parts.reduce((n, p) => n + p.byteLength, 0);
  if (binaryBytes > maxResponseBytes) throw badRequest(`the binary outputs are ${binaryBytes} bytes, over the ${maxResponseBytes}-byte bound (maxResponseBytes); ask for fewer outputs`);
  const text = await writeJson(response, { limitBytes: maxResponseBytes - binaryBytes, hint: JSON_HINT });
  if (parts.length === 0) return { status: 200, headers, body: text };
  const binaryAnswer: HttpResponse = binaryResponse(text, parts);
  return { status: binaryAnswer.status, headers: withHeader(binaryAnswer.headers, 'x-request-id', id), body: binaryAnswer.body };
}

// What infer derives from a version's signature, once per signature (the host hands out the same arrays until the version changes).
const exactIntegerInputs = new WeakMap<readonly TensorSpec[], boolean>();
const outputNameLists = new WeakMap<readonly TensorSpec[], readonly string[]>();

/** Whether an input is INT64/UINT64: its body is then parsed with every integer digit. */
function hasExactIntegers(inputs: readonly TensorSpec[]): boolean {
  let exact = exactIntegerInputs.get(inputs);
  if (exact === undefined) exactIntegerInputs.set(inputs, (exact = inputs.some((s) => s.dtype === 'int64' || s.dtype === 'uint64')));
  return exact;
}

function outputNames(outputs: readonly TensorSpec[]): readonly string[] {
  let names = outputNameLists.get(outputs);
  if (names === undefined) outputNameLists.set(outputs, (names = outputs.map((s) => s.name)));
  return names;
}

/** Whether an output asks for binary data of its own. */
function hasBinaryOutput(requested: ReadonlyMap<string, boolean | undefined>): boolean {
  for (const own of requested.values()) if (own === true) return true;
  return false;
}

function jsonOutputs(outputs: Outputs, names: readonly string[]): JsonOutput[] {
  const list: JsonOutput[] = new Array(names.length);
  for (let i = 0; i < names.length; i++) list[i] = { name: names[i]!, tensor: outputs[names[i]!]! };
  return list;
}

const JSON_HINT = 'ask for outputs in binary ("parameters": {"binary_data_output": true}, the binary tensor data extension)';

/**
 * The request's inputs by name (a Map: names are data, not keys), converted by the shared codec
 * (by the host); `numbers` holds the typed arrays some `data` arrays were already read into.
 */
function readInputs(list: readonly unknown[], binary: Uint8Array | undefined, numbers: NumberData | undefined): Map<string, Tensor | { data: unknown[]; shape: number[]; dtype: DType }> {
  const inputs = new Map<string, Tensor | { data: unknown[]; shape: number[]; dtype: DType }>();
  let binaryOffset = 0;
  let numbered = 0;
  for (let index = 0; index < list.length; index++) {
    const item = list[index];
    if (typeof item !== 'object' || item === null || Array.isArray(item) || typeof (item as InferInput).name !== 'string') {
      throw badRequest(`inputs[${index}] needs a "name" string`);
    }
    const raw = item as InferInput;
    const name = raw.name as string;
    const where = `input '${name}'`;
    if (inputs.has(name)) throw badRequest(`${where} is given twice`);
    refuseUnservedExtension(raw.parameters, where);
    if (!Array.isArray(raw.shape) || !raw.shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
      throw badRequest(`${where}: "shape" must be an array of non-negative integers, got ${describe(raw.shape)}`);
    }
    const dtype = typeof raw.datatype === 'string' ? dtypeFromKServe(raw.datatype) : undefined;
    if (dtype === undefined) throw badRequest(`${where}: unknown "datatype" ${describe(raw.datatype)} (expected one of ${Object.values(DTYPES).map((d) => d.kserve).join(', ')})`);
    const shape = raw.shape as number[];
    const elements = shapeSize(shape);
    const binarySize = typeof raw.parameters === 'object' && raw.parameters !== null ? raw.parameters.binary_data_size : undefined;
    if (binarySize !== undefined) {
      if (!Number.isSafeInteger(binarySize) || (binarySize as number) < 0 || binary === undefined || binaryOffset + (binarySize as number) > binary.byteLength) {
        throw badRequest(`${where}: binary_data_size ${describe(binarySize)} does not match the binary part of the body (${binary?.byteLength ?? 0} bytes, ${binaryOffset} used)`);
      }
      if (raw.data !== undefined) throw badRequest(`${where}: has both "data" and binary_data_size; send one`);
      const bytes = binary.subarray(binaryOffset, binaryOffset + (binarySize as number));
      binaryOffset += binarySize as number;
      let data: Tensor['data'];
      try {
        data = fromRawBytes(bytes, dtype, elements);
      } catch (error) {
        throw conversionRefused(where, error);
      }
      inputs.set(name, { data, shape, dtype } as Tensor);
      continue;
    }
    if (raw.data === undefined) throw badRequest(`${where}: needs "data" (or parameters.binary_data_size with the binary extension)`);
    // The inputs whose data was read ahead come in this list's order: the next one, or none.
    const typed = numbers !== undefined && raw.data === numbers.arrays[numbered] ? numbers.typed[numbered++] : undefined;
    if (typed !== undefined) {
      // A flat array of numbers, already in the storage the host would have converted it to.
      if (typed.length !== elements) throw badRequest(`${where}: ${typed.length} elements but shape [${shape.join(', ')}] holds ${exactCount(shape, elements)}`);
      inputs.set(name, { data: typed, shape, dtype } as Tensor);
      continue;
    }
    let values: unknown[];
    try {
      values = flatValues(raw.data, shape);
    } catch (error) {
      throw conversionRefused(where, error);
    }
    if (values.length !== elements) throw badRequest(`${where}: ${values.length} elements but shape [${shape.join(', ')}] holds ${exactCount(shape, elements)}`);
    inputs.set(name, { data: values, shape, dtype });
  }
  if (binary !== undefined && binaryOffset !== binary.byteLength) {
    throw badRequest(`the binary part of the body has ${binary.byteLength - binaryOffset} bytes that no input's binary_data_size claims`);
  }
  return inputs;
}

/**
 * The outputs the request names, each with its own `binary_data` (undefined: the request's
 * default), in request order; undefined when it names none (all outputs). Refuses unknown,
 * duplicate and malformed entries before the model runs.
 */
function readRequestedOutputs(raw: unknown, specs: readonly TensorSpec[], model: string): Map<string, boolean | undefined> | undefined {
  if (raw === undefined) return undefined;
  if (!Array.isArray(raw)) throw badRequest(`"outputs" must be an array of { "name": ... }, got ${describe(raw)}`);
  const known = new Set(specs.map((s) => s.name));
  const requested = new Map<string, boolean | undefined>();
  raw.forEach((item, index) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw badRequest(`outputs[${index}] must be an object with a "name", got ${describe(item)}`);
    const { name, parameters } = item as { name?: unknown; parameters?: unknown };
    if (typeof name !== 'string' || !known.has(name)) {
      throw badRequest(`requested output ${describe(name)} is not an output of model '${model}' (outputs: ${[...known].join(', ')})`);
    }
    if (requested.has(name)) throw badRequest(`output ${JSON.stringify(name)} is requested twice`);
    refuseUnservedExtension(parameters, `output '${name}'`);
    const own = typeof parameters === 'object' && parameters !== null && Object.hasOwn(parameters, 'binary_data') ? (parameters as { binary_data: unknown }).binary_data : undefined;
    if (own !== undefined && typeof own !== 'boolean') throw badRequest(`output ${JSON.stringify(name)}: parameters.binary_data must be a boolean, got ${describe(own)}`);
    requested.set(name, own);
  });
  return requested;
}

/** Triton's extensions a request may ask for through `parameters`, which modelhost does not implement. */
const UNSERVED_EXTENSIONS: ReadonlyMap<string, string> = new Map([
  ['sequence_id', 'sequence batching'],
  ['sequence_start', 'sequence batching'],
  ['sequence_end', 'sequence batching'],
  ['classification', 'classification'],
  ['shared_memory_region', 'shared-memory'],
  ['shared_memory_byte_size', 'shared-memory'],
  ['shared_memory_offset', 'shared-memory'],
]);

/**
 * Refuses a parameter (of the request, an input or an output) that asks for an extension this
 * server does not implement: ignoring it would answer something else than what was asked (raw
 * scores for a classification, JSON data for a shared-memory region, each request of a sequence
 * as if it stood alone; the gRPC service refuses them too). Other parameters pass, as the protocol allows.
 */
function refuseUnservedExtension(parameters: unknown, where: string): void {
  if (typeof parameters !== 'object' || parameters === null) return;
  for (const [key, extension] of UNSERVED_EXTENSIONS) {
    if (Object.hasOwn(parameters, key)) throw badRequest(`${where}: parameters.${key} asks for the ${extension} extension, which this server does not implement`);
  }
}

/** A converter's refusal as a 400 naming the input (any other error is rethrown as it is). */
function conversionRefused(where: string, error: unknown): unknown {
  return error instanceof ConversionError ? badRequest(`${where}: ${error.message}`) : error;
}

/** A value from the request, shortened, for error messages (bigints included). */
function describe(value: unknown): string {
  return describeRequestValue(value);
}

/**
 * The version that answers a request routed now (the host routes when it is called), when it
 * is known: the pinned one, or the only version with traffic while its breaker is closed.
 * While traffic is split (a canary), or an open breaker may send the request to the previous
 * version, the public API does not say which version ran, and `model_version` is optional:
 * it is left out rather than guessed.
 */
export function answeredBy(host: ModelHost, model: string, pinned: number | undefined): string | undefined {
  if (pinned !== undefined) return String(pinned);
  const status = host.status(model);
  let serving: string | undefined;
  for (const version in status.traffic) {
    if (!(status.traffic[version as unknown as number]! > 0)) continue;
    if (serving !== undefined) return undefined;
    serving = version;
  }
  // A breaker that is not closed may hand the request to the previous version (`breaker.fallback`).
  const breaker = serving === undefined ? undefined : status.versions.find((v) => String(v.version) === serving)?.breaker;
  return breaker === undefined || breaker === 'closed' ? serving : undefined;
}

/** KServe binary extension: JSON header, then the raw tensors. */
function binaryResponse(header: string, parts: readonly Uint8Array[]): HttpResponse {
  const head = new TextEncoder().encode(header);
  const body = new Uint8Array(head.byteLength + parts.reduce((n, p) => n + p.byteLength, 0));
  body.set(head, 0);
  let offset = head.byteLength;
  for (const part of parts) {
    body.set(part, offset);
    offset += part.byteLength;
  }
  return { status: 200, headers: { 'content-type': 'application/octet-stream', [BINARY_HEADER]: String(head.byteLength) }, body };
}

/** `data` arrays of the body read into typed arrays (`typed[i]` holds `arrays[i]`'s values), in the order of its inputs. */
interface NumberData {
  readonly arrays: readonly unknown[];
  readonly typed: readonly TypedArray[];
}

/**
 * The request's JSON (and with the binary extension, its tensor bytes). The common body, JSON
 * inputs of a number datatype, is read in one pass: the limits walk counts each input's `data`
 * without reading it, and one loop per array both checks what the walk would have and writes
 * the typed array the host would have converted it to. Any value that loop does not vouch for
 * (or a refusal counted on that assumption) sends the body down the strict path, which reads
 * every value: same acceptance, same refusals.
 */
function readBody(context: RouteContext, exactIntegers: boolean): { body: unknown; binary: Uint8Array | undefined; numbers?: NumberData } {
  const { request, options } = context;
  const headerLength = header(request.headers, BINARY_HEADER);
  if (headerLength === undefined) {
    if (!exactIntegers) {
      const fast = parseJsonUnread(request, options, numberDataArrays);
      const numbers = fast === undefined ? undefined : readNumbers(fast.value, fast.unread);
      if (numbers !== undefined) return { body: fast!.value, binary: undefined, numbers };
    }
    return { body: parseJson(request, options, { exactIntegers }), binary: undefined };
  }
  if (!/^\d{1,15}$/.test(headerLength)) throw badRequest(`Inference-Header-Content-Length must be a decimal number of bytes, got ${JSON.stringify(headerLength)}`);
  const length = Number(headerLength);
  const raw = request.body;
  if (raw === undefined || length > raw.byteLength) {
    throw badRequest(`Inference-Header-Content-Length ${headerLength} does not fit a body of ${raw?.byteLength ?? 0} bytes`);
  }
  return { body: parseJson(request, options, { bytes: raw.subarray(0, length), exactIntegers }), binary: raw.subarray(length) };
}

/** The `data` arrays of the body's inputs whose datatype is a plain number type (as yet unchecked JSON: read defensively). */
function numberDataArrays(body: object): readonly unknown[] {
  const list = (body as InferRequest).inputs;
  if (!Array.isArray(list)) return NONE;
  let arrays: unknown[] | undefined;
  for (let i = 0; i < list.length; i++) {
    const item = list[i] as InferInput | null;
    if (typeof item !== 'object' || item === null || !Array.isArray(item.data) || typeof item.datatype !== 'string') continue;
    if (isNumberDType(dtypeFromKServe(item.datatype))) (arrays ??= []).push(item.data);
  }
  return arrays ?? NONE;
}

const NONE: readonly unknown[] = [];

/** Each unread array in its input's storage; undefined when one holds a value the one-pass loop does not vouch for. */
function readNumbers(body: object, arrays: readonly unknown[]): NumberData | undefined {
  if (arrays.length === 0) return { arrays, typed: [] };
  const list = (body as InferRequest).inputs as InferInput[];
  const typed: TypedArray[] = new Array(arrays.length);
  let found = 0;
  // `arrays` were picked from this list in its order: each item is the next one's, or none's
  // (no search per item: that was quadratic in the count of inputs).
  for (let i = 0; i < list.length && found < arrays.length; i++) {
    const item = list[i]!;
    if (typeof item !== 'object' || item === null || item.data !== arrays[found]) continue;
    const storage = jsonNumbersInto(item.data as unknown[], dtypeFromKServe(item.datatype as string) as NumberDType);
    if (storage === undefined) return undefined;
    typed[found++] = storage;
  }
  return found === arrays.length ? { arrays, typed } : undefined;
}

function header(headers: RouteContext['request']['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : (value as string | undefined);
}

/** KServe's platform names for the built-in runtimes. */
export const PLATFORM: Readonly<Record<string, string>> = { onnx: 'onnxruntime_onnx', tfjs: 'tensorflowjs' };

/** A shape's element count with every digit (a product past 2^53 is computed in bigints, not rounded). */
function exactCount(shape: readonly number[], elements: number): string {
  return Number.isSafeInteger(elements) ? String(elements) : String(shape.reduce((n, d) => n * BigInt(d), 1n));
}
