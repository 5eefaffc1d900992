import { allocate, elementWriter } from './codec/element-codec.js';
import { DTYPES, type DType } from './dtype.js';
import type { Tensor, TensorSpec } from './tensor.js';

/** A tensor's datatype as its model declares it, and that datatype's name in each protocol. */
export interface DeclaredDatatype {
  readonly dtype: DType;
  /** KServe v2 / Open Inference Protocol, REST and gRPC (`UINT8`). */
  readonly kserve: string;
  /** TF Serving's metadata (`DT_UINT8`). */
  readonly tfServing: string;
}

/**
 * The datatype the model declares for a tensor, named for each protocol: `declaredDtype`
 * where the runtime computes on a wider type (a tfjs graph's uint8 image, fed as int32:
 * see `narrowerDeclared`), else `dtype`. Every metadata answer names datatypes through this one mapping, so the
 * protocols agree with each other and with the model file.
 */
export function declaredDatatype(spec: Pick<TensorSpec, 'dtype' | 'declaredDtype'>): DeclaredDatatype {
  const info = DTYPES[narrowerDeclared(spec) ?? spec.dtype];
  return { dtype: info.name, kserve: info.kserve, tfServing: info.tfServing };
}

/**
 * `spec.declaredDtype` where modelhost carries it: an integer type an `int32` tensor stands
 * for (the values widen exactly, and `range` bounds them); undefined otherwise, so metadata
 * never names a type that requests could not be sent in.
 */
export function narrowerDeclared(spec: Pick<TensorSpec, 'dtype' | 'declaredDtype'>): DType | undefined {
  const declared = spec.declaredDtype;
  if (declared === undefined || declared === spec.dtype || spec.dtype !== 'int32') return undefined;
  return DTYPES[declared]?.kind === 'int' && DTYPES[declared].bytes < 4 ? declared : undefined;
}

/**
 * An output the runtime computed on a wider type than the model declares (a tfjs graph's
 * `DT_UINT8` output comes back as int32), in the declared type (`narrowerDeclared(spec)`):
 * each value stored by that datatype's one converter (`elementWriter`), so it is exact, or
 * `ConversionError` names the first value the type cannot hold (`value 300 at element 2 is out
 * of range for dtype uint8 [0, 255]`). Any other tensor is returned as it is.
 */
export function asDeclared(spec: Pick<TensorSpec, 'dtype' | 'declaredDtype'>, output: Tensor): Tensor {
  const declared = narrowerDeclared(spec);
  if (declared === undefined || output.dtype !== spec.dtype) return output;
  const wide = output.data as Int32Array;
  const data = allocate(declared, wide.length);
  const write = elementWriter(declared, data);
  for (let i = 0; i < wide.length; i++) write(i, wide[i]);
  return { data, shape: output.shape, dtype: declared } as Tensor;
}
