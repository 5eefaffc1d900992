/**
 * Review of the listener under HTTP/1.1 pipelining and consumed bodies, over real sockets:
 * requests queued behind the one being answered, connections closed at each moment, and
 * bodies read by other middleware. Every request settles once; the admission gauges and the
 * body budget come back to zero.
 */
import { getEventListeners } from 'node:events';
import { connect, type Socket } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { ModelHost } from '../../../src/index.js';
import { SignalGroup } from '../../../src/scheduler/abort-watch.js';
import { requestSignal } from '../../../src/adapters/http/connection-signal.js';
import { deferred, FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';
import { createNodeServer } from '../../../src/adapters/http/index.js';
import { useServers } from './serve.js';

const metrics = { contentType: 'text/plain; version=0.0.4', metrics: async () => '' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const bodyOf = (v: number) => JSON.stringify({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [v, v, v, v] }] });
const inferText = (v: number, extra = '') => {
  const body = bodyOf(v);
  return `POST /v2/models/m/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n${extra}\r\n${body}`;
};

/** A raw connection (`text` written on it first): what the server sent so far, and a way to wait for `n` complete responses. */
function rawConnection(port: number, text?: string) {
  const socket = connect(port, '127.0.0.1');
  if (text !== undefined) socket.write(text);
  let received = '';
  const waiters: (() => void)[] = [];
  socket.setEncoding('latin1').on('data', (c: string) => {
    received += c;
    for (const w of waiters.splice(0)) w();
  });
  socket.on('error', () => {});
  const closed = new Promise<void>((r) => socket.on('close', () => r()));
  return {
    socket,
    closed,
    get received() {
      return received;
    },
    /** Resolves once `n` responses (status lines) are in, or the connection closes. */
    async responses(n: number): Promise<string[]> {
      for (;;) {
        const parts = splitResponses(received);
        if (parts.length >= n || socket.destroyed) return parts;
        await Promise.race([new Promise<void>((r) => waiters.push(r)), closed]);
      }
    },
  };
}

/** Complete responses in `text` (each with a content-length). */
function splitResponses(text: string): string[] {
  const out: string[] = [];
  let at = 0;
  for (;;) {
    const head = text.indexOf('\r\n\r\n', at);
    if (head < 0) return out;
    const length = Number(/content-length: (\d+)/i.exec(text.slice(at, head))?.[1] ?? 0);
    if (text.length < head + 4 + length) return out;
    out.push(text.slice(at, head + 4 + length));
    at = head + 4 + length;
  }
}

