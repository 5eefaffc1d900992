import type * as GrpcJs from '@grpc/grpc-js';
import type { ModelHost } from 'modelhost';
import { resolveGrpcOptions, SERVER_OPTION_KEYS, type GrpcOptions, type GrpcServerOptions } from './grpc-options.js';
import { loadGrpcPeer } from './grpc-peer.js';
import { inferenceHandlers } from './inference-service.js';
import { watchedServerCredentials } from './tls-server-credentials.js';

/** A running gRPC server for a host (see `createGrpcServer`). */
export interface GrpcServer {
  /** The port it listens on (the one picked, when asked for port 0). */
  readonly port: number;
  /** Whether it serves over TLS. */
  readonly secure: boolean;
  /** The @grpc/grpc-js server itself, to add other services. */
  readonly server: GrpcJs.Server;
  /**
   * Stops accepting calls and waits for the ones in flight (`tryShutdown`); after `graceMs`
   * (default 10 000) cancels what is left (`forceShutdown`). Does not close the host.
   */
  close(graceMs?: number): Promise<void>;
}

/**
 * Adds `inference.GRPCInferenceService` for `host` to a @grpc/grpc-js server you own. Set the
 * message size bounds on that server yourself (`grpc.max_receive_message_length`,
 * `grpc.max_send_message_length`); `maxSendMessageBytes` here only shapes the refusal.
 *
 * @throws ModelHostError INVALID_CONFIG for a bad option, or when `@grpc/grpc-js` or `@grpc/proto-loader` is not installed
 */
export async function addInferenceService(server: GrpcJs.Server, host: ModelHost, options: GrpcOptions = {}): Promise<void> {
  const resolved = resolveGrpcOptions(options);
  const { grpc, service } = await loadGrpcPeer();
  server.addService(service, inferenceHandlers(grpc, host, resolved));
}

/**
 * Serves the KServe v2 / Open Inference Protocol gRPC service (`inference.GRPCInferenceService`,
 * with Triton's ModelStreamInfer and repository extension) for `host` on `port` (0 picks a free
 * one), over TLS when `tls` is given.
 *
 * ```ts
 * const grpcServer = await createGrpcServer(host, 8081, { tls: { certFile, keyFile, caFile } });
 * await grpcServer.close();
 * ```
 *
 * @throws ModelHostError INVALID_CONFIG for a bad option or a missing peer; Error when the port
 *   is taken or the TLS files are unusable
 */
export async function createGrpcServer(host: ModelHost, port: number, options: GrpcServerOptions & { readonly address?: string } = {}): Promise<GrpcServer> {
  const resolved = resolveGrpcOptions(options, SERVER_OPTION_KEYS);
  const { grpc, service } = await loadGrpcPeer();
  const server = new grpc.Server({
    'grpc.max_receive_message_length': resolved.maxReceiveMessageBytes,
    'grpc.max_send_message_length': resolved.maxSendMessageBytes,
  });
  server.addService(service, inferenceHandlers(grpc, host, resolved));
  const tls = options.tls === undefined ? undefined : await watchedServerCredentials(grpc, options.tls);
  const credentials = tls?.credentials ?? grpc.ServerCredentials.createInsecure();
  const address = options.address ?? '127.0.0.1';
  let bound: number;
  try {
    bound = await new Promise<number>((resolve, reject) => server.bindAsync(`${address.includes(':') ? `[${address}]` : address}:${port}`, credentials, (error, p) => (error ? reject(error) : resolve(p))));
  } catch (error) {
    tls?.stop();
    server.forceShutdown();
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    port: bound,
    secure: tls !== undefined,
    server,
    close(graceMs = 10_000) {
      closing ??= new Promise<void>((resolve) => {
        tls?.stop();
        const force = setTimeout(() => server.forceShutdown(), graceMs);
        force.unref();
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      return closing;
    },
  };
}
