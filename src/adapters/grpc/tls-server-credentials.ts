import type * as GrpcJs from '@grpc/grpc-js';
import { clientAuthOptions, readTlsCredentials, secureContextOptions, watchTlsFiles } from '../tls/tls-credentials.js';
import type { GrpcServerOptions } from './grpc-options.js';
import type { Grpc } from './grpc-peer.js';

/**
 * gRPC server credentials from the shared TLS files, rotated without a restart: the same
 * watcher as HTTPS (`watchTlsFiles`) hands new files to grpc-js through
 * `ServerCredentials.updateSecureContextOptions`, which calls `setSecureContext` on its HTTP/2
 * server — connections already open keep what they shook hands with, new ones get the new.
 * With a CA, a client certificate is required and verified (mutual TLS).
 *
 * @returns the credentials and a function that stops watching the files
 * @throws Error when the files cannot be read or do not fit together
 */
export async function watchedServerCredentials(grpc: Grpc, tls: NonNullable<GrpcServerOptions['tls']>): Promise<{ credentials: GrpcJs.ServerCredentials; stop: () => void }> {
  const initial = await readTlsCredentials(tls);

  class WatchedTlsCredentials extends grpc.ServerCredentials {
    constructor() {
      // requestCert/rejectUnauthorized are server options, fixed at start (as for HTTPS);
      // ALPN "h2" is what grpc-js adds itself.
      super({ ...clientAuthOptions(initial) }, secureContextOptions(initial));
    }

    apply(options: ReturnType<typeof secureContextOptions>): void {
      this.updateSecureContextOptions(options);
    }

    override _equals(other: GrpcJs.ServerCredentials): boolean {
      return other === this;
    }
  }

  const credentials = new WatchedTlsCredentials();
  const stop = watchTlsFiles(tls, {
    intervalMs: tls.reloadIntervalMs,
    onChange: (next) => {
      credentials.apply(secureContextOptions(next));
      tls.onReload?.({ applied: true });
    },
    onError: (error) => tls.onReload?.({ applied: false, error }),
  });
  return { credentials, stop };
}
