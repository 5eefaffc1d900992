/**
 * Where `modelhost serve` spends its CPU under load: the built CLI (or the bare handler of
 * bench/http.ts, to compare) under `node --cpu-prof`, 64 autocannon connections of KServe v2
 * JSON infer requests on the MLP, then the profile's self time by function and by file.
 *
 *   npm run build && npx tsx bench/http-profile.ts [--target serve|bare] [--seconds 6] [--connections 64] [--top 40]
 *
 * The .cpuprofile stays in the printed directory (open it in Chrome DevTools for the tree).
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { isMain } from './lib/cli.js';
import { runHttp } from './http/autocannon-run.js';
import { startBare, startServe } from './http/serve-process.js';
import { requestsFor } from './http.js';
import { BATCHING } from './load/host.js';
import { writeRepository } from './load/models.js';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly hitCount?: number;
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
}

/** Self-time shares (of all samples) by function and by script. */
export function selfTimes(profile: Profile): { byFunction: [string, number][]; byFile: [string, number][] } {
  const total = profile.nodes.reduce((n, node) => n + (node.hitCount ?? 0), 0) || 1;
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url === '' ? '(native)' : url.replace(/^file:\/\//, '').replace(/^.*\/node_modules\//, 'node_modules/').replace(/^.*\/(dist|src)\//, '$1/');
    const fn = `${functionName || '(anonymous)'} ${file}${url === '' ? '' : `:${lineNumber + 1}`}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + hits / total);
    byFile.set(file, (byFile.get(file) ?? 0) + hits / total);
  }
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  return { byFunction: sorted(byFunction), byFile: sorted(byFile) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { target: { type: 'string', default: 'serve' }, seconds: { type: 'string', default: '6' }, connections: { type: 'string', default: '64' }, top: { type: 'string', default: '40' } } });
  const target = values.target;
  if (target !== 'serve' && target !== 'bare') throw new Error(`--target must be serve or bare, got ${target}`);
  const root = await mkdtemp(path.join(tmpdir(), 'modelhost-http-profile-'));
  const profileDir = await mkdtemp(path.join(tmpdir(), 'modelhost-cpuprofile-'));
  await writeRepository(root, ['mlp-onnx']);
  await writeFile(path.join(root, 'mlp-onnx', 'config.json'), JSON.stringify({ batching: { ...BATCHING }, onnx: { intraOpNumThreads: 1 }, instances: { kind: 'inline' } }));
  process.env['BENCH_SERVER_NODE_OPTIONS'] = `--cpu-prof --cpu-prof-dir=${profileDir}`;
  const server = target === 'serve' ? await startServe(root, ['mlp-onnx']) : await startBare(root, 'mlp-onnx');
  delete process.env['BENCH_SERVER_NODE_OPTIONS'];
  try {
    const result = await runHttp({ url: server.url, path: '/v2/models/mlp-onnx/infer', requests: requestsFor('mlp-onnx').jsonRequests, connections: Number(values.connections), warmupSec: 2, measureSec: Number(values.seconds), serverPid: server.pid });
    console.log(`${server.command}: ${Math.round(result.requestsPerSec)} req/s, p50 ${result.latency.p50.toFixed(2)} ms, p99 ${result.latency.p99.toFixed(2)} ms, server ${result.cpu?.serverCores.toFixed(2) ?? '?'} cores, ${result.errors + result.non2xx} errors`);
  } finally {
    const code = await server.stop();
    if (code !== 0) console.error(`server exited with ${code}`);
    await rm(root, { recursive: true, force: true });
  }
  const file = (await readdir(profileDir)).find((f) => f.endsWith('.cpuprofile'));
  if (file === undefined) throw new Error(`no .cpuprofile in ${profileDir}`);
  const profile = JSON.parse(await readFile(path.join(profileDir, file), 'utf8')) as Profile;
  const { byFunction, byFile } = selfTimes(profile);
  const pct = (x: number) => `${(x * 100).toFixed(1).padStart(5)}%`;
  const top = Number(values.top);
  console.log(`\nself time by function (top ${top}, whole profile incl. warmup and startup):`);
  for (const [name, share] of byFunction.slice(0, top)) console.log(`${pct(share)}  ${name}`);
  console.log('\nself time by script:');
  for (const [name, share] of byFile.slice(0, 25)) console.log(`${pct(share)}  ${name}`);
  console.log(`\nprofile: ${path.join(profileDir, file)}`);
}

if (isMain(import.meta.url)) await main();
