import type { DataByDType, DType } from './dtype.js';

/**
 * A dense, row-major tensor. `data.length` equals the product of `shape`
 * (a scalar has shape `[]` and one element).
 */
export interface Tensor<D extends DType = DType> {
  readonly data: DataByDType[D];
  readonly shape: readonly number[];
  readonly dtype: D;
}

/** What a model's input or output looks like. `-1` is a dimension of any size; a leading `-1` is the batch dimension. */
export interface TensorSpec {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  /**
   * Other names requests may use for this input (graph models: the tensor name with and
   * without `:0`). Outputs list theirs for reference; results are keyed by `name`.
   */
  readonly aliases?: readonly string[];
  /**
   * For an `int32` input the model declares narrower (a tfjs graph's `DT_UINT8` image,
   * which tfjs feeds as int32): the smallest and largest value it can hold, inclusive. A
   * request with a value outside is refused (`INVALID_INPUT`) before it is queued.
   */
  readonly range?: readonly [min: number, max: number];
  /**
   * The dtype the model file declares, where the runtime computes on a wider one (a tfjs
   * graph's `DT_UINT8` image, fed as `int32`; `range` bounds its values). Metadata on every
   * protocol reports this one. For an input, requests may send it as well as `dtype`: the
   * values are widened exactly. For an output, results come back in it (`predict` gives a
   * `Uint8Array` with `dtype: 'uint8'`): the runtime's `int32` values narrowed exactly, or the
   * run fails with `INFERENCE_FAILED` naming the first value the type cannot hold. Honoured
   * for an `int8`/`uint8`/`int16`/`uint16` on an `int32` tensor (a custom runtime's other
   * pairs are ignored: no type is advertised that requests could not be sent in or results
   * could not come back in).
   */
  readonly declaredDtype?: DType;
  /**
   * The model declares no shape for this tensor, not even its rank (an ONNX input or output
   * without `shape`): `shape` is `[]` and says nothing, and any shape is accepted (requests
   * give theirs, runs return theirs). A model with such a tensor is not batched (nothing says
   * its first dimension is the batch).
   */
  readonly rankUnknown?: boolean;
}

export interface Signature {
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  /**
   * The runtime carries BYTES elements only as UTF-8 text without NUL (onnxruntime-node's
   * string tensors): other bytes are refused as INVALID_INPUT before the request is queued.
   */
  readonly textOnlyStrings?: boolean;
  /** The largest batch the model accepts, where the model itself declares one. */
  readonly maxBatchSize?: number;
}

/** Number of elements of a shape (1 for a scalar). */
export function shapeSize(shape: readonly number[]): number {
  let size = 1;
  for (let i = 0; i < shape.length; i++) size *= shape[i]!;
  return size;
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * Whether a signature has a batch dimension: every input and output has a leading `-1`.
 * Only such models are batched; the others run one request at a time.
 */
export function hasBatchDimension(signature: Signature): boolean {
  const leading = (spec: TensorSpec) => spec.shape.length > 0 && spec.shape[0] === -1;
  return signature.inputs.length > 0 && signature.inputs.every(leading) && signature.outputs.every(leading);
}

export function tensor<D extends DType>(data: DataByDType[D], shape: readonly number[], dtype: D): Tensor<D> {
  return { data, shape, dtype };
}
