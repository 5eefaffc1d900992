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

describe('review (s6): half-open with two batches cut at once', () => {
  it('one batch is the probe and answers exactly; the other is refused with CIRCUIT_OPEN; the breaker closes and later batches are exact', async () => {
    process.on('unhandledRejection', onUnhandled);
    let failing = false;
    let gate: (() => void) | undefined;
    let hold = false;
    const runtime = fakeRuntime({
      runGate: () => (hold ? new Promise<void>((r) => (gate = r)) : Promise.resolve()),
      failRun: () => (failing ? new Error('GPU fell off') : undefined),
    });
    const host = new ModelHost({ runtimes: { fake: runtime }, defaults: { batching: { maxBatchSize: 3, maxDelayMs: 1 }, concurrency: 2, breaker } });
    await host.load('m', { source: FAKE_SOURCE });
    failing = true;
    for (let i = 0; i < 4; i++) await settle(host.predict('m', [1, 2, 3, 4]));
    expect(host.status('m').versions[0]!.breaker).toBe('open');
    failing = false;
    await vi.waitFor(() => expect(host.status('m').versions[0]!.breaker).toBe('halfOpen'));
    hold = true;
    const values = [10, 11, 12, 13, 14, 15];
    const out = values.map((v) => host.predict('m', [v, v, v, v]).then((o) => Array.from(o['y']!.data as Float32Array), (e: HostError) => e.code));
    await new Promise((r) => setImmediate(r));
    hold = false;
    gate!();
    const results = await Promise.all(out);
    const answered = results.filter((r) => Array.isArray(r));
    expect(answered).toHaveLength(3); // the probe batch
    for (const [k, r] of results.entries()) expect([Array(4).fill(2 * values[k]! + 1), ErrorCode.CIRCUIT_OPEN]).toContainEqual(r);
    expect(host.status('m').versions[0]!.breaker).toBe('closed');
    expect(await Promise.all([20, 21, 22].map((v) => host.predict('m', [v, v, v, v]).then((o) => Array.from(o['y']!.data as Float32Array))))).toEqual([20, 21, 22].map((v) => Array(4).fill(2 * v + 1)));
    await host.close();
    expect(unhandled).toEqual([]);
  });
});
