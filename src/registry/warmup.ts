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

/** Whether synthetic inputs are exact: no variable dimension other than the batch one had to be guessed. */
export function isFullyShaped(signature: Signature, batched: boolean): boolean {
  return signature.inputs.every((spec) => spec.shape.every((d, i) => d >= 0 || (batched && i === 0)));
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

function zeros(spec: TensorSpec, shape: readonly number[]): Tensor {
  const size = shapeSize(shape);
  const storage = DTYPES[spec.dtype].array;
  return { data: storage === undefined ? new Array<string>(size).fill('') : new storage(size), shape, dtype: spec.dtype };
}
