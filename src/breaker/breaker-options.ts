import { checkBoolean, checkInteger, checkNumber, checkObject, checkOneOf, MAX_TIMER_MS } from '../errors/index.js';

/** Circuit breaker of each loaded version (opossum's options, in ms). */
export interface BreakerOptions {
  /** `false` runs without a breaker. Default on. */
  enabled?: boolean;
  /** Failure share (0–100) of runtime calls in the rolling window that opens the breaker. Default 50. */
  errorThresholdPercentage?: number;
  /** Runtime calls the rolling window must hold before the breaker may open. Default 10. */
  volumeThreshold?: number;
  /** How long the breaker stays open before letting a probe through (half-open). Default 30000. */
  resetTimeoutMs?: number;
  /** The rolling window of call statistics, ms: 10 slices of `floor(rollingCountTimeoutMs / 10)` ms, as opossum keeps it. Default 10000. */
  rollingCountTimeoutMs?: number;
  /** A runtime call taking longer counts as a failure. Default: none (instances.runTimeoutMs bounds thread instances). */
  timeoutMs?: number;
  /** While a version's breaker is open, serve its requests from the previous version instead of failing them. */
  fallback?: 'none' | 'previous-version';
}

export interface ResolvedBreakerOptions {
  readonly enabled: boolean;
  readonly errorThresholdPercentage: number;
  readonly volumeThreshold: number;
  readonly resetTimeoutMs: number;
  readonly rollingCountTimeoutMs: number;
  readonly timeoutMs: number | undefined;
  readonly fallback: 'none' | 'previous-version';
}

export const DEFAULT_BREAKER_OPTIONS: ResolvedBreakerOptions = Object.freeze({
  enabled: true,
  errorThresholdPercentage: 50,
  volumeThreshold: 10,
  resetTimeoutMs: 30_000,
  rollingCountTimeoutMs: 10_000,
  timeoutMs: undefined,
  fallback: 'none',
});

const KEYS = ['enabled', 'errorThresholdPercentage', 'volumeThreshold', 'resetTimeoutMs', 'rollingCountTimeoutMs', 'timeoutMs', 'fallback'];

export function validateBreakerOptions(value: unknown, path: string): void {
  const b = checkObject(value, path, KEYS);
  if (b['enabled'] !== undefined) checkBoolean(b['enabled'], `${path}.enabled`);
  if (b['errorThresholdPercentage'] !== undefined) checkNumber(b['errorThresholdPercentage'], `${path}.errorThresholdPercentage`, 0, 100);
  if (b['volumeThreshold'] !== undefined) checkInteger(b['volumeThreshold'], `${path}.volumeThreshold`, 0);
  if (b['resetTimeoutMs'] !== undefined) checkNumber(b['resetTimeoutMs'], `${path}.resetTimeoutMs`, 1, MAX_TIMER_MS);
  if (b['rollingCountTimeoutMs'] !== undefined) checkNumber(b['rollingCountTimeoutMs'], `${path}.rollingCountTimeoutMs`, 10, MAX_TIMER_MS);
  if (b['timeoutMs'] !== undefined) checkNumber(b['timeoutMs'], `${path}.timeoutMs`, 1, MAX_TIMER_MS);
  if (b['fallback'] !== undefined) checkOneOf(b['fallback'], `${path}.fallback`, ['none', 'previous-version']);
}

export function resolveBreakerOptions(value: BreakerOptions | undefined): ResolvedBreakerOptions {
  return Object.freeze({ ...DEFAULT_BREAKER_OPTIONS, ...(value ?? {}) }) as ResolvedBreakerOptions;
}
