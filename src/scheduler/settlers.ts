import type { ModelHostError } from '../errors/index.js';
import type { Tensor } from '../tensor/index.js';

type Outputs = Record<string, Tensor>;

/**
 * A request promise's settle functions without a closure per promise:
 * `new Promise(captureSettlers)` leaves them in `settlers`, to be taken at once (before the
 * next promise is made).
 *
 * Why: the executor arrow of `new Promise((resolve, reject) => …)` is a function and a
 * context of what it captures, allocated per request: ~120 of the ~1.2 KB of garbage a
 * request made on the hot path. `Promise.withResolvers` does this natively from Node 22.
 */
export const settlers: { resolve: ((outputs: Outputs) => void) | undefined; reject: ((error: ModelHostError) => void) | undefined } = {
  resolve: undefined,
  reject: undefined,
};

export function captureSettlers(resolve: (outputs: Outputs) => void, reject: (error: ModelHostError) => void): void {
  settlers.resolve = resolve;
  settlers.reject = reject;
}
