import { describe, expect, it } from 'vitest';
import { ErrorCode, ModelHost, type ModelHostError, type ModelHostOptions, type RequestFailedEvent, type VersionRolledBackEvent } from '../../../src/index.js';
import { FakeClock, flush } from '../../helpers/fake-clock.js';
import { FAKE_SOURCE } from '../../helpers/fake-runtime.js';
import { hangingRuntime } from '../../helpers/hanging-runtime.js';
import { writeVersion } from '../../helpers/repository.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { versionedRuntime, type VersionedRuntimeOptions } from '../../helpers/versioned-runtime.js';

// A version that fails for some real inputs while answering others (the last good one among
// them) is judged against its rollout's baseline: docs/observability.md, "Who is blamed".

const tempDir = useTempDirs();
const rollout = { windowMs: 10_000, minSamples: 20 };

async function setup(options: VersionedRuntimeOptions, host: Partial<ModelHostOptions> = {}) {
  const root = await tempDir();
  for (const v of [1, 2]) await writeVersion(root, 'm', v, { 'model.fake': `v${v}` });
  const h = new ModelHost({ repository: root, runtimes: { versioned: versionedRuntime(options) }, ...host });
  const failed: RequestFailedEvent[] = [];
  h.on('requestFailed', (e) => failed.push(e));
  const rolledBack: VersionRolledBackEvent[] = [];
  h.on('versionRolledBack', (e) => rolledBack.push(e));
  await h.load('m', { version: 1 });
  return { host: h, failed, rolledBack };
}

/** y = x × version: the first value of y over x tells which version answered. */
function predict(host: ModelHost, x: number, options?: { version?: number }): Promise<number | ModelHostError> {
  return host.predict('m', [x, x], options).then(
    (out) => (out['y']!.data as Float32Array)[0]!,
    (error: ModelHostError) => error,
  );
}

/** Ten requests, every third of them (indices 0, 3, 6, 9) with an input v2 cannot run; a 0.5 canary takes the odd ones. */
async function round(host: ModelHost): Promise<(number | ModelHostError)[]> {
  return Promise.all(Array.from({ length: 10 }, (_, i) => predict(host, i % 3 === 0 ? 7 : 1)));
}

