import { createServer, type Server } from 'node:https';
import type { RequestListener } from 'node:http';
import { clientAuthOptions, readTlsCredentials, secureContextOptions, watchTlsFiles, type TlsFiles } from './tls-credentials.js';

export interface HttpsServerOptions extends TlsFiles {
  /** How often the certificate files are checked for a change, ms. Default 5000. */
  readonly reloadIntervalMs?: number;
  /** Told when rotated credentials are applied, or refused (the old ones keep serving). */
  readonly onReload?: (event: { readonly applied: true } | { readonly applied: false; readonly error: Error }) => void;
}

/**
 * An HTTPS server for `listener`: the certificate and key from files, client certificates
 * required and verified when a CA file is given (mutual TLS), and new files picked up
 * without a restart (`server.setSecureContext`): connections already open keep the
 * credentials they shook hands with, new ones get the new. Watching stops when the server
 * closes.
 *
 * @throws Error when the files cannot be read or do not fit together (see readTlsCredentials)
 */
export async function createHttpsServer(listener: RequestListener, options: HttpsServerOptions): Promise<Server> {
  const credentials = await readTlsCredentials(options);
  const server = createServer({ ...secureContextOptions(credentials), ...clientAuthOptions(credentials) }, listener);
  const stop = watchTlsFiles(options, {
    intervalMs: options.reloadIntervalMs,
    onChange: (next) => {
      // Whether a CA is given is fixed at start: requestCert is a server option, not a context one.
      server.setSecureContext(secureContextOptions(next));
      options.onReload?.({ applied: true });
    },
    onError: (error) => options.onReload?.({ applied: false, error }),
  });
  server.once('close', stop);
  return server;
}
