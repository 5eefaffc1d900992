import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * A built file (under `dist/`) must exist and be newer than every source file, or a bench
 * would measure stale code. @throws Error naming the newer source, or the missing build.
 */
export function assertFreshBuild(builtFile: string, why: string): void {
  let built: number;
  try {
    built = statSync(builtFile).mtimeMs;
  } catch {
    throw new Error(`${path.relative(REPO_ROOT, builtFile)} is missing: run \`npm run build\` first (${why})`);
  }
  const newest = newestMtime(path.join(REPO_ROOT, 'src'));
  if (newest.mtimeMs > built) throw new Error(`dist/ is older than ${path.relative(REPO_ROOT, newest.file)}: run \`npm run build\` first`);
}

function newestMtime(dir: string): { file: string; mtimeMs: number } {
  let newest = { file: dir, mtimeMs: 0 };
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    const candidate = entry.isDirectory() ? newestMtime(file) : { file, mtimeMs: statSync(file).mtimeMs };
    if (candidate.mtimeMs > newest.mtimeMs) newest = candidate;
  }
  return newest;
}
