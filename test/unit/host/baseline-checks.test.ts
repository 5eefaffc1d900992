import { describe, expect, it } from 'vitest';
import { ErrorCode, ModelHost, type ModelHostError, type ModelHostOptions, type RequestFailedEvent, type VersionRolledBackEvent } from '../../../src/index.js';
import type { Clock } from '../../../src/scheduler/clock.js';
import { FakeClock, flush } from '../../helpers/fake-clock.js';
import { FAKE_SOURCE } from '../../helpers/fake-runtime.js';
import { hangingRuntime } from '../../helpers/hanging-runtime.js';
import { writeVersion } from '../../helpers/repository.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { versionedRuntime, type VersionedRuntimeOptions } from '../../helpers/versioned-runtime.js';

// The baseline checks of a rollout (docs/observability.md, "Who is blamed", 4.): every
// verdict reaches the guard once, a check that cannot run judges nothing, a check nobody
// waits for any more is cancelled, and an answer already given is not asked for again.

const tempDir = useTempDirs();
const rollout = { windowMs: 10_000, minSamples: 20 };

async function setup(options: VersionedRuntimeOptions, host: Partial<ModelHostOptions> = {}) {
  const root = await tempDir();
  for (const v of [1, 2]) await writeVersion(root, 'm', v, { 'model.fake': `v${v}` });
  const runtime = versionedRuntime(options);
  const h = new ModelHost({ repository: root, runtimes: { versioned: runtime }, ...host });
  const failed: RequestFailedEvent[] = [];
  h.on('requestFailed', (e) => failed.push(e));
  await h.load('m', { version: 1 });
  return { host: h, failed, runtime };
}

/**
 * v1 (`stable`) hangs on 666 and v2 (`canary`, a 0.5 canary) throws on 7, both `y = 2x` over
 * `x: float32 [-1, 1]`, unbatched. Routing alternates v1, v2 from the first unpinned request:
 * v1 and v2 answer [1] once each here (v2's answer is its probe's known-good input), so the
 * next unpinned request goes to v1.
 */
async function hangingSetup(options: { stableQueue?: number; clock?: Clock } = {}) {
  const stable = hangingRuntime({ name: 'stable', hangOn: 666 });
  const canary = hangingRuntime({ name: 'canary', hangOn: -1, throwOn: 7 });
  const host = new ModelHost({ runtimes: { stable: stable.runtime, canary: canary.runtime }, defaults: { batching: false, rollout }, ...(options.clock === undefined ? {} : { clock: options.clock }) });
  const failed: RequestFailedEvent[] = [];
  host.on('requestFailed', (e) => failed.push(e));
  await host.load('m', { source: FAKE_SOURCE, config: { runtime: 'stable', ...(options.stableQueue === undefined ? {} : { queue: { maxSize: options.stableQueue } }) } });
  await host.deploy('m', 2, { source: FAKE_SOURCE, canary: 0.5, config: { runtime: 'canary' } });
  expect((await host.predict('m', [1]))['y']!.data[0]).toBe(2); // v1
  expect((await host.predict('m', [1]))['y']!.data[0]).toBe(2); // v2: a known-good input for its probe
  return { host, stable, canary, failed };
}

/** `value` and the error it settled with, if any. */
function settle<T>(promise: Promise<T>): Promise<T | ModelHostError> {
  return promise.catch((error: ModelHostError) => error);
}

