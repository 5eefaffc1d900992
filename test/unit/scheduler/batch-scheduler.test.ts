import { getEventListeners } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { ErrorCode, type ModelHostError } from '../../../src/index.js';
import { runTimedOut } from '../../../src/errors/run-timeout.js';
import { SWEEP_EVERY_MS, SWEEP_PAST_IDLE } from '../../../src/scheduler/abort-watch.js';
import { BatchScheduler, type SchedulerEventMap } from '../../../src/scheduler/batch-scheduler.js';
import type { DispatchOptions } from '../../../src/scheduler/dispatcher.js';
import type { PreparedInputs, Tensor } from '../../../src/tensor/index.js';
import { FakeClock, flush } from '../../helpers/fake-clock.js';
import { TestExecutor } from '../../helpers/test-executor.js';

interface Setup {
  batched?: boolean;
  maxBatchSize?: number;
  maxDelayMs?: number;
  queueMaxSize?: number;
  timeoutMs?: number;
  concurrency?: number;
  hold?: boolean;
  /** The executor lets the scheduler reuse input buffers (inline executors do). */
  releasesInputs?: boolean;
}

/** Rows `[id, id + 0.5]` per request, so outputs identify their inputs. */
function rowsOf(ids: number[], width = 2): PreparedInputs {
  const data = new Float32Array(ids.length * width);
  ids.forEach((id, r) => {
    data[r * width] = id;
    for (let c = 1; c < width; c++) data[r * width + c] = id + c / 2;
  });
  return { tensors: { x: { data, shape: [ids.length, width], dtype: 'float32' } }, rows: ids.length, shapeKey: width === 2 ? '' : `${width}`, single: false };
}

function setup(options: Setup = {}) {
  const clock = new FakeClock();
  const executor = new TestExecutor(options.concurrency ?? 1);
  executor.hold = options.hold ?? false;
  executor.releasesInputs = options.releasesInputs ?? false;
  const events: { [E in keyof SchedulerEventMap]?: SchedulerEventMap[E][] } = {};
  const scheduler = new BatchScheduler(executor, {
    model: 'm',
    version: 1,
    batched: options.batched ?? true,
    maxBatchSize: options.maxBatchSize ?? 4,
    maxDelayMs: options.maxDelayMs ?? 2,
    queueMaxSize: options.queueMaxSize ?? 100,
    timeoutMs: options.timeoutMs,
    clock,
    events: {
      wants: () => true,
      emit: (event, payload) => void (events[event] ??= [] as never[]).push(payload as never),
    },
  });
  const submit = (ids: number | number[], opts: DispatchOptions = {}, width = 2) => {
    const list = Array.isArray(ids) ? ids : [ids];
    const promise = scheduler.dispatch(rowsOf(list, width), opts);
    const outcome = promise.then(
      (out) => ({ ok: true as const, ids: firstColumn(out['y']!) }),
      (error: ModelHostError) => ({ ok: false as const, code: error.code, error }),
    );
    return outcome;
  };
  return { clock, executor, scheduler, events, submit };
}

function firstColumn(t: Tensor): number[] {
  const width = t.shape[1]!;
  return Array.from({ length: t.shape[0]! }, (_, r) => (t.data as Float32Array)[r * width]!);
}

