/**
 * `modelhost/grpc` over TLS and mutual TLS with the shared certificate files, their rotation
 * without a restart, and `modelhost serve --grpc-port` beside HTTP with the same TLS flags.
 */
import { copyFile, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { GrpcStatus } from '../../../src/adapters/grpc/index.js';
import { ModelHost } from '../../../src/index.js';
import { onnxAffine } from '../../fixtures/onnx-models.js';
import { writeVersion } from '../../helpers/repository.js';
import { spawnServe, startServe } from '../../helpers/serve-process.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { issueCert, makeCa, type CertFiles } from '../../helpers/tls-certs.js';
import { call, failure, grpc, newClient, useGrpc } from './client.js';

const tempDir = useTempDirs('all');
const { start } = useGrpc('each');

let ca: CertFiles;
let otherCa: CertFiles;
let server: CertFiles;
let serverOfOtherCa: CertFiles;
let client: CertFiles;
let stranger: CertFiles;

beforeAll(async () => {
  const dir = await tempDir();
  ca = await makeCa(dir, 'ca');
  otherCa = await makeCa(dir, 'other-ca');
  server = await issueCert(dir, ca, 'server', 'server');
  serverOfOtherCa = await issueCert(dir, otherCa, 'server-b', 'server');
  client = await issueCert(dir, ca, 'client', 'client');
  stranger = await issueCert(dir, otherCa, 'stranger', 'client');
}, 60_000);

async function tlsClient(port: number, trust: CertFiles, own?: CertFiles) {
  const credentials = grpc.credentials.createSsl(await readFile(trust.cert), own ? await readFile(own.key) : null, own ? await readFile(own.cert) : null);
  return newClient(port, credentials, { 'grpc.ssl_target_name_override': 'localhost' });
}

async function servedHost() {
  const host = new ModelHost();
  await host.load('affine', { source: onnxAffine() });
  return host;
}

const INFER = { model_name: 'affine', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], contents: { fp32_contents: [1, 2, 3, 4] } }] };

describe('modelhost/grpc over TLS', () => {
  it('serves a client that trusts the server\'s CA; a plaintext client gets nowhere', async () => {
    const { server: grpcServer } = await start(await servedHost(), { tls: { certFile: server.cert, keyFile: server.key } });
    expect(grpcServer.secure).toBe(true);
    const secure = await tlsClient(grpcServer.port, ca);
    expect((await call(secure, 'ModelInfer', INFER)).outputs[0].contents.fp32_contents).toEqual([3, 5, 7, 9]);
    const plain = newClient(grpcServer.port);
    expect((await failure(call(plain, 'ServerLive', {}, { deadlineMs: 2000 }))).code).toBe(GrpcStatus.UNAVAILABLE);
    secure.close();
    plain.close();
  });

  it('mutual TLS: a client certificate from the CA is served; none, or one from another CA, is refused', async () => {
    const { server: grpcServer } = await start(await servedHost(), { tls: { certFile: server.cert, keyFile: server.key, caFile: ca.cert } });
    const good = await tlsClient(grpcServer.port, ca, client);
    expect(await call(good, 'ServerLive', {})).toEqual({ live: true });
    const anonymous = await tlsClient(grpcServer.port, ca);
    expect((await failure(call(anonymous, 'ServerLive', {}, { deadlineMs: 2000 }))).code).toBe(GrpcStatus.UNAVAILABLE);
    const foreign = await tlsClient(grpcServer.port, ca, stranger);
    expect((await failure(call(foreign, 'ServerLive', {}, { deadlineMs: 2000 }))).code).toBe(GrpcStatus.UNAVAILABLE);
    for (const c of [good, anonymous, foreign]) c.close();
  });

  it('rotated certificate files serve new connections without a restart', async () => {
    const dir = await tempDir();
    const live = { certFile: path.join(dir, 'tls.crt'), keyFile: path.join(dir, 'tls.key') };
    await copyFile(server.cert, live.certFile);
    await copyFile(server.key, live.keyFile);
    const reloads: boolean[] = [];
    const { server: grpcServer } = await start(await servedHost(), { tls: { ...live, reloadIntervalMs: 20, onReload: (e) => reloads.push(e.applied) } });
    const trustsNew = await tlsClient(grpcServer.port, otherCa);
    expect((await failure(call(trustsNew, 'ServerLive', {}, { deadlineMs: 2000 }))).code).toBe(GrpcStatus.UNAVAILABLE);
    trustsNew.close();
    // The key first, then the certificate: in between the pair does not fit and is not applied.
    await copyFile(serverOfOtherCa.key, `${live.keyFile}.tmp`);
    await rename(`${live.keyFile}.tmp`, live.keyFile);
    await copyFile(serverOfOtherCa.cert, `${live.certFile}.tmp`);
    await rename(`${live.certFile}.tmp`, live.certFile);
    await vi.waitFor(() => expect(reloads).toContain(true), { timeout: 5000 });
    const fresh = await tlsClient(grpcServer.port, otherCa);
    expect(await call(fresh, 'ServerLive', {})).toEqual({ live: true });
    fresh.close();
  });
});

describe('modelhost serve --grpc-port', () => {
  it('serves gRPC beside HTTP on one host, with mutual TLS from the --tls-* flags, and stops on SIGTERM', async () => {
    const repository = await tempDir();
    await writeVersion(repository, 'affine', 1, { 'model.onnx': onnxAffine() });
    const run = await startServe(['serve', repository, '--port', '0', '--grpc-port', '0', '--tls-cert', server.cert, '--tls-key', server.key, '--tls-ca', ca.cert, '--log-format', 'json']);
    try {
      const grpcLine = await run.waitForLog((l) => l.msg === 'gRPC listening');
      expect(grpcLine).toMatchObject({ tls: true, mutualTls: true });
      expect(run.listening).toMatch(/^https:/);
      const port = Number(String(grpcLine['address']).split(':').pop());
      const mtls = await tlsClient(port, ca, client);
      expect((await call(mtls, 'ModelInfer', INFER)).outputs[0].contents.fp32_contents).toEqual([3, 5, 7, 9]);
      mtls.close();
      run.child.kill('SIGTERM');
      expect(await run.exited).toEqual({ code: 0, signal: null });
    } finally {
      run.kill();
    }
  });

  it('refuses a --grpc-port that is not a port', async () => {
    const run = spawnServe(['serve', 'models', '--grpc-port', '80a']);
    expect(await run.exited).toEqual({ code: 2, signal: null });
    expect(run.stderr()).toMatch(/--grpc-port must be a port number, got 80a/);
  });
});
