/**
 * `modelhost serve` with the security flags, as an operator runs it: HTTPS with client
 * certificates, an admin token from a file, checksums required.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onnxAffine } from '../fixtures/onnx-models.js';
import { writeVersion } from '../helpers/repository.js';
import { spawnServe, type ServeRun } from '../helpers/serve-process.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { issueCert, makeCa, type CertFiles } from '../helpers/tls-certs.js';

const tempDir = useTempDirs('all');
const TOKEN = 'serve-admin-token-0123456789';

/** The CLI as a child process (test/helpers/serve-process.ts), with no admin token in its environment unless given. */
const cli = (args: readonly string[], env: Record<string, string> = {}): ServeRun => spawnServe(args, { MODELHOST_ADMIN_TOKEN: undefined, ...env });

/** stderr without npm's own warnings about the environment's .npmrc. */
const ownStderr = (run: ServeRun) => run.stderr().replace(/^npm warn .*\n/gm, '');

let repository: string;
let certs: { ca: CertFiles; server: CertFiles; client: CertFiles };
let tokenFile: string;

beforeAll(async () => {
  const dir = await tempDir();
  const ca = await makeCa(dir, 'serve-ca');
  certs = { ca, server: await issueCert(dir, ca, 'serve-server', 'server'), client: await issueCert(dir, ca, 'serve-client', 'client') };
  tokenFile = path.join(dir, 'admin-token');
  await writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  repository = await tempDir();
  await writeVersion(repository, 'affine', 1, { 'model.onnx': onnxAffine({ size: 4, scale: 2, bias: 1 }) });
  await writeVersion(repository, 'unsummed', 1, { 'model.onnx': onnxAffine({ size: 4, scale: 2, bias: 1 }) }, { checksums: false });
});

describe('modelhost serve: security flags refused', () => {
  it.each([
    { args: ['--admin-token', TOKEN], message: '--admin-token is not accepted: a token on the command line shows in ps; use --admin-token-file or MODELHOST_ADMIN_TOKEN' },
    { args: ['--tls-cert', 'a.crt'], message: '--tls-cert and --tls-key go together' },
    { args: ['--tls-ca', 'ca.crt'], message: '--tls-ca needs --tls-cert and --tls-key' },
  ])('exits 2 for $args', async ({ args, message }) => {
    const run = cli(['serve', repository, '--port', '0', '--models', 'none', ...args]);
    expect(await run.exited).toEqual({ code: 2, signal: null });
    expect(ownStderr(run)).toContain(`modelhost: ${message}`);
  });

  it('exits 2 for a certificate and a key that do not belong together', async () => {
    const dir = await tempDir();
    const other = await issueCert(dir, certs.ca, 'other-server', 'server');
    const run = cli(['serve', repository, '--port', '0', '--tls-cert', certs.server.cert, '--tls-key', other.key]);
    expect(await run.exited).toEqual({ code: 2, signal: null });
    expect(ownStderr(run)).toMatch(/modelhost: the TLS certificate and key are not usable together: .*key values mismatch/);
    expect(run.logs().filter((l) => l['msg'] === 'model loaded')).toEqual([]); // refused before loading anything
  });

  it('exits 2 for a short token in MODELHOST_ADMIN_TOKEN', async () => {
    const run = cli(['serve', repository, '--port', '0', '--models', 'none'], { MODELHOST_ADMIN_TOKEN: 'short' });
    expect(await run.exited).toEqual({ code: 2, signal: null });
    expect(ownStderr(run)).toContain('modelhost: the admin token from MODELHOST_ADMIN_TOKEN must be at least 16 characters, got 5');
  });
});

describe('modelhost serve --tls-cert --tls-key --tls-ca --admin-token-file --require-checksums', () => {
  let run: ServeRun;
  let url: URL;

  beforeAll(async () => {
    run = cli(['serve', repository, '--port', '0', '--instances', 'inline', '--tls-cert', certs.server.cert, '--tls-key', certs.server.key, '--tls-ca', certs.ca.cert, '--admin-token-file', tokenFile, '--require-checksums']);
    url = new URL(String((await run.waitForLog((l) => l.msg === 'listening'))['url']));
  });

  afterAll(async () => {
    run.child.kill('SIGTERM');
    await run.exited;
  });

  async function send(method: string, route: string, options: { clientCert?: boolean; authorization?: string } = {}): Promise<{ status: number; body: string }> {
    const [ca, cert, key] = await Promise.all([readFile(certs.ca.cert), options.clientCert === false ? undefined : readFile(certs.client.cert), options.clientCert === false ? undefined : readFile(certs.client.key)]);
    return new Promise((resolve, reject) => {
      const headers = options.authorization === undefined ? {} : { authorization: options.authorization };
      const req = httpsRequest({ host: url.hostname, port: url.port, path: route, method, ca, cert, key, headers, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('listens on https with mutual TLS and admin routes on, and refuses the version without SHA256SUMS', () => {
    expect(url.protocol).toBe('https:');
    const listening = run.logs().find((l) => l['msg'] === 'listening');
    expect(listening).toMatchObject({ admin: true, mutualTls: true });
    expect(run.logs().find((l) => l['msg'] === 'model not served')).toMatchObject({ model: 'unsummed', error: expect.stringContaining('unsummed/1 has no SHA256SUMS, and checksums are required') });
  });

  it('answers a client with a certificate from the CA, and refuses one without', async () => {
    expect(await send('GET', '/v2/models/affine/ready')).toEqual({ status: 200, body: '{"name":"affine","ready":true}' });
    expect(await send('GET', '/v2/models/unsummed/ready')).toMatchObject({ status: 503, body: '{"name":"unsummed","ready":false}' });
    await expect(send('GET', '/v2/models/affine/ready', { clientCert: false })).rejects.toThrow();
  });

  it('opens admin routes to the token from the file only', async () => {
    expect((await send('POST', '/admin/models/affine/load', { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
    expect((await send('POST', '/admin/models/affine/load', { authorization: `Bearer ${TOKEN}x` })).status).toBe(401);
    expect((await send('POST', '/admin/models/affine/load')).status).toBe(401);
  });
});
