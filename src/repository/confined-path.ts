import { open, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCode, ModelHostError } from '../errors/index.js';

/**
 * Every file modelhost reads from a repository goes through here: resolved through every
 * symlink (`realpath`) and refused unless the real path stays inside the root. Messages
 * name files relative to the root and never quote what a file holds or where a link
 * points; those details travel as the error's `cause`, for the host's logger only.
 */

export interface ConfineOptions {
  /** What the root is called in messages. Default `'the repository'`. */
  readonly rootName?: string;
  readonly model?: string;
  readonly version?: number;
}

/** Whether `real` (a real path) is `root` (a real path) or lies below it. */
export function isInside(root: string, real: string): boolean {
  return real === root || real.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}

/** `file` relative to `root`, with `/` separators, for messages (`mlp/1/model.onnx`). */
export function displayPath(root: string, file: string): string {
  const relative = path.relative(root, file);
  return relative === '' ? '.' : relative.split(path.sep).join('/');
}

/**
 * The real path of `file` (absolute, or relative to `root`), which must be a regular file
 * (or, with `kind`, a folder, or either) inside `root`.
 *
 * @throws ModelHostError `LOAD_FAILED` when it leads out of `root` or is not a regular file
 * @throws Error with the errno `code` (`ENOENT`, `EACCES`, ...) and a message relative to `root`
 */
export async function resolveInside(root: string, file: string, options: ConfineOptions & { kind?: 'file' | 'folder' | 'any' } = {}): Promise<string> {
  const absolute = path.resolve(root, file);
  const shown = displayPath(root, absolute);
  const context = { model: options.model, version: options.version };
  let real: string;
  try {
    real = await realpath(absolute);
  } catch (error) {
    throw fileError(shown, error);
  }
  if (!isInside(root, real)) {
    throw new ModelHostError(ErrorCode.LOAD_FAILED, `${shown} links outside ${options.rootName ?? 'the repository'}`, {
      ...context,
      cause: new Error(`${absolute} resolves to ${real}, outside ${root}`),
    });
  }
  const kind = options.kind ?? 'file';
  let fits: boolean;
  try {
    const stats = await stat(real);
    fits = (kind !== 'folder' && stats.isFile()) || (kind !== 'file' && stats.isDirectory());
  } catch (error) {
    throw fileError(shown, error);
  }
  // A FIFO or device would block or never end a read.
  if (!fits) throw new ModelHostError(ErrorCode.LOAD_FAILED, `${shown} is not a ${kind === 'folder' ? 'folder' : kind === 'any' ? 'regular file or folder' : 'regular file'}`, context);
  return real;
}

/**
 * The bytes of `file`, resolved and confined as by {@link resolveInside}. With `maxBytes`, a
 * file larger than that is refused before its bytes are held (and one that grows while it
 * is read stops at the bound): a settings file the size of a disk is a mistake or an attack.
 *
 * @throws ModelHostError `LOAD_FAILED` when it leads out of `root` or is not a regular file
 * @throws Error with the errno `code` (`ENOENT`, ...; `EFBIG` past `maxBytes`) and a message relative to `root`
 */
export async function readInside(root: string, file: string, options: ConfineOptions & { maxBytes?: number } = {}): Promise<Buffer> {
  const real = await resolveInside(root, file, options);
  const shown = displayPath(root, path.resolve(root, file));
  try {
    return options.maxBytes === undefined ? await readFile(real) : await readAtMost(real, options.maxBytes, shown);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EFBIG') throw error;
    throw fileError(shown, error);
  }
}

const READ_CHUNK_BYTES = 64 * 1024;

/** The bytes of `real`, or an `EFBIG` error once more than `maxBytes` are found (by size or by reading). */
async function readAtMost(real: string, maxBytes: number, shown: string): Promise<Buffer> {
  const tooLarge = () => Object.assign(new Error(`${shown} is larger than ${maxBytes} bytes, the limit of a ${path.basename(shown)}`), { code: 'EFBIG' });
  const handle = await open(real, 'r');
  try {
    if ((await handle.stat()).size > maxBytes) throw tooLarge();
    // Read to the end, not to the size stat gave: a file that grew since is refused too, not cut.
    const chunks: Buffer[] = [];
    let length = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(READ_CHUNK_BYTES);
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, length);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      length += bytesRead;
      if (length > maxBytes) throw tooLarge();
    }
    return Buffer.concat(chunks, length);
  } finally {
    await handle.close();
  }
}

/** An errno error re-said without the absolute path Node puts in its message; `code` kept. */
export function fileError(shown: string, error: unknown): Error & { code?: string } {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return Object.assign(new Error(`${shown} ${reasonOf(error)}`, { cause: error }), { code });
}

const REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'does not exist',
  ENOTDIR: 'does not exist (a part of its path is a file)',
  EACCES: 'is not readable (permission denied)',
  EPERM: 'is not readable (operation not permitted)',
  EISDIR: 'is a folder, not a file',
  ELOOP: 'is a symlink loop',
  EMFILE: 'could not be opened (too many open files)',
  ENAMETOOLONG: 'has too long a name',
  EFBIG: 'is too large',
};

/** Why a file could not be read, from its errno code alone. */
export function reasonOf(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code !== 'string') return 'could not be read';
  return REASONS[code] ?? `could not be read (${code})`;
}

/**
 * A name taken from a file (a `SHA256SUMS` entry, a weights path) shown only when it is a
 * plain relative file name; anything else (absolute, `..`, control characters, a line of
 * some other file) is not repeated.
 */
export function safeName(name: string): string | undefined {
  return /^[A-Za-z0-9_][A-Za-z0-9_.+-]*(\/[A-Za-z0-9_][A-Za-z0-9_.+-]*)*$/.test(name) && name.length <= 200 ? name : undefined;
}
