import { describe, expect, it } from 'vitest';
import { ErrorCode, ModelHost, ModelHostError, type RequestFailedEvent } from '../../../src/index.js';
import { flush } from '../../helpers/fake-clock.js';
import { FAKE_SOURCE } from '../../helpers/fake-runtime.js';
import { hangingRuntime } from '../../helpers/hanging-runtime.js';

// Review (session 11): a canary's failed request whose baseline check is in flight settles
// once, with a ModelHostError and a code, whatever ends it (its deadline, close()), and no
// run, session or pending request is left behind.

const rollout = { windowMs: 10_000, minSamples: 20 };

/** v1 hangs on 666, v2 (a 0.5 canary) throws on 7; the next unpinned request goes to v2 after `ready`. */
async function setup() {
  const stable = hangingRuntime({ name: 'stable', hangOn: 666 });
  const canary = hangingRuntime({ name: 'canary', hangOn: -1, throwOn: 7 });
  const host = new ModelHost({ runtimes: { stable: stable.runtime, canary: canary.runtime }, defaults: { batching: false, rollout }, drainTimeoutMs: 2_000 });
  const failed: RequestFailedEvent[] = [];
  host.on('requestFailed', (e) => failed.push(e));
  await host.load('m', { source: FAKE_SOURCE, config: { runtime: 'stable' } });
  await host.deploy('m', 2, { source: FAKE_SOURCE, canary: 0.5, config: { runtime: 'canary' } });
  await host.predict('m', [1]); // v1
  await host.predict('m', [1]); // v2: a known-good input for its probe
  await host.predict('m', [1]); // v1: the next unpinned one goes to v2
  return { host, stable, canary, failed };
}

/** Starts a hung run on v1 (its one slot) and a request v2 fails on, until its check waits on v1. */
async function checkInFlight(host: ModelHost, stable: ReturnType<typeof hangingRuntime>, options: { timeoutMs?: number } = {}) {
  const hung = host.predict('m', [666], { version: 1 }).catch((e: unknown) => e);
  await stable.started;
  let settledTimes = 0;
  const request = host.predict('m', [7], options).then(
    (value) => {
      settledTimes++;
      return value as unknown;
    },
    (error: unknown) => {
      settledTimes++;
      return error;
    },
  );
  for (let i = 0; i < 200 && host.stats('m').versions[1]!.pending < 2; i++) await flush(1);
  expect(host.stats('m').versions[1]!.pending).toBe(2); // the hung run and the check
  return { hung, request, settledTimes: () => settledTimes };
}

describe('a request whose baseline check is in flight', () => {
  it('close(): it settles once, with the verdict of the check the drain still ran; every session is disposed, nothing pending', async () => {
    const { host, stable, canary, failed } = await setup();
    const { hung, request, settledTimes } = await checkInFlight(host, stable);
    const closing = host.close();
    await flush();
    stable.release(); // the hung run returns, so the drain ends
    await closing;
    const error = await request;
    expect(error).toBeInstanceOf(ModelHostError);
    // close() drains: v1 runs the queued check once its hung run returns, and answers 7, so the failure is v2's.
    expect(error).toMatchObject({ code: ErrorCode.INFERENCE_FAILED, message: expect.stringMatching(/the version's fault, not the request's: v1/) });
    await hung;
    await flush();
    expect(settledTimes()).toBe(1);
    expect(failed.filter((e) => e.version === 2)).toHaveLength(1);
    expect(stable.state.open).toBe(0);
    expect(canary.state.open).toBe(0);
  });

  it('its deadline passes: DEADLINE_EXCEEDED at once, the check goes with it, both versions back to nothing pending', async () => {
    const { host, stable, canary, failed } = await setup();
    const runsBefore = stable.state.runs;
    const { hung, request, settledTimes } = await checkInFlight(host, stable, { timeoutMs: 300 });
    const error = (await request) as ModelHostError;
    expect(error).toBeInstanceOf(ModelHostError);
    expect([error.code, error.message]).toEqual([ErrorCode.DEADLINE_EXCEEDED, expect.any(String)]);
    await flush();
    expect(host.stats('m').versions[1]!.pending).toBe(1); // only the hung run
    expect(host.stats('m').versions[2]!.pending).toBe(0);
    stable.release();
    await hung;
    await flush();
    expect(stable.state.runs).toBe(runsBefore + 1); // the hung run; the check never ran
    expect(settledTimes()).toBe(1);
    expect(failed.filter((e) => e.version === 2)).toEqual([expect.objectContaining({ code: ErrorCode.DEADLINE_EXCEEDED })]);
    expect(failed.filter((e) => e.version === 1)).toEqual([]);
    await host.close();
    expect(stable.state.open).toBe(0);
    expect(canary.state.open).toBe(0);
  });
});
