/**
 * Runs one documentation example in this (child) process: `node --import tsx
 * example-runner.ts <config.json>`, with the example's folder (a model repository at
 * ./models) as the working directory. run-typescript-examples.test.ts starts it, one process
 * per block, and reads the exit code, stderr and the result file.
 *
 * 1. The prelude: the names a fragment uses without declaring them (`host`, `app`, `x`, …,
 *    the same names typescript-examples.test.ts declares) become globals with real values:
 *    `host` is a ModelHost on ./models with the models the block names loaded; a block that
 *    fetches from the docs' HTTP or gRPC address gets a server there.
 *    https://models.example.com/, the docs' remote repository, answers from the folder
 *    ./models.example.com (no network here).
 * 2. The block is imported; it must settle without throwing.
 *    A route the block adds that calls the host (`app.post('/score', …)`) is called once.
 * 3. Documented answers (`// → value`) it recorded, and the console.log calls that carry one,
 *    are written to the result file for the parent to compare.
 * 4. Teardown: a block that installed a SIGTERM handler (a server's documented shutdown) gets
 *    SIGTERM, and that handler must close everything; otherwise what the block left listening,
 *    and the prelude's host, are closed here. Then the process must exit by itself: a handle
 *    still open after 5 s fails the run, naming the handles.
 */
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { inspect } from 'node:util';

export interface RunnerConfig {
  /** The block, as a .ts module. */
  readonly blockFile: string;
  /** Where the recorded answers go (JSON). */
  readonly resultFile: string;
  /** The prelude globals the block uses. */
  readonly globals: readonly string[];
  /** The models the prelude host loads: [name, version] in order (a later load of a name becomes its default). */
  readonly load: readonly (readonly [string, number])[];
  /** Serve the prelude host over HTTP / gRPC on these ports. */
  readonly httpPort?: number;
  readonly grpcPort?: number;
  /** How many console.log calls carry a documented answer: wait for them before the teardown. */
  readonly documentedLogs: number;
  /** Routes of the block's own that call the host (`app.post('/score', …)`): each gets one POST of `{ features, user }` after the block settled. */
  readonly routes: readonly string[];
  /** PEM files for the TLS examples. */
  readonly tls: { readonly certFile: string; readonly keyFile: string; readonly caFile: string };
}

const config = JSON.parse((await import('node:fs')).readFileSync(process.argv[2]!, 'utf8')) as RunnerConfig;

// What the block leaves listening, for the teardown.
const servers = new Set<net.Server>();
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]) {
  servers.add(this);
  return (listen as (...a: unknown[]) => net.Server).apply(this, args);
} as typeof listen;

// Documented answers: `__documented(index, value)` (inserted by the parent) and console.log.
const documented: unknown[] = [];
const logs: unknown[][] = [];
const log = console.log.bind(console);
console.log = (...args: unknown[]) => {
  logs.push(args);
  log(...args);
};
Object.assign(globalThis, { __documented: (index: number, value: unknown) => { documented[index] = value; } });

// No network here: the one remote host the docs name answers from the folder of that name.
const remote = 'https://models.example.com/';
const realFetch = globalThis.fetch;
globalThis.fetch = async (resource: string | URL | Request, init?: RequestInit) => {
  const url = resource instanceof Request ? resource.url : String(resource);
  if (!url.startsWith(remote)) return realFetch(resource, init);
  const { readFile } = await import('node:fs/promises');
  const file = path.join('models.example.com', decodeURIComponent(new URL(url).pathname));
  const bytes = await readFile(file).catch(() => undefined);
  if (bytes === undefined) return new Response('not found', { status: 404 });
  return new Response(init?.method === 'HEAD' ? null : bytes, { status: 200 });
};