describe('BatchScheduler: cutting batches', () => {
  it('runs at once, without a timer, when the executor is idle', async () => {
    const { clock, executor, submit } = setup();
    const result = submit(1);
    await flush();
    expect(executor.batches).toEqual([1]);
    expect(clock.pendingTimers).toBe(0);
    expect(await result).toEqual({ ok: true, ids: [1] });
  });

  it('gathers the requests of one event-loop turn into one batch', async () => {
    const { executor, submit } = setup({ maxBatchSize: 8 });
    const results = [1, 2, 3].map((id) => submit(id));
    await flush();
    expect(executor.batches).toEqual([3]);
    expect(await Promise.all(results)).toEqual([1, 2, 3].map((id) => ({ ok: true, ids: [id] })));
  });

  it('forms batches while a run is in flight, cut at maxBatchSize', async () => {
    const { executor, submit } = setup({ maxBatchSize: 4, hold: true });
    const first = submit(0);
    await flush();
    const rest = Array.from({ length: 6 }, (_, i) => submit(i + 1));
    await flush();
    expect(executor.batches).toEqual([1]);
    executor.release();
    await flush();
    expect(executor.batches).toEqual([1, 4]);
    executor.release();
    await flush();
    expect(executor.batches).toEqual([1, 4, 2]);
    executor.release();
    const results = await Promise.all([first, ...rest]);
    expect(results.map((r) => (r.ok ? r.ids : r.code))).toEqual([[0], [1], [2], [3], [4], [5], [6]]);
  });

  it('with a slot free but a batch in flight, waits up to maxDelayMs for a fuller batch', async () => {
    const { clock, executor, submit } = setup({ concurrency: 2, maxBatchSize: 4, maxDelayMs: 5, hold: true });
    void submit(0);
    await flush();
    void submit(1);
    await flush();
    expect(executor.batches).toEqual([1]); // waits: the second slot is free, but a batch runs
    clock.advance(4);
    await flush();
    expect(executor.batches).toEqual([1]);
    clock.advance(1);
    await flush();
    expect(executor.batches).toEqual([1, 1]);
  });

  it('with a slot free, a full batch does not wait for the delay', async () => {
    const { executor, submit } = setup({ concurrency: 2, maxBatchSize: 2, maxDelayMs: 1000, hold: true });
    void submit(0);
    await flush();
    void submit(1);
    void submit(2);
    await flush();
    expect(executor.batches).toEqual([1, 2]);
  });

  it('batches only requests whose non-batch dimensions match', async () => {
    const { executor, submit } = setup({ maxBatchSize: 8, hold: true });
    const held = submit(0);
    await flush();
    const a = [submit(1, {}, 2), submit(2, {}, 3), submit(3, {}, 2), submit(4, {}, 3)];
    await flush();
    executor.release();
    await flush();
    expect(executor.runs[1]!.inputs['x']!.shape).toEqual([2, 2]);
    executor.release();
    await flush();
    expect(executor.runs[2]!.inputs['x']!.shape).toEqual([2, 3]);
    executor.release();
    expect((await Promise.all([held, ...a])).map((r) => r.ok && r.ids)).toEqual([[0], [1], [2], [3], [4]]);
  });

  it('splits a predictBatch larger than maxBatchSize and reassembles it in order', async () => {
    const { executor, submit } = setup({ maxBatchSize: 3 });
    const result = await submit([10, 11, 12, 13, 14, 15, 16]);
    expect(executor.batches).toEqual([3, 3, 1]);
    expect(result).toEqual({ ok: true, ids: [10, 11, 12, 13, 14, 15, 16] });
  });

  it('runs requests of a model without a batch dimension one at a time', async () => {
    const { executor, submit } = setup({ batched: false });
    const results = [1, 2, 3].map((id) => submit(id));
    await Promise.all(results);
    expect(executor.batches).toEqual([1, 1, 1]);
  });

  it('batches higher priority first, FIFO within a priority', async () => {
    const { executor, submit } = setup({ maxBatchSize: 2, hold: true });
    const held = submit(0);
    await flush();
    const order = [
      submit(1, { priority: 0 }),
      submit(2, { priority: 5 }),
      submit(3, { priority: 0 }),
      submit(4, { priority: 5 }),
      submit(5, { priority: 9 }),
    ];
    await flush();
    for (let i = 0; i < 4; i++) {
      executor.release();
      await flush();
    }
    const batches = executor.runs.slice(1).map((r) => firstColumn(r.inputs['x']!));
    expect(batches).toEqual([[5, 2], [4, 1], [3]]);
    await Promise.all([held, ...order]);
  });

  it('does not let a lower priority request jump a higher one that did not fit', async () => {
    const { executor, submit } = setup({ maxBatchSize: 3, hold: true });
    void submit(0);
    await flush();
    void submit([1, 1], { priority: 2 });
    void submit([2, 2], { priority: 2 });
    void submit(3, { priority: 0 });
    await flush();
    executor.release();
    await flush();
    expect(firstColumn(executor.runs[1]!.inputs['x']!)).toEqual([1, 1]);
  });
});

