/**
 * HTTP overhead: the same model, the same rows, in one run on one machine, through
 *   (a) in-process   C callers awaiting host.predict(name, Float32Array) (bench/lib/closed-loop.ts)
 *   (b) handler      C callers awaiting createHttpHandler(host) on a KServe v2 JSON body:
 *                    the protocol's cost (JSON parse, tensor conversion, JSON encode) without sockets
 *   (c) HTTP         C autocannon connections to `modelhost serve` in another process, each with
 *                    one KServe v2 JSON infer request in flight
 *   (d) HTTP binary  the same, with KServe's binary tensor data extension (raw float32 bytes
 *                    after a small JSON header, both ways): no numbers to parse or print
 *   (e) floor        (MLP only) the same connections to a bare node:http server in another
 *                    process that reads the body and sends a fixed response of the same size:
 *                    what any Node.js HTTP server costs on this machine, with no model at all
 *   (f) bare handler (MLP only) the same connections to a node:http server in another process
 *                    that JSON.parses the body, awaits host.predict on the built host and
 *                    answers JSON.stringify of the outputs: a hand-written endpoint (issue 17's
 *                    yardstick, c ÷ f)
 * and each side's requests/s ÷ (a): what serving over HTTP keeps of in-process throughput.
 * Every server process runs under plain `node`: (c) and (d) are the built CLI, `node
 * dist/cli.js serve` (run `npm run build` first; the bench refuses a dist/ older than src/).
 *
 *   npm run build && npx tsx bench/http.ts [--quick] [--only mlp-onnx,mobilenet] [--json path] [--wait-quiet]
 *
 * Both hosts read the same repository, with the same config.json (the load bench's batching,
 * { maxBatchSize: 64, maxDelayMs: 2 }), so only the path to the host differs. About 55 s on
 * 2 cores (--quick: ~40 s). Tables to stdout, progress to stderr, results in
 * bench/results/http.json.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { createHttpHandler } from '../src/adapters/http/index.js';
import { ModelHost } from '../src/index.js';
import { isMain } from './lib/cli.js';
import { mergeResults, runClosedLoop, type Budget, type ClosedLoopResult } from './lib/closed-loop.js';
import { cpuShareSince, cpuSnapshot } from './lib/cpu-contention.js';
import { describeMachine, machineInfo, type MachineInfo } from './lib/machine.js';
import { RESULTS_DIR, writeResults } from './lib/results.js';
import { formatCount, formatMs, formatRatio, formatTable, NONE } from './lib/table.js';
import { mergeHttpRuns, runHttp, type HttpRunResult } from './http/autocannon-run.js';
import { startBare, startFloor, startServe, type ServeProcess } from './http/serve-process.js';
import { BATCHING } from './load/host.js';
import { inputRows, MODELS, writeRepository, type ModelId } from './load/models.js';

const HTTP_MODELS = ['mlp-onnx', 'mobilenet'] as const satisfies readonly ModelId[];
type HttpModelId = (typeof HTTP_MODELS)[number];

export interface HttpBenchArgs {
  readonly quick: boolean;
  readonly only: readonly HttpModelId[];
  readonly json: string | undefined;
  /** Before each cell, wait (up to 60 s) until other processes leave the cores alone. */
  readonly waitQuiet: boolean;
}

type Side = 'inProcess' | 'handler' | 'http' | 'binary' | 'floor' | 'bare';
const SIDES: readonly Side[] = ['inProcess', 'handler', 'http', 'binary'];
const SIDE_LABEL: Readonly<Record<Side, string>> = {
  inProcess: '(a) in-process host.predict',
  handler: '(b) KServe handler, no socket',
  http: '(c) HTTP, JSON',
  binary: '(d) HTTP, binary tensors',
  floor: '(e) node:http floor, no model',
  bare: '(f) bare node:http handler',
};
type HttpSide = 'http' | 'binary' | 'floor' | 'bare';
/** Whether the side is an HTTP run against a server process. */
const isHttpSide = (side: Side): side is HttpSide => side === 'http' || side === 'binary' || side === 'floor' || side === 'bare';

