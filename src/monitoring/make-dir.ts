import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * `mkdir -p`, one level at a time. Node's `mkdir(dir, { recursive: true })` never returns for
 * a directory that cannot be made under /proc (it retries ENOENT forever, on a libuv thread a
 * worker's terminate() cannot stop), and rotating-file-stream calls it: the sink makes the
 * directory first, so such a path is refused at open.
 * @throws the first error other than EEXIST (ENOENT, EACCES, ENOTDIR, ...), naming the path;
 *   ENOTDIR when `dir` exists but is not a directory (EEXIST says only that the name is taken).
 */
export async function makeDir(dir: string): Promise<void> {
  try {
    await mkdir(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return assertDirectory(dir);
    const parent = dirname(dir);
    if (code !== 'ENOENT' || parent === dir) throw error;
    await makeDir(parent);
    await mkdir(dir).catch((again: NodeJS.ErrnoException) => {
      if (again.code !== 'EEXIST') throw again;
      return assertDirectory(dir);
    });
  }
}

async function assertDirectory(dir: string): Promise<void> {
  if ((await stat(dir)).isDirectory()) return;
  throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${dir}'`), { code: 'ENOTDIR', path: dir, syscall: 'mkdir' });
}
