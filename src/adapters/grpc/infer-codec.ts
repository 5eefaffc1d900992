/**
 * ModelInferRequest → inputs, outputs → ModelInferResponse, through the shared per-datatype
 * codec of `modelhost` (the one the HTTP adapters use): raw contents with
 * `fromRawBytes`/`toRawBytes`, typed `contents` handed to the host as plain values, which it
 * converts with the same strict element writer as KServe JSON.
 */
import { ConversionError, DTYPES, dtypeFromKServe, fromRawBytes, rawByteLength, shapeSize, toRawBytes, bytesOf, ErrorCode, ModelHostError, type BytesElement, type DType, type Tensor, type TensorData, type TensorSpec } from 'modelhost';
import type { ContentsField, InferOutputTensor, InferParameter, InferTensorContents, ModelInferRequest } from './infer-messages.js';
import { GrpcCallError, GrpcStatus } from './status-codes.js';

/** The `contents` field of each datatype (FP16 has none: the protocol sends it raw only). */
const CONTENTS_FIELD: Readonly<Record<DType, ContentsField | undefined>> = Object.freeze({
  bool: 'bool_contents',
  int8: 'int_contents',
  int16: 'int_contents',
  int32: 'int_contents',
  int64: 'int64_contents',
  uint8: 'uint_contents',
  uint16: 'uint_contents',
  uint32: 'uint_contents',
  uint64: 'uint64_contents',
  float16: undefined,
  float32: 'fp32_contents',
  float64: 'fp64_contents',
  string: 'bytes_contents',
} as Record<DType, ContentsField | undefined>);

const CONTENTS_FIELDS: readonly ContentsField[] = ['bool_contents', 'int_contents', 'int64_contents', 'uint_contents', 'uint64_contents', 'fp32_contents', 'fp64_contents', 'bytes_contents'];

/** Triton's sequence batcher's request parameters. */
const SEQUENCE_PARAMETERS = ['sequence_id', 'sequence_start', 'sequence_end'] as const;

/** Triton's shared-memory extension's input and output parameters: ignored, data would be answered where the client reads a region. */
const SHARED_MEMORY_PARAMETERS = ['shared_memory_region', 'shared_memory_byte_size', 'shared_memory_offset'] as const;

function sharedMemoryParameter(parameters: object): string | undefined {
  return SHARED_MEMORY_PARAMETERS.find((name) => Object.hasOwn(parameters, name));
}

const CANONICAL_DIMENSION = /^(0|[1-9][0-9]{0,15})$/;

export type InferInputs = Map<string, Tensor | { data: unknown[]; shape: number[]; dtype: DType }>;

export interface DecodedRequest {
  readonly inputs: InferInputs;
  /** Requested outputs in request order; undefined: all of them. */
  readonly outputs: readonly string[] | undefined;
  /** Whether the request carried its tensors raw: the response answers in kind. */
  readonly raw: boolean;
  /** The request's `timeout` parameter (Triton's, microseconds) as ms, when given. */
  readonly timeoutMs: number | undefined;
}

/**
 * The request's inputs by name (a Map: names are data, not keys) and the outputs it asks for,
 * all checked before the model runs.
 *
 * @throws ModelHostError INVALID_INPUT naming the input, what was expected and what came
 */
export function decodeInferRequest(request: ModelInferRequest, outputSpecs: readonly TensorSpec[], model: string): DecodedRequest {
  if (request.inputs.length === 0) throw invalid('the request has no inputs');
  // Ignoring them would answer each request of a sequence as if it stood alone.
  const sequence = SEQUENCE_PARAMETERS.find((name) => Object.hasOwn(request.parameters, name));
  if (sequence !== undefined) throw invalid(`parameter "${sequence}": modelhost has no sequence batching; send each request on its own`);
  const raw = request.raw_input_contents;
  if (raw.length > 0 && raw.length !== request.inputs.length) {
    throw invalid(`raw_input_contents has ${raw.length} entries for ${request.inputs.length} inputs; send one per input, in the order of inputs`);
  }
  const inputs: InferInputs = new Map();
  request.inputs.forEach((input, index) => {
    const where = `input '${input.name}'`;
    if (input.name === '') throw invalid(`inputs[${index}] has no name`);
    if (inputs.has(input.name)) throw invalid(`${where} is given twice`);
    const shared = sharedMemoryParameter(input.parameters);
    if (shared !== undefined) throw invalid(`${where}: parameter "${shared}": modelhost has no shared-memory extension; send the values in the request`);
    const dtype = dtypeFromKServe(input.datatype);
    if (dtype === undefined) throw invalid(`${where}: unknown datatype ${JSON.stringify(input.datatype)} (expected one of ${Object.values(DTYPES).map((d) => d.kserve).join(', ')})`);
    const shape = input.shape.map((d) => (CANONICAL_DIMENSION.test(d) ? Number(d) : Number.NaN));
    if (!shape.every(Number.isSafeInteger)) throw invalid(`${where}: shape must hold non-negative integers, got [${input.shape.join(', ')}]`);
    const elements = shapeSize(shape);
    const filled = input.contents === null ? [] : CONTENTS_FIELDS.filter((f) => (input.contents![f]?.length ?? 0) > 0);
    if (raw.length > 0) {
      if (filled.length > 0) throw invalid(`${where}: has ${filled.join(', ')} while the request uses raw_input_contents; send every input one way`);
      inputs.set(input.name, { data: convert(where, () => fromRawBytes(raw[index]!, dtype, elements)), shape, dtype } as Tensor);
      return;
    }
    const field = CONTENTS_FIELD[dtype];
    if (field === undefined) throw invalid(`${where}: ${DTYPES[dtype].kserve} values go in raw_input_contents (the protocol has no ${DTYPES[dtype].kserve} contents)`);
    const stray = filled.filter((f) => f !== field);
    if (stray.length > 0) throw invalid(`${where}: ${DTYPES[dtype].kserve} values go in contents.${field}, got ${stray.map((f) => `contents.${f}`).join(', ')}`);
    const values = (input.contents?.[field] ?? []) as readonly unknown[];
    if (values.length !== elements) throw invalid(`${where}: contents.${field} has ${values.length} elements but shape [${shape.join(', ')}] holds ${elements}`);
    inputs.set(input.name, { data: typedValues(dtype, values), shape, dtype });
  });
  return { inputs, outputs: requestedOutputs(request, outputSpecs, model), raw: raw.length > 0, timeoutMs: timeoutParameter(request.parameters['timeout']) };
}

