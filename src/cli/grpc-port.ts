/**
 * `modelhost serve --grpc-port <n>`: the KServe v2 gRPC service beside HTTP, on the same host,
 * with the same TLS files, admin authorization and request deadline. Kept apart from the
 * flag parsing of the HTTP server so each transport's options live in one place.
 */
import type { Logger, ModelHost } from 'modelhost';
import type { HttpOptions } from '../adapters/http/http-types.js';
import type { TlsFiles } from '../adapters/tls/tls-credentials.js';
import type { GrpcServer } from '../adapters/grpc/grpc-server.js';
import { integer, type FlagTable } from './flags.js';

/** The flag, an entry of serve's flag table. */
export const GRPC_FLAGS = {
  'grpc-port': {
    value: '<n>',
    help: 'also serve the KServe v2 / Open Inference Protocol gRPC service\n(inference.GRPCInferenceService) on port <n> (0 picks a free one),\nover TLS with the --tls-* files; needs @grpc/grpc-js and\n@grpc/proto-loader installed',
    parse: integer('a port number', 0, 65535),
  },
} satisfies FlagTable;

export interface GrpcServeSettings {
  readonly port: number;
  readonly address: string;
  readonly tls: TlsFiles | undefined;
  readonly authorize: HttpOptions['authorize'];
  readonly timeoutMs: number | undefined;
  readonly logger: Logger;
}

/** Starts the gRPC server and logs where it listens. */
export async function startGrpcServer(host: ModelHost, settings: GrpcServeSettings): Promise<GrpcServer> {
  const { createGrpcServer } = await import('../adapters/grpc/grpc-server.js');
  const { tls, logger } = settings;
  const server = await createGrpcServer(host, settings.port, {
    address: settings.address,
    authorize: settings.authorize,
    timeoutMs: settings.timeoutMs,
    tls:
      tls === undefined
        ? undefined
        : {
            ...tls,
            onReload: (e) => (e.applied ? logger.info('gRPC TLS certificate reloaded', { ...tls }) : logger.warn('TLS certificate files changed but are not usable; gRPC keeps the previous ones', { ...tls, error: e.error.message })),
          },
  });
  logger.info('gRPC listening', { address: `${settings.address}:${server.port}`, tls: server.secure, mutualTls: tls?.caFile !== undefined });
  return server;
}
