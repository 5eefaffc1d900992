import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ErrorCode, ModelHost } from '../../../src/index.js';
import { deferred, FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';

// One long-lived signal (an app's shutdown controller, a keep-alive connection's) passed to
// requests on many models, one after another: the lingering idle listeners must not pile up
// one per scheduler (Node warns past 10 listeners on one AbortSignal).
describe('review: one AbortSignal across many models and hosts', () => {
  it('adds at most one listener to a signal, however many models and hosts it visits, and none once they close', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    const controller = new AbortController();
    const { signal } = controller;
    const hosts = [new ModelHost({ runtimes: { fake: fakeRuntime() } }), new ModelHost({ runtimes: { fake: fakeRuntime() } })];
    try {
      for (const host of hosts) for (let m = 0; m < 8; m++) await host.load(`m${m}`, { source: FAKE_SOURCE });
      for (const host of hosts) for (let m = 0; m < 8; m++) await host.predict(`m${m}`, [1, 2, 3, 4], { signal });
      expect(getEventListeners(signal, 'abort').length).toBeLessThanOrEqual(1);
      // Still exact: a request queued with it now is cancelled by its abort.
      const blocked = hosts[0]!.predict('m3', [1, 1, 1, 1], { signal });
      controller.abort();
      await expect(blocked).rejects.toMatchObject({ code: ErrorCode.CANCELLED });
      await new Promise((r) => setImmediate(r));
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      for (const host of hosts) await host.close();
    }
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
  });

  it('removes the lingering listeners of a model when it is unloaded, and of a host when it closes', async () => {
    const signal = new AbortController().signal;
    const host = new ModelHost({ runtimes: { fake: fakeRuntime() } });
    await host.load('a', { source: FAKE_SOURCE });
    await host.load('b', { source: FAKE_SOURCE });
    await host.predict('a', [1, 2, 3, 4], { signal });
    await host.unload('a');
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
    await host.predict('b', [1, 2, 3, 4], { signal });
    await host.close();
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
  });

  it('cancels every request of one signal on every model and host it reached, running or queued, and no other', async () => {
    const gate = deferred();
    let held = false;
    const runtime = () => fakeRuntime({ runGate: () => (held ? gate.promise : Promise.resolve()) });
    const options = { defaults: { batching: { maxBatchSize: 1 } } };
    const hosts = [new ModelHost({ runtimes: { fake: runtime() }, ...options }), new ModelHost({ runtimes: { fake: runtime() }, ...options })];
    for (const host of hosts) await host.load('m', { source: FAKE_SOURCE });
    held = true;
    const controller = new AbortController();
    const other = new AbortController();
    const running = hosts.map((host) => host.predict('m', [1, 2, 3, 4], { signal: controller.signal }));
    const queued = hosts.map((host) => host.predict('m', [1, 2, 3, 4], { signal: controller.signal }));
    const kept = hosts.map((host) => host.predict('m', [1, 2, 3, 4], { signal: other.signal }));
    await new Promise((r) => setImmediate(r));
    controller.abort(new Error('user left'));
    for (const p of [...running, ...queued]) await expect(p).rejects.toMatchObject({ code: ErrorCode.CANCELLED });
    gate.resolve();
    for (const p of kept) await expect(p).resolves.toBeDefined();
    for (const host of hosts) await host.close();
    expect(getEventListeners(other.signal, 'abort')).toHaveLength(0);
  });
});
