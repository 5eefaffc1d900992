import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, ModelHost, type ModelHostError } from '../../../src/index.js';
import { FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
  unhandled.length = 0;
});

/** A logger whose transport is gone: every call throws. */
const brokenLogger = {
  debug() {},
  info() {},
  warn() {
    throw new Error('the log transport is gone');
  },
  error() {
    throw new Error('the log transport is gone');
  },
};

const settle = (p: Promise<unknown>) => p.then(() => 'ok', (e: ModelHostError) => e.code);

describe('review (s6): a batch settles every request once, whatever its listeners and logger do', () => {
  it.each(['batchCompleted', 'requestCompleted', 'batchFailed', 'requestFailed'] as const)('a throwing %s listener with a throwing logger: every request settles once, the host drains, no unhandled rejection', async (event) => {
    process.on('unhandledRejection', onUnhandled);
    const failing = event === 'batchFailed' || event === 'requestFailed';
    const runtime = fakeRuntime({ failRun: () => (failing && runtime.runs > 1 ? new Error('GPU fell off') : undefined) });
    const host = new ModelHost({ runtimes: { fake: runtime }, defaults: { batching: { maxBatchSize: 4, maxDelayMs: 1 } }, logger: brokenLogger });
    await host.load('affine', { source: FAKE_SOURCE });
    host.on(event, () => {
      throw new Error('listener bug');
    });
    const outcomes: string[][] = [];
    for (let round = 0; round < 5; round++) {
      outcomes.push(await Promise.all([1, 2, 3].map((i) => settle(host.predict('affine', [i, i, i, i])))));
    }
    const expected = failing ? 'INFERENCE_FAILED' : 'ok';
    expect(outcomes).toEqual(Array.from({ length: 5 }, () => [expected, expected, expected]));
    expect(host.status('affine').versions[0]!.pending).toBe(0);
    const closed = host.close().then(() => 'closed');
    const timeout = new Promise((r) => setTimeout(() => r('hung'), 2000).unref());
    expect(await Promise.race([closed, timeout])).toBe('closed');
    await new Promise((r) => setTimeout(r, 10));
    expect(unhandled).toEqual([]);
  });

  it('close() with a run past the drain bound and a throwing logger still ends, refusing what is left with SHUTTING_DOWN', async () => {
    process.on('unhandledRejection', onUnhandled);
    let hold = false;
    const runtime = fakeRuntime({ runGate: () => (hold ? new Promise<void>(() => {}) : Promise.resolve()) });
    const host = new ModelHost({ runtimes: { fake: runtime }, drainTimeoutMs: 20, logger: brokenLogger });
    await host.load('affine', { source: FAKE_SOURCE });
    hold = true;
    const stuck = settle(host.predict('affine', [1, 2, 3, 4]));
    await new Promise((r) => setImmediate(r));
    await expect(host.close()).resolves.toBeUndefined();
    expect(await stuck).toBe(ErrorCode.SHUTTING_DOWN);
    expect(unhandled).toEqual([]);
  });
});
