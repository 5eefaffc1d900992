/**
 * Raw little-endian tensor bytes, as the KServe binary tensor data extension (and gRPC's
 * `raw_input_contents`) carry them. Fixed-size dtypes are the elements' bytes; BYTES is, per
 * element, a 4-byte little-endian length and that many bytes. Strict: the byte count must be
 * exactly what the shape needs, bool bytes are 0 or 1.
 */
import { endianness } from 'node:os';
import { DTYPES, type DType, type TensorData } from '../dtype.js';
import { ConversionError } from './conversion-error.js';
import { bytesOf, invalidBool, type BytesElement } from './element-codec.js';

// Typed arrays use the host's byte order; the wire is little-endian.
const LITTLE_ENDIAN = endianness() === 'LE';

/** `elements` values of `dtype` from raw bytes (copied: the result never aliases the request). */
export function fromRawBytes(bytes: Uint8Array, dtype: DType, elements: number): TensorData {
  if (dtype === 'string') return bytesElements(bytes, elements);
  if (!LITTLE_ENDIAN) throw new ConversionError('raw tensor bytes are little-endian; this host is big-endian and does not byte-swap');
  const info = DTYPES[dtype];
  const needed = elements * info.bytes;
  if (bytes.byteLength !== needed) throw new ConversionError(`has ${bytes.byteLength} bytes, but ${elements} elements of ${info.kserve} need ${needed}`);
  const copy = new Uint8Array(needed);
  copy.set(bytes);
  if (dtype === 'bool') {
    const bad = invalidBool(copy);
    if (bad >= 0) throw new ConversionError(`element ${bad} is byte ${copy[bad]}; BOOL bytes are 0 or 1`);
  }
  return new info.array!(copy.buffer, 0, elements);
}

function bytesElements(received: Uint8Array, elements: number): BytesElement[] {
  // A plain view: on a Buffer (what node:http and gRPC hand over) `slice` would alias, not copy.
  const bytes = new Uint8Array(received.buffer, received.byteOffset, received.byteLength);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Every element takes at least its 4-byte length: more elements than that cannot be there.
  if (elements > bytes.byteLength / 4) throw new ConversionError(`has ${bytes.byteLength} bytes, too few for ${elements} BYTES elements (4-byte length each)`);
  const out = new Array<BytesElement>(elements);
  let offset = 0;
  for (let i = 0; i < elements; i++) {
    if (offset + 4 > bytes.byteLength) throw new ConversionError(`ends inside the length of BYTES element ${i} (offset ${offset})`);
    const length = view.getUint32(offset, true);
    offset += 4;
    if (offset + length > bytes.byteLength) throw new ConversionError(`BYTES element ${i} declares ${length} bytes, but only ${bytes.byteLength - offset} remain`);
    out[i] = bytes.slice(offset, offset + length);
    offset += length;
  }
  if (offset !== bytes.byteLength) throw new ConversionError(`has ${bytes.byteLength - offset} bytes after its ${elements} BYTES elements`);
  return out;
}

/** A tensor's raw little-endian bytes; a typed array is viewed, not copied. */
export function toRawBytes(data: TensorData): Uint8Array {
  if (!Array.isArray(data)) {
    if (!LITTLE_ENDIAN) throw new ConversionError('raw tensor bytes are little-endian; this host is big-endian and does not byte-swap');
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  const parts = (data as BytesElement[]).map(bytesOf);
  const out = new Uint8Array(parts.reduce((n, p) => n + 4 + p.byteLength, 0));
  const view = new DataView(out.buffer);
  let offset = 0;
  for (const part of parts) {
    view.setUint32(offset, part.byteLength, true);
    out.set(part, offset + 4);
    offset += 4 + part.byteLength;
  }
  return out;
}

/** Bytes `toRawBytes` would produce, without producing them (for response size bounds). */
export function rawByteLength(data: TensorData): number {
  if (!Array.isArray(data)) return data.byteLength;
  let n = 0;
  for (const e of data as BytesElement[]) n += 4 + (typeof e === 'string' ? Buffer.byteLength(e) : e.byteLength);
  return n;
}
