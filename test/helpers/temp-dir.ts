import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach } from 'vitest';

/**
 * Fresh temporary folders, removed after each test (`each`) or after the file (`all`,
 * for folders made in `beforeAll`).
 */
export function useTempDirs(scope: 'each' | 'all' = 'each'): () => Promise<string> {
  const dirs: string[] = [];
  (scope === 'each' ? afterEach : afterAll)(async () => {
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });
  return async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'modelhost-test-'));
    dirs.push(dir);
    return dir;
  };
}
