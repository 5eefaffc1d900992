/**
 * Parked connections over real sockets: while a model's gate already has `concurrency`
 * requests waiting, a keep-alive connection answered for that model is not read again, so its
 * next request stays unparsed until the waiting ones drain; then it is read and served in
 * turn.
 */
import { get } from 'node:http';
import { connect, type Socket } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { ModelHost } from '../../../src/index.js';
import { affine, deferred, FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';
import { post, useServers } from './serve.js';

const body = (v: number) => JSON.stringify({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [v, v, v, v] }] });

/** A host whose runs each wait for their own `releaseOne()`; `seen` lists each run's first input value. */
async function steppedHost() {
  const gates: { resolve: () => void }[] = [];
  const seen: number[] = [];
  let runs = 0;
  const runtime = fakeRuntime({
    runGate: () => {
      const gate = deferred();
      runs++;
      gates.push(gate);
      return gate.promise;
    },
    compute: (inputs) => (seen.push((inputs['x']!.data as Float32Array)[0]!), affine(inputs)),
  });
  const host = new ModelHost({ runtimes: { fake: runtime }, defaults: { warmup: false, batching: false } as never });
  await host.load('m', { source: FAKE_SOURCE });
  return { host, runtime, seen, started: () => runs, releaseOne: () => gates.shift()!.resolve() };
}

/**
 * The gate's waiting gauge, scraped on a connection of its own: a pooled one may be parked
 * (any request on a parked connection waits until it is resumed, at most 1 s).
 */
function waitingAt(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    get(`${url}/metrics`, { agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => resolve(Number(/modelhost_http_requests_waiting\{model="m"\} (\d+)/.exec(text)![1])));
    }).on('error', reject);
  });
}

/** One keep-alive connection that sends a request and hands back each response's body. */
function keepAlive(url: string): { send(v: number): void; next(): Promise<string>; socket: Socket } {
  const { port } = new URL(url);
  const socket = connect({ host: '127.0.0.1', port: Number(port) });
  socket.on('error', () => {}); // a connection closed with a request unread is reset
  const bodies: string[] = [];
  const waiting: ((text: string) => void)[] = [];
  let buffered = '';
  socket.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    for (;;) {
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = Number(/content-length: (\d+)/i.exec(buffered.slice(0, end))![1]);
      if (buffered.length < end + 4 + length) return;
      const text = buffered.slice(end + 4, end + 4 + length);
      buffered = buffered.slice(end + 4 + length);
      const reader = waiting.shift();
      if (reader !== undefined) reader(text);
      else bodies.push(text);
    }
  });
  return {
    socket,
    send: (v) => socket.write(`POST /v2/models/m/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body(v).length}\r\n\r\n${body(v)}`),
    next: () => (bodies.length > 0 ? Promise.resolve(bodies.shift()!) : new Promise((resolve) => waiting.push(resolve))),
  };
}

describe('parked connections (limits.parkConnections)', () => {
  const { serve } = useServers();

  it('does not read a connection again while enough requests wait, then serves its next request in turn', async () => {
    const { host, seen, started, releaseOne } = await steppedHost();
    const metrics = { contentType: 'text/plain', metrics: async () => '' };
    const { url } = await serve(host, { metrics, limits: { concurrency: 1 } });
    const waitingNow = () => waitingAt(url);
    const a = keepAlive(url);
    a.send(1);
    await vi.waitFor(() => expect(started()).toBe(1));
    const others = [post(`${url}/v2/models/m/infer`, JSON.parse(body(2))), post(`${url}/v2/models/m/infer`, JSON.parse(body(3)))];
    await vi.waitFor(async () => expect(await waitingNow()).toBe(2));
    releaseOne(); // a's first answer: two requests wait, so a is parked
    expect(JSON.parse(await a.next()).outputs[0].data).toEqual([3, 3, 3, 3]);
    a.send(4); // on the parked connection: stays in the socket buffer
    await vi.waitFor(() => expect(started()).toBe(2)); // 2 admitted
    await new Promise((r) => setTimeout(r, 50));
    expect(await waitingNow()).toBe(1); // 3 only: 4 was not read
    releaseOne(); // 2 answered; 3 admitted; nothing parsed waits, so a is resumed and 4 is read
    await vi.waitFor(() => expect(started()).toBe(3));
    await vi.waitFor(async () => expect(await waitingNow()).toBe(1));
    releaseOne();
    await vi.waitFor(() => expect(started()).toBe(4));
    releaseOne();
    expect(JSON.parse(await a.next()).outputs[0].data).toEqual([9, 9, 9, 9]);
    expect((await Promise.all(others)).map((r) => r.status)).toEqual([200, 200]);
    expect(seen).toEqual([1, 2, 3, 4]); // arrival order kept
    a.socket.destroy();
  });

  it('with parkConnections: false reads the next request at once (it waits parsed in the gate)', async () => {
    const { host, started, releaseOne } = await steppedHost();
    const metrics = { contentType: 'text/plain', metrics: async () => '' };
    const { url } = await serve(host, { metrics, limits: { concurrency: 1, parkConnections: false } });
    const waitingNow = () => waitingAt(url);
    const a = keepAlive(url);
    a.send(1);
    await vi.waitFor(() => expect(started()).toBe(1));
    const others = [post(`${url}/v2/models/m/infer`, JSON.parse(body(2))), post(`${url}/v2/models/m/infer`, JSON.parse(body(3)))];
    await vi.waitFor(async () => expect(await waitingNow()).toBe(2));
    releaseOne();
    await a.next();
    a.send(4);
    await vi.waitFor(async () => expect(await waitingNow()).toBe(2)); // 3 and 4
    for (let i = 0; i < 3; i++) {
      await vi.waitFor(() => expect(started()).toBe(i + 2));
      releaseOne();
    }
    await a.next();
    await Promise.all(others);
    a.socket.destroy();
  });

  it('a parked connection has no request in progress: a shutdown closes it as idle', async () => {
    const { host, started, releaseOne } = await steppedHost();
    const metrics = { contentType: 'text/plain', metrics: async () => '' };
    const served = await serve(host, { metrics, limits: { concurrency: 1 } });
    const a = keepAlive(served.url);
    a.send(1);
    await vi.waitFor(() => expect(started()).toBe(1));
    const others = [post(`${served.url}/v2/models/m/infer`, JSON.parse(body(2))), post(`${served.url}/v2/models/m/infer`, JSON.parse(body(3)))];
    await vi.waitFor(async () => expect(await waitingAt(served.url)).toBe(2));
    releaseOne();
    await a.next();
    a.send(4); // parked: unread
    const closed = new Promise<void>((resolve) => a.socket.once('close', () => resolve()));
    served.server.closeIdleConnections(); // what `serve` does while it drains
    await closed; // closed, not left open and unread
    releaseOne();
    await vi.waitFor(() => expect(started()).toBe(3));
    releaseOne();
    expect((await Promise.all(others)).map((r) => r.status)).toEqual([200, 200]);
  });
});

