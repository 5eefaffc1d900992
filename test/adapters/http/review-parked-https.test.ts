/**
 * The CLI serves TLS with the same listener: a request waiting on a parked TLS connection
 * at shutdown must be read (TLS decrypts it in the read that parses it) and answered, not reset.
 */
import { readFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { createNodeListener, resumeParkedOnClose } from '../../../src/adapters/http/node-listener.js';
import { issueCert, makeCa } from '../../helpers/tls-certs.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { body, keepAliveOn, nextOrReset, parkWithRequestUnread, steppedHost } from './parked-helpers.js';

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
    try {
      const { a, others } = await parkWithRequestUnread(
        {
          keepAlive: () => keepAliveOn(connect({ host: '127.0.0.1', port, ca, servername: 'localhost' })),
          infer: (v) => call(port, ca, 'POST', '/v2/models/m/infer', body(v)),
          waiting: async () => Number(/modelhost_http_requests_waiting\{model="m"\} (\d+)/.exec((await call(port, ca, 'GET', '/metrics')).text)![1]),
        },
        { started, releaseOne },
      );
      const closed = new Promise<void>((resolve) => (server as unknown as Server).close(() => resolve()));
      expect(server.listening).toBe(false);
      const hostClosed = host.close();
      const answer = nextOrReset(a);
      releaseOne();
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
