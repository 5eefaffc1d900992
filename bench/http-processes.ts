/**
 * How much `modelhost serve` varies from one process to the next (not one run to the next of a
 * process): starts a fresh CLI process per visit, alternating V8's allocation-site pretenuring
 * on (node `--allocation-site-pretenuring`, which the CLI respects) and off (the CLI's own
 * default since session 8), and measures each process once on the ablation's cell: the MLP on
 * onnxruntime, batching 64 / 2 ms, inline, 64 autocannon connections of KServe v2 JSON.
 *
 *   npm run build && flock /tmp/modelhost-bench.lock npx tsx bench/http-processes.ts [--processes 4] [--seconds 3] [--model mlp-onnx|mobilenet] [--wait-quiet]
 *
 * Prints req/s and server CPU per request of every process, then each setting's min–max.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { isMain } from './lib/cli.js';
import { waitForQuiet } from './lib/cpu-contention.js';
import { runHttp } from './http/autocannon-run.js';
import { startCommand } from './http/serve-process.js';
import { requestsFor } from './http.js';
import { BATCHING } from './load/host.js';
import { writeRepository } from './load/models.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const SETTINGS = { 'pretenuring on (V8 default)': ['--allocation-site-pretenuring'], 'pretenuring off (serve default)': [] } as const;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { processes: { type: 'string', default: '4' }, seconds: { type: 'string', default: '3' }, model: { type: 'string', default: 'mlp-onnx' }, 'wait-quiet': { type: 'boolean' } } });
  const MODEL = values.model as 'mlp-onnx' | 'mobilenet';
  if (MODEL !== 'mlp-onnx' && MODEL !== 'mobilenet') throw new Error(`--model: mlp-onnx or mobilenet, got ${MODEL}`);
  const root = await mkdtemp(path.join(tmpdir(), 'modelhost-bench-processes-'));
  await writeRepository(root, [MODEL]);
  // The MLP as the ablation runs it; MobileNetV2 as bench/http.ts does (the repository's own config).
  if (MODEL === 'mlp-onnx') await writeFile(path.join(root, MODEL, 'config.json'), JSON.stringify({ batching: { ...BATCHING }, onnx: { intraOpNumThreads: 1 }, instances: { kind: 'inline' } }));
  const requests = requestsFor(MODEL).jsonRequests;
  const results = new Map<string, { rps: number; cpuUs: number }[]>();
  try {
    for (let i = 0; i < Number(values.processes); i++) {
      for (const [name, nodeFlags] of Object.entries(SETTINGS)) {
        if (values['wait-quiet'] === true) await waitForQuiet(10_000);
        const server = await startCommand(process.execPath, [...nodeFlags, CLI, 'serve', root, '--port', '0', '--log-format', 'json', '--models', MODEL], `serve, ${name}`);
        try {
          const r = await runHttp({ url: server.url, path: `/v2/models/${MODEL}/infer`, requests, connections: 64, warmupSec: 3, measureSec: Number(values.seconds), serverPid: server.pid });
          const cpuUs = r.cpu === undefined ? Number.NaN : (r.cpu.serverCores / r.requestsPerSec) * 1e6;
          (results.get(name) ?? results.set(name, []).get(name)!).push({ rps: r.requestsPerSec, cpuUs });
          process.stderr.write(`process ${i + 1}, ${name}: ${Math.round(r.requestsPerSec)} req/s, ${cpuUs.toFixed(1)} µs CPU per request\n`);
        } finally {
          await server.stop();
        }
      }
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  console.log(`\n${MODEL}, 64 connections, one fresh \`modelhost serve\` process per row (3 s warm-up, ${values.seconds} s measured), ${new Date().toISOString()}`);
  console.log('| setting | req/s per process | min–max | CPU µs per request, min–max |');
  console.log('|---|---|---|---|');
  for (const [name, runs] of results) {
    const rps = runs.map((r) => r.rps);
    const cpu = runs.map((r) => r.cpuUs);
    console.log(`| ${name} | ${rps.map((x) => Math.round(x)).join(', ')} | ${Math.round(Math.min(...rps))}–${Math.round(Math.max(...rps))} | ${Math.min(...cpu).toFixed(1)}–${Math.max(...cpu).toFixed(1)} |`);
  }
}

if (isMain(import.meta.url)) await main();