interface CellPlan {
  readonly model: HttpModelId;
  readonly concurrency: number;
  /** Sides in the order they run: symmetric orders put every side at the same mean time. */
  readonly order: readonly Side[];
  /** First run of a side; later runs of the same side re-warm with `rewarm`. */
  readonly warmup: Budget;
  readonly rewarm: Budget;
  readonly measure: Budget;
  readonly httpWarmupSec: number;
  readonly httpRewarmSec: number;
  readonly httpMeasureSec: number;
}

function plan(args: HttpBenchArgs): CellPlan[] {
  const q = args.quick;
  const cells: CellPlan[] = [];
  const once: readonly Side[] = [...SIDES, 'bare', 'floor'];
  const twice: readonly Side[] = [...once, ...[...once].reverse()];
  if (args.only.includes('mlp-onnx')) {
    const timing = { warmup: { ms: 500 }, rewarm: { ms: 200 }, measure: { ms: q ? 700 : 1000 }, httpWarmupSec: 0.5, httpRewarmSec: 0.2, httpMeasureSec: q ? 0.7 : 1 };
    cells.push({ model: 'mlp-onnx', concurrency: 64, order: q ? once : twice, ...timing });
    cells.push({ model: 'mlp-onnx', concurrency: 1, order: once, ...timing });
  }
  if (args.only.includes('mobilenet')) {
    // ~0.1 s per image: time budgets long enough for a few dozen requests at 8 callers.
    cells.push({ model: 'mobilenet', concurrency: 8, order: SIDES, warmup: { requests: 8, ms: 30_000 }, rewarm: { requests: 8, ms: 30_000 }, measure: { ms: q ? 2000 : 3000 }, httpWarmupSec: 1, httpRewarmSec: 1, httpMeasureSec: q ? 2 : 3 });
  }
  return cells;
}

export interface CellReport {
  readonly model: HttpModelId;
  readonly concurrency: number;
  /** Request body sizes: KServe v2 JSON, and with the binary extension. */
  readonly jsonBytes: number;
  readonly binaryBytes: number;
  readonly inProcess: ClosedLoopResult;
  readonly handler: ClosedLoopResult;
  readonly http: HttpRunResult;
  readonly binary: HttpRunResult;
  /** The node:http floor (MLP cells only). */
  readonly floor: HttpRunResult | undefined;
  /** The bare node:http + host.predict handler (MLP cells only). */
  readonly bare: HttpRunResult | undefined;
  /** Requests/s ÷ (a)'s. */
  readonly handlerOverInProcess: number;
  readonly httpOverInProcess: number;
  readonly binaryOverInProcess: number;
  readonly floorOverInProcess: number | undefined;
  /** (c)'s requests/s ÷ the floor's: how close modelhost serve gets to a server that does nothing. */
  readonly httpOverFloor: number | undefined;
  /** (c)'s requests/s ÷ (f)'s: what modelhost serve keeps of a hand-written endpoint on the same host (issue 17: ≥ 0.9×). */
  readonly httpOverBare: number | undefined;
  /** Server CPU per request of (c) ÷ (f)'s: what modelhost serve costs per request over a hand-written endpoint. */
  readonly httpCpuOverBare: number | undefined;
  /** p50 − (a)'s p50, ms. */
  readonly httpP50DiffMs: number;
  readonly binaryP50DiffMs: number;
}

export interface HttpBenchReport {
  readonly startedAt: string;
  readonly args: HttpBenchArgs;
  readonly machine: MachineInfo;
  readonly loadAverageAtStart: readonly number[];
  /** Cores other processes took during a 1 s probe before the run. */
  readonly othersAtStart: number | undefined;
  readonly server: string;
  readonly serverExitCode: number | null;
  readonly config: object;
  readonly cells: readonly CellReport[];
  readonly wallMs: number;
}