describe('review: pipelined requests', () => {
  const { serve } = useServers();

  async function heldModel(limits: Record<string, unknown>, options: Record<string, unknown> = {}) {
    let gate = deferred();
    let held = false;
    const host = new ModelHost({ runtimes: { fake: fakeRuntime({ runGate: () => (held ? gate.promise : Promise.resolve()) }) }, defaults: { batching: false } });
    await host.load('m', { source: FAKE_SOURCE });
    held = true;
    const served = await serve(host, { metrics, ...options, limits: { maxWaitMs: 5000, ...limits } as never });
    const gauge = async (name: string) => Number(new RegExp(`modelhost_http_requests_${name}\\{model="m"\\} (-?\\d+)`).exec(await (await fetch(`${served.url}/metrics`)).text())?.[1]);
    return {
      host,
      ...served,
      port: Number(new URL(served.url).port),
      gauge,
      hold: () => ((held = true), (gate = deferred())),
      release: () => ((held = false), gate.resolve()),
    };
  }

  it('a request waiting for admission behind the one being answered, on a connection closed while that one runs: the gate counts it once', async () => {
    const { port, url, gauge, release } = await heldModel({ concurrency: 1 });
    const conn = rawConnection(port, inferText(1) + inferText(2));
    await sleep(100);
    expect(await gauge('in_flight')).toBe(1);
    expect(await gauge('waiting')).toBe(1);
    conn.socket.destroy();
    await conn.closed;
    await sleep(50);
    expect(await gauge('waiting')).toBe(0);
    release();
    await sleep(50);
    expect(await gauge('in_flight')).toBe(0);
    // The model still admits: a request now is served at once.
    const response = await fetch(`${url}/v2/models/m/infer`, { method: 'POST', body: bodyOf(3), headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(2000) });
    expect(response.status).toBe(200);
    expect(await gauge('waiting')).toBe(0);
    expect(await gauge('in_flight')).toBe(0);
  });

  it.each([3, 1, 'adaptive'])('1000 requests of every outcome pipelined at once on one connection (concurrency %s): all answered, in order, each its own answer; nothing left held', async (concurrency) => {
    const budget = 4000;
    const { port, url, gauge, release, server } = await heldModel({ concurrency, maxBufferedBytes: budget });
    release();
    const sockets: Socket[] = [];
    server.on('connection', (socket) => sockets.push(socket));
    const conn = rawConnection(port);
    const expected: ((response: string) => void)[] = [];
    let text = '';
    for (let i = 0; i < 1000; i++) {
      switch (i % 5) {
        case 0:
        case 1:
          text += inferText(i);
          expected.push((r) => {
            expect(r).toMatch(/^HTTP\/1\.1 200 /);
            const y = 2 * i + 1;
            expect(JSON.parse(r.slice(r.indexOf('\r\n\r\n') + 4)).outputs[0].data).toEqual([y, y, y, y]);
          });
          break;
        case 2:
          text += 'GET /v2/health/live HTTP/1.1\r\nhost: x\r\n\r\n';
          expected.push((r) => expect(r).toMatch(/^HTTP\/1\.1 200 /));
          break;
        case 3:
          text += `POST /v2/models/m/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 12\r\n\r\n{"inputs": [`;
          expected.push((r) => expect(r).toMatch(/^HTTP\/1\.1 400 /));
          break;
        default: {
          const predict = `{"instances":[[${i % 10},0,0,0]]}`;
          text += `POST /v1/models/m:predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${predict.length}\r\n\r\n${predict}`;
          expected.push((r) => {
            expect(r).toMatch(/^HTTP\/1\.1 200 /);
            expect(JSON.parse(r.slice(r.indexOf('\r\n\r\n') + 4)).predictions).toEqual([[2 * (i % 10) + 1, 1, 1, 1]]);
          });
        }
      }
    }
    conn.socket.write(text);
    const responses = await conn.responses(1000);
    expect(responses).toHaveLength(1000);
    responses.forEach((r, i) => expected[i]!(r));
    expect(sockets).toHaveLength(1);
    const signal = requestSignal({ socket: sockets[0] } as never, {} as never);
    // Only the host's one lingering listener per signal (swept later; src/scheduler/abort-watch.ts), carrying no task.
    const left = getEventListeners(signal, 'abort');
    expect(left.length).toBeLessThanOrEqual(1);
    for (const listener of left) expect(listener).toBeInstanceOf(SignalGroup);
    for (const listener of left) expect((listener as unknown as SignalGroup).tasks.size).toBe(0);
    expect(await gauge('in_flight')).toBe(0);
    expect(await gauge('waiting')).toBe(0);
    conn.socket.destroy();
    // The budget is whole again: a body of nearly all of it is read.
    const padded = bodyOf(1) + ' '.repeat(budget - 10 - bodyOf(1).length);
    const response = await fetch(`${url}/v2/models/m/infer`, { method: 'POST', body: padded, headers: { 'content-type': 'application/json' } });
    expect(response.status).toBe(200);
  });

  describe('a connection closed at each moment of its pipelined requests: slots, waits and the body budget back to exactly zero', () => {
    const budget = 3000;

    /** A model whose every run waits for its own `runs[i].resolve()`. */
    async function stepModel(concurrency: number, maxWaitingRequests = 4096) {
      const runs: ReturnType<typeof deferred<void>>[] = [];
      let stepping = false;
      const runGate = () => {
        if (!stepping) return Promise.resolve();
        const d = deferred<void>();
        runs.push(d);
        return d.promise;
      };
      const host = new ModelHost({ runtimes: { fake: fakeRuntime({ runGate }) }, defaults: { batching: false } });
      await host.load('m', { source: FAKE_SOURCE });
      stepping = true;
      const served = await serve(host, { metrics, bodyLimitBytes: 2 * budget, limits: { concurrency, maxWaitMs: 5000, maxBufferedBytes: budget, maxWaitingRequests } });
      const port = Number(new URL(served.url).port);
      // No gauge yet: no inference request reached the listener (a gate is made by the first, and forgotten only at rest).
      const gauge = async (name: string) => Number(new RegExp(`modelhost_http_requests_${name}\\{model="m"\\} (-?\\d+)`).exec(await (await fetch(`${served.url}/metrics`)).text())?.[1] ?? 0);
      const post = (text: string) => fetch(`${served.url}/v2/models/m/infer`, { method: 'POST', body: text, headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(3000) });
      /** Every run released from now on; then nothing is held: no slot, no wait, not a byte more or less of the budget. */
      const atBaseline = async () => {
        for (const d of runs.splice(0)) d.resolve();
        const release = setInterval(() => runs.splice(0).forEach((d) => d.resolve()), 5);
        try {
          await expect.poll(() => gauge('in_flight')).toBe(0);
          expect(await gauge('waiting')).toBe(0);
          const fill = (n: number) => bodyOf(1) + ' '.repeat(n - bodyOf(1).length);
          expect((await post(fill(budget - 10))).status).toBe(200);
          expect((await post(fill(budget + 10))).status).toBe(503);
          // As many at once as there are slots and places to wait are all served: every slot and place is free.
          const at = Math.min(3, concurrency + maxWaitingRequests);
          expect((await Promise.all(Array.from({ length: at }, () => post(bodyOf(2))))).map((r) => r.status)).toEqual(Array(at).fill(200));
          expect(await gauge('in_flight')).toBe(0);
          expect(await gauge('waiting')).toBe(0);
        } finally {
          clearInterval(release);
        }
      };
      return { ...served, port, runs, gauge, atBaseline };
    }

    const half = (v: number) => inferText(v).slice(0, inferText(v).length - 20);
    const headersOnly = (v: number) => inferText(v).slice(0, inferText(v).indexOf('\r\n\r\n') + 4);

    it.each([
      ['before the second one’s body arrives', 3, () => inferText(1) + headersOnly(2)],
      ['in the middle of the second one’s body', 3, () => inferText(1) + half(2)],
      ['while the second and third wait for admission', 1, () => inferText(1) + inferText(2) + inferText(3)],
      ['while the first is answered and the next ones run', 3, () => inferText(1) + inferText(2) + inferText(3)],
      ['while the first is answered, the second waits for admission mid-body', 1, () => inferText(1) + half(2)],
      ['by the server, at a malformed third request (Node answers 400 and destroys the connection)', 3, () => inferText(1) + inferText(2) + 'NOT HTTP\r\n\r\n'],
      ['by the server, at a malformed third request, the second waiting for admission', 1, () => inferText(1) + inferText(2) + 'NOT HTTP\r\n\r\n'],
    ])('%s', async (_, concurrency, text) => {
      const { port, runs, atBaseline } = await stepModel(concurrency);
      const conn = rawConnection(port, text());
      await expect.poll(() => runs.length).toBeGreaterThanOrEqual(1);
      await sleep(50);
      conn.socket.destroy();
      await conn.closed;
      await atBaseline();
    });

    it.each([
      ['with the first running', 3, () => inferText(1) + inferText(2) + inferText(3)],
      ['with the second waiting for admission', 1, () => inferText(1) + inferText(2)],
    ])('the client half-closes (sends FIN, as `nc` does at the end of its input) %s', async (_, concurrency, text) => {
      const { port, runs, atBaseline } = await stepModel(concurrency);
      const conn = rawConnection(port, text());
      await expect.poll(() => runs.length).toBe(1);
      conn.socket.end();
      await conn.closed;
      await atBaseline();
    });

    it('the server closes the connection (a request asked `Connection: close`) with requests pipelined behind it', async () => {
      const { port, atBaseline } = await stepModel(3);
      const conn = rawConnection(port, 'GET /v2/health/live HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n' + inferText(2) + half(3));
      await conn.closed;
      expect(splitResponses(conn.received)).toHaveLength(1);
      await atBaseline();
    });

    it.each([
      [1, 2, 4096],
      [2, 2, 4096],
      [3, 2, 4096],
      [4, 2, 4096],
      [5, 1, 3],
      [6, 1, 3],
      [7, 1, 3],
      [8, 1, 3],
    ])('40 connections pipelining 1-6 requests each, closed at random moments (seed %i, concurrency %i, %i may wait): every one left settles', async (seed, concurrency, maxWaiting) => {
      let state = seed * 2654435761;
      const random = () => ((state = (state * 1103515245 + 12345) % 2147483648) / 2147483648);
      const { port, runs, atBaseline } = await stepModel(concurrency, maxWaiting);
      // The model answers runs a few ms apart, in order.
      const answering = setInterval(() => runs.shift()?.resolve(), 2);
      try {
        const conns = Array.from({ length: 40 }, () => {
          const conn = rawConnection(port);
          const n = 1 + Math.floor(random() * 6);
          let text = '';
          for (let i = 0; i < n; i++) {
            const kind = random();
            text += kind < 0.6 ? inferText(i) : kind < 0.7 ? 'GET /v2/health/live HTTP/1.1\r\nhost: x\r\n\r\n' : kind < 0.85 ? half(i) : headersOnly(i);
            if (kind >= 0.7) break; // nothing after a body that never ends
          }
          conn.socket.write(text);
          const at = random() * 60;
          const mode = random();
          setTimeout(() => (mode < 0.4 ? conn.socket.destroy() : mode < 0.6 ? conn.socket.end() : undefined), at);
          return conn;
        });
        await sleep(150);
        for (const conn of conns) conn.socket.destroy();
        await Promise.all(conns.map((c) => c.closed));
      } finally {
        clearInterval(answering);
      }
      await atBaseline();
    });

    it('a connection whose pipelined request is mid-body when the one ahead is answered is not parked: its client’s close is seen at once', async () => {
      const { port, url, runs, atBaseline } = await stepModel(2);
      const x = rawConnection(port);
      // Both admitted: the first runs, the second has read half its body (54 bytes) and given its slot back (slow body).
      x.socket.write(inferText(1) + half(2));
      await expect.poll(() => runs.length).toBe(1);
      await sleep(50);
      // Other connections' requests: one takes the free slot (74 bytes read), three wait (the first of them is admitted,
      // and read, when the first request's slot frees). The gate is busy enough that a connection whose response is sent
      // is parked (not read) until a slot frees.
      const others = [3, 4, 5, 6].map((v) => rawConnection(port, inferText(v)));
      await sleep(50);
      runs[0]!.resolve();
      expect(await x.responses(1)).toHaveLength(1);
      await sleep(20);
      x.socket.destroy();
      await sleep(100);
      // The second request's 54 bytes are no longer held: its connection was not parked, so its close was seen (a parked
      // connection is not read: its close went unseen for up to a second). The third's and fourth's 2 × 74, admitted, are.
      const probe = await fetch(`${url}/v2/repository/index`, { method: 'POST', body: ' '.repeat(budget - 148 - 32), signal: AbortSignal.timeout(3000) });
      expect(probe.status).not.toBe(503);
      for (const conn of others) conn.socket.destroy();
      await atBaseline();
    });

    it('a connection refused 429 with a request pipelined behind, mid-body, is not held unread: its client’s close is seen at once', async () => {
      const { port, url, atBaseline } = await stepModel(1, 1);
      // One runs, one waits: the model's wait (one place) is full.
      const busy = [1, 2].map((v) => rawConnection(port, inferText(v)));
      await sleep(50);
      const x = rawConnection(port);
      const index = ' '.repeat(200);
      // Refused on its headers (429, Retry-After), then a request that needs no admission, half its body sent (100 bytes).
      x.socket.write(inferText(3) + `POST /v2/repository/index HTTP/1.1\r\nhost: x\r\ncontent-length: ${index.length}\r\n\r\n${index.slice(0, 100)}`);
      expect((await x.responses(1))[0]).toMatch(/^HTTP\/1\.1 429 /);
      await sleep(50);
      x.socket.destroy();
      await sleep(100);
      // Its 100 bytes are no longer held: the refused connection was not paused for its Retry-After (a paused connection is
      // not read: its close went unseen for a second or more). The running request's 74 bytes are held.
      const probe = await fetch(`${url}/v2/repository/index`, { method: 'POST', body: ' '.repeat(budget - 74 - 50), signal: AbortSignal.timeout(3000) });
      expect(probe.status).not.toBe(503);
      for (const conn of busy) conn.socket.destroy();
      await atBaseline();
    });

    it('after the first was answered and the second got the socket (its response no longer queued)', async () => {
      const { port, runs, atBaseline } = await stepModel(3);
      const conn = rawConnection(port, inferText(1) + inferText(2) + inferText(3));
      // The model runs one at a time (executor concurrency 1): the second runs once the first is answered.
      await expect.poll(() => runs.length).toBe(1);
      runs[0]!.resolve();
      expect(await conn.responses(1)).toHaveLength(1);
      await expect.poll(() => runs.length).toBe(2);
      await sleep(20);
      conn.socket.destroy();
      await conn.closed;
      await atBaseline();
    });

    it('after the first two were answered, with the third’s body still coming', async () => {
      const { port, runs, atBaseline } = await stepModel(3);
      const conn = rawConnection(port, inferText(1) + inferText(2) + half(3));
      await expect.poll(() => runs.length).toBe(1);
      runs[0]!.resolve();
      await expect.poll(() => runs.length).toBe(2);
      runs[1]!.resolve();
      expect(await conn.responses(2)).toHaveLength(2);
      await sleep(20);
      conn.socket.destroy();
      await conn.closed;
      await atBaseline();
    });
  });

  it.each([3, 1])('draining with requests pipelined behind the one running (concurrency %i): it is answered with Connection: close, the rest are not (as Go’s Shutdown); the host closes, nothing left held', async (concurrency) => {
    const { host, port, url, release } = await heldModel({ concurrency });
    const conn = rawConnection(port, inferText(1) + inferText(2) + 'GET /v2/health/live HTTP/1.1\r\nhost: x\r\n\r\n' + inferText(3));
    await sleep(100);
    const closing = host.close();
    await sleep(20);
    release();
    await closing;
    await conn.closed;
    const responses = splitResponses(conn.received);
    expect(responses).toHaveLength(1);
    expect(responses[0]).toMatch(/^HTTP\/1\.1 200 [^]*\r\nconnection: close\r\n/i);
    expect(JSON.parse(responses[0]!.slice(responses[0]!.indexOf('\r\n\r\n') + 4)).outputs[0].data).toEqual([3, 3, 3, 3]);
    // The gate of a model no longer served is forgotten at a scrape only with nothing in flight or waiting.
    expect(await (await fetch(`${url}/metrics`)).text()).not.toMatch(/modelhost_http_requests_in_flight\{model="m"\}/);
  });

  it('a large body whose client left while it waited for its parse turn stays counted in the body budget until its bytes are dropped', async () => {
    const host = new ModelHost({ runtimes: { fake: fakeRuntime() }, defaults: { batching: false } });
    await host.load('m', { source: FAKE_SOURCE });
    const budget = 10_000;
    const port = Number(new URL((await serve(host, { metrics, limits: { maxBufferedBytes: budget, largeBodyBytes: 1000 } })).url).port);
    const big = (n: number) => bodyOf(1) + ' '.repeat(n - bodyOf(1).length);
    const sendOn = (conn: ReturnType<typeof rawConnection>, text: string) =>
      conn.socket.write(`POST /v2/models/m/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${text.length}\r\n\r\n${text}`);
    // Parse turns are setImmediate callbacks: held here, the large body waits for its turn.
    vi.useFakeTimers({ toFake: ['setImmediate'] });
    try {
      const leaving = rawConnection(port);
      sendOn(leaving, big(6000));
      await sleep(100);
      leaving.socket.destroy();
      await leaving.closed;
      await sleep(50);
      // Its 6000 bytes are still held (queued for a parse): a 6000-byte body does not fit beside them.
      const next = rawConnection(port);
      sendOn(next, big(6000));
      await sleep(100);
      expect(splitResponses(next.received).map((r) => r.slice(0, 12))).toEqual(['HTTP/1.1 503']);
      next.socket.destroy();
      vi.runOnlyPendingTimers();
    } finally {
      vi.useRealTimers();
    }
    // The turn came and the bytes were dropped unparsed: the budget is whole again.
    await sleep(20);
    const after = rawConnection(port);
    sendOn(after, big(budget - 10));
    expect((await after.responses(1))[0]).toMatch(/^HTTP\/1\.1 200 /);
    after.socket.destroy();
  });

  it('a pipelined request that waits for "100 Continue" behind a running one gets it once that one is answered, then its answer', async () => {
    const runs: ReturnType<typeof deferred<void>>[] = [];
    let stepping = false;
    const runGate = () => {
      if (!stepping) return Promise.resolve();
      const d = deferred<void>();
      runs.push(d);
      return d.promise;
    };
    const host = new ModelHost({ runtimes: { fake: fakeRuntime({ runGate }) }, defaults: { batching: false } });
    await host.load('m', { source: FAKE_SOURCE });
    stepping = true;
    const server = createNodeServer(host, { limits: { concurrency: 3 } });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const conn = rawConnection((server.address() as { port: number }).port);
      const second = bodyOf(2);
      conn.socket.write(inferText(1) + `POST /v2/models/m/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nexpect: 100-continue\r\ncontent-length: ${second.length}\r\n\r\n`);
      await expect.poll(() => runs.length).toBe(1);
      await sleep(50);
      expect(conn.received).toBe('');
      runs[0]!.resolve();
      await expect.poll(() => conn.received).toMatch(/HTTP\/1\.1 100 Continue\r\n\r\n$/);
      expect(conn.received).toMatch(/^HTTP\/1\.1 200 /);
      conn.socket.write(second);
      await expect.poll(() => runs.length).toBe(2);
      runs[1]!.resolve();
      await expect.poll(() => conn.received).toMatch(/100 Continue\r\n\r\nHTTP\/1\.1 200 [^]*"data":\[5,5,5,5\]/);
      conn.socket.destroy();
    } finally {
      for (const d of runs) d.resolve();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await host.close();
    }
  });
});
