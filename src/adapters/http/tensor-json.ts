/**
 * What the JSON protocols need around the shared per-datatype converters (`modelhost`'s
 * codec): KServe's flat-or-nested `data`, TF Serving's `{"b64": ...}` values.
 */
import { bytesAsText, ConversionError, decodeBase64, encodeBase64, jsonElementText, walkNested, type BytesElement, type DType } from 'modelhost';

/**
 * KServe `data` flattened row-major: flat, or nested exactly as `shape` (the rule TF Serving's
 * nested values follow too: a ragged list, or one nesting another shape, is refused rather
 * than flattened into numbers that happen to count right). Bounded by the body it came from.
 * @throws ConversionError saying what was expected and what was received.
 */
export function flatValues(data: unknown, shape: readonly number[]): unknown[] {
  if (!Array.isArray(data)) return [data];
  if (!hasArray(data)) return data;
  const nested = walkNested(data).shape;
  if (nested.length !== shape.length || nested.some((d, i) => d !== shape[i])) {
    throw new ConversionError(`"data" nests as [${nested.join(', ')}], but "shape" is [${shape.join(', ')}] (send it flat, or nested as the shape)`);
  }
  const out: unknown[] = [];
  const stack: [unknown[], number][] = [[data, 0]];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const [list, i] = top;
    if (i === list.length) {
      stack.pop();
      continue;
    }
    top[1] = i + 1;
    const item = list[i];
    if (Array.isArray(item)) stack.push([item, 0]);
    else out.push(item);
  }
  return out;
}

/** Whether any item is an array (a loop: `some(Array.isArray)` costs a call per item). */
function hasArray(list: readonly unknown[]): boolean {
  for (let i = 0; i < list.length; i++) if (Array.isArray(list[i])) return true;
  return false;
}

/** Whether `value` is TF Serving's binary form `{"b64": "..."}` (its only own key). */
export function isB64(value: unknown): value is { b64: unknown } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0] === 'b64';
}

/**
 * TF Serving values with `{"b64": ...}` replaced by their bytes (strict base64), nested lists
 * walked. `where` names the value in errors (`instances[3].image`); `refusal`, when given,
 * refuses any `{"b64": ...}` with that reason (an input whose elements are not bytes).
 */
export function decodeB64Values(value: unknown, where: string, refusal?: string): unknown {
  if (Array.isArray(value)) return value.map((item, i) => decodeB64Values(item, `${where}[${i}]`, refusal));
  if (!isB64(value)) return value;
  if (refusal !== undefined) throw new ConversionError(`${where}: got {"b64": ...}, but ${refusal}`);
  if (typeof value.b64 !== 'string') throw new ConversionError(`${where}: "b64" must be a string, got ${typeof value.b64}`);
  try {
    return decodeBase64(value.b64);
  } catch (error) {
    if (error instanceof ConversionError) throw new ConversionError(`${where}: "b64" ${error.message}`);
    throw error;
  }
}

/**
 * TF Serving's JSON for each element of an output: as KServe for every dtype but BYTES, which is
 * `{"b64": ...}` for an output named `*_bytes` (TF Serving's convention) and for any element
 * that is not UTF-8 text, and a string otherwise.
 */
export function tfServingElementText(name: string, dtype: DType): (value: unknown, index: number) => string {
  if (dtype !== 'string') return jsonElementText(dtype);
  const b64 = (v: BytesElement): string => `{"b64":"${encodeBase64(typeof v === 'string' ? new TextEncoder().encode(v) : v)}"}`;
  if (name.endsWith('_bytes')) return (v) => b64(v as BytesElement);
  return (v, i) => {
    try {
      return JSON.stringify(bytesAsText(v as BytesElement, i));
    } catch {
      return b64(v as BytesElement);
    }
  };
}
