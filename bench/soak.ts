/**
 * Soak: 100,000 requests (default) through one in-process host on the tfjs and ONNX MLPs,
 * 64 concurrent callers, with a deploy of version 2 and a rollback to version 1 of each
 * model every 10,000 requests. Every 10,000: RSS, heap used, the tfjs runtime's tensor
 * count and the open sessions. Flat means the last sample within ±5% of the one after the
 * first deploy + rollback (tensors and sessions: equal), when both versions are warm.
 *
 *   npx tsx bench/soak.ts [--requests 100000] [--every 10000]
 *
 * Exits 1 when a request failed or a series is not flat. Table to stdout, JSON to
 * bench/results/soak.json.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { ModelHost, onnxRuntime, tfjsRuntime } from './lib/modelhost.js';
import { onnxMlp } from '../test/fixtures/onnx-models.js';
import { tfjsLayersFilesOf } from '../test/fixtures/tfjs-model-writer.js';
import { buildTfjsMlp } from '../test/fixtures/tfjs-models.js';
import { randomFloats, writeVersion } from '../test/helpers/repository.js';
import { describeMachine, machineInfo } from './lib/machine.js';
import { writeResults } from './lib/results.js';
import { formatTable } from './lib/table.js';

interface Sample {
  readonly requests: number;
  readonly rssMiB: number;
  readonly heapMiB: number;
  readonly tensors: number;
  readonly sessions: number;
  readonly failed: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { requests: { type: 'string', default: '100000' }, every: { type: 'string', default: '10000' } } });
  const total = Number(values.requests);
  const every = Number(values.every);
  const root = await mkdtemp(path.join(tmpdir(), 'modelhost-soak-'));
  try {
    for (const version of [1, 2]) {
      await writeVersion(root, 'mlp-tfjs', version, await tfjsLayersFilesOf(() => buildTfjsMlp(tf)));
      await writeVersion(root, 'mlp-onnx', version, { 'model.onnx': onnxMlp() });
    }
    const host = new ModelHost({ repository: root, defaults: { versionPolicy: { specific: [1] } } });
    const models = ['mlp-tfjs', 'mlp-onnx'] as const;
    for (const model of models) await host.load(model);
    const inputs = Array.from({ length: 256 }, (_, i) => randomFloats(64, i + 1));
    let done = 0;
    let failed = 0;
    const samples: Sample[] = [];
    const sample = () => {
      const memory = process.memoryUsage();
      samples.push({
        requests: done,
        rssMiB: memory.rss / 2 ** 20,
        heapMiB: memory.heapUsed / 2 ** 20,
        tensors: tfjsRuntime.memory!().tensors ?? 0,
        sessions: tfjsRuntime.memory!().sessions + onnxRuntime.memory!().sessions,
        failed,
      });
      process.stderr.write(`${done} requests, RSS ${samples.at(-1)!.rssMiB.toFixed(0)} MiB, tensors ${samples.at(-1)!.tensors}\n`);
    };
    // Warm, then the first sample: allocations that happen once are not a leak.
    await Promise.all(inputs.slice(0, 64).map((x, i) => host.predict(models[i % 2]!, x)));
    global.gc?.();
    sample();
    let cycle = 0;
    while (done < total) {
      const target = Math.min(total, done + every);
      const callers = Array.from({ length: 64 }, async (_, c) => {
        while (done < target) {
          const i: number = done++;
          await host.predict(models[i % 2]!, inputs[(i + c) % inputs.length]!).catch(() => void failed++);
        }
      });
      // Mid-window, a deploy and a rollback of each model under load.
      const swaps = (async () => {
        for (const model of models) {
          await host.deploy(model, 2);
          await host.rollback(model);
        }
      })();
      await Promise.all([...callers, swaps]);
      cycle++;
      global.gc?.();
      sample();
    }
    await host.close();
    // The baseline is the sample after the first deploy + rollback: from then on version 2
    // stays loaded warm beside version 1 (retainVersions), which is by design, not a leak.
    const first = samples[1] ?? samples[0]!;
    const last = samples.at(-1)!;
    const within = (a: number, b: number) => Math.abs(b - a) / a <= 0.05;
    const flat = { rss: within(first.rssMiB, last.rssMiB), tensors: first.tensors === last.tensors, sessions: first.sessions === last.sessions };
    process.stdout.write(
      `${describeMachine(machineInfo())}\n${total} requests, ${cycle} deploy+rollback cycles per model, ${failed} failed${global.gc ? '' : ' (run with node --expose-gc for steadier heap numbers)'}\n${formatTable(
        ['requests', 'RSS MiB', 'heap MiB', 'tfjs tensors', 'sessions'],
        samples.map((s) => [String(s.requests), s.rssMiB.toFixed(1), s.heapMiB.toFixed(1), String(s.tensors), String(s.sessions)]),
      )}\nflat: RSS ${flat.rss ? 'yes' : 'NO'} (${(((last.rssMiB - first.rssMiB) / first.rssMiB) * 100).toFixed(1)}%), tensors ${flat.tensors ? 'yes' : 'NO'}, sessions ${flat.sessions ? 'yes' : 'NO'}\n`,
    );
    await writeResults({ machine: machineInfo(), samples, flat, failed }, { extraPath: 'bench/results/soak.json', latest: false });
    if (failed > 0 || !flat.rss || !flat.tensors || !flat.sessions) process.exitCode = 1;
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

await main();
