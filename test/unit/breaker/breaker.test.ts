import { describe, expect, it, vi } from 'vitest';
import { ErrorCode, ModelHost, type BreakerStateChangedEvent, type ModelHostError } from '../../../src/index.js';
import { FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';
import { hangingRuntime } from '../../helpers/hanging-runtime.js';
import { writeVersion } from '../../helpers/repository.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { versionedRuntime } from '../../helpers/versioned-runtime.js';

const tempDir = useTempDirs();
const breaker = { volumeThreshold: 5, errorThresholdPercentage: 50, resetTimeoutMs: 100 };

function failingHost() {
  let failing = true;
  const runtime = fakeRuntime({ failRun: () => (failing && runtime.runs > 1 ? new Error('GPU fell off') : undefined) });
  const host = new ModelHost({ runtimes: { fake: runtime }, defaults: { batching: false, breaker } });
  const changes: BreakerStateChangedEvent[] = [];
  host.on('breakerStateChanged', (e) => changes.push(e));
  return { host, runtime, changes, heal: () => (failing = false) };
}

const call = (host: ModelHost, model = 'affine') => host.predict(model, [1, 2, 3, 4]).then(() => 'ok', (e: ModelHostError) => e.code);

describe('circuit breaker per version', () => {
  it('opens after the threshold, fails fast without calling the runtime, half-opens, and closes after recovery', async () => {
    const { host, runtime, changes, heal } = failingHost();
    await host.load('affine', { source: FAKE_SOURCE });
    for (let i = 0; i < 5; i++) expect(await call(host)).toBe(ErrorCode.INFERENCE_FAILED);
    expect(changes).toEqual([expect.objectContaining({ model: 'affine', version: 1, from: 'closed', to: 'open', reason: expect.stringMatching(/5 of 5 runtime calls failed in the last 10 s \(threshold 50%\)/) })]);
    expect(host.status('affine').versions[0]!.breaker).toBe('open');

    const runs = runtime.runs;
    const fast = await Promise.all(Array.from({ length: 20 }, () => host.predict('affine', [1, 2, 3, 4]).catch((e: ModelHostError) => e)));
    expect(fast.every((e) => (e as ModelHostError).code === ErrorCode.CIRCUIT_OPEN)).toBe(true);
    expect((fast[0] as ModelHostError).message).toMatch(/circuit breaker is open/);
    expect(runtime.runs).toBe(runs); // not one runtime call

    heal();
    await vi.waitFor(() => expect(changes.map((c) => c.to)).toContain('halfOpen'));
    expect(await call(host)).toBe('ok'); // the probe
    expect(changes.map((c) => `${c.from}→${c.to}`)).toEqual(['closed→open', 'open→halfOpen', 'halfOpen→closed']);
    expect(changes[2]!.reason).toBe('the probe succeeded');
    expect(await call(host)).toBe('ok');
    await host.close();
  });

  it('a flood of INVALID_INPUT never opens it', async () => {
    const { host, runtime, changes } = failingHost();
    await host.load('affine', { source: FAKE_SOURCE });
    const runs = runtime.runs;
    for (let i = 0; i < 50; i++) expect(await host.predict('affine', [1, 2]).catch((e: ModelHostError) => e.code)).toBe(ErrorCode.INVALID_INPUT);
    expect(runtime.runs).toBe(runs);
    expect(changes).toEqual([]);
    expect(host.status('affine').versions[0]!.breaker).toBe('closed');
    await host.close();
  });

  it('requests the runtime rejects for their own content fail alone and never open it, alone or batched; nor do they trip the rollout guard', async () => {
    // x[0] = 13 is "0 audio samples": the runtime throws on that input, and only that input.
    const poison = (inputs: Record<string, { data: unknown }>) => Array.from(inputs['x']!.data as Float32Array).some((v, i) => i % 4 === 0 && v === 13);
    const runtime = fakeRuntime({ failRun: (inputs) => (poison(inputs) ? new Error('input has 0 samples') : undefined) });
    const host = new ModelHost({ runtimes: { fake: runtime }, defaults: { breaker, rollout: { windowMs: 10_000, minSamples: 5 } } });
    const changes: BreakerStateChangedEvent[] = [];
    const rolledBack: unknown[] = [];
    host.on('breakerStateChanged', (e) => changes.push(e));
    host.on('versionRolledBack', (e) => rolledBack.push(e));
    await host.load('affine', { source: FAKE_SOURCE });
    await host.deploy('affine', 2, { source: FAKE_SOURCE }); // watched by the guard
    // Known-good inputs for the probe: the synthetic warmup set (zeros) is none (review/synthetic-probe.test.ts).
    expect(await call(host)).toBe('ok');
    for (let i = 0; i < 20; i++) expect(await host.predict('affine', [13, 0, 0, 0]).catch((e: ModelHostError) => e.code)).toBe(ErrorCode.INVALID_INPUT);
    // Batched with others: two poisoned requests in 40 (bisection finds them).
    const mixed = await Promise.all(Array.from({ length: 40 }, (_, i) => host.predict('affine', [i === 5 || i === 25 ? 13 : 100 + i, 0, 0, 0]).then(() => 'ok', (e: ModelHostError) => e.code)));
    expect(mixed.filter((r) => r === 'ok')).toHaveLength(38);
    expect(changes).toEqual([]);
    expect(rolledBack).toEqual([]);
    expect(await call(host)).toBe('ok');
    await host.close();
  });

  it('cancellations and deadlines that expire before running never count', async () => {
    const { host, changes } = failingHost();
    await host.load('affine', { source: FAKE_SOURCE });
    for (let i = 0; i < 20; i++) {
      expect(await host.predict('affine', [1, 2, 3, 4], { signal: AbortSignal.abort() }).catch((e: ModelHostError) => e.code)).toBe(ErrorCode.CANCELLED);
      expect(await host.predict('affine', [1, 2, 3, 4], { timeoutMs: 0 }).catch((e: ModelHostError) => e.code)).toBe(ErrorCode.DEADLINE_EXCEEDED);
    }
    expect(changes).toEqual([]);
    await host.close();
  });

  it('other models and other versions are unaffected', async () => {
    const root = await tempDir();
    for (const v of [1, 2]) await writeVersion(root, 'm', v, { 'model.fake': `v${v}` });
    await writeVersion(root, 'other', 1, { 'model.fake': 'o' });
    const runtime = versionedRuntime({ failShare: new Map([[2, 1]]) });
    const host = new ModelHost({ repository: root, runtimes: { versioned: runtime }, defaults: { batching: false, breaker, rollout: { enabled: false } } });
    await host.load('m', { version: 1 });
    await host.load('other');
    await host.deploy('m', 2, { canary: 0.5 });
    const codes = await Promise.all(Array.from({ length: 40 }, () => host.predict('m', [1, 1], { version: 2 }).then(() => 'ok', (e: ModelHostError) => e.code)));
    expect(codes).toContain(ErrorCode.CIRCUIT_OPEN);
    expect(host.status('m').versions.find((v) => v.version === 2)!.breaker).toBe('open');
    expect(host.status('m').versions.find((v) => v.version === 1)!.breaker).toBe('closed');
    expect(await host.predict('m', [1, 1], { version: 1 }).then(() => 'ok')).toBe('ok');
    expect(await host.predict('other', [1, 1]).then(() => 'ok')).toBe('ok');
    await host.close();
  });

  it("with fallback: 'previous-version', the previous version answers while the new one's breaker is open", async () => {
    const root = await tempDir();
    for (const v of [1, 2]) await writeVersion(root, 'm', v, { 'model.fake': `v${v}` });
    const runtime = versionedRuntime({ failShare: new Map([[2, 1]]) });
    const host = new ModelHost({ repository: root, runtimes: { versioned: runtime }, defaults: { batching: false, breaker: { ...breaker, fallback: 'previous-version' }, rollout: { enabled: false } } });
    const changes: BreakerStateChangedEvent[] = [];
    host.on('breakerStateChanged', (e) => changes.push(e));
    await host.load('m', { version: 1 });
    await host.deploy('m', 2);
    for (let i = 0; i < 5; i++) await host.predict('m', [1, 1]).catch(() => undefined);
    expect(changes[0]).toMatchObject({ version: 2, to: 'open', fallback: 1 });
    const out = await host.predict('m', [1, 1]);
    expect((out['y']!.data as Float32Array)[0]).toBe(1); // v1 answered
    await host.close();
  });

  it('breaker.timeoutMs: a lone request whose run got no answer in time is not run again (the re-run hung it until its deadline); the probe blames it', async () => {
    const { runtime, state, release } = hangingRuntime();
    // Two slots: the run the time bound gave up on still holds one (only instances.runTimeoutMs abandons a run).
    const host = new ModelHost({ runtimes: { hang: runtime }, models: { m: { runtime: 'hang', concurrency: 2, batching: false, breaker: { timeoutMs: 50 } } } });
    await host.load('m', { source: FAKE_SOURCE });
    expect((await host.predict('m', [1]))['y']!.data[0]).toBe(2);
    const failed = await host.predict('m', [666], { timeoutMs: 5000 }).catch((e: ModelHostError) => e);
    expect(failed).toMatchObject({ code: ErrorCode.INFERENCE_FAILED, message: expect.stringMatching(/timed out after 50ms \(breaker\.timeoutMs\) \(blamed on the request: it got no answer/) });
    expect(state.firstValues.filter((x) => x === 666)).toHaveLength(1);
    expect(host.status('m').versions[0]!.breaker).toBe('closed');
    release();
    await host.close();
  });

  it('is validated and can be turned off', () => {
    expect(() => new ModelHost({ defaults: { breaker: { errorThresholdPercentage: 120 } } })).toThrow(/`defaults.breaker.errorThresholdPercentage` must be a number from 0 to 100, got 120/);
    expect(() => new ModelHost({ defaults: { breaker: { fallback: 'other' as never } } })).toThrow(/`defaults.breaker.fallback` must be one of 'none', 'previous-version'/);
    expect(() => new ModelHost({ defaults: { breaker: { enabled: false } } })).not.toThrow();
  });
});
