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
 * Resolves once the file is open: a file that cannot be opened (a directory at its path, no
 * permission) is refused here, not left to fail at the first write and drop every sample.
 * @throws the directory's error (ENOENT, EACCES, ENOTDIR, ...) or the file's.
 */
export async function openRotatingFile(rfs: typeof import('rotating-file-stream'), file: RotatingFile): Promise<Writable> {
  await makeDir(dirname(file.path));
  const stream = rfs.createStream(basename(file.path), {
    path: dirname(file.path),
    size: file.size as `${number}M`,
    ...(file.interval === undefined ? {} : { interval: file.interval as `${number}d` }),
    maxFiles: file.maxFiles,
    compress: file.compress ? 'gzip' : false,
  });
  await new Promise<void>((resolve, reject) => {
    const opened = () => {
      stream.off('error', failed);
      resolve();
    };
    const failed = (error: Error) => {
      stream.off('open', opened);
      stream.destroy();
      reject(error);
    };
    stream.once('open', opened);
    stream.once('error', failed);
  });
  return stream;
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