describe('a failure under a rollout is judged against its baseline', () => {
  for (const batching of [false, true]) {
    it(`a canary broken for inputs the stable version serves is rolled back; its failures are INFERENCE_FAILED blamed on the model (batching ${batching ? 'on' : 'off'})`, async () => {
      const clock = new FakeClock();
      const { host, failed, rolledBack } = await setup({ failValues: new Map([[2, new Set([7])]]) }, { clock, defaults: { batching: batching ? { maxBatchSize: 8, maxDelayMs: 0 } : false, rollout } });
      await host.deploy('m', 2, { canary: 0.5 });
      expect(await predict(host, 1)).toBe(1); // v1's turn
      expect(await predict(host, 1)).toBe(2); // v2 answered a good input: the probe would succeed
      const answers: (number | ModelHostError)[] = [];
      for (let step = 0; step < 20 && rolledBack.length === 0; step++) {
        clock.advance(1000); // within one 10 s window
        answers.push(...(await round(host)));
        await flush();
      }
      expect(rolledBack).toHaveLength(1);
      expect(rolledBack[0]).toMatchObject({ version: 1, from: 2, automatic: true, reason: expect.stringMatching(/^error rate: /) });
      const errors = answers.filter((a): a is ModelHostError => typeof a !== 'number');
      expect(errors.length).toBeGreaterThan(0);
      for (const error of errors) {
        expect(error.code).toBe(ErrorCode.INFERENCE_FAILED);
        expect(error.message).toMatch(/^model 'm' v2: inference failed: the runtime failed on this request \(the version's fault, not the request's: v1, the rollout's baseline, answers the same inputs\)$/);
      }
      const v2 = failed.filter((e) => e.version === 2);
      expect(v2.length).toBe(errors.length);
      for (const e of v2) expect(e).toMatchObject({ code: ErrorCode.INFERENCE_FAILED, blame: 'model' });
      expect(v2.every((e) => e.answeredBy === undefined)).toBe(true);
      // v1 answered every input, the bad one for v2 included (its checks among them).
      expect(answers.filter((a) => a === 7)).not.toHaveLength(0);
      expect(failed.filter((e) => e.version === 1)).toEqual([]);
      await host.close();
    });
  }

  it('an input both versions refuse is still the request\'s: INVALID_INPUT, and the guard does not count it', async () => {
    const clock = new FakeClock();
    const { host, failed, rolledBack } = await setup({ failValues: new Map([[1, new Set([7])], [2, new Set([7])]]) }, { clock, defaults: { batching: false, rollout } });
    await host.deploy('m', 2, { canary: 0.5 });
    const answers: (number | ModelHostError)[] = [];
    for (let step = 0; step < 10; step++) {
      clock.advance(1000);
      answers.push(...(await round(host)));
      await flush();
    }
    expect(rolledBack).toEqual([]);
    const onCanary = failed.filter((e) => e.version === 2 && e.message.includes('v2:'));
    expect(onCanary.length).toBeGreaterThan(0);
    for (const e of onCanary) {
      expect(e).toMatchObject({ code: ErrorCode.INVALID_INPUT, blame: 'request' });
      expect(e.message).toMatch(/the runtime rejected this request's inputs \(x: float32 \[1, 2\]\) \(blamed on the request: it fails again on its own, with the same error, 3 more times, and other inputs succeed on this version after each failure\)$/);
    }
    expect(host.stats('m').guard).toMatchObject({ candidate: 2, candidateErrorRate: 0 });
    await host.close();
  });

  it('with breaker.fallback previous-version the caller gets the baseline\'s answer; the failure still counts as the canary\'s', async () => {
    const { host, failed } = await setup({ failValues: new Map([[2, new Set([7])]]) }, { defaults: { batching: false, breaker: { fallback: 'previous-version' } } });
    await host.deploy('m', 2, { canary: 0.5 });
    expect(await predict(host, 1)).toBe(1);
    expect(await predict(host, 1)).toBe(2);
    expect(await predict(host, 7)).toBe(7); // v1's turn (× 1)
    expect(await predict(host, 7)).toBe(7); // v2 failed it; v1 answered
    expect(failed.filter((e) => e.version === 2)).toEqual([expect.objectContaining({ code: ErrorCode.INFERENCE_FAILED, blame: 'model', answeredBy: 1 })]);
    // predictBatch too: the answer keeps its batch dimension.
    await predict(host, 1); // v1's turn
    const out = await host.predictBatch('m', { x: { data: new Float32Array([7, 7, 7, 7]), shape: [2, 2] } });
    expect(out['y']).toMatchObject({ shape: [2, 2], data: new Float32Array([7, 7, 7, 7]) });
    await host.close();
  });

  it('a predictBatch split into chunks is judged chunk by chunk and reported once, blamed on the model', async () => {
    const { host, failed } = await setup({ failValues: new Map([[2, new Set([7])]]) }, { defaults: { batching: { maxBatchSize: 2, maxDelayMs: 0 } } });
    await host.deploy('m', 2, { canary: 0.5 });
    expect(await predict(host, 1)).toBe(1);
    expect(await predict(host, 1)).toBe(2);
    await predict(host, 1); // v1's turn
    const error = await host.predictBatch('m', { x: { data: new Float32Array([1, 1, 1, 1, 7, 7, 1, 1]), shape: [4, 2] } }).catch((e: ModelHostError) => e);
    expect(error).toMatchObject({ code: ErrorCode.INFERENCE_FAILED, message: expect.stringMatching(/\(the version's fault, not the request's: v1, the rollout's baseline, answers the same inputs\)$/) });
    expect(failed).toEqual([expect.objectContaining({ version: 2, rows: 4, code: ErrorCode.INFERENCE_FAILED, blame: 'model' })]);
    await host.close();
  });

  it('a split predictBatch whose failed chunk the baseline answered (fallback previous-version) resolves, and is reported once as the canary\'s failure', async () => {
    const clock = new FakeClock();
    const { host, failed } = await setup({ failValues: new Map([[2, new Set([7])]]) }, { clock, defaults: { batching: { maxBatchSize: 2, maxDelayMs: 0 }, breaker: { fallback: 'previous-version' }, rollout } });
    await host.deploy('m', 2, { canary: 0.5 });
    expect(await predict(host, 1)).toBe(1);
    expect(await predict(host, 1)).toBe(2);
    await predict(host, 1); // v1's turn
    const completedOnV2: number[] = [];
    host.on('requestCompleted', (e) => e.version === 2 && completedOnV2.push(e.rows));
    const guardBefore = host.stats('m').guard!;
    const out = await host.predictBatch('m', { x: { data: new Float32Array([1, 1, 1, 1, 7, 7, 1, 1]), shape: [4, 2] } });
    // The client gets its rows: the first chunk (rows 0-1) as v2 answered it (× 2), the failed one (rows 2-3) as v1 did (× 1).
    expect(out['y']).toMatchObject({ shape: [4, 2], data: new Float32Array([2, 2, 2, 2, 7, 7, 1, 1]) });
    expect(failed).toEqual([expect.objectContaining({ version: 2, rows: 4, code: ErrorCode.INFERENCE_FAILED, blame: 'model', answeredBy: 1 })]);
    expect(completedOnV2).toEqual([]);
    // The guard counted it once, as the canary's failed request.
    const guard = host.stats('m').guard!;
    expect(guard.candidateRequests).toBe(guardBefore.candidateRequests + 1);
    expect(guard.candidateErrorRate * guard.candidateRequests).toBeCloseTo(1);
    await host.close();
  });

  it('a baseline check is not a baseline request for the guard; it shows in the baseline\'s stats()', async () => {
    const clock = new FakeClock();
    const { host, failed } = await setup({ failValues: new Map([[2, new Set([7])]]) }, { clock, defaults: { batching: false, rollout } });
    await host.deploy('m', 2, { canary: 0.5 });
    expect(await predict(host, 1)).toBe(1);
    expect(await predict(host, 1)).toBe(2);
    const before = host.stats('m').guard!;
    const v1Before = host.stats('m').versions[1]!.windows['1m'].requests;
    expect(await predict(host, 1)).toBe(1); // v1's turn: a baseline request
    expect(await predict(host, 7)).toMatchObject({ code: ErrorCode.INFERENCE_FAILED }); // v2 fails it; v1 answers its check
    expect(failed).toEqual([expect.objectContaining({ version: 2, blame: 'model' })]);
    const after = host.stats('m').guard!;
    expect(after.baselineRequests).toBe(before.baselineRequests + 1);
    expect(after.candidateRequests).toBe(before.candidateRequests + 1);
    // The check ran on v1: its stats count the work (2 = the routed request and the check).
    expect(host.stats('m').versions[1]!.windows['1m'].requests).toBe(v1Before + 2);
    await host.close();
  });

  it('a baseline check the baseline runs split into chunks is not a baseline request for the guard either', async () => {
    const clock = new FakeClock();
    const { host, failed } = await setup({ failValues: new Map([[2, new Set([7])]]) }, { clock, defaults: { batching: { maxBatchSize: 2, maxDelayMs: 0 }, rollout } });
    await host.deploy('m', 2, { canary: 0.5, config: { batching: { maxBatchSize: 4, maxDelayMs: 0 } } });
    expect(await predict(host, 1)).toBe(1);
    expect(await predict(host, 1)).toBe(2);
    await predict(host, 1); // v1's turn
    const before = host.stats('m').guard!;
    const v1Before = host.stats('m').versions[1]!.windows['1m'].requests;
    // One chunk-free run of 4 rows on v2 (maxBatchSize 4) that fails; v1 (maxBatchSize 2) checks it as two chunks, reported once.
    const error = await host.predictBatch('m', { x: { data: new Float32Array([1, 1, 7, 7, 1, 1, 1, 1]), shape: [4, 2] } }).catch((e: ModelHostError) => e);
    expect(error).toMatchObject({ code: ErrorCode.INFERENCE_FAILED });
    expect(failed).toEqual([expect.objectContaining({ version: 2, rows: 4, blame: 'model' })]);
    const after = host.stats('m').guard!;
    expect(after.baselineRequests).toBe(before.baselineRequests);
    expect(after.candidateRequests).toBe(before.candidateRequests + 1);
    expect(host.stats('m').versions[1]!.windows['1m'].requests).toBe(v1Before + 1);
    await host.close();
  });

  it('a canary that hangs on an input the baseline answers: the timeout is the version\'s, not the request\'s', async () => {
    const stable = hangingRuntime({ name: 'stable', hangOn: -1 });
    const poisoned = hangingRuntime({ name: 'poison', hangOn: 666 });
    const host = new ModelHost({ runtimes: { stable: stable.runtime, poison: poisoned.runtime }, defaults: { batching: false } });
    const failed: RequestFailedEvent[] = [];
    host.on('requestFailed', (e) => failed.push(e));
    await host.load('m', { source: FAKE_SOURCE, config: { runtime: 'stable' } });
    await host.deploy('m', 2, { source: FAKE_SOURCE, canary: 0.5, config: { runtime: 'poison', instances: { kind: 'inline', runTimeoutMs: 50 } } });
    expect((await host.predict('m', [1]))['y']!.data[0]).toBe(2); // v1
    expect((await host.predict('m', [1]))['y']!.data[0]).toBe(2); // v2 answers a good input
    expect((await host.predict('m', [666]))['y']!.data[0]).toBe(1332); // v1
    const error = await host.predict('m', [666]).catch((e: ModelHostError) => e); // v2 hangs on it
    expect(error).toMatchObject({
      code: ErrorCode.INFERENCE_FAILED,
      message: "model 'm' v2: inference failed: no answer within 50 ms (instances.runTimeoutMs): the run was abandoned (the version's fault, not the request's: v1, the rollout's baseline, answers the same inputs)",
    });
    expect(failed).toEqual([expect.objectContaining({ version: 2, blame: 'model' })]);
    for (const resolve of poisoned.hung) resolve();
    await host.close();
  });

  it('a request pinned to the canary is never run on the baseline: as without a rollout', async () => {
    const { host, failed } = await setup({ failValues: new Map([[2, new Set([7])]]) }, { defaults: { batching: false } });
    await host.deploy('m', 2, { canary: 0.5 });
    expect(await predict(host, 1, { version: 2 })).toBe(2);
    const completedOnV1: number[] = [];
    host.on('requestCompleted', (e) => e.version === 1 && completedOnV1.push(e.rows));
    const error = (await predict(host, 7, { version: 2 })) as ModelHostError;
    expect(error.code).toBe(ErrorCode.INVALID_INPUT);
    expect(completedOnV1).toEqual([]);
    expect(failed).toEqual([expect.objectContaining({ version: 2, blame: 'request' })]);
    await host.close();
  });

  it('a version with no baseline (no rollout) behaves as before: a request it refuses alone is INVALID_INPUT', async () => {
    const { host, failed } = await setup({ failValues: new Map([[1, new Set([7])]]) }, { defaults: { batching: false } });
    expect(await predict(host, 1)).toBe(1);
    const error = (await predict(host, 7)) as ModelHostError;
    expect(error.code).toBe(ErrorCode.INVALID_INPUT);
    expect(failed).toEqual([expect.objectContaining({ version: 1, code: ErrorCode.INVALID_INPUT, blame: 'request' })]);
    await host.close();
  });

  it('a full swap its guard still observes is judged against the previous default, and rolled back', async () => {
    const clock = new FakeClock();
    const { host, rolledBack, failed } = await setup({ failValues: new Map([[2, new Set([7])]]) }, { clock, defaults: { batching: false, rollout } });
    await host.deploy('m', 2);
    expect(await predict(host, 1)).toBe(2);
    for (let step = 0; step < 10 && rolledBack.length === 0; step++) {
      clock.advance(1000);
      await round(host);
      await flush();
    }
    expect(rolledBack).toEqual([expect.objectContaining({ version: 1, from: 2, automatic: true })]);
    expect(failed.filter((e) => e.version === 2).every((e) => e.blame === 'model')).toBe(true);
    await host.close();
  });

  it('a shadow broken for inputs the default serves counts those failures (blamed on the model); callers only see the default', async () => {
    const { host, failed } = await setup({ failValues: new Map([[2, new Set([7])]]) }, { defaults: { batching: false, rollout } });
    await host.deploy('m', 2, { shadow: 1 });
    expect(await predict(host, 1)).toBe(1);
    await flush();
    expect(await predict(host, 7)).toBe(7);
    await flush();
    await flush();
    expect(failed.filter((e) => e.version === 2)).toEqual([expect.objectContaining({ code: ErrorCode.INFERENCE_FAILED, blame: 'model' })]);
    expect(host.stats('m').shadow).toMatchObject({ failed: 1 });
    await host.close();
  });
});
