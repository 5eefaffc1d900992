/**
 * Writes a response as JSON text a slice at a time, yielding to the event loop between
 * slices, so one large response does not stall other requests (health checks above all).
 * Tensor values are leaves (`TensorJson`) written element by element through the dtype's
 * strict JSON converter; the text is bounded by `limitBytes`.
 */
import { ConversionError, DTYPES, jsonElementText, shapeSize, type Tensor } from 'modelhost';
import { badRequest } from './http-errors.js';

/** Elements written between two turns of the event loop. */
const ELEMENTS_PER_SLICE = 16_384;

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
    this.plainNumbers = element === undefined && (dtype === 'float32' || dtype === 'float64' || DTYPES[dtype].kind === 'int');
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

/** The JSON text of `value`: plain objects, Maps (as objects), arrays, primitives and TensorJson leaves. */
export async function writeJson(value: unknown, options: WriteJsonOptions): Promise<string> {
  const lowerBound = minimumLength(value);
  if (lowerBound > options.limitBytes) throw tooLarge(lowerBound, options, 'at least');
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
    const data = leaf.tensor.data as ArrayLike<unknown>;
    const text = (i: number): string => {
      try {
        return leaf.element(data[i], i);
      } catch (error) {
        if (error instanceof ConversionError) throw badRequest(`output '${leaf.name}': ${error.message}; ${options.hint}`);
        throw error;
      }
    };
    if (shape.length === 0) return push(text(start));
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
        let slice: string;
        if (leaf.plainNumbers && stringifiesExactly(data as ArrayLike<number>, index, index + n)) {
          // The common case in one native call: '[1,2,3]' without its brackets.
          const json = JSON.stringify(Array.from((data as Float32Array).subarray(index, index + n)));
          slice = (done > 0 ? ',' : '') + json.slice(1, -1);
          index += n;
          done += n;
        } else {
          slice = '';
          for (let k = 0; k < n; k++, done++) slice += done > 0 ? `,${text(index++)}` : text(index++);
        }
        push(slice);
        sinceYield += n;
        if (sinceYield >= ELEMENTS_PER_SLICE) await yieldNow();
      }
      push(']');
      if (sinceYield >= ELEMENTS_PER_SLICE) await yieldNow();
    };
    await level(0);
  };
  await write(value);
  const text = parts.join('');
  const bytes = Buffer.byteLength(text);
  if (bytes > options.limitBytes) throw tooLarge(bytes, options, '');
  return text;
}

/** Each tensor element takes at least one character and a separator: refuse early, before any work. */
function minimumLength(value: unknown): number {
  if (value instanceof TensorJson) return 2 * shapeSize(value.shape);
  if (Array.isArray(value)) return value.reduce((n: number, v) => n + minimumLength(v), 0);
  if (value instanceof Map) return [...(value as Map<string, unknown>).values()].reduce((n: number, v) => n + minimumLength(v), 0);
  if (typeof value === 'object' && value !== null) return Object.values(value).reduce((n: number, v) => n + minimumLength(v), 0);
  return 0;
}

function tooLarge(bytes: number, options: WriteJsonOptions, qualifier: string): Error {
  return badRequest(`the JSON response would be ${qualifier ? `${qualifier} ` : ''}${bytes} bytes, over the ${options.limitBytes}-byte bound (maxResponseBytes); ${options.hint}`);
}
