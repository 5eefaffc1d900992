import { Task } from '../../src/scheduler/task.js';
import { TaskQueue } from '../../src/scheduler/task-queue.js';

/**
 * The scheduler's bounded priority queue on the hot path: each request is pushed once and
 * leaves in a batch cut by `take`. This file uses scheduler internals (the Task
 * constructor), so it is the one place to adapt when they change.
 */
export function taskQueueCases(): [name: string, fn: () => unknown][] {
  const noop = () => undefined;
  // Tasks are reused: `take` leaves them queued-state, like tasks about to run.
  const tasks = (priority: (i: number) => number) =>
    Array.from({ length: 32 }, (_, i) => new Task({}, 1, '', true, priority(i), Number.POSITIVE_INFINITY, 0, noop, noop));
  const queue = new TaskQueue();
  const taken: Task[] = [];
  const cycle = (batch: readonly Task[]) => () => {
    for (const task of batch) queue.push(task);
    taken.length = 0;
    return queue.take(64, '', taken);
  };
  return [
    ['TaskQueue: 32 × push + take(64), one priority', cycle(tasks(() => 0))],
    ['TaskQueue: 32 × push + take(64), two priorities', cycle(tasks((i) => i % 2))],
  ];
}
