import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, ModelHost, type ModelHostError } from '../../../src/index.js';
import { FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';

/**
 * Review (session 6): a batch settles through one reaction on its run; whatever the runtime
 * rejects with (not an Error: undefined, a string, a symbol, an object whose properties throw),
 * every request of the batch settles with INFERENCE_FAILED and the host drains.
 */
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
  unhandled.length = 0;
});

const revoked = (() => {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
})();
const throwingGetters = Object.defineProperties({}, {
  message: { get: () => { throw new Error('no message for you'); } },
  code: { get: () => { throw new Error('no code for you'); } },
});

describe('review (s6): odd rejection values from a runtime', () => {
  it.each([
    ['undefined', undefined],
    ['null', null],
    ['a string', 'boom'],
    ['a symbol', Symbol('boom')],
    ['an object whose getters throw', throwingGetters],
    ['a revoked proxy', revoked],
  ])('%s: every request settles with INFERENCE_FAILED, with and without a breaker timeout', async (_, value) => {
    process.on('unhandledRejection', onUnhandled);
    for (const breaker of [{}, { timeoutMs: 1000 }, { enabled: false }]) {
      const runtime = fakeRuntime();
      let failing = false;
      const session = runtime.load.bind(runtime);
      runtime.load = async (...args) => {
        const s = await session(...args);
        const run = s.run.bind(s);
        s.run = (inputs) => (failing ? Promise.reject(value) : run(inputs));
        return s;
      };
      const host = new ModelHost({ runtimes: { fake: runtime }, defaults: { batching: { maxBatchSize: 4, maxDelayMs: 1 }, breaker } });
      await host.load('m', { source: FAKE_SOURCE });
      failing = true;
      const outcomes = await Promise.race([
        Promise.all([1, 2, 3].map((v) => host.predict('m', [v, v, v, v]).then(() => 'ok', (e: ModelHostError) => e.code))),
        new Promise((r) => setTimeout(() => r('hung'), 2000)),
      ]);
      expect(outcomes).toEqual([ErrorCode.INFERENCE_FAILED, ErrorCode.INFERENCE_FAILED, ErrorCode.INFERENCE_FAILED]);
      await host.close();
    }
    await new Promise((r) => setTimeout(r, 5));
    expect(unhandled.length).toBe(0);
  });
});