describe('BatchScheduler: batch buffers', () => {
  it('writes each batch of several requests into the buffer the last one released', async () => {
    const { executor, scheduler, submit } = setup({ maxBatchSize: 4, releasesInputs: true });
    const first = [1, 2, 3].map((id) => submit(id));
    await flush();
    const second = [4, 5].map((id) => submit(id));
    await flush();
    expect(await Promise.all([...first, ...second])).toEqual([1, 2, 3, 4, 5].map((id) => ({ ok: true, ids: [id] })));
    expect(executor.batches).toEqual([3, 2]);
    const [a, b] = executor.runs.map((run) => run.inputs['x']!.data as Float32Array);
    expect(b!.buffer).toBe(a!.buffer);
    expect(Array.from(b!)).toEqual([4, 4.5, 5, 5.5]);
    expect(scheduler.pending).toBe(0);
  });

  it('never reuses memory an output shares: results already given stay exact', async () => {
    const { executor, scheduler } = setup({ maxBatchSize: 4, releasesInputs: true });
    executor.aliasOutputs = true;
    const send = (id: number) => scheduler.dispatch(rowsOf([id]), {});
    const first = [1, 2, 3].map(send);
    await flush();
    const kept = await Promise.all(first);
    const second = await Promise.all([4, 5, 6].map(send));
    await flush();
    expect(kept.map((out) => Array.from(out['y']!.data as Float32Array))).toEqual([[1, 1.5], [2, 2.5], [3, 3.5]]);
    expect(second.map((out) => Array.from(out['y']!.data as Float32Array))).toEqual([[4, 4.5], [5, 5.5], [6, 6.5]]);
    const [a, b] = executor.runs.map((run) => run.inputs['x']!.data as Float32Array);
    expect(b!.buffer).not.toBe(a!.buffer);
  });

  it('does not reuse the buffer of a failed batch', async () => {
    const { executor, submit } = setup({ maxBatchSize: 4, releasesInputs: true });
    executor.poison.add(2);
    const first = [1, 2, 3].map((id) => submit(id));
    await flush();
    expect((await Promise.all(first)).map((r) => r.ok)).toEqual([true, false, true]);
    const failedBuffer = (executor.runs[0]!.inputs['x']!.data as Float32Array).buffer;
    const second = [4, 5].map((id) => submit(id));
    await flush();
    expect(await Promise.all(second)).toEqual([4, 5].map((id) => ({ ok: true, ids: [id] })));
    expect((executor.runs.at(-1)!.inputs['x']!.data as Float32Array).buffer).not.toBe(failedBuffer);
  });

  it('with two batches in flight at once, both reuse their buffers batch after batch (a free buffer per slot)', async () => {
    const { executor, submit } = setup({ maxBatchSize: 2, releasesInputs: true, concurrency: 2, hold: true });
    const results: ReturnType<typeof submit>[] = [];
    for (let round = 0; round < 3; round++) {
      const ids = [1, 2, 3, 4].map((k) => round * 10 + k);
      for (const id of ids) results.push(submit(id));
      await flush();
      executor.release();
      executor.release();
      await flush();
    }
    expect(await Promise.all(results)).toEqual([1, 2, 3, 4, 11, 12, 13, 14, 21, 22, 23, 24].map((id) => ({ ok: true, ids: [id] })));
    expect(executor.batches).toEqual([2, 2, 2, 2, 2, 2]);
    const buffers = new Set(executor.runs.map((run) => (run.inputs['x']!.data as Float32Array).buffer));
    expect(buffers.size).toBe(2);
  });

  it('lets executors that move inputs keep every batch buffer to themselves', async () => {
    const { executor, submit } = setup({ maxBatchSize: 4, releasesInputs: false });
    for (const ids of [[1, 2], [3, 4]]) {
      const results = ids.map((id) => submit(id));
      await flush();
      await Promise.all(results);
    }
    const [a, b] = executor.runs.map((run) => run.inputs['x']!.data as Float32Array);
    expect(b!.buffer).not.toBe(a!.buffer);
    expect(Array.from(a!)).toEqual([1, 1.5, 2, 2.5]);
  });
});

describe('BatchScheduler: bounded queue', () => {
  it('rejects at once with QUEUE_FULL and retryAfterMs when the rows would not fit, and says so by event', async () => {
    const { executor, submit, events } = setup({ queueMaxSize: 3, maxBatchSize: 1, hold: true });
    void submit(0);
    await flush(); // running, not queued
    const queued = [submit(1), submit(2), submit(3)];
    const refused = await submit(4);
    expect(refused).toMatchObject({ ok: false, code: ErrorCode.QUEUE_FULL });
    expect((refused as { error: ModelHostError }).error.retryAfterMs).toBeGreaterThanOrEqual(1);
    expect((refused as { error: ModelHostError }).error.message).toMatch(/the queue is full \(3 of 3 rows\)/);
    expect(events.queueSaturated).toEqual([expect.objectContaining({ model: 'm', version: 1, queueDepth: 3, maxSize: 3 })]);
    for (let i = 0; i < 4; i++) {
      executor.release();
      await flush();
    }
    expect(await Promise.all(queued)).toEqual([1, 2, 3].map((id) => ({ ok: true, ids: [id] })));
  });

  it('refuses a batch that could never fit the queue as INVALID_INPUT', async () => {
    const { submit } = setup({ queueMaxSize: 2 });
    expect(await submit([1, 2, 3])).toMatchObject({ ok: false, code: ErrorCode.INVALID_INPUT });
  });

  it('estimates retryAfterMs from the drain rate it has seen', async () => {
    const { clock, executor, submit } = setup({ queueMaxSize: 4, maxBatchSize: 4, hold: true });
    // Learn the rate: a batch of 4 rows takes 10 ms.
    const learn = submit([1, 2, 3, 4]);
    await flush();
    clock.advance(10);
    executor.release();
    await learn;
    void submit(9);
    await flush();
    const queued = submit([5, 6, 7, 8]);
    const refused = await submit([10, 11]);
    // 2 rows over the bound drain in 5 ms at 0.4 rows/ms, but queued rows leave only when a batch ends: one batch, 10 ms.
    expect((refused as { error: ModelHostError }).error.retryAfterMs).toBe(10);
    executor.release();
    await flush();
    executor.release();
    await queued;
  });
});

