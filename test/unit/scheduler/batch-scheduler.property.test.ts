import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode, type ModelHostError } from '../../../src/index.js';
import { BatchScheduler } from '../../../src/scheduler/batch-scheduler.js';
import type { PreparedInputs } from '../../../src/tensor/index.js';
import { FakeClock, flush } from '../../helpers/fake-clock.js';
import { TestExecutor } from '../../helpers/test-executor.js';

type Step =
  | { kind: 'submit'; rows: number; priority: number; timeoutMs: number | undefined; abortAfter: number | undefined; width: 2 | 3; poisoned: boolean }
  | { kind: 'advance'; ms: number }
  | { kind: 'release' }
  | { kind: 'turn' };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('submit' as const),
      rows: fc.integer({ min: 1, max: 9 }),
      priority: fc.integer({ min: 0, max: 2 }),
      timeoutMs: fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined }),
      abortAfter: fc.option(fc.integer({ min: 0, max: 20 }), { nil: undefined }),
      width: fc.constantFrom(2 as const, 3 as const),
      poisoned: fc.integer({ min: 0, max: 9 }).map((n) => n < 2),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 10 }) }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'release' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'turn' as const }) },
);

const config = fc.record({
  maxBatchSize: fc.integer({ min: 1, max: 8 }),
  maxDelayMs: fc.integer({ min: 0, max: 5 }),
  concurrency: fc.integer({ min: 1, max: 3 }),
  queueMaxSize: fc.integer({ min: 4, max: 40 }),
});

interface Request {
  ids: number[];
  settled: number;
  outcome: { ok: true; ids: number[] } | { ok: false; code: string } | undefined;
}

/**
 * Random arrival patterns, sizes, priorities, deadlines, aborts and poisoned rows against a
 * model whose output rows identify its input rows, on a fake clock: every request settles
 * exactly once, and a request that succeeds gets exactly its own rows.
 */
describe('BatchScheduler properties', () => {
  it('every request settles exactly once, with exactly its own rows', async () => {
    await fc.assert(
      fc.asyncProperty(config, fc.array(step, { minLength: 1, maxLength: 60 }), async (cfg, steps) => {
        const clock = new FakeClock();
        const executor = new TestExecutor(cfg.concurrency);
        executor.hold = true;
        const scheduler = new BatchScheduler(executor, {
          model: 'm',
          version: 1,
          batched: true,
          ...cfg,
          timeoutMs: undefined,
          clock,
          events: { wants: () => false, emit: () => undefined },
        });
        const requests: Request[] = [];
        const settledIds = new Set<number>();
        // Requests that settled (expired, cancelled) must never reach the runtime afterwards.
        executor.onRun = (ids) => {
          for (const id of ids) expect(settledIds.has(id)).toBe(false);
        };
        let nextId = 1;
        for (const s of steps) {
          if (s.kind === 'submit') {
            const ids = Array.from({ length: s.rows }, () => nextId++);
            if (s.poisoned) executor.poison.add(ids[0]!);
            const request: Request = { ids, settled: 0, outcome: undefined };
            requests.push(request);
            const controller = new AbortController();
            if (s.abortAfter !== undefined) clock.setTimeout(() => controller.abort(), s.abortAfter);
            const data = new Float32Array(s.rows * s.width);
            ids.forEach((id, r) => data.fill(id, r * s.width, (r + 1) * s.width));
            const prepared: PreparedInputs = { tensors: { x: { data, shape: [s.rows, s.width], dtype: 'float32' } }, rows: s.rows, shapeKey: String(s.width), single: false };
            scheduler.dispatch(prepared, { priority: s.priority, timeoutMs: s.timeoutMs, signal: controller.signal }).then(
              (out) => {
                request.settled++;
                const y = out['y']!;
                expect(y.shape).toEqual([s.rows, s.width]);
                request.outcome = { ok: true, ids: Array.from({ length: s.rows }, (_, r) => (y.data as Float32Array)[r * s.width]!) };
              },
              (error: ModelHostError) => {
                request.settled++;
                request.outcome = { ok: false, code: error.code };
                // INFERENCE_FAILED rows ran by definition; the others must not run from now on
                if (error.code !== ErrorCode.INFERENCE_FAILED) for (const id of ids) settledIds.add(id);
              },
            );
          } else if (s.kind === 'advance') {
            clock.advance(s.ms);
          } else if (s.kind === 'release') {
            if (executor.runs.some((r) => !(r as { done?: boolean }).done)) executor.release();
          }
          await flush(1);
        }
        // Let everything finish: stop holding, release what is held, run out the clock.
        executor.hold = false;
        while (executor.runs.some((r) => !(r as { done?: boolean }).done)) {
          executor.release();
          await flush(1);
        }
        for (let i = 0; i < 20 && requests.some((r) => r.settled === 0); i++) {
          clock.advance(10);
          await flush(2);
        }
        await scheduler.drain();

        for (const request of requests) {
          expect(request.settled).toBe(1);
          const outcome = request.outcome!;
          if (outcome.ok) expect(outcome.ids).toEqual(request.ids);
          else expect([ErrorCode.DEADLINE_EXCEEDED, ErrorCode.CANCELLED, ErrorCode.QUEUE_FULL, ErrorCode.INFERENCE_FAILED, ErrorCode.INVALID_INPUT]).toContain(outcome.code);
          // a poisoned row fails its own request, never a clean one
          if (outcome.ok) for (const id of request.ids) expect(executor.poison.has(id)).toBe(false);
        }
        expect(scheduler.pending).toBe(0);
        expect(scheduler.queuedRows).toBe(0);
      }),
      { numRuns: 300 },
    );
  });
});
