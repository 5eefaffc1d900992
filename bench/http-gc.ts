/**
 * Issue 17: garbage per request over HTTP. Starts each server under `node --trace-gc` on the
 * same repository (MLP onnx, batching 64 / 2 ms, inline, one onnx thread, as the ablation),
 * runs 64 autocannon connections of KServe v2 JSON against it, and from the trace lines of the
 * measured window reports the bytes scavenges freed per request answered (a floor on what
 * each request allocated), the mean scavenge pause and the major GCs. One server at a time,
 * in the order given, then again in reverse.
 *
 *   npm run build && flock /tmp/modelhost-bench.lock npx tsx bench/http-gc.ts [--only bare,cli] [--before <built tree>] [--seconds 4] [--node-flags "--max-semi-space-size=64"] [--heap-profile <dir>]
 *
 * `--heap-profile <dir>` also runs V8's sampling heap profiler (collected objects included)
 * over each measured window (bench/http/heap-sampler.mjs) and prints, per server, the bytes
 * allocated per request by the functions that allocate most (self, summed over both visits);
 * the profiles are left in `<dir>` for DevTools.
 *
 * `--node-flags` go to every server's node (equal flags on both sides); `cli-default` is the CLI
 * without them even when they are given.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { isMain } from './lib/cli.js';
import { runHttp } from './http/autocannon-run.js';
import { requestsFor } from './http.js';
import { BATCHING } from './load/host.js';
import { writeRepository } from './load/models.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const MODEL = 'mlp-onnx';
const TARGETS = ['bare', 'cli', 'cli-default', 'cli-before'] as const;
type Target = (typeof TARGETS)[number];

/** `Scavenge 10.2 (13.5) -> 9.8 (14.5) MB, 0.45 / 0.00 ms` (and Mark-Compact alike). */
const GC_LINE = /(Scavenge|Mark-Compact|Mark-sweep)[^\d]*([\d.]+) \(([\d.]+)\) -> ([\d.]+) \(([\d.]+)\) MB, ([\d.]+) \//;

interface GcWindow {
  scavenges: number;
  freedMB: number;
  pauseMs: number;
  majors: number;
}

function command(target: Target, root: string, before: string | undefined, flags: readonly string[]): string[] {
  const serve = (tree: string) => [path.join(tree, 'dist', 'cli.js'), 'serve', root, '--port', '0', '--log-format', 'json', '--models', MODEL];
  if (target === 'bare') return [...flags, path.join(REPO_ROOT, 'bench', 'http', 'bare-server.mjs'), root, MODEL];
  if (target === 'cli') return [...flags, ...serve(REPO_ROOT)];
  if (target === 'cli-default') return serve(REPO_ROOT);
  if (before === undefined) throw new Error('cli-before needs --before <a built tree of the baseline commit>');
  return [...flags, ...serve(path.resolve(before))];
}

