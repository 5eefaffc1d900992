import { it, expect } from 'vitest';
import { ModelHost, type RequestSampledEvent } from '../../../src/index.js';
import { borrowsSamples } from '../../../src/monitoring/sample-listeners.js';
import { fakeRuntime, FAKE_SOURCE } from '../../helpers/fake-runtime.js';

/**
 * The host works out who listens to `requestSampled` once per change of its listeners, not per
 * sample: every way a listener comes or goes (`on`, `once` firing, `off`, `removeAllListeners`,
 * a context listener) must switch it between lending the request's own outputs (only borrowing
 * listeners) and copies (a listener that may keep them).
 */
it('borrowing or copying follows every change of the listeners', async () => {
  const host = new ModelHost({ runtimes: { fake: fakeRuntime() }, models: { m: { sampling: { rate: 1 } } } });
  await host.load('m', { source: FAKE_SOURCE });
  let seen: unknown;
  const borrower = borrowsSamples((e: RequestSampledEvent) => void (seen = e.outputs!['y']!.data));
  host.on('requestSampled', borrower);
  /** Whether the borrowing listener was lent the request's own outputs (true) or a copy (false). */
  const lent = async () => {
    seen = undefined;
    const out = await host.predict('m', new Float32Array([1, 2, 3, 4]));
    expect(seen).toBeDefined();
    return seen === out['y']!.data;
  };
  expect(await lent()).toBe(true);

  const kept: RequestSampledEvent[] = [];
  host.once('requestSampled', (e) => void kept.push(e));
  expect(await lent()).toBe(false);
  expect(kept).toHaveLength(1);
  // The `once` listener removed itself: back to lending.
  expect(await lent()).toBe(true);
  expect(kept).toHaveLength(1);

  const keeper = (e: RequestSampledEvent) => void kept.push(e);
  host.on('requestSampled', keeper);
  expect(await lent()).toBe(false);
  host.off('requestSampled', keeper);
  expect(await lent()).toBe(true);

  const context = { kept: 0 };
  function counted(this: typeof context) {
    this.kept++;
  }
  host.on('requestSampled', counted, context);
  expect(await lent()).toBe(false);
  expect(context.kept).toBe(1);
  host.removeListener('requestSampled', counted, context);
  expect(await lent()).toBe(true);

  host.on('requestSampled', keeper);
  host.removeAllListeners('requestSampled');
  host.on('requestSampled', borrower);
  expect(await lent()).toBe(true);
  host.on('requestSampled', keeper);
  host.removeAllListeners();
  host.on('requestSampled', borrower);
  expect(await lent()).toBe(true);
  await host.close();
});
