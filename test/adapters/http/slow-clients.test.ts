/**
 * Slow clients against createNodeServer: slowloris (headers that never finish), trickled
 * bodies, and many idle sockets. They are cut off by the limits (not by Node's 60 s / 300 s
 * defaults), the buffered bytes they cause are bounded, and normal requests are served
 * meanwhile. Behaviour only; how fast is in bench/overload.ts.
 */
import { connect, type AddressInfo, type Socket } from 'node:net';
import type { Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createNodeServer, type NodeServerOptions } from '../../../src/adapters/http/index.js';
import { ModelHost } from '../../../src/index.js';
import { FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';
import { post } from './serve.js';

const INFER = { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] };

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function start(options: NodeServerOptions): Promise<{ url: string; port: number; server: Server }> {
  const host = new ModelHost({ runtimes: { fake: fakeRuntime() } });
  await host.load('m', { source: FAKE_SOURCE });
  const server = createNodeServer(host, options);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => host.destroy());
  cleanup.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, port, server };
}

/** A raw TCP client; resolves `closed` when the server ends the connection, with what it sent. */
function rawClient(port: number): { socket: Socket; closed: Promise<string> } {
  const socket = connect(port, '127.0.0.1');
  let received = '';
  socket.setEncoding('utf8').on('data', (chunk: string) => (received += chunk));
  socket.on('error', () => {});
  const closed = new Promise<string>((resolve) => socket.once('close', () => resolve(received)));
  cleanup.push(async () => void socket.destroy());
  return { socket, closed };
}

describe('slow clients (createNodeServer)', () => {
  it('slowloris: headers that never end are cut off at headersTimeoutMs while normal requests are served', async () => {
    const { url, port } = await start({ limits: { headersTimeoutMs: 500 } });
    const loris = Array.from({ length: 20 }, () => rawClient(port));
    for (const { socket } of loris) socket.write('POST /v2/models/m/infer HTTP/1.1\r\nHost: x\r\nX-Slow: a');
    // Meanwhile, normal requests are answered.
    for (let i = 0; i < 5; i++) expect((await post(`${url}/v2/models/m/infer`, INFER)).status).toBe(200);
    const answers = await Promise.all(loris.map((c) => c.closed));
    for (const answer of answers) expect(answer).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('a trickled body is answered 408 at bodyTimeoutMs and its bytes are released', async () => {
    const { url, port } = await start({ limits: { bodyTimeoutMs: 300, maxBufferedBytes: 2000 } });
    const trickle = rawClient(port);
    trickle.socket.write('POST /v2/models/m/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1900\r\n\r\n');
    const drip = setInterval(() => trickle.socket.write(' '), 20);
    cleanup.push(async () => clearInterval(drip));
    expect(await trickle.closed).toMatch(/^HTTP\/1\.1 408 [^]*the request body did not arrive within 300 ms/);
    clearInterval(drip);
    // Its bytes are given back: a body that needs most of the budget is accepted.
    const big = { ...INFER, padding: 'x'.repeat(1500) };
    expect((await post(`${url}/v2/models/m/infer`, big)).status).toBe(200);
  });

  it('many idle sockets: past maxConnections new ones are closed at once; served ones are unaffected', async () => {
    const { url, port, server } = await start({ limits: { maxConnections: 50 } });
    const idle = Array.from({ length: 60 }, () => rawClient(port));
    await Promise.all(idle.map(({ socket }) => new Promise((resolve) => socket.once('connect', resolve))));
    // Node closes what is over the limit as it accepts it.
    await expect.poll(async () => (await new Promise<number>((resolve) => server.getConnections((_e, n) => resolve(n)))) <= 50).toBe(true);
    const closed = await Promise.race([Promise.any(idle.map((c) => c.closed)).then(() => true), new Promise((r) => setTimeout(() => r(false), 2000))]);
    expect(closed).toBe(true);
    // Free slots (more than were refused, whichever were accepted), then a normal request is served.
    for (const { socket } of idle.slice(0, 20)) socket.destroy();
    await expect.poll(async () => (await post(`${url}/v2/models/m/infer`, INFER).catch(() => ({ status: 0 }))).status, { timeout: 5000 }).toBe(200);
  });
});
