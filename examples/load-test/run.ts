/**
 * Load-tests a modelhost server with autocannon: KServe v2 JSON inference requests from N
 * concurrent connections, per model, and prints requests/s, p50, p99, errors and non-2xx.
 *
 *   npx tsx examples/load-test/run.ts [options]
 *
 * Without --url it starts `modelhost serve` on the demo repository (written on first run)
 * on a free port, and stops it at the end. Run with --help for the options.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = fileURLToPath(new URL('../../src/cli/modelhost.ts', import.meta.url));

const HELP = `Usage: npx tsx examples/load-test/run.ts [options]

  --url <url>           load-test this running server (default: start modelhost serve)
  --repository <dir>    the repository the started server serves (default: the demo repository,
                        examples/quickstart/models, written on first run)
  --models <a,b>        models to load-test, one after the other (default mlp-onnx;
                        the demo repository also has mlp and mobilenet)
  --connections <n>     concurrent connections, each with one request in flight (default 64)
  --duration <s>        measured seconds per model (default 10)
  --warmup <s>          unmeasured seconds before each model's run (default 1; 0 for none)
  --json                print the results as JSON instead of a table
  -h, --help            show this help

Each request is POST /v2/models/<model>/infer with one instance of random inputs, built
from the model's metadata (GET /v2/models/<model>): leading -1 dimensions become 1.
`;

interface Options {
  url: string | undefined;
  repository: string | undefined;
  models: string[];
  connections: number;
  duration: number;
  warmup: number;
  json: boolean;
}

export interface ModelResult {
  model: string;
  requestsPerSec: number;
  /** Latency of 2xx responses, ms. */
  p50Ms: number;
  p99Ms: number;
  /** Connection errors and timeouts. */
  errors: number;
  non2xx: number;
  requests: number;
  bodyBytes: number;
}

function parseOptions(argv: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      url: { type: 'string' },
      repository: { type: 'string' },
      models: { type: 'string', default: 'mlp-onnx' },
      connections: { type: 'string', default: '64' },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '1' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const number = (name: string, value: string, min: number) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number ≥ ${min}, got ${value}`);
    return n;
  };
  const models = values.models.split(',').map((m) => m.trim()).filter(Boolean);
  if (models.length === 0) throw new Error('--models needs at least one model');
  if (values.url !== undefined && values.repository !== undefined) throw new Error('--url and --repository exclude each other');
  return {
    url: values.url?.replace(/\/+$/, ''),
    repository: values.repository,
    models,
    connections: Math.round(number('connections', values.connections, 1)),
    duration: number('duration', values.duration, 0.1),
    warmup: number('warmup', values.warmup, 0),
    json: values.json,
  };
}

// ---------------------------------------------------------------------------------------
// The server: `modelhost serve <repository> --port 0`, its URL read from its JSON-lines log.

interface StartedServer {
  readonly url: string;
  readonly child: ChildProcess;
  stop(): Promise<number | null>;
}

async function startServer(repository: string, models: readonly string[]): Promise<StartedServer> {
  // `npx tsx src/cli/modelhost.ts serve …` without npx in between: one process, so the
  // SIGTERM sent at the end reaches the server itself (npx would exit and leave it running).
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'serve', repository, '--port', '0', '--log-format', 'json', '--models', models.join(',')], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const url = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        let entry: { level?: string; msg?: string; url?: string; model?: string; error?: string };
        try {
          entry = JSON.parse(line) as typeof entry;
        } catch {
          continue;
        }
        if (entry.level === 'error' || entry.level === 'warn') process.stderr.write(`server ${entry.level}: ${entry.msg}${entry.model ? ` (${entry.model})` : ''}${entry.error ? `: ${entry.error}` : ''}\n`);
        if (entry.msg === 'listening' && entry.url !== undefined) resolve(entry.url);
      }
    });
    void exited.then((code) => reject(new Error(`modelhost serve exited with code ${code} before listening:\n${stderr}`)));
  });
  // If this script dies first, do not leave the server behind.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  return {
    url,
    child,
    async stop() {
      process.off('exit', killOnExit);
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      return exited;
    },
  };
}

// ---------------------------------------------------------------------------------------
// The requests: one instance of each input, built from the model's KServe v2 metadata.

interface TensorMetadata {
  name: string;
  datatype: string;
  shape: number[];
}

async function inferBody(url: string, model: string): Promise<string> {
  const response = await fetch(`${url}/v2/models/${encodeURIComponent(model)}`);
  if (!response.ok) throw new Error(`GET /v2/models/${model}: ${response.status} ${await response.text()}`);
  const { inputs } = (await response.json()) as { inputs: TensorMetadata[] };
  let seed = 1;
  const random = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32);
  return JSON.stringify({
    inputs: inputs.map(({ name, datatype, shape }) => {
      const dims = shape.map((d, i) => {
        if (d >= 0) return d;
        if (i === 0) return 1; // the batch dimension: one instance
        throw new Error(`model '${model}', input '${name}': dimension ${i} is variable (${JSON.stringify(shape)}); this script only fills in a variable batch dimension`);
      });
      const size = dims.reduce((a, b) => a * b, 1);
      const value: () => number | boolean = datatype.startsWith('FP') ? () => Math.round(random() * 1000) / 1000 : datatype === 'BOOL' ? () => random() < 0.5 : () => Math.floor(random() * 10);
      return { name, shape: dims, datatype, data: Array.from({ length: size }, value) };
    }),
  });
}

// ---------------------------------------------------------------------------------------
// The load: autocannon's programmatic API, with latencies collected per response (its
// own histogram keeps whole milliseconds; a small model answers in a fraction of one).

async function loadTest(url: string, model: string, options: Options, onStop: (stop: () => void) => void): Promise<ModelResult> {
  const body = await inferBody(url, model);
  const target = `${url}/v2/models/${encodeURIComponent(model)}/infer`;
  const headers = { 'content-type': 'application/json' };
  // One request first: a wrong model or body fails here with the server's message, not as N errors.
  const probe = await fetch(target, { method: 'POST', headers, body });
  if (!probe.ok) throw new Error(`POST ${target}: ${probe.status} ${await probe.text()}`);

  const latencies: number[] = [];
  const instance = autocannon({
    url: target,
    method: 'POST',
    headers,
    body,
    connections: options.connections,
    duration: options.duration,
    ...(options.warmup > 0 ? { warmup: { connections: options.connections, duration: options.warmup } } : {}),
    timeout: 30,
  });
  onStop(() => instance.stop());
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
  });
  const result = await instance;
  latencies.sort((a, b) => a - b);
  return {
    model,
    requestsPerSec: result.requests.total / result.duration,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    errors: result.errors,
    non2xx: result.non2xx,
    requests: result.requests.total,
    bodyBytes: Buffer.byteLength(body),
  };
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = (p / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.min(sorted.length - 1, low + 1);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (rank - low);
}

function table(results: readonly ModelResult[]): string {
  const headers = ['model', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'non-2xx', 'requests', 'body'];
  const count = (n: number) => Math.round(n).toLocaleString('en-US');
  const ms = (n: number) => (Number.isFinite(n) ? n.toFixed(n < 10 ? 2 : 1) : '–');
  const size = (n: number) => (n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1024 ** 2).toFixed(1)} MB`);
  const rows = results.map((r) => [r.model, count(r.requestsPerSec), ms(r.p50Ms), ms(r.p99Ms), String(r.errors), String(r.non2xx), count(r.requests), size(r.bodyBytes)]);
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(headers), rule, ...rows.map(line)].join('\n');
}

// ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const log = (line: string) => process.stderr.write(`${line}\n`);

  let server: StartedServer | undefined;
  let url = options.url;
  if (url === undefined) {
    let repository = options.repository;
    if (repository === undefined) {
      const { materializeDemoRepository } = await import('../../scripts/demo-repository.js');
      ({ root: repository } = await materializeDemoRepository());
    }
    log(`starting: modelhost serve ${path.relative(process.cwd(), repository) || '.'} --port 0 --models ${options.models.join(',')}`);
    server = await startServer(repository, options.models);
    url = server.url;
    log(`server listening on ${url} (pid ${server.child.pid})`);
  }

  let stopCurrent: (() => void) | undefined;
  let interrupted = false;
  process.once('SIGINT', () => {
    interrupted = true;
    stopCurrent?.();
  });

  const results: ModelResult[] = [];
  let failure: unknown;
  try {
    for (const model of options.models) {
      if (interrupted) break;
      log(`load: ${model}, ${options.connections} connections, ${options.warmup > 0 ? `${options.warmup} s warmup + ` : ''}${options.duration} s, POST ${url}/v2/models/${model}/infer`);
      results.push(await loadTest(url, model, options, (stop) => (stopCurrent = stop)));
    }
  } catch (error) {
    failure = error;
  }

  if (server !== undefined) {
    const code = await server.stop();
    log(`server stopped (exit code ${code})`);
    if (code !== 0 && failure === undefined) failure = new Error(`modelhost serve exited with code ${code}`);
  }
  if (results.length > 0) {
    if (options.json) process.stdout.write(`${JSON.stringify({ url, connections: options.connections, durationSec: options.duration, results })}\n`);
    else process.stdout.write(`\n${table(results)}\n\n${options.connections} connections, ${options.duration} s per model; latency of 2xx responses; errors = connection errors and timeouts.\n`);
  }
  if (failure !== undefined) throw failure;
  if (results.some((r) => r.errors > 0 || r.non2xx > 0)) process.exitCode = 1;
}

main().catch((error: unknown) => {
  process.stderr.write(`load-test: ${(error as Error)?.message ?? String(error)}\n`);
  process.exitCode = 1;
});
