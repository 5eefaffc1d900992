/**
 * TF Serving's REST API over the public ModelHost API: model status, metadata, and
 * `:predict` in the row (`instances`) and columnar (`inputs`) formats, addressed by
 * version or by label (`default`, `canary`).
 */
import { ErrorCode, ModelHostError } from 'modelhost';
import type { ModelHost, Outputs } from 'modelhost';
import type { DType, TensorSpec } from 'modelhost';
import { badRequest, json } from './http-errors.js';
import type { RouteContext, RouteHandler } from './http-types.js';
import { parseJson } from './json-body.js';
import { jsonValues, nest } from './tensor-json.js';
import { versionParam } from './kserve-v2.js';

const TF_DTYPE: Readonly<Record<DType, string>> = {
  float32: 'DT_FLOAT',
  float64: 'DT_DOUBLE',
  float16: 'DT_HALF',
  int8: 'DT_INT8',
  uint8: 'DT_UINT8',
  int16: 'DT_INT16',
  uint16: 'DT_UINT16',
  int32: 'DT_INT32',
  uint32: 'DT_UINT32',
  int64: 'DT_INT64',
  uint64: 'DT_UINT64',
  bool: 'DT_BOOL',
  string: 'DT_STRING',
};

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
    { dtype: TF_DTYPE[s.dtype], tensor_shape: { dim: s.shape.map((d) => ({ size: String(d), name: '' })), unknown_rank: false }, name: s.aliases?.find((a) => a.includes(':')) ?? s.name },
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

export const predict: RouteHandler = async ({ host, params, request, options }) => {
  const model = params['model']!;
  const version = resolveVersion(host, params);
  const body = parseJson(request, options);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('the predict request must be a JSON object with "instances" or "inputs"');
  const { instances, inputs } = body as { instances?: unknown; inputs?: unknown };
  if ((instances === undefined) === (inputs === undefined)) throw badRequest('the predict request needs exactly one of "instances" (row format) or "inputs" (columnar format)');
  const meta = host.metadata(model, version);
  const names = meta.inputs.map((s) => s.name);
  const predictOptions = { version, signal: request.signal, timeoutMs: options.timeoutMs };

  if (instances !== undefined) {
    if (!Array.isArray(instances) || instances.length === 0) throw badRequest('"instances" must be a non-empty array');
    if (!meta.batched) throw badRequest(`model '${model}' has no batch dimension: send its full tensors in the columnar "inputs" format`);
    // Row format: each instance is a value (one input) or an object { input: value }; stack them.
    const columns: Record<string, unknown[]> = Object.fromEntries(names.map((n) => [n, []]));
    const known = knownNames(meta.inputs);
    instances.forEach((instance, i) => {
      // A plain object (not `{ "b64": ... }`) is always keyed by input name in the row format.
      const named = isPlainObject(instance);
      if (names.length > 1 && !named) throw badRequest(`instances[${i}] must be an object with inputs ${names.map((n) => `"${n}"`).join(', ')}`);
      if (named) checkNames(instance, known, `instances[${i}]`);
      for (const spec of meta.inputs) {
        const name = spec.name;
        const value = named ? valueOf(instance, spec) : instance;
        if (value === undefined) throw badRequest(`instances[${i}] has no input "${name}"`);
        columns[name]!.push(decodeB64(value));
      }
    });
    const outputs = await host.predictBatch(model, columns, predictOptions);
    return json(200, { predictions: rows(outputs, instances.length) });
  }

  // Columnar format: a value (one input) or { input: value }, with the batch dimension.
  const named = isPlainObject(inputs);
  if (named) checkNames(inputs, knownNames(meta.inputs), '"inputs"');
  if (names.length > 1 && !named) throw badRequest(`"inputs" must be an object with inputs ${names.map((n) => `"${n}"`).join(', ')}`);
  const columns = named ? Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, decodeB64(v)])) : { [names[0]!]: decodeB64(inputs) };
  const outputs = meta.batched ? await host.predictBatch(model, columns, predictOptions) : await host.predict(model, columns, predictOptions);
  const entries = Object.entries(outputs).map(([name, t]) => [name, nest(jsonValues(t), t.shape)] as const);
  return json(200, { outputs: entries.length === 1 ? entries[0]![1] : Object.fromEntries(entries) });
};

/** Per-row predictions: a value for a one-output model, else an object of outputs. */
function rows(outputs: Outputs, count: number): unknown[] {
  const perOutput = Object.entries(outputs).map(([name, t]) => {
    const values = jsonValues(t);
    const rowShape = t.shape.slice(1);
    const rowSize = values.length / count;
    return [name, Array.from({ length: count }, (_, r) => nest(values.slice(r * rowSize, (r + 1) * rowSize), rowShape))] as const;
  });
  if (perOutput.length === 1) return perOutput[0]![1];
  return Array.from({ length: count }, (_, r) => Object.fromEntries(perOutput.map(([name, list]) => [name, list[r]])));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !('b64' in value);
}

/** Every name an input answers to (its name and aliases, like `input_1:0`), mapped to the input's name. */
function knownNames(inputs: readonly TensorSpec[]): Map<string, string> {
  const known = new Map<string, string>();
  for (const spec of inputs) for (const n of [spec.name, ...(spec.aliases ?? [])]) known.set(n, spec.name);
  return known;
}

/** Refuses keys that name no input, listing the known ones (as KServe's handler does). */
function checkNames(value: Record<string, unknown>, known: ReadonlyMap<string, string>, where: string): void {
  const unknown = Object.keys(value).filter((k) => !known.has(k));
  if (unknown.length === 0) return;
  const list = [...known.keys()].map((n) => `"${n}"`).join(', ');
  throw badRequest(`${where} has unknown input${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')} (known inputs: ${list})`);
}

/** An input's value under its name or one of its aliases. */
function valueOf(instance: Record<string, unknown>, spec: TensorSpec): unknown {
  for (const n of [spec.name, ...(spec.aliases ?? [])]) if (Object.hasOwn(instance, n)) return instance[n];
  return undefined;
}

/** TF Serving sends binary strings as `{ "b64": "..." }`. */
function decodeB64(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(decodeB64);
  if (typeof value === 'object' && value !== null && typeof (value as { b64?: unknown }).b64 === 'string') {
    return Buffer.from((value as { b64: string }).b64, 'base64').toString('latin1');
  }
  return value;
}

/** `/versions/{v}` or `/labels/{l}`: `default` is the default version, `canary` the candidate. */
function resolveVersion(host: ModelHost, params: RouteContext['params']): number | undefined {
  const label = params['label'];
  if (label === undefined) return versionParam(params);
  const status = host.status(params['model']!);
  const version = label === 'default' || label === 'stable' ? status.defaultVersion : label === 'canary' ? status.candidate : undefined;
  if (version === undefined) {
    throw new ModelHostError(ErrorCode.VERSION_NOT_FOUND, `model '${params['model']}' has no version labelled '${label}' (labels: default${status.candidate === undefined ? '' : ', canary'})`, { model: params['model'] });
  }
  return version;
}
