/**
 * `modelhost serve <repository>` as a user runs it: a child process over real HTTP, its
 * JSON-lines log, its exit codes, and a graceful stop on SIGTERM with requests in flight.
 */
import { once } from 'node:events';
import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onnxAffine } from '../fixtures/onnx-models.js';
import { buildOnnxModel } from '../fixtures/onnx-writer.js';
import { writeConfig, writeVersion } from '../helpers/repository.js';
import { spawnServe, type ServeRun } from '../helpers/serve-process.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tempDir = useTempDirs('all');

/** stderr without npm's own warnings about the environment's .npmrc. */
const ownStderr = (text: string) => text.replace(/^npm warn .*\n/gm, '');

/** y = x through 1000 MatMuls by a 512×512 identity: ~20 ms per row on one core, and exact. */
function slowIdentity(dim = 512, layers = 1000): Uint8Array {
  const eye = new Float32Array(dim * dim);
  for (let i = 0; i < dim; i++) eye[i * dim + i] = 1;
  return buildOnnxModel({
    inputs: [{ name: 'x', dtype: 'float32', shape: ['N', dim] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: ['N', dim] }],
    initializers: [{ name: 'eye', dtype: 'float32', dims: [dim, dim], data: eye }],
    nodes: Array.from({ length: layers }, (_, i) => ({ op: 'MatMul', inputs: [i === 0 ? 'x' : `h${i}`, 'eye'], outputs: [i === layers - 1 ? 'y' : `h${i + 1}`] })),
  });
}

let repository: string;

beforeAll(async () => {
  repository = await tempDir();
  await writeVersion(repository, 'affine', 1, { 'model.onnx': onnxAffine({ size: 4, scale: 2, bias: 1 }) });
  await writeVersion(repository, 'slow', 1, { 'model.onnx': slowIdentity() });
  // one request per runtime call, so a burst of requests stays queued for a while
  await writeConfig(repository, 'slow', { batching: false });
});