describe('BatchScheduler: deadlines', () => {
  it('rejects a request whose deadline passes while queued, on time, and never runs it', async () => {
    const { clock, executor, submit } = setup({ hold: true });
    void submit(0);
    await flush();
    const late = submit(1, { timeoutMs: 5 });
    const fine = submit(2);
    clock.advance(5);
    expect(await late).toMatchObject({ ok: false, code: ErrorCode.DEADLINE_EXCEEDED, error: { message: expect.stringMatching(/while queued/) } });
    executor.release();
    await flush();
    executor.release();
    expect(await fine).toEqual({ ok: true, ids: [2] });
    expect(executor.runs.map((r) => firstColumn(r.inputs['x']!))).toEqual([[0], [2]]); // row 1 cost no runtime call
  });

  it('rejects a request whose deadline passes while its batch runs, and discards its result', async () => {
    const { clock, executor, submit, events } = setup({ hold: true, maxBatchSize: 4 });
    const slow = submit(1, { timeoutMs: 3 });
    const other = submit(2);
    await flush();
    expect(executor.batches).toEqual([2]);
    clock.advance(3);
    expect(await slow).toMatchObject({ ok: false, code: ErrorCode.DEADLINE_EXCEEDED, error: { message: expect.stringMatching(/while its batch ran/) } });
    executor.release();
    expect(await other).toEqual({ ok: true, ids: [2] });
    expect(events.requestCompleted).toHaveLength(1);
    expect(events.requestFailed).toEqual([expect.objectContaining({ code: 'DEADLINE_EXCEEDED' })]);
  });

  it('rejects at admission a request whose deadline is shorter than the predicted queue wait', async () => {
    const { clock, executor, submit } = setup({ hold: true, maxBatchSize: 2 });
    const learn = submit([1, 2]);
    await flush();
    clock.advance(10); // 2 rows per 10 ms
    executor.release();
    await learn;
    void submit(0);
    await flush();
    const queue = [submit([3, 4]), submit([5, 6])]; // 4 rows ahead: about 20 ms, and 5 ms for its own run
    expect(await submit(7, { timeoutMs: 15 })).toMatchObject({ ok: false, code: ErrorCode.DEADLINE_EXCEEDED, error: { message: expect.stringMatching(/rejected at admission.*about 25 ms/) } });
    const patient = submit(8, { timeoutMs: 100 });
    for (let i = 0; i < 4; i++) {
      executor.release();
      await flush();
    }
    expect(await patient).toEqual({ ok: true, ids: [8] });
    await Promise.all(queue);
  });

  it('applies the version default timeoutMs when the call gives none', async () => {
    const { clock, submit } = setup({ hold: true, timeoutMs: 7 });
    const result = submit(1);
    clock.advance(7);
    expect(await result).toMatchObject({ ok: false, code: ErrorCode.DEADLINE_EXCEEDED });
  });
});

