/**
 * The listener's admission gate over real sockets: requests past the in-flight limit wait
 * unread and in order, past the FIFO they are refused on their headers before their body is
 * read, the time waited counts against the deadline, and probes never wait.
 */
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { createHttpHandler } from '../../../src/adapters/http/index.js';
import { ModelHost } from '../../../src/index.js';
import { deferred, FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';
import { post, useServers } from './serve.js';

const infer = (data: number[]) => ({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data }] });

/** A host whose runs wait for `release()`; `runs()` counts runs that started. */
async function heldHost() {
  const gate = deferred();
  const runtime = fakeRuntime({ runGate: () => gate.promise });
  const host = new ModelHost({ runtimes: { fake: runtime }, defaults: { warmup: false } as never });
  await host.load('m', { source: FAKE_SOURCE });
  return { host, runtime, release: () => gate.resolve() };
}

/** Sends the headers and only the start of a body; resolves with the response the server gives anyway. */
function headersOnly(url: string, declared: number, rawPath?: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: { error: string } }> {
  return new Promise((resolve, reject) => {
    // A raw path is sent as it is (a URL string would be normalized by the client first).
    const req = httpRequest(url, { ...(rawPath === undefined ? {} : { path: rawPath }), method: 'POST', headers: { 'content-type': 'application/json', 'content-length': declared } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.write('{"inputs":');
  });
}

describe('admission gate (limits.concurrency)', () => {
  const { serve } = useServers();

  /** A gate of one slot and one waiting place, both taken (1 runs, 2 waits unread): the model's next request is refused. */
  async function fullGate() {
    const { host, runtime, release } = await heldHost();
    const { url } = await serve(host, { limits: { concurrency: 1, maxWaitingRequests: 1 } });
    void post(`${url}/v2/models/m/infer`, infer([1, 1, 1, 1])).catch(() => {});
    await vi.waitFor(() => expect(runtime.batches).toEqual([1]));
    void post(`${url}/v2/models/m/infer`, infer([2, 2, 2, 2])).catch(() => {});
    await new Promise((r) => setTimeout(r, 50));
    return { host, runtime, release, url };
  }

  it('lets limits.concurrency requests in, queues the next unread, and serves them in order when slots free', async () => {
    const { host, runtime, release } = await heldHost();
    const { url } = await serve(host, { limits: { concurrency: 1 } });
    const first = post(`${url}/v2/models/m/infer`, infer([1, 1, 1, 1]));
    await vi.waitFor(() => expect(runtime.batches).toEqual([1]));
    const second = post(`${url}/v2/models/m/infer`, infer([2, 2, 2, 2]));
    // The second waits at the listener: it never reaches the host's queue.
    await new Promise((r) => setTimeout(r, 50));
    expect(host.status('m').versions[0]!.queueDepth).toBe(0);
    release();
    expect((await first).body.outputs[0].data).toEqual([3, 3, 3, 3]);
    expect((await second).body.outputs[0].data).toEqual([5, 5, 5, 5]);
  });

  it('refuses with 429 on its headers, before its body is read, a request past maxWaitingRequests', async () => {
    const { host, runtime, release, url } = await fullGate();
    // Only the start of the body is ever sent: the answer cannot have waited for the rest.
    const refused = await headersOnly(`${url}/v2/models/m/infer`, 1000);
    expect(refused.status).toBe(429);
    // No completion measured yet: the longest a waiter may wait (maxWaitMs, default 5 s).
    expect(refused.headers['retry-after']).toBe('5');
    expect(refused.headers['x-modelhost-error-code']).toBe('QUEUE_FULL');
    expect(refused.body.error).toBe('refused before its body was read: 1 requests are already waiting for this model; retry later');
    // Refused in the listener: the host never saw it (one run, nothing queued).
    expect(runtime.batches).toEqual([1]);
    expect(host.status('m').versions[0]!.queueDepth).toBe(0);
    release();
  });

  it.each(['/v2/models/m/infer/', '/v2/models/./m/infer', '/v2/models/x/../m/infer', '/v2/models/m/infer#f', '/v1/models/m:predict/'])('gates %s, a spelling the handler routes to the same model, like /v2/models/m/infer', async (path) => {
    const { runtime, release, url } = await fullGate();
    const refused = await headersOnly(url, 1000, path);
    expect(refused.status).toBe(429);
    expect(refused.headers['x-modelhost-error-code']).toBe('QUEUE_FULL');
    expect(runtime.batches).toEqual([1]);
    release();
  });

  it('after a 429 on its headers, the connection is not read again before its Retry-After (the next request on it waits)', async () => {
    const { release, url } = await fullGate();
    const socket = connect(Number(new URL(url).port), '127.0.0.1');
    socket.on('error', () => {});
    let received = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => (received += chunk));
    const body = JSON.stringify(infer([3, 3, 3, 3]));
    socket.write(`POST /v2/models/m/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
    await vi.waitFor(() => expect(received).toMatch(/^HTTP\/1.1 429 .*\r\n[^]*retry-after: [1-9]/i));
    received = '';
    socket.write('GET /v2/health/live HTTP/1.1\r\nhost: x\r\n\r\n');
    // Retry-After is at least 1 s: the probe on this connection is still unread after 300 ms.
    await new Promise((r) => setTimeout(r, 300));
    expect(received).toBe('');
    socket.destroy();
    release();
  });

  it('closes the connection of a refused request whose declared body is large (it is not read)', async () => {
    const { release, url } = await fullGate();
    const refused = await headersOnly(`${url}/v2/models/m/infer`, 10 * 1024 * 1024);
    expect(refused.status).toBe(429);
    expect(refused.headers.connection).toBe('close');
    release();
  });

  /**
   * Two connections take both slots of a gate and send one byte of their bodies, then nothing;
   * after `settleMs` a normal request is sent: it must be served (200, its own answer).
   */
  async function normalBehindTricklers(maxWaitMs: number, settleMs: number): Promise<void> {
    const runtime = fakeRuntime();
    const host = new ModelHost({ runtimes: { fake: runtime } });
    await host.load('m', { source: FAKE_SOURCE });
    const { url } = await serve(host, { limits: { concurrency: 2, maxWaitMs } });
    const { port } = new URL(url);
    const slow = [0, 1].map(() => {
      const socket = connect(Number(port), '127.0.0.1');
      socket.on('error', () => {});
      socket.write('POST /v2/models/m/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{');
      return socket;
    });
    try {
      await new Promise((r) => setTimeout(r, settleMs)); // both slow requests admitted first
      const served = await post(`${url}/v2/models/m/infer`, infer([1, 1, 1, 1]));
      expect(served.status, served.text).toBe(200);
      expect(served.body.outputs[0].data).toEqual([3, 3, 3, 3]);
    } finally {
      for (const socket of slow) socket.destroy();
    }
  }

  it('does not let clients that trickle their bodies hold every slot: a normal request behind them is served', async () => {
    await normalBehindTricklers(4000, 100);
  });

  it('gives a trickling body’s slot back well within a short maxWaitMs: the request behind it is served, not refused', async () => {
    // At a slow-body mark of 1 s, 100 connections trickling bodies halved a small model's rate
    // (bench/slow-clients.ts); here the one waiting request would pass maxWaitMs and get 429.
    await normalBehindTricklers(500, 50);
  });

  it('a refusal on a predicted wait past the request deadline names the deadline as its limit, not maxWaitMs', async () => {
    let gate = deferred();
    const runtime = fakeRuntime({ runGate: () => gate.promise });
    const host = new ModelHost({ runtimes: { fake: runtime }, defaults: { warmup: false } as never });
    await host.load('m', { source: FAKE_SOURCE });
    const { url } = await serve(host, { timeoutMs: 1000, limits: { concurrency: 1 } });
    // One request that took at least 400 ms teaches the gate its pace.
    const first = post(`${url}/v2/models/m/infer`, infer([1, 1, 1, 1]));
    await vi.waitFor(() => expect(runtime.batches).toHaveLength(1));
    await new Promise((r) => setTimeout(r, 400));
    gate.resolve();
    expect((await first).status).toBe(200);
    gate = deferred();
    const held = post(`${url}/v2/models/m/infer`, infer([2, 2, 2, 2]));
    await vi.waitFor(() => expect(runtime.batches).toHaveLength(2));
    const waiting = [post(`${url}/v2/models/m/infer`, infer([3, 3, 3, 3])), post(`${url}/v2/models/m/infer`, infer([4, 4, 4, 4]))];
    await new Promise((r) => setTimeout(r, 100));
    // Three ahead at >= 400 ms each: past the 1000 ms deadline (maxWaitMs is 5000).
    const refused = await headersOnly(`${url}/v2/models/m/infer`, 1000);
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatch(/^refused before its body was read: the requests ahead of it need about \d+ ms \(limit the request's deadline, 1000 ms\); retry later$/);
    gate.resolve();
    await Promise.all([held, ...waiting]);
  });

  it('refuses with 429 a request that waited limits.maxWaitMs for admission', async () => {
    const { host, runtime, release } = await heldHost();
    const { url } = await serve(host, { limits: { concurrency: 1, maxWaitMs: 100 } });
    void post(`${url}/v2/models/m/infer`, infer([1, 1, 1, 1])).catch(() => {});
    await vi.waitFor(() => expect(runtime.batches).toEqual([1]));
    const waited = await post(`${url}/v2/models/m/infer`, infer([2, 2, 2, 2]));
    expect(waited.status).toBe(429);
    expect(waited.headers.get('retry-after')).toBe('1');
    expect(waited.body.error).toBe('refused before its body was read: the request waited 100 ms for admission; retry later');
    expect(runtime.batches).toEqual([1]);
    release();
  });

  it('counts the time waited for admission against timeoutMs (KServe and TF Serving)', async () => {
    const { host } = await heldHost();
    const seen: (number | undefined)[] = [];
    const spy = vi.spyOn(host, 'predictBatch').mockImplementation(async (_name, _inputs, options) => {
      seen.push(options?.timeoutMs);
      return { y: { data: new Float32Array(4), shape: [1, 4], dtype: 'float32' } };
    });
    vi.spyOn(host, 'predict').mockImplementation(async (_name, _inputs, options) => {
      seen.push(options?.timeoutMs);
      return { y: { data: new Float32Array(4), shape: [4], dtype: 'float32' } };
    });
    const handle = createHttpHandler(host, { timeoutMs: 200 });
    const request = (url: string, body: unknown, waitedMs?: number) =>
      handle({ method: 'POST', url, headers: {}, body: new TextEncoder().encode(JSON.stringify(body)), signal: new AbortController().signal, ...(waitedMs === undefined ? {} : { waitedMs }) });
    expect((await request('/v2/models/m/infer', infer([1, 2, 3, 4]), 150))?.status).toBe(200);
    expect((await request('/v1/models/m:predict', { instances: [[1, 2, 3, 4]] }, 120))?.status).toBe(200);
    expect((await request('/v2/models/m/infer', infer([1, 2, 3, 4])))?.status).toBe(200);
    expect(seen).toEqual([50, 80, 200]);
    spy.mockRestore();
  });

  it('answers probes, metadata and other models at once while a model’s requests wait for admission', async () => {
    const { host, runtime, release } = await heldHost();
    await host.load('other', { source: FAKE_SOURCE });
    const { url } = await serve(host, { limits: { concurrency: 1 } });
    const waiting = Array.from({ length: 5 }, (_, i) => post(`${url}/v2/models/m/infer`, infer([i, i, i, i])).catch(() => undefined));
    await vi.waitFor(() => expect(runtime.batches).toEqual([1]));
    for (const path of ['/v2/health/live', '/v2/health/ready', '/v2/models/m', '/v1/models/m']) {
      const response = await fetch(`${url}${path}`);
      expect(response.status, path).toBe(200);
    }
    // A gate per model: 'other' has its own slots.
    const other = post(`${url}/v2/models/other/infer`, infer([1, 1, 1, 1])).catch(() => undefined);
    await vi.waitFor(() => expect(runtime.batches).toEqual([1, 1]));
    release();
    await Promise.all([other, ...waiting]);
  });

  it('answers 503 SHUTTING_DOWN at once, without waiting for admission, while the host drains', async () => {
    const { host, runtime, release } = await heldHost();
    const { url } = await serve(host, { limits: { concurrency: 1 } });
    const first = post(`${url}/v2/models/m/infer`, infer([1, 1, 1, 1]));
    await vi.waitFor(() => expect(runtime.batches).toEqual([1]));
    const closing = host.close(); // drains: the held run keeps it draining
    const refused = await post(`${url}/v2/models/m/infer`, infer([2, 2, 2, 2]));
    expect(refused.status).toBe(503);
    expect(refused.headers.get('x-modelhost-error-code')).toBe('SHUTTING_DOWN');
    release();
    expect((await first).status).toBe(200);
    await closing;
  });

  it('does not gate paths of models the host does not serve (they answer 404 at once)', async () => {
    const { host, release } = await heldHost();
    const { url } = await serve(host, { limits: { concurrency: 1, maxWaitingRequests: 1 } });
    for (let i = 0; i < 3; i++) expect((await post(`${url}/v2/models/nope/infer`, infer([1, 1, 1, 1]))).status).toBe(404);
    release();
  });

  it("an adaptive gate never holds a batched model below one full batch in flight (its floor, and the limit it measures the no-load latency at); an unbatched model's floor stays 8", async () => {
    const metrics = { contentType: 'text/plain; version=0.0.4', metrics: async () => '' };
    const limitOf = async (maxBatchSize: number) => {
      const runtime = fakeRuntime();
      const host = new ModelHost({ runtimes: { fake: runtime }, defaults: { batching: { maxBatchSize, maxDelayMs: 0 }, warmup: false } as never });
      await host.load('m', { source: FAKE_SOURCE });
      const { url } = await serve(host, { metrics });
      expect((await post(`${url}/v2/models/m/infer`, infer([1, 2, 3, 4]))).status).toBe(200);
      // The first window measures the no-load latency, at the floor.
      return /modelhost_http_concurrency_limit\{model="m"\} (\d+)\n/.exec(await (await fetch(`${url}/metrics`)).text())?.[1];
    };
    expect(await limitOf(64)).toBe('64');
    expect(await limitOf(20)).toBe('20');
    expect(await limitOf(1)).toBe('8');
    expect(await limitOf(4)).toBe('8');
  });

  it("an adaptive gate follows the floor of the model it serves now: reloaded or rolled to a version with another maxBatchSize, the floor is that version's batch (found by the session-7 review)", async () => {
    const metrics = { contentType: 'text/plain; version=0.0.4', metrics: async () => '' };
    const runtime = fakeRuntime();
    const host = new ModelHost({ runtimes: { fake: runtime }, defaults: { warmup: false } as never });
    const batching = (maxBatchSize: number) => ({ config: { batching: { maxBatchSize, maxDelayMs: 0 } } });
    await host.load('m', { source: FAKE_SOURCE, ...batching(64) });
    const { url } = await serve(host, { metrics });
    const limitNow = async () => {
      expect((await post(`${url}/v2/models/m/infer`, infer([1, 2, 3, 4]))).status).toBe(200);
      return /modelhost_http_concurrency_limit\{model="m"\} (\d+)\n/.exec(await (await fetch(`${url}/metrics`)).text())?.[1];
    };
    expect(await limitNow()).toBe('64');
    // Reloaded with larger batches between two scrapes (the gate is never idle and unserved at a scrape).
    await host.unload('m');
    await host.load('m', { source: FAKE_SOURCE, ...batching(200) });
    expect(await limitNow()).toBe('200');
    // And back to a model that is not batched: the default floor.
    await host.unload('m');
    await host.load('m', { source: FAKE_SOURCE, config: { batching: false } });
    expect(await limitNow()).toBe('8');
  });

  it("an adaptive gate's floor never admits more than the model's queue holds: with queue.maxSize below a batch, the rest wait unread instead of being read and refused by the host (found by the session-7 review)", async () => {
    const gate = deferred();
    const runtime = fakeRuntime({ runGate: () => gate.promise });
    const host = new ModelHost({ runtimes: { fake: runtime }, defaults: { warmup: false, batching: { maxBatchSize: 64, maxDelayMs: 0 }, queue: { maxSize: 8 } } as never });
    await host.load('m', { source: FAKE_SOURCE });
    expect(host.metadata('m').queueMaxSize).toBe(8);
    const { url } = await serve(host);
    const all = Array.from({ length: 30 }, () => post(`${url}/v2/models/m/infer`, infer([1, 1, 1, 1])));
    await vi.waitFor(() => expect(runtime.batches).toHaveLength(1));
    await new Promise((r) => setTimeout(r, 100));
    // The floor is 8 (the queue's size, at least 8), not the batch of 64: 8 in the host (one run, the rest queued), 22 unread at the listener.
    expect(runtime.batches[0]! + host.status('m').versions[0]!.queueDepth).toBe(8);
    gate.resolve();
    // With the 64-row floor, 18 of the 30 were read and refused 429 by the host's full queue.
    expect((await Promise.all(all)).map((r) => r.status)).toEqual(Array.from({ length: 30 }, () => 200));
  });

  it('reports the gate on /metrics: requests waiting unread, in flight and the limit, per model', async () => {
    const { host, runtime, release } = await heldHost();
    const metrics = { contentType: 'text/plain; version=0.0.4', metrics: async () => '# HELP host_own a family of the host\n# TYPE host_own gauge\nhost_own 1\n' };
    const { url } = await serve(host, { metrics, limits: { concurrency: 1 } });
    const scrape = async () => (await (await fetch(`${url}/metrics`)).text());
    // No gate before the first inference request: only the host's families.
    expect(await scrape()).toBe(await metrics.metrics());
    const first = post(`${url}/v2/models/m/infer`, infer([1, 1, 1, 1]));
    await vi.waitFor(() => expect(runtime.batches).toEqual([1]));
    const waiting = [post(`${url}/v2/models/m/infer`, infer([2, 2, 2, 2])), post(`${url}/v2/models/m/infer`, infer([3, 3, 3, 3]))];
    await vi.waitFor(async () => expect(await scrape()).toContain('modelhost_http_requests_waiting{model="m"} 2\n'));
    const text = await scrape();
    expect(text.startsWith(await metrics.metrics())).toBe(true);
    expect(text).toContain('# TYPE modelhost_http_requests_waiting gauge\n');
    expect(text).toContain('modelhost_http_requests_in_flight{model="m"} 1\n');
    expect(text).toContain('modelhost_http_concurrency_limit{model="m"} 1\n');
    release();
    await Promise.all([first, ...waiting]);
    const after = await scrape();
    expect(after).toContain('modelhost_http_requests_waiting{model="m"} 0\n');
    expect(after).toContain('modelhost_http_requests_in_flight{model="m"} 0\n');
  });
});
