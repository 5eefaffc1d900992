/**
 * A client that goes away cancels its queued request and frees the queue slot; the
 * `timeoutMs` option becomes each request's deadline.
 */
import { connect } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { ErrorCode, ModelHost, type RequestFailedEvent } from '../../../src/index.js';
import { deferred, FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';
import { hangingRuntime } from '../../helpers/hanging-runtime.js';
import { post, useServers } from './serve.js';

const { serve } = useServers();
const INFER = { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] };

/** One row per batch, one queued row at most, and the runtime held after warmup until `release`. */
async function heldHost() {
  const held = deferred();
  const runtime = fakeRuntime({ runGate: () => (runtime.runs > 1 ? held.promise : Promise.resolve()) });
  const host = new ModelHost({ runtimes: { fake: runtime }, defaults: { batching: { maxBatchSize: 1 }, queue: { maxSize: 1 } } });
  await host.load('m', { source: FAKE_SOURCE });
  const failed: RequestFailedEvent[] = [];
  host.on('requestFailed', (e) => failed.push(e));
  const queueDepth = () => host.status('m').versions[0]!.queueDepth;
  return { host, runtime, failed, queueDepth, release: () => held.resolve() };
}

describe('client disconnects', () => {
  it.each([
    ['KServe infer', '/v2/models/m/infer', INFER],
    ['TF Serving predict', '/v1/models/m:predict', { instances: [[1, 2, 3, 4]] }],
  ])('%s: aborting while queued cancels the task (CANCELLED) and frees its slot for the next request', async (_title, path, body) => {
    const { host, runtime, failed, queueDepth, release } = await heldHost();
    const { url } = await serve(host);

    const running = post(`${url}/v2/models/m/infer`, INFER);
    await vi.waitFor(() => expect(runtime.runs).toBe(2)); // in the runtime, held
    const controller = new AbortController();
    const abandoned = fetch(`${url}${path}`, { method: 'POST', body: JSON.stringify(body), signal: controller.signal }).catch((e: unknown) => e);
    await vi.waitFor(() => expect(queueDepth()).toBe(1));
    expect((await post(`${url}${path}`, body)).status).toBe(429); // the queue is full

    controller.abort();
    expect(await abandoned).toMatchObject({ name: 'AbortError' });
    await vi.waitFor(() => expect(failed.map((f) => f.code)).toContain(ErrorCode.CANCELLED));
    await vi.waitFor(() => expect(queueDepth()).toBe(0));
    expect(failed.find((f) => f.code === ErrorCode.CANCELLED)).toMatchObject({ model: 'm', version: 1 });

    // Where the queue had been full, a new request is admitted.
    const admitted = post(`${url}${path}`, body);
    await vi.waitFor(() => expect(queueDepth()).toBe(1));
    release();
    expect((await running).status).toBe(200);
    expect((await admitted).status).toBe(200);
    expect(runtime.runs).toBe(3); // warmup, the held request, the admitted one: the cancelled task never ran
  });

  it('a client that gives up on a request whose batch is running gets nothing; the batch finishes and the server keeps serving', async () => {
    const { host, runtime, failed, release } = await heldHost();
    const { url } = await serve(host);
    const controller = new AbortController();
    const abandoned = fetch(`${url}/v2/models/m/infer`, { method: 'POST', body: JSON.stringify(INFER), signal: controller.signal }).catch((e: unknown) => e);
    await vi.waitFor(() => expect(runtime.runs).toBe(2));
    controller.abort();
    expect(await abandoned).toMatchObject({ name: 'AbortError' });
    await vi.waitFor(() => expect(failed.map((f) => f.code)).toContain(ErrorCode.CANCELLED));
    release();
    await vi.waitFor(() => expect(host.status('m').versions[0]!.pending).toBe(0));
    expect((await post(`${url}/v2/models/m/infer`, INFER)).status).toBe(200);
  });

  it('on a keep-alive connection that already served a request, going away still cancels the queued one (one signal per connection)', async () => {
    let gate: Promise<void> | undefined;
    const runtime = fakeRuntime({ runGate: () => gate ?? Promise.resolve() });
    const host = new ModelHost({ runtimes: { fake: runtime }, defaults: { batching: { maxBatchSize: 1 }, queue: { maxSize: 1 } } });
    await host.load('m', { source: FAKE_SOURCE });
    const failed: RequestFailedEvent[] = [];
    host.on('requestFailed', (e) => failed.push(e));
    const queueDepth = () => host.status('m').versions[0]!.queueDepth;
    const { url } = await serve(host);
    const { port } = new URL(url);

    const socket = connect(Number(port), '127.0.0.1');
    let received = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => (received += chunk));
    const body = JSON.stringify(INFER);
    const send = () => socket.write(`POST /v2/models/m/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
    send();
    await vi.waitFor(() => expect(received).toMatch(/^HTTP\/1\.1 200 [\s\S]*"outputs"/));

    const held = deferred();
    gate = held.promise;
    const running = post(`${url}/v2/models/m/infer`, INFER); // another connection's request holds the runtime
    await vi.waitFor(() => expect(runtime.runs).toBe(3));
    send(); // the same connection's second request waits in the queue
    await vi.waitFor(() => expect(queueDepth()).toBe(1));
    socket.destroy();
    await vi.waitFor(() => expect(failed.map((f) => f.code)).toEqual([ErrorCode.CANCELLED]));
    expect(queueDepth()).toBe(0);
    held.resolve();
    expect((await running).status).toBe(200);
    expect(runtime.runs).toBe(3); // warmup, the first request, the other connection's: the cancelled one never ran
  });

  it('a response that was sent is not cancelled by the connection closing afterwards', async () => {
    const { host, failed, release } = await heldHost();
    release();
    const { url } = await serve(host);
    for (let i = 0; i < 3; i++) expect((await post(`${url}/v2/models/m/infer`, INFER, { connection: 'close' })).status).toBe(200);
    expect(failed).toEqual([]);
  });
});

describe('client disconnects under a canary', () => {
  it("going away while the canary's failure waits for its baseline check cancels the check: it never runs, both versions let go", async () => {
    // v1 hangs on 666, v2 (a 0.5 canary) throws on 7: a failure the baseline is asked about.
    const stable = hangingRuntime({ name: 'stable', hangOn: 666 });
    const canary = hangingRuntime({ name: 'canary', hangOn: -1, throwOn: 7 });
    const host = new ModelHost({ runtimes: { stable: stable.runtime, canary: canary.runtime }, defaults: { batching: false } });
    await host.load('m', { source: FAKE_SOURCE, config: { runtime: 'stable' } });
    await host.deploy('m', 2, { source: FAKE_SOURCE, canary: 0.5, config: { runtime: 'canary' } });
    const failed: RequestFailedEvent[] = [];
    host.on('requestFailed', (e) => failed.push(e));
    const pending = (version: number) => host.status('m').versions.find((v) => v.version === version)!.pending;
    const { url } = await serve(host);
    await host.predict('m', [1]); // v1
    await host.predict('m', [1]); // v2: its probe's known-good input
    await host.predict('m', [1]); // v1's turn: the next unpinned request goes to v2
    const hung = host.predict('m', [666], { version: 1 }); // holds v1's one slot
    await stable.started;
    const runs = stable.state.runs;

    const controller = new AbortController();
    const body = { inputs: [{ name: 'x', shape: [1, 1], datatype: 'FP32', data: [7] }] };
    const abandoned = fetch(`${url}/v2/models/m/infer`, { method: 'POST', body: JSON.stringify(body), signal: controller.signal }).catch((e: unknown) => e);
    await vi.waitFor(() => expect(pending(1)).toBe(2)); // its check, queued behind the hung run
    controller.abort();
    expect(await abandoned).toMatchObject({ name: 'AbortError' });
    await vi.waitFor(() => expect(pending(1)).toBe(1));
    await vi.waitFor(() => expect(pending(2)).toBe(0));
    expect(failed.filter((f) => f.version === 2)).toEqual([expect.objectContaining({ code: ErrorCode.CANCELLED })]);

    stable.release();
    await hung;
    expect(stable.state.runs).toBe(runs); // the check never ran
    expect(failed.filter((f) => f.version === 1)).toEqual([]);
    await host.close();
  });
});

describe('per-request timeout (the timeoutMs option)', () => {
  it('becomes the deadline of each inference: 504 DEADLINE_EXCEEDED, and the queued task leaves the queue', async () => {
    const { host, runtime, failed, queueDepth, release } = await heldHost();
    const { url } = await serve(host, { timeoutMs: 40 });
    const first = post(`${url}/v2/models/m/infer`, INFER);
    await vi.waitFor(() => expect(runtime.runs).toBe(2));
    const second = await post(`${url}/v1/models/m:predict`, { instances: [[1, 2, 3, 4]] });
    expect(second).toMatchObject({ status: 504, body: { error: expect.any(String) } });
    expect((await first).status).toBe(504); // rejected on time, its late result discarded
    expect(failed.map((f) => f.code)).toEqual([ErrorCode.DEADLINE_EXCEEDED, ErrorCode.DEADLINE_EXCEEDED]);
    expect(queueDepth()).toBe(0);
    release();
  });

  it("overrides the model's own timeoutMs; without the option the model's applies", async () => {
    const held = deferred();
    let holding = false; // after both warmups
    const runtime = fakeRuntime({ runGate: () => (holding ? held.promise : Promise.resolve()) });
    const host = new ModelHost({ runtimes: { fake: runtime }, models: { patient: { timeoutMs: 3_600_000 }, hasty: { timeoutMs: 30 } } });
    await host.load('patient', { source: FAKE_SOURCE });
    await host.load('hasty', { source: FAKE_SOURCE });
    holding = true;
    const strict = await serve(host, { timeoutMs: 30 });
    expect((await post(`${strict.url}/v2/models/patient/infer`, INFER)).status).toBe(504); // the option wins over an hour
    const lenient = await serve(host);
    expect((await post(`${lenient.url}/v2/models/hasty/infer`, INFER)).status).toBe(504); // the model's 30 ms
    held.resolve();
  });
});
