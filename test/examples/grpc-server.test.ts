/**
 * examples/grpc-server as its README runs it: the Nest app serves the demo MLP over gRPC,
 * its client gets metadata and an inference back, and closing the app stops gRPC before
 * the host.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ModelHost } from '../../src/index.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs('all');
const saved = { GRPC_PORT: process.env['GRPC_PORT'], MODEL_REPOSITORY: process.env['MODEL_REPOSITORY'] };

afterAll(() => {
  for (const [key, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
});

describe('examples/grpc-server', () => {
  it('serves the MLP over gRPC from a Nest app, answers the example client, and stops cleanly', async () => {
    const repository = await tempDir();
    process.env['GRPC_PORT'] = '0';
    process.env['MODEL_REPOSITORY'] = repository;
    const { bootstrap, GrpcInferenceServer, MODEL } = await import('../../examples/grpc-server/main.js');
    const { connect, invoke, classify } = await import('../../examples/grpc-server/client.js');
    const { app, port } = await bootstrap();
    const client = connect(port);
    try {
      const metadata = await invoke(client, 'ModelMetadata', { name: MODEL });
      expect(metadata).toMatchObject({ name: MODEL, platform: 'onnxruntime_onnx', inputs: [{ name: 'x', datatype: 'FP32' }] });
      const width = Number(metadata.inputs[0].shape.at(-1));
      const row = new Float32Array(width).fill(0.5);
      // The same row in-process, on a host of its own over the same repository: the answers agree exactly.
      const reference = new ModelHost({ repository });
      await reference.load(MODEL);
      const expected = (await reference.predict(MODEL, row))[metadata.outputs[0].name]!.data;
      await reference.close();
      expect(Array.from(await classify(client, row))).toEqual(Array.from(expected as Float32Array));
    } finally {
      client.close();
      const server = app.get(GrpcInferenceServer).server!;
      await app.close();
      // closed: a new call cannot connect
      const late = connect(server.port);
      await expect(invoke(late, 'ModelMetadata', { name: MODEL })).rejects.toMatchObject({ code: 14 });
      late.close();
    }
  });
});