const log = (line: string) => process.stderr.write(`${line}\n`);

export async function runHttpBench(args: HttpBenchArgs): Promise<HttpBenchReport> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const loadAverageAtStart = os.loadavg().map((l) => Math.round(l * 100) / 100);
  const probe = cpuSnapshot();
  await sleep(1000);
  const othersAtStart = cpuShareSince(probe)?.otherCores;
  log(`http: load average ${loadAverageAtStart.join(', ')}; other processes took ${othersAtStart?.toFixed(2) ?? '?'} cores over the last second`);

  const ids = [...args.only];
  const root = await mkdtemp(path.join(tmpdir(), 'modelhost-bench-http-'));
  // Both hosts read these: same batching as the load bench, onnxruntime on one thread (its default, spelled out).
  const config: Record<string, object> = { 'mlp-onnx': { batching: { ...BATCHING }, onnx: { intraOpNumThreads: 1 }, instances: { kind: 'inline' } }, mobilenet: { batching: { ...BATCHING }, instances: { kind: 'inline' } } };
  let server: ServeProcess | undefined;
  let host: ModelHost | undefined;
  let serverExitCode: number | null = null;
  const cells: CellReport[] = [];
  const floor = lazyFloor();
  let bare: ServeProcess | undefined;
  try {
    log(`http: writing ${ids.join(', ')} into ${root}`);
    await writeRepository(root, ids);
    for (const id of ids) await writeFile(path.join(root, id, 'config.json'), JSON.stringify(config[id]));
    server = await startServe(root, ids);
    log(`http: ${server.command} → ${server.url} (pid ${server.pid})`);
    host = new ModelHost({ repository: root });
    for (const id of ids) await host.load(id);
    const handle = createHttpHandler(host);
    if (ids.includes('mlp-onnx')) {
      // A fresh server keeps getting faster for its first seconds of traffic (the JIT reaches
      // the whole HTTP path): warm it before anything is measured.
      const warm = args.quick ? 1 : 3;
      log(`http: warming the server up: ${warm} s of JSON and ${warm / 2} s of binary requests, 64 connections`);
      const { jsonRequests, binaryRequests } = requestsFor('mlp-onnx');
      for (const [requests, sec] of [[jsonRequests, warm], [binaryRequests, warm / 2]] as const) {
        await runHttp({ url: server.url, path: '/v2/models/mlp-onnx/infer', requests, connections: 64, warmupSec: 0, measureSec: sec, serverPid: server.pid });
      }
    }

    if (ids.includes('mlp-onnx')) {
      bare = await startBare(root, 'mlp-onnx');
      log(`http: ${bare.command} → ${bare.url} (pid ${bare.pid}); warming it up as long as the server`);
      const warm = args.quick ? 1.5 : 4.5;
      await runHttp({ url: bare.url, path: '/v2/models/mlp-onnx/infer', requests: requestsFor('mlp-onnx').jsonRequests, connections: 64, warmupSec: 0, measureSec: warm, serverPid: bare.pid });
    }

    for (const cell of plan(args)) {
      if (args.waitQuiet) await waitForQuiet();
      cells.push(await runCell(cell, host, handle, server, floor, bare));
    }
  } finally {
    await floor.stop();
    await bare?.stop();
    await host?.close();
    if (server !== undefined) serverExitCode = await server.stop();
    await rm(root, { recursive: true, force: true });
  }
  if (serverExitCode !== 0) log(`http: warning: modelhost serve exited with code ${serverExitCode}`);
  return { startedAt, args, machine: machineInfo(), loadAverageAtStart, othersAtStart, server: server?.command ?? '', serverExitCode, config: Object.fromEntries(ids.map((id) => [id, config[id]!])), cells, wallMs: performance.now() - started };
}

