/**
 * Which graph inputs and outputs of an ONNX model declare no shape at all (rank unknown),
 * read from the model's protobuf bytes. onnxruntime reports such a tensor's shape as `[]`,
 * the same as a scalar's, so only the file tells them apart.
 *
 * A walk of the wire format over a few nested fields (onnx.proto: ModelProto.graph = 7,
 * GraphProto.input = 11 / output = 12, ValueInfoProto.name = 1 / type = 2,
 * TypeProto.tensor_type = 1, TypeProto.Tensor.shape = 2); every other field is skipped by its
 * length, so weights are never decoded. A full protobuf library and the ONNX schema would be
 * a runtime dependency for one presence check.
 */

const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;

const GRAPH = 7;
const INPUT = 11;
const OUTPUT = 12;

/** Names of the tensors whose type has no `shape`. */
export interface UndeclaredShapes {
  readonly inputs: ReadonlySet<string>;
  readonly outputs: ReadonlySet<string>;
}

/** The inputs and outputs declared without a shape; none when the bytes cannot be read as a model. */
export function undeclaredShapes(bytes: Uint8Array): UndeclaredShapes {
  try {
    const graphs = [...fields(bytes, GRAPH)];
    return { inputs: unshaped(graphs, INPUT), outputs: unshaped(graphs, OUTPUT) };
  } catch {
    // Not a model this walk can read: onnxruntime loaded it, so keep its own reading (shape `[]`).
    return { inputs: new Set(), outputs: new Set() };
  }
}

/**
 * The names of a graph's value infos (`field`: inputs or outputs) whose tensor type has no
 * shape. A message field given more than once is read as protobuf merges it (as onnxruntime
 * does): its parts' repeated fields concatenate (`graphs`: every part of the graph), a field
 * set in any part is set, and a string's last part wins.
 */
function unshaped(graphs: readonly Uint8Array[], field: number): Set<string> {
  const names = new Set<string>();
  const text = new TextDecoder();
  for (const graph of graphs) {
    for (const info of fields(graph, field)) {
      const tensors = [...fields(info, 2)].flatMap((type) => [...fields(type, 1)]);
      if (tensors.length === 0 || tensors.some((tensor) => has(tensor, 2))) continue;
      names.add(text.decode(last(info, 1) ?? new Uint8Array()));
    }
  }
  return names;
}

/** Whether a message has length-delimited field `number`. */
function has(message: Uint8Array, number: number): boolean {
  for (const _ of fields(message, number)) return true;
  return false;
}

/** The last length-delimited field `number` of a message (a singular field given twice: the last wins). */
function last(message: Uint8Array, number: number): Uint8Array | undefined {
  let value: Uint8Array | undefined;
  for (const part of fields(message, number)) value = part;
  return value;
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
