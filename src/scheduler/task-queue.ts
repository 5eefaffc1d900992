import { TaskState, type Task } from './task.js';

/**
 * Queued tasks by priority (higher first), FIFO within a priority, counted in rows.
 * Removal is lazy: a task settled while queued (cancelled, expired) stays in its bucket
 * until a scan meets it, but stops counting at once (`forget`).
 */
export class TaskQueue {
  /** Rows of queued, unsettled tasks. */
  rows = 0;
  /** Queued, unsettled tasks. */
  size = 0;
  private readonly buckets = new Map<number, Bucket>();
  /** Priorities that have a bucket, highest first. */
  private priorities: number[] = [];
  /** `bucketFor`'s last answer, dropped with its bucket. */
  private lastPriority = 0;
  private lastBucket: Bucket | undefined = undefined;

  push(task: Task): void {
    this.bucketFor(task.priority).push(task);
    this.rows += task.rows;
    this.size++;
  }

  /** Stops counting a queued task that was settled elsewhere (cancelled, expired). */
  forget(task: Task): void {
    this.rows -= task.rows;
    this.size--;
    const bucket = this.buckets.get(task.priority);
    if (bucket !== undefined) bucket.rows -= task.rows;
  }

  /** Rows that would run before a new task of this priority. */
  rowsAhead(priority: number): number {
    if (this.priorities.length === 1) return this.priorities[0]! >= priority ? this.rows : 0;
    let rows = 0;
    for (const p of this.priorities) {
      if (p < priority) break;
      rows += this.buckets.get(p)!.rows;
    }
    return rows;
  }

  /** The first queued task in priority order, without removing it. */
  peek(): Task | undefined {
    for (const priority of this.priorities) {
      const task = this.buckets.get(priority)!.peek();
      if (task !== undefined) return task;
    }
    return undefined;
  }

  /**
   * Removes and returns tasks in priority order that share `shapeKey`, until adding the next
   * would pass `maxRows`. Tasks of another shape keep their place, as do those `admit`
   * turns down (variable-length batching: too much padding).
   */
  take(maxRows: number, shapeKey: string, into: Task[], admit?: (task: Task) => boolean): number {
    let rows = 0;
    for (let p = 0; p < this.priorities.length && rows < maxRows; p++) {
      const bucket = this.buckets.get(this.priorities[p]!)!;
      rows += bucket.take(maxRows - rows, shapeKey, into, admit);
      // A higher-priority task that did not fit goes first in the next batch: no lower one jumps it.
      if (bucket.full) break;
    }
    for (let i = 0; i < into.length; i++) {
      this.rows -= into[i]!.rows;
      this.size--;
    }
    this.compact();
    return rows;
  }

  /**
   * Returns tasks taken by `take` (and not run) to the head of their priority, in their
   * order: they go first in the next batch.
   */
  putBack(tasks: readonly Task[]): void {
    for (let i = tasks.length - 1; i >= 0; i--) {
      const task = tasks[i]!;
      this.bucketFor(task.priority).unshift(task);
      this.rows += task.rows;
      this.size++;
    }
  }

  /** The bucket of `priority`, made (and its priority ordered in) on first use. */
  private bucketFor(priority: number): Bucket {
    // Most traffic has one priority: the bucket of the last push, without a Map lookup.
    if (priority === this.lastPriority && this.lastBucket !== undefined) return this.lastBucket;
    let bucket = this.buckets.get(priority);
    if (bucket === undefined) {
      bucket = new Bucket();
      this.buckets.set(priority, bucket);
      this.priorities.push(priority);
      this.priorities.sort((a, b) => b - a);
    }
    this.lastPriority = priority;
    this.lastBucket = bucket;
    return bucket;
  }

  /** Removes every queued task (for destroy). */
  drainAll(): Task[] {
    const all: Task[] = [];
    for (const bucket of this.buckets.values()) bucket.takeAll(all);
    this.buckets.clear();
    this.lastBucket = undefined;
    this.priorities = [];
    this.rows = 0;
    this.size = 0;
    return all;
  }