/** The node:http floor process: started at its first use, shared by the cells, warmed once. */
interface Floor {
  get(responseBody: string): Promise<{ server: ServeProcess; fresh: boolean }>;
  stop(): Promise<void>;
}

function lazyFloor(): Floor {
  let server: ServeProcess | undefined;
  return {
    async get(responseBody) {
      if (server !== undefined) return { server, fresh: false };
      server = await startFloor(responseBody);
      return { server, fresh: true };
    },
    async stop() {
      await server?.stop();
    },
  };
}

async function runCell(cell: CellPlan, host: ModelHost, handle: ReturnType<typeof createHttpHandler>, server: ServeProcess, floor: Floor, bare: ServeProcess | undefined): Promise<CellReport> {
  const { model, concurrency } = cell;
  const { rows, jsonBodies, jsonBytes, jsonRequests, binaryRequests } = requestsFor(model);
  const inferPath = `/v2/models/${model}/infer`;
  const headers = { 'content-type': 'application/json' };
  log(`http: ${model}, C=${concurrency}, request body ${formatBytes(jsonBytes[0]!.byteLength)} JSON, ${formatBytes(binaryRequests[0]!.body.byteLength)} binary`);

  const runs: { inProcess: ClosedLoopResult[]; handler: ClosedLoopResult[]; http: HttpRunResult[]; binary: HttpRunResult[]; floor: HttpRunResult[]; bare: HttpRunResult[] } = { inProcess: [], handler: [], http: [], binary: [], floor: [], bare: [] };
  for (const side of cell.order) {
    const first = runs[side].length === 0;
    if (isHttpSide(side)) {
      // The floor answers what modelhost answers to the first request, as many bytes.
      const floorServer = side === 'floor' ? await floor.get(String((await handle({ method: 'POST', url: inferPath, headers, body: jsonBytes[0], signal: new AbortController().signal }))?.body)) : undefined;
      if (side === 'bare' && bare === undefined) throw new Error('the bare handler runs for mlp-onnx only');
      const target = floorServer?.server ?? (side === 'bare' ? bare! : server);
      const result = await runHttp({
        url: target.url,
        path: inferPath,
        requests: side === 'binary' ? binaryRequests : jsonRequests,
        connections: concurrency,
        // a fresh floor process is warmed about as long as the server was
        warmupSec: floorServer?.fresh ? (cell.httpMeasureSec < 1 ? 1 : 3) : first ? cell.httpWarmupSec : cell.httpRewarmSec,
        measureSec: cell.httpMeasureSec,
        serverPid: target.pid,
      });
      // Requests cut off at the end of a run may still occupy the server (a MobileNetV2 batch takes ~1 s).
      if (model === 'mobilenet') await drain(server.url, inferPath, jsonBodies[0]!);
      runs[side].push(result);
      report(side, result.requestsPerSec, result.latency.p50, result.latency.p99, result.errors + result.non2xx, `server ${cores(result.cpu?.serverCores)} cores, client ${cores(result.cpu?.clientCores)}, others ${cores(result.cpu?.otherCores)}`);
      continue;
    }
    let next = 0;
    const request =
      side === 'inProcess'
        ? () => host.predict(model, rows[next++ % rows.length]!)
        : async () => {
            // a signal per request, as createNodeListener makes one per connection's request
            const response = await handle({ method: 'POST', url: inferPath, headers, body: jsonBytes[next++ % jsonBytes.length], signal: new AbortController().signal });
            if (response?.status !== 200) throw new Error(`handler answered ${response?.status}: ${String(response?.body).slice(0, 200)}`);
          };
    const result = await runClosedLoop({ concurrency, request, warmup: first ? cell.warmup : cell.rewarm, measure: cell.measure });
    runs[side].push(result);
    report(side, result.requestsPerSec, result.latency.p50, result.latency.p99, result.errors, `others ${cores(result.cpu?.otherCores)} cores${result.firstError ? `; ${result.firstError}` : ''}`);
  }
  const inProcess = mergeResults(runs.inProcess);
  const handler = mergeResults(runs.handler);
  const http = mergeHttpRuns(runs.http);
  const binary = mergeHttpRuns(runs.binary);
  const floorRun = runs.floor.length > 0 ? mergeHttpRuns(runs.floor) : undefined;
  const bareRun = runs.bare.length > 0 ? mergeHttpRuns(runs.bare) : undefined;
  return {
    model,
    concurrency,
    jsonBytes: jsonBytes[0]!.byteLength,
    binaryBytes: binaryRequests[0]!.body.byteLength,
    inProcess,
    handler,
    http,
    binary,
    floor: floorRun,
    bare: bareRun,
    handlerOverInProcess: handler.requestsPerSec / inProcess.requestsPerSec,
    httpOverInProcess: http.requestsPerSec / inProcess.requestsPerSec,
    binaryOverInProcess: binary.requestsPerSec / inProcess.requestsPerSec,
    floorOverInProcess: floorRun === undefined ? undefined : floorRun.requestsPerSec / inProcess.requestsPerSec,
    httpOverFloor: floorRun === undefined ? undefined : http.requestsPerSec / floorRun.requestsPerSec,
    httpOverBare: bareRun === undefined ? undefined : http.requestsPerSec / bareRun.requestsPerSec,
    httpCpuOverBare: bareRun === undefined ? undefined : (serverMicros(http) ?? Number.NaN) / (serverMicros(bareRun) ?? Number.NaN),
    httpP50DiffMs: http.latency.p50 - inProcess.latency.p50,
    binaryP50DiffMs: binary.latency.p50 - inProcess.latency.p50,
  };
}

