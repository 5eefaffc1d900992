/**
 * Which graph outputs of an ONNX model declare no shape at all (rank unknown), read from the
 * model's protobuf bytes. onnxruntime reports such an output's shape as `[]`, the same as a
 * scalar's, so only the file tells them apart.
 *
 * A walk of the wire format over three nested fields (onnx.proto: ModelProto.graph = 7,
 * GraphProto.output = 12, ValueInfoProto.name = 1 / type = 2, TypeProto.tensor_type = 1,
 * TypeProto.Tensor.shape = 2); every other field is skipped by its length, so weights are
 * never decoded. A full protobuf library and the ONNX schema would be a runtime dependency
 * for one presence check.
 */

const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;

/** Names of the outputs whose tensor type has no `shape`; empty when the bytes cannot be read as a model. */
export function outputsWithoutShape(bytes: Uint8Array): Set<string> {
  const names = new Set<string>();
  try {
    for (const graph of fields(bytes, 7)) {
      for (const output of fields(graph, 12)) {
        const name = new TextDecoder().decode(first(output, 1) ?? new Uint8Array());
        const type = first(output, 2);
        const tensor = type === undefined ? undefined : first(type, 1);
        if (tensor !== undefined && first(tensor, 2) === undefined) names.add(name);
      }
    }
  } catch {
    // Not a model this walk can read: onnxruntime loaded it, so keep its own reading (shape `[]`).
    names.clear();
  }
  return names;
}

/** The first length-delimited field `number` of a message. */
function first(message: Uint8Array, number: number): Uint8Array | undefined {
  for (const value of fields(message, number)) return value;
  return undefined;
}

/** Every length-delimited field `number` of a message, in order (views, not copies). */
function* fields(message: Uint8Array, number: number): Generator<Uint8Array> {
  let at = 0;
  while (at < message.length) {
    const [tag, afterTag] = varint(message, at);
    at = afterTag;
    const wireType = tag % 8;
    const field = Math.floor(tag / 8);
    if (wireType === VARINT) at = varint(message, at)[1];
    else if (wireType === FIXED64) at += 8;
    else if (wireType === FIXED32) at += 4;
    else if (wireType === LENGTH_DELIMITED) {
      const [length, start] = varint(message, at);
      const end = start + length;
      if (end > message.length) throw new RangeError('a field runs past the end of its message');
      if (field === number) yield message.subarray(start, end);
      at = end;
    } else throw new RangeError(`wire type ${wireType} is not one onnx.proto uses`);
  }
}

/** A base-128 varint at `at`: its value (exact up to 2^53) and the offset after it. */
function varint(bytes: Uint8Array, at: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (let i = at; i < bytes.length && i < at + 10; i++) {
    const byte = bytes[i]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return [value, i + 1];
    scale *= 128;
  }
  throw new RangeError('a varint runs past the end of its message');
}
