/**
 * The scheduler under overload: the queue bounded in predicted time (`queue.maxWaitMs`),
 * and batches cut to fit the tightest deadline in them (BatchCost).
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode, type ModelHostError } from '../../../src/index.js';
import { BatchCost } from '../../../src/scheduler/batch-cost.js';
import { BatchScheduler } from '../../../src/scheduler/batch-scheduler.js';
import type { DispatchOptions } from '../../../src/scheduler/dispatcher.js';
import type { PreparedInputs, Tensor } from '../../../src/tensor/index.js';
import { FakeClock, flush } from '../../helpers/fake-clock.js';
import { TestExecutor } from '../../helpers/test-executor.js';

function rowsOf(ids: number[]): PreparedInputs {
  const data = Float32Array.from(ids.flatMap((id) => [id, id + 0.5]));
  return { tensors: { x: { data, shape: [ids.length, 2], dtype: 'float32' } }, rows: ids.length, shapeKey: '', single: false };
}

function setup(options: { maxBatchSize?: number; queueMaxWaitMs?: number } = {}) {
  const clock = new FakeClock();
  const executor = new TestExecutor(1);
  executor.hold = true;
  const scheduler = new BatchScheduler(executor, {
    model: 'm',
    version: 1,
    batched: true,
    maxBatchSize: options.maxBatchSize ?? 4,
    maxDelayMs: 2,
    queueMaxSize: 100,
    queueMaxWaitMs: options.queueMaxWaitMs,
    timeoutMs: undefined,
    clock,
    events: { wants: () => false, emit: () => {} },
  });
  const submit = (ids: number | number[], opts: DispatchOptions = {}) =>
    scheduler.dispatch(rowsOf(Array.isArray(ids) ? ids : [ids]), opts).then(
      (out) => ({ ok: true as const, ids: firstColumn(out['y']!) }),
      (error: ModelHostError) => ({ ok: false as const, code: error.code, error }),
    );
  /** Runs one batch of `rows` that takes `ms`, so the scheduler learns its speed. */
  const learn = async (rows: number, ms: number) => {
    const done = submit(Array.from({ length: rows }, (_, i) => 100 + i));
    await flush();
    clock.advance(ms);
    executor.release();
    await done;
  };
  return { clock, executor, scheduler, submit, learn };
}

function firstColumn(t: Tensor): number[] {
  return Array.from({ length: t.shape[0]! }, (_, r) => (t.data as Float32Array)[r * 2]!);
}

