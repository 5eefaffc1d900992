/**
 * TF Serving's REST API over the public ModelHost API: model status, metadata, and
 * `:predict` in the row (`instances`) and columnar (`inputs`) formats, addressed by
 * version or by label (`default`, `canary`).
 */
import { ConversionError, declaredDatatype, ErrorCode, ModelHostError, shapeSize } from 'modelhost';
import type { ModelHost, Outputs } from 'modelhost';
import type { Tensor, TensorSpec } from 'modelhost';
import { checkKeys } from './body-keys.js';
import { badRequest, json } from './http-errors.js';
import { timeoutLeft, type HttpResponse, type RouteContext, type RouteHandler } from './http-types.js';
import { parseJson } from './json-body.js';
import { TensorJson, writeJson } from './json-writer.js';
import { describeRequestValue } from './request-value.js';
import { decodeB64Values, isB64, tfServingElementText } from './tensor-json.js';
import { versionParam } from './version-segment.js';

/** The one signature every model here has (TF Serving's `kDefaultServingSignatureDefKey`). */
const SERVING_DEFAULT = 'serving_default';

/** The keys of a predict body (TF Serving's `PredictRequest` in JSON). */
const PREDICT_KEYS = ['signature_name', 'instances', 'inputs'] as const;

/** TF Serving's version states for modelhost's lifecycle. */
const TF_STATE: Readonly<Record<string, string>> = { loading: 'LOADING', warming: 'LOADING', ready: 'AVAILABLE', draining: 'UNLOADING', unloaded: 'END', failed: 'END' };

export const modelStatus: RouteHandler = ({ host, params }) => {
  const status = host.status(params['model']!);
  const version = resolveVersion(host, params);
  const versions = status.versions.filter((v) => version === undefined || v.version === version);
  if (version !== undefined && versions.length === 0) {
    throw new ModelHostError(ErrorCode.VERSION_NOT_FOUND, `model '${params['model']}' has no version ${version}`, { model: params['model'], version });
  }
  return json(200, {
    model_version_status: versions.map((v) => ({
      version: String(v.version),
      state: TF_STATE[v.state] ?? 'UNKNOWN',
      status: v.error === undefined ? { error_code: 'OK', error_message: '' } : { error_code: 'UNKNOWN', error_message: v.error.message },
    })),
  });
};

export const modelMetadata: RouteHandler = ({ host, params }) => {
  const meta = host.metadata(params['model']!, resolveVersion(host, params));
  const tensor = (s: TensorSpec) => [
    s.name,
    // As TF Serving: keyed by the signature key, `name` the graph tensor (`Identity_2:0`) where there is one.
    { dtype: declaredDatatype(s).tfServing, tensor_shape: { dim: s.shape.map((d) => ({ size: String(d), name: '' })), unknown_rank: s.rankUnknown === true }, name: s.aliases?.find((a) => a.includes(':')) ?? s.name },
  ];
  return json(200, {
    model_spec: { name: meta.name, signature_name: '', version: String(meta.version) },
    metadata: {
      signature_def: {
        signature_def: {
          serving_default: {
            inputs: Object.fromEntries(meta.inputs.map(tensor)),
            outputs: Object.fromEntries(meta.outputs.map(tensor)),
            method_name: 'tensorflow/serving/predict',
          },
        },
      },
    },
  });
};

export const predict: RouteHandler = async ({ host, params, request, options, requestId }) => {
  const model = params['model']!;
  const version = resolveVersion(host, params);
  const meta = host.metadata(model, version);
  const body = parseJson(request, options, { exactIntegers: meta.inputs.some((s) => s.dtype === 'int64' || s.dtype === 'uint64') });
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('the predict request must be a JSON object with "instances" or "inputs"');
  checkKeys('the predict request', body as Record<string, unknown>, PREDICT_KEYS);
  checkSignature((body as { signature_name?: unknown }).signature_name);
  const instances = Object.hasOwn(body, 'instances') ? (body as { instances: unknown }).instances : undefined;
  const inputs = Object.hasOwn(body, 'inputs') ? (body as { inputs: unknown }).inputs : undefined;
  if ((instances === undefined) === (inputs === undefined)) throw badRequest('the predict request needs exactly one of "instances" (row format) or "inputs" (columnar format)');
  const names = meta.inputs.map((s) => s.name);
  const known = knownNames(meta.inputs);
  const specOf = (name: string): TensorSpec => meta.inputs.find((s) => s.name === known.get(name))!;
  const predictOptions = { version, id: requestId, signal: request.signal, timeoutMs: timeoutLeft(options.timeoutMs, request) };
  const writeOptions = { limitBytes: options.maxResponseBytes, hint: 'ask for fewer instances, or use the KServe v2 binary tensor data extension' };

  if (instances !== undefined) {
    if (!Array.isArray(instances) || instances.length === 0) throw badRequest('"instances" must be a non-empty array');
    if (!meta.batched) throw badRequest(`model '${model}' has no batch dimension: send its full tensors in the columnar "inputs" format`);
    // Row format: each instance is a value (one input) or an object { input: value }; stack them.
    const columns = new Map<string, unknown[]>(names.map((n) => [n, []]));
    instances.forEach((instance, i) => {
      if (!isNamedObject(instance)) {
        if (names.length > 1) throw badRequest(`instances[${i}] must be an object with inputs ${names.map((n) => `"${n}"`).join(', ')}`);
        columns.get(names[0]!)!.push(decode(instance, `instances[${i}]`, meta.inputs[0]!));
        return;
      }
      checkNames(instance, known, `instances[${i}]`);
      for (const spec of meta.inputs) {
        const value = valueOf(instance, spec);
        if (value === undefined) throw badRequest(`instances[${i}] has no input ${JSON.stringify(spec.name)} (${knownList(known)})`);
        columns.get(spec.name)!.push(decode(value, `instances[${i}].${spec.name}`, spec));
      }
    });
    const outputs = await host.predictBatch(model, columns, predictOptions);
    return jsonText(await writeJson({ predictions: rows(outputs, meta.outputs, instances.length) }, writeOptions));
  }

  // Columnar format: a value (one input) or { input: value }, with the batch dimension.
  let columns: Map<string, unknown>;
  if (isNamedObject(inputs)) {
    checkNames(inputs, known, '"inputs"');
    columns = new Map(Object.entries(inputs).map(([k, v]) => [k, decode(v, `inputs.${k}`, specOf(k))]));
  } else {
    if (names.length > 1) throw badRequest(`"inputs" must be an object with inputs ${names.map((n) => `"${n}"`).join(', ')}`);
    columns = new Map([[names[0]!, decode(inputs, 'inputs', meta.inputs[0]!)]]);
  }
  const outputs = meta.batched ? await host.predictBatch(model, columns, predictOptions) : await host.predict(model, columns, predictOptions);
  const entries = meta.outputs.map((s) => [s.name, tensorJson(s.name, outputs[s.name]!)] as const);
  return jsonText(await writeJson({ outputs: entries.length === 1 ? entries[0]![1] : new Map(entries) }, writeOptions));
};