/** Values of a `contents` field as the codec takes them: 64-bit integers as bigints, bytes copied. */
function typedValues(dtype: DType, values: readonly unknown[]): unknown[] {
  switch (DTYPES[dtype].kind) {
    case 'bigint':
      // Decimal strings from the wire (longs: String): exact, whatever their size.
      return values.map((v) => BigInt(v as string));
    case 'string':
      // Never alias the received message's buffer.
      return values.map((v) => new Uint8Array(v as Uint8Array));
    default:
      return [...values];
  }
}

function requestedOutputs(request: ModelInferRequest, specs: readonly TensorSpec[], model: string): readonly string[] | undefined {
  if (request.outputs.length === 0) return undefined;
  const known = new Set(specs.map((s) => s.name));
  const seen = new Set<string>();
  for (const output of request.outputs) {
    if (!known.has(output.name)) throw invalid(`requested output ${JSON.stringify(output.name)} is not an output of model '${model}' (outputs: ${[...known].join(', ')})`);
    if (seen.has(output.name)) throw invalid(`output ${JSON.stringify(output.name)} is requested twice`);
    if (Object.hasOwn(output.parameters, 'classification')) throw invalid(`output ${JSON.stringify(output.name)}: the classification extension is not supported`);
    const shared = sharedMemoryParameter(output.parameters);
    if (shared !== undefined) throw invalid(`output ${JSON.stringify(output.name)}: parameter "${shared}": modelhost has no shared-memory extension; outputs come in the response`);
    seen.add(output.name);
  }
  return [...seen];
}

function timeoutParameter(parameter: InferParameter | undefined): number | undefined {
  if (parameter === undefined) return undefined;
  const text = parameter.parameter_choice === 'int64_param' ? parameter.int64_param : parameter.parameter_choice === 'uint64_param' ? parameter.uint64_param : undefined;
  const micros = text === undefined ? Number.NaN : Number(text);
  if (!(Number.isSafeInteger(micros) && micros >= 0)) throw invalid(`parameter "timeout" must be an int64 number of microseconds ≥ 0, got ${JSON.stringify(parameter)}`);
  return micros === 0 ? undefined : micros / 1000;
}

/**
 * The response's outputs: raw (`raw_output_contents`, one entry per output, in order) when the
 * request was raw or an output has no typed contents field (FP16), typed `contents` otherwise.
 *
 * @throws GrpcCallError RESOURCE_EXHAUSTED when the outputs would exceed `maxBytes`
 */
export function encodeOutputs(outputs: Record<string, Tensor>, names: readonly string[], raw: boolean, maxBytes: number): { outputs: InferOutputTensor[]; raw_output_contents: Uint8Array[] } {
  const tensors = names.map((name) => [name, outputs[name]!] as const);
  const size = tensors.reduce((n, [, t]) => n + rawByteLength(t.data), 0);
  if (size > maxBytes) {
    throw new GrpcCallError(GrpcStatus.RESOURCE_EXHAUSTED, `the outputs are ${size} bytes, over the ${maxBytes}-byte message bound (maxSendMessageBytes); ask for fewer outputs`);
  }
  const asRaw = raw || tensors.some(([, t]) => CONTENTS_FIELD[t.dtype] === undefined);
  const entries = tensors.map(([name, t]) => ({ name, datatype: DTYPES[t.dtype].kserve, shape: [...t.shape] }));
  if (asRaw) return { outputs: entries, raw_output_contents: tensors.map(([, t]) => toRawBytes(t.data)) };
  return { outputs: entries.map((entry, i) => ({ ...entry, contents: typedContents(tensors[i]![1]) })), raw_output_contents: [] };
}

/** A tensor's values in its `contents` field: 64-bit integers as decimal strings (exact), bytes as bytes. */
function typedContents(tensor: Tensor): InferTensorContents & Record<string, unknown[]> {
  const field = CONTENTS_FIELD[tensor.dtype]!;
  const data: TensorData = tensor.data;
  switch (DTYPES[tensor.dtype].kind) {
    case 'bigint':
      return { [field]: Array.from(data as BigInt64Array | BigUint64Array, String) };
    case 'bool':
      return { [field]: Array.from(data as Uint8Array, (v) => v !== 0) };
    case 'string':
      return { [field]: (data as BytesElement[]).map(bytesOf) };
    default:
      return { [field]: Array.from(data as ArrayLike<number>) };
  }
}

function convert<T>(where: string, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof ConversionError) throw invalid(`${where}: ${error.message}`);
    throw error;
  }
}

function invalid(message: string): ModelHostError {
  return new ModelHostError(ErrorCode.INVALID_INPUT, message);
}
