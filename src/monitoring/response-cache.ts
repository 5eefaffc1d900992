import { LRUCache } from 'lru-cache';
import type { Tensor } from '../tensor/index.js';
import type { ResolvedCache } from './monitoring-options.js';

type Outputs = Record<string, Tensor>;
type Inputs = Readonly<Record<string, Tensor>>;

interface Entry {
  /** The version that answered: a key of another version's request can collide with this one's. */
  readonly version: number;
  /** A copy of the inputs that produced the outputs: a hit must match them exactly. */
  readonly inputs: Inputs;
  readonly single: boolean;
  readonly outputs: Outputs;
}

/**
 * Answers identical requests to the same version from memory (Triton's response cache).
 * Keyed by a fast 30-bit hash of the version and every input's name, dtype, shape and
 * bytes (a small integer: no heap number per key); a hit is then checked byte for byte
 * against the inputs kept with the entry, and against the version that answered, so a hash collision is a miss, never a wrong
 * answer (a cryptographic digest would cost 2.5 µs per request, more than the hit saves on
 * a small model). Bounded in bytes (lru-cache `maxSize`, inputs and outputs counted);
 * callers get copies, so what one caller does to its outputs never reaches the next one.
 *
 * An answer is kept from the second time its key is seen (a doorkeeper, as in TinyLFU):
 * a request seen once is remembered as its key in a fixed table, nothing else, so a stream
 * of distinct requests costs a hash per request and neither copies nor evicts what repeats.
 */
export class ResponseCache {
  private readonly entries: LRUCache<number, Entry>;
  /** Keys (+1) missed once and not kept yet, by their low bits; 0 is empty. */
  private readonly seenOnce = new Int32Array(DOORKEEPER_SLOTS);
  hits = 0;
  misses = 0;

  constructor(readonly options: ResolvedCache) {
    this.entries = new LRUCache<number, Entry>({ maxSize: options.maxBytes, sizeCalculation: (e) => tensorsBytes(e.inputs) + tensorsBytes(e.outputs) });
  }

  /** The key of a request's prepared inputs on a version: an integer in [0, 2^30). */
  key(version: number, tensors: Inputs, single: boolean): number {
    let h1 = mix(0x811c9dc5, version);
    let h2 = mix(0x9747b28c, single ? 1 : 0);
    for (const name in tensors) {
      const t = tensors[name]!;
      h1 = hashString(h1, name);
      h2 = hashString(h2, t.dtype);
      for (const d of t.shape) h1 = mix(h1, d);
      if (Array.isArray(t.data)) {
        for (const s of t.data as readonly (string | Uint8Array)[]) {
          h2 = typeof s === 'string' ? hashString(h2, s) : hashBytes(mix(h2, s.length), s);
        }
      } else {
        const view = t.data as ArrayBufferView;
        h1 = hashView(h1, view);
        h2 = mix(h2, view.byteLength);
      }
    }
    // Both halves mixed (murmur3's finalizer), 30 bits kept: a small integer on every platform.
    let h = h1 ^ Math.imul(h2, 0x9e3779b1);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    return h & 0x3fffffff;
  }

  /**
   * After a miss: whether the answer to `key` should be kept (`set`). The first miss of a
   * key only notes it; a second one (while still noted) admits it.
   */
  admits(key: number): boolean {
    const slot = key & (DOORKEEPER_SLOTS - 1);
    if (this.seenOnce[slot] === key + 1) {
      this.seenOnce[slot] = 0;
      return true;
    }
    this.seenOnce[slot] = key + 1;
    return false;
  }

  /** A copy of the outputs `version` gave for exactly these inputs, counting the hit or the miss. */
  get(key: number, version: number, tensors: Inputs, single: boolean): Outputs | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined || entry.version !== version || entry.single !== single || !sameTensors(entry.inputs, tensors)) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    return copyOutputs(entry.outputs);
  }

  /**
   * Keeps copies of the inputs and a version's outputs (larger than `maxBytes` together: not
   * kept; inputs holding NaN neither: a NaN equals nothing, so no request could ever hit them).
   */
  set(key: number, version: number, tensors: Inputs, single: boolean, outputs: Outputs): void {
    if (tensorsBytes(tensors) + tensorsBytes(outputs) > this.options.maxBytes || holdsNaN(tensors)) return;
    this.entries.set(key, { version, inputs: copyOutputs(tensors), single, outputs: copyOutputs(outputs) });
  }

  /** Drops everything (a swap, a load, an unload): answers never outlive what made them. */
  clear(): void {
    this.entries.clear();
    this.seenOnce.fill(0);
  }

  get size(): number {
    return this.entries.size;
  }

  get bytes(): number {
    return this.entries.calculatedSize;
  }
}

/** Keys the doorkeeper remembers (a power of two): a key seen once is forgotten when another takes its slot. */
const DOORKEEPER_SLOTS = 8192;

function mix(h: number, value: number): number {
  return Math.imul(h ^ value, 0x01000193) ^ (h >>> 13);
}

function hashString(h: number, s: string): number {
  h = mix(h, s.length);
  for (let i = 0; i < s.length; i++) h = mix(h, s.charCodeAt(i));
  return h;
}

