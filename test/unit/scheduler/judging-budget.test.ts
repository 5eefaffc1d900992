import { describe, expect, it } from 'vitest';
import { ErrorCode, ModelHost, type ModelHostError, type RequestFailedEvent, type Runtime, type Session } from '../../../src/index.js';
import { JudgingBudget } from '../../../src/scheduler/judging-budget.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { AFFINE_SIGNATURE, affine, FAKE_SOURCE } from '../../helpers/fake-runtime.js';

// A client that sends only inputs the runtime refuses must not buy everyone's execution slots:
// reproducing failures (docs/observability.md, "Who is blamed") takes at most 10% of the time.

const POISON = 666;
const RUN_MS = 10;
const row = (v: number) => [v, v + 1, v + 2, v + 3];

/**
 * An inline runtime whose every run takes `runMs` on `clock` and throws on a batch holding a
 * POISON row (always the same message), or on any batch once `broken` is set.
 */
function timedRuntime(clock: FakeClock, runMs = RUN_MS): Runtime & { runs: number; broken: boolean } {
  const runtime = {
    name: 'timed',
    runs: 0,
    broken: false,
    canLoad: () => true,
    async load(): Promise<Session> {
      return {
        signature: AFFINE_SIGNATURE,
        async run(inputs) {
          runtime.runs++;
          clock.advance(runMs);
          if (runtime.broken) throw new Error('device lost');
          const x = inputs['x']!.data as Float32Array;
          for (let r = 0; r < x.length; r += 4) if (x[r] === POISON) throw new Error('Got invalid value in input x');
          return affine(inputs);
        },
        dispose() {},
      };
    },
  };
  return runtime;
}

async function hostWith(clock: FakeClock, runtime: Runtime, batching: false | { maxBatchSize: number; maxDelayMs: number } = false) {
  const host = new ModelHost({ runtimes: { timed: runtime }, clock, defaults: { batching, warmup: false, breaker: { volumeThreshold: 1_000_000 } } });
  await host.load('m', { source: FAKE_SOURCE, config: { runtime: 'timed' } });
  const failed: RequestFailedEvent[] = [];
  host.on('requestFailed', (e) => failed.push(e));
  let breakerChanges = 0;
  host.on('breakerStateChanged', () => breakerChanges++);
  return { host, failed, breakerChanges: () => breakerChanges };
}

describe('the judging budget', () => {
  it('grows by its share of the elapsed time per slot up to its reserve; a reproduction starts only while it is positive', () => {
    const clock = new FakeClock();
    const budget = new JudgingBudget(clock, 2, 0.1, 1_000); // reserve: 0.1 × 1000 ms × 2 slots = 200 ms
    expect(budget.available()).toBe(true);
    budget.spend(250);
    expect(budget.available()).toBe(false); // -50
    clock.advance(200); // +0.1 × 2 × 200 = +40
    expect(budget.available()).toBe(false); // -10
    clock.advance(60); // +12
    expect(budget.available()).toBe(true); // +2
    clock.advance(1_000_000);
    expect(budget.available()).toBe(true);
    budget.spend(200); // the reserve caps what idle time saved: 200 - 200 = 0
    expect(budget.available()).toBe(false);
  });
});

