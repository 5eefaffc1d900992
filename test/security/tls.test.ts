/**
 * HTTPS and mutual TLS for `modelhost serve`: certificates from a throwaway CA (openssl),
 * plain HTTP refused on the TLS port, client certificates required with a CA, and rotation
 * of the certificate files without a restart.
 */
import { copyFile, readFile, rename } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createNodeListener } from '../../src/adapters/http/index.js';
import { createHttpsServer, type HttpsServerOptions } from '../../src/adapters/tls/https-server.js';
import { readTlsCredentials } from '../../src/adapters/tls/tls-credentials.js';
import { ModelHost } from '../../src/index.js';
import { issueCert, makeCa, type CertFiles } from '../helpers/tls-certs.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs('all');

let dir: string;
let ca: CertFiles;
let otherCa: CertFiles;
let serverA: CertFiles;
let serverB: CertFiles;
let client: CertFiles;
let strangerClient: CertFiles;

beforeAll(async () => {
  dir = await tempDir();
  ca = await makeCa(dir, 'test-ca');
  otherCa = await makeCa(dir, 'other-ca');
  serverA = await issueCert(dir, ca, 'server-a', 'server');
  serverB = await issueCert(dir, ca, 'server-b', 'server');
  client = await issueCert(dir, ca, 'client', 'client');
  strangerClient = await issueCert(dir, otherCa, 'stranger', 'client');
});

const servers: Server[] = [];
const hosts: ModelHost[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  await Promise.all(hosts.splice(0).map((h) => h.close()));
});

async function listen(options: HttpsServerOptions): Promise<{ port: number; server: Server }> {
  const host = new ModelHost();
  hosts.push(host);
  const server = await createHttpsServer(createNodeListener(host), options);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, server };
}

interface Answer {
  readonly status: number;
  readonly body: string;
  /** The common name of the certificate the server presented. */
  readonly servedBy: string;
}

/** One HTTPS GET on a fresh connection, trusting `ca`, with an optional client certificate. */
async function httpsGet(port: number, path: string, clientCert?: CertFiles): Promise<Answer> {
  const [caPem, cert, key] = await Promise.all([readFile(ca.cert), clientCert && readFile(clientCert.cert), clientCert && readFile(clientCert.key)]);
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path, ca: caPem, cert, key, agent: false }, (res) => {
      let body = '';
      const servedBy = String((res.socket as import('node:tls').TLSSocket).getPeerCertificate().subject?.CN);
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, servedBy }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('HTTPS (createHttpsServer)', () => {
  it('serves the HTTP routes over TLS, with the certificate from the files', async () => {
    const { port } = await listen({ certFile: serverA.cert, keyFile: serverA.key });
    expect(await httpsGet(port, '/v2/health/live')).toMatchObject({ status: 200, body: '{"live":true}', servedBy: 'server-a' });
  });

  it('refuses plain HTTP on the TLS port', async () => {
    const { port } = await listen({ certFile: serverA.cert, keyFile: serverA.key });
    const answer = await new Promise<string>((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/v2/health/live', agent: false }, (res) => resolve(`status ${res.statusCode}`));
      req.on('error', (error) => resolve(`error ${(error as NodeJS.ErrnoException).code ?? error.message}`));
      req.end();
    });
    expect(answer).toMatch(/^error /);
  });

  it('refuses a certificate and key that do not belong together, and names a missing file', async () => {
    await expect(readTlsCredentials({ certFile: serverA.cert, keyFile: serverB.key })).rejects.toThrow(/^the TLS certificate and key are not usable together: .*key values mismatch/);
    await expect(readTlsCredentials({ certFile: path.join(dir, 'nope.crt'), keyFile: serverA.key })).rejects.toThrow(/the TLS certificate .*nope\.crt could not be read/);
  });
});

describe('mutual TLS (caFile)', () => {
  it('serves a client whose certificate the CA signed', async () => {
    const { port } = await listen({ certFile: serverA.cert, keyFile: serverA.key, caFile: ca.cert });
    expect(await httpsGet(port, '/v2/health/live', client)).toMatchObject({ status: 200, body: '{"live":true}' });
  });

  it('refuses a client without a certificate', async () => {
    const { port } = await listen({ certFile: serverA.cert, keyFile: serverA.key, caFile: ca.cert });
    await expect(httpsGet(port, '/v2/health/live')).rejects.toThrow(/certificate required|socket hang up|ECONNRESET|alert/i);
  });

  it('refuses a client whose certificate another CA signed', async () => {
    const { port } = await listen({ certFile: serverA.cert, keyFile: serverA.key, caFile: ca.cert });
    await expect(httpsGet(port, '/v2/health/live', strangerClient)).rejects.toThrow(/unknown ca|socket hang up|ECONNRESET|alert/i);
  });
});

describe('certificate rotation', () => {
  it('serves new connections with the new certificate once the files change, and keeps the old one while they do not fit', async () => {
    const live = { cert: path.join(await tempDir(), 'tls.crt'), key: '' };
    live.key = path.join(path.dirname(live.cert), 'tls.key');
    await copyFile(serverA.cert, live.cert);
    await copyFile(serverA.key, live.key);
    const reloads: { applied: boolean; error?: Error }[] = [];
    let notify = () => {};
    const { port } = await listen({ certFile: live.cert, keyFile: live.key, caFile: ca.cert, reloadIntervalMs: 20, onReload: (e) => (reloads.push(e), notify()) });
    const nextReload = () => new Promise<void>((resolve) => (notify = resolve));
    expect((await httpsGet(port, '/v2/health/live', client)).servedBy).toBe('server-a');

    // Half-rotated: the new certificate, the old key. Refused; the old pair keeps serving.
    let reloaded = nextReload();
    await copyFile(serverB.cert, `${live.cert}.tmp`);
    await rename(`${live.cert}.tmp`, live.cert);
    await reloaded;
    expect(reloads.at(-1)).toMatchObject({ applied: false, error: expect.objectContaining({ message: expect.stringMatching(/not usable together/) }) });
    expect((await httpsGet(port, '/v2/health/live', client)).servedBy).toBe('server-a');

    // The key lands: the new pair serves new connections, no restart.
    reloaded = nextReload();
    await copyFile(serverB.key, `${live.key}.tmp`);
    await rename(`${live.key}.tmp`, live.key);
    await reloaded;
    expect(reloads.at(-1)).toEqual({ applied: true });
    expect(await httpsGet(port, '/v2/health/live', client)).toMatchObject({ status: 200, servedBy: 'server-b' });
    // Client certificates are still required after the swap.
    await expect(httpsGet(port, '/v2/health/live')).rejects.toThrow();
  });
});
