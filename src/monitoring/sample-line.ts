import { encodeBase64 } from '../tensor/index.js';
import { float16Value } from '../tensor/codec/float16.js';
import type { Tensor } from '../tensor/index.js';
import type { RequestSampledEvent } from '../metrics/events.js';

/**
 * One sample as a JSON line. Tensors are `{ datatype, shape, b64 }` (raw little-endian bytes;
 * strings and BYTES as a JSON array, BYTES elements base64) or, with `numbers`, `{ datatype,
 * shape, data }` (int64 as strings, float16 as numbers, non-finite floats as null).
 */
export function sampleLine(event: RequestSampledEvent, encoding: 'base64' | 'numbers' = 'base64'): string {
  // Written by hand rather than JSON.stringify of an object: a third of a sample's cost went
  // there. The text is the same (test/unit/monitoring/sample-line.property.test.ts holds it to it).
  let line = `{"timestamp":"${isoTime(event.timestamp)}","model":${quoted(event.model)},"version":${event.version}`;
  if (event.id !== undefined) line += `,"id":${JSON.stringify(event.id)}`;
  line += `,"rows":${event.rows},"latency_ms":${jsonNumber(Math.round(event.latencyMs * 1000) / 1000)},"cached":${event.cached}`;
  if (event.inputs !== undefined) line += `,"inputs":${tensorsJson(event.inputs, encoding)}`;
  if (event.outputs !== undefined) line += `,"outputs":${tensorsJson(event.outputs, encoding)}`;
  return line + '}\n';
}

/** JSON text of a number, as JSON.stringify writes it (non-finite as null). */
function jsonNumber(x: number): string {
  return Number.isFinite(x) ? String(x) : 'null';
}

/** Model and tensor names as JSON strings, quoted once each (a handful per host). */
const quotedNames = new Map<string, string>();
function quoted(name: string): string {
  let text = quotedNames.get(name);
  if (text === undefined) {
    if (quotedNames.size >= 1024) quotedNames.clear();
    text = JSON.stringify(name);
    quotedNames.set(name, text);
  }
  return text;
}

let lastSecond = Number.NaN;
let secondPrefix = '';

/**
 * `new Date(ms).toISOString()`, with the text up to the seconds made once per second: at low
 * sampling rates every sample has its own millisecond, and a `toISOString` each (~0.35 µs).
 */
function isoTime(ms: number): string {
  const second = Math.floor(ms / 1000);
  // Fractions, and years outside 1970–9999 (toISOString writes ±YYYYYY past 9999): left to toISOString.
  if (!(Number.isInteger(ms) && ms >= 0 && ms < 253402300800000)) return new Date(ms).toISOString();
  if (second !== lastSecond) {
    lastSecond = second;
    secondPrefix = new Date(second * 1000).toISOString().slice(0, 20); // 'YYYY-MM-DDTHH:MM:SS.'
  }
  const milli = ms - second * 1000;
  return `${secondPrefix}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
}

/** Tensors as JSON text; with `numbers`, joined by hand (`String(x)` per element beats `JSON.stringify` of the array). */
function tensorsJson(tensors: Readonly<Record<string, Tensor>>, encoding: 'base64' | 'numbers'): string {
  let text = '{';
  for (const name in tensors) {
    const t = tensors[name]!;
    // dtypes are bare identifiers and shapes integers: no escaping to do.
    const head = `${text.length > 1 ? ',' : ''}${quoted(name)}:{"datatype":"${t.dtype}","shape":[${t.shape.join(',')}]`;
    if (encoding === 'base64' && !Array.isArray(t.data)) {
      const view = t.data as ArrayBufferView;
      text += `${head},"b64":"${Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString('base64')}"}`;
      continue;
    }
    let data: string;
    if (Array.isArray(t.data)) data = JSON.stringify((t.data as readonly (string | Uint8Array)[]).map((s) => (typeof s === 'string' ? s : encodeBase64(s))));
    else if (t.data instanceof BigInt64Array || t.data instanceof BigUint64Array) data = JSON.stringify(Array.from(t.data as BigInt64Array, (v) => v.toString()));
    else data = numbersJson(t.data as ArrayLike<number>, t.dtype === 'float16');
    text += `${head},"data":${data}}`;
  }
  return text + '}';
}

function numbersJson(values: ArrayLike<number>, half: boolean): string {
  let text = '[';
  for (let i = 0; i < values.length; i++) {
    const x = half ? float16Value(values[i]!) : values[i]!;
    if (i > 0) text += ',';
    text += Number.isFinite(x) ? String(x) : 'null';
  }
  return text + ']';
}
