/**
 * What clients can make the listener hold: buffered bodies across requests (503), slow
 * bodies (408), large JSON bodies (parsed one per turn, same answers), refused connections
 * held unread until their Retry-After, and the server's own limits (createNodeServer).
 */
import { EventEmitter } from 'node:events';
import { request as httpRequest, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import { createNodeServer, DEFAULT_LIMITS } from '../../../src/adapters/http/index.js';
import { ConnectionHold } from '../../../src/adapters/http/connection-hold.js';
import { resolveLimits } from '../../../src/adapters/http/listener-limits.js';
import { ErrorCode, ModelHost } from '../../../src/index.js';
import { deferred, FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';
import { post, useServers } from './serve.js';

const infer = (data: number[]) => ({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data }] });

async function fakeHost(options: ConstructorParameters<typeof ModelHost>[0] = {}, runtime = fakeRuntime()): Promise<ModelHost> {
  const host = new ModelHost({ ...options, runtimes: { fake: runtime } });
  await host.load('m', { source: FAKE_SOURCE });
  return host;
}

/** A POST whose body is only partly sent; resolves with the response the server gives anyway. */
function partialPost(url: string, declared: number, sent: string): Promise<{ status: number; text: string; connection: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': declared } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, text, connection: res.headers.connection }));
    });
    req.on('error', reject);
    req.write(sent);
  });
}

describe('listener limits', () => {
  const { serve, track } = useServers();

  it('answers a body that stops arriving with 408 after bodyTimeoutMs and closes the connection', async () => {
    const { url } = await serve(await fakeHost(), { limits: { bodyTimeoutMs: 50 } });
    const response = await partialPost(`${url}/v2/models/m/infer`, 1000, '{"inputs":');
    expect(response).toMatchObject({ status: 408, connection: 'close' });
    expect(JSON.parse(response.text)).toEqual({ error: 'the request body did not arrive within 50 ms' });
    expect((await post(`${url}/v2/models/m/infer`, infer([1, 2, 3, 4]))).status).toBe(200);
  });

  it('refuses with 503 and Retry-After a body that would pass maxBufferedBytes across requests, and frees the bytes after', async () => {
    const { url } = await serve(await fakeHost(), { limits: { maxBufferedBytes: 300, bodyTimeoutMs: 5000 } });
    // One request holds 250 bytes of an unfinished body…
    const holding = partialPost(`${url}/v2/models/m/infer`, 400, 'x'.repeat(250));
    await vi.waitFor(async () => {
      const refused = await post(`${url}/v2/models/m/infer`, infer([1, 2, 3, 4]));
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('1');
      expect(refused.body).toEqual({ error: 'the server holds its limit of request bodies (300 bytes); retry later' });
    });
    void holding.catch(() => {});
  });

  it('serves requests again once buffered bodies are answered (bytes are given back)', async () => {
    const { url } = await serve(await fakeHost(), { limits: { maxBufferedBytes: 200 } });
    const body = infer([1, 2, 3, 4]);
    expect(JSON.stringify(body).length).toBeLessThan(200);
    for (let i = 0; i < 20; i++) expect((await post(`${url}/v2/models/m/infer`, body)).status).toBe(200);
  });

  it('parses a large JSON body itself and answers as for a small one, including invalid JSON', async () => {
    const { url } = await serve(await fakeHost(), { limits: { largeBodyBytes: 10 } });
    const ok = await post(`${url}/v2/models/m/infer`, infer([1, 2, 3, 4]));
    expect(ok.status).toBe(200);
    expect(ok.body.outputs[0].data).toEqual([3, 5, 7, 9]);
    const bad = await post(`${url}/v2/models/m/infer`, '{"inputs": [1, 2,');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/^the request body is not valid JSON: /);
  });

  it('holds a connection unread after a 429 (QUEUE_FULL) until its Retry-After', async () => {
    const gate = deferred();
    const runtime = fakeRuntime({ runGate: () => gate.promise });
    const host = await fakeHost({ defaults: { queue: { maxSize: 1 }, warmup: false } as never }, runtime);
    const served = await serve(host);
    const sockets: Socket[] = [];
    served.server.on('connection', (socket) => sockets.push(socket));
    onTestFinished(() => gate.resolve());
    const running = post(`${served.url}/v2/models/m/infer`, infer([1, 1, 1, 1]));
    await vi.waitFor(() => expect(runtime.batches.length).toBeGreaterThan(0));
    const queued = post(`${served.url}/v2/models/m/infer`, infer([2, 2, 2, 2]));
    await vi.waitFor(() => expect(host.status('m').versions[0]!.queueDepth).toBe(1));
    const refused = await post(`${served.url}/v2/models/m/infer`, infer([3, 3, 3, 3]));
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // The refused request's server-side socket is paused; the others read on.
    await vi.waitFor(() => expect(sockets.filter((s) => s.isPaused())).toHaveLength(1));
    gate.resolve();
    expect((await running).status).toBe(200);
    expect((await queued).status).toBe(200);
    track(host);
  });
});

