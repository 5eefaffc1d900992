/**
 * modelhost beside a Python peer on the same model and requests (issue 17): `modelhost
 * serve` (the built CLI) and a KServe v2 endpoint in Python, FastAPI + uvicorn + onnxruntime
 * (bench/peers/kserve_v2_fastapi.py: the KServe model server's stack; MLServer and the
 * `kserve` package cannot be installed on the bench machine), both serving the MLP
 * 64→256→256→10 ONNX file of the load bench, both driven by the same autocannon load of the
 * same KServe v2 JSON requests (bench/http.ts's 16 rows), at 64 connections and at 1.
 *
 *   npm run build && npx tsx bench/peers.ts [--quick] [--venv dir] [--json path]
 *
 * The Python side runs in a venv (default $TMPDIR/modelhost-peers-venv) that the script
 * creates with `pip install fastapi uvicorn onnxruntime numpy` when it lacks them; when pip
 * cannot install them the Python side is skipped with the reason, and only modelhost runs.
 * Not part of `npm run bench` or CI. About 45 s (--quick ~25 s) once the venv exists.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { isMain } from './lib/cli.js';
import { describeMachine, machineInfo } from './lib/machine.js';
import { RESULTS_DIR, writeResults } from './lib/results.js';
import { formatCount, formatMs, formatRatio, formatTable, NONE } from './lib/table.js';
import { mergeHttpRuns, runHttp, type HttpRunResult } from './http/autocannon-run.js';
import { startCommand, startServe, type ServeProcess } from './http/serve-process.js';
import { requestsFor } from './http.js';
import { BATCHING } from './load/host.js';
import { writeRepository } from './load/models.js';

const run = promisify(execFile);
const MODEL = 'mlp-onnx';
const PYTHON_SERVER = fileURLToPath(new URL('./peers/kserve_v2_fastapi.py', import.meta.url));
const PYTHON_PACKAGES = ['fastapi', 'uvicorn', 'onnxruntime', 'numpy'];
const log = (line: string) => process.stderr.write(`${line}\n`);

type Side = 'modelhost' | 'python';

export interface PeerCell {
  readonly connections: number;
  readonly modelhost: HttpRunResult;
  readonly python: HttpRunResult | undefined;
  /** modelhost's req/s ÷ the Python server's. */
  readonly throughputRatio: number | undefined;
  /** The Python server's p99 ÷ modelhost's. */
  readonly p99Ratio: number | undefined;
}

