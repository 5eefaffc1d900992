import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { writeSha256Sums } from '../fixtures/sha256sums.js';
import * as tf from '@tensorflow/tfjs';
import { onnxMlp } from '../fixtures/onnx-models.js';
import { tfjsLayersFilesOf, writeModelFiles, type ModelFiles } from '../fixtures/tfjs-model-writer.js';
import { buildTfjsMlp } from '../fixtures/tfjs-models.js';

/** Writes `<root>/<model>/<version>/` from in-memory files, with a SHA256SUMS unless told otherwise. */
export async function writeVersion(root: string, model: string, version: number, files: ModelFiles, { checksums = true } = {}): Promise<string> {
  const dir = path.join(root, model, String(version));
  await writeModelFiles(files, dir);
  if (checksums) await writeSha256Sums(dir);
  return dir;
}

/** `mlp-tfjs` and `mlp-onnx` v1 under `root`: the fixtures' default MLP as a tfjs layers model and as `model.onnx`. */
export async function writeMlpVersions(root: string): Promise<void> {
  await writeVersion(root, 'mlp-tfjs', 1, await tfjsLayersFilesOf(() => buildTfjsMlp(tf)));
  await writeVersion(root, 'mlp-onnx', 1, { 'model.onnx': onnxMlp() });
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