describe('a split request tells the guard every chunk\'s verdict, once', () => {
  it('a chunk the baseline answered, then a chunk failing on the caller\'s input: the caller gets the later error, the guard counts the canary\'s failure once', async () => {
    const clock = new FakeClock();
    // v2 fails on 7 and on 9; v1 answers 7 but fails on 9 too: 9 is the caller's input to fix.
    const { host, failed } = await setup(
      { failValues: new Map([[1, new Set([9])], [2, new Set([7, 9])]]) },
      { clock, defaults: { batching: { maxBatchSize: 2, maxDelayMs: 0 }, breaker: { fallback: 'previous-version' }, rollout } },
    );
    await host.deploy('m', 2, { canary: 0.5 });
    expect((await host.predict('m', [1, 1]))['y']!.data[0]).toBe(1); // v1
    expect((await host.predict('m', [1, 1]))['y']!.data[0]).toBe(2); // v2
    await host.predict('m', [1, 1]); // v1's turn
    const before = host.stats('m').guard!;
    // Three chunks of two rows: rows 0-1 succeed, rows 2-3 (7) the baseline answers, rows 4-5 (9) fail on both.
    const error = (await settle(host.predictBatch('m', { x: { data: new Float32Array([1, 1, 1, 1, 7, 7, 7, 7, 9, 9, 9, 9]), shape: [6, 2] } }))) as ModelHostError;
    expect(error.code).toBe(ErrorCode.INVALID_INPUT);
    expect(error.message).toMatch(/rows 4 to 5 of them \(from 0\), run as one chunk: maxBatchSize 2\) \(blamed on the request: it fails again on its own, with the same error, 3 more times, and other inputs succeed on this version after each failure\)$/);
    // One event for the request: the canary's own failure (rows 2-3), which the guard counts; no answeredBy (the caller got an error).
    const onCanary = failed.filter((e) => e.version === 2);
    expect(onCanary).toEqual([expect.objectContaining({ rows: 6, code: ErrorCode.INFERENCE_FAILED, blame: 'model', message: expect.stringMatching(/\(the version's fault, not the request's: v1, the rollout's baseline, answers the same inputs\)$/) })]);
    expect(onCanary[0]!.answeredBy).toBeUndefined();
    const after = host.stats('m').guard!;
    expect(after.candidateRequests).toBe(before.candidateRequests + 1);
    expect(after.candidateErrorRate * after.candidateRequests).toBeCloseTo(before.candidateErrorRate * before.candidateRequests + 1);
    await host.close();
  });

  it('a chunk failing on the caller\'s input and no chunk of the canary\'s: reported as before, the guard counts nothing', async () => {
    const clock = new FakeClock();
    const { host, failed } = await setup(
      { failValues: new Map([[1, new Set([9])], [2, new Set([9])]]) },
      { clock, defaults: { batching: { maxBatchSize: 2, maxDelayMs: 0 }, breaker: { fallback: 'previous-version' }, rollout } },
    );
    await host.deploy('m', 2, { canary: 0.5 });
    await host.predict('m', [1, 1]); // v1
    await host.predict('m', [1, 1]); // v2
    await host.predict('m', [1, 1]); // v1's turn
    const before = host.stats('m').guard!;
    const error = (await settle(host.predictBatch('m', { x: { data: new Float32Array([1, 1, 1, 1, 9, 9, 9, 9]), shape: [4, 2] } }))) as ModelHostError;
    expect(error.code).toBe(ErrorCode.INVALID_INPUT);
    expect(failed.filter((e) => e.version === 2)).toEqual([expect.objectContaining({ rows: 4, code: ErrorCode.INVALID_INPUT, blame: 'request' })]);
    expect(host.stats('m').guard!.candidateRequests).toBe(before.candidateRequests);
    await host.close();
  });
});

describe('a split request waits for the verdicts of chunks still being judged', () => {
  it('a later chunk failing on the caller\'s input first: the caller gets its error at once; the request is reported once the earlier chunk\'s check answered, as the canary\'s failure', async () => {
    // v1 (two slots) hangs on 5 until released and throws on 9; v2 (a 0.5 canary) throws on 5 and 9.
    const stable = hangingRuntime({ name: 'stable', hangOn: 5, throwOn: 9 });
    const canary = hangingRuntime({ name: 'canary', hangOn: -1, throwOn: [5, 9] });
    const host = new ModelHost({ runtimes: { stable: stable.runtime, canary: canary.runtime }, defaults: { batching: { maxBatchSize: 2, maxDelayMs: 0 }, rollout } });
    const failed: RequestFailedEvent[] = [];
    host.on('requestFailed', (e) => failed.push(e));
    await host.load('m', { source: FAKE_SOURCE, config: { runtime: 'stable', concurrency: 2 } });
    await host.deploy('m', 2, { source: FAKE_SOURCE, canary: 0.5, config: { runtime: 'canary' } });
    await host.predict('m', [1]); // v1
    await host.predict('m', [1]); // v2: its probe's known-good input
    await host.predict('m', [1]); // v1's turn
    const before = host.stats('m').guard!;
    // Chunks of two rows: rows 0-1 succeed, rows 2-3 (5) are checked on v1, which hangs on them; rows 4-5 (9) fail on both.
    const error = (await settle(host.predictBatch('m', { x: { data: new Float32Array([1, 1, 5, 5, 9, 9]), shape: [6, 1] } }))) as ModelHostError;
    expect(error.code).toBe(ErrorCode.INVALID_INPUT);
    expect(error.message).toMatch(/rows 4 to 5 of them \(from 0\)/);
    await flush();
    expect(failed.filter((e) => e.version === 2)).toEqual([]); // rows 2-3 are still being judged
    expect(host.stats('m').versions[2]!.pending).toBe(1);
    stable.release();
    for (let i = 0; i < 20 && failed.filter((e) => e.version === 2).length === 0; i++) await flush(1);
    expect(failed.filter((e) => e.version === 2)).toEqual([
      expect.objectContaining({ rows: 6, code: ErrorCode.INFERENCE_FAILED, blame: 'model', message: expect.stringMatching(/\(the version's fault, not the request's: v1, the rollout's baseline, answers the same inputs\)$/) }),
    ]);
    expect(host.stats('m').versions[2]!.pending).toBe(0);
    const after = host.stats('m').guard!;
    expect(after.candidateRequests).toBe(before.candidateRequests + 1);
    expect(after.candidateErrorRate * after.candidateRequests).toBeCloseTo(before.candidateErrorRate * before.candidateRequests + 1);
    await host.close();
  });

  it('the caller cancels while a chunk is still being judged: its check goes too, and the request is reported once, with the error the caller got', async () => {
    const stable = hangingRuntime({ name: 'stable', hangOn: 5, throwOn: 9 });
    const canary = hangingRuntime({ name: 'canary', hangOn: -1, throwOn: [5, 9] });
    const host = new ModelHost({ runtimes: { stable: stable.runtime, canary: canary.runtime }, defaults: { batching: { maxBatchSize: 2, maxDelayMs: 0 }, rollout } });
    const failed: RequestFailedEvent[] = [];
    host.on('requestFailed', (e) => failed.push(e));
    await host.load('m', { source: FAKE_SOURCE, config: { runtime: 'stable', concurrency: 2 } });
    await host.deploy('m', 2, { source: FAKE_SOURCE, canary: 0.5, config: { runtime: 'canary' } });
    await host.predict('m', [1]); // v1
    await host.predict('m', [1]); // v2
    await host.predict('m', [1]); // v1's turn
    const controller = new AbortController();
    const error = (await settle(host.predictBatch('m', { x: { data: new Float32Array([1, 1, 5, 5, 9, 9]), shape: [6, 1] } }, { signal: controller.signal }))) as ModelHostError;
    expect(error.code).toBe(ErrorCode.INVALID_INPUT);
    await flush();
    expect(host.stats('m').versions[1]!.pending).toBe(1); // the check of rows 2-3, hung in v1's runtime
    controller.abort();
    await flush();
    expect(host.stats('m').versions[2]!.pending).toBe(0);
    expect(failed.filter((e) => e.version === 2)).toEqual([expect.objectContaining({ rows: 6, code: ErrorCode.INVALID_INPUT, blame: 'request' })]);
    stable.release();
    await flush();
    expect(failed.filter((e) => e.version === 2)).toHaveLength(1);
    await host.close();
  });
});

describe('a baseline check the baseline refuses at admission judges nothing', () => {
  it('the baseline\'s queue is full: the caller gets INFERENCE_FAILED saying so, nothing counts against the canary, the baseline reports no request', async () => {
    const { host, stable, failed } = await hangingSetup({ stableQueue: 1 });
    expect((await host.predict('m', [1]))['y']!.data[0]).toBe(2); // v1's turn
    const hung = host.predict('m', [666], { version: 1 }); // holds v1's one slot
    await stable.started;
    const queued = host.predict('m', [1], { version: 1 }); // fills v1's queue (1 row)
    const runsBefore = stable.state.runs;
    const guardBefore = host.stats('m').guard!;
    const saturated: number[] = [];
    host.on('queueSaturated', (e) => saturated.push(e.version));
    const error = (await settle(host.predict('m', [7]))) as ModelHostError; // v2's turn: it throws on 7
    expect(error.code).toBe(ErrorCode.INFERENCE_FAILED);
    expect(error.message).toBe(
      "model 'm' v2: inference failed: the runtime failed on this request (not judged: it fails again on its own, with the same error, 3 more times, and other inputs succeed on this version after each failure, but v1, the rollout's baseline, could not run the same inputs: its queue was full)",
    );
    expect(failed.filter((e) => e.version === 2)).toEqual([expect.objectContaining({ code: ErrorCode.INFERENCE_FAILED, blame: 'request' })]);
    // The check never ran: no request event on v1, no run; its queue did refuse one.
    expect(failed.filter((e) => e.version === 1)).toEqual([]);
    expect(saturated).toEqual([1]);
    expect(stable.state.runs).toBe(runsBefore);
    const guard = host.stats('m').guard!;
    expect(guard.candidateRequests).toBe(guardBefore.candidateRequests);
    expect(guard.baselineRequests).toBe(guardBefore.baselineRequests);
    expect(host.stats('m').versions[2]!.windows['1m'].versionErrors).toBe(0);
    stable.release();
    await Promise.all([hung, queued]);
    await host.close();
  });

  it('no time was left before the deadline: no check is made, the caller gets INFERENCE_FAILED saying so, nothing counts', async () => {
    const clock = new LaggingClock();
    const { host, stable, canary, failed } = await hangingSetup({ clock });
    expect((await host.predict('m', [1]))['y']!.data[0]).toBe(2); // v1's turn
    // v2 throws on 7 only after its clock passed the request's deadline (its timer has not fired yet).
    canary.state.beforeThrow = () => clock.skip(100);
    const runsBefore = stable.state.runs;
    const guardBefore = host.stats('m').guard!;
    const error = (await settle(host.predict('m', [7], { timeoutMs: 50 }))) as ModelHostError;
    expect(error.code).toBe(ErrorCode.INFERENCE_FAILED);
    expect(error.message).toMatch(/\(not judged: it fails again on its own, with the same error, 3 more times, and other inputs succeed on this version after each failure, but v1, the rollout's baseline, could not run the same inputs: no time was left before the request's deadline\)$/);
    expect(failed.filter((e) => e.version === 2)).toEqual([expect.objectContaining({ code: ErrorCode.INFERENCE_FAILED, blame: 'request' })]);
    expect(failed.filter((e) => e.version === 1)).toEqual([]);
    expect(stable.state.runs).toBe(runsBefore);
    expect(host.stats('m').guard!.candidateRequests).toBe(guardBefore.candidateRequests);
    expect(host.stats('m').versions[2]!.windows['1m'].versionErrors).toBe(0);
    await host.close();
  });

  it('the baseline\'s breaker is open: the failure is not judged either (no 400 for an input no baseline looked at)', async () => {
    const clock = new FakeClock();
    // v1 fails every run after its warmup; its breaker opens on the first failure.
    const { host, failed, runtime } = await setup(
      { failValues: new Map([[2, new Set([7])]]), failShare: new Map([[1, 1]]) },
      { clock, defaults: { batching: false, rollout }, models: { m: { breaker: { volumeThreshold: 1, resetTimeoutMs: 60_000 } } } },
    );
    await host.deploy('m', 2, { canary: 0.5 });
    expect(await settle(host.predict('m', [1, 1]))).toMatchObject({ code: ErrorCode.INFERENCE_FAILED }); // v1 fails: its breaker opens
    expect(host.status('m').versions.find((v) => v.version === 1)!.breaker).toBe('open');
    await host.predict('m', [1, 1]); // v2: its probe's known-good input
    expect(await settle(host.predict('m', [1, 1]))).toMatchObject({ code: ErrorCode.CIRCUIT_OPEN }); // v1's turn
    const v1Runs = runtime.runs[1];
    const v1Failed = failed.filter((e) => e.version === 1).length;
    const error = (await settle(host.predict('m', [7, 7]))) as ModelHostError; // v2's turn
    expect(error.code).toBe(ErrorCode.INFERENCE_FAILED);
    expect(error.message).toMatch(/\(not judged: it fails again on its own, with the same error, 3 more times, and other inputs succeed on this version after each failure, but v1, the rollout's baseline, could not run the same inputs: its circuit breaker was open\)$/);
    expect(failed.filter((e) => e.version === 2)).toEqual([expect.objectContaining({ code: ErrorCode.INFERENCE_FAILED, blame: 'request' })]);
    expect(runtime.runs[1]).toBe(v1Runs);
    expect(failed.filter((e) => e.version === 1)).toHaveLength(v1Failed); // no event for the refused check
    await host.close();
  });

  it('a check the baseline ran and failed still pins the failure on the request: INVALID_INPUT, as before', async () => {
    const { host, failed } = await setup({ failValues: new Map([[1, new Set([7])], [2, new Set([7])]]) }, { defaults: { batching: false } });
    await host.deploy('m', 2, { canary: 0.5 });
    await host.predict('m', [1, 1]); // v1
    await host.predict('m', [1, 1]); // v2
    await host.predict('m', [1, 1]); // v1's turn
    const error = (await settle(host.predict('m', [7, 7]))) as ModelHostError;
    expect(error.code).toBe(ErrorCode.INVALID_INPUT);
    expect(failed.filter((e) => e.version === 2)).toEqual([expect.objectContaining({ code: ErrorCode.INVALID_INPUT, blame: 'request' })]);
    await host.close();
  });
});

describe('a check the baseline fails on costs it one run', () => {
  it('the baseline neither runs a failed check again nor probes: neither could change the verdict, and a check never counts there', async () => {
    const { host, failed, runtime } = await setup({ failValues: new Map([[1, new Set([7])], [2, new Set([7])]]) }, { defaults: { batching: false } });
    await host.deploy('m', 2, { canary: 0.5 });
    await host.predict('m', [1, 1]); // v1
    await host.predict('m', [1, 1]); // v2
    await host.predict('m', [1, 1]); // v1's turn
    const before = { ...runtime.runs };
    const error = (await settle(host.predict('m', [7, 7]))) as ModelHostError;
    expect(error.code).toBe(ErrorCode.INVALID_INPUT);
    expect(runtime.runs[2]! - before[2]!).toBe(8); // the request: its run, a probe of [1, 1], then 3 rounds of a run alone and a probe (it reproduces)
    expect(runtime.runs[1]! - before[1]!).toBe(1); // its check: one run
    expect(failed.filter((e) => e.version === 1)).toEqual([
      expect.objectContaining({ code: ErrorCode.INVALID_INPUT, blame: 'request', message: expect.stringMatching(/\(not counted: a check of another version's failed request on its baseline\)$/) }),
    ]);
    expect(host.stats('m').versions[1]!.windows['1m'].versionErrors).toBe(0);
    await host.close();
  });
});

describe('a cancelled request\'s baseline check is cancelled with it', () => {
  it('the caller aborts while the check waits behind a hung baseline run: the check never runs, both versions let go, nothing reaches the guard', async () => {
    const { host, stable, canary, failed } = await hangingSetup();
    expect((await host.predict('m', [1]))['y']!.data[0]).toBe(2); // v1's turn
    const hung = host.predict('m', [666], { version: 1 }); // holds v1's one slot
    await stable.started;
    const runsBefore = stable.state.runs;
    const guardBefore = host.stats('m').guard!;
    const controller = new AbortController();
    const request = settle(host.predict('m', [7], { signal: controller.signal })); // v2's turn: throws on 7, checked on v1
    // Wait until the check queued on v1 (v2 ran it, ran it again, probed [1]).
    for (let i = 0; i < 50 && host.stats('m').versions[1]!.pending < 2; i++) await flush(1);
    expect(host.stats('m').versions[1]!.pending).toBe(2);
    expect(canary.state.runs).toBeGreaterThan(0);
    controller.abort();
    expect(await request).toMatchObject({ code: ErrorCode.CANCELLED });
    await flush();
    // Both let go at once: v1 holds only its hung run, v2 nothing.
    expect(host.stats('m').versions[1]!.pending).toBe(1);
    expect(host.stats('m').versions[2]!.pending).toBe(0);
    stable.release();
    await hung;
    await flush();
    expect(stable.state.runs).toBe(runsBefore); // the check never ran (the hung run was counted when it started)
    expect(failed.filter((e) => e.version === 1)).toEqual([]);
    expect(failed.filter((e) => e.version === 2)).toEqual([expect.objectContaining({ code: ErrorCode.CANCELLED })]);
    const guard = host.stats('m').guard!;
    expect(guard.candidateRequests).toBe(guardBefore.candidateRequests);
    expect(guard.baselineRequests).toBe(guardBefore.baselineRequests + 1); // the pinned [666], answered once released
    expect(host.stats('m').versions[2]!.windows['1m'].versionErrors).toBe(0);
    await host.close();
  });
});

describe('a shadow\'s failure is judged by the answer the default already gave', () => {
  it('the default runs the mirrored input once: the shadow\'s failure is the model\'s, counted, with no second run', async () => {
    const { host, failed, runtime } = await setup({ failValues: new Map([[2, new Set([7])]]) }, { defaults: { batching: false, rollout } });
    const runs = runtime.runs;
    await host.deploy('m', 2, { shadow: 1 });
    expect((await host.predict('m', [1, 1]))['y']!.data[0]).toBe(1);
    await flush();
    const before = { ...runs };
    expect((await host.predict('m', [7, 7]))['y']!.data[0]).toBe(7);
    await flush();
    await flush();
    // v1 ran it once (for the caller); v2 ran it, probed [1, 1], then ran it alone and probed 3 times over (it reproduces).
    expect(runs[1]! - before[1]!).toBe(1);
    expect(runs[2]! - before[2]!).toBe(8);
    expect(failed.filter((e) => e.version === 2)).toEqual([expect.objectContaining({ code: ErrorCode.INFERENCE_FAILED, blame: 'model', message: expect.stringMatching(/\(the version's fault, not the request's: v1, the rollout's baseline, answers the same inputs\)$/) })]);
    expect(failed.filter((e) => e.version === 1)).toEqual([]);
    expect(host.stats('m').shadow).toMatchObject({ compared: 1, failed: 1 });
    await host.close();
  });

  it('an input the default fails too is the request\'s on the shadow: no second run either', async () => {
    const { host, failed, runtime } = await setup({ failValues: new Map([[1, new Set([7])], [2, new Set([7])]]) }, { defaults: { batching: false, rollout } });
    const runs = runtime.runs;
    await host.deploy('m', 2, { shadow: 1 });
    await host.predict('m', [1, 1]);
    await flush();
    const before = { ...runs };
    expect(await settle(host.predict('m', [7, 7]))).toMatchObject({ code: ErrorCode.INVALID_INPUT });
    await flush();
    await flush();
    expect(runs[1]! - before[1]!).toBe(8); // the caller's request: its run, a probe, 3 rounds of a run alone and a probe; no check
    expect(failed.filter((e) => e.version === 2)).toEqual([expect.objectContaining({ code: ErrorCode.INVALID_INPUT, blame: 'request' })]);
    await host.close();
  });

  it('with breaker.fallback previous-version the shadow still counts as failed, never as agreeing with the default\'s answer', async () => {
    const { host } = await setup({ failValues: new Map([[2, new Set([7])]]) }, { defaults: { batching: false, breaker: { fallback: 'previous-version' }, rollout } });
    await host.deploy('m', 2, { shadow: 1 });
    await host.predict('m', [1, 1]);
    await flush();
    expect((await host.predict('m', [7, 7]))['y']!.data[0]).toBe(7);
    await flush();
    await flush();
    expect(host.stats('m').shadow).toMatchObject({ compared: 1, failed: 1 });
    await host.close();
  });
});

describe('a shadow\'s mirror goes when its caller does', () => {
  it('a caller that aborts while its request and its mirror wait: the mirror is dropped from the shadow\'s queue, unrun, and counted as neither compared nor failed', async () => {
    const stable = hangingRuntime({ name: 'stable', hangOn: 666 });
    const shadow = hangingRuntime({ name: 'shadow', hangOn: 666 });
    const host = new ModelHost({ runtimes: { stable: stable.runtime, shadow: shadow.runtime }, defaults: { batching: false, rollout } });
    await host.load('m', { source: FAKE_SOURCE, config: { runtime: 'stable' } });
    await host.deploy('m', 2, { source: FAKE_SOURCE, shadow: 1, config: { runtime: 'shadow' } });
    const pending = (version: number) => host.stats('m').versions[version]!.pending;
    // Both versions busy with a hung pinned request: the caller's request queues on v1, its mirror on v2.
    const hung = [host.predict('m', [666], { version: 1 }), host.predict('m', [666], { version: 2 })];
    await Promise.all([stable.started, shadow.started]);
    const shadowRuns = shadow.state.runs;
    const controller = new AbortController();
    const request = settle(host.predict('m', [1], { signal: controller.signal }));
    expect([pending(1), pending(2)]).toEqual([2, 2]);
    controller.abort();
    expect(await request).toMatchObject({ code: ErrorCode.CANCELLED });
    await flush();
    expect([pending(1), pending(2)]).toEqual([1, 1]);
    stable.release();
    shadow.release();
    await Promise.all(hung);
    await flush();
    expect(shadow.state.runs).toBe(shadowRuns); // the mirror never ran
    expect(host.stats('m').shadow).toMatchObject({ compared: 0, failed: 0 });
    await host.close();
  });
});

describe('a canary whose breaker is open, answered by its fallback, still fails for the guard', () => {
  it('each request routed to it while open is its CIRCUIT_OPEN failure answered by v1: the guard rolls it back', async () => {
    const clock = new FakeClock();
    // v2 fails every run after its warmup: its breaker opens after four failures.
    const { host, failed, rolledBack } = await setupWithRollbacks(
      { failShare: new Map([[2, 1]]) },
      { clock, defaults: { batching: false, breaker: { fallback: 'previous-version', volumeThreshold: 4, resetTimeoutMs: 60_000 }, rollout } },
    );
    await host.deploy('m', 2, { canary: 0.5 });
    const answers: number[] = [];
    for (let i = 0; i < 60 && rolledBack.length === 0; i++) {
      clock.advance(150); // 60 requests within 9 s: one 10 s window
      const out = await settle(host.predict('m', [1, 1]));
      if (!(out instanceof Error)) answers.push((out['y']!.data as Float32Array)[0]!);
      await flush(1);
    }
    expect(host.status('m').versions.find((v) => v.version === 2)?.breaker ?? 'open').toBe('open');
    expect(rolledBack).toEqual([expect.objectContaining({ version: 1, from: 2, automatic: true, reason: expect.stringMatching(/^error rate: /) })]);
    const fellBack = failed.filter((e) => e.version === 2 && e.code === ErrorCode.CIRCUIT_OPEN);
    expect(fellBack.length).toBeGreaterThan(0);
    for (const e of fellBack) expect(e).toMatchObject({ answeredBy: 1, rows: 1 });
    expect(answers.filter((a) => a === 1).length).toBeGreaterThan(0); // callers got v1's answers meanwhile
    await host.close();
  });
});

async function setupWithRollbacks(options: VersionedRuntimeOptions, host: Partial<ModelHostOptions>) {
  const result = await setup(options, host);
  const rolledBack: VersionRolledBackEvent[] = [];
  result.host.on('versionRolledBack', (e) => rolledBack.push(e));
  return { ...result, rolledBack };
}

/** A fake clock whose time can jump ahead without firing timers (`skip`): a timer that fires late, as real ones may. */
class LaggingClock implements Clock {
  private readonly inner = new FakeClock();
  private offset = 0;

  now(): number {
    return this.inner.now() + this.offset;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    return this.inner.setTimeout(callback, ms);
  }

  clearTimeout(handle: unknown): void {
    this.inner.clearTimeout(handle);
  }

  skip(ms: number): void {
    this.offset += ms;
  }
}
