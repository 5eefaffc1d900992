import { ErrorCode } from './error-code.js';

/**
 * Who a failed request is blamed on (docs/observability.md, "Who is blamed"): one rule for
 * the rollout guard, the statistics' `modelErrors` and the status page's error rate. A
 * failure is the version's when the runtime failed (INFERENCE_FAILED), its time ran out while
 * it ran (DEADLINE_EXCEEDED), or its breaker refused (CIRCUIT_OPEN) — unless it was pinned on
 * the request (`blame: 'request'`). Bad input, cancellation, a full queue, shutdown: the caller's.
 */
const VERSION_FAULTS: ReadonlySet<string> = new Set([ErrorCode.INFERENCE_FAILED, ErrorCode.DEADLINE_EXCEEDED, ErrorCode.CIRCUIT_OPEN]);

export function isVersionFault(code: string, blame: 'request' | 'model' | undefined): boolean {
  return blame !== 'request' && VERSION_FAULTS.has(code);
}