describe('BatchScheduler: cancellation', () => {
  it('rejects with CANCELLED when the signal already fired', async () => {
    const { submit } = setup();
    expect(await submit(1, { signal: AbortSignal.abort() })).toMatchObject({ ok: false, code: ErrorCode.CANCELLED });
  });

  it('removes a queued request when its signal fires, freeing its rows, and removes its listener', async () => {
    const { scheduler, executor, submit } = setup({ hold: true, queueMaxSize: 2 });
    void submit(0);
    await flush();
    const controller = new AbortController();
    const signal = controller.signal;
    const cancelled = submit([1, 2], { signal });
    expect(scheduler.queuedRows).toBe(2);
    expect(getEventListeners(signal, 'abort')).toHaveLength(1);
    controller.abort();
    expect(await cancelled).toMatchObject({ ok: false, code: ErrorCode.CANCELLED });
    expect(scheduler.queuedRows).toBe(0);
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
    const next = submit([3, 4]);
    executor.release();
    await flush();
    executor.release();
    expect(await next).toEqual({ ok: true, ids: [3, 4] });
    expect(executor.runs.map((r) => firstColumn(r.inputs['x']!))).toEqual([[0], [3, 4]]);
  });

  it('cancels a request whose batch is running at once, and the batch-mates still get their rows', async () => {
    const { executor, submit } = setup({ hold: true });
    const controller = new AbortController();
    const cancelled = submit(1, { signal: controller.signal });
    const mate = submit(2);
    await flush();
    expect(executor.runs).toHaveLength(1);
    controller.abort();
    expect(await cancelled).toMatchObject({ ok: false, code: ErrorCode.CANCELLED });
    executor.release();
    expect(await mate).toEqual({ ok: true, ids: [2] });
  });

  it(`keeps the listener of a settled request for the next request with that signal, through cuts within ${SWEEP_EVERY_MS} ms, then removes it`, async () => {
    const { scheduler, submit, clock } = setup();
    const controller = new AbortController();
    const signal = controller.signal;
    let added = 0;
    const add = signal.addEventListener.bind(signal);
    signal.addEventListener = ((...args: Parameters<typeof add>) => (added++, add(...args))) as typeof add;
    // One request after another on one signal (a keep-alive connection's), with other requests'
    // batches cut between them: one listener for all.
    for (let i = 0; i < 5; i++) {
      expect(await submit(i, { signal })).toEqual({ ok: true, ids: [i] });
      expect(await submit(100 + i)).toEqual({ ok: true, ids: [100 + i] });
      clock.advance(SWEEP_EVERY_MS / 10);
    }
    expect(added).toBe(1);
    expect(getEventListeners(signal, 'abort')).toHaveLength(1);
    // The first cut without it SWEEP_EVERY_MS after the last sweep removes the idle listener.
    clock.advance(SWEEP_EVERY_MS);
    expect(await submit(9)).toEqual({ ok: true, ids: [9] });
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
    // An abort after that cancels nothing and reaches no scheduler.
    controller.abort();
    expect(scheduler.pending).toBe(0);
  });

  it(`removes idle listeners at the next cut once ${SWEEP_PAST_IDLE} wait, however recent the last sweep`, async () => {
    const { submit } = setup({ maxBatchSize: 64, queueMaxSize: 2 * SWEEP_PAST_IDLE });
    await submit(0); // the first cut sweeps: the interval starts now
    const signals = Array.from({ length: SWEEP_PAST_IDLE }, () => new AbortController().signal);
    await Promise.all(signals.map((signal, i) => submit(i, { signal })));
    expect(signals.every((signal) => getEventListeners(signal, 'abort').length === 1)).toBe(true);
    await submit(0); // no time has passed on the clock
    expect(signals.filter((signal) => getEventListeners(signal, 'abort').length > 0)).toHaveLength(0);
  });

  it('removes idle listeners when it closes, and a listener as soon as its requests settle once closed', async () => {
    const { scheduler, executor, submit } = setup({ hold: true });
    const idle = new AbortController();
    const busy = new AbortController();
    const first = submit(1, { signal: idle.signal });
    await flush();
    executor.release();
    expect(await first).toEqual({ ok: true, ids: [1] });
    const running = submit(2, { signal: busy.signal }); // queued: no batch was cut since the first settled
    expect(getEventListeners(idle.signal, 'abort')).toHaveLength(1);
    scheduler.close();
    expect(getEventListeners(idle.signal, 'abort')).toHaveLength(0);
    await flush();
    expect(getEventListeners(busy.signal, 'abort')).toHaveLength(1); // its request still runs, still cancellable
    executor.release();
    expect(await running).toEqual({ ok: true, ids: [2] });
    expect(getEventListeners(busy.signal, 'abort')).toHaveLength(0);
  });
});