describe('a flood of requests the runtime refuses', () => {
  it('costs the version at most 10% of its time in re-runs (plus its reserve): past that, failures are answered 500 not judged, counted against nobody', async () => {
    const clock = new FakeClock();
    const runtime = timedRuntime(clock);
    const { host, failed, breakerChanges } = await hostWith(clock, runtime);
    await host.predict('m', row(1)); // known-good inputs for the probes
    const started = clock.now();
    const runsBefore = runtime.runs;
    const FLOOD = 40;
    const codes: string[] = [];
    const messages: string[] = [];
    for (let i = 0; i < FLOOD; i++) {
      const error = (await host.predict('m', row(POISON)).catch((e: ModelHostError) => e)) as ModelHostError;
      codes.push(error.code);
      messages.push(error.message);
    }
    const runs = runtime.runs - runsBefore;
    const elapsed = clock.now() - started;
    // Each poisoned request costs its own run and one probe whatever the budget; reproduction
    // rounds (a re-run and a probe each, 3 of them) come out of the budget: its reserve of
    // 100 ms (0.1 × 1 s × 1 slot), 10% of the elapsed time, and one reproduction's overshoot.
    const reproductionRuns = runs - 2 * FLOOD;
    expect(reproductionRuns * RUN_MS).toBeLessThanOrEqual(100 + 0.1 * elapsed + 6 * RUN_MS);
    // Without the budget every request cost 8 runs: 320 here.
    expect(runs).toBeLessThan(FLOOD * 3);
    // The first ones were judged in full (400, the request's); the rest are judged by nobody.
    expect(codes.slice(0, 2)).toEqual([ErrorCode.INVALID_INPUT, ErrorCode.INVALID_INPUT]);
    const unjudged = codes.filter((c) => c === ErrorCode.INFERENCE_FAILED).length;
    expect(unjudged).toBeGreaterThan(FLOOD / 2);
    expect(codes.filter((c) => c !== ErrorCode.INFERENCE_FAILED && c !== ErrorCode.INVALID_INPUT)).toEqual([]);
    expect(messages[FLOOD - 1]).toMatch(/inference failed: the runtime failed on this request \(not judged: .* running failures again may take 10% of the version's execution time, and other failures have taken it\)$/);
    // Never the model's: the breaker stays closed and heard no failure.
    expect(failed.every((e) => e.blame === 'request')).toBe(true);
    expect(breakerChanges()).toBe(0);
    // Well-formed requests are answered throughout, and after a quiet second a bad input is judged in full again.
    expect(Array.from((await host.predict('m', row(1)))['y']!.data as Float32Array)).toEqual([3, 5, 7, 9]);
    clock.advance(1_000);
    const before = runtime.runs;
    await expect(host.predict('m', row(POISON))).rejects.toMatchObject({ code: ErrorCode.INVALID_INPUT });
    expect(runtime.runs - before).toBe(1 + 1 + 3 * 2);
    await host.close();
  });
});

describe('a canary past its reproduction budget', () => {
  it('a failure not reproduced is still checked on the baseline: an input the baseline answers counts against the canary', async () => {
    const clock = new FakeClock();
    const stable = timedRuntime(clock);
    // The canary also throws on 7, an input the baseline answers: the canary's fault.
    const canaryRuns = timedRuntime(clock);
    const canary: Runtime = {
      ...canaryRuns,
      async load(...args) {
        const session = await canaryRuns.load(...(args as Parameters<Runtime['load']>));
        return {
          ...session,
          async run(inputs) {
            const out = await session.run(inputs);
            if ((inputs['x']!.data as Float32Array)[0] === 7) throw new Error('broken on 7');
            return out;
          },
        };
      },
    };
    const host = new ModelHost({ runtimes: { stable, canary }, clock, defaults: { batching: false, warmup: false, breaker: { volumeThreshold: 1_000_000 }, rollout: { windowMs: 10_000_000, minSamples: 1_000 } } });
    await host.load('m', { source: FAKE_SOURCE, config: { runtime: 'stable' } });
    await host.deploy('m', 2, { source: FAKE_SOURCE, canary: 0.5, config: { runtime: 'canary' } });
    const failed: RequestFailedEvent[] = [];
    host.on('requestFailed', (e) => failed.push(e));
    await host.predict('m', row(1), { version: 2 }); // known-good inputs on the canary
    // Pinned to v2, poisoned requests are judged as without a rollout, and spend its budget.
    const codes: string[] = [];
    for (let i = 0; i < 20; i++) codes.push(((await host.predict('m', row(POISON), { version: 2 }).catch((e: ModelHostError) => e)) as ModelHostError).code);
    expect(codes.at(-1)).toBe(ErrorCode.INFERENCE_FAILED); // not judged: the budget is spent
    failed.length = 0;
    for (let i = 0; i < 4; i++) await host.predict('m', row(7)).catch(() => undefined); // half of them to the canary
    const onCanary = failed.filter((e) => e.version === 2);
    expect(onCanary.length).toBeGreaterThan(0);
    for (const e of onCanary) expect(e).toMatchObject({ code: ErrorCode.INFERENCE_FAILED, blame: 'model', message: expect.stringMatching(/\(the version's fault, not the request's: v1, the rollout's baseline, answers the same inputs\)$/) });
    await host.close();
  });
});

const BATCHING = { maxBatchSize: 8, maxDelayMs: 1 };

/** A batch of 8 requests sent in one tick, the one at `poisoned` (if any) POISON: each one's answer (outputs' y) or error. */
async function burst(host: ModelHost, poisoned: number | undefined, first = 1): Promise<(number[] | ModelHostError)[]> {
  return Promise.all(
    Array.from({ length: 8 }, (_, i) =>
      host.predict('m', row(i === poisoned ? POISON : first + i)).then(
        (out) => Array.from(out['y']!.data as Float32Array),
        (error: ModelHostError) => error,
      ),
    ),
  );
}

describe('a flood of batches holding one request the runtime refuses', () => {
  it('bisecting them takes at most 10% of the version\'s time (plus its reserve): past that, a failed batch is not split, its requests fail 500 not judged, counted against nobody', async () => {
    const clock = new FakeClock();
    const runtime = timedRuntime(clock);
    const { host, failed, breakerChanges } = await hostWith(clock, runtime, BATCHING);
    await host.predict('m', row(1)); // known-good inputs for the probes
    const started = clock.now();
    const runsBefore = runtime.runs;
    const ROUNDS = 40;
    const rounds: (number[] | ModelHostError)[][] = [];
    for (let i = 0; i < ROUNDS; i++) rounds.push(await burst(host, i % 8));
    const runs = runtime.runs - runsBefore;
    const elapsed = clock.now() - started;
    // Each failed batch costs its own run and one probe whatever the budget; bisection (6 runs
    // for one poisoned request in 8) and reproduction (3 rounds of a re-run and a probe) come
    // out of the budget: its reserve of 100 ms, 10% of the elapsed time, and one judgment's overshoot.
    const judgingRuns = runs - 2 * ROUNDS;
    expect(judgingRuns * RUN_MS).toBeLessThanOrEqual(100 + 0.1 * elapsed + 12 * RUN_MS);
    // Judged in full, each batch cost 1 + 6 + 6 runs: 520 here.
    expect(runs).toBeLessThan(ROUNDS * 3);
    // The first one was judged in full: its batch-mates answered, the poisoned one 400.
    const [judged] = rounds;
    expect((judged![0] as ModelHostError).code).toBe(ErrorCode.INVALID_INPUT);
    for (let i = 1; i < 8; i++) expect(judged![i]).toEqual(row(1 + i).map((v) => 2 * v + 1));
    // Past the budget the batch is not split: every request in it fails 500, not judged.
    const last = rounds.at(-1)!;
    for (const answer of last) {
      expect(answer).toMatchObject({ code: ErrorCode.INFERENCE_FAILED });
      expect((answer as ModelHostError).message).toMatch(
        /inference failed: the runtime failed on this batch \(not judged: its batch failed and other inputs succeed on this version, but the batch was not split to find the request at fault: running failures again may take 10% of the version's execution time, and other failures have taken it\)$/,
      );
    }
    const unsplit = rounds.filter((answers) => answers.every((a) => !Array.isArray(a) && a.code === ErrorCode.INFERENCE_FAILED)).length;
    expect(unsplit).toBeGreaterThan(ROUNDS / 2);
    // Never the model's: the breaker stays closed and heard no failure.
    expect(failed.every((e) => e.blame === 'request')).toBe(true);
    expect(breakerChanges()).toBe(0);
    // A batch without poison is answered throughout; after a quiet second a poisoned batch is bisected in full again.
    expect((await burst(host, undefined)).every(Array.isArray)).toBe(true);
    clock.advance(1_000);
    const before = runtime.runs;
    const again = await burst(host, 3);
    expect(again.filter(Array.isArray)).toHaveLength(7);
    expect(again[3]).toMatchObject({ code: ErrorCode.INVALID_INPUT });
    expect(runtime.runs - before).toBe(1 + 6 + 3 * 2);
    await host.close();
  });

  it('past the budget, a batch that fails while known-good inputs fail too is the model\'s and counts, as ever', async () => {
    const clock = new FakeClock();
    const runtime = timedRuntime(clock);
    const { host, failed } = await hostWith(clock, runtime, BATCHING);
    await host.predict('m', row(1));
    for (let i = 0; i < 20; i++) await burst(host, i % 8); // spends the budget
    expect((await burst(host, 0)).every((a) => !Array.isArray(a) && /not split/.test(a.message))).toBe(true);
    failed.length = 0;
    runtime.broken = true;
    const answers = await burst(host, undefined);
    for (const answer of answers) expect(answer).toMatchObject({ code: ErrorCode.INFERENCE_FAILED, message: expect.stringMatching(/: inference failed: the runtime failed on this batch$/) });
    expect(failed).toHaveLength(8);
    expect(failed.every((e) => e.blame === 'model')).toBe(true);
    await host.close();
  });
});

describe('a lone poisoned batch on a quiet version', () => {
  for (const runMs of [RUN_MS, 300]) {
    it(`is bisected and its culprit reproduced in full, even when that takes past the reserve (runs of ${runMs} ms)`, async () => {
      const clock = new FakeClock();
      const runtime = timedRuntime(clock, runMs);
      const { host, failed, breakerChanges } = await hostWith(clock, runtime, BATCHING);
      const before = runtime.runs;
      const answers = await burst(host, 5, 10);
      for (let i = 0; i < 8; i++) {
        if (i === 5) continue;
        expect(answers[i]).toEqual(row(10 + i).map((v) => 2 * v + 1));
      }
      expect(answers[5]).toMatchObject({ code: ErrorCode.INVALID_INPUT, message: expect.stringMatching(/fails again on its own, with the same error, 3 more times/) });
      // Its run, the bisection (8 → 4 + 4 → 2 + 2 → 1 + 1), then 3 rounds of a re-run and a probe.
      expect(runtime.runs - before).toBe(1 + 6 + 3 * 2);
      expect(failed).toHaveLength(1);
      expect(failed[0]).toMatchObject({ blame: 'request', code: ErrorCode.INVALID_INPUT });
      expect(breakerChanges()).toBe(0);
      await host.close();
    });
  }
});