  /** Drops empty buckets so priorities that are no longer used cost nothing. */
  private compact(): void {
    if (this.priorities.length === 1) return;
    for (let i = this.priorities.length - 1; i >= 0; i--) {
      const priority = this.priorities[i]!;
      if (this.buckets.get(priority)!.empty) {
        this.buckets.delete(priority);
        if (priority === this.lastPriority) this.lastBucket = undefined;
        this.priorities.splice(i, 1);
      }
    }
  }
}

/**
 * A FIFO of tasks: an array with a moving head and tail, compacted when half of it is
 * consumed. Emptied, it keeps its array (head and tail back to 0): a new array per batch grew
 * a new backing store on the next push, ~150 B per batch, per request at one caller.
 */
class Bucket {
  /** Whether the last `take` stopped at a matching task that did not fit. */
  full = false;
  /** Rows of queued, unsettled tasks in this bucket. */
  rows = 0;
  /** Slots `head` to `tail` hold tasks; the others are undefined. */
  private items: (Task | undefined)[] = [];
  private head = 0;
  private tail = 0;

  get empty(): boolean {
    this.skipSettled();
    return this.head >= this.tail;
  }

  push(task: Task): void {
    this.items[this.tail++] = task;
    this.rows += task.rows;
  }

  /** Puts a task back at the head. */
  unshift(task: Task): void {
    if (this.head > 0) this.items[--this.head] = task;
    else {
      this.items.unshift(task);
      this.tail++;
    }
    this.rows += task.rows;
  }

  peek(): Task | undefined {
    this.skipSettled();
    return this.head < this.tail ? this.items[this.head] : undefined;
  }

  take(maxRows: number, shapeKey: string, into: Task[], admit?: (task: Task) => boolean): number {
    let rows = 0;
    this.full = false;
    this.skipSettled();
    // Fast path: take from the head while tasks fit and match.
    while (this.head < this.tail) {
      const task = this.items[this.head]!;
      if (task.state !== TaskState.Queued) {
        this.items[this.head++] = undefined;
        continue;
      }
      if (task.shapeKey !== shapeKey) break;
      if (rows + task.rows > maxRows) {
        this.full = true;
        this.rows -= rows;
        this.release();
        return rows;
      }
      if (admit !== undefined && !admit(task)) break;
      rows += task.rows;
      into.push(task);
      this.items[this.head++] = undefined;
    }
    // A task of another shape is at the head: look past it for matching ones, in order.
    for (let i = this.head; i < this.tail && rows < maxRows; i++) {
      const task = this.items[i];
      if (task === undefined || task.state !== TaskState.Queued || task.shapeKey !== shapeKey) continue;
      if (rows + task.rows > maxRows) {
        this.full = true;
        break;
      }
      if (admit !== undefined && !admit(task)) continue;
      rows += task.rows;
      into.push(task);
      this.items.splice(i--, 1);
      this.tail--;
    }
    this.rows -= rows;
    this.release();
    return rows;
  }

  takeAll(into: Task[]): void {
    for (let i = this.head; i < this.tail; i++) {
      const task = this.items[i];
      if (task !== undefined && task.state === TaskState.Queued) into.push(task);
    }
    this.items = [];
    this.head = 0;
    this.tail = 0;
    this.rows = 0;
  }

  private skipSettled(): void {
    while (this.head < this.tail && this.items[this.head]!.state !== TaskState.Queued) this.items[this.head++] = undefined;
    this.release();
  }

  private release(): void {
    if (this.head === this.tail) {
      // Every slot before `head` was cleared as it was taken: the array is reused as it is.
      this.head = 0;
      this.tail = 0;
    } else if (this.head > 1024 && this.head * 2 > this.tail) {
      this.items = this.items.slice(this.head, this.tail);
      this.tail -= this.head;
      this.head = 0;
    }
  }
}