describe('BatchScheduler: isolation of a poisoned request', () => {
  it('bisects a failing batch so one poisoned request fails alone and the others get their rows', async () => {
    const { executor, submit, events } = setup({ maxBatchSize: 16, hold: true });
    const first = submit(100);
    await flush();
    executor.poison.add(7);
    const results = Array.from({ length: 16 }, (_, i) => submit(i));
    await flush();
    executor.hold = false;
    executor.release();
    const settled = await Promise.all(results);
    settled.forEach((r, i) => {
      if (i === 7) expect(r).toMatchObject({ ok: false, code: ErrorCode.INVALID_INPUT, error: { message: expect.stringMatching(/the runtime rejected this request's inputs \(x: float32 \[.*\]\) \(blamed on the request/), cause: { message: expect.stringMatching(/poisoned row 7/) } } });
      else expect(r).toEqual({ ok: true, ids: [i] });
    });
    await first;
    // 1 + the failed batch + at most 2·log2(16) halves + 3 rounds of a re-run and a probe (reproduction.ts)
    expect(executor.runs.length).toBeLessThanOrEqual(2 + 2 * 4 + 3 * 2);
    expect(events.batchFailed).toEqual([expect.objectContaining({ batchSize: 16, requests: 16, code: 'INFERENCE_FAILED' })]);
    // The event says it in modelhost's words; the runtime's own text is its cause, for logs.
    expect((events.batchFailed as { message: string; cause: Error }[])[0]).toMatchObject({ message: expect.stringMatching(/inference failed: the runtime failed on this batch$/), cause: { message: 'poisoned row 7' } });
    expect((events.batchFailed as { message: string }[])[0]!.message).not.toMatch(/poisoned/);
  });

  it('bounds the extra runs when every request fails (a broken runtime)', async () => {
    const { executor, submit } = setup({ maxBatchSize: 64, hold: true });
    void submit(-1);
    await flush();
    for (let i = 0; i < 64; i++) executor.poison.add(i);
    const results = Array.from({ length: 64 }, (_, i) => submit(i));
    await flush();
    executor.hold = false;
    executor.release();
    const settled = await Promise.all(results);
    expect(settled.every((r) => !r.ok && r.code === ErrorCode.INFERENCE_FAILED)).toBe(true);
    // 1 + the failed batch + the isolation budget + one probe
    expect(executor.runs.length).toBeLessThanOrEqual(2 + 4 * 6 + 1);
  });
});

describe('BatchScheduler: who a failure is blamed on', () => {
  /** A breaker that only records verdicts. */
  function recordingBreaker() {
    const verdicts: ('success' | 'failure')[] = [];
    return {
      verdicts,
      rejecting: false,
      admit: () => undefined,
      bound: <T>(running: Promise<T>) => running,
      record: (verdict: 'success' | 'request' | { failure: unknown }) => void (verdict !== 'request' && verdicts.push(verdict === 'success' ? 'success' : 'failure')),
      openError: () => new Error('open') as ModelHostError,
    };
  }

  function blameSetup(probeInputs?: () => Record<string, Tensor> | undefined) {
    const clock = new FakeClock();
    const executor = new TestExecutor(1);
    const breaker = recordingBreaker();
    const failed: SchedulerEventMap['requestFailed'][] = [];
    const scheduler = new BatchScheduler(executor, {
      model: 'm',
      version: 1,
      batched: true,
      maxBatchSize: 8,
      maxDelayMs: 2,
      queueMaxSize: 100,
      timeoutMs: undefined,
      clock,
      breaker,
      probeInputs,
      events: { wants: () => true, emit: (event, payload) => void (event === 'requestFailed' && failed.push(payload as SchedulerEventMap['requestFailed'])) },
    });
    const submit = (id: number, signal?: AbortSignal) => scheduler.dispatch(rowsOf([id]), signal === undefined ? {} : { signal }).then(() => 'ok', (e: ModelHostError) => e);
    return { executor, breaker, failed, submit };
  }

  it('a request that fails while its batch-mates succeed is blamed on itself and never counts', async () => {
    const { executor, breaker, failed, submit } = blameSetup();
    executor.poison.add(3);
    const results = await Promise.all([1, 2, 3, 4].map((id) => submit(id)));
    expect(results.filter((r) => r === 'ok')).toHaveLength(3);
    expect((results[2] as ModelHostError).message).toMatch(/the runtime rejected this request's inputs \(x: float32 \[.*\]\) \(blamed on the request: it fails again on its own/);
    expect(failed).toEqual([expect.objectContaining({ code: 'INVALID_INPUT', blame: 'request' })]);
    expect(breaker.verdicts).not.toContain('failure');
  });

  it('a lone request that fails while known-good inputs succeed (the probe) is blamed on itself', async () => {
    const { executor, breaker, failed, submit } = blameSetup();
    expect(await submit(1)).toBe('ok');
    executor.poison.add(9);
    for (let i = 0; i < 10; i++) expect(await submit(9)).toMatchObject({ code: 'INVALID_INPUT' });
    expect(failed.map((f) => f.blame)).toEqual(Array(10).fill('request'));
    expect(breaker.verdicts).toEqual(['success']);
  });

  it('a lone failure is the model\'s when the probe fails too, or when there is nothing known to be good', async () => {
    const broken = blameSetup();
    expect(await broken.submit(1)).toBe('ok');
    broken.executor.poison.add(1).add(2);
    expect(await broken.submit(2)).toMatchObject({ code: 'INFERENCE_FAILED' });
    expect(broken.failed.map((f) => f.blame)).toEqual(['model']);
    expect(broken.breaker.verdicts).toEqual(['success', 'failure']);

    const fresh = blameSetup();
    fresh.executor.poison.add(5);
    expect(await fresh.submit(5)).toMatchObject({ code: 'INFERENCE_FAILED' });
    expect(fresh.failed.map((f) => f.blame)).toEqual(['model']);

    const warm = blameSetup(() => rowsOf([0]).tensors);
    warm.executor.poison.add(5);
    expect(await warm.submit(5)).toMatchObject({ code: 'INVALID_INPUT' });
    expect(warm.failed.map((f) => f.blame)).toEqual(['request']);
    expect(warm.executor.runs.at(-1)!.rows).toBe(1); // the probe ran the warmup row
  });

  it('a poisoned request cancelled while its batch ran does not count against the model: its batch-mates succeed when run again (s10)', async () => {
    const { executor, breaker, failed, submit } = blameSetup();
    expect(await submit(1)).toBe('ok');
    executor.hold = true;
    const others = [2, 4].map((id) => submit(id));
    const controller = new AbortController();
    const poisoned = submit(3, controller.signal);
    await vi.waitFor(() => expect(executor.runs).toHaveLength(2));
    controller.abort();
    executor.hold = false;
    executor.runs[1]!.reject(new Error('poisoned row 3'));
    expect(await Promise.all(others)).toEqual(['ok', 'ok']);
    await flush(); // the batch's verdict is recorded once its parts ran
    await flush();
    expect(breaker.verdicts).toEqual(['success']); // nothing counted: the cancelled request may have been the cause
    expect(await poisoned).toMatchObject({ code: 'CANCELLED' });
    expect(failed.map((f) => f.code)).toEqual(['CANCELLED']);
  });

  it('a batch whose requests all left before it failed counts only if the probe fails too (s10)', async () => {
    for (const probeSucceeds of [true, false]) {
      const { executor, breaker, submit } = blameSetup();
      expect(await submit(1)).toBe('ok');
      executor.hold = true;
      const controller = new AbortController();
      const gone = [submit(3, controller.signal), submit(5, controller.signal)];
      await vi.waitFor(() => expect(executor.runs).toHaveLength(2));
      controller.abort();
      await Promise.all(gone);
      executor.runs[1]!.reject(new Error('poisoned row 3'));
      await vi.waitFor(() => expect(executor.runs).toHaveLength(3)); // the probe, not the cancelled rows
      expect((executor.runs[2]!.inputs['x']!.data as Float32Array)[0]).toBe(1);
      if (probeSucceeds) executor.runs[2]!.resolve();
      else executor.runs[2]!.reject(new Error('down'));
      await vi.waitFor(() => expect(breaker.verdicts).toEqual(probeSucceeds ? ['success'] : ['success', 'failure']));
      await flush();
      expect(breaker.verdicts).toEqual(probeSucceeds ? ['success'] : ['success', 'failure']);
    }
  });

  describe('a lone request whose run got no answer within its time bound (instances.runTimeoutMs, breaker.timeoutMs)', () => {
    /** Request 1 succeeds; request 9's run is held, then fails as timed out; returns what ran after it. */
    async function hangOnce(probeSucceeds: boolean) {
      const setup = blameSetup();
      const { executor, submit } = setup;
      expect(await submit(1)).toBe('ok');
      executor.hold = true;
      const hung = submit(9);
      await vi.waitFor(() => expect(executor.runs).toHaveLength(2));
      executor.runs[1]!.reject(runTimedOut(new Error('no answer within 50 ms')));
      // What runs next is the probe (the last request that succeeded), never request 9 again.
      await vi.waitFor(() => expect(executor.runs).toHaveLength(3));
      const probe = executor.runs[2]!;
      if (probeSucceeds) probe.resolve();
      else probe.reject(new Error('the probe failed too'));
      const result = await hung;
      const firstValues = executor.runs.map((r) => (r.inputs['x']!.data as Float32Array)[0]);
      return { ...setup, result, firstValues };
    }

    it('is not run again: blamed on itself when the probe answers, and the breaker hears nothing of it', async () => {
      const { result, firstValues, failed, breaker } = await hangOnce(true);
      expect(firstValues).toEqual([1, 9, 1]);
      expect(result).toMatchObject({
        code: 'INFERENCE_FAILED',
        message: "model 'm' v1: inference failed: the runtime failed on this request (blamed on the request: it got no answer while other inputs succeed on this version; a run that got none is not run again)",
      });
      expect(failed.map((f) => f.blame)).toEqual(['request']);
      expect(breaker.verdicts).toEqual(['success']);
    });

    it("is not run again: the model's when the probe fails too", async () => {
      const { result, firstValues, failed, breaker } = await hangOnce(false);
      expect(firstValues).toEqual([1, 9, 1]);
      expect(result).toMatchObject({ code: 'INFERENCE_FAILED', message: "model 'm' v1: inference failed: the runtime failed on this batch" });
      expect(failed.map((f) => f.blame)).toEqual(['model']);
      expect(breaker.verdicts).toEqual(['success', 'failure']);
    });

    it('a lone request that threw (no timeout) is run alone again, with a probe after each failure, before it is pinned on it', async () => {
      const { executor, failed, submit } = blameSetup();
      expect(await submit(1)).toBe('ok');
      executor.poison.add(9);
      expect(await submit(9)).toMatchObject({ code: 'INVALID_INPUT' });
      // Its run, the probe (the last good input), then 3 rounds of a re-run and a probe.
      expect(executor.runs.map((r) => (r.inputs['x']!.data as Float32Array)[0])).toEqual([1, 9, 1, 9, 1, 9, 1, 9, 1]);
      expect(failed.map((f) => f.blame)).toEqual(['request']);
    });
  });
});

describe('BatchScheduler: drain and abort', () => {
  it('drain resolves once queued and running requests settle; close refuses new ones', async () => {
    const { scheduler, executor, submit } = setup({ hold: true });
    const a = submit(1);
    await flush();
    const b = submit(2);
    let drained = false;
    const draining = scheduler.drain().then(() => (drained = true));
    scheduler.close();
    expect(await submit(3)).toMatchObject({ ok: false, code: ErrorCode.SHUTTING_DOWN });
    executor.release();
    await flush();
    expect(drained).toBe(false);
    executor.release();
    await draining;
    expect(await Promise.all([a, b])).toEqual([{ ok: true, ids: [1] }, { ok: true, ids: [2] }]);
  });

  it('abort rejects queued and running requests now', async () => {
    const { scheduler, executor, submit } = setup({ hold: true });
    const running = submit(1);
    await flush();
    const queued = submit(2);
    scheduler.abort(new Error('destroyed'));
    expect(await running).toMatchObject({ ok: false, code: ErrorCode.SHUTTING_DOWN });
    expect(await queued).toMatchObject({ ok: false, code: ErrorCode.SHUTTING_DOWN });
    expect(scheduler.pending).toBe(1); // the running batch still occupies the runtime until it returns
    executor.release();
    await scheduler.drain();
    expect(scheduler.pending).toBe(0);
  });
});

describe('BatchScheduler: a signal shared by many requests', () => {
  it('uses one listener for all of them, cancels all on abort, and removes it by a later cut once they settle', async () => {
    const { executor, scheduler, clock } = setup({ hold: true, maxBatchSize: 1, queueMaxSize: 1000 });
    const controller = new AbortController();
    const requests = Array.from({ length: 100 }, (_, i) => scheduler.dispatch(rowsOf([i]), { signal: controller.signal }).catch((e: ModelHostError) => e.code));
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    controller.abort();
    const codes = await Promise.all(requests);
    expect(codes.filter((c) => c === ErrorCode.CANCELLED).length).toBeGreaterThanOrEqual(99); // the first may be running
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    executor.hold = false;
    if (executor.runs.some((r) => !(r as { done?: boolean }).done)) executor.release();
    await scheduler.drain();

    const second = new AbortController();
    await Promise.all(Array.from({ length: 20 }, (_, i) => scheduler.dispatch(rowsOf([i]), { signal: second.signal })));
    expect(getEventListeners(second.signal, 'abort')).toHaveLength(1); // idle until a cut SWEEP_EVERY_MS later
    clock.advance(SWEEP_EVERY_MS);
    await scheduler.dispatch(rowsOf([99]), {});
    expect(getEventListeners(second.signal, 'abort')).toHaveLength(0);
  });
});
