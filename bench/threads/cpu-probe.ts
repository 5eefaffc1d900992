/**
 * The blocking probe for tfjs's `cpu` backend, in a process of its own: tfjs has one backend
 * per thread, and the bench's main process stays on `wasm` (the backend modelhost picks).
 * Started by bench/threads.ts as
 *
 *   node --import tsx bench/threads/cpu-probe.ts <mlp model folder> [--quick]
 *
 * and prints one line `RESULT <json BlockingResult>` on stdout.
 */
import * as tf from '@tensorflow/tfjs';
import { tfjsDirHandler } from '../../test/fixtures/tfjs-dir-handler.js';
import { useTfjsBackend } from '../../test/fixtures/tfjs-backend.js';
import { batchesOf, inputRows } from '../load/models.js';
import { probeBlocking } from './blocking.js';
import { MLP_PROBE_BATCH, mlpProbeBudget, RESULT_PREFIX } from './plan.js';

async function main(): Promise<void> {
  const [dir, ...flags] = process.argv.slice(2);
  if (dir === undefined) throw new Error('usage: cpu-probe.ts <mlp model folder> [--quick]');
  const quick = flags.includes('--quick');
  tf.env().set('PROD', true); // no "install tfjs-node" banner
  await useTfjsBackend('cpu');
  const model = await tf.loadLayersModel(tfjsDirHandler(dir));
  const batches = batchesOf(inputRows('mlp-tfjs', 256), MLP_PROBE_BATCH, 4);
  let next = 0;
  const result = await probeBlocking(
    { label: `tfjs cpu: MLP, batch ${MLP_PROBE_BATCH}`, runtime: 'tfjs cpu', model: 'MLP 64→256→256→10', batch: MLP_PROBE_BATCH },
    () => tf.tidy(() => (model.predictOnBatch(tf.tensor(batches[next++ % batches.length]!, [MLP_PROBE_BATCH, 64])) as tf.Tensor).dataSync()),
    mlpProbeBudget(quick),
    `child process (tfjs ${tf.getBackend()})`,
  );
  model.dispose();
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
}

await main();
