/**
 * The KServe v2 / Open Inference Protocol REST API over the public ModelHost API:
 * server and model metadata, health, and `infer` with JSON tensors and the binary tensor
 * data extension.
 */
import { ErrorCode, ModelHostError } from 'modelhost';
import type { ModelHost, Outputs } from 'modelhost';
import { DTYPES, dtypeFromKServe, shapeSize, type Tensor, type TensorSpec } from 'modelhost';
import { badRequest, json } from './http-errors.js';
import type { HttpResponse, RouteContext, RouteHandler } from './http-types.js';
import { parseJson } from './json-body.js';
import { flat, fromBytes, jsonValues, toBytes } from './tensor-json.js';

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
  const ready = version === undefined ? host.ready(params['model']!) : status.versions.some((v) => v.version === version && v.state === 'ready');
  return ready ? json(200, { name: params['model'], ready: true }) : json(503, { name: params['model'], ready: false });
};

export const modelMetadata: RouteHandler = ({ host, params }) => {
  const meta = host.metadata(params['model']!, versionParam(params));
  const spec = (s: TensorSpec) => ({ name: s.name, datatype: DTYPES[s.dtype].kserve, shape: [...s.shape] });
  return json(200, {
    name: meta.name,
    versions: meta.versions.map(String),
    platform: PLATFORM[meta.runtime] ?? meta.runtime,
    inputs: meta.inputs.map(spec),
    outputs: meta.outputs.map(spec),
  });
};

export const infer: RouteHandler = async (context) => {
  const { host, params, request, options } = context;
  const model = params['model']!;
  const version = versionParam(params);
  const { body, binary } = splitBinary(context);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('the infer request must be a JSON object with "inputs"');
  const req = body as InferRequest;
  if (!Array.isArray(req.inputs) || req.inputs.length === 0) throw badRequest('the infer request must have a non-empty "inputs" array');
  if (req.id !== undefined && typeof req.id !== 'string') throw badRequest('"id" must be a string');

  const meta = host.metadata(model, version);
  let binaryOffset = 0;
  const inputs: Record<string, Tensor | { data: unknown[]; shape: number[]; dtype: Tensor['dtype'] }> = {};
  for (const raw of req.inputs as InferInput[]) {
    const where = `input ${JSON.stringify(raw?.name)}`;
    if (typeof raw !== 'object' || raw === null || typeof raw.name !== 'string') throw badRequest(`each input needs a "name" string`);
    if (!Array.isArray(raw.shape) || !raw.shape.every((d) => Number.isInteger(d) && d >= 0)) throw badRequest(`${where}: "shape" must be an array of non-negative integers`);
    const dtype = typeof raw.datatype === 'string' ? dtypeFromKServe(raw.datatype) : undefined;
    if (dtype === undefined) throw badRequest(`${where}: unknown "datatype" ${JSON.stringify(raw.datatype)} (expected one of ${Object.values(DTYPES).map((d) => d.kserve).join(', ')})`);
    const shape = raw.shape as number[];
    const binarySize = raw.parameters?.binary_data_size;
    if (binarySize !== undefined) {
      if (!Number.isInteger(binarySize) || (binarySize as number) < 0 || binary === undefined || binaryOffset + (binarySize as number) > binary.byteLength) {
        throw badRequest(`${where}: binary_data_size ${JSON.stringify(binarySize)} does not match the binary part of the body`);
      }
      const bytes = binary.subarray(binaryOffset, binaryOffset + (binarySize as number));
      binaryOffset += binarySize as number;
      const elements = shapeSize(shape);
      if (dtype !== 'string' && elements * DTYPES[dtype].bytes !== bytes.byteLength) {
        throw badRequest(`${where}: ${bytes.byteLength} bytes of binary data, but shape [${shape.join(', ')}] of ${raw.datatype} needs ${elements * DTYPES[dtype].bytes}`);
      }
      inputs[raw.name] = { data: fromBytes(bytes, dtype, elements), shape, dtype } as Tensor;
    } else {
      if (raw.data === undefined) throw badRequest(`${where}: needs "data" (or parameters.binary_data_size with the binary extension)`);
      inputs[raw.name] = { data: flat(raw.data), shape, dtype };
    }
  }

  const predictOptions = { version, id: req.id as string | undefined, signal: request.signal, timeoutMs: options.timeoutMs };
  // KServe shapes carry the batch dimension; a model without one takes its full shapes.
  const outputs: Outputs = meta.batched ? await host.predictBatch(model, inputs, predictOptions) : await host.predict(model, inputs, predictOptions);

  const requested = Array.isArray(req.outputs) ? (req.outputs as { name?: unknown; parameters?: Record<string, unknown> }[]) : undefined;
  const names = requested?.map((o) => o.name) ?? Object.keys(outputs);
  const binaryAll = req.parameters?.['binary_data_output'] === true;
  const parts: Uint8Array[] = [];
  const outputJson = names.map((name) => {
    if (typeof name !== 'string' || outputs[name] === undefined) throw badRequest(`requested output ${JSON.stringify(name)} is not an output of model '${model}' (outputs: ${Object.keys(outputs).join(', ')})`);
    const t = outputs[name]!;
    const entry = { name, datatype: DTYPES[t.dtype].kserve, shape: [...t.shape] };
    // An output's own "binary_data" overrides the request's "binary_data_output" (both ways).
    const own = requested?.find((o) => o.name === name)?.parameters?.['binary_data'];
    const wantsBinary = typeof own === 'boolean' ? own : binaryAll;
    if (wantsBinary) {
      const bytes = toBytes(t);
      parts.push(bytes);
      return { ...entry, parameters: { binary_data_size: bytes.byteLength } };
    }
    return { ...entry, data: jsonValues(t) };
  });
  const modelVersion = answeredBy(host, model, version);
  const response = { model_name: model, ...(modelVersion === undefined ? {} : { model_version: modelVersion }), ...(req.id === undefined ? {} : { id: req.id }), outputs: outputJson };
  if (parts.length === 0) return json(200, response);
  return binaryResponse(response, parts);
};

