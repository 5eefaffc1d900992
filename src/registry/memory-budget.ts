import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ModelSource } from '../runtime/index.js';

/**
 * Bytes a loaded version takes per byte of its files, before anything was measured. Weights
 * are decoded (tfjs dequantizes, keeps a copy on the backend), graphs optimized, arenas
 * allocated; each worker instance holds its own copy.
 */
const INITIAL_FACTOR: Readonly<Record<string, number>> = Object.freeze({ tfjs: 4, onnx: 3 });
const FALLBACK_FACTOR = 4;
const MAX_FACTOR = 32;
const MIN_LEARNING_BYTES = 1024 * 1024;

interface Reservation {
  readonly bytes: number;
  readonly runtime: string;
  readonly artifactBytes: number;
}

/**
 * A host-wide memory budget for loaded versions, so a swap that would hold two big versions
 * at once is refused (or makes room) instead of running the process out of memory
 * (tensorflow/serving#2017). Estimates are artifact size × a per-runtime factor, refined
 * from what earlier loads of that runtime really cost (resident memory growth).
 */
export class MemoryBudget {
  private readonly reservations = new Map<string, Reservation>();
  private readonly factors = new Map<string, number>(Object.entries(INITIAL_FACTOR));

  constructor(readonly limitBytes: number | undefined) {}

  get enabled(): boolean {
    return this.limitBytes !== undefined;
  }

  /** Bytes held by loaded (or loading) versions. */
  used(): number {
    let total = 0;
    for (const r of this.reservations.values()) total += r.bytes;
    return total;
  }

  factor(runtime: string): number {
    return this.factors.get(runtime) ?? FALLBACK_FACTOR;
  }

  estimate(artifactBytes: number, runtime: string, instances: number): number {
    return Math.ceil(artifactBytes * this.factor(runtime) * Math.max(1, instances));
  }

  /** Whether `bytes` more fit. */
  fits(bytes: number): boolean {
    return this.limitBytes === undefined || this.used() + bytes <= this.limitBytes;
  }

  reserve(key: string, bytes: number, runtime: string, artifactBytes: number): void {
    this.reservations.set(key, { bytes, runtime, artifactBytes });
  }

  release(key: string): void {
    this.reservations.delete(key);
  }

  /**
   * What a load really cost (growth of resident memory while it loaded): replaces the
   * estimate for this version and teaches the runtime's factor (an average that follows
   * recent loads). Growth can be hidden by a garbage collection during the load, so only
   * growth larger than the artifact itself is taken as a measurement.
   */
  learn(key: string, measuredBytes: number, instances: number): void {
    const r = this.reservations.get(key);
    // Small models drown in the process's own noise: learn only from real weights.
    if (r === undefined || r.artifactBytes < MIN_LEARNING_BYTES || measuredBytes < r.artifactBytes) return;
    this.reservations.set(key, { ...r, bytes: measuredBytes });
    const observed = Math.min(MAX_FACTOR, measuredBytes / r.artifactBytes / Math.max(1, instances));
    this.factors.set(r.runtime, this.factor(r.runtime) * 0.5 + observed * 0.5);
  }
}

/** Total size of a model source's files (0 where it cannot be known, e.g. a URL). */
export async function artifactBytes(source: ModelSource): Promise<number> {
  if (source.kind === 'memory') {
    let total = 0;
    for (const file of Object.values(source.files)) total += typeof file === 'string' ? Buffer.byteLength(file) : file.byteLength;
    return total;
  }
  if (source.kind === 'url') return 0;
  let total = 0;
  for (const entry of await readdir(source.path, { withFileTypes: true })) {
    if (entry.isFile() || entry.isSymbolicLink()) total += (await stat(path.join(source.path, entry.name))).size;
  }
  return total;
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
  if (bytes >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${Math.ceil(bytes / 1024)} KiB`;
}
