import type { VersionPolicy } from '../repository/index.js';

/**
 * Versions to try when some of those `{ latest: N }` selected failed to load (the newest
 * half-written at start, say): the older versions on disk, newest first. TF Serving keeps
 * serving what it can; the failed ones are tried again by the next poll or `load()`.
 * Explicit policies (`specific`, `all`) name their versions, so they get no substitutes.
 */
export function fallbackVersions(available: readonly number[], selected: readonly number[], policy: VersionPolicy): number[] {
  if (policy === 'all' || !('latest' in policy) || selected.length === 0) return [];
  const oldest = Math.min(...selected);
  return available.filter((v) => v < oldest).sort((a, b) => b - a);
}