describe('ConnectionHold', () => {
  afterEach(() => void vi.useRealTimers());

  function fakeSocket() {
    const socket = Object.assign(new EventEmitter(), { destroyed: false, paused: false, pause: vi.fn(), resume: vi.fn() });
    socket.pause.mockImplementation(() => void (socket.paused = true));
    socket.resume.mockImplementation(() => void (socket.paused = false));
    return socket;
  }

  it('pauses the socket and resumes it after the given time, once', () => {
    vi.useFakeTimers();
    const hold = new ConnectionHold();
    const socket = fakeSocket();
    hold.hold(socket as unknown as Socket, 1000);
    hold.hold(socket as unknown as Socket, 1000);
    expect(socket.paused).toBe(true);
    expect(hold.size).toBe(1);
    vi.advanceTimersByTime(999);
    expect(socket.resume).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(socket.resume).toHaveBeenCalledTimes(1);
    expect(hold.size).toBe(0);
  });

  it('forgets a socket that closes while held, without resuming it', () => {
    vi.useFakeTimers();
    const hold = new ConnectionHold();
    const socket = fakeSocket();
    hold.hold(socket as unknown as Socket, 1000);
    socket.destroyed = true;
    socket.emit('close');
    expect(hold.size).toBe(0);
    vi.advanceTimersByTime(2000);
    expect(socket.resume).not.toHaveBeenCalled();
  });
});

describe('limits options and createNodeServer', () => {
  it('defaults are tighter than Node’s and every one can be set', () => {
    expect(resolveLimits()).toEqual(DEFAULT_LIMITS);
    expect(resolveLimits({ maxConnections: 10, holdRefusedConnections: false })).toMatchObject({ maxConnections: 10, holdRefusedConnections: false, bodyTimeoutMs: 30_000 });
    expect(resolveLimits({ concurrency: 64, maxWaitingRequests: 10 })).toMatchObject({ concurrency: 64, maxWaitingRequests: 10, maxWaitMs: 5000 });
    expect(DEFAULT_LIMITS).toMatchObject({ concurrency: 'adaptive', maxWaitingRequests: 4096, maxWaitMs: 5000 });
  });

  it.each([
    [{ maxConnections: 0 }, 'limits.maxConnections must be an integer ≥ 1, got 0'],
    [{ bodyTimeoutMs: 1.5 }, 'limits.bodyTimeoutMs must be an integer from 1 to 2147483647, got 1.5'],
    [{ holdRefusedConnections: 'yes' }, 'limits.holdRefusedConnections must be a boolean, got yes'],
    [{ concurrency: 'auto' }, "limits.concurrency must be an integer ≥ 1 or 'adaptive', got auto"],
    [{ concurrency: 0 }, "limits.concurrency must be an integer ≥ 1 or 'adaptive', got 0"],
    [{ maxWaitMs: -1 }, 'limits.maxWaitMs must be an integer from 1 to 2147483647, got -1'],
    [{ maxBodies: 3 }, /limits.maxBodies is not a listener limit \(expected one of maxBufferedBytes, /],
    [{ toString: 3 }, /limits.toString is not a listener limit/],
  ])('refuses %j', (limits, message) => {
    expect(() => resolveLimits(limits as never)).toThrow(message);
    // INVALID_CONFIG, as every other option (DESIGN §8); it was a bare TypeError.
    expect(() => resolveLimits(limits as never)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_CONFIG }));
  });

  it('refuses limits that are not an object', () => {
    expect(() => resolveLimits(5 as never)).toThrow('limits must be an object, got 5');
  });

  it('applies the server limits to the node:http server it makes', async () => {
    const host = await fakeHost();
    const server: Server = createNodeServer(host, { limits: { maxConnections: 2, headersTimeoutMs: 2000, bodyTimeoutMs: 3000, keepAliveTimeoutMs: 1500 } });
    expect(server.maxConnections).toBe(2);
    expect(server.headersTimeout).toBe(2000);
    expect(server.requestTimeout).toBe(2000 + 3000 + 1000);
    expect(server.keepAliveTimeout).toBe(1500);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const ok = await post(`http://127.0.0.1:${port}/v2/models/m/infer`, infer([1, 2, 3, 4]));
    expect(ok.status).toBe(200);
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await host.destroy();
  });
});
