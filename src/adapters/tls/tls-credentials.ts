import { readFile, stat } from 'node:fs/promises';
import { createSecureContext, type SecureContextOptions } from 'node:tls';

/**
 * Where a TLS server's certificate material lives: PEM files, read at start and again
 * whenever they change (rotation without restart). Shared by every transport modelhost
 * serves over TLS (HTTPS today, gRPC later), so they all rotate the same way.
 */
export interface TlsFiles {
  /** The server certificate chain, PEM. */
  readonly certFile: string;
  /** The server's private key, PEM. */
  readonly keyFile: string;
  /**
   * CA certificate(s), PEM. When given, clients must present a certificate signed by one of
   * them (mutual TLS); without it, any client may connect.
   */
  readonly caFile?: string;
}

/** The contents of the files, checked to form a usable pair (the key matches the certificate). */
export interface TlsCredentials {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer | undefined;
}

/**
 * Reads and checks the files.
 *
 * @throws Error naming the file that could not be read, or saying the material is unusable
 *   (a key that does not match the certificate, a PEM that does not parse)
 */
export async function readTlsCredentials(files: TlsFiles): Promise<TlsCredentials> {
  const read = async (file: string, what: string) => {
    try {
      return await readFile(file);
    } catch (error) {
      throw new Error(`the TLS ${what} ${file} could not be read: ${(error as Error).message}`, { cause: error });
    }
  };
  const [cert, key, ca] = await Promise.all([read(files.certFile, 'certificate'), read(files.keyFile, 'key'), files.caFile === undefined ? undefined : read(files.caFile, 'CA certificate')]);
  const credentials = { cert, key, ca };
  try {
    // Throws on a mismatched key, a bad PEM: better here than at the first handshake.
    createSecureContext(secureContextOptions(credentials));
  } catch (error) {
    const what = files.caFile === undefined ? 'certificate and key' : 'certificate, key and CA';
    throw new Error(`the TLS ${what} are not usable together: ${(error as Error).message}`, { cause: error });
  }
  return credentials;
}

/** What `tls.createServer`, `https.createServer` and `server.setSecureContext` take. */
export function secureContextOptions(credentials: TlsCredentials): SecureContextOptions {
  return { cert: credentials.cert, key: credentials.key, ...(credentials.ca === undefined ? {} : { ca: credentials.ca }), minVersion: 'TLSv1.2' };
}

/** Server options beyond the context: with a CA, a client certificate is required and verified. */
export function clientAuthOptions(credentials: TlsCredentials): { requestCert: boolean; rejectUnauthorized: boolean } {
  return credentials.ca === undefined ? { requestCert: false, rejectUnauthorized: false } : { requestCert: true, rejectUnauthorized: true };
}

export interface TlsWatchOptions {
  /** How often the files are checked for a change, ms. Default 5000. */
  readonly intervalMs?: number;
  /** New, checked credentials: apply them. */
  readonly onChange: (credentials: TlsCredentials) => void;
  /** Changed files that are not usable (yet: a key written after its certificate): the old ones stay. */
  readonly onError: (error: Error) => void;
}

/**
 * Checks the files every `intervalMs` and reports new credentials once all of them read
 * and fit together. A change is a new inode, size or mtime behind the path, so rotation by
 * rename and Kubernetes' symlink swap of mounted secrets are both seen. Timers are unref-ed.
 *
 * @returns a function that stops watching
 */
export function watchTlsFiles(files: TlsFiles, options: TlsWatchOptions): () => void {
  const paths = [files.certFile, files.keyFile, ...(files.caFile === undefined ? [] : [files.caFile])];
  const signature = async () => (await Promise.all(paths.map(async (p) => stat(p).then((s) => `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}`, () => 'missing')))).join('|');
  let last: Promise<string> = signature();
  let failedAt: string | undefined;
  let checking = false;
  const timer = setInterval(() => {
    if (checking) return;
    checking = true;
    void (async () => {
      const seen = await last;
      const now = await signature();
      if (now === seen) return;
      try {
        const credentials = await readTlsCredentials(files);
        last = Promise.resolve(now);
        failedAt = undefined;
        options.onChange(credentials);
      } catch (error) {
        // Said once per state of the files, not on every tick until they are fixed.
        if (failedAt !== now) options.onError(error as Error);
        failedAt = now;
      }
    })().finally(() => {
      checking = false;
    });
  }, options.intervalMs ?? 5000);
  timer.unref();
  return () => clearInterval(timer);
}
