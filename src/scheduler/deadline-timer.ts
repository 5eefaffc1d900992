import type { Clock } from './clock.js';
import { TaskState, type Task } from './task.js';

/**
 * Rejects tasks on their deadline, queued or running, with one timer for the earliest
 * deadline (a min-heap) instead of a timer per request.
 */
export class DeadlineTimer {
  private readonly heap: Task[] = [];
  private timer: unknown = undefined;
  private armedFor = Number.POSITIVE_INFINITY;

  constructor(
    private readonly clock: Clock,
    private readonly onExpired: (task: Task) => void,
  ) {}

  get size(): number {
    return this.heap.length;
  }

  watch(task: Task): void {
    const heap = this.heap;
    heap.push(task);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.deadline <= task.deadline) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = task;
    if (task.deadline < this.armedFor) this.arm();
  }

  /** Expires what is due now; called by the timer, and by the scheduler before it cuts a batch. */
  expire(now = this.clock.now()): void {
    const heap = this.heap;
    while (heap.length > 0 && heap[0]!.deadline <= now) {
      const task = this.pop();
      if (task.state !== TaskState.Settled) this.onExpired(task);
    }
    // Settled tasks at the top cost nothing to drop now.
    while (heap.length > 0 && heap[0]!.state === TaskState.Settled) this.pop();
    this.arm();
  }

  clear(): void {
    this.heap.length = 0;
    this.disarm();
  }

  private arm(): void {
    const next = this.heap[0];
    if (next === undefined) return this.disarm();
    if (next.deadline === this.armedFor && this.timer !== undefined) return;
    this.disarm();
    this.armedFor = next.deadline;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.armedFor = Number.POSITIVE_INFINITY;
      this.expire();
    }, Math.max(0, next.deadline - this.clock.now()));
  }

  private disarm(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
  }

  private pop(): Task {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      let i = 0;
      const n = heap.length;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= n) break;
        const right = left + 1;
        const child = right < n && heap[right]!.deadline < heap[left]!.deadline ? right : left;
        if (heap[child]!.deadline >= last.deadline) break;
        heap[i] = heap[child]!;
        i = child;
      }
      heap[i] = last;
    }
    return top;
  }
}
