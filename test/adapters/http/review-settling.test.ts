/**
 * Review of the listener's callback request path: every admitted request gives its slot
 * back, including requests pipelined on a connection the client closes. Node emits 'close'
 * only on the response the socket is writing; a pipelined request's response waits in the
 * server's queue and never emits it, so its slot must be freed by the connection's close.
 */
import { getEventListeners } from 'node:events';
import { Agent, request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import express from 'express';
import supertest from 'supertest';
import { describe, expect, it } from 'vitest';
import { createExpressRouter } from '../../../src/adapters/express/index.js';
import { ModelHost } from '../../../src/index.js';
import { deferred, FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';
import { requestSignal } from '../../../src/adapters/http/connection-signal.js';
import { useServers } from './serve.js';

const body = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] });
const infer = `POST /v2/models/m/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`;
const metrics = { contentType: 'text/plain; version=0.0.4', metrics: async () => '' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Writes `text` on a new connection, waits `ms`, closes it; resolves to what the server sent. */
function sendAndLeave(port: number, text: string, ms: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.setEncoding('latin1').on('data', (c: string) => (received += c));
    socket.on('error', () => {});
    socket.write(text);
    setTimeout(() => {
      socket.destroy();
      resolve(received);
    }, ms);
  });
}

describe('review: a connection closed with pipelined requests in it', () => {
  const { serve } = useServers();

  async function heldModel(limits: Record<string, unknown>) {
    const run = deferred();
    let held = false;
    const host = new ModelHost({ runtimes: { fake: fakeRuntime({ runGate: () => (held ? run.promise : Promise.resolve()) }) }, defaults: { batching: false } });
    await host.load('m', { source: FAKE_SOURCE });
    held = true;
    const { url } = await serve(host, { metrics, limits: { maxWaitMs: 5000, ...limits } as never });
    const gauge = async (name: string) => Number(new RegExp(`modelhost_http_requests_${name}\\{model="m"\\} (\\d+)`).exec(await (await fetch(`${url}/metrics`)).text())?.[1]);
    return { url, port: Number(new URL(url).port), gauge, release: () => ((held = false), run.resolve()) };
  }

  it('gives back the slots of the admitted requests behind the one being answered', async () => {
    const { url, port, gauge, release } = await heldModel({ concurrency: 3 });
    await sendAndLeave(port, infer + infer + infer, 150);
    release();
    await sleep(100);
    expect(await gauge('in_flight')).toBe(0);
    // All three slots are free: three requests at once are served, none waits or is refused.
    const statuses = await Promise.all([1, 2, 3].map(() => fetch(`${url}/v2/models/m/infer`, { method: 'POST', body, headers: { 'content-type': 'application/json' } }).then((r) => r.status)));
    expect(statuses).toEqual([200, 200, 200]);
    expect(await gauge('in_flight')).toBe(0);
  });

  it('gives back the buffered-body budget of the pipelined requests', async () => {
    const budget = 3 * body.length + 10;
    const { url, port, release } = await heldModel({ concurrency: 3, maxBufferedBytes: budget });
    await sendAndLeave(port, infer + infer + infer, 150);
    release();
    await sleep(100);
    // A body that needs nearly the whole budget is read: nothing of the closed connection's is still counted.
    const padded = body + ' '.repeat(budget - 5 - body.length);
    const response = await fetch(`${url}/v2/models/m/infer`, { method: 'POST', body: padded, headers: { 'content-type': 'application/json' } });
    expect(response.status).toBe(200);
  });

  it('a pipelined request waiting for admission leaves the queue when its connection closes', async () => {
    const { port, gauge, release } = await heldModel({ concurrency: 1 });
    // One running from another connection holds the only slot; the pipelined ones wait at the gate.
    const first = sendAndLeave(port, infer, 400);
    await sleep(50);
    await sendAndLeave(port, infer + infer, 100);
    await sleep(50);
    expect(await gauge('waiting')).toBe(0);
    release();
    await first;
    await sleep(100);
    expect(await gauge('in_flight')).toBe(0);
    expect(await gauge('waiting')).toBe(0);
  });

  it('1000 requests of every outcome on one kept-alive connection: the answers in order, no listener left on the socket or its signal', async () => {
    const host = new ModelHost({ runtimes: { fake: fakeRuntime() }, defaults: { batching: false } });
    await host.load('m', { source: FAKE_SOURCE });
    const { url, server } = await serve(host, { metrics, bodyLimitBytes: 512, limits: { concurrency: 2 } });
    const sockets: Socket[] = [];
    server.on('connection', (socket) => sockets.push(socket));
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const send = (path: string, payload?: string) =>
      new Promise<number>((resolve, reject) => {
        const req = httpRequest(`${url}${path}`, { agent, method: payload === undefined ? 'GET' : 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        });
        req.on('error', reject);
        req.end(payload);
      });
    const kinds: [string, string | undefined, number][] = [
      ['/v2/models/m/infer', body, 200],
      ['/v2/models/m/infer', '{"inputs": [', 400],
      ['/v2/health/live', undefined, 200],
      ['/v2/models/zz/infer', body, 404],
      ['/v1/models/m:predict', JSON.stringify({ instances: [[1, 2, 3, 4]] }), 200],
    ];
    expect(await send('/v2/models/m/infer', body)).toBe(200);
    const listenersOf = (socket: Socket) => socket.eventNames().map((e) => `${String(e)}:${socket.listenerCount(e)}`).join(' ');
    const before = listenersOf(sockets[0]!);
    const signal = requestSignal({ socket: sockets[0] } as never, {} as never);
    const onSignal = getEventListeners(signal, 'abort').length;
    for (let i = 0; i < 1000; i++) {
      const [path, payload, status] = kinds[i % kinds.length]!;
      expect(await send(path, payload)).toBe(status);
    }
    expect(sockets).toHaveLength(1);
    expect(listenersOf(sockets[0]!)).toBe(before);
    // What the host keeps on the connection's signal after one request, nothing per request.
    expect(getEventListeners(signal, 'abort')).toHaveLength(onSignal);
    expect(await (await fetch(`${url}/metrics`)).text()).toMatch(/modelhost_http_requests_in_flight\{model="m"\} 0\n/);
    agent.destroy();
  });
});

describe('review: behind a middleware that read the body to its end and kept it elsewhere', () => {
  const { track } = useServers();

  async function appServing(timeoutMs: number) {
    const host = track(new ModelHost({ runtimes: { fake: fakeRuntime() }, defaults: { batching: false } }));
    await host.load('m', { source: FAKE_SOURCE });
    const app = express();
    // A raw-body capture (for a signature check, say) that leaves req.body unset.
    app.use((req, _res, next) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        (req as { rawBody?: Buffer }).rawBody = Buffer.concat(chunks);
        next();
      });
    });
    app.use(createExpressRouter(host, { limits: { bodyTimeoutMs: timeoutMs } }));
    return supertest(app);
  }

  it('a request with a body is answered 500 naming the cause at once, not a 408 blaming the client after bodyTimeoutMs', async () => {
    const agent = await appServing(60_000);
    const response = await agent.post('/v2/models/m/infer').set('content-type', 'application/json').send(body).timeout(5000);
    expect(response.status).toBe(500);
    expect(response.body.error).toMatch(/the request body was read before modelhost received the request/);
  });

  it('a request without a body is served as one', async () => {
    const agent = await appServing(60_000);
    const response = await agent.post('/v2/repository/index').timeout(5000);
    expect(response.status).toBe(200);
    expect(response.body).toEqual([expect.objectContaining({ name: 'm' })]);
  });
});
