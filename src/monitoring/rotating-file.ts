import { basename, dirname } from 'node:path';
import type { Writable } from 'node:stream';
import { makeDir } from './make-dir.js';

/** The sink's file and how it rotates (`JsonlSink.open`'s options, defaults applied). */
export interface RotatingFile {
  readonly path: string;
  /** rotating-file-stream's size, e.g. `'10M'`. */
  readonly size: string;
  /** rotating-file-stream's interval, e.g. `'1d'`. */
  readonly interval: string | undefined;
  readonly maxFiles: number;
  /** gzip rotated files. */
  readonly compress: boolean;
}

/**
 * Makes the file's directory ({@link makeDir}: a path Node cannot make is refused here) and
 * opens the file with rotating-file-stream; the in-thread sink and the sink's worker both.
 * @throws the directory's error (ENOENT, EACCES, ENOTDIR, ...).
 */
export async function openRotatingFile(rfs: typeof import('rotating-file-stream'), file: RotatingFile): Promise<Writable> {
  await makeDir(dirname(file.path));
  return rfs.createStream(basename(file.path), {
    path: dirname(file.path),
    size: file.size as `${number}M`,
    ...(file.interval === undefined ? {} : { interval: file.interval as `${number}d` }),
    maxFiles: file.maxFiles,
    compress: file.compress ? 'gzip' : false,
  });
}

/**
 * `size` in bytes (rotating-file-stream's syntax: an integer and B, K, M or G), or undefined
 * when it does not parse (rotating-file-stream then refuses it at open).
 */
export function rotationBytes(size: string): number | undefined {
  const match = /^(\d+)([BKMG])$/.exec(size);
  if (match === null) return undefined;
  return Number(match[1]) * { B: 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[match[2] as 'B' | 'K' | 'M' | 'G'];
}
