import { describe, expect, it } from 'vitest';
import { ArrivalClock } from '../../../src/scheduler/arrival-clock.js';
import { systemClock } from '../../../src/scheduler/clock.js';
import { FakeClock } from '../../helpers/fake-clock.js';

/** A FakeClock that counts its reads. */
function countingClock() {
  const clock = new FakeClock();
  let reads = 0;
  const now = clock.now.bind(clock);
  clock.now = () => {
    reads++;
    return now();
  };
  return { clock, reads: () => reads };
}

describe('ArrivalClock', () => {
  it('reads the clock once per burst: requests admitted before the microtask queue drains share the first reading', async () => {
    const { clock, reads } = countingClock();
    const arrivals = new ArrivalClock(clock, { perBurst: true });
    clock.advance(5);
    const burst = [arrivals.now()];
    clock.advance(1); // moves within the burst are not seen
    burst.push(arrivals.now());
    expect(burst).toEqual([5, 5]);
    expect(reads()).toBe(1);
    // Callers woken by one promise are one burst.
    let wake!: () => void;
    const gate = new Promise<void>((resolve) => (wake = resolve));
    const woken = [0, 1, 2].map(() => gate.then(() => arrivals.now()));
    await new Promise((resolve) => setImmediate(resolve)); // the first burst ended
    wake();
    expect(await Promise.all(woken)).toEqual([6, 6, 6]);
    expect(reads()).toBe(2);
    clock.advance(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(arrivals.now()).toBe(7); // a new burst reads again
    expect(reads()).toBe(3);
  });

  it('reads an injected clock on every call unless told otherwise, and the system clock per burst', () => {
    const { clock, reads } = countingClock();
    const arrivals = new ArrivalClock(clock);
    expect(arrivals.now()).toBe(0);
    clock.advance(2);
    expect(arrivals.now()).toBe(2);
    expect(reads()).toBe(2);
    const system = new ArrivalClock(systemClock);
    const first = system.now();
    while (performance.now() === first); // the system clock moves on…
    expect(system.now()).toBe(first); // …the burst keeps its reading
  });
});

describe('deadlines and shared arrivals', () => {
  it("a request's deadline counts from its own call, however long the synchronous work since the burst's first request", async () => {
    const { ModelHost } = await import('../../../src/index.js');
    const { FAKE_SOURCE, fakeRuntime } = await import('../../helpers/fake-runtime.js');
    const { vi } = await import('vitest');
    const host = new ModelHost({ runtimes: { fake: fakeRuntime() }, defaults: { warmup: false } as never });
    await host.load('m', { source: FAKE_SOURCE });
    const real = performance.now.bind(performance);
    let skew = 0;
    const spy = vi.spyOn(performance, 'now').mockImplementation(() => real() + skew);
    try {
      const first = host.predict('m', [1, 0, 0, 0]);
      skew = 1000; // a second of synchronous work (say, converting a large input) in the same tick
      const second = host.predict('m', [2, 0, 0, 0], { timeoutMs: 500 });
      await expect(first).resolves.toBeDefined();
      await expect(second).resolves.toBeDefined(); // it had 500 ms from its call, not from the first's
    } finally {
      spy.mockRestore();
      await host.close();
    }
  });
});
