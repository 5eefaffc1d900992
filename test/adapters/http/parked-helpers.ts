/** Helpers for tests of parked connections over real sockets (HTTP listener, Express, Nest). */
import { get } from 'node:http';
import { connect, type Socket } from 'node:net';
import { expect, vi } from 'vitest';
import { ModelHost } from '../../../src/index.js';
import { affine, deferred, FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';
import { post } from './serve.js';

export const body = (v: number) => JSON.stringify({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [v, v, v, v] }] });

/** A host whose runs each wait for their own `releaseOne()`; `seen` lists each run's first input value. */
export async function steppedHost() {
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
export function waitingAt(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    get(`${url}/metrics`, { agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => resolve(Number(/modelhost_http_requests_waiting\{model="m"\} (\d+)/.exec(text)![1])));
    }).on('error', reject);
  });
}

/** A keep-alive connection that sends `POST …/m/infer` with `body(v)` and hands back each response's body, in order. */
export interface KeepAliveClient {
  send(v: number): void;
  next(): Promise<string>;
  readonly socket: Socket;
}

/** One keep-alive connection to `url` (plain TCP). */
export function keepAlive(url: string): KeepAliveClient {
  const { port } = new URL(url);
  return keepAliveOn(connect({ host: '127.0.0.1', port: Number(port) }));
}

/** The same over a socket of the caller's (a TLS one, say): responses are read off its decrypted text. */
export function keepAliveOn<S extends Socket>(socket: S): KeepAliveClient & { readonly socket: S } {
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

/** The next answer's body on `a`, or `'reset'` when the server closes the connection first. */
export function nextOrReset(a: KeepAliveClient): Promise<string> {
  return Promise.race([a.next(), new Promise<string>((resolve) => a.socket.once('close', () => resolve('reset')))]);
}

/** How {@link parkWithRequestUnread} reaches the server: its keep-alive connection, other requests, the waiting gauge. */
export interface ParkTransport<C extends KeepAliveClient = KeepAliveClient> {
  keepAlive(): C;
  /** `body(v)` posted on a connection of its own. */
  infer(v: number): Promise<{ status: number }>;
  /** The gate's waiting gauge, on a connection of its own. */
  waiting(): Promise<number>;
}

/** Plain HTTP to `url`. */
export function httpTransport(url: string): ParkTransport {
  return { keepAlive: () => keepAlive(url), infer: (v) => post(`${url}/v2/models/m/infer`, JSON.parse(body(v))), waiting: () => waitingAt(url) };
}

/**
 * Through a gate of one slot (`limits.concurrency: 1`, `metrics` on) of a {@link steppedHost}:
 * 1 is answered on keep-alive connection `a` while 2 runs and 3 waits, so `a` is parked; 4 is
 * then sent on `a` and checked to stay unread. Returns `a`, its answer to 1, and the pending
 * answers of 2 and 3.
 */
export async function parkWithRequestUnread<C extends KeepAliveClient>(
  to: string | ParkTransport<C>,
  { started, releaseOne }: Pick<Awaited<ReturnType<typeof steppedHost>>, 'started' | 'releaseOne'>,
) {
  const transport = (typeof to === 'string' ? httpTransport(to) : to) as ParkTransport<C>;
  const a = transport.keepAlive();
  a.send(1);
  await vi.waitFor(() => expect(started()).toBe(1));
  const others = [transport.infer(2), transport.infer(3)];
  await vi.waitFor(async () => expect(await transport.waiting()).toBe(2));
  releaseOne(); // a's first answer: two requests wait, so a is parked
  const first = await a.next();
  a.send(4); // on the parked connection: stays in the socket buffer
  await vi.waitFor(() => expect(started()).toBe(2)); // 2 admitted
  await new Promise((r) => setTimeout(r, 50));
  expect(await transport.waiting()).toBe(1); // 3 only: 4 was not read
  return { a, first, others };
}