describe('queue.maxWaitMs', () => {
  it('refuses with QUEUE_FULL when the rows ahead need longer than maxWaitMs, with retryAfterMs from the prediction', async () => {
    const { executor, submit, learn } = setup({ maxBatchSize: 2, queueMaxWaitMs: 15 });
    await learn(2, 10); // 0.2 rows/ms, 10 ms per batch
    const running = submit(0);
    await flush();
    const queued = [submit([1, 2]), submit([3, 4])]; // the second is admitted with 2 rows ahead: 10 ms
    const refused = await submit(5); // 4 rows ahead: 20 ms
    expect(refused).toMatchObject({ ok: false, code: ErrorCode.QUEUE_FULL, error: { message: expect.stringMatching(/about 20 ms, more than queue.maxWaitMs 15/) } });
    // 5 ms over the bound, but queued rows leave a batch at a time: one batch, 10 ms.
    expect((refused as { error: ModelHostError }).error.retryAfterMs).toBe(10);
    for (let i = 0; i < 3; i++) {
      executor.release();
      await flush();
    }
    expect(await running).toEqual({ ok: true, ids: [0] });
    expect(await Promise.all(queued)).toEqual([
      { ok: true, ids: [1, 2] },
      { ok: true, ids: [3, 4] },
    ]);
  });

  it('refuses exactly the first request whose predicted wait passes maxWaitMs, as the learned speed changes from batch to batch', async () => {
    const { clock, executor, scheduler, submit, learn } = setup({ maxBatchSize: 4, queueMaxWaitMs: 15 });
    const predictWaitMs = (rows: number) => (scheduler as unknown as { predictWaitMs(rows: number): number }).predictWaitMs(rows);
    let next = 0;
    // Each round drains its queue at another speed (ms per batch): the admission bound must follow.
    for (const [rows, ms, drainMs] of [[4, 10, 1], [2, 3, 12], [4, 2, 0.5], [1, 9, 30], [3, 1, 4]] as const) {
      await learn(rows, ms);
      const running = submit(next++);
      await flush();
      const admitted: Promise<unknown>[] = [];
      let refused: { ok: boolean; code?: string } | undefined;
      while (refused === undefined) {
        const ahead = scheduler.queuedRows;
        const result = submit(next++);
        const outcome = await Promise.race([result, flush().then(() => undefined)]);
        if (outcome !== undefined && !outcome.ok) {
          refused = outcome;
          if (ahead + 1 > 100) {
            // Every row of queue.maxSize fits the wait bound: refused for its size alone.
            expect(predictWaitMs(ahead)).toBeLessThanOrEqual(15);
            expect((outcome as { error?: Error }).error?.message).toMatch(/100 of 100 rows/);
          } else {
            // Refused with these rows ahead, and not one row earlier.
            expect(predictWaitMs(ahead)).toBeGreaterThan(15);
            expect(predictWaitMs(ahead - 1)).toBeLessThanOrEqual(15);
          }
        } else {
          expect(predictWaitMs(ahead)).toBeLessThanOrEqual(15); // admitted: within the bound
          admitted.push(result);
        }
      }
      expect(refused).toMatchObject({ ok: false, code: ErrorCode.QUEUE_FULL });
      while (scheduler.pending > 0) {
        clock.advance(drainMs);
        executor.release();
        await flush();
      }
      await Promise.all([running, ...admitted]);
    }
  });

  it('admits anything while the drain rate is unknown (no batch has finished)', async () => {
    const { executor, submit } = setup({ maxBatchSize: 1, queueMaxWaitMs: 1 });
    const all = [0, 1, 2, 3].map((id) => submit(id));
    for (let i = 0; i < 4; i++) {
      await flush();
      executor.release();
    }
    expect((await Promise.all(all)).every((r) => r.ok)).toBe(true);
  });
});

describe('deadline-aware batches', () => {
  it('cuts a batch to the rows whose predicted run ends before the tightest deadline in it', async () => {
    const { executor, submit, learn } = setup({ maxBatchSize: 4 });
    await learn(4, 40); // 10 ms per row
    const tight = submit(1, { timeoutMs: 15 });
    const loose = [2, 3, 4].map((id) => submit(id));
    await flush();
    expect(executor.batches).toEqual([4, 1]); // 1 row (10 ms) fits 15 ms; 4 rows (40 ms) would not
    executor.release();
    await flush();
    expect(executor.batches).toEqual([4, 1, 3]);
    executor.release();
    expect(await Promise.all([tight, ...loose])).toEqual([1, 2, 3, 4].map((id) => ({ ok: true, ids: [id] })));
  });

  it('starts no run whose requests would all expire before it ends: they fail at once', async () => {
    const { clock, executor, submit, learn } = setup({ maxBatchSize: 4 });
    await learn(4, 40); // 10 ms per row
    const running = submit(0);
    await flush();
    const late = [1, 2].map((id) => submit(id, { timeoutMs: 25 })); // admitted: 0 and 10 ms ahead, 10 ms each
    clock.advance(20);
    executor.release();
    await flush();
    // 5 ms left: not even one row (10 ms, more after the slow run of row 0) can finish, so no run starts.
    expect(executor.batches).toEqual([4, 1]);
    expect(await running).toEqual({ ok: true, ids: [0] });
    for (const failed of await Promise.all(late)) {
      expect(failed).toMatchObject({ ok: false, code: ErrorCode.DEADLINE_EXCEEDED, error: { message: expect.stringMatching(/would pass before a run of its 1 row\(s\) could end \(about \d+ ms; 5 ms left\)/) } });
    }
  });

  it('refuses at admission a request whose wait plus its own run passes its deadline', async () => {
    const { executor, submit, learn } = setup({ maxBatchSize: 4 });
    await learn(4, 40);
    const running = submit(0);
    await flush();
    const admitted = submit(1, { timeoutMs: 25 }); // 0 ms ahead + 10 ms
    const second = submit(2, { timeoutMs: 25 }); // 10 ms ahead + 10 ms
    expect(await submit(3, { timeoutMs: 25 })).toMatchObject({ ok: false, code: ErrorCode.DEADLINE_EXCEEDED, error: { message: expect.stringMatching(/queue ahead and its own run need about 30 ms, more than timeoutMs 25/) } });
    executor.release();
    await flush();
    executor.release();
    expect(await Promise.all([running, admitted, second])).toEqual([0, 1, 2].map((id) => ({ ok: true, ids: [id] })));
  });

  it('leaves batches of requests without deadlines whole', async () => {
    const { executor, submit, learn } = setup({ maxBatchSize: 4 });
    await learn(4, 400);
    const all = [1, 2, 3, 4].map((id) => submit(id));
    await flush();
    expect(executor.batches).toEqual([4, 4]);
    executor.release();
    await Promise.all(all);
  });
});