async function measure(target: Target, root: string, before: string | undefined, flags: readonly string[], seconds: number, heapProfile?: string): Promise<{ requests: number; gc: GcWindow }> {
  const sampler = heapProfile === undefined ? [] : ['--import', path.join(REPO_ROOT, 'bench', 'http', 'heap-sampler.mjs')];
  const env = heapProfile === undefined ? process.env : { ...process.env, MODELHOST_HEAP_PROFILE: heapProfile };
  const child = spawn(process.execPath, ['--trace-gc', ...sampler, ...command(target, root, before, flags)], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let counting = false;
  const gc: GcWindow = { scavenges: 0, freedMB: 0, pauseMs: 0, majors: 0 };
  let buffered = '';
  const url = new Promise<string>((resolve) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        const listening = /"msg":"listening","url":"([^"]+)"/.exec(line);
        if (listening !== null) resolve(listening[1]!);
        const m = GC_LINE.exec(line);
        if (m === null || !counting) continue;
        if (m[1] === 'Scavenge') {
          gc.scavenges++;
          gc.freedMB += Number(m[2]) - Number(m[4]);
          gc.pauseMs += Number(m[6]);
        } else gc.majors++;
      }
    });
  });
  try {
    const requests = requestsFor(MODEL).jsonRequests;
    const base = { url: await url, path: `/v2/models/${MODEL}/infer`, requests, connections: 64, serverPid: child.pid! };
    await runHttp({ ...base, warmupSec: 3, measureSec: 0.5 }); // warm up (V8 keeps optimizing for seconds)
    counting = true;
    if (heapProfile !== undefined) child.kill('SIGUSR2'); // start sampling
    const result = await runHttp({ ...base, warmupSec: 0, measureSec: seconds });
    if (heapProfile !== undefined) child.kill('SIGUSR2'); // stop and write
    await new Promise((resolve) => setTimeout(resolve, 100)); // the window's last trace lines
    counting = false;
    return { requests: result.requests, gc };
  } finally {
    process.off('exit', killOnExit);
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { only: { type: 'string', default: 'bare,cli' }, before: { type: 'string' }, seconds: { type: 'string', default: '4' }, 'node-flags': { type: 'string', default: '' }, 'heap-profile': { type: 'string' } } });
  const targets = values.only.split(',').filter((t): t is Target => (TARGETS as readonly string[]).includes(t));
  const flags = values['node-flags'].split(' ').filter(Boolean);
  const seconds = Number(values.seconds);
  const root = await mkdtemp(path.join(tmpdir(), 'modelhost-http-gc-'));
  await writeRepository(root, [MODEL]);
  await writeFile(path.join(root, MODEL, 'config.json'), JSON.stringify({ batching: { ...BATCHING }, onnx: { intraOpNumThreads: 1 }, instances: { kind: 'inline' } }));
  const totals = new Map<Target, { requests: number; gc: GcWindow }>();
  const sites = new Map<Target, Map<string, number>>();
  const profiles = values['heap-profile'];
  if (profiles !== undefined) await mkdir(profiles, { recursive: true });
  try {
    for (const [visit, target] of [...targets, ...[...targets].reverse()].entries()) {
      const file = profiles === undefined ? undefined : path.join(profiles, `${target}-${visit}.heapprofile`);
      const { requests, gc } = await measure(target, root, values.before, flags, seconds, file);
      if (file !== undefined) addSelfBytes(sites, target, JSON.parse(await readFile(file, 'utf8')) as HeapProfile);
      const sum = totals.get(target) ?? { requests: 0, gc: { scavenges: 0, freedMB: 0, pauseMs: 0, majors: 0 } };
      sum.requests += requests;
      sum.gc.scavenges += gc.scavenges;
      sum.gc.freedMB += gc.freedMB;
      sum.gc.pauseMs += gc.pauseMs;
      sum.gc.majors += gc.majors;
      totals.set(target, sum);
      console.error(`${target}: ${Math.round(requests / seconds)} req/s, ${((gc.freedMB * 1024) / requests).toFixed(1)} KB/request`);
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  console.log(`\nMLP onnx, 64 connections, ${seconds} s × 2 per server${flags.length > 0 ? `, node ${flags.join(' ')}` : ''}, ${new Date().toISOString()}`);
  console.log('| server | requests | freed by scavenges per request | scavenges per 10k requests | scavenge, mean | major GCs |');
  console.log('|---|--:|--:|--:|--:|--:|');
  for (const [target, { requests, gc }] of totals) {
    console.log(`| ${target} | ${Math.round(requests / 1000)}k | ${((gc.freedMB * 1024) / requests).toFixed(1)} KB | ${((gc.scavenges / requests) * 1e4).toFixed(1)} | ${(gc.pauseMs / Math.max(1, gc.scavenges)).toFixed(2)} ms | ${gc.majors} |`);
  }
  for (const [target, bytes] of sites) {
    const requests = totals.get(target)!.requests;
    const total = [...bytes.values()].reduce((a, b) => a + b, 0);
    console.log(`\n${target}: sampled ${(total / requests).toFixed(0)} bytes per request; the sites allocating most (self bytes per request):`);
    for (const [site, n] of [...bytes].sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log(`  ${(n / requests).toFixed(0).padStart(6)}  ${site}`);
  }
}

interface HeapProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: HeapProfileNode[];
}
interface HeapProfile {
  head: HeapProfileNode;
  samples: { size: number; nodeId: number }[];
}

/** Sums each allocating function's self bytes (the sampled estimate) into `sites`. */
function addSelfBytes(sites: Map<Target, Map<string, number>>, target: Target, profile: HeapProfile): void {
  const bytes = sites.get(target) ?? new Map<string, number>();
  sites.set(target, bytes);
  const walk = (node: HeapProfileNode): void => {
    if (node.selfSize > 0) {
      const { functionName, url, lineNumber } = node.callFrame;
      const site = `${functionName || '(anonymous)'} ${url.replace(/^.*\/(dist|node_modules)\//, '$1/')}:${lineNumber + 1}`;
      bytes.set(site, (bytes.get(site) ?? 0) + node.selfSize);
    }
    for (const child of node.children) walk(child);
  };
  walk(profile.head);
}

if (isMain(import.meta.url)) await main();