interface ModelRequests {
  readonly rows: readonly Float32Array[];
  readonly jsonBodies: readonly string[];
  readonly jsonBytes: readonly Uint8Array[];
  readonly jsonRequests: readonly { body: string; headers: Record<string, string> }[];
  readonly binaryRequests: readonly { body: Buffer; headers: Record<string, string> }[];
}

/** The rows every side sends, as in-process inputs, KServe v2 JSON bodies and binary-extension bodies. */
export function requestsFor(model: HttpModelId): ModelRequests {
  // 16 rows: autocannon spends more CPU cycling through many distinct requests (256 cost it ~40% more).
  const rows = inputRows(model, model === 'mobilenet' ? 4 : 16);
  const input = model === 'mobilenet' ? 'input_1' : 'x';
  const shape = [1, ...MODELS[model].instanceShape];
  // KServe v2 JSON as a client sends it: one instance, float32 values printed at full precision.
  const jsonBodies = rows.map((row) => JSON.stringify({ inputs: [{ name: input, shape, datatype: 'FP32', data: Array.from(row) }] }));
  // The binary tensor data extension: a JSON header, then the tensor's bytes; outputs come back binary too.
  const binaryRequests = rows.map((row) => {
    const header = JSON.stringify({ inputs: [{ name: input, shape, datatype: 'FP32', parameters: { binary_data_size: row.byteLength } }], parameters: { binary_data_output: true } });
    const headerBytes = Buffer.from(header);
    return {
      body: Buffer.concat([headerBytes, Buffer.from(row.buffer, row.byteOffset, row.byteLength)]),
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(headerBytes.byteLength) },
    };
  });
  return {
    rows,
    jsonBodies,
    jsonBytes: jsonBodies.map((b) => new TextEncoder().encode(b)),
    jsonRequests: jsonBodies.map((body) => ({ body, headers: { 'content-type': 'application/json' } })),
    binaryRequests,
  };
}

function report(side: Side, rps: number, p50: number, p99: number, errors: number, extra: string): void {
  log(`  ${SIDE_LABEL[side]}: ${formatCount(rps)} req/s, p50 ${formatMs(p50)} ms, p99 ${formatMs(p99)} ms${errors > 0 ? `, ${errors} errors` : ''} (${extra})`);
}

