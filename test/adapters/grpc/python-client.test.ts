/**
 * The service from another gRPC implementation: Python's grpcio (gRPC's C core) with stubs
 * that grpc_tools generates from the shipped `.proto`. Runs with the Python named by
 * MODELHOST_TEST_PYTHON (default python3) when it has grpcio and grpcio-tools; skipped,
 * saying so, otherwise. (`tritonclient[grpc]` itself is not installable on the machines
 * these tests run on: see docs/grpc.md.)
 */
import { execFile, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { PROTO_PATH } from '../../../src/adapters/grpc/index.js';
import { ModelHost } from '../../../src/index.js';
import { onnxAffine, onnxIdentity } from '../../fixtures/onnx-models.js';
import { useGrpc } from './client.js';

const python = process.env['MODELHOST_TEST_PYTHON'] ?? 'python3';
const hasGrpcio = (() => {
  try {
    execFileSync(python, ['-c', 'import grpc, grpc_tools'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const { start } = useGrpc('each');

describe.skipIf(!hasGrpcio)(`a Python grpcio client (${python}: ${hasGrpcio ? 'grpcio found' : 'no grpcio/grpcio-tools, skipped'})`, () => {
  it('calls health, metadata, ModelInfer raw and typed INT64, an error and ModelStreamInfer', async () => {
    const host = new ModelHost();
    await host.load('affine', { source: onnxAffine() });
    await host.load('id-int64', { source: onnxIdentity('int64') });
    const { server } = await start(host);
    const script = fileURLToPath(new URL('./python_client.py', import.meta.url));
    const { stdout } = await promisify(execFile)(python, [script, String(server.port), PROTO_PATH], { timeout: 60_000 });
    expect(JSON.parse(stdout.trim().split('\n').pop()!)).toEqual({
      live: true,
      metadata: ['onnxruntime_onnx', 'FP32', [-1, 4]],
      raw: [3, 5, 7, 9],
      int64: ['-9223372036854775808', '9223372036854775807'],
      error: ['NOT_FOUND', 'MODEL_NOT_FOUND'],
      stream: [
        ['a', [1, 1, 1, 1]],
        ['b', [3, 3, 3, 3]],
      ],
    });
  });
});
