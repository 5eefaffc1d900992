import { ErrorCode, ModelHostError } from '../errors/index.js';
import { isVersion } from './model-name.js';

/**
 * Which versions on disk a model serves (TF Serving's `model_version_policy`):
 * the newest N (default 1), an explicit list, or all of them.
 */
export type VersionPolicy = { readonly latest: number } | { readonly specific: readonly number[] } | 'all';

export const DEFAULT_VERSION_POLICY: VersionPolicy = Object.freeze({ latest: 1 });

export function validateVersionPolicy(value: unknown, path: string): VersionPolicy {
  if (value === 'all') return 'all';
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const keys = Object.keys(value);
    const record = value as Record<string, unknown>;
    if (keys.length === 1 && keys[0] === 'latest') {
      if (isVersion(record['latest'])) return { latest: record['latest'] };
      throw invalid(`${path}.latest must be an integer ≥ 1, got ${JSON.stringify(record['latest'])}`);
    }
    if (keys.length === 1 && keys[0] === 'specific') {
      const list = record['specific'];
      if (Array.isArray(list) && list.length > 0 && list.every(isVersion)) return { specific: [...new Set(list as number[])].sort((a, b) => a - b) };
      throw invalid(`${path}.specific must be a non-empty array of positive integers, got ${JSON.stringify(list)}`);
    }
  }
  throw invalid(`${path} must be { latest: N }, { specific: [versions] } or 'all', got ${JSON.stringify(value)}`);
}

/** The versions the policy selects from those available, newest first. */
export function selectVersions(available: readonly number[], policy: VersionPolicy): number[] {
  const newestFirst = [...available].sort((a, b) => b - a);
  if (policy === 'all') return newestFirst;
  if ('latest' in policy) return newestFirst.slice(0, policy.latest);
  const wanted = new Set(policy.specific);
  return newestFirst.filter((v) => wanted.has(v));
}

function invalid(message: string): ModelHostError {
  return new ModelHostError(ErrorCode.INVALID_CONFIG, message);
}