const g = globalThis as Record<string, unknown>;
const need = new Set(config.globals);
const { ModelHost, JsonlSink } = await import('modelhost');
const prelude: Record<string, () => unknown | Promise<unknown>> = {
  ModelHost: () => ModelHost,
  JsonlSink: () => JsonlSink,
  createNodeListener: async () => (await import('modelhost/http')).createNodeListener,
  collectMetrics: async () => (await import('modelhost/prometheus')).collectMetrics,
  ModelHostModule: async () => (await import('modelhost/nest')).ModelHostModule,
  Module: async () => (await import('@nestjs/common')).Module,
  createServer: async () => (await import('node:http')).createServer,
  express: async () => (await import('express')).default,
  trace: async () => (await import('@opentelemetry/api')).trace,
  metrics: async () => (await import('@opentelemetry/api')).metrics,
  app: async () => (await import('express')).default(),
  yourRoutes: async () => (await import('express')).default.Router(),
  // mobilenet and mlp take 64 floats; fraud takes the scores of (legit, fraud).
  pixels: () => ramp(64),
  x: () => ramp(64),
  input: () => ramp(64),
  data: () => ramp(8 * 64),
  x1: () => oneHot(64, 0),
  x2: () => oneHot(64, 1),
  row: () => Float32Array.of(0.2, 0.8),
  requestId: () => 'request-1',
  user: () => ({ id: 'user-1' }),
  onnxBytes: async () => (await import('node:fs')).readFileSync('./exported/model/model.onnx'),
  json: async () => (await import('node:fs')).readFileSync('./exported/tfjs/model.json'),
  bytes: async () => (await import('node:fs')).readFileSync('./exported/tfjs/group1-shard1of1.bin'),
  certFile: () => config.tls.certFile,
  keyFile: () => config.tls.keyFile,
  caFile: () => config.tls.caFile,
  token: () => 'docs-example-token',
  myRuntime: () => ({
    name: 'mine',
    canLoad: (files: readonly string[]) => files.includes('model.mine'),
    load: () => Promise.reject(new Error('no model.mine here')),
  }),
  myClock: () => ({
    now: () => performance.now(),
    setTimeout: (callback: () => void, ms: number) => setTimeout(callback, ms).unref(),
    clearTimeout: (handle: unknown) => clearTimeout(handle as NodeJS.Timeout),
  }),
  retryLater: () => () => {},
  alert: () => (message: string) => log(`alert: ${message}`),
  verifyJwt: () => async (token: string) => ({ roles: token === 'admin' ? ['model-admin'] : [] }),
};
for (const name of need) {
  if (name === 'host') continue;
  const make = prelude[name];
  if (make === undefined) throw new Error(`example-runner: no prelude value for ${name}`);
  g[name] = await make();
}

let host: InstanceType<typeof ModelHost> | undefined;
let grpcServer: { close(): Promise<void> } | undefined;
if (need.has('host') || config.httpPort !== undefined || config.grpcPort !== undefined) {
  host = new ModelHost({ repository: './models' });
  for (const [name, version] of config.load) await host.load(name, { version });
  g.host = host;
}
if (config.httpPort !== undefined) {
  const { createNodeServer } = await import('modelhost/http');
  const server = createNodeServer(host!, {});
  await new Promise<void>((resolve) => server.listen(config.httpPort, '127.0.0.1', resolve));
}
if (config.grpcPort !== undefined) {
  const { createGrpcServer } = await import('modelhost/grpc');
  grpcServer = await createGrpcServer(host!, config.grpcPort);
}
const preludeServers = new Set(servers);

const sigterm = process.listenerCount('SIGTERM');
await import(pathToFileURL(path.resolve(config.blockFile)).href);

// A route the block adds to an Express app is called once: on the server the block started, or
// (a fragment that only adds routes to the prelude's `app`) on that app, listening here.
const responses: { route: string; status: number; body: unknown }[] = [];
for (const route of config.routes) {
  let server = [...servers].find((s) => !preludeServers.has(s));
  if (server === undefined) server = (g.app as { listen(port: number): net.Server }).listen(0);
  if (!server.listening) await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as net.AddressInfo;
  const response = await fetch(`http://127.0.0.1:${port}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ features: Array.from(ramp(64)), user: 'user-1' }),
  });
  const text = await response.text();
  responses.push({ route, status: response.status, body: response.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text });
}

// Callbacks that log a documented answer may come after the module settled.
for (let waited = 0; logs.length < config.documentedLogs && waited < 10_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
/** A value as JSON can carry it to the parent: typed arrays become arrays, undefined becomes null. */
const plain = (value: unknown): unknown =>
  JSON.parse(
    JSON.stringify(value, (_key, v: unknown) => (ArrayBuffer.isView(v) && !(v instanceof DataView) ? Array.from(v as unknown as ArrayLike<number>, (n) => (typeof n === 'bigint' ? Number(n) : n)) : v)) ?? 'null',
  );
writeFileSync(config.resultFile, JSON.stringify({ documented: documented.map(plain), logs: logs.map((args) => plain(args[0])), responses }));

if (process.listenerCount('SIGTERM') > sigterm) {
  // The block's own shutdown must close what it opened; the prelude's servers are closed here.
  for (const server of preludeServers) closeServer(server);
  await grpcServer?.close();
  await host?.close();
  process.kill(process.pid, 'SIGTERM');
} else {
  for (const server of servers) closeServer(server);
  await grpcServer?.close();
  await host?.close();
}
setTimeout(() => {
  process.stderr.write(`example-runner: still running 5 s after the teardown: ${inspect(process.getActiveResourcesInfo())}\n`);
  process.exit(3);
}, 5000).unref();

function closeServer(server: net.Server): void {
  const close = () => {
    server.close();
    (server as net.Server & { closeAllConnections?: () => void }).closeAllConnections?.();
  };
  // listen(port, host) binds after a lookup: a server the block just started may not be listening yet.
  if (server.listening) close();
  else server.once('listening', close);
}

function ramp(length: number): Float32Array {
  return Float32Array.from({ length }, (_, i) => (i % 8) / 8);
}

function oneHot(length: number, index: number): Float32Array {
  const out = new Float32Array(length);
  out[index] = 1;
  return out;
}
