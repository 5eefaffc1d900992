/**
 * `modelhost serve --grpc-port <n>`: the KServe v2 gRPC service beside HTTP, on the same host,
 * with the same TLS files, admin authorization and request deadline. Kept apart from the
 * flag parsing of the HTTP server so each transport's options live in one place.
 */
import type { Logger, ModelHost } from 'modelhost';
import type { HttpOptions } from '../adapters/http/http-types.js';
import type { TlsFiles } from '../adapters/tls/tls-credentials.js';
import type { GrpcServer } from '../adapters/grpc/grpc-server.js';

/** The flag, for `parseArgs`. */
export const GRPC_FLAGS = { 'grpc-port': { type: 'string' } } as const;

export const GRPC_HELP = `  --grpc-port <n>       also serve the KServe v2 / Open Inference Protocol gRPC service
                        (inference.GRPCInferenceService) on port <n> (0 picks a free one),
                        over TLS with the --tls-* files; needs @grpc/grpc-js and
                        @grpc/proto-loader installed
`;

/**
 * The port of `--grpc-port`, undefined when the flag is absent.
 *
 * @throws Error "--grpc-port must be a port number, got x"
 */
export function parseGrpcPort(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) throw new Error(`--grpc-port must be a port number, got ${value}`);
  return port;
}

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
