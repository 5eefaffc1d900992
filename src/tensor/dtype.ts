import { float16Bits, float16Value } from './codec/float16.js';

/** Element types a Tensor can hold. `float16` is stored as raw IEEE-754 half bits in a Uint16Array. */
export type DType =
  | 'float32'
  | 'float64'
  | 'float16'
  | 'int8'
  | 'uint8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'uint64'
  | 'bool'
  | 'string';

/**
 * The storage used for each dtype. `bool` is one byte per element (0 or 1). `string` is the
 * BYTES datatype: each element is UTF-8 text (a string) or raw bytes (a Uint8Array), so
 * callers that pass strings keep working and binary data travels exactly.
 */
export interface DataByDType {
  float32: Float32Array;
  float64: Float64Array;
  float16: Uint16Array;
  int8: Int8Array;
  uint8: Uint8Array;
  int16: Int16Array;
  uint16: Uint16Array;
  int32: Int32Array;
  uint32: Uint32Array;
  int64: BigInt64Array;
  uint64: BigUint64Array;
  bool: Uint8Array;
  string: (string | Uint8Array)[];
}

export type TypedArray = DataByDType[Exclude<DType, 'string'>];
export type TensorData = DataByDType[DType];

type TypedArrayConstructor = {
  new (length: number): TypedArray;
  new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): TypedArray;
  readonly BYTES_PER_ELEMENT: number;
};

export interface DTypeInfo {
  readonly name: DType;
  /** Constructor of the storage; `undefined` for strings. */
  readonly array: TypedArrayConstructor | undefined;
  /** Bytes per element; 0 for strings. */
  readonly bytes: number;
  readonly kind: 'float' | 'int' | 'bigint' | 'bool' | 'string';
  /** The KServe v2 / Open Inference Protocol datatype name (REST and gRPC). */
  readonly kserve: string;
  /** TensorFlow's `DataType` name, as TF Serving's metadata writes it (`DT_FLOAT`). */
  readonly tfServing: string;
}

function info(name: DType, array: TypedArrayConstructor | undefined, kind: DTypeInfo['kind'], kserve: string, tfServing: string): DTypeInfo {
  return Object.freeze({ name, array, bytes: array?.BYTES_PER_ELEMENT ?? 0, kind, kserve, tfServing });
}

export const DTYPES: Readonly<Record<DType, DTypeInfo>> = Object.freeze({
  float32: info('float32', Float32Array as TypedArrayConstructor, 'float', 'FP32', 'DT_FLOAT'),
  float64: info('float64', Float64Array as TypedArrayConstructor, 'float', 'FP64', 'DT_DOUBLE'),
  float16: info('float16', Uint16Array as TypedArrayConstructor, 'float', 'FP16', 'DT_HALF'),
  int8: info('int8', Int8Array as TypedArrayConstructor, 'int', 'INT8', 'DT_INT8'),
  uint8: info('uint8', Uint8Array as TypedArrayConstructor, 'int', 'UINT8', 'DT_UINT8'),
  int16: info('int16', Int16Array as TypedArrayConstructor, 'int', 'INT16', 'DT_INT16'),
  uint16: info('uint16', Uint16Array as TypedArrayConstructor, 'int', 'UINT16', 'DT_UINT16'),
  int32: info('int32', Int32Array as TypedArrayConstructor, 'int', 'INT32', 'DT_INT32'),
  uint32: info('uint32', Uint32Array as TypedArrayConstructor, 'int', 'UINT32', 'DT_UINT32'),
  int64: info('int64', BigInt64Array as TypedArrayConstructor, 'bigint', 'INT64', 'DT_INT64'),
  uint64: info('uint64', BigUint64Array as TypedArrayConstructor, 'bigint', 'UINT64', 'DT_UINT64'),
  bool: info('bool', Uint8Array as TypedArrayConstructor, 'bool', 'BOOL', 'DT_BOOL'),
  string: info('string', undefined, 'string', 'BYTES', 'DT_STRING'),
});

export function isDType(value: unknown): value is DType {
  return typeof value === 'string' && Object.hasOwn(DTYPES, value);
}

const KSERVE_TO_DTYPE: ReadonlyMap<string, DType> = new Map(Object.values(DTYPES).map((d) => [d.kserve, d.name]));

/** Maps a KServe v2 datatype (`FP32`, `INT64`, `BYTES`, ...) to a dtype. */
export function dtypeFromKServe(datatype: string): DType | undefined {
  return KSERVE_TO_DTYPE.get(datatype);
}

/**
 * The dtype whose storage is this typed array. Ambiguous storages (Uint8Array: uint8 or bool,
 * Uint16Array: uint16 or float16) answer the numeric one; pass a dtype to say otherwise.
 */
export function dtypeOfData(data: unknown): DType | undefined {
  if (Array.isArray(data)) return data.every((v) => typeof v === 'string' || v instanceof Uint8Array) ? 'string' : undefined;
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Int16Array) return 'int16';
  if (data instanceof Uint16Array) return 'uint16';
  if (data instanceof Uint32Array) return 'uint32';
  if (data instanceof BigUint64Array) return 'uint64';
  return undefined;
}

/** Whether `data` is a valid storage for `dtype`. */
export function isStorageOf(data: unknown, dtype: DType): boolean {
  const storage = DTYPES[dtype].array;
  if (storage === undefined) return Array.isArray(data);
  return data instanceof storage && !(dtype === 'uint8' && data instanceof Uint8ClampedArray);
}

/**
 * The IEEE-754 half-precision bits nearest to `value`, rounding half to even (as numpy);
 * values past 65504 round to ±Infinity. (The name predates float64 inputs: any number works.)
 */
export function float32ToFloat16Bits(value: number): number {
  return float16Bits(value);
}

/** The number a half-precision bit pattern holds. */
export function float16BitsToNumber(bits: number): number {
  return float16Value(bits);
}