/** Waits until the server is idle: one request answered after everything queued before it. */
async function drain(url: string, inferPath: string, body: string): Promise<void> {
  const response = await fetch(`${url}${inferPath}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  await response.arrayBuffer();
}

async function waitForQuiet(): Promise<void> {
  const started = performance.now();
  let quiet = 0;
  while (quiet < 2 && performance.now() - started < 60_000) {
    const snapshot = cpuSnapshot();
    await sleep(500);
    const others = cpuShareSince(snapshot)?.otherCores;
    if (others === undefined) return;
    quiet = others < 0.1 ? quiet + 1 : 0;
  }
  const waited = performance.now() - started;
  if (waited > 1500) log(`http: waited ${(waited / 1000).toFixed(1)} s for other processes to quiet down${quiet < 2 ? ' (gave up)' : ''}`);
}

/** Server CPU per answered request, µs: steadier than req/s when other processes share the cores. */
function serverMicros(run: HttpRunResult | undefined): number | undefined {
  return run?.cpu === undefined || run.requestsPerSec === 0 ? undefined : (run.cpu.serverCores * 1e6) / run.requestsPerSec;
}

function cores(n: number | undefined): string {
  return n === undefined ? NONE : n.toFixed(2);
}

function formatBytes(n: number): string {
  return n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1024 ** 2).toFixed(2)} MB`;
}


export function formatHttpReport(report: HttpBenchReport): string {
  const sides = report.cells.flatMap((c) => {
    const ratio: Record<Side, number> = { inProcess: 1, handler: c.handlerOverInProcess, http: c.httpOverInProcess, binary: c.binaryOverInProcess, floor: c.floorOverInProcess ?? Number.NaN, bare: c.bare === undefined ? Number.NaN : c.bare.requestsPerSec / c.inProcess.requestsPerSec };
    return [...SIDES, 'bare' as const, 'floor' as const].flatMap((side) => {
      const r = c[side];
      if (r === undefined) return [];
      const httpCpu = isHttpSide(side) ? (r as HttpRunResult).cpu : undefined;
      const errors = 'non2xx' in r ? r.errors + r.non2xx : r.errors;
      return [[
        c.model,
        String(c.concurrency),
        SIDE_LABEL[side],
        formatCount(r.requestsPerSec),
        formatMs(r.latency.p50),
        formatMs(r.latency.p99),
        formatRatio(ratio[side]),
        String(errors),
        cores(httpCpu?.serverCores),
        httpCpu === undefined ? NONE : formatCount(serverMicros(r as HttpRunResult) ?? Number.NaN),
        cores(httpCpu?.clientCores),
        cores(r.cpu?.otherCores),
      ]];
    });
  });
  const diff = (ms: number) => `${ms >= 0 ? '+' : ''}${formatMs(ms)}`;
  const summary = report.cells.map((c) => [
    c.model,
    String(c.concurrency),
    `${formatBytes(c.jsonBytes)} / ${formatBytes(c.binaryBytes)}`,
    formatRatio(c.httpOverInProcess),
    formatRatio(c.binaryOverInProcess),
    formatRatio(c.handlerOverInProcess),
    c.httpOverBare === undefined ? NONE : formatRatio(c.httpOverBare),
    c.httpCpuOverBare === undefined ? NONE : formatRatio(c.httpCpuOverBare),
    c.httpOverFloor === undefined ? NONE : formatRatio(c.httpOverFloor),
    diff(c.httpP50DiffMs),
    diff(c.binaryP50DiffMs),
  ]);
  const others = report.cells.flatMap((c) => [...SIDES, 'bare' as const, 'floor' as const].map((side) => c[side]?.cpu?.otherCores)).filter((x): x is number => x !== undefined);
  return [
    formatTable(['model', 'C', 'path', 'req/s', 'p50 ms', 'p99 ms', '÷ (a)', 'errors', 'server cores', 'server CPU µs/req', 'client cores', 'others'], sides),
    '',
    formatTable(['model', 'C', 'body JSON / binary', 'HTTP JSON ÷ in-process (c÷a)', 'HTTP binary ÷ in-process (d÷a)', 'handler ÷ in-process (b÷a)', 'HTTP JSON ÷ bare handler (c÷f)', 'server CPU per request, c ÷ f', 'HTTP JSON ÷ floor (c÷e)', 'Δp50 JSON (ms)', 'Δp50 binary (ms)'], summary),
    '',
    `Times in ms. C = concurrent callers (a, b) or connections (c, d), each with one request in flight. Δp50 = HTTP p50 − in-process p50.`,
    `(c), (d): ${report.server}, driven by autocannon from this process; latency = request written → response read.`,
    `(e): a bare node:http server in its own process: reads the body, answers a fixed response as long as (c)'s.`,
    `(f): a node:http server in its own process on the built host: JSON.parse, await host.predict, JSON.stringify (bench/http/bare-server.mjs).`,
    `server / client cores: CPU of the server process (all threads) and of this process (autocannon) during (c), (d), (e), (f); others: every other process.`,
    `Both hosts read the same config.json: ${JSON.stringify(report.config)}.`,
    `Load average at start ${report.loadAverageAtStart.join(', ')}; other processes took ${report.othersAtStart?.toFixed(2) ?? '?'} cores just before the run and at most ${others.length > 0 ? Math.max(...others).toFixed(2) : '?'} in any measured window. Server exit code ${report.serverExitCode}.`,
  ].join('\n');
}

export function parseHttpBenchArgs(argv: readonly string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): HttpBenchArgs {
  const { values } = parseArgs({
    args: [...argv],
    options: { quick: { type: 'boolean' }, only: { type: 'string' }, json: { type: 'string' }, 'wait-quiet': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (values.help) {
    console.log('npm run build && npx tsx bench/http.ts [--quick] [--only mlp-onnx,mobilenet] [--json path] [--wait-quiet] (env: BENCH_QUICK=1, BENCH_ONLY, BENCH_JSON, BENCH_WAIT_QUIET=1)');
    process.exit(0);
  }
  const truthy = (v: string | undefined) => v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
  const onlyText = values.only ?? env['BENCH_ONLY'];
  const requested = onlyText === undefined || onlyText.trim() === '' ? [...HTTP_MODELS] : onlyText.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = requested.filter((m) => !(HTTP_MODELS as readonly string[]).includes(m));
  if (unknown.length > 0) throw new Error(`--only: unknown model ${unknown.join(', ')} (known: ${HTTP_MODELS.join(', ')})`);
  return {
    quick: values.quick ?? truthy(env['BENCH_QUICK']),
    only: HTTP_MODELS.filter((m) => requested.includes(m)),
    json: values.json ?? env['BENCH_JSON'],
    waitQuiet: values['wait-quiet'] ?? truthy(env['BENCH_WAIT_QUIET']),
  };
}

if (isMain(import.meta.url)) {
  const args = parseHttpBenchArgs();
  const machine = machineInfo();
  console.log(`machine: ${describeMachine(machine)}`);
  console.log(`command: npm run build && npx tsx bench/http.ts${process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''}\n`);
  const report = await runHttpBench(args);
  console.log(formatHttpReport(report));
  // bench/results/latest.json belongs to `npm run bench`: this bench writes http.json (and --json's path).
  const written = await writeResults(report, { latest: false, extraPath: path.join(RESULTS_DIR, 'http.json') });
  if (args.json !== undefined) written.push(...(await writeResults(report, { latest: false, extraPath: args.json })));
  console.log(`\ntotal: ${(report.wallMs / 1000).toFixed(1)} s; results in ${written.join(', ')}`);
}