/** A typed array's bytes: over 32-bit words through one view when aligned (the common case). */
function hashView(h: number, view: ArrayBufferView): number {
  if (view.byteOffset % 4 === 0 && view.byteLength % 4 === 0) {
    const words = new Int32Array(view.buffer, view.byteOffset, view.byteLength >>> 2);
    for (let i = 0; i < words.length; i++) h = Math.imul(h ^ words[i]!, 0x5bd1e995) ^ (h >>> 15);
    return h;
  }
  return hashBytes(h, new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
}

/** FNV-style over 32-bit words when aligned (4× fewer steps), then the tail bytes. */
function hashBytes(h: number, bytes: Uint8Array): number {
  let i = 0;
  if (bytes.byteOffset % 4 === 0) {
    const words = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2);
    for (; i < words.length; i++) h = Math.imul(h ^ words[i]!, 0x5bd1e995) ^ (h >>> 15);
    i *= 4;
  }
  for (; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h;
}

function sameTensors(a: Inputs, b: Inputs): boolean {
  const names = Object.keys(a);
  if (names.length !== Object.keys(b).length) return false;
  for (const name of names) {
    const x = a[name]!;
    const y = b[name];
    if (y === undefined || x.dtype !== y.dtype || x.shape.length !== y.shape.length || x.data.length !== y.data.length) return false;
    for (let i = 0; i < x.shape.length; i++) if (x.shape[i] !== y.shape[i]) return false;
    if (Array.isArray(x.data)) {
      const xs = x.data as readonly (string | Uint8Array)[];
      const ys = y.data as readonly (string | Uint8Array)[];
      for (let i = 0; i < xs.length; i++) {
        const p = xs[i]!;
        const q = ys[i]!;
        if (typeof p === 'string' ? p !== q : typeof q === 'string' || !Buffer.from(p.buffer, p.byteOffset, p.byteLength).equals(q)) return false;
      }
    } else if (!sameBytes(x.data as ArrayBufferView, y.data as ArrayBufferView)) return false;
  }
  return true;
}

/**
 * Equality of two arrays of one dtype as exact as their bytes: element by element (no
 * views to make), where -0 and 0 differ and a NaN equals nothing (a miss, never a wrong hit).
 */
function sameBytes(p: ArrayBufferView, q: ArrayBufferView): boolean {
  if (p.byteLength !== q.byteLength || p.constructor !== q.constructor) return false;
  const a = p as unknown as ArrayLike<number>;
  const b = q as unknown as ArrayLike<number>;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    if (x !== b[i] || (x === 0 && 1 / x !== 1 / b[i]!)) return false;
  }
  return true;
}

/**
 * Whether a float32/float64 input holds a NaN. (float16 data is its bits, compared as such:
 * equal NaN bits are the same input, so those answers can be hit.)
 */
function holdsNaN(tensors: Inputs): boolean {
  for (const name in tensors) {
    const t = tensors[name]!;
    if (t.dtype !== 'float32' && t.dtype !== 'float64') continue;
    const data = t.data as Float32Array | Float64Array;
    for (let i = 0; i < data.length; i++) if (data[i] !== data[i]) return true;
  }
  return false;
}

/**
 * What an entry and each of its tensors cost the heap besides the tensors' data: the entry's
 * and its records' objects and lru-cache's slots; a tensor's object, shape array and typed array
 * (its ArrayBuffer). Measured (node 20, test/unit/monitoring/response-cache-bytes.test.ts): an
 * entry of one input and one output took ~830 bytes besides their data; counted as 64 + 2 × 64
 * it held two to three times what `maxBytes` said on a small model.
 */
const ENTRY_BYTES = 128;
const TENSOR_BYTES = 320;

/** What `tensors` cost as counted against `cache.maxBytes`: half an entry's own cost (inputs and outputs are counted separately), each tensor's, and its data. */
function tensorsBytes(tensors: Inputs): number {
  let bytes = ENTRY_BYTES;
  for (const name in tensors) {
    const t = tensors[name]!;
    bytes += TENSOR_BYTES + t.shape.length * 8;
    if (Array.isArray(t.data)) for (const s of t.data as readonly (string | Uint8Array)[]) bytes += 16 + s.length * 2;
    else bytes += (t.data as ArrayBufferView).byteLength;
  }
  return bytes;
}

export function copyOutputs(outputs: Inputs): Outputs {
  const copy: Outputs = {};
  for (const name in outputs) copy[name] = copyTensor(outputs[name]!);
  return copy;
}

export function copyTensor(t: Tensor): Tensor {
  return { data: copyData(t.data), shape: t.shape.slice(), dtype: t.dtype };
}

type TypedArrayOf = new (source: ArrayLike<number> & ArrayLike<bigint>) => Tensor['data'];

function copyData(data: Tensor['data']): Tensor['data'] {
  if (Array.isArray(data)) return (data as readonly (string | Uint8Array)[]).map((s) => (typeof s === 'string' ? s : s.slice())) as Tensor['data'];
  // The typed array's own constructor copying it: a third cheaper than `slice()`, which looks up
  // the species constructor on every call (0.23 vs 0.35 µs for 64 floats, node 20).
  return new (data.constructor as TypedArrayOf)(data as never);
}