function jsonText(body: string): HttpResponse {
  return { status: 200, headers: { 'content-type': 'application/json' }, body };
}

function tensorJson(name: string, t: Tensor, start = 0, shape: readonly number[] = t.shape): TensorJson {
  return new TensorJson(name, t, start, shape, tfServingElementText(name, t.dtype));
}

/** Per-row predictions: a value for a one-output model, else an object of outputs. */
function rows(outputs: Outputs, specs: readonly TensorSpec[], count: number): unknown {
  if (specs.length === 1) return tensorJson(specs[0]!.name, outputs[specs[0]!.name]!);
  return Array.from({ length: count }, (_, r) => {
    const row = new Map<string, TensorJson>();
    for (const { name } of specs) {
      const t = outputs[name]!;
      const rowShape = t.shape.slice(1);
      row.set(name, tensorJson(name, t, r * shapeSize(rowShape), rowShape));
    }
    return row;
  });
}

/** An object of named inputs (not a `{"b64": ...}` value). */
function isNamedObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !isB64(value);
}

/** Every name an input answers to (its name and aliases, like `input_1:0`), mapped to the input's name. */
function knownNames(inputs: readonly TensorSpec[]): Map<string, string> {
  const known = new Map<string, string>();
  for (const spec of inputs) for (const n of [spec.name, ...(spec.aliases ?? [])]) known.set(n, spec.name);
  return known;
}

function knownList(known: ReadonlyMap<string, string>): string {
  return `known inputs: ${[...known.keys()].map((n) => JSON.stringify(n)).join(', ')}`;
}

/** Refuses keys that name no input, listing the known ones (as KServe's handler does). */
function checkNames(value: Record<string, unknown>, known: ReadonlyMap<string, string>, where: string): void {
  const unknown = Object.keys(value).filter((k) => !known.has(k));
  if (unknown.length === 0) return;
  throw badRequest(`${where} has unknown input${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')} (${knownList(known)})`);
}

/** An input's value under its name or one of its aliases (own properties only). */
function valueOf(instance: Record<string, unknown>, spec: TensorSpec): unknown {
  for (const n of [spec.name, ...(spec.aliases ?? [])]) if (Object.hasOwn(instance, n)) return instance[n];
  return undefined;
}

/**
 * TF Serving answers 400 for a signature the model does not have; every model here has one,
 * `serving_default` (an empty name means it too, as in TF Serving).
 */
function checkSignature(name: unknown): void {
  if (name === undefined || name === '' || name === SERVING_DEFAULT) return;
  const got = typeof name === 'string' ? describeRequestValue(name, 40) : `${describeRequestValue(name, 40)} (not a string)`;
  throw badRequest(`"signature_name": serving signature ${got} not found in the model's signatures (it has "${SERVING_DEFAULT}")`);
}

/** `{"b64": ...}` values decoded to bytes: only for string (BYTES) inputs, whose elements are bytes. */
function decode(value: unknown, where: string, spec: TensorSpec): unknown {
  try {
    const declared = declaredDatatype(spec);
    return decodeB64Values(value, where, spec.dtype === 'string' ? undefined : `input ${JSON.stringify(spec.name)} is ${declared.dtype} (${declared.kserve}) and expects ${spec.dtype === 'bool' ? 'true or false' : 'numbers'}; {"b64": ...} is only for string (BYTES) inputs`);
  } catch (error) {
    if (error instanceof ConversionError) throw badRequest(error.message);
    throw error;
  }
}

/** `/versions/{v}` or `/labels/{l}`: `default` is the default version, `canary` the candidate. */
function resolveVersion(host: ModelHost, params: RouteContext['params']): number | undefined {
  const label = params['label'];
  if (label === undefined) return versionParam(params);
  const status = host.status(params['model']!);
  const version = label === 'default' || label === 'stable' ? status.defaultVersion : label === 'canary' ? status.candidate : undefined;
  if (version === undefined) {
    throw new ModelHostError(ErrorCode.VERSION_NOT_FOUND, `model '${params['model']}' has no version labelled '${label.length > 40 ? `${label.slice(0, 40)}…` : label}' (labels: default${status.candidate === undefined ? '' : ', canary'})`, { model: params['model'] });
  }
  return version;
}