describe('parked connections at shutdown', () => {
  it("createNodeServer's close() reads the request waiting on a parked connection: it is answered, not reset", async () => {
    const { createNodeServer } = await import('../../../src/adapters/http/node-server.js');
    const { host, started, releaseOne } = await steppedHost();
    const metrics = { contentType: 'text/plain', metrics: async () => '' };
    const server = createNodeServer(host, { metrics, limits: { concurrency: 1 } });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      const a = keepAlive(url);
      a.send(1);
      await vi.waitFor(() => expect(started()).toBe(1));
      const others = [post(`${url}/v2/models/m/infer`, JSON.parse(body(2))), post(`${url}/v2/models/m/infer`, JSON.parse(body(3)))];
      await vi.waitFor(async () => expect(await waitingAt(url)).toBe(2));
      releaseOne();
      await a.next();
      a.send(4); // parked: unread
      await new Promise((r) => setTimeout(r, 50));
      // What `modelhost serve` does on SIGTERM: close the server (Node closes idle connections), drain the host.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      const hostClosed = host.close();
      const answer = a.next();
      releaseOne(); // 2 ends; 3 and 4 are answered SHUTTING_DOWN without running
      const text = await Promise.race([answer, new Promise<string>((resolve) => a.socket.once('close', () => resolve('reset')))]);
      expect(text).not.toBe('reset');
      expect(JSON.parse(text)).toMatchObject({ error: expect.stringContaining('shutting down') });
      expect((await Promise.all(others)).map((r) => r.status)).toEqual([200, 503]);
      await hostClosed;
      a.socket.destroy();
      await closed;
    } finally {
      server.closeAllConnections();
    }
  });
});

describe('parked connections at shutdown behind Express', () => {
  it('resumeParkedOnClose(server, router) answers the request waiting on a parked connection', async () => {
    const { default: express } = await import('express');
    const { createServer } = await import('node:http');
    const { createExpressRouter } = await import('../../../src/adapters/express/index.js');
    const { resumeParkedOnClose } = await import('../../../src/adapters/http/index.js');
    const { host, started, releaseOne } = await steppedHost();
    const metrics = { contentType: 'text/plain', metrics: async () => '' };
    const router = createExpressRouter(host, { metrics, limits: { concurrency: 1 } });
    const server = resumeParkedOnClose(createServer(express().use(router)), router);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      const a = keepAlive(url);
      a.send(1);
      await vi.waitFor(() => expect(started()).toBe(1));
      const others = [post(`${url}/v2/models/m/infer`, JSON.parse(body(2))), post(`${url}/v2/models/m/infer`, JSON.parse(body(3)))];
      await vi.waitFor(async () => expect(await waitingAt(url)).toBe(2));
      releaseOne();
      await a.next();
      a.send(4); // parked: unread
      await new Promise((r) => setTimeout(r, 50));
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      const hostClosed = host.close();
      const answer = a.next();
      releaseOne();
      const text = await Promise.race([answer, new Promise<string>((resolve) => a.socket.once('close', () => resolve('reset')))]);
      expect(text).not.toBe('reset');
      expect(JSON.parse(text)).toMatchObject({ error: expect.stringContaining('shutting down') });
      await Promise.all(others);
      await hostClosed;
      a.socket.destroy();
      await closed;
    } finally {
      server.closeAllConnections();
    }
  });
});
