import { readFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { resumeParkedOnClose } from '../../../src/adapters/http/node-listener.js';
import { issueCert, makeCa } from '../../helpers/tls-certs.js';
import { useTempDirs } from '../../helpers/temp-dir.js';

const tempDir = useTempDirs();
const listener = { stopParking: () => undefined };

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function closeWith(server: { close(cb?: (error?: Error) => void): unknown }): Promise<Error | undefined> {
  return new Promise((resolve) => server.close((error) => resolve(error)));
}

/** A keep-alive GET answered, its connection left idle and open. */
function idleConnection(port: number): Promise<{ closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const req = request({ port, host: '127.0.0.1', path: '/', agent: false, headers: { connection: 'keep-alive' } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ closed: new Promise((done) => req.socket!.once('close', () => done())) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('review: resumeParkedOnClose on plain servers', () => {
  it('stops listening at once, closes idle keep-alive connections, calls back once; a second close() reports the server not running', async () => {
    const server = resumeParkedOnClose(createServer((_, res) => res.end('ok')), listener);
    const port = await listen(server);
    const { closed } = await idleConnection(port);
    const first = closeWith(server);
    expect(server.listening).toBe(false); // at once
    await closed;
    expect(await first).toBeUndefined();
    expect(Object.hasOwn(server, 'closeIdleConnections')).toBe(false); // the swap is undone
    expect(((await closeWith(server)) as NodeJS.ErrnoException | undefined)?.code).toBe('ERR_SERVER_NOT_RUNNING');
  });

  it('close() without a callback, with nothing parked, still closes idle connections and emits close', async () => {
    const server = resumeParkedOnClose(createServer((_, res) => res.end('ok')), listener);
    const port = await listen(server);
    const { closed } = await idleConnection(port);
    const emitted = new Promise<void>((resolve) => server.once('close', () => resolve()));
    expect(server.close()).toBe(server);
    await closed;
    await emitted;
  });

  it('works on an https server the same way', async () => {
    const dir = await tempDir();
    const ca = await makeCa(dir, 'ca');
    const cert = await issueCert(dir, ca, 'localhost', 'server');
    const server = resumeParkedOnClose(createHttpsServer({ cert: await readFile(cert.cert), key: await readFile(cert.key) }, (_, res) => res.end('ok')), listener);
    await listen(server as unknown as Server);
    const first = closeWith(server);
    expect(server.listening).toBe(false);
    expect(await first).toBeUndefined();
    expect(Object.hasOwn(server, 'closeIdleConnections')).toBe(false);
  });
});