describe('modelhost (CLI arguments)', () => {
  it('prints its usage with --help and exits 0', async () => {
    const run = spawnServe(['--help']);
    expect(await run.exited).toEqual({ code: 0, signal: null });
    expect(run.stdout()).toMatch(/^Usage: modelhost serve <repository> \[options\]/);
    for (const option of ['--port', '--host', '--poll', '--models', '--timeout', '--admin-token', '--instances', '--body-limit', '--json-max-depth', '--json-max-elements', '--max-response-bytes', '--drain-timeout']) expect(run.stdout()).toContain(option);
    expect(ownStderr(run.stderr())).toBe('');
  });

  it('prints its version with --version', async () => {
    const run = spawnServe(['--version']);
    expect(await run.exited).toEqual({ code: 0, signal: null });
    const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
    expect(run.stdout().trim()).toBe(version);
  });

  it.each([
    { args: [], message: 'missing command' },
    { args: ['frobnicate'], message: "unknown command 'frobnicate'" },
    { args: ['serve'], message: 'missing <repository>' },
    { args: ['serve', '.', '--port', 'http'], message: '--port must be a port number, got http' },
    { args: ['serve', '.', '--port', '70000'], message: '--port must be a port number, got 70000' },
    { args: ['serve', '.', '--timeout', '0'], message: '--timeout must be a positive number of ms up to 2147483647, got 0' },
    { args: ['serve', '.', '--poll', '1'], message: '--poll must be a number of ms from 10 to 2147483647, got 1' },
    { args: ['serve', '.', '--poll', '99999999999'], message: '--poll must be a number of ms from 10 to 2147483647, got 99999999999' },
    { args: ['serve', '.', '--instances', 'gpu'], message: '--instances must be auto, thread or inline, got gpu' },
    { args: ['serve', '.', '--bogus'], message: "unknown option '--bogus'\n" },
    { args: ['serve', '.', '--prot', '80'], message: "unknown option '--prot' (did you mean --port?)" },
    { args: ['serve', '.', '--model', 'a'], message: "unknown option '--model' (did you mean --models?)" },
    { args: ['serve', '.', '--bodylimit=9'], message: "unknown option '--bodylimit' (did you mean --body-limit?)" },
    { args: ['serve', '.', '--port'], message: '--port needs a value <n>' },
    { args: ['serve', '.', '--help=yes'], message: '--help takes no value, got yes' },
    { args: ['serve', '.', '--body-limit', '1.5'], message: '--body-limit must be a positive number of bytes, got 1.5' },
    { args: ['serve', '.', '--json-max-depth', '0'], message: '--json-max-depth must be an integer from 1 to 1000, got 0' },
    { args: ['serve', '.', '--json-max-depth', '100000'], message: '--json-max-depth must be an integer from 1 to 1000, got 100000' },
    { args: ['serve', '.', '--json-max-elements', 'many'], message: '--json-max-elements must be a positive integer, got many' },
    { args: ['serve', '.', '--drain-timeout', 'soon'], message: '--drain-timeout must be a whole number of ms from 0 to 2147483647, got soon' },
    { args: ['serve', '.', '--drain-timeout', '3000000000'], message: '--drain-timeout must be a whole number of ms from 0 to 2147483647, got 3000000000' },
    { args: ['serve', '.', '--timeout', '1e10'], message: '--timeout must be a positive number of ms up to 2147483647, got 1e10' },
    { args: ['serve', '.', '--timeout', '3000000000'], message: '--timeout must be a positive number of ms up to 2147483647, got 3000000000' },
    { args: ['serve', '.', '--models', ''], message: '--models needs at least one name' },
    { args: ['serve', '.', '--models', ' , '], message: '--models needs at least one name' },
    { args: ['serve', '.', '--models', 'a,b,a,a'], message: "--models names 'a' more than once" },
  ])('exits 2 with a message and the usage for $args', async ({ args, message }) => {
    const run = spawnServe(args);
    expect(await run.exited).toEqual({ code: 2, signal: null });
    expect(ownStderr(run.stderr())).toContain(`modelhost: ${message}`);
    expect(run.stderr()).toContain('Usage: modelhost serve <repository>');
    expect(run.stdout()).toBe('');
  });

  it('refuses --models naming a model the repository lacks, listing the models found, before loading any', async () => {
    const run = spawnServe(['serve', repository, '--port', '0', '--models', 'affine,afine,nope']);
    expect(await run.exited).toEqual({ code: 2, signal: null });
    expect(ownStderr(run.stderr())).toContain("modelhost: --models names 'afine', 'nope', not in the repository; models found: affine, slow\n");
    expect(run.stdout()).toBe('');
  });

  it('reports a port in use before loading any model', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const port = (taken.address() as AddressInfo).port;
      const run = spawnServe(['serve', repository, '--port', String(port)]);
      expect(await run.exited).toEqual({ code: 2, signal: null });
      expect(ownStderr(run.stderr())).toContain(`modelhost: port ${port} on 127.0.0.1 is already in use\n`);
      expect(run.stdout()).toBe(''); // no 'model loaded' line: it did not load first
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it('refuses a --host that is not an address of this machine before loading any model (port 0 too)', async () => {
    const run = spawnServe(['serve', repository, '--port', '0', '--host', '999.1.1.1']);
    expect(await run.exited).toEqual({ code: 2, signal: null });
    expect(ownStderr(run.stderr())).toMatch(/^modelhost: --host 999\.1\.1\.1 is not an address of this machine \((ENOTFOUND|EAI_AGAIN)\)\n/);
    expect(run.stdout()).toBe('');
  });

  it('reports a --grpc-port in use before loading any model', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const port = (taken.address() as AddressInfo).port;
      const run = spawnServe(['serve', repository, '--port', '0', '--grpc-port', String(port)]);
      expect(await run.exited).toEqual({ code: 2, signal: null });
      expect(ownStderr(run.stderr())).toContain(`modelhost: --grpc-port ${port} on 127.0.0.1 is already in use\n`);
      expect(run.stdout()).toBe('');
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it('refuses --model-name given a model file rather than its folder, naming the folder', async () => {
    const file = path.join(repository, 'affine', '1', 'model.onnx');
    const run = spawnServe(['serve', file, '--port', '0', '--model-name', 'f']);
    expect(await run.exited).toEqual({ code: 2, signal: null });
    expect(ownStderr(run.stderr())).toContain(`modelhost: ${file} is a file: give the folder that holds it (${path.dirname(file)})\n`);
    expect(run.stderr()).not.toContain('ENOTDIR');
    expect(run.stdout()).toBe('');
  });

  it('exits 2 when the repository does not exist', async () => {
    const run = spawnServe(['serve', `${await tempDir()}/nowhere`, '--port', '0']);
    expect((await run.exited).code).toBe(2);
    expect(ownStderr(run.stderr())).toMatch(/^modelhost: /);
  });
});

describe('modelhost serve', () => {
  let server: ServeRun;
  let url: string;
  const post = (path: string, body: unknown) => fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  type Answer = { status: number; body: { id?: string; error?: string; outputs?: { data: number[] }[] } };
  const postOnNewConnection = (path: string, body: unknown) =>
    new Promise<Answer>((resolve) => {
      const req = request(`${url}${path}`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Answer['body'] }));
      });
      req.on('error', (error) => resolve({ status: 0, body: { error: error.message } }));
      req.end(JSON.stringify(body));
    });

  beforeAll(async () => {
    server = spawnServe(['serve', repository, '--port', '0', '--body-limit', '100000', '--json-max-depth', '8', '--max-response-bytes', '8000']);
    url = (await server.waitForLog((l) => l.msg === 'listening')).url as string;
  });

  afterAll(() => {
    if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
  });

  it('logs JSON lines: each model loaded, then the address it listens on', () => {
    const logs = server.logs();
    for (const line of logs) {
      expect(line).toEqual(expect.objectContaining({ time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), level: expect.stringMatching(/^(debug|info|warn|error)$/), msg: expect.any(String) }));
    }
    const loaded = logs.filter((l) => l.msg === 'model loaded');
    expect(loaded.map((l) => [l.model, l.version, l.runtime]).sort()).toEqual([
      ['affine', 1, 'onnx'],
      ['slow', 1, 'onnx'],
    ]);
    const listening = logs.find((l) => l.msg === 'listening')!;
    expect(listening).toMatchObject({ level: 'info', models: ['affine', 'slow'], admin: false });
    expect(listening.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    // it listens once every model is loaded
    expect(Math.max(...loaded.map((l) => logs.indexOf(l)))).toBeLessThan(logs.indexOf(listening));
    expect(logs.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('answers KServe v2 health, readiness, metadata and infer', async () => {
    // run from the sources (as `npm start` does), GET /v2 still says the package version
    const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
    expect(await (await fetch(`${url}/v2`)).json()).toEqual({ name: 'modelhost', version, extensions: ['binary_tensor_data', 'model_repository'] });
    expect((await fetch(`${url}/v2/health/live`)).status).toBe(200);
    expect(await (await fetch(`${url}/v2/health/ready`)).json()).toEqual({ ready: true, models: { affine: { ready: true }, slow: { ready: true } } });
    expect(await (await fetch(`${url}/v2/models/affine/ready`)).json()).toEqual({ name: 'affine', ready: true });
    expect(await (await fetch(`${url}/v2/models/affine/versions/1/ready`)).json()).toEqual({ name: 'affine', ready: true });
    expect(await (await fetch(`${url}/v2/models/affine`)).json()).toEqual({
      name: 'affine',
      versions: ['1'],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 4] }],
      outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 4] }],
    });

    const response = await post('/v2/models/affine/infer', { id: 'a', inputs: [{ name: 'x', shape: [2, 4], datatype: 'FP32', data: [1, 2, 3, 4, 0, 0, 0, 0.5] }] });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ model_name: 'affine', model_version: '1', id: 'a', outputs: [{ name: 'y', datatype: 'FP32', shape: [2, 4], data: [3, 5, 7, 9, 1, 1, 1, 2] }] });

    const pinned = await post('/v2/models/affine/versions/1/infer', { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [[-1, -2, -3, -4]] }] });
    expect(((await pinned.json()) as { outputs: { data: number[] }[] }).outputs[0]!.data).toEqual([-1, -3, -5, -7]);
  });

  it('answers TF Serving REST status and predict (row and columnar formats)', async () => {
    expect(await (await fetch(`${url}/v1/models/affine`)).json()).toEqual({ model_version_status: [{ version: '1', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }] });
    const rows = await post('/v1/models/affine:predict', { instances: [[1, 2, 3, 4], [0, 0, 0, 0]] });
    expect(rows.status).toBe(200);
    expect(await rows.json()).toEqual({ predictions: [[3, 5, 7, 9], [1, 1, 1, 1]] });
    const columns = await post('/v1/models/affine/versions/1:predict', { inputs: { x: [[0.5, 1, 1.5, 2]] } });
    expect(await columns.json()).toEqual({ outputs: [[2, 3, 4, 5]] });
  });

  it('maps errors to statuses with a message and no stack', async () => {
    const unknown = await post('/v2/models/nope/infer', { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] });
    expect(unknown.status).toBe(404);
    const wrongShape = await post('/v2/models/affine/infer', { inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] });
    expect(wrongShape.status).toBe(400);
    const body = (await wrongShape.json()) as { error: string };
    expect(body.error).toMatch(/'affine'.*'x'/);
    expect(body.error).not.toMatch(/\n\s+at /);
    const notJson = await fetch(`${url}/v2/models/affine/infer`, { method: 'POST', body: '{"inputs": [' });
    expect(notJson.status).toBe(400);
  });

  it('applies the HTTP limits given as flags (--body-limit, --json-max-depth, --max-response-bytes)', async () => {
    // 512 float32 results that print with ~19 characters each: ~10 kB of JSON response
    const wide = await post('/v2/models/slow/infer', { inputs: [{ name: 'x', shape: [1, 512], datatype: 'FP32', data: new Array(512).fill(0.123456789) }] });
    expect(wide.status).toBe(400);
    expect(((await wide.json()) as { error: string }).error).toMatch(/binary_data_output/);
    const large = await post('/v2/models/affine/infer', { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }], pad: 'x'.repeat(100_000) });
    expect(large.status).toBe(413);
    let deep: unknown = [1, 2, 3, 4];
    for (let i = 0; i < 8; i++) deep = [deep];
    const tooDeep = await post('/v2/models/affine/infer', { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: deep }] });
    expect(tooDeep.status).toBe(400);
    expect(((await tooDeep.json()) as { error: string }).error).toMatch(/8/);
  });

  it('on SIGTERM stops accepting connections, finishes the requests in flight, logs "stopped" and exits 0', async () => {
    const port = Number(new URL(url).port);
    // A burst of concurrent requests to a model that takes ~20 ms per request, one at a time.
    const burst = 24;
    const inputs = Array.from({ length: burst }, (_, r) => Array.from({ length: 512 }, (_, i) => r * 1000 + i));
    // One connection per request, as separate clients would: fetch would queue them all on the
    // keep-alive connection the earlier tests left open, one after another.
    const responses = inputs.map((data, r) => postOnNewConnection('/v2/models/slow/infer', { id: `r${r}`, inputs: [{ name: 'x', shape: [1, 512], datatype: 'FP32', data }] }));
    // Wait (polling, no fixed sleep) until the host has admitted every request: all but the
    // one running are queued or done. Requests still in the listen backlog at SIGTERM would
    // be refused, rightly, and are not what this test is about.
    let queuedAtSigterm = 0;
    let inHostAtSigterm = 0;
    for (;;) {
      const status = (await (await fetch(`${url}/status.json`)).json()) as { models: { name: string; versions: { queueDepth: number; requests: number }[] }[] };
      const slow = status.models.find((m) => m.name === 'slow')!.versions[0]!;
      if (slow.queueDepth + slow.requests >= burst - 1) {
        queuedAtSigterm = slow.queueDepth;
        inHostAtSigterm = slow.queueDepth + slow.requests;
        break;
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    // ~20 ms each, one at a time: most of the burst is still queued when the signal lands.
    expect(queuedAtSigterm).toBeGreaterThanOrEqual(4);

    server.child.kill('SIGTERM');
    const shuttingDown = await server.waitForLog((l) => l.msg.startsWith('shutting down'));
    expect(shuttingDown).toMatchObject({ level: 'info', signal: 'SIGTERM' });

    // The listener is closed while requests are still being answered: a new connection gets
    // no HTTP answer. It is refused, or, when it raced the close (the log line is written just
    // before the listening socket closes, and a busy machine can run this in between), it sat
    // in the listen backlog and is reset when the socket closes, never accepted.
    const outcome = await new Promise<string>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      let received = '';
      socket.once('connect', () => socket.write('GET /v2/health/live HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n'));
      socket.setEncoding('utf8').on('data', (chunk: string) => (received += chunk));
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
      socket.once('close', () => resolve(received === '' ? 'closed unanswered' : `answered: ${received.split('\r\n')[0]}`));
    });
    expect(['ECONNREFUSED', 'ECONNRESET', 'closed unanswered']).toContain(outcome);
    expect(server.logs().some((l) => l.msg === 'stopped')).toBe(false);

    // Every request the host had taken completes, with its own answer (y = x). One still
    // waiting unread for admission at the listener (the gate admits a few at a time) was
    // never processed: it is answered 503 SHUTTING_DOWN, for the client to retry elsewhere.
    const answered = await Promise.all(responses);
    let served = 0;
    answered.forEach(({ status, body }, r) => {
      if (status === 503) {
        expect(body.error).toMatch(/shutting down/);
        return;
      }
      served++;
      expect({ r, status, error: body.error }).toEqual({ r, status: 200, error: undefined });
      expect(body.id).toBe(`r${r}`);
      expect(body.outputs![0]!.data).toEqual(inputs[r]);
    });
    expect(served).toBeGreaterThanOrEqual(inHostAtSigterm);

    expect(await server.exited).toEqual({ code: 0, signal: null });
    const logs = server.logs();
    expect(logs.at(-1)).toMatchObject({ level: 'info', msg: 'stopped' });
    expect(logs.filter((l) => l.level === 'error')).toEqual([]);
    expect(ownStderr(server.stderr())).toBe('');
  });
});

