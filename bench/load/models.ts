import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import ort from 'onnxruntime-node';
import { onnxMlp } from '../../test/fixtures/onnx-models.js';
import { mulberry32, uniformArray } from '../../test/fixtures/prng.js';
import { materializeMobileNetV2 } from '../../test/fixtures/third-party.js';
import { tfjsDirHandler } from '../../test/fixtures/tfjs-dir-handler.js';
import { writeModelFiles, writeTfjsMlp } from '../../test/fixtures/tfjs-model-writer.js';

export const MODEL_IDS = ['mlp-tfjs', 'mlp-onnx', 'tiny-tfjs', 'mobilenet'] as const;
export type ModelId = (typeof MODEL_IDS)[number];

export interface ModelSpec {
  readonly id: ModelId;
  readonly title: string;
  readonly runtime: string;
  /** One instance, without the batch dimension. */
  readonly instanceShape: readonly number[];
}

const MLP = { inputs: 64, hidden: [256, 256], outputs: 10, seed: 1 };
/** So small that a run costs about what serving it costs: modelhost's own per-request cost shows. */
const TINY_MLP = { inputs: 16, hidden: [32, 32], outputs: 8, seed: 2 };

export const MODELS: Readonly<Record<ModelId, ModelSpec>> = {
  'mlp-tfjs': { id: 'mlp-tfjs', title: 'MLP 64→256→256→10', runtime: 'tfjs wasm', instanceShape: [64] },
  'mlp-onnx': { id: 'mlp-onnx', title: 'MLP 64→256→256→10', runtime: 'onnxruntime-node, 1 thread', instanceShape: [64] },
  'tiny-tfjs': { id: 'tiny-tfjs', title: 'tiny MLP 16→32→32→8', runtime: 'tfjs wasm', instanceShape: [16] },
  mobilenet: { id: 'mobilenet', title: 'MobileNetV2 (nsfwjs)', runtime: 'tfjs wasm', instanceShape: [224, 224, 3] },
};

/** The raw runtime on one model: what modelhost is compared with. */
export interface RawModel {
  /** One row, the naive way: one runtime call per request. */
  runOne(row: Float32Array): unknown;
  /** `rows` rows laid end to end in `data`, as one runtime call. */
  runBatch(data: Float32Array, rows: number): unknown;
  dispose(): Promise<void> | void;
}

/**
 * Writes `<root>/<id>/1/` for each model with the test fixtures, so the bench serves the
 * same files the integration tests check. The MLP is built on tfjs's cpu backend: the
 * host then picks the backend it serves on (wasm), as a user's process would.
 */
export async function writeRepository(root: string, ids: readonly ModelId[]): Promise<void> {
  for (const id of ids) {
    const dir = path.join(root, id, '1');
    if (id === 'mlp-tfjs') {
      await writeTfjsMlp(MLP, dir);
    } else if (id === 'tiny-tfjs') {
      await writeTfjsMlp(TINY_MLP, dir);
    } else if (id === 'mlp-onnx') {
      await writeModelFiles({ 'model.onnx': onnxMlp(MLP) }, dir);
    } else {
      await materializeMobileNetV2(dir);
    }
  }
}

/**
 * Opens the model files the host serves directly with their runtime. Call it after the host
 * loaded a tfjs model: tfjs has one backend per process, and the raw model must run on the
 * same one (wasm) as the host's.
 */
export async function openRawModel(id: ModelId, root: string): Promise<RawModel> {
  const dir = path.join(root, id, '1');
  const { instanceShape } = MODELS[id];
  if (id === 'mlp-onnx') {
    // The settings modelhost's onnx runtime uses by default, so only the serving path differs.
    const session = await ort.InferenceSession.create(path.join(dir, 'model.onnx'), {
      executionProviders: ['cpu'],
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
    });
    return {
      runOne: (row) => session.run({ x: new ort.Tensor('float32', row, [1, ...instanceShape]) }),
      runBatch: (data, rows) => session.run({ x: new ort.Tensor('float32', data, [rows, ...instanceShape]) }),
      dispose: () => session.release(),
    };
  }
  if (tf.getBackend() !== 'wasm') throw new Error(`tfjs runs on '${tf.getBackend()}', expected 'wasm' (load a tfjs model into the host first)`);
  const model = await tf.loadLayersModel(tfjsDirHandler(dir));
  // predictOnBatch is the direct call (modelhost's tfjs session uses it too); predict() adds a
  // mini-batch loop (slices, concat; 32 rows per step by default) that would handicap the baseline.
  const run = (data: Float32Array, rows: number) => tf.tidy(() => (model.predictOnBatch(tf.tensor(data, [rows, ...instanceShape])) as tf.Tensor).dataSync());
  return {
    runOne: (row) => run(row, 1),
    runBatch: run,
    dispose: () => {
      model.dispose();
    },
  };
}

/** `count` deterministic rows (uniform in [-1, 1) for the MLP, [0, 1) for images). */
export function inputRows(id: ModelId, count: number, seed = 7): Float32Array[] {
  const size = MODELS[id].instanceShape.reduce((a, b) => a * b, 1);
  const random = mulberry32(seed);
  const [low, high] = id === 'mobilenet' ? [0, 1] : [-1, 1];
  return Array.from({ length: count }, () => uniformArray(random, size, low, high));
}

/** Rows joined into full batches of `batchSize`, cycling through `rows`. */
export function batchesOf(rows: readonly Float32Array[], batchSize: number, count: number): Float32Array[] {
  const size = rows[0]?.length ?? 0;
  let next = 0;
  return Array.from({ length: count }, () => {
    const batch = new Float32Array(batchSize * size);
    for (let r = 0; r < batchSize; r++) batch.set(rows[next++ % rows.length]!, r * size);
    return batch;
  });
}
