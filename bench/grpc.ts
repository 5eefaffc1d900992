/**
 * gRPC beside HTTP: the MLP (onnxruntime) at 64 concurrent clients, in one run on one machine,
 *   (a) in-process  64 callers awaiting host.predict(name, Float32Array) (bench/lib/closed-loop.ts)
 *   (c) HTTP, JSON  64 autocannon connections to `modelhost serve`, KServe v2 JSON infer bodies
 *   (d) HTTP binary the same with KServe's binary tensor data extension, both ways
 *   (f) gRPC        64 callers, each with one ModelInfer in flight (raw_input_contents, raw
 *                   outputs back), on one @grpc/grpc-js channel to the same `modelhost serve`
 *                   process (`--grpc-port`)
 *   (g) gRPC floor  the same callers and channel, calling ServerLive (no tensor, no model):
 *                   what a grpc-js unary call costs on this machine, client and server
 * and each side's requests/s ÷ (a). Same repository, same config.json (the load bench's
 * batching), same 16 rows as bench/http.ts. Order a c d f g g f d c a, each side twice.
 *
 *   npx tsx bench/grpc.ts [--quick]        # ~45 s on 2 cores (--quick: ~25 s)
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PROTO_PATH } from '../src/adapters/grpc/index.js';
import { ModelHost } from '../src/index.js';
import { requestsFor } from './http.js';
import { runHttp, mergeHttpRuns, type HttpRunResult } from './http/autocannon-run.js';
import { cpuWindow, mergeHttpCpu, type HttpCpu } from './http/process-cpu.js';
import { startServe } from './http/serve-process.js';
import { mergeResults, runClosedLoop, type ClosedLoopResult } from './lib/closed-loop.js';
import { describeMachine, machineInfo } from './lib/machine.js';
import { formatCount, formatMs, formatRatio, formatTable } from './lib/table.js';
import { BATCHING } from './load/host.js';
import { MODELS, writeRepository } from './load/models.js';

const log = (line: string) => process.stderr.write(`${line}\n`);
const MODEL = 'mlp-onnx';
const C = 64;

type Side = 'inProcess' | 'http' | 'binary' | 'grpc' | 'grpcFloor';
const LABEL: Record<Side, string> = {
  inProcess: '(a) in-process host.predict',
  http: '(c) HTTP, JSON',
  binary: '(d) HTTP, binary tensors',
  grpc: '(f) gRPC ModelInfer, raw contents',
  grpcFloor: '(g) gRPC ServerLive, no model',
};
const ORDER: readonly Side[] = ['inProcess', 'http', 'binary', 'grpc', 'grpcFloor', 'grpcFloor', 'grpc', 'binary', 'http', 'inProcess'];

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const sec = quick ? 1 : 2;
  const startedAt = new Date().toISOString();
  const root = await mkdtemp(path.join(tmpdir(), 'modelhost-bench-grpc-'));
  await writeRepository(root, [MODEL]);
  await writeFile(path.join(root, MODEL, 'config.json'), JSON.stringify({ batching: { ...BATCHING }, onnx: { intraOpNumThreads: 1 }, instances: { kind: 'inline' } }));
  const grpcPort = await freePort();
  const server = await startServe(root, [MODEL], ['--grpc-port', String(grpcPort)]);
  const host = new ModelHost({ repository: root });
  await host.load(MODEL);
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(PROTO_PATH, { keepCase: true, longs: String, defaults: true, oneofs: true })) as unknown as { inference: { GRPCInferenceService: grpc.ServiceClientConstructor } };
  const client = new pkg.inference.GRPCInferenceService(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & Record<'ModelInfer' | 'ServerLive', (req: object, cb: (e: grpc.ServiceError | null, r: unknown) => void) => void>;
  const { rows, jsonRequests, binaryRequests } = requestsFor(MODEL);
  const grpcRequests = rows.map((row) => ({ model_name: MODEL, inputs: [{ name: 'x', datatype: 'FP32', shape: [1, ...MODELS[MODEL].instanceShape] }], raw_input_contents: [Buffer.from(row.buffer, row.byteOffset, row.byteLength)] }));
  const inferPath = `/v2/models/${MODEL}/infer`;
  // Server and client (this process) CPU of the gRPC sides, as runHttp reads it for HTTP.
  const grpcCpu: Record<Side, { cpu: HttpCpu | undefined; ms: number }[]> = { inProcess: [], http: [], binary: [], grpc: [], grpcFloor: [] };
  const runs: Record<Side, (ClosedLoopResult | HttpRunResult)[]> = { inProcess: [], http: [], binary: [], grpc: [], grpcFloor: [] };
  try {
    log(`grpc bench: ${server.command}; warming up HTTP (JSON, binary) and gRPC`);
    await runHttp({ url: server.url, path: inferPath, requests: jsonRequests, connections: C, warmupSec: 0, measureSec: sec, serverPid: server.pid });
    await runHttp({ url: server.url, path: inferPath, requests: binaryRequests, connections: C, warmupSec: 0, measureSec: sec / 2, serverPid: server.pid });
    // grpc-js, like the HTTP path, gets faster over its first seconds of traffic.
    let warm = 0;
    await runClosedLoop({ concurrency: C, request: () => new Promise<void>((resolve, reject) => client.ModelInfer(grpcRequests[warm++ % grpcRequests.length]!, (error) => (error ? reject(error) : resolve()))), warmup: { ms: 100 }, measure: { ms: sec * 1500 } });
    for (const side of ORDER) {
      let next = 0;
      if (side === 'http' || side === 'binary') {
        const result = await runHttp({ url: server.url, path: inferPath, requests: side === 'http' ? jsonRequests : binaryRequests, connections: C, warmupSec: 0.5, measureSec: sec, serverPid: server.pid });
        runs[side].push(result);
        log(`  ${LABEL[side]}: ${formatCount(result.requestsPerSec)} req/s, p99 ${formatMs(result.latency.p99)} ms, ${result.errors + result.non2xx} errors`);
        continue;
      }
      const request =
        side === 'inProcess'
          ? () => host.predict(MODEL, rows[next++ % rows.length]!)
          : side === 'grpc'
            ? () => new Promise<void>((resolve, reject) => client.ModelInfer(grpcRequests[next++ % grpcRequests.length]!, (error) => (error ? reject(error) : resolve())))
            : () => new Promise<void>((resolve, reject) => client.ServerLive({}, (error) => (error ? reject(error) : resolve())));
      let window: ReturnType<typeof cpuWindow> | undefined;
      const result = await runClosedLoop({ concurrency: C, request, warmup: { ms: 500 }, measure: { ms: sec * 1000 }, onMeasureStart: () => (window = cpuWindow(server.pid)), onMeasureEnd: () => grpcCpu[side].push({ cpu: window?.end(), ms: sec * 1000 }) });
      runs[side].push(result);
      log(`  ${LABEL[side]}: ${formatCount(result.requestsPerSec)} req/s, p99 ${formatMs(result.latency.p99)} ms, ${result.errors} errors${result.firstError ? ` (${result.firstError})` : ''}`);
    }
  } finally {
    client.close();
    await host.close();
    const code = await server.stop();
    if (code !== 0) log(`grpc bench: warning: modelhost serve exited with code ${code}`);
    await rm(root, { recursive: true, force: true });
  }
  const merged = {
    inProcess: mergeResults(runs.inProcess as ClosedLoopResult[]),
    http: mergeHttpRuns(runs.http as HttpRunResult[]),
    binary: mergeHttpRuns(runs.binary as HttpRunResult[]),
    grpc: mergeResults(runs.grpc as ClosedLoopResult[]),
    grpcFloor: mergeResults(runs.grpcFloor as ClosedLoopResult[]),
  };
  const base = merged.inProcess.requestsPerSec;
  const errors = (r: ClosedLoopResult | HttpRunResult) => ('non2xx' in r ? r.errors + r.non2xx : r.errors);
  process.stdout.write(`gRPC vs HTTP vs in-process, ${MODEL}, C=${C}, started ${startedAt}\n${describeMachine(machineInfo())}\n\n`);
  process.stdout.write(
    formatTable(
      ['path', 'req/s', 'p50 ms', 'p99 ms', '÷ (a)', 'errors', 'server cores', 'client cores', 'others'],
      (['inProcess', 'http', 'binary', 'grpc', 'grpcFloor'] as const).map((side) => {
        const r = merged[side];
        const cpu = 'cpu' in r && r.cpu !== undefined && 'serverCores' in r.cpu ? r.cpu : mergeHttpCpu(grpcCpu[side]);
        const cores = (n: number | undefined) => (n === undefined ? '–' : n.toFixed(2));
        return [LABEL[side], formatCount(r.requestsPerSec), formatMs(r.latency.p50), formatMs(r.latency.p99), formatRatio(r.requestsPerSec / base), String(errors(r)), cores(cpu?.serverCores), cores(cpu?.clientCores), cores(cpu?.otherCores)];
      }),
    ) + '\n',
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
