import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const FILE = 'grpc_predict_v2.proto';

/**
 * Absolute path of the service's `.proto` (package `inference`, service
 * `GRPCInferenceService`), shipped in the package's `proto/` folder: load it with
 * `@grpc/proto-loader` to build a client or a Nest `ClientGrpc`.
 */
export const PROTO_PATH: string = findProto();

function findProto(): string {
  // dist/grpc.js sits one level below the package root; src/adapters/grpc/*.ts three.
  const candidates = ['../proto/', '../../../proto/'].map((dir) => fileURLToPath(new URL(dir + FILE, import.meta.url)));
  return candidates.find((file) => existsSync(file)) ?? candidates[0]!;
}
