/**
 * `modelhost/grpc`: the KServe v2 / Open Inference Protocol gRPC service
 * (`inference.GRPCInferenceService`) for a host, on `@grpc/grpc-js` (an optional peer, with
 * `@grpc/proto-loader`). Triton's and KServe's gRPC clients, and any stub generated from
 * `PROTO_PATH`, connect unchanged.
 *
 * ```ts
 * import { createGrpcServer } from 'modelhost/grpc';
 * const grpcServer = await createGrpcServer(host, 8081);
 * ```
 */
export { createGrpcServer, addInferenceService } from './grpc-server.js';
export type { GrpcServer } from './grpc-server.js';
export type { GrpcOptions, GrpcServerOptions } from './grpc-options.js';
export { DEFAULT_GRPC_OPTIONS } from './grpc-options.js';
export { GRPC_STATUS_BY_CODE, GrpcStatus } from './status-codes.js';
export { PROTO_PATH } from './proto-path.js';