describe('deadline failures before a run are not the version\'s', () => {
  it('a request refused at admission, or failed because no run could fit its deadline, is blamed on the request (the rollout guard skips it)', async () => {
    const clock = new FakeClock();
    const executor = new TestExecutor(1);
    executor.hold = true;
    const failed: { code: string; blame?: string }[] = [];
    const scheduler = new BatchScheduler(executor, {
      model: 'm',
      version: 1,
      batched: true,
      maxBatchSize: 4,
      maxDelayMs: 2,
      queueMaxSize: 100,
      queueMaxWaitMs: undefined,
      timeoutMs: undefined,
      clock,
      events: { wants: (e) => e === 'requestFailed', emit: (e, p) => void (e === 'requestFailed' && failed.push(p as { code: string; blame?: string })) },
    });
    const submit = (ids: number[], opts: DispatchOptions = {}) => scheduler.dispatch(rowsOf(ids), opts).catch((e: ModelHostError) => e.code);
    const first = submit([1, 2, 3, 4]);
    await flush();
    clock.advance(40); // 10 ms per row
    executor.release();
    await first;
    const running = submit([0]);
    await flush();
    const late = submit([5], { timeoutMs: 15 }); // admitted: 10 ms ahead (row 0), 10 ms of its own... then row 0 runs long
    expect(await submit([6, 7, 8, 9], { timeoutMs: 5 })).toBe(ErrorCode.DEADLINE_EXCEEDED); // refused at admission
    clock.advance(12);
    executor.release();
    await flush();
    await running;
    expect(await late).toBe(ErrorCode.DEADLINE_EXCEEDED);
    expect(failed.map((f) => [f.code, f.blame])).toEqual([
      [ErrorCode.DEADLINE_EXCEEDED, 'request'],
      [ErrorCode.DEADLINE_EXCEEDED, 'request'],
    ]);
  });
});

