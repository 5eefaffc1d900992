import { DTYPES, shapeSize, type Signature, type Tensor, type TensorSpec } from '../tensor/index.js';

/**
 * Synthetic inputs for warmup: zeros (empty strings for string tensors), with every
 * variable dimension set to 1 and the batch dimension set to `rows`.
 */
export function syntheticInputs(signature: Signature, rows: number, batched: boolean): Record<string, Tensor> {
  const inputs: Record<string, Tensor> = {};
  for (const spec of signature.inputs) inputs[spec.name] = zeros(spec, spec.shape.map((d, i) => (i === 0 && batched ? rows : d < 0 ? 1 : d)));
  return inputs;
}

/** Whether synthetic inputs are exact: no variable dimension other than the batch one (nor a rank) had to be guessed. */
export function isFullyShaped(signature: Signature, batched: boolean): boolean {
  return signature.inputs.every((spec) => spec.rankUnknown !== true && spec.shape.every((d, i) => d >= 0 || (batched && i === 0)));
}

/** Configured warmup inputs, where `{ shape }` without data stands for zeros of that shape. */
export function expandWarmupInputs(inputs: Readonly<Record<string, unknown>>, signature: Signature): Record<string, unknown> {
  const expanded: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(inputs)) {
    const spec = signature.inputs.find((s) => s.name === name);
    const shapeOnly = typeof value === 'object' && value !== null && 'shape' in value && !('data' in value);
    expanded[name] = spec !== undefined && shapeOnly && Array.isArray((value as { shape: unknown }).shape) ? zeros(spec, (value as { shape: number[] }).shape) : value;
  }
  return expanded;
}

/**
 * `tensor` with `rows` rows along its first dimension: its own rows repeated in order (or
 * the first `rows` of them), so a configured warmup set can be run at any batch size.
 */
export function withRows(tensor: Tensor, rows: number): Tensor {
  const have = tensor.shape[0] ?? 0;
  if (have === rows || have === 0) return tensor;
  const rowSize = shapeSize(tensor.shape.slice(1));
  const source = tensor.data as ArrayLike<unknown>;
  const Storage = (Array.isArray(source) ? Array : source.constructor) as new (size: number) => unknown[];
  const data = new Storage(rows * rowSize);
  for (let row = 0; row < rows; row++) {
    const from = (row % have) * rowSize;
    for (let i = 0; i < rowSize; i++) data[row * rowSize + i] = source[from + i];
  }
  return { data: data as unknown as Tensor['data'], shape: [rows, ...tensor.shape.slice(1)], dtype: tensor.dtype };
}

function zeros(spec: TensorSpec, shape: readonly number[]): Tensor {
  const size = shapeSize(shape);
  const storage = DTYPES[spec.dtype].array;
  return { data: storage === undefined ? new Array<string>(size).fill('') : new storage(size), shape, dtype: spec.dtype };
}
