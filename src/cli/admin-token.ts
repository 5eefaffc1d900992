import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** The environment variable `modelhost serve` reads the admin token from. */
export const ADMIN_TOKEN_ENV = 'MODELHOST_ADMIN_TOKEN';

/** Shorter tokens are refused: a guessable token is no guard. */
export const MIN_TOKEN_LENGTH = 16;

/**
 * The admin bearer token of `modelhost serve`: the contents of `file` (surrounding
 * whitespace trimmed, as `echo token > file` leaves a newline), else the environment
 * variable, else none (admin routes stay off). Never a flag value: those show in `ps`.
 *
 * @throws Error when the file cannot be read or the token is shorter than MIN_TOKEN_LENGTH
 */
export function readAdminToken(file: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  let token: string | undefined;
  let from: string;
  if (file !== undefined) {
    try {
      token = readFileSync(file, 'utf8').trim();
    } catch (error) {
      throw new Error(`--admin-token-file ${file} could not be read: ${(error as Error).message}`, { cause: error });
    }
    from = `--admin-token-file ${file}`;
  } else {
    token = env[ADMIN_TOKEN_ENV];
    if (token === undefined) return undefined;
    token = token.trim();
    from = ADMIN_TOKEN_ENV;
  }
  if (/\s/.test(token)) throw new Error(`the admin token from ${from} must be one word (no spaces or line breaks inside)`);
  if (token.length < MIN_TOKEN_LENGTH) throw new Error(`the admin token from ${from} must be at least ${MIN_TOKEN_LENGTH} characters, got ${token.length}`);
  return token;
}

/**
 * An `authorize` hook accepting `Authorization: Bearer <token>` and nothing else (401).
 * Both sides are hashed first and compared with `timingSafeEqual`, so the time a refusal
 * takes tells nothing about the token, not even its length.
 */
export function bearerTokenAuthorizer(token: string): (request: { readonly headers: Readonly<Record<string, string | readonly string[] | undefined>> }) => true | 401 {
  const expected = sha256(token);
  return ({ headers }) => {
    const header = headers['authorization'];
    if (typeof header !== 'string') return 401;
    const match = /^Bearer +(\S+) *$/i.exec(header);
    if (match === null) return 401;
    return timingSafeEqual(sha256(match[1]!), expected) ? true : 401;
  };
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
