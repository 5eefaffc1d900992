/**
 * A gRPC client of the protocol built from the shipped `.proto`:
 * `npx tsx examples/grpc-server/client.ts [port]` prints the MLP's metadata and one inference.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PROTO_PATH } from 'modelhost/grpc';

type Callback = (error: grpc.ServiceError | null, response: any) => void;
type InferenceClient = grpc.Client & Record<'ModelMetadata' | 'ModelInfer', (request: object, options: grpc.CallOptions, callback: Callback) => void>;

export function connect(port: number): InferenceClient {
  const definition = protoLoader.loadSync(PROTO_PATH, { keepCase: true, longs: String, defaults: true, oneofs: true });
  const { inference } = grpc.loadPackageDefinition(definition) as unknown as { inference: { GRPCInferenceService: grpc.ServiceClientConstructor } };
  return new inference.GRPCInferenceService(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as InferenceClient;
}

/** One call as a promise, with a 2 s deadline (the server's queue honours it). */
export function invoke(client: InferenceClient, method: 'ModelMetadata' | 'ModelInfer', request: object): Promise<any> {
  return new Promise((resolve, reject) => client[method](request, { deadline: Date.now() + 2000 }, (error, response) => (error ? reject(error) : resolve(response))));
}

/** One row of the MLP, sent raw (little-endian float32), its output read back raw. */
export async function classify(client: InferenceClient, row: Float32Array): Promise<Float32Array> {
  const response = await invoke(client, 'ModelInfer', { model_name: 'mlp-onnx', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, row.length] }], raw_input_contents: [Buffer.from(row.buffer, row.byteOffset, row.byteLength)] });
  const raw = new Uint8Array(response.raw_output_contents[0]);
  return new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const client = connect(Number(process.argv[2] ?? 8081));
  const metadata = await invoke(client, 'ModelMetadata', { name: 'mlp-onnx' });
  console.log(JSON.stringify(metadata.inputs), '→', JSON.stringify(metadata.outputs));
  const width = Number(metadata.inputs[0].shape.at(-1));
  console.log(Array.from(await classify(client, new Float32Array(width).fill(0.5))));
  client.close();
}
