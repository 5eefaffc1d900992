/**
 * The CLI serves TLS with the same listener: a request waiting on a parked TLS connection
 * at shutdown must be read (TLS decrypts it in the read that parses it) and answered, not reset.
 */
import { readFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import { describe, expect, it, vi } from 'vitest';
import { createNodeListener, resumeParkedOnClose } from '../../../src/adapters/http/node-listener.js';
import { issueCert, makeCa } from '../../helpers/tls-certs.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { body, steppedHost } from './parked-helpers.js';

const tempDir = useTempDirs();

function call(port: number, ca: Buffer, method: string, path: string, payload?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, ca, servername: 'localhost', agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, text }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

function keepAliveTls(port: number, ca: Buffer): { send(v: number): void; next(): Promise<string>; socket: TLSSocket } {
  const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost' });
  socket.on('error', () => {});
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

describe('review: parked TLS connections at shutdown', () => {
  it('close() on an https server reads the request waiting on a parked connection: it is answered, not reset', async () => {
    const dir = await tempDir();
    const authority = await makeCa(dir, 'ca');
    const cert = await issueCert(dir, authority, 'localhost', 'server');
    const ca = await readFile(authority.cert);
    const { host, started, releaseOne } = await steppedHost();
    const metrics = { contentType: 'text/plain', metrics: async () => '' };
    const listener = createNodeListener(host, { metrics, limits: { concurrency: 1 } });
    const server = resumeParkedOnClose(createServer({ cert: await readFile(cert.cert), key: await readFile(cert.key) }, listener), listener);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const waiting = async () => Number(/modelhost_http_requests_waiting\{model="m"\} (\d+)/.exec((await call(port, ca, 'GET', '/metrics')).text)![1]);
    try {
      const a = keepAliveTls(port, ca);
      a.send(1);
      await vi.waitFor(() => expect(started()).toBe(1));
      const others = [call(port, ca, 'POST', '/v2/models/m/infer', body(2)), call(port, ca, 'POST', '/v2/models/m/infer', body(3))];
      await vi.waitFor(async () => expect(await waiting()).toBe(2));
      releaseOne();
      await a.next();
      a.send(4); // parked: unread
      await vi.waitFor(() => expect(started()).toBe(2));
      await new Promise((r) => setTimeout(r, 50));
      expect(await waiting()).toBe(1); // 4 was not read
      const closed = new Promise<void>((resolve) => (server as unknown as Server).close(() => resolve()));
      expect(server.listening).toBe(false);
      const hostClosed = host.close();
      const answer = a.next();
      releaseOne();
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
