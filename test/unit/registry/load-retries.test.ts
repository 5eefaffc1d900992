import { describe, expect, it } from 'vitest';
import { LoadRetries, MAX_POLLS_BETWEEN_TRIES } from '../../../src/registry/load-retries.js';

/** The polls (1-based) on which `key` is tried, over `polls` polls, every try failing the same way on the same files. */
function triedOn(retries: LoadRetries, polls: number, fingerprint = 'same files'): number[] {
  const tried: number[] = [];
  for (let poll = 1; poll <= polls; poll++) {
    if (!retries.shouldTry('m@2', fingerprint)) continue;
    tried.push(poll);
    retries.recordFailure('m@2', fingerprint, 'v2 is corrupt');
  }
  return tried;
}

describe('LoadRetries: when a broken version is tried again', () => {
  it('backs off 1, 2, 4 … polls while its files stay the same, at most MAX_POLLS_BETWEEN_TRIES apart', () => {
    const tried = triedOn(new LoadRetries(), 400);
    expect(tried.slice(0, 8)).toEqual([1, 2, 4, 8, 16, 32, 64, 128]);
    const gaps = tried.slice(1).map((poll, i) => poll - tried[i]!);
    expect(Math.max(...gaps)).toBe(MAX_POLLS_BETWEEN_TRIES);
    expect(gaps.slice(-2)).toEqual([MAX_POLLS_BETWEEN_TRIES, MAX_POLLS_BETWEEN_TRIES]);
  });

  it('tries at once when its files change, and starts the backoff over', () => {
    const retries = new LoadRetries();
    triedOn(retries, 20);
    expect(retries.shouldTry('m@2', 'same files')).toBe(false);
    expect(retries.shouldTry('m@2', 'copied again')).toBe(true);
    expect(retries.recordFailure('m@2', 'copied again', 'v2 is corrupt')).toBe(false); // the same failure: not reported again
    expect(retries.shouldTry('m@2', 'copied again')).toBe(true); // first failure on these files: the next poll tries
  });

  it('reports a failure once per distinct message; success or leaving the repository forgets it', () => {
    const retries = new LoadRetries();
    expect(retries.recordFailure('m@2', 'a', 'checksum mismatch')).toBe(true);
    expect(retries.recordFailure('m@2', 'a', 'checksum mismatch')).toBe(false);
    expect(retries.recordFailure('m@2', 'b', 'not valid ONNX')).toBe(true);
    retries.succeeded('m@2');
    expect(retries.shouldTry('m@2', 'b')).toBe(true);
    expect(retries.recordFailure('m@2', 'b', 'not valid ONNX')).toBe(true); // it served meanwhile: a new failure
    retries.recordFailure('m@3', 'a', 'x');
    retries.recordFailure('other@3', 'a', 'x');
    retries.retainOnly('m', [1, 2]);
    expect(retries.recordFailure('m@3', 'a', 'x')).toBe(true); // forgotten when v3 left
    expect(retries.recordFailure('other@3', 'a', 'x')).toBe(false);
  });
});
