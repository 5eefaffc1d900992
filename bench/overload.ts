/**
 * Overload: `modelhost serve` (the built CLI, `node dist/cli.js`, as an operator runs it) on
 * the demo repository, pushed past capacity by a load client in this process, on 127.0.0.1.
 *
 *   npm run build && npm run demo:models
 *   npx tsx bench/overload.ts [--seconds 6] [--only mlp,mobilenet] [--client raw|autocannon|wrk [--wrk-threads 1]]
 *
 * mlp (mlp-onnx, ≈0.1 ms per run): a closed loop (raw sockets by default; `--client wrk`, a C client
 *   not in package.json, checks that the numbers are not the client's) at 32 connections (1×, the
 *   concurrency where throughput peaks), 160 (5×), 640 (20×) and 2000 (≈60×), each for
 *   --seconds, and the same connection counts against a bare node:http server answering a
 *   fixed body in a process of its own (the floor: what this machine's HTTP and load client
 *   allow at all). Successes per CPU-second of each server process are reported beside the
 *   rates: the ratio that other processes taking CPU does not move. Per level:
 *   goodput (2xx/s), refusals by status, p50/p99 of 2xx, liveness and readiness probe
 *   latency (a probe every 20 ms on its own connection), Retry-After accuracy (polite
 *   clients that wait the Retry-After they get and retry once: how many get in), server RSS.
 * mobilenet (MobileNetV2, tfjs wasm, tens of ms per image): its capacity (rows/s of a burst
 *   of 64 on a server without deadlines), then on `serve --timeout 2000` bursts of 50, 100
 *   and 200 one-shot requests (KServe binary tensors), after a burst of 8 that lets the
 *   scheduler learn the per-row cost; goodput ÷ what the model computes in 2 s (capacity ×
 *   2 s), liveness probe latency; the three bursts run twice, and RSS is read when `serve` is
 *   ready (before any request), at its peak, 3 s after each round and after a full GC. `serve`
 *   inherits this process's environment: `MALLOC_MMAP_THRESHOLD_=131072 npx tsx bench/overload.ts
 *   --only mobilenet` measures the allocator setting docs/configuration.md recommends.
 *
 * The machine is shared: compare ratios within one run. Tables to stdout, JSON to
 * bench/results/overload.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import { startFloor } from './http/serve-process.js';
import { rawLoad } from './lib/raw-load.js';
import { rssMiB } from './lib/process-rss.js';
import { wrkLoad } from './lib/wrk-load.js';
import { describeMachine, machineInfo } from './lib/machine.js';
import { writeResults } from './lib/results.js';
import { summarize, type Summary } from './lib/stats.js';
import { formatCount, formatMs, formatRatio, formatTable } from './lib/table.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const REPOSITORY = fileURLToPath(new URL('../examples/quickstart/models', import.meta.url));

interface Serve {
  readonly url: string;
  readonly pid: number;
  /** Where the server's memory is now (bench/lib/memory-report.cjs): V8 heap, external, RSS, before and after a full GC. */
  memory(): Promise<unknown>;
  stop(): Promise<void>;
}

const MEMORY_REPORT = fileURLToPath(new URL('./lib/memory-report.cjs', import.meta.url));

