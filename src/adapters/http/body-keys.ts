/**
 * One rule for every JSON body of the admin and feedback routes: a key the route does not
 * accept is refused (400), never ignored — a misspelled `canari` must not turn a canary
 * into a full swap.
 */
import { quoted } from '../../errors/option-checks.js';
import { badRequest } from './http-errors.js';

/**
 * @throws ModelHostError INVALID_INPUT (400) naming the first own key of `body` not in
 * `accepted`, the accepted keys, and the nearest accepted key when one is a typo away.
 */
export function checkKeys(where: string, body: Record<string, unknown>, accepted: readonly string[]): void {
  for (const key of Object.keys(body)) {
    if (accepted.includes(key)) continue;
    const near = accepted.find((a) => distance(a, key) <= 2);
    const list = accepted.length === 0 ? 'none' : accepted.map((a) => JSON.stringify(a)).join(', ');
    throw badRequest(`${where}: unknown key ${quoted(key)}${near === undefined ? '' : ` (did you mean ${JSON.stringify(near)}?)`}; accepted keys: ${list}`);
  }
}

/** Levenshtein distance, capped: keys are short, and only "within 2" matters. */
function distance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2 || b.length > 64) return 3;
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length]!;
}
