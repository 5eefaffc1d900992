/**
 * Writes a response as JSON text a slice at a time, yielding to the event loop between
 * slices, so one large response does not stall other requests (health checks above all).
 * Tensor values are leaves (`TensorJson`) written element by element through the dtype's
 * strict JSON converter; the text is bounded by `limitBytes`.
 */
import { ConversionError, DTYPES, jsonElementText, shapeSize, type Tensor } from 'modelhost';
import { badRequest } from './http-errors.js';

/** Elements written between two turns of the event loop. */
export const ELEMENTS_PER_SLICE = 16_384;

/** Whether JSON.stringify writes every value of `dtype` that is finite and not -0 exactly (float32/64, 8..32-bit ints). */
export function stringifiesDtype(dtype: Tensor['dtype']): boolean {
  return dtype === 'float32' || dtype === 'float64' || DTYPES[dtype].kind === 'int';
}

/** Whether JSON.stringify writes every value of the tensor exactly: a dtype it writes exactly, every value finite and not -0. */
export function stringifiesWhole(tensor: Tensor): boolean {
  if (!stringifiesDtype(tensor.dtype)) return false;
  const data = tensor.data as Float32Array;
  return stringifiesExactly(data, 0, data.length);
}

/**
 * Part of a tensor as a (nested) JSON array: `shape` elements from element `start`, row-major.
 * `element` overrides the dtype's converter (TF Serving writes some BYTES as `{"b64": ...}`).
 */
export class TensorJson {
  readonly element: (value: unknown, index: number) => string;
  /** Numbers JSON.stringify writes exactly when finite and not -0 (float32/64, 8..32-bit ints): written a slice at a time. */
  readonly plainNumbers: boolean;

  constructor(
    readonly name: string,
    readonly tensor: Tensor,
    readonly start = 0,
    readonly shape: readonly number[] = tensor.shape,
    element?: (value: unknown, index: number) => string,
  ) {
    this.element = element ?? jsonElementText(tensor.dtype);
    const { dtype } = tensor;
    this.plainNumbers = element === undefined && stringifiesDtype(dtype);
  }
}

/** Whether JSON.stringify writes every value of `data[start, end)` exactly: finite, and no -0. */
function stringifiesExactly(data: ArrayLike<number>, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const x = data[i]!;
    if (x - x !== 0 || (x === 0 && 1 / x < 0)) return false;
  }
  return true;
}

export interface WriteJsonOptions {
  /** Most bytes (UTF-8) of the text; past it the request is refused. */
  readonly limitBytes: number;
  /** Said in the refusal: how to get a smaller response (e.g. the binary extension). */
  readonly hint: string;
}

/**
 * The JSON text of `value`: plain objects, Maps (as objects), arrays, primitives and TensorJson
 * leaves. A response small enough never to yield (the common answer of a few rows) is written
 * in one synchronous pass, without a promise per node; a larger one yields to the event loop
 * between slices of ELEMENTS_PER_SLICE elements. Both write the same text.
 * @throws ModelHostError INVALID_INPUT (400) when the text would pass `limitBytes`, or an element has no exact JSON form (the message ends with `hint`).
 */
export async function writeJson(value: unknown, options: WriteJsonOptions): Promise<string> {
  const { minimum, slots } = measure(value);
  if (minimum > options.limitBytes) throw tooLarge(minimum, options, 'at least');
  return slots < ELEMENTS_PER_SLICE ? writeJsonNow(value, options) : writeJsonSliced(value, options);
}

/** writeJson for a value of fewer than ELEMENTS_PER_SLICE slots: no pause would happen, so none is awaited. */
function writeJsonNow(value: unknown, options: WriteJsonOptions): string {
  const parts: string[] = [];
  let length = 0;
  const push = (text: string): void => {
    parts.push(text);
    length += text.length;
    if (length > options.limitBytes) throw tooLarge(length, options, 'more than');
  };
  const write = (node: unknown): void => {
    if (node instanceof TensorJson) return writeTensor(node);
    if (Array.isArray(node)) {
      push('[');
      for (let i = 0; i < node.length; i++) {
        if (i > 0) push(',');
        write(node[i]);
      }
      return push(']');
    }
    if (node instanceof Map || (typeof node === 'object' && node !== null)) {
      const entries = node instanceof Map ? [...(node as Map<string, unknown>)] : Object.entries(node);
      push('{');
      for (let i = 0; i < entries.length; i++) {
        push(`${i > 0 ? ',' : ''}${JSON.stringify(entries[i]![0])}:`);
        write(entries[i]![1]);
      }
      return push('}');
    }
    push(node === undefined ? 'null' : JSON.stringify(node));
  };
  const writeTensor = (leaf: TensorJson): void => {
    const { shape, start } = leaf;
    if (shape.length === 0) return push(elementText(leaf, start, options.hint));
    let index = start;
    const rowLength = shape[shape.length - 1]!;
    const level = (depth: number): void => {
      push('[');
      if (depth < shape.length - 1) {
        for (let i = 0; i < shape[depth]!; i++) {
          if (i > 0) push(',');
          level(depth + 1);
        }
      } else {
        push(rowSlice(leaf, index, rowLength, true, options.hint));
        index += rowLength;
      }
      push(']');
    };
    level(0);
  };
  write(value);
  return finish(parts, options);
}