/** `node dist/cli.js serve <demo repository> --port 0 --models <model> …`, ready when it logs "listening". */
async function startServe(model: string, args: readonly string[] = []): Promise<Serve> {
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, '--expose-gc', '--require', MEMORY_REPORT, CLI, 'serve', REPOSITORY, '--port', '0', '--log-format', 'json', '--models', model, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  // A bench that dies (Ctrl-C, a timeout) must not leave its server running.
  const killChild = () => child.kill('SIGKILL');
  process.once('exit', killChild);
  const reports: ((report: unknown) => void)[] = [];
  let errLine = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    errLine += chunk;
    for (let nl = errLine.indexOf('\n'); nl >= 0; nl = errLine.indexOf('\n')) {
      const line = errLine.slice(0, nl);
      errLine = errLine.slice(nl + 1);
      if (line.startsWith('memory-report ')) reports.shift()?.(JSON.parse(line.slice('memory-report '.length)));
      else process.stderr.write(`${line}\n`);
    }
  });
  const url = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      const match = /"msg":"listening","url":"([^"]+)"/.exec(buffered);
      if (match) resolve(match[1]!);
      if (/"level":"error"/.test(buffered)) reject(new Error(`serve failed: ${buffered}`));
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${buffered}`)));
  });
  child.stdout!.resume();
  return {
    url,
    pid: child.pid!,
    memory() {
      return new Promise((resolve) => {
        reports.push(resolve);
        child.kill('SIGUSR2');
      });
    },
    async stop() {
      process.off('exit', killChild);
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

/** CPU seconds (user + system) a process has used, from /proc (clock ticks of 10 ms). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}


/** One HTTP request on `agent`; status, headers and time to the last byte. */
function call(url: string, agent: Agent, init: { method?: string; headers?: Record<string, string>; body?: Buffer | string } = {}): Promise<{ status: number; retryAfter: number | undefined; ms: number; error?: string }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = request(url, { method: init.method ?? 'GET', agent, headers: init.headers }, (res) => {
      let text = '';
      if (res.statusCode! >= 300) res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      else res.resume();
      res.on('end', () => {
        // The kind of refusal, without its numbers: "the deadline passed while its batch ran", …
        const error = text === '' ? undefined : String((JSON.parse(text) as { error?: unknown }).error).replace(/^model '[^']+' v\d+: /, '').replace(/\d+(\.\d+)?/g, 'N');
        resolve({ status: res.statusCode!, retryAfter: res.headers['retry-after'] === undefined ? undefined : Number(res.headers['retry-after']), ms: performance.now() - started, ...(error === undefined ? {} : { error }) });
      });
    });
    req.on('error', () => resolve({ status: 0, retryAfter: undefined, ms: performance.now() - started }));
    req.end(init.body);
  });
}

/** Probes `path` every `everyMs` on one keep-alive connection until stopped. */
function probe(url: string, path: string, everyMs = 20): { stop(): Promise<Summary & { failed: number }> } {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const samples: number[] = [];
  let failed = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const result = await call(`${url}${path}`, agent);
      if (result.status === 200) samples.push(result.ms);
      else failed++;
      await sleep(everyMs);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      agent.destroy();
      return { ...summarize(samples), failed };
    },
  };
}

/** Polite clients: each sends, and on a refusal with Retry-After waits that long and retries once. */
function politeClients(url: string, path: string, body: string, clients: number): { stop(): Promise<{ refused: number; admittedAfterWait: number }> } {
  let running = true;
  let refused = 0;
  let admittedAfterWait = 0;
  const loops = Array.from({ length: clients }, async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    while (running) {
      // Paced (one attempt per 100 ms each), so they sample the server without adding load of their own.
      await sleep(100);
      const first = await call(`${url}${path}`, agent, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      if (first.retryAfter === undefined) continue;
      refused++;
      await sleep(first.retryAfter * 1000);
      if (!running) break;
      const retry = await call(`${url}${path}`, agent, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      if (retry.status === 200) admittedAfterWait++;
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return { refused, admittedAfterWait };
    },
  };
}

interface Level {
  readonly connections: number;
  readonly goodput: number;
  readonly floor: number | undefined;
  readonly floorCpu: Cpu | undefined;
  /** Machine share (all cores = 1) of the load client and of the server during the run. */
  readonly cpu: Cpu;
  readonly statuses: Record<string, number>;
  readonly latency: Summary;
  readonly live: Summary & { failed: number };
  readonly ready: Summary & { failed: number };
  readonly polite: { refused: number; admittedAfterWait: number };
  readonly rssBefore: number;
  readonly rssAfter: number;
}

/** The load client: raw sockets (cheapest, the default), autocannon, or wrk (C, optional: `apt-get install wrk`). */
let loadClient: 'raw' | 'autocannon' | 'wrk' = 'raw';
/** wrk's `-t`. */
let wrkThreads = 1;
/** Node flags for `serve` (`--node-args "--max-semi-space-size=64"`). */
let nodeArgs: string[] = [];

interface Cpu {
  /** Share of the machine's cores, 0..1, over the run. */
  readonly client: number;
  readonly server: number;
}

async function closedLoop(url: string, path: string, body: string, connections: number, seconds: number, serverPid?: number): Promise<{ goodput: number; statuses: Record<string, number>; latency: Summary; cpu: Cpu }> {
  const cores = availableParallelism();
  const clientBefore = process.cpuUsage();
  const serverBefore = serverPid === undefined ? 0 : cpuSeconds(serverPid);
  const started = performance.now();
  if (loadClient === 'raw') {
    const run = await rawLoad({ url: `${url}${path}`, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections, seconds });
    const wall = (performance.now() - started) / 1000;
    const used = process.cpuUsage(clientBefore);
    const cpu = { client: (used.user + used.system) / 1e6 / wall / cores, server: serverPid === undefined ? 0 : (cpuSeconds(serverPid) - serverBefore) / wall / cores };
    return { goodput: run.latencies.length / run.seconds, statuses: run.statuses, latency: summarize(Array.from(run.latencies)), cpu };
  }
  if (loadClient === 'wrk') {
    const run = await wrkLoad({ url: `${url}${path}`, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections, seconds, threads: wrkThreads });
    const wall = (performance.now() - started) / 1000;
    // The client's share is wrk's own CPU (the probes and polite clients in this process are not counted).
    const cpu = { client: run.clientCpuSeconds / wall / cores, server: serverPid === undefined ? 0 : (cpuSeconds(serverPid) - serverBefore) / wall / cores };
    return { goodput: run.goodput, statuses: run.statuses, latency: run.latency, cpu };
  }
  const statuses: Record<string, number> = {};
  const latencies: number[] = [];
  const instance = autocannon({ url: `${url}${path}`, connections, duration: seconds, timeout: 60, method: 'POST', headers: { 'content-type': 'application/json' }, body });
  instance.on('response', (_client, status, _bytes, ms) => {
    statuses[status] = (statuses[status] ?? 0) + 1;
    if (status < 300) latencies.push(ms);
  });
  const result = await instance;
  const wall = (performance.now() - started) / 1000;
  const client = process.cpuUsage(clientBefore);
  const cpu = { client: (client.user + client.system) / 1e6 / wall / cores, server: serverPid === undefined ? 0 : (cpuSeconds(serverPid) - serverBefore) / wall / cores };
  for (const [kind, n] of [['errors', result.errors], ['timeouts', result.timeouts]] as const) if (n > 0) statuses[kind] = n;
  return { goodput: latencies.length / seconds, statuses, latency: summarize(latencies), cpu };
}

async function mlp(seconds: number, connectionLevels: readonly number[], serveArgs: readonly string[], withFloor: boolean): Promise<Level[]> {
  const path = '/v2/models/mlp-onnx/infer';
  const body = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 64], datatype: 'FP32', data: Array.from({ length: 64 }, (_, i) => i / 64) }] });
  const response = JSON.stringify({ model_name: 'mlp-onnx', model_version: '1', outputs: [{ name: 'y', datatype: 'FP32', shape: [1, 10], data: Array.from({ length: 10 }, () => 0.123456) }] });
  const levels: Level[] = [];
  const serve = await startServe('mlp-onnx', serveArgs);
  const floor = await startFloor(response);
  try {
    await closedLoop(serve.url, path, body, 32, 2); // warm
    process.stderr.write(`mlp memory after warming: ${JSON.stringify(await serve.memory())}; RSS ${rssMiB(serve.pid).toFixed(0)} MiB\n`);
    for (const connections of connectionLevels) {
      const rssBefore = rssMiB(serve.pid);
      const live = probe(serve.url, '/v2/health/live');
      const ready = probe(serve.url, '/v2/health/ready');
      const polite = politeClients(serve.url, path, body, 10);
      const run = await closedLoop(serve.url, path, body, connections, seconds, serve.pid);
      const [liveStats, readyStats, politeStats] = await Promise.all([live.stop(), ready.stop(), polite.stop()]);
      await sleep(1000);
      const rssAfter = rssMiB(serve.pid);
      const floorRun = withFloor ? await closedLoop(floor.url, path, body, connections, Math.min(seconds, 4), floor.pid) : undefined;
      levels.push({ connections, goodput: run.goodput, floor: floorRun?.goodput, floorCpu: floorRun?.cpu, cpu: run.cpu, statuses: run.statuses, latency: run.latency, live: liveStats, ready: readyStats, polite: politeStats, rssBefore, rssAfter });
      process.stderr.write(`mlp ${connections}: ${Math.round(run.goodput)}/s (floor ${floorRun === undefined ? '–' : `${Math.round(floorRun.goodput)}/s, cpu client ${(floorRun.cpu.client * 100).toFixed(0)}% server ${(floorRun.cpu.server * 100).toFixed(0)}%`}) ${JSON.stringify(run.statuses)} cpu client ${(run.cpu.client * 100).toFixed(0)}% server ${(run.cpu.server * 100).toFixed(0)}% live p99 ${liveStats.p99.toFixed(1)} ms\n`);
    }
    process.stderr.write(`mlp memory after the levels: ${JSON.stringify(await serve.memory())}; RSS ${rssMiB(serve.pid).toFixed(0)} MiB, after a full GC (1 s later) `);
    await sleep(1000);
    process.stderr.write(`${rssMiB(serve.pid).toFixed(0)} MiB\n`);
  } finally {
    await floor.stop();
    await serve.stop();
  }
  return levels;
}

interface Burst {
  readonly requests: number;
  readonly round: number;
  readonly ok: number;
  readonly statuses: Record<string, number>;
  /** Refusals by message, numbers elided. */
  readonly reasons: Record<string, number>;
  readonly capacity: number;
  readonly wallMs: number;
  readonly live: Summary & { failed: number };
}

interface MobilenetResult {
  readonly bursts: Burst[];
  readonly rowsPerSec: number;
  /** RSS when `serve` logged "listening" (every model warmed up), before any request: what an operator sees before traffic. */
  readonly rssReady: number;
  /** RSS after each round of bursts (50, 100, 200), 3 s after its last. */
  readonly rssAfterRound: number[];
  readonly rssPeak: number;
  readonly rssAfterGc: number;
  readonly memory: unknown;
}

async function mobilenet(): Promise<MobilenetResult> {
  const path = '/v2/models/mobilenet/infer';
  const pixels = new Float32Array(224 * 224 * 3).fill(0.5);
  const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'input_1', shape: [1, 224, 224, 3], datatype: 'FP32', parameters: { binary_data_size: pixels.byteLength } }], parameters: { binary_data_output: true } }));
  const body = Buffer.concat([header, Buffer.from(pixels.buffer)]);
  const headers = { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.byteLength) };
  let serve = await startServe('mobilenet');
  const burst = async (n: number) => {
    const agent = new Agent({ keepAlive: true, maxSockets: n });
    const started = performance.now();
    const results = await Promise.all(Array.from({ length: n }, () => call(`${serve.url}${path}`, agent, { method: 'POST', headers, body })));
    agent.destroy();
    const statuses: Record<string, number> = {};
    for (const r of results) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    const reasons: Record<string, number> = {};
    for (const r of results) if (r.error !== undefined) reasons[r.error] = (reasons[r.error] ?? 0) + 1;
    return { ok: statuses['200'] ?? 0, statuses, reasons, wallMs: performance.now() - started };
  };
  try {
    // Capacity, without a deadline: a warm burst of 64 (full batches) on a server with no --timeout.
    await burst(8);
    const learn = await burst(64);
    const rowsPerSec = (learn.ok / learn.wallMs) * 1000;
    await serve.stop();
    serve = await startServe('mobilenet', ['--timeout', '2000']);
    const rssReady = rssMiB(serve.pid);
    process.stderr.write(`mobilenet memory when ready: ${JSON.stringify(await serve.memory())}; RSS ${rssReady.toFixed(0)} MiB\n`);
    await burst(8); // the scheduler learns the per-row cost from a first batch
    let rssPeak = rssReady;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssMiB(serve.pid))), 100);
    const bursts: Burst[] = [];
    const rssAfterRound: number[] = [];
    // Two rounds: memory that grew in the first must not grow again in the second (fragmentation).
    for (let round = 1; round <= 2; round++) {
      for (const n of [50, 100, 200]) {
        const live = probe(serve.url, '/v2/health/live');
        const result = await burst(n);
        bursts.push({ requests: n, round, ok: result.ok, statuses: result.statuses, reasons: result.reasons, capacity: Math.min(n, rowsPerSec * 2), wallMs: result.wallMs, live: await live.stop() });
        process.stderr.write(`mobilenet round ${round} burst ${n}: ${result.ok} ok ${JSON.stringify(result.statuses)} ${JSON.stringify(result.reasons)}\n`);
        await sleep(500);
      }
      await sleep(3000);
      rssAfterRound.push(rssMiB(serve.pid));
    }
    clearInterval(sampler);
    const memory = await serve.memory();
    await sleep(1000);
    const rssAfterGc = rssMiB(serve.pid);
    process.stderr.write(`mobilenet memory 3 s after: ${JSON.stringify(memory)}; RSS after a full GC ${rssAfterGc.toFixed(0)} MiB\n`);
    return { bursts, rowsPerSec, rssReady, rssAfterRound, rssPeak, rssAfterGc, memory };
  } finally {
    await serve.stop();
  }
}

/** glibc malloc tunables `serve` inherits from this process (docs/configuration.md, "Warming up at the largest batch"): RSS depends on them. */
function allocatorEnv(): string {
  const set = Object.entries(process.env).filter(([name]) => name.startsWith('MALLOC_') || name === 'GLIBC_TUNABLES');
  return set.length === 0 ? '' : `, serve's environment: ${set.map(([name, value]) => `${name}=${value}`).join(' ')}`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '6' },
      only: { type: 'string', default: 'mlp,mobilenet' },
      connections: { type: 'string', default: '32,160,640,2000' },
      client: { type: 'string', default: 'raw' },
      'wrk-threads': { type: 'string', default: '1' },
      'serve-args': { type: 'string', default: '' },
      'no-floor': { type: 'boolean', default: false },
      'node-args': { type: 'string', default: '' },
    },
  });
  const seconds = Number(values.seconds);
  if (values.client !== 'raw' && values.client !== 'autocannon' && values.client !== 'wrk') throw new TypeError(`--client must be raw, autocannon or wrk, got ${values.client}`);
  loadClient = values.client;
  wrkThreads = Number(values['wrk-threads']);
  const serveArgs = values['serve-args']!.split(' ').filter((a) => a !== '');
  nodeArgs = values['node-args']!.split(' ').filter((a) => a !== '');
  const only = values.only!.split(',');
  const results: Record<string, unknown> = { machine: machineInfo() };
  process.stdout.write(`${describeMachine(machineInfo())}\n\n`);
  if (only.includes('mlp')) {
    const levels = await mlp(seconds, values.connections!.split(',').map(Number), serveArgs, !values['no-floor']);
    results['mlp'] = levels;
    const peak = Math.max(...levels.map((l) => l.goodput));
    // Successes per CPU-second of the server process: the ratio that machine noise (other processes taking CPU) does not move.
    const cores = availableParallelism();
    const perCpu = (goodput: number, cpu: Cpu | undefined) => (cpu === undefined || cpu.server === 0 ? undefined : goodput / (cpu.server * cores));
    const peakPerCpu = Math.max(...levels.map((l) => perCpu(l.goodput, l.cpu) ?? 0));
    const floorPeakPerCpu = Math.max(...levels.map((l) => (l.floor === undefined ? 0 : perCpu(l.floor, l.floorCpu) ?? 0)));
    process.stdout.write(
      `mlp-onnx, closed loop (${loadClient} client), ${seconds} s per level${serveArgs.length > 0 ? `, serve ${serveArgs.join(' ')}` : ''}\n${formatTable(
        ['connections', 'goodput/s', '÷ peak', 'per server CPU-s (÷ peak)', 'floor/s (÷ peak)', 'floor per CPU-s (÷ peak)', 'CPU client / server', 'floor CPU client / server', 'refusals', loadClient === 'wrk' ? 'p50 (all, wrk)' : 'p50 2xx', loadClient === 'wrk' ? 'p99 (all, wrk)' : 'p99 2xx', 'live p99', 'ready p99', 'probe fails', 'polite: refused → in after wait', 'RSS MiB before → after'],
        levels.map((l) => [
          String(l.connections),
          formatCount(l.goodput),
          formatRatio(l.goodput / peak),
          `${formatCount(perCpu(l.goodput, l.cpu) ?? 0)} (${formatRatio((perCpu(l.goodput, l.cpu) ?? 0) / peakPerCpu)})`,
          l.floor === undefined ? '–' : `${formatCount(l.floor)} (${formatRatio(l.floor / Math.max(...levels.map((x) => x.floor ?? 0)))})`,
          l.floor === undefined ? '–' : `${formatCount(perCpu(l.floor, l.floorCpu) ?? 0)} (${formatRatio((perCpu(l.floor, l.floorCpu) ?? 0) / floorPeakPerCpu)})`,
          `${(l.cpu.client * 100).toFixed(0)}% / ${(l.cpu.server * 100).toFixed(0)}%`,
          l.floorCpu === undefined ? '–' : `${(l.floorCpu.client * 100).toFixed(0)}% / ${(l.floorCpu.server * 100).toFixed(0)}%`,
          Object.entries(l.statuses).filter(([s]) => s !== '200').map(([s, n]) => `${s}: ${n}`).join(', ') || '0',
          formatMs(l.latency.p50),
          formatMs(l.latency.p99),
          formatMs(l.live.p99),
          formatMs(l.ready.p99),
          String(l.live.failed + l.ready.failed),
          `${l.polite.refused} → ${l.polite.admittedAfterWait}`,
          `${l.rssBefore.toFixed(0)} → ${l.rssAfter.toFixed(0)}`,
        ]),
      )}\n\n`,
    );
  }
  if (only.includes('mobilenet')) {
    const m = await mobilenet();
    results['mobilenet'] = { ...m, allocatorEnv: allocatorEnv() };
    process.stdout.write(
      `mobilenet, --timeout 2000, one-shot bursts (measured ${m.rowsPerSec.toFixed(1)} rows/s: ${Math.floor(m.rowsPerSec * 2)} rows in 2 s)${allocatorEnv()}\n${formatTable(
        ['round', 'burst', 'ok', '÷ computable in 2 s', 'statuses', 'wall', 'live p99', 'live max'],
        m.bursts.map((b) => [String(b.round), String(b.requests), String(b.ok), formatRatio(b.ok / b.capacity), JSON.stringify(b.statuses), formatMs(b.wallMs), formatMs(b.live.p99), formatMs(b.live.max)]),
      )}\nRSS MiB: when ready ${m.rssReady.toFixed(0)}, peak ${m.rssPeak.toFixed(0)}, 3 s after each round ${m.rssAfterRound.map((r) => `${r.toFixed(0)} (${formatRatio(r / m.rssReady)})`).join(', ')}, after a full GC ${m.rssAfterGc.toFixed(0)} (${formatRatio(m.rssAfterGc / m.rssReady)} of ready)\n`,
    );
  }
  await writeResults(results, { extraPath: 'bench/results/overload.json', latest: false });
}

await main();