/**
 * The version that answered, when it is known: the pinned one, or the only version with
 * traffic. While traffic is split (a canary) the public API does not say which version ran,
 * and `model_version` is optional: it is left out rather than guessed.
 */
function answeredBy(host: ModelHost, model: string, pinned: number | undefined): string | undefined {
  if (pinned !== undefined) return String(pinned);
  const serving = Object.entries(host.status(model).traffic).filter(([, weight]) => weight > 0);
  return serving.length === 1 ? serving[0]![0] : undefined;
}

/** KServe binary extension: JSON header, then the raw tensors. */
function binaryResponse(header: unknown, parts: readonly Uint8Array[]): HttpResponse {
  const head = new TextEncoder().encode(JSON.stringify(header));
  const body = new Uint8Array(head.byteLength + parts.reduce((n, p) => n + p.byteLength, 0));
  body.set(head, 0);
  let offset = head.byteLength;
  for (const part of parts) {
    body.set(part, offset);
    offset += part.byteLength;
  }
  return { status: 200, headers: { 'content-type': 'application/octet-stream', [BINARY_HEADER]: String(head.byteLength) }, body };
}

/** With the binary extension, the body is a JSON header of the given length followed by tensor bytes. */
function splitBinary({ request, options }: RouteContext): { body: unknown; binary: Uint8Array | undefined } {
  const headerLength = header(request.headers, BINARY_HEADER);
  if (headerLength === undefined) return { body: parseJson(request, options), binary: undefined };
  const length = Number(headerLength);
  const raw = request.body;
  if (raw === undefined || !Number.isInteger(length) || length < 0 || length > raw.byteLength) {
    throw badRequest(`Inference-Header-Content-Length ${headerLength} does not fit a body of ${raw?.byteLength ?? 0} bytes`);
  }
  return { body: parseJson(request, options, raw.subarray(0, length)), binary: raw.subarray(length) };
}

function header(headers: RouteContext['request']['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : (value as string | undefined);
}

export function versionParam(params: Readonly<Record<string, string>>): number | undefined {
  const raw = params['version'];
  if (raw === undefined) return undefined;
  const version = Number(raw);
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new ModelHostError(ErrorCode.VERSION_NOT_FOUND, `version must be a positive integer, got ${JSON.stringify(raw)}`, { model: params['model'] });
  }
  return version;
}

/** KServe's platform names for the built-in runtimes. */
const PLATFORM: Readonly<Record<string, string>> = { onnx: 'onnxruntime_onnx', tfjs: 'tensorflowjs' };

declare const __MODELHOST_VERSION__: string | undefined;
const PACKAGE_VERSION = typeof __MODELHOST_VERSION__ === 'string' ? __MODELHOST_VERSION__ : '0.0.0-dev';