/** writeJson for a large value: a pause (one event-loop turn) after every ELEMENTS_PER_SLICE slots. */
async function writeJsonSliced(value: unknown, options: WriteJsonOptions): Promise<string> {
  const parts: string[] = [];
  let length = 0;
  let sinceYield = 0;
  const push = (text: string): void => {
    parts.push(text);
    length += text.length;
    if (length > options.limitBytes) throw tooLarge(length, options, 'more than');
  };
  const write = async (node: unknown): Promise<void> => {
    if (node instanceof TensorJson) return writeTensor(node);
    if (Array.isArray(node)) {
      push('[');
      for (let i = 0; i < node.length; i++) {
        if (i > 0) push(',');
        await write(node[i]);
      }
      return push(']');
    }
    if (node instanceof Map || (typeof node === 'object' && node !== null)) {
      const entries = node instanceof Map ? [...(node as Map<string, unknown>)] : Object.entries(node);
      push('{');
      for (let i = 0; i < entries.length; i++) {
        push(`${i > 0 ? ',' : ''}${JSON.stringify(entries[i]![0])}:`);
        await write(entries[i]![1]);
      }
      return push('}');
    }
    push(node === undefined ? 'null' : JSON.stringify(node));
  };
  const yieldNow = async (): Promise<void> => {
    sinceYield = 0;
    await new Promise<void>((resolve) => setImmediate(resolve));
  };
  const writeTensor = async (leaf: TensorJson): Promise<void> => {
    const { shape, start } = leaf;
    if (shape.length === 0) return push(elementText(leaf, start, options.hint));
    let index = start;
    const rowLength = shape[shape.length - 1]!;
    const level = async (depth: number): Promise<void> => {
      if (depth < shape.length - 1) {
        push('[');
        for (let i = 0; i < shape[depth]!; i++) {
          if (i > 0) push(',');
          await level(depth + 1);
        }
        return push(']');
      }
      // The innermost row, a slice at a time: one string per slice, a yield between slices.
      push('[');
      sinceYield++;
      for (let done = 0; done < rowLength; ) {
        const n = Math.min(rowLength - done, ELEMENTS_PER_SLICE - sinceYield);
        push(rowSlice(leaf, index, n, done === 0, options.hint));
        index += n;
        done += n;
        sinceYield += n;
        if (sinceYield >= ELEMENTS_PER_SLICE) await yieldNow();
      }
      push(']');
      if (sinceYield >= ELEMENTS_PER_SLICE) await yieldNow();
    };
    await level(0);
  };
  await write(value);
  return finish(parts, options);
}

/** The parts joined, checked against the bound in UTF-8 bytes (the running count is in UTF-16 units). */
function finish(parts: readonly string[], options: WriteJsonOptions): string {
  const text = parts.length === 1 ? parts[0]! : parts.join('');
  const bytes = Buffer.byteLength(text);
  if (bytes > options.limitBytes) throw tooLarge(bytes, options, '');
  return text;
}

/** Element `i` of the leaf's tensor as JSON; a value without an exact form is the request's 400. */
function elementText(leaf: TensorJson, i: number, hint: string): string {
  try {
    return leaf.element((leaf.tensor.data as ArrayLike<unknown>)[i], i);
  } catch (error) {
    if (error instanceof ConversionError) throw badRequest(`output '${leaf.name}': ${error.message}; ${hint}`);
    throw error;
  }
}

/** Elements [index, index + n) of a row, comma-separated, with a leading comma unless `first`. */
function rowSlice(leaf: TensorJson, index: number, n: number, first: boolean, hint: string): string {
  const data = leaf.tensor.data;
  if (leaf.plainNumbers && stringifiesExactly(data as ArrayLike<number>, index, index + n)) {
    // The common case in one native call: '[1,2,3]' without its brackets.
    const json = JSON.stringify(Array.from((data as Float32Array).subarray(index, index + n)));
    return (first ? '' : ',') + json.slice(1, -1);
  }
  let slice = '';
  for (let k = 0; k < n; k++) slice += k > 0 || !first ? `,${elementText(leaf, index + k, hint)}` : elementText(leaf, index + k, hint);
  return slice;
}

/**
 * A lower bound of the text's length (each tensor element takes at least one character and a
 * separator: refuse early, before any work), and the slots a sliced write counts toward its
 * pauses (elements, and one per innermost row).
 */
function measure(value: unknown): { minimum: number; slots: number } {
  let elements = 0;
  let rows = 0;
  const visit = (node: unknown): void => {
    if (node instanceof TensorJson) {
      const size = shapeSize(node.shape);
      elements += size;
      const rowLength = node.shape.length === 0 ? 1 : node.shape[node.shape.length - 1]!;
      rows += node.shape.length === 0 ? 0 : rowLength === 0 ? shapeSize(node.shape.slice(0, -1)) : size / rowLength;
    } else if (Array.isArray(node)) node.forEach(visit);
    else if (node instanceof Map) (node as Map<string, unknown>).forEach(visit);
    else if (typeof node === 'object' && node !== null) Object.values(node).forEach(visit);
  };
  visit(value);
  return { minimum: 2 * elements, slots: elements + rows };
}

function tooLarge(bytes: number, options: WriteJsonOptions, qualifier: string): Error {
  return badRequest(`the JSON response would be ${qualifier ? `${qualifier} ` : ''}${bytes} bytes, over the ${options.limitBytes}-byte bound (maxResponseBytes); ${options.hint}`);
}
