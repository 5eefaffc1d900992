/**
 * Durations past the longest timer Node keeps (2^31 − 1 ms, about 24.8 days): Node fires such a
 * timer after 1 ms (TimeoutOverflowWarning). A `drainTimeoutMs` of 3e9 ended the drain at once,
 * a breaker or worker-run timeout of 3e9 timed every run out, a poll interval of 1e11 rescanned
 * the repository every millisecond. Options are refused past it; a deadline a caller gives
 * (`timeoutMs: Infinity`, a gRPC deadline) is kept on a timer that never overflows.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { resolveHttpOptions } from '../../../src/adapters/http/http-types.js';
import { resolveLimits } from '../../../src/adapters/http/listener-limits.js';
import { ErrorCode, ModelHost, ModelHostError } from '../../../src/index.js';
import { systemClock } from '../../../src/scheduler/clock.js';
import { deferred, FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';

const TOO_LONG = 2 ** 31;
const LONGEST = 2 ** 31 - 1;

function refusal(make: () => unknown): string {
  try {
    make();
  } catch (error) {
    if (error instanceof ModelHostError) expect(error.code).toBe(ErrorCode.INVALID_CONFIG);
    return (error as Error).message;
  }
  return 'accepted';
}

describe('durations in options are at most 2^31 − 1 ms', () => {
  it.each([
    ['drainTimeoutMs', (ms: number) => new ModelHost({ drainTimeoutMs: ms }), '`drainTimeoutMs` must be an integer from 0 to 2147483647, got 2147483648'],
    ['repository.pollIntervalMs', (ms: number) => new ModelHost({ repository: { root: '.', pollIntervalMs: ms } }), '`repository.pollIntervalMs` must be an integer from 10 to 2147483647, got 2147483648'],
    ['defaults.timeoutMs', (ms: number) => new ModelHost({ defaults: { timeoutMs: ms } }), '`defaults.timeoutMs` must be a number from 0 to 2147483647, got 2147483648'],
    ['defaults.queue.maxWaitMs', (ms: number) => new ModelHost({ defaults: { queue: { maxWaitMs: ms } } }), '`defaults.queue.maxWaitMs` must be a number from 1 to 2147483647, got 2147483648'],
    ['defaults.instances.runTimeoutMs', (ms: number) => new ModelHost({ defaults: { instances: { runTimeoutMs: ms } } }), '`defaults.instances.runTimeoutMs` must be a number from 1 to 2147483647, got 2147483648'],
    ['defaults.breaker.timeoutMs', (ms: number) => new ModelHost({ defaults: { breaker: { timeoutMs: ms } } }), '`defaults.breaker.timeoutMs` must be a number from 1 to 2147483647, got 2147483648'],
    ['defaults.breaker.resetTimeoutMs', (ms: number) => new ModelHost({ defaults: { breaker: { resetTimeoutMs: ms } } }), '`defaults.breaker.resetTimeoutMs` must be a number from 1 to 2147483647, got 2147483648'],
    ['defaults.breaker.rollingCountTimeoutMs', (ms: number) => new ModelHost({ defaults: { breaker: { rollingCountTimeoutMs: ms } } }), '`defaults.breaker.rollingCountTimeoutMs` must be a number from 10 to 2147483647, got 2147483648'],
    ['defaults.rollout.windowMs', (ms: number) => new ModelHost({ defaults: { rollout: { windowMs: ms } } }), '`defaults.rollout.windowMs` must be a number from 1 to 2147483647, got 2147483648'],
    ['defaults.rollout.observeMs', (ms: number) => new ModelHost({ defaults: { rollout: { observeMs: ms } } }), '`defaults.rollout.observeMs` must be a number from 0 to 2147483647, got 2147483648'],
    ['HTTP timeoutMs', (ms: number) => resolveHttpOptions({ timeoutMs: ms }), '`timeoutMs` must be a positive number of ms up to 2147483647, got 2147483648'],
    ['listener limits.bodyTimeoutMs', (ms: number) => resolveLimits({ bodyTimeoutMs: ms }), 'limits.bodyTimeoutMs must be an integer from 1 to 2147483647, got 2147483648'],
    ['listener limits.maxWaitMs', (ms: number) => resolveLimits({ maxWaitMs: ms }), 'limits.maxWaitMs must be an integer from 1 to 2147483647, got 2147483648'],
    ['server limits.headersTimeoutMs', (ms: number) => resolveLimits({ headersTimeoutMs: ms }), 'limits.headersTimeoutMs must be an integer from 1 to 2147483647, got 2147483648'],
    ['server limits.keepAliveTimeoutMs', (ms: number) => resolveLimits({ keepAliveTimeoutMs: ms }), 'limits.keepAliveTimeoutMs must be an integer from 1 to 2147483647, got 2147483648'],
  ] as const)('%s: 2^31 is refused, 2^31 − 1 is taken', async (_, make, message) => {
    expect(refusal(() => make(TOO_LONG))).toBe(message);
    const made = make(LONGEST);
    if (made instanceof ModelHost) await made.close();
  });
});

describe('a deadline past the longest timer', () => {
  afterEach(() => vi.restoreAllMocks());

  it('the system clock never asks Node for a timer longer than 2^31 − 1 ms', () => {
    const spy = vi.spyOn(globalThis, 'setTimeout');
    for (const ms of [TOO_LONG, 1e10, Number.POSITIVE_INFINITY]) systemClock.clearTimeout(systemClock.setTimeout(() => undefined, ms));
    expect(spy.mock.calls.map((call) => call[1])).toEqual([LONGEST, LONGEST, LONGEST]);
  });

  it.each([1e10, Number.POSITIVE_INFINITY])('predict with timeoutMs %s waits on one timer, not one re-armed every millisecond', async (timeoutMs) => {
    const gate = deferred();
    const runtime = fakeRuntime({ runGate: () => (runtime.runs > 1 ? gate.promise : Promise.resolve()) });
    const host = new ModelHost({ runtimes: { fake: runtime } });
    await host.load('m', { source: FAKE_SOURCE });
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    const spy = vi.spyOn(globalThis, 'setTimeout');
    const answer = host.predict('m', new Float32Array(4), { timeoutMs });
    await expect.poll(() => runtime.runs).toBe(2);
    await new Promise<void>((resolve) => setImmediate(resolve));
    const armed = spy.mock.calls.length;
    // 30 ms while the run holds: an overflowing timer would have fired (and been re-armed) ~30 times.
    await new Promise<void>((resolve) => {
      const started = performance.now();
      const wait = () => (performance.now() - started >= 30 ? resolve() : setImmediate(wait));
      wait();
    });
    expect(spy.mock.calls.length - armed).toBe(0);
    gate.resolve();
    await expect(answer).resolves.toBeDefined();
    process.off('warning', onWarning);
    expect(warnings).not.toContain('TimeoutOverflowWarning');
    await host.close();
  });
});
