/**
 * Writes the quickstart's model repository:
 *
 *   mobilenet/1/  nsfwjs's MobileNetV2 (tfjs layers)   mobilenet/config.json {"runtime":"tfjs","warmup":{"batchSizes":[1,"max"]}}
 *   vad/1/        Silero VAD (model.onnx)              vad/config.json       {"runtime":"onnx", warmup inputs}
 *   mlp/1/        tfjs MLP 64→256→256→10, seed 1
 *   mlp-onnx/1/   the same MLP as model.onnx
 *
 * each version folder with a SHA256SUMS. Usage: `npx tsx scripts/demo-repository.ts [root]`
 * (root defaults to examples/quickstart/models).
 */
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { onnxMlp } from '../test/fixtures/onnx-models.js';
import { writeSha256Sums } from '../test/fixtures/sha256sums.js';
import { writeModelFiles, writeTfjsMlp } from '../test/fixtures/tfjs-model-writer.js';
import { materializeMobileNetV2, materializeSileroVad } from '../test/fixtures/third-party.js';

export const DEFAULT_DEMO_ROOT = fileURLToPath(new URL('../examples/quickstart/models', import.meta.url));

const MLP = { inputs: 64, hidden: [256, 256], outputs: 10, seed: 1 };

/**
 * Writes the demo repository into `root` unless `root/.complete` says an earlier run
 * finished; `.complete` is written last, so an interrupted run is redone. Leaves tfjs on
 * the cpu backend (the MLP is built there).
 */
export async function materializeDemoRepository(root: string = DEFAULT_DEMO_ROOT): Promise<{ root: string; created: boolean }> {
  const marker = path.join(root, '.complete');
  if (existsSync(marker)) return { root, created: false };
  // Written beside the target, then renamed into place: two processes materializing at
  // once (a test and `npm start`) never see, or serve, a half-written repository.
  const staging = `${root}.staging-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  try {
    await writeDemoModels(staging);
    await writeFile(path.join(staging, '.complete'), `${new Date().toISOString()}\n`);
    if (existsSync(marker)) return { root, created: false }; // someone else finished first
    await rm(root, { recursive: true, force: true }); // an interrupted earlier run
    await mkdir(path.dirname(root), { recursive: true });
    await rename(staging, root);
    return { root, created: true };
  } catch (error) {
    if (existsSync(marker)) return { root, created: false }; // lost a rename race to a complete copy
    throw error;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

async function writeDemoModels(root: string): Promise<void> {
  await fillVersion(root, 'mobilenet', (dir) => materializeMobileNetV2(dir));
  // Warmed up at its largest batch too: the wasm backend's memory grows to it and never shrinks, so it is taken before ready (docs/configuration.md).
  await writeConfig(root, 'mobilenet', { runtime: 'tfjs', warmup: { batchSizes: [1, 'max'] } });

  await fillVersion(root, 'vad', (dir) => materializeSileroVad(dir));
  // Silero's inputs have variable dimensions, so its warmup inputs are spelled out: 512 samples at 16 kHz.
  await writeConfig(root, 'vad', {
    runtime: 'onnx',
    warmup: { inputs: { input: { shape: [1, 512] }, sr: { data: [16000], shape: [] }, h: { shape: [2, 1, 64] }, c: { shape: [2, 1, 64] } } },
  });

  await fillVersion(root, 'mlp', (dir) => writeTfjsMlp(MLP, dir));

  await fillVersion(root, 'mlp-onnx', (dir) => writeModelFiles({ 'model.onnx': onnxMlp(MLP) }, dir));
}

/** Fills `<root>/<model>/1/` and checksums it. */
async function fillVersion(root: string, model: string, fill: (dir: string) => Promise<void>): Promise<void> {
  const dir = path.join(root, model, '1');
  await mkdir(dir, { recursive: true });
  await fill(dir);
  await writeSha256Sums(dir);
}

async function writeConfig(root: string, model: string, config: object): Promise<void> {
  await writeFile(path.join(root, model, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = process.argv[2] === undefined ? DEFAULT_DEMO_ROOT : path.resolve(process.argv[2]);
  const { created } = await materializeDemoRepository(root);
  console.log(created ? `wrote the demo model repository to ${root}` : `${root} is already complete (delete its .complete to rebuild)`);
}
