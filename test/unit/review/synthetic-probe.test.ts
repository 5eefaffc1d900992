import { describe, expect, it } from 'vitest';
import { ErrorCode, ModelHost, type BreakerStateChangedEvent, type ModelHostError, type RequestFailedEvent } from '../../../src/index.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';

/**
 * Session 10, used as an attacker would and as a broken model does: the probe that decides
 * whether a lone failure is the request's ran the synthetic warmup set (zeros, every variable
 * dimension 1) when no request had succeeded yet. A version broken for every real input but
 * not for zeros then answered every request 400 INVALID_INPUT "the runtime rejected this
 * request's inputs": its breaker never opened, its rollout guard never fired, no 5xx was seen.
 */
const brokenOnRealInputs = () => fakeRuntime({ failRun: (inputs) => ((inputs['x']!.data as Float32Array).some((v) => v !== 0) ? new Error('kernel bug') : undefined) });
const breaker = { volumeThreshold: 2, errorThresholdPercentage: 50 };
const code = (p: Promise<unknown>) => p.then(() => 'ok', (e: ModelHostError) => e.code);

describe('review (s10): synthetic warmup inputs are no probe', () => {
  it('a version that fails on every real input but not on zeros is blamed (500), and its breaker opens', async () => {
    const host = new ModelHost({ runtimes: { fake: brokenOnRealInputs() }, defaults: { batching: false, breaker } });
    const failed: RequestFailedEvent[] = [];
    const opened: BreakerStateChangedEvent[] = [];
    host.on('requestFailed', (e) => failed.push(e));
    host.on('breakerStateChanged', (e) => opened.push(e));
    await host.load('m', { source: FAKE_SOURCE }); // warmed with zeros: they pass
    const codes = [];
    for (let i = 0; i < 4; i++) codes.push(await code(host.predict('m', [1, 2, 3, 4])));
    expect(codes.slice(0, 2)).toEqual([ErrorCode.INFERENCE_FAILED, ErrorCode.INFERENCE_FAILED]);
    expect(codes.slice(2)).toEqual([ErrorCode.CIRCUIT_OPEN, ErrorCode.CIRCUIT_OPEN]);
    expect(failed.slice(0, 2).map((f) => f.blame)).toEqual(['model', 'model']);
    expect(opened.map((e) => e.to)).toEqual(['open']);
    await host.close();
  });

  it('a canary broken on every real input is rolled back by its guard, not hidden behind 400s', async () => {
    let v2 = false;
    const good = fakeRuntime();
    const bad = brokenOnRealInputs();
    const runtime = { ...good, load: (source: never, options: never) => (v2 ? bad.load(source, options) : good.load(source, options)) };
    const clock = new FakeClock();
    const host = new ModelHost({ clock, runtimes: { fake: runtime }, defaults: { batching: false, breaker: { enabled: false }, rollout: { windowMs: 10_000, minSamples: 5 } } });
    const rolledBack: unknown[] = [];
    host.on('versionRolledBack', (e) => rolledBack.push(e));
    await host.load('m', { source: FAKE_SOURCE, version: 1 });
    v2 = true;
    await host.deploy('m', 2, { source: FAKE_SOURCE, canary: 0.5 });
    for (let i = 0; i < 40 && rolledBack.length === 0; i++) {
      clock.advance(200); // all within one 10 s window
      await code(host.predict('m', [1, 2, 3, 4]));
    }
    expect(rolledBack).toEqual([expect.objectContaining({ model: 'm', from: 2, automatic: true, reason: expect.stringMatching(/^error rate: /) })]);
    expect(await code(host.predict('m', [1, 2, 3, 4]))).toBe('ok');
    await host.close();
  });

  it('warmup inputs the operator configured still are the probe: a request the runtime refuses alone is its own (400) before any request succeeded', async () => {
    const runtime = fakeRuntime({ failRun: (inputs) => ((inputs['x']!.data as Float32Array).includes(13) ? new Error('index 13 out of range') : undefined) });
    const host = new ModelHost({ runtimes: { fake: runtime }, defaults: { batching: false, breaker, warmup: { inputs: { x: [[1, 2, 3, 4]] } } } });
    await host.load('m', { source: FAKE_SOURCE });
    for (let i = 0; i < 4; i++) expect(await code(host.predict('m', [1, 13, 3, 4]))).toBe(ErrorCode.INVALID_INPUT);
    expect(host.status('m').versions[0]!.breaker).toBe('closed');
    await host.close();
  });
});
