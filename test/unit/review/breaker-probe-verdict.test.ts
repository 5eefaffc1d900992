import { afterEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode, ModelHost, ModelHostError } from '../../../src/index.js';

type HostError = ModelHostError;
import { FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';

/**
 * Review of the breaker's admit/bound split (session 6): a half-open breaker admits one
 * probe batch and waits for its verdict. A runtime may itself throw a ModelHostError whose
 * code is CIRCUIT_OPEN (a pipeline model calling another host whose breaker is open): that is
 * the run failing, not this breaker refusing, and its verdict must still be recorded.
 */
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
  unhandled.length = 0;
});

const breaker = { volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeoutMs: 30 };
const settle = (p: Promise<unknown>) => p.then(() => 'ok', (e: HostError) => e.code);

describe('review (s6): a probe whose run fails with a CIRCUIT_OPEN of its own still gets a verdict', () => {
  it('the half-open probe fails with a downstream CIRCUIT_OPEN; once the downstream recovers, the version serves again', async () => {
    process.on('unhandledRejection', onUnhandled);
    let mode: 'fail' | 'downstream-open' | 'ok' = 'ok';
    const runtime = fakeRuntime({
      failRun: () =>
        mode === 'fail'
          ? new Error('GPU fell off')
          : mode === 'downstream-open'
            ? new ModelHostError(ErrorCode.CIRCUIT_OPEN, "model 'embedder' v1: the circuit breaker is open", { model: 'embedder', version: 1 })
            : undefined,
    });
    const host = new ModelHost({ runtimes: { fake: runtime }, defaults: { batching: false, breaker } });
    await host.load('pipeline', { source: FAKE_SOURCE });
    mode = 'fail';
    for (let i = 0; i < 4; i++) await settle(host.predict('pipeline', [1, 2, 3, 4]));
    expect(host.status('pipeline').versions[0]!.breaker).toBe('open');
    mode = 'downstream-open';
    await vi.waitFor(() => expect(host.status('pipeline').versions[0]!.breaker).toBe('halfOpen'));
    // The probe: its run failed (the downstream refused); this version's breaker did not refuse it.
    const probe = await host.predict('pipeline', [1, 2, 3, 4]).catch((e: HostError) => e);
    expect(probe).toMatchObject({ code: ErrorCode.INFERENCE_FAILED, model: 'pipeline', cause: expect.objectContaining({ code: ErrorCode.CIRCUIT_OPEN, model: 'embedder' }) });
    mode = 'ok';
    // The probe's verdict was recorded (a failure: the breaker opens again, then half-opens and probes anew).
    await vi.waitFor(async () => expect(await settle(host.predict('pipeline', [1, 2, 3, 4]))).toBe('ok'), { timeout: 2000, interval: 20 });
    expect(host.status('pipeline').versions[0]!.breaker).toBe('closed');
    await host.close();
    expect(unhandled).toEqual([]);
  });
});
