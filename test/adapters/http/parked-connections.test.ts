import { connect } from 'node:net';
/**
 * Parked connections over real sockets: while a model's gate already has `concurrency`
 * requests waiting, a keep-alive connection answered for that model is not read again, so its
 * next request stays unparsed until the waiting ones drain; then it is read and served in
 * turn.
 */
import { describe, expect, it, vi } from 'vitest';
import { body, keepAlive, nextOrReset, parkWithRequestUnread, steppedHost, waitingAt } from './parked-helpers.js';
import { post, useServers } from './serve.js';

describe('parked connections (limits.parkConnections)', () => {
  const { serve } = useServers();

  it('does not read a connection again while enough requests wait, then serves its next request in turn', async () => {
    const { host, seen, started, releaseOne } = await steppedHost();
    const metrics = { contentType: 'text/plain', metrics: async () => '' };
    const { url } = await serve(host, { metrics, limits: { concurrency: 1 } });
    const waitingNow = () => waitingAt(url);
    const { a, first, others } = await parkWithRequestUnread(url, { started, releaseOne });
    expect(JSON.parse(first).outputs[0].data).toEqual([3, 3, 3, 3]);
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
      const { a, others } = await parkWithRequestUnread(url, { started, releaseOne });
      // What `modelhost serve` does on SIGTERM: close the server (Node closes idle connections), drain the host.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // It stops accepting at once: only the closing of idle connections waits for the parked.
      expect(server.listening).toBe(false);
      const refused = await new Promise<string>((resolve) => {
        const probe = connect(Number(new URL(url).port), '127.0.0.1');
        probe.once('connect', () => (probe.destroy(), resolve('accepted')));
        probe.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
      });
      expect(refused).toBe('ECONNREFUSED');
      const hostClosed = host.close();
      const answer = nextOrReset(a);
      releaseOne(); // 2 ends; 3 and 4 are answered SHUTTING_DOWN without running
      const text = await answer;
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
      const { a, others } = await parkWithRequestUnread(url, { started, releaseOne });
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      expect(server.listening).toBe(false);
      const hostClosed = host.close();
      const answer = nextOrReset(a);
      releaseOne();
      const text = await answer;
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