/**
 * A request whose body never finishes: `serve`'s drain waits for its connection (up to
 * --drain-timeout), so a drain lasts as long as the test needs. Resolves once the server has
 * the request (its headers are parsed before the first signal).
 */
/** `count` requests to the slow model at once, each settling to its HTTP status (0: no answer); `id` names request i. */
function slowBurst(url: string, count: number, id?: (i: number) => string): Promise<number>[] {
  return Array.from({ length: count }, (_, i) =>
    fetch(`${url}/v2/models/slow/infer`, { method: 'POST', body: JSON.stringify({ ...(id === undefined ? {} : { id: id(i) }), inputs: [{ name: 'x', shape: [1, 512], datatype: 'FP32', data: new Array(512).fill(1) }] }) }).then(
      (r) => r.status,
      () => 0,
    ),
  );
}

/** Polls status.json until the first model's first version has at least `depth` rows queued. */
async function untilQueued(url: string, depth: number): Promise<void> {
  for (;;) {
    const status = (await (await fetch(`${url}/status.json`)).json()) as { models: { versions: { queueDepth: number }[] }[] };
    if (status.models[0]!.versions[0]!.queueDepth >= depth) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

async function halfSentRequest(url: string): Promise<import('node:net').Socket> {
  const { port } = new URL(url);
  const socket = connect(Number(port), '127.0.0.1');
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.write('POST /v2/models/affine/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{');
  await new Promise((resolve) => setTimeout(resolve, 50));
  return socket;
}

describe('modelhost serve, a second signal during the drain', () => {
  it.each([
    ['SIGTERM', 'SIGTERM'],
    ['SIGINT', 'SIGINT'],
    ['SIGTERM', 'SIGINT'],
    ['SIGINT', 'SIGTERM'],
  ] as const)('%s then %s: host.destroy() and exit 1, not death by the signal', async (first, second) => {
    const run = spawnServe(['serve', repository, '--port', '0', '--models', 'slow']);
    const url = (await run.waitForLog((l) => l.msg === 'listening')).url as string;
    // keep the slow model busy so the drain lasts well beyond the second signal
    const burst = slowBurst(url, 16);
    await untilQueued(url, 4);
    const held = await halfSentRequest(url); // keeps the drain going past the wait below
    run.child.kill(first);
    await run.waitForLog((l) => l.msg.startsWith('shutting down'));
    await new Promise((resolve) => setTimeout(resolve, 300)); // past the window in which a repeat of the first counts as the same signal
    run.child.kill(second);
    expect(await run.exited).toEqual({ code: 1, signal: null });
    held.destroy();
    const logs = run.logs();
    expect(logs.find((l) => l.msg.startsWith('shutting down'))).toMatchObject({ signal: first });
    expect(logs.filter((l) => l.level === 'warn')).toEqual([expect.objectContaining({ msg: 'second signal: exiting now', signal: second })]);
    expect(logs.some((l) => l.msg === 'stopped')).toBe(false);
    await Promise.all(burst);
  });
});

describe('modelhost serve, one signal delivered twice', () => {
  it('the same signal again at once (a Ctrl-C to the process group, relayed again by tsx) drains as for one: exit 0, "stopped"', async () => {
    const run = spawnServe(['serve', repository, '--port', '0', '--models', 'slow']);
    const url = (await run.waitForLog((l) => l.msg === 'listening')).url as string;
    const burst = slowBurst(url, 8);
    await untilQueued(url, 2);
    const held = await halfSentRequest(url); // keeps the drain going while the repeat arrives
    run.child.kill('SIGINT');
    await run.waitForLog((l) => l.msg.startsWith('shutting down'));
    run.child.kill('SIGINT'); // at once: two signals sent together would merge into one
    await run.waitForLog((l) => l.msg.startsWith('the same signal again'));
    held.destroy(); // the client leaves: the drain can end
    expect(await run.exited).toEqual({ code: 0, signal: null });
    const logs = run.logs();
    expect(logs.some((l) => l.msg === 'stopped')).toBe(true);
    expect(logs.filter((l) => l.level === 'warn')).toEqual([]);
    expect(logs.filter((l) => l.msg.startsWith('the same signal again'))).toHaveLength(1);
    expect((await Promise.all(burst)).every((s) => s === 200)).toBe(true);
  });
});

describe('modelhost serve: the drain bound', () => {
  it('--drain-timeout: what is still queued when it passes gets 503 SHUTTING_DOWN, and the exit code is 1', async () => {
    const server = spawnServe(['serve', repository, '--port', '0', '--models', 'slow', '--drain-timeout', '50']);
    const url = (await server.waitForLog((l) => l.msg === 'listening')).url as string;
    const send = (r: number) =>
      new Promise<number>((resolve) => {
        const req = request(`${url}/v2/models/slow/infer`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
          res.resume().on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', () => resolve(0));
        req.end(JSON.stringify({ inputs: [{ name: 'x', shape: [1, 512], datatype: 'FP32', data: Array.from({ length: 512 }, (_, i) => r + i) }] }));
      });
    const answers = Array.from({ length: 24 }, (_, r) => send(r));
    // The listener's admission gate lets 8 in while it measures latency (the rest wait unread): 4 queued is enough.
    await untilQueued(url, 4);
    server.child.kill('SIGTERM');
    const statuses = await Promise.all(answers);
    expect(statuses).toContain(503); // refused past the bound
    expect(await server.exited).toEqual({ code: 1, signal: null });
    expect(server.logs().at(-1)).toMatchObject({ msg: 'stopped', drainTimedOut: true });
  });
});

describe('modelhost serve --samples', () => {
  it('writes the sampled requests as JSON lines, every one accepted before SIGTERM, and logs the counts', async () => {
    const repo = await tempDir();
    await writeVersion(repo, 'affine', 1, { 'model.onnx': onnxAffine({ size: 4, scale: 2, bias: 1 }) });
    await writeConfig(repo, 'affine', { sampling: { rate: 1 } });
    const file = path.join(await tempDir(), 'samples', 'requests.jsonl');
    const run = spawnServe(['serve', repo, '--port', '0', '--samples', file]);
    const url = (await run.waitForLog((l) => l.msg === 'listening')).url as string;
    const ids = Array.from({ length: 50 }, (_, i) => `req-${i}`);
    for (const id of ids) {
      const response = await fetch(`${url}/v2/models/affine/infer`, { method: 'POST', body: JSON.stringify({ id, inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] }) });
      expect(response.status).toBe(200);
    }
    // Its counts are exported, under the sink's name (a sink drops rather than block: /metrics is where drops show).
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^modelhost_samples_written_total\{sink="samples"\} 50$/m);
    expect(metrics).toMatch(/^modelhost_samples_dropped_total\{sink="samples"\} 0$/m);
    run.child.kill('SIGTERM');
    expect(await run.exited).toEqual({ code: 0, signal: null });
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { model: string; version: number; id: string; outputs: { y: { datatype: string; b64: string } } });
    expect(lines.map((l) => l.id)).toEqual(ids);
    expect(lines[0]).toMatchObject({ model: 'affine', version: 1, outputs: { y: { datatype: 'float32' } } });
    expect([...new Float32Array(new Uint8Array(Buffer.from(lines[0]!.outputs.y.b64, 'base64')).buffer)]).toEqual([3, 5, 7, 9]);
    expect(run.logs().find((l) => l.msg === 'samples closed')).toMatchObject({ level: 'info', written: 50, dropped: 0 });
  });

  it('a second signal during the drain still writes the samples accepted and logs the counts (exit 1)', async () => {
    const repo = await tempDir();
    await writeVersion(repo, 'slow', 1, { 'model.onnx': slowIdentity() });
    await writeConfig(repo, 'slow', { batching: false, sampling: { rate: 1 } });
    const file = path.join(await tempDir(), 'requests.jsonl');
    const run = spawnServe(['serve', repo, '--port', '0', '--samples', file]);
    const url = (await run.waitForLog((l) => l.msg === 'listening')).url as string;
    // ~20 ms a request, one at a time: the host still drains them at the second signal
    const burst = slowBurst(url, 96, (i) => `r${i}`);
    await untilQueued(url, 24);
    const held = await halfSentRequest(url); // keeps the drain going past the second signal
    run.child.kill('SIGTERM');
    await run.waitForLog((l) => l.msg.startsWith('shutting down'));
    await new Promise((resolve) => setTimeout(resolve, 300)); // past the window in which a repeat counts as the same signal
    run.child.kill('SIGTERM');
    expect(await run.exited).toEqual({ code: 1, signal: null });
    held.destroy();
    const statuses = await Promise.all(burst);
    // Every sample the sink counted as written is in the file (the ones of the last ~100 ms were lost at exit, and the log said nothing).
    const lines = readFileSync(file, 'utf8').trim().split('\n').filter((l) => l !== '');
    const closed = run.logs().find((l) => l.msg === 'samples closed');
    expect(closed).toMatchObject({ level: 'info', written: lines.length, dropped: 0 });
    expect(lines.length).toBeGreaterThanOrEqual(statuses.filter((s) => s === 200).length); // an answer cut by the exit was still sampled
  });

  it('refuses a path it cannot write before loading any model', async () => {
    const notADirectory = path.join(await tempDir(), 'file');
    await writeFile(notADirectory, 'x');
    const run = spawnServe(['serve', repository, '--port', '0', '--samples', path.join(notADirectory, 'requests.jsonl')]);
    expect(await run.exited).toEqual({ code: 2, signal: null });
    expect(ownStderr(run.stderr())).toMatch(/^modelhost: --samples .*requests\.jsonl: .*ENOTDIR/);
    expect(run.logs().some((l) => l.msg === 'model loaded')).toBe(false);
    // A directory at the file's path: refused too (it served on, and kept nothing).
    const directory = await tempDir();
    const atDirectory = spawnServe(['serve', repository, '--port', '0', '--samples', directory]);
    expect(await atDirectory.exited).toEqual({ code: 2, signal: null });
    expect(ownStderr(atDirectory.stderr())).toMatch(/^modelhost: --samples .*: Can't write on: .* \(it is not a file\)/);
  });
});

describe('modelhost serve: load failures and signals during load', () => {
  it('the "listening" line lists the models that serve, and the ones that failed apart', async () => {
    const mixed = await tempDir();
    await writeVersion(mixed, 'affine', 1, { 'model.onnx': onnxAffine({ size: 4, scale: 2, bias: 1 }) });
    await writeVersion(mixed, 'broken', 1, { 'model.onnx': new Uint8Array([1, 2, 3, 4]) });
    const run = spawnServe(['serve', mixed, '--port', '0']);
    const listening = await run.waitForLog((l) => l.msg === 'listening');
    expect(listening).toMatchObject({ models: ['affine'], failed: ['broken'] });
    // With --log-format json every stdout line is a JSON object.
    for (const line of run.stdout().split('\n').filter(Boolean)) expect(() => JSON.parse(line), line).not.toThrow();
    run.child.kill('SIGTERM');
    expect(await run.exited).toEqual({ code: 0, signal: null });
  });

  it('exits 1 without listening when no model could be loaded (nothing to serve)', async () => {
    const broken = await tempDir();
    await writeVersion(broken, 'broken', 1, { 'model.onnx': new Uint8Array([1, 2, 3, 4]) });
    const run = spawnServe(['serve', broken, '--port', '0']);
    expect(await run.exited).toEqual({ code: 1, signal: null });
    const logs = run.logs();
    expect(logs.find((l) => l.msg === 'model not served')).toMatchObject({ level: 'error', model: 'broken' });
    expect(logs.find((l) => l.msg === 'no model could be loaded: exiting')).toMatchObject({ level: 'error', models: [], failed: ['broken'] });
    expect(logs.some((l) => l.msg === 'listening')).toBe(false);
  });

  it('--strict-readiness false: a model that failed to load leaves the replica ready while another serves (true, the default: not ready)', async () => {
    const mixed = await tempDir();
    await writeVersion(mixed, 'affine', 1, { 'model.onnx': onnxAffine({ size: 4, scale: 2, bias: 1 }) });
    await writeVersion(mixed, 'broken', 1, { 'model.onnx': new Uint8Array([1, 2, 3, 4]) });
    for (const [args, status] of [[[], 503], [['--strict-readiness', 'false'], 200]] as const) {
      const run = spawnServe(['serve', mixed, '--port', '0', ...args]);
      const url = (await run.waitForLog((l) => l.msg === 'listening')).url as string;
      const ready = await fetch(`${url}/v2/health/ready`);
      expect(ready.status, args.join(' ')).toBe(status);
      expect(((await ready.json()) as { models: Record<string, { ready: boolean }> }).models).toMatchObject({ affine: { ready: true }, broken: { ready: false } });
      run.child.kill('SIGTERM');
      expect(await run.exited).toEqual({ code: 0, signal: null });
    }
  });

  it("--exit-on-error (Triton's): exits 1 when any model fails to load, even when others loaded", async () => {
    const mixed = await tempDir();
    await writeVersion(mixed, 'affine', 1, { 'model.onnx': onnxAffine({ size: 4, scale: 2, bias: 1 }) });
    await writeVersion(mixed, 'broken', 1, { 'model.onnx': new Uint8Array([1, 2, 3, 4]) });
    const run = spawnServe(['serve', mixed, '--port', '0', '--exit-on-error']);
    expect(await run.exited).toEqual({ code: 1, signal: null });
    expect(run.logs().find((l) => l.msg === 'a model failed to load and --exit-on-error is set: exiting')).toMatchObject({ models: ['affine'], failed: ['broken'] });
    expect(run.logs().some((l) => l.msg === 'listening')).toBe(false);
  });

  it('SIGTERM while models load stops the loading, logs "shutting down" and exits 0', async () => {
    // many copies of the slow model: loading them all takes far longer than the signal needs
    const many = await tempDir();
    const bytes = slowIdentity();
    for (let i = 0; i < 12; i++) await writeVersion(many, `slow${i}`, 1, { 'model.onnx': bytes });
    const run = spawnServe(['serve', many, '--port', '0']);
    await run.waitForLog((l) => l.msg === 'loading');
    run.child.kill('SIGTERM');
    expect(await run.exited).toEqual({ code: 0, signal: null });
    const logs = run.logs();
    expect(logs.find((l) => l.msg.startsWith('shutting down'))).toMatchObject({ level: 'info', signal: 'SIGTERM' });
    expect(logs.some((l) => l.msg === 'listening')).toBe(false);
    expect(logs.filter((l) => l.msg === 'model loaded').length).toBeLessThan(12);
    expect(logs.at(-1)).toMatchObject({ msg: 'stopped', drainTimedOut: false });
  });
});

describe('modelhost serve: a connection held open past --drain-timeout', () => {
  it('is cut at the drain bound, not 10 s later, and the exit code says the drain timed out', async () => {
    const run = spawnServe(['serve', repository, '--port', '0', '--models', 'affine', '--drain-timeout', '300']);
    const url = new URL((await run.waitForLog((l) => l.msg === 'listening')).url as string);
    // a request whose body never finishes arriving
    const socket = connect(Number(url.port), url.hostname);
    socket.on('error', () => {});
    await once(socket, 'connect');
    socket.write('POST /v2/models/affine/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"inputs"');
    expect((await fetch(`${url.origin}/v2/health/live`)).status).toBe(200);
    const signalled = Date.now();
    run.child.kill('SIGTERM');
    const closed = once(socket, 'close');
    expect(await run.exited).toEqual({ code: 1, signal: null });
    await closed;
    // well under the old fixed 10 s cutoff (and the 10 s headers / 30 s body timeouts)
    expect(Date.now() - signalled).toBeLessThan(5000);
    expect(run.logs().at(-1)).toMatchObject({ msg: 'stopped', drainTimedOut: true });
  });
});