/** The venv's python with the packages importable, or why not. */
async function pythonFor(venv: string): Promise<{ python: string; versions: string } | { skipped: string }> {
  const python = path.join(venv, 'bin', 'python');
  const probe = async () => (await run(python, ['-c', 'import fastapi, uvicorn, onnxruntime, numpy, pydantic; print("fastapi", fastapi.__version__, "uvicorn", uvicorn.__version__, "pydantic", pydantic.VERSION, "onnxruntime", onnxruntime.__version__, "numpy", numpy.__version__)'])).stdout.trim();
  if (existsSync(python)) {
    try {
      return { python, versions: await probe() };
    } catch {
      // installed below
    }
  }
  try {
    log(`peers: creating ${venv} and installing ${PYTHON_PACKAGES.join(', ')} with pip`);
    if (!existsSync(python)) await run('python3', ['-m', 'venv', venv]);
    // No retries: an unreachable index fails in seconds, not minutes.
    await run(path.join(venv, 'bin', 'pip'), ['install', '--quiet', '--retries', '0', '--timeout', '20', ...PYTHON_PACKAGES], { maxBuffer: 16 << 20 });
    return { python, versions: await probe() };
  } catch (error) {
    const detail = String((error as { stderr?: string }).stderr ?? (error as Error).message).trim().split('\n').slice(-2).join(' ');
    return { skipped: `the Python side needs ${PYTHON_PACKAGES.join(', ')} in a venv (${venv}), and pip could not install them: ${detail}` };
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean' }, venv: { type: 'string' }, json: { type: 'string' } } });
  const quick = values.quick ?? false;
  const venv = values.venv ?? path.join(tmpdir(), 'modelhost-peers-venv');
  const startedAt = new Date().toISOString();
  console.log(`machine: ${describeMachine(machineInfo())}`);
  console.log(`command: npm run build && npx tsx bench/peers.ts${process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''}\n`);

  const py = await pythonFor(venv);
  if ('skipped' in py) log(`peers: SKIPPED the Python side: ${py.skipped}`);
  const root = await mkdtemp(path.join(tmpdir(), 'modelhost-bench-peers-'));
  const servers: Partial<Record<Side, ServeProcess>> = {};
  const cells: PeerCell[] = [];
  try {
    await writeRepository(root, [MODEL]);
    await writeFile(path.join(root, MODEL, 'config.json'), JSON.stringify({ batching: { ...BATCHING }, onnx: { intraOpNumThreads: 1 }, instances: { kind: 'inline' } }));
    servers.modelhost = await startServe(root, [MODEL]);
    log(`peers: ${servers.modelhost.command} → ${servers.modelhost.url}`);
    if (!('skipped' in py)) {
      servers.python = await startCommand(py.python, [PYTHON_SERVER, path.join(root, MODEL, '1', 'model.onnx'), MODEL, '--intra-op-threads', '1'], 'python bench/peers/kserve_v2_fastapi.py (FastAPI + uvicorn, onnxruntime 1 thread)');
      log(`peers: ${servers.python.command} → ${servers.python.url} (${py.versions})`);
    }
    const { jsonRequests, jsonBodies } = requestsFor(MODEL);
    const inferPath = `/v2/models/${MODEL}/infer`;
    await sameAnswers(servers, inferPath, jsonBodies);

    const sides = (Object.keys(servers) as Side[]).filter((s) => servers[s] !== undefined);
    for (const side of sides) {
      log(`peers: warming ${side} up (${quick ? 1 : 3} s, 64 connections)`);
      await runHttp({ url: servers[side]!.url, path: inferPath, requests: jsonRequests, connections: 64, warmupSec: 0, measureSec: quick ? 1 : 3, serverPid: servers[side]!.pid });
    }
    for (const connections of [64, 1]) {
      // modelhost, python, python, modelhost: both sides at the same mean time.
      const order = quick ? sides : [...sides, ...[...sides].reverse()];
      const runs: Record<Side, HttpRunResult[]> = { modelhost: [], python: [] };
      for (const side of order) {
        const result = await runHttp({ url: servers[side]!.url, path: inferPath, requests: jsonRequests, connections, warmupSec: 0.5, measureSec: quick ? 1.5 : 3, serverPid: servers[side]!.pid });
        runs[side].push(result);
        log(`  ${side}, ${connections} connections: ${formatCount(result.requestsPerSec)} req/s, p50 ${formatMs(result.latency.p50)} ms, p99 ${formatMs(result.latency.p99)} ms, ${result.errors + result.non2xx} errors, server ${result.cpu?.serverCores.toFixed(2) ?? '?'} cores`);
      }
      const modelhost = mergeHttpRuns(runs.modelhost);
      const python = runs.python.length > 0 ? mergeHttpRuns(runs.python) : undefined;
      cells.push({
        connections,
        modelhost,
        python,
        throughputRatio: python === undefined ? undefined : modelhost.requestsPerSec / python.requestsPerSec,
        p99Ratio: python === undefined ? undefined : python.latency.p99 / modelhost.latency.p99,
      });
    }
  } finally {
    for (const server of Object.values(servers)) await server?.stop();
    await rm(root, { recursive: true, force: true });
  }

  const row = (label: string, c: PeerCell, r: HttpRunResult | undefined) =>
    r === undefined
      ? [label, String(c.connections), 'skipped', NONE, NONE, NONE, NONE, NONE]
      : [label, String(c.connections), formatCount(r.requestsPerSec), formatMs(r.latency.p50), formatMs(r.latency.p99), String(r.errors + r.non2xx), r.cpu === undefined ? NONE : r.cpu.serverCores.toFixed(2), r.cpu === undefined ? NONE : formatCount((r.cpu.serverCores * 1e6) / r.requestsPerSec)];
  console.log(formatTable(['server', 'connections', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'server cores', 'server CPU µs/req'], cells.flatMap((c) => [row('modelhost serve', c, c.modelhost), row('FastAPI + uvicorn + onnxruntime', c, c.python)])));
  console.log('');
  console.log(formatTable(['connections', 'req/s: modelhost ÷ Python', 'p99: Python ÷ modelhost'], cells.map((c) => [String(c.connections), c.throughputRatio === undefined ? NONE : formatRatio(c.throughputRatio), c.p99Ratio === undefined ? NONE : formatRatio(c.p99Ratio)])));
  console.log(`\n${'skipped' in py ? `Python side skipped: ${py.skipped}` : `Python: ${py.versions}`}.`);
  console.log(`modelhost: ${servers.modelhost?.command}; config ${JSON.stringify({ batching: BATCHING, onnx: { intraOpNumThreads: 1 } })}. Load: autocannon in this process, the 16 KServe v2 JSON bodies of bench/http.ts.`);
  const written = await writeResults({ startedAt, machine: machineInfo(), python: 'skipped' in py ? { skipped: py.skipped } : { versions: py.versions }, cells }, { latest: false, extraPath: values.json ?? path.join(RESULTS_DIR, 'peers.json') });
  console.log(`results in ${written.join(', ')}`);
}

/** Both servers must answer the same request with the same numbers (within float32 rounding of different batch sizes). */
async function sameAnswers(servers: Partial<Record<Side, ServeProcess>>, inferPath: string, bodies: readonly string[]): Promise<void> {
  if (servers.python === undefined) return;
  const answer = async (server: ServeProcess) => {
    const response = await fetch(`${server.url}${inferPath}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bodies[0] });
    if (response.status !== 200) throw new Error(`${server.command} answered ${response.status}: ${await response.text()}`);
    return ((await response.json()) as { outputs: { name: string; shape: number[]; data: number[] }[] }).outputs;
  };
  const [a, b] = [await answer(servers.modelhost!), await answer(servers.python)];
  const same = a.length === b.length && a.every((o, i) => o.name === b[i]!.name && o.shape.join() === b[i]!.shape.join() && o.data.every((x, k) => Math.abs(x - b[i]!.data[k]!) <= 1e-5 * Math.max(1, Math.abs(x))));
  if (!same) throw new Error(`the two servers answer differently:\n${JSON.stringify(a)}\n${JSON.stringify(b)}`);
}

if (isMain(import.meta.url)) await main();