describe('an estimate that cannot lock a model out', () => {
  // Field report: a 25 MB body blocked the event loop for ~1.7 s while a 0.06 ms batch was
  // awaited; that one batch was recorded as 1.7 s, and every later request with a deadline
  // was refused on the estimate, forever (no batch ran to correct it).
  it('one stalled batch moves the estimate by a bounded step: requests with deadlines keep running', async () => {
    const { clock, executor, submit, learn } = setup({ maxBatchSize: 4 });
    for (let i = 0; i < 10; i++) await learn(4, 4); // 1 ms per row
    await learn(4, 1700); // a stall, 425× the prediction
    const next = submit(1, { timeoutMs: 100 });
    await flush();
    clock.advance(1);
    executor.release();
    expect(await next).toEqual({ ok: true, ids: [1] });
  });

  it('after refusals on the estimate alone, a request is let through to measure again (a probe), and the estimate recovers', async () => {
    const { clock, executor, submit, learn } = setup({ maxBatchSize: 4 });
    await learn(1, 3000); // the first batch ever: 3 s per row
    const refused = [];
    for (let id = 0; id < 8; id++) refused.push(await submit(id, { timeoutMs: 1000 }));
    for (const r of refused) expect(r).toMatchObject({ ok: false, code: ErrorCode.DEADLINE_EXCEEDED });
    const probe = submit(8, { timeoutMs: 1000 });
    await flush();
    expect(executor.batches.at(-1)).toBe(1); // it ran
    clock.advance(5);
    executor.release();
    expect(await probe).toEqual({ ok: true, ids: [8] });
    // Each probe measures again; the estimate comes down and requests are admitted on it.
    let ran = 1;
    for (let round = 0; round < 40; round++) {
      const before = executor.batches.length;
      const r = submit(100 + round, { timeoutMs: 1000 });
      await flush();
      if (executor.batches.length > before) {
        ran++;
        clock.advance(5);
        executor.release();
      }
      await r;
    }
    expect(ran).toBeGreaterThan(1); // probes kept coming while the estimate was too high
    const admitted = submit(200, { timeoutMs: 1000 });
    await flush();
    clock.advance(5);
    executor.release();
    expect(await admitted).toEqual({ ok: true, ids: [200] });
  });
});

describe('BatchCost', () => {
  it('fits a fixed cost and a cost per row', () => {
    const cost = new BatchCost();
    for (let i = 0; i < 5; i++) for (const rows of [1, 4, 8]) cost.record(rows, 2 + rows);
    expect(cost.predictMs(10)).toBeCloseTo(12, 6);
    expect(cost.rowsWithin(7.5)).toBe(5);
    expect(cost.rowsWithin(1.5)).toBe(0);
  });

  it('allows for recent overruns: batches that ran longer than predicted make safeMs longer than predictMs', () => {
    const cost = new BatchCost();
    cost.record(4, 8);
    expect(cost.safeMs(4)).toBe(cost.predictMs(4));
    cost.record(4, 16); // predicted 8: ran 2× longer
    expect(cost.safeMs(4)).toBeCloseTo(cost.predictMs(4) * 1.3, 6);
    for (let i = 0; i < 30; i++) cost.record(4, cost.predictMs(4)); // on time again: the allowance fades
    expect(cost.safeMs(4) / cost.predictMs(4)).toBeLessThan(1.001);
  });

  it('counts a batch at most 4× its prediction, and its overrun allowance at most 4×', () => {
    const cost = new BatchCost();
    for (let i = 0; i < 10; i++) cost.record(4, 4);
    cost.record(4, 4000);
    expect(cost.predictMs(4)).toBeLessThan(4 * 1.5);
    expect(cost.safeMs(4) / cost.predictMs(4)).toBeLessThanOrEqual(4);
  });

  it('is trusted until 8 refusals go by without a recorded batch, and again after one', () => {
    const cost = new BatchCost();
    cost.record(1, 10);
    for (let i = 0; i < 8; i++) {
      expect(cost.trusted).toBe(true);
      cost.noteRefusal();
    }
    expect(cost.trusted).toBe(false);
    cost.record(1, 10);
    expect(cost.trusted).toBe(true);
  });

  it('is proportional to rows while one batch size has been seen, and unknown before', () => {
    const cost = new BatchCost();
    expect(cost.predictMs(8)).toBe(0);
    expect(cost.rowsWithin(1)).toBe(Number.POSITIVE_INFINITY);
    cost.record(4, 8);
    expect(cost.predictMs(2)).toBe(4);
    expect(cost.rowsWithin(9)).toBe(4);
  });
});
