import { afterEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode, ModelHost, type ModelHostError } from '../../../src/index.js';
import { FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';

const breaker = { volumeThreshold: 5, errorThresholdPercentage: 50, resetTimeoutMs: 50 };
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
  unhandled.length = 0;
});

describe('review: a recorded success never rejects unhandled', () => {
  it('a logger that throws on the half-open probe closing the breaker becomes no unhandled rejection, and the breaker still closes', async () => {
    process.on('unhandledRejection', onUnhandled);
    let failing = true;
    const runtime = fakeRuntime({ failRun: () => (failing && runtime.runs > 1 ? new Error('GPU fell off') : undefined) });
    const logger = {
      debug() {},
      info() {},
      warn(message: string) {
        if (message === 'circuit breaker') throw new Error('the log transport is gone');
      },
      error() {},
    };
    const host = new ModelHost({ runtimes: { fake: runtime }, defaults: { batching: false, breaker }, logger });
    await host.load('affine', { source: FAKE_SOURCE });
    for (let i = 0; i < 5; i++) await host.predict('affine', [1, 2, 3, 4]).catch((e: ModelHostError) => e.code);
    expect(host.status('affine').versions[0]!.breaker).toBe('open');
    failing = false;
    await vi.waitFor(() => expect(host.status('affine').versions[0]!.breaker).toBe('halfOpen'));
    await expect(host.predict('affine', [1, 2, 3, 4])).resolves.toBeDefined(); // the probe
    await new Promise((r) => setTimeout(r, 20));
    expect(unhandled).toEqual([]);
    expect(host.status('affine').versions[0]!.breaker).toBe('closed');
    await expect(host.predict('affine', [1, 2, 3, 4])).resolves.toBeDefined();
    await host.close();
  });

  it('successes of batches that outlive the breaker opening, and close() mid-batch, settle without unhandled rejections', async () => {
    process.on('unhandledRejection', onUnhandled);
    let release!: () => void;
    let hold = false;
    let failing = false;
    const runtime = fakeRuntime({
      runGate: () => (hold ? new Promise<void>((r) => (release = r)) : Promise.resolve()),
      failRun: () => (failing ? new Error('GPU fell off') : undefined),
    });
    const host = new ModelHost({ runtimes: { fake: runtime }, defaults: { batching: false, breaker, concurrency: 2 } });
    await host.load('affine', { source: FAKE_SOURCE });
    hold = true;
    const slow = host.predict('affine', [1, 2, 3, 4]);
    await new Promise((r) => setImmediate(r));
    hold = false;
    failing = true;
    for (let i = 0; i < 6; i++) await host.predict('affine', [1, 2, 3, 4]).catch((e: ModelHostError) => e.code);
    const state = host.status('affine').versions[0]!.breaker;
    failing = false;
    release();
    const closing = host.close();
    expect(await slow.then(() => 'ok', (e: ModelHostError) => e.code)).toMatch(/ok|SHUTTING_DOWN/);
    await closing;
    await new Promise((r) => setTimeout(r, 20));
    expect(unhandled).toEqual([]);
    expect(state).toBe('open'); // the slow batch's success was recorded while open
    expect(ErrorCode.CIRCUIT_OPEN).toBe('CIRCUIT_OPEN');
  });
});
