/**
 * Where an overloaded `serve` spends its CPU on garbage collection: the built CLI serving
 * mlp-onnx under `node --trace-gc`, the raw closed-loop client at each connection level, and
 * per level the successes per server CPU-second and the share of that CPU in scavenges and
 * mark-compacts (from the trace). Run under the bench lock:
 *
 *   flock /tmp/modelhost-bench.lock npx tsx bench/overload-gc.ts [levels=32,2000] [seconds=4] ["extra node flags"]
 *
 * e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" for a profile of the server. One JSON line per level.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { rawLoad } from './lib/raw-load.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const levels = (process.argv[2] ?? '32,2000').split(',').map(Number);
const seconds = Number(process.argv[3] ?? 4);
const extraFlags = (process.argv[4] ?? '').split(' ').filter(Boolean);

const child = spawn(process.execPath, ['--trace-gc', ...extraFlags, 'dist/cli.js', 'serve', 'examples/quickstart/models', '--port', '0', '--log-format', 'json', '--models', 'mlp-onnx'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
process.once('exit', () => child.kill('SIGKILL'));
let stdout = '';
child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
const LISTENING = /"msg":"listening","url":"([^"]+)"/;
while (!LISTENING.test(stdout)) await new Promise((resolve) => setTimeout(resolve, 50));
const url = `${LISTENING.exec(stdout)![1]!}/v2/models/mlp-onnx/infer`;
const body = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 64], datatype: 'FP32', data: Array.from({ length: 64 }, (_, i) => i / 64) }] });
const load = (connections: number, s: number) => rawLoad({ url, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections, seconds: s });

/** CPU seconds (user + system) the server has used, from /proc (clock ticks of 10 ms). */
function serverCpuSeconds(): number {
  const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

await load(32, 2); // warm
for (const connections of levels) {
  const traceFrom = stdout.length;
  const cpuBefore = serverCpuSeconds();
  const run = await load(connections, seconds);
  const cpu = serverCpuSeconds() - cpuBefore;
  let scavengeMs = 0;
  let markCompactMs = 0;
  // --trace-gc lines: "[pid:addr] 1234 ms: Scavenge 40.1 (60.2) -> 30.0 (61.2) MB, 1.23 / 0.00 ms ..."
  for (const m of stdout.slice(traceFrom).matchAll(/(Scavenge|Mark-Compact|Mark-sweep)[^\n]*?, ([\d.]+) \/ [\d.]+ ms/g)) {
    if (m[1] === 'Scavenge') scavengeMs += Number(m[2]);
    else markCompactMs += Number(m[2]);
  }
  const ok = run.statuses['200'] ?? 0;
  const line = { connections, okPerSecond: Math.round(ok / seconds), statuses: run.statuses, serverCpuSeconds: +cpu.toFixed(2), okPerServerCpuSecond: Math.round(ok / cpu), scavengeMs: Math.round(scavengeMs), markCompactMs: Math.round(markCompactMs), gcShareOfServerCpu: +((scavengeMs + markCompactMs) / 1000 / cpu).toFixed(3) };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}
child.kill('SIGTERM');
await new Promise((resolve) => child.once('exit', resolve));
