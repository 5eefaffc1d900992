import { readFile, realpath, stat } from 'node:fs/promises';
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
 * The bytes of `file`, resolved and confined as by {@link resolveInside}.
 *
 * @throws ModelHostError `LOAD_FAILED` when it leads out of `root` or is not a regular file
 * @throws Error with the errno `code` (`ENOENT`, ...) and a message relative to `root`
 */
export async function readInside(root: string, file: string, options: ConfineOptions = {}): Promise<Buffer> {
  const real = await resolveInside(root, file, options);
  try {
    return await readFile(real);
  } catch (error) {
    throw fileError(displayPath(root, path.resolve(root, file)), error);
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
