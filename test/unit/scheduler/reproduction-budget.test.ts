import { describe, expect, it } from 'vitest';
import { ErrorCode, ModelHost, type ModelHostError, type RequestFailedEvent, type Runtime, type Session } from '../../../src/index.js';
import { ReproductionBudget } from '../../../src/scheduler/reproduction-budget.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { AFFINE_SIGNATURE, affine, FAKE_SOURCE } from '../../helpers/fake-runtime.js';

// A client that sends only inputs the runtime refuses must not buy everyone's execution slots:
// reproducing failures (docs/observability.md, "Who is blamed") takes at most 10% of the time.

const POISON = 666;
const RUN_MS = 10;
const row = (v: number) => [v, v + 1, v + 2, v + 3];

/** An inline runtime whose every run takes RUN_MS on `clock` and throws on a POISON row (always the same message). */
function timedRuntime(clock: FakeClock): Runtime & { runs: number } {
  const runtime = {
    name: 'timed',
    runs: 0,
    canLoad: () => true,
    async load(): Promise<Session> {
      return {
        signature: AFFINE_SIGNATURE,
        async run(inputs) {
          runtime.runs++;
          clock.advance(RUN_MS);
          if ((inputs['x']!.data as Float32Array)[0] === POISON) throw new Error('Got invalid value in input x');
          return affine(inputs);
        },
        dispose() {},
      };
    },
  };
  return runtime;
}

async function hostWith(clock: FakeClock, runtime: Runtime) {
  const host = new ModelHost({ runtimes: { timed: runtime }, clock, defaults: { batching: false, warmup: false, breaker: { volumeThreshold: 1_000_000 } } });
  await host.load('m', { source: FAKE_SOURCE, config: { runtime: 'timed' } });
  const failed: RequestFailedEvent[] = [];
  host.on('requestFailed', (e) => failed.push(e));
  let breakerChanges = 0;
  host.on('breakerStateChanged', () => breakerChanges++);
  return { host, failed, breakerChanges: () => breakerChanges };
}

describe('the reproduction budget', () => {
  it('grows by its share of the elapsed time per slot up to its reserve; a reproduction starts only while it is positive', () => {
    const clock = new FakeClock();
    const budget = new ReproductionBudget(clock, 2, 0.1, 1_000); // reserve: 0.1 × 1000 ms × 2 slots = 200 ms
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
