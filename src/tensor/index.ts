export type { DType, DataByDType, TensorData, TypedArray, DTypeInfo } from './dtype.js';
export { DTYPES, isDType, dtypeOfData, dtypeFromKServe, float16BitsToNumber, float32ToFloat16Bits } from './dtype.js';
export type { Tensor, TensorSpec, Signature } from './tensor.js';
export { tensor, shapeSize, formatShape, hasBatchDimension } from './tensor.js';
export { fromNested, fromFlat, inferShape } from './convert.js';
export { InputValidator } from './input-validator.js';
export type { InputMode, PreparedInputs } from './input-validator.js';
export { concatRows, splitRows, dropBatchDimension } from './batch.js';
