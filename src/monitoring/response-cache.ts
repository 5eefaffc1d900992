import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Tensor } from '../tensor/index.js';
import type { ResolvedCache } from './monitoring-options.js';

type Outputs = Record<string, Tensor>;

/**
 * Answers identical requests to the same version from memory (Triton's response cache):
 * keyed by a SHA-256 of the version and every input's name, dtype, shape and bytes; bounded
 * in bytes of cached outputs (lru-cache `maxSize`). Callers get copies, so what one caller
 * does to its outputs never reaches the next one.
 */
export class ResponseCache {
  private readonly entries: LRUCache<string, Outputs>;
  hits = 0;
  misses = 0;

  constructor(readonly options: ResolvedCache) {
    this.entries = new LRUCache<string, Outputs>({ maxSize: options.maxBytes, sizeCalculation: outputBytes });
  }

  /** The key of a request's prepared inputs on a version. */
  key(version: number, tensors: Readonly<Record<string, Tensor>>, single: boolean): string {
    const hash = createHash('sha256');
    hash.update(`${version}\0${single ? 'instance' : 'batch'}`);
    for (const [name, t] of Object.entries(tensors)) {
      hash.update(`\0${name}\0${t.dtype}\0${t.shape.join(',')}\0`);
      if (Array.isArray(t.data)) {
        // Strings or BYTES elements: each length-prefixed, so ['ab','c'] and ['a','bc'] differ.
        for (const s of t.data as readonly (string | Uint8Array)[]) {
          hash.update(`${typeof s === 'string' ? 's' : 'b'}${s.length}:`);
          hash.update(s);
        }
      } else {
        const view = t.data as ArrayBufferView;
        hash.update(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
      }
    }
    return hash.digest('base64');
  }

  /** A copy of the cached outputs, counting the hit or the miss. */
  get(key: string): Outputs | undefined {
    const cached = this.entries.get(key);
    if (cached === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    return copyOutputs(cached);
  }

  /** Keeps a copy of a version's outputs (larger than `maxBytes`: not kept). */
  set(key: string, outputs: Outputs): void {
    if (outputBytes(outputs) > this.options.maxBytes) return;
    this.entries.set(key, copyOutputs(outputs));
  }

  /** Drops everything (a swap, a load, an unload): answers never outlive what made them. */
  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  get bytes(): number {
    return this.entries.calculatedSize;
  }
}

function outputBytes(outputs: Outputs): number {
  let bytes = 64;
  for (const t of Object.values(outputs)) {
    bytes += 64 + t.shape.length * 8;
    if (Array.isArray(t.data)) for (const s of t.data as readonly (string | Uint8Array)[]) bytes += 16 + s.length * 2;
    else bytes += (t.data as ArrayBufferView).byteLength;
  }
  return bytes;
}

export function copyOutputs(outputs: Outputs): Outputs {
  const copy: Outputs = {};
  for (const [name, t] of Object.entries(outputs)) copy[name] = copyTensor(t);
  return copy;
}

export function copyTensor(t: Tensor): Tensor {
  const data = Array.isArray(t.data) ? (t.data as readonly (string | Uint8Array)[]).map((s) => (typeof s === 'string' ? s : s.slice())) : (t.data as Float32Array).slice();
  return { data: data as Tensor['data'], shape: [...t.shape], dtype: t.dtype };
}
