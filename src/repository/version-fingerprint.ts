import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';

/** The most entries a fingerprint looks at: a version folder holds a handful of files. */
const MAX_ENTRIES = 4096;

/**
 * A cheap summary of a version folder's files (relative path, size, modification time,
 * below it, links not followed): it changes when a copy completes or a file is replaced,
 * so a version that failed to load is read again when its files change, not on every poll.
 * Never reads a file's contents. Past MAX_ENTRIES the rest is summarized by the count.
 */
export async function versionFingerprint(dir: string): Promise<string> {
  const parts: string[] = [];
  const pending = [''];
  let seen = 0;
  while (pending.length > 0) {
    const relative = pending.pop()!;
    const entries = await readdir(path.join(dir, relative), { withFileTypes: true }).catch(() => []);
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (++seen > MAX_ENTRIES) return `${parts.join('\n')}\n…${seen}`;
      const file = path.join(relative, entry.name);
      if (entry.isDirectory()) {
        pending.push(file);
        parts.push(`${file}/`);
        continue;
      }
      const info = await lstat(path.join(dir, file)).catch(() => undefined);
      parts.push(`${file} ${info?.size ?? '?'} ${info?.mtimeMs ?? '?'}`);
    }
  }
  return parts.join('\n');
}
