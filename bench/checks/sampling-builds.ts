/**
 * Issue 19's sampling target across two builds, in one process: the default host and the
 * target's host (rate 0.01, a JSON-lines sink on its worker) of a base build (A) and of this
 * tree's build (B), in rotating 1 s rounds of 64 callers on the MLP (onnx), by main-thread CPU
 * per request (/proc/self/task). Separate runs of `bench/monitoring.ts --sampling-target`
 * moved by ±2 points between builds that read the same here.
 *
 *   npm run build && flock /tmp/modelhost-bench.lock npx tsx bench/checks/sampling-builds.ts <base dist dir> [rounds=12]
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runClosedLoop } from '../lib/closed-loop.js';
import { medianInterval } from '../lib/paired.js';
import { threadCpu } from '../lib/thread-cpu.js';
import { inputRows, writeRepository } from '../load/models.js';
const base = process.argv[2];
if (base === undefined) throw new Error('usage: bench/checks/sampling-builds.ts <base dist dir> [rounds]');
const builds = { A: path.resolve(base, 'index.js'), B: fileURLToPath(new URL('../../dist/index.js', import.meta.url)) };
const root = await mkdtemp(path.join(tmpdir(), 'ab19-'));
await writeRepository(root, ['mlp-onnx']);
const rows = inputRows('mlp-onnx', 256);
// Two copies of the library: typed loosely on purpose (each build has its own classes).
const sides: { name: string; host: any; sink?: any }[] = [];
for (const [b, file] of Object.entries(builds)) {
  const lib = await import(file);
  for (const sampling of [false, true]) {
    const host = new lib.ModelHost({ repository: root, defaults: { batching: { maxBatchSize: 64, maxDelayMs: 2 }, instances: { kind: 'inline' } }, models: { 'mlp-onnx': { onnx: { intraOpNumThreads: 1 }, ...(sampling ? { sampling: { rate: 0.01 } } : {}) } } });
    const sink = sampling ? await lib.JsonlSink.open(host, { path: path.join(root, `${b}.jsonl`), size: '10M', maxFiles: 2 }) : undefined;
    await host.load('mlp-onnx');
    sides.push({ name: `${b} ${sampling ? 'sink' : 'default'}`, host, sink });
  }
}
let next = 0;
const cpu: number[][] = sides.map(() => []);
const rounds = Number(process.argv[3] ?? '12');
for (let r = 0; r < rounds; r++) {
  for (let k = 0; k < sides.length; k++) {
    const i = (k + r) % sides.length;
    const { host } = sides[i]!;
    const request = () => host.predict('mlp-onnx', rows[next++ & 255]!);
    await runClosedLoop({ concurrency: 64, request, warmup: { ms: 200 }, measure: { ms: 10 } });
    const before = threadCpu();
    const res = await runClosedLoop({ concurrency: 64, request, warmup: { ms: 0 }, measure: { ms: 1000 } });
    const after = threadCpu();
    cpu[i]!.push((after!.mainNs - before!.mainNs) / res.requests);
  }
}
for (const b of ['A', 'B']) {
  const d = sides.findIndex((s) => s.name === `${b} default`), s = sides.findIndex((x) => x.name === `${b} sink`);
  const m = medianInterval(cpu[s]!.map((c, k) => c / cpu[d]![k]!));
  console.log(`${b}: sink ÷ default main CPU per request ${m.median.toFixed(3)} (${m.low.toFixed(3)}–${m.high.toFixed(3)}); default ${medianInterval(cpu[d]!).median.toFixed(0)} ns, sink ${medianInterval(cpu[s]!).median.toFixed(0)} ns`);
}
const bd = sides.findIndex((s) => s.name === 'B default'), ad = sides.findIndex((s) => s.name === 'A default');
const bs = sides.findIndex((s) => s.name === 'B sink'), as = sides.findIndex((s) => s.name === 'A sink');
console.log(`B default ÷ A default ${medianInterval(cpu[bd]!.map((c, k) => c / cpu[ad]![k]!)).median.toFixed(3)}; B sink ÷ A sink ${medianInterval(cpu[bs]!.map((c, k) => c / cpu[as]![k]!)).median.toFixed(3)}`);
for (const s of sides) { await s.sink?.close(); await s.host.close(); }
