import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_BREAKER_OPTIONS } from '../../../src/breaker/breaker-options.js';
import { VersionBreaker } from '../../../src/breaker/version-breaker.js';
import { ErrorCode, ModelHost, type BreakerStateChangedEvent, type ModelHostError, type RequestFailedEvent } from '../../../src/index.js';
import { createNodeServer } from '../../../src/adapters/http/index.js';
import { deferred, FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';

/**
 * Session 10's review of the breaker (e7571d2: the window counted by modelhost, opossum's
 * `open()`), through the real host: the probe, the reasons, the timers, one client against
 * everyone.
 */

/** x[0] = 13 makes the runtime throw (the request's own content); `down` makes every run throw. */
function host(breaker: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const state = { down: false, gate: undefined as Promise<void> | undefined, held: 0 };
  const runtime = fakeRuntime({
    runGate: () => {
      if (state.gate === undefined) return Promise.resolve();
      state.held++;
      return state.gate;
    },
    failRun: (inputs) => ((inputs['x']!.data as Float32Array)[0] === 13 ? new Error('input has 0 samples') : state.down ? new Error('GPU fell off') : undefined),
  });
  const h = new ModelHost({ runtimes: { fake: runtime }, defaults: { batching: false, warmup: false, breaker, ...extra } });
  const changes: BreakerStateChangedEvent[] = [];
  const failed: RequestFailedEvent[] = [];
  h.on('breakerStateChanged', (e) => changes.push(e));
  h.on('requestFailed', (e) => failed.push(e));
  const call = (first = 1, options = {}) => h.predict('affine', [first, 2, 3, 4], options).then(() => 'ok', (e: ModelHostError) => e.code);
  return { host: h, runtime, state, changes, failed, call };
}

const OPENS = { volumeThreshold: 4, errorThresholdPercentage: 50, resetTimeoutMs: 40 };

async function openIt(t: ReturnType<typeof host>) {
  await t.host.load('affine', { source: FAKE_SOURCE });
  expect(await t.call()).toBe('ok');
  t.state.down = true;
  for (let i = 0; i < 3; i++) expect(await t.call()).toBe(ErrorCode.INFERENCE_FAILED);
  expect(t.changes.map((c) => c.to)).toEqual(['open']);
  await vi.waitFor(() => expect(t.changes.map((c) => c.to)).toEqual(['open', 'halfOpen']));
}

describe('breaker review (s10): the half-open probe', () => {
  it('a failed probe opens it again with the reason "the probe failed" (it said "N of M runtime calls failed")', async () => {
    const t = host(OPENS);
    await openIt(t);
    expect(t.changes[0]!.reason).toBe('3 of 4 runtime calls failed in the last 10 s (threshold 50%)');
    expect(await t.call()).toBe(ErrorCode.INFERENCE_FAILED); // the probe
    expect(t.changes.map((c) => `${c.from}→${c.to}:${c.reason}`).slice(2)).toEqual(['halfOpen→open:the probe failed']);
    await vi.waitFor(() => expect(t.changes.at(-1)!.to).toBe('halfOpen'));
    t.state.down = false;
    expect(await t.call()).toBe('ok');
    expect(t.changes.at(-1)).toMatchObject({ from: 'halfOpen', to: 'closed', reason: 'the probe succeeded' });
    await t.host.close();
  });

  it('a probe whose request is cancelled or expires while it runs still decides: the breaker does not stay half-open', async () => {
    for (const how of ['cancelled', 'expired'] as const) {
      const t = host(OPENS);
      await openIt(t);
      t.state.down = false;
      const gate = deferred();
      t.state.gate = gate.promise;
      const controller = new AbortController();
      const probe = t.call(1, how === 'cancelled' ? { signal: controller.signal } : { timeoutMs: 30 });
      await vi.waitFor(() => expect(t.state.held).toBe(1)); // the probe is running
      if (how === 'cancelled') controller.abort();
      expect(await probe).toBe(how === 'cancelled' ? ErrorCode.CANCELLED : ErrorCode.DEADLINE_EXCEEDED);
      t.state.gate = undefined;
      gate.resolve();
      await vi.waitFor(() => expect(t.changes.at(-1)!.to).toBe('closed'));
      expect(await t.call()).toBe('ok');
      await t.host.close();
    }
  });

  it('a probe blamed on its request (its own content) neither closes nor reopens it: the next batch is the probe', async () => {
    const t = host(OPENS);
    await openIt(t);
    t.state.down = false;
    expect(await t.call(13)).toBe(ErrorCode.INVALID_INPUT);
    expect(t.failed.at(-1)!.blame).toBe('request');
    expect(t.changes.at(-1)!.to).toBe('halfOpen');
    expect(await t.call()).toBe('ok');
    expect(t.changes.at(-1)!.to).toBe('closed');
    await t.host.close();
  });
});

describe('breaker review (s10): one client against everyone', () => {
  it('over HTTP, a flood of requests the runtime rejects for their own content, of bad inputs, of cancelled and of expired ones never opens it', async () => {
    const t = host({ volumeThreshold: 2, errorThresholdPercentage: 1 });
    await t.host.load('affine', { source: FAKE_SOURCE });
    expect(await t.call()).toBe('ok'); // known-good inputs for the probe
    const server = createNodeServer(t.host);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const infer = (data: unknown) =>
      fetch(`http://127.0.0.1:${port}/v2/models/affine/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data }] }),
      }).then((r) => r.status);
    try {
      const statuses = await Promise.all([
        ...Array.from({ length: 20 }, () => infer([13, 0, 0, 0])),
        ...Array.from({ length: 20 }, () => infer([1, 2, 3])),
        ...Array.from({ length: 20 }, () => infer(['a', 'b', 'c', 'd'])),
      ]);
      expect(new Set(statuses.slice(0, 20))).toEqual(new Set([400]));
      expect(new Set(statuses.slice(20))).toEqual(new Set([400]));
      const gate = deferred();
      t.state.gate = gate.promise;
      const controller = new AbortController();
      const gone = Array.from({ length: 10 }, (_, i) => t.call(13, i % 2 === 0 ? { signal: controller.signal } : { timeoutMs: 5 }));
      await new Promise((r) => setTimeout(r, 20));
      controller.abort();
      t.state.gate = undefined;
      gate.resolve();
      await Promise.all(gone);
      await new Promise((r) => setTimeout(r, 20)); // their batches' verdicts
      expect(t.changes).toEqual([]);
      expect(await infer([1, 2, 3, 4])).toBe(200);
    } finally {
      await new Promise((resolve) => server.close(resolve));
      await t.host.close();
    }
  });
});

describe('breaker review (s10): timers', () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('a closed breaker holds no timer (opossum’s window rotated every rollingCountTimeoutMs / 10: 1 ms at the smallest); an open one its reset timer; shutdown leaves none', () => {
    vi.useFakeTimers();
    const breaker = new VersionBreaker({ ...DEFAULT_BREAKER_OPTIONS, rollingCountTimeoutMs: 10, volumeThreshold: 1 }, { model: 'm', version: 1 }, () => undefined);
    expect(vi.getTimerCount()).toBe(0);
    breaker.record({ failure: new Error('down') });
    expect(breaker.state).toBe('open');
    expect(vi.getTimerCount()).toBe(1); // the reset timer
    breaker.shutdown();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('unload and close shut every version’s breaker down, open or not', async () => {
    const shutdown = vi.spyOn(VersionBreaker.prototype, 'shutdown');
    const t = host({ ...OPENS, resetTimeoutMs: 60_000 });
    await openIt({ ...t, host: t.host }).catch(() => undefined);
    expect(t.changes[0]!.to).toBe('open');
    await t.host.unload('affine');
    expect(shutdown).toHaveBeenCalledTimes(1);
    await t.host.load('affine', { source: FAKE_SOURCE });
    await t.host.close();
    expect(shutdown).toHaveBeenCalledTimes(2);
  });
});

describe('breaker review (s10): whose timeout', () => {
  it("a runtime's own error with code ETIMEDOUT is the runtime's failure, not breaker.timeoutMs's (not marked as a run that got no answer)", async () => {
    const { isRunTimeout } = await import('../../../src/errors/run-timeout.js');
    const breaker = new VersionBreaker({ ...DEFAULT_BREAKER_OPTIONS, timeoutMs: 1000 }, { model: 'm', version: 1 }, () => undefined);
    try {
      const own = await breaker.bound(Promise.reject(Object.assign(new Error('upstream: Timed out after 3ms'), { code: 'ETIMEDOUT' }))).catch((e: unknown) => e);
      expect(own).toMatchObject({ code: ErrorCode.INFERENCE_FAILED, message: "model 'm' v1: upstream: Timed out after 3ms" });
      expect(isRunTimeout(own)).toBe(false);
      const ours = await breaker.bound(new Promise(() => undefined)).catch((e: unknown) => e);
      expect(ours).toMatchObject({ code: ErrorCode.INFERENCE_FAILED, message: "model 'm' v1: the runtime call timed out after 1000ms (breaker.timeoutMs)" });
      expect(isRunTimeout(ours)).toBe(true);
    } finally {
      breaker.shutdown();
    }
  });
});
