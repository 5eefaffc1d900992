import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { writeSha256Sums } from '../fixtures/sha256sums.js';
import { writeModelFiles, type ModelFiles } from '../fixtures/tfjs-model-writer.js';

/** Writes `<root>/<model>/<version>/` from in-memory files, with a SHA256SUMS unless told otherwise. */
export async function writeVersion(root: string, model: string, version: number, files: ModelFiles, { checksums = true } = {}): Promise<string> {
  const dir = path.join(root, model, String(version));
  await writeModelFiles(files, dir);
  if (checksums) await writeSha256Sums(dir);
  return dir;
}

export async function writeConfig(root: string, model: string, config: object): Promise<void> {
  await mkdir(path.join(root, model), { recursive: true });
  await writeFile(path.join(root, model, 'config.json'), JSON.stringify(config));
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

/** Deterministic pseudo-random floats in [-1, 1). */
export function randomFloats(length: number, seed = 1): Float32Array {
  const out = new Float32Array(length);
  let s = seed >>> 0;
  for (let i = 0; i < length; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}
