/**
 * Issue 17's ablation: where `modelhost serve` spends the CPU a bare node:http handler does
 * not. Starts every step of bench/http/ablation-server.mjs (bare handler → + Prometheus →
 * modelhost/http's listener → + server limits) and the built CLI on the same repository
 * (MLP onnx, batching 64 / 2 ms, inline, one onnx thread), then runs 64 autocannon
 * connections of KServe v2 JSON against each in the order A B … Z Z … B A and prints req/s
 * and the server's CPU per request, merged over both passes.
 *
 *   npm run build && flock /tmp/modelhost-bench.lock npx tsx bench/http-ablation.ts [--seconds 2] [--connections 64] [--rounds 1] [--only bare,server+prom,cli]
 *
 * `cli-no-park` is the CLI with `--no-park`, `cli-no-gate` with `--no-park --concurrency 1000000`
 * (no request waits at the admission gate). Rows per batch come from each ablation server's
 * `batchCompleted` events and from each CLI's `/metrics` (`batch_size`): a server that cuts
 * smaller batches pays onnxruntime's per-run cost more often.
 *
 * `--wait-quiet` waits (≤ 10 s) before each run until other processes leave the cores alone.
 * `--before <dir>` adds `cli-before`: the CLI of another built tree (the baseline commit,
 * e.g. `git archive <commit> | tar -x -C <dir>`, node_modules linked, `npm run build`), so a
 * change is measured before and after in the same run, alternated.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { isMain } from './lib/cli.js';
import { waitForQuiet } from './lib/cpu-contention.js';
import { mergeHttpRuns, runHttp, type HttpRunResult } from './http/autocannon-run.js';
import { startCommand, startServe, type ServeProcess } from './http/serve-process.js';
import { requestsFor } from './http.js';
import { BATCHING } from './load/host.js';
import { writeRepository } from './load/models.js';

const SERVER = fileURLToPath(new URL('./http/ablation-server.mjs', import.meta.url));
const STEPS = ['bare', 'bare+prom', 'bare-batch', 'bare-batch-array', 'bare-id', 'handler', 'handler+signal', 'handler+timer', 'handler+close', 'handler+all', 'listener-fixed', 'listener', 'listener+prom', 'server', 'server+prom', 'cli', 'cli-no-park', 'cli-no-gate', 'cli-before'] as const;
type Step = (typeof STEPS)[number];
const MODEL = 'mlp-onnx';

function start(step: Step, root: string, before: string | undefined): Promise<ServeProcess> {
  if (step === 'cli') return startServe(root, [MODEL]);
  // The CLI without parking connections, and without the admission gate's limit (so nothing waits or parks).
  if (step === 'cli-no-park') return startServe(root, [MODEL], ['--no-park']);
  if (step === 'cli-no-gate') return startServe(root, [MODEL], ['--no-park', '--concurrency', '1000000']);
  if (step === 'cli-before') {
    if (before === undefined) throw new Error('the cli-before step needs --before <a built tree of the baseline commit>');
    const cli = path.join(path.resolve(before), 'dist', 'cli.js');
    return startCommand(process.execPath, [cli, 'serve', root, '--port', '0', '--log-format', 'json', '--models', MODEL], `${cli} serve`);
  }
  return startCommand(process.execPath, [...(process.env['BENCH_SERVER_NODE_OPTIONS']?.split(' ').filter(Boolean) ?? []), SERVER, root, MODEL, step], `ablation ${step}`);
}

async function main(): Promise<void> {
  process.setMaxListeners(0); // one exit hook per server process
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '2' }, connections: { type: 'string', default: '64' }, only: { type: 'string' }, before: { type: 'string' }, rounds: { type: 'string', default: '1' }, 'wait-quiet': { type: 'boolean' } } });
  const defaults = STEPS.filter((s) => s !== 'cli-before' || values.before !== undefined);
  const steps = values.only === undefined ? defaults : STEPS.filter((s) => values.only!.split(',').includes(s));
  const root = await mkdtemp(path.join(tmpdir(), 'modelhost-http-ablation-'));
  await writeRepository(root, [MODEL]);
  await writeFile(path.join(root, MODEL, 'config.json'), JSON.stringify({ batching: { ...BATCHING }, onnx: { intraOpNumThreads: 1 }, instances: { kind: 'inline' } }));
  process.env['ABLATION_BATCH_LOG'] = path.join(root, 'batches.jsonl');
  const servers = new Map<Step, ServeProcess>();
  const runs = new Map<Step, HttpRunResult[]>();
  const cliBatches = new Map<Step, number | undefined>();
  const requests = requestsFor(MODEL).jsonRequests;
  try {
    for (const step of steps) servers.set(step, await start(step, root, values.before));
    // A B … Z Z … B A, `rounds` times: each step early and late alike.
    const order = Array.from({ length: Number(values.rounds) }, () => [...steps, ...[...steps].reverse()]).flat();
    for (const [i, step] of order.entries()) {
      const server = servers.get(step)!;
      if (values['wait-quiet'] === true) await waitForQuiet(10_000);
      // The first visit warms a fresh server up longer (V8 keeps getting faster for seconds).
      const result = await runHttp({ url: server.url, path: `/v2/models/${MODEL}/infer`, requests, connections: Number(values.connections), warmupSec: i < steps.length ? 3 : 1, measureSec: Number(values.seconds), serverPid: server.pid });
      runs.set(step, [...(runs.get(step) ?? []), result]);
      console.error(`${step}: ${Math.round(result.requestsPerSec)} req/s, server ${result.cpu?.serverCores.toFixed(2)} cores, others ${result.cpu?.otherCores.toFixed(2)}`);
    }
    // The CLIs' rows per batch from their /metrics (the ablation servers log theirs on SIGTERM).
    for (const [step, server] of servers) if (step.startsWith('cli')) cliBatches.set(step, await rowsPerBatchOf(server.url));
  } finally {
    for (const server of servers.values()) await server.stop();
  }
  const batchLog = await readFile(path.join(root, 'batches.jsonl'), 'utf8').catch(() => '');
  const rowsPerBatch = new Map<Step, number>();
  for (const [step, rows] of cliBatches) if (rows !== undefined) rowsPerBatch.set(step, rows);
  for (const line of batchLog.split('\n').filter(Boolean)) {
    const { variant, batches, rows } = JSON.parse(line) as { variant: Step; batches: number; rows: number };
    rowsPerBatch.set(variant, rows / batches);
  }
  await rm(root, { recursive: true, force: true });
  const base = mergeHttpRuns(runs.get(steps[0]!)!);
  const perRequest = (r: HttpRunResult) => (r.cpu === undefined ? NaN : (r.cpu.serverCores / r.requestsPerSec) * 1e6);
  console.log(`\nMLP onnx, ${values.connections} connections, ${values.seconds} s × ${2 * Number(values.rounds)} per step, ${new Date().toISOString()}`);
  console.log('| step | req/s | ÷ first | server CPU µs/req | ÷ first | p50 ms | rows per batch | errors | others (cores) |');
  console.log('|---|--:|--:|--:|--:|--:|--:|--:|--:|');
  for (const step of steps) {
    const r = mergeHttpRuns(runs.get(step)!);
    console.log(`| ${step} | ${Math.round(r.requestsPerSec)} | ${(r.requestsPerSec / base.requestsPerSec).toFixed(2)}× | ${perRequest(r).toFixed(1)} | ${(perRequest(r) / perRequest(base)).toFixed(2)}× | ${r.latency.p50.toFixed(2)} | ${rowsPerBatch.get(step)?.toFixed(1) ?? '–'} | ${r.errors + r.non2xx} | ${r.cpu?.otherCores.toFixed(2)} |`);
  }
}

/** Rows per runtime call over a server's life, from its Prometheus `batch_size` histogram (undefined without /metrics). */
async function rowsPerBatchOf(url: string): Promise<number | undefined> {
  const text = await fetch(`${url}/metrics`).then((r) => (r.ok ? r.text() : ''), () => '');
  const total = (suffix: string) => text.split('\n').filter((line) => new RegExp(`^\\w+_batch_size_${suffix}[ {]`).test(line)).reduce((n, line) => n + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
  const count = total('count');
  return count > 0 ? total('sum') / count : undefined;
}

if (isMain(import.meta.url)) await main();
