import type { Task } from './task.js';

/**
 * Cancels tasks when the `AbortSignal` they carry aborts: one listener per signal in the
 * whole process, shared by every task that carries it, whatever scheduler (model, version,
 * host) queued it. A caller may pass one signal to hundreds of requests, or one long-lived
 * signal (a keep-alive connection's, an app's shutdown controller) to requests on many
 * models: one listener each, or one per scheduler, would trip Node's listener-leak warning
 * past 10.
 *
 * A signal whose tasks have all settled keeps its listener until a scheduler sweeps, at
 * most once per {@link SWEEP_EVERY_MS} on its clock (each asks at every cut batch), or
 * as soon as {@link SWEEP_PAST_IDLE} idle listeners wait; a task that arrives with it
 * meanwhile reuses it. Why: the HTTP adapters pass the connection's signal, so a keep-alive
 * client sends request after request with one signal; adding and removing a listener per
 * request cost ~0.3 µs at one caller and ~0.55 µs per request at 64 (bench/host-cost.ts,
 * signal column). Swept at every cut, a connection's listener still went and came back per
 * request over HTTP (its next request arrives after the next cut). A lingering listener
 * holds nothing but its signal: no task, no input, no scheduler. `close` removes every idle
 * one, and a closed scheduler's task takes its signal's listener with it as soon as the
 * signal carries no other task.
 */
export class AbortWatch {
  private closed = false;
  /** When this watch last swept, on its scheduler's clock (ms). */
  private lastSweep = Number.NEGATIVE_INFINITY;

  /** `cancel` settles this scheduler's tasks of an aborted signal (with CANCELLED); each leaves its group as it settles. */
  constructor(readonly cancel: (tasks: Iterable<Task>, signal: AbortSignal) => void) {}

  /** Cancels `task` when `signal` aborts, until the task settles (`Task.resolve`/`reject` leave the group). */
  watch(signal: AbortSignal, task: Task): void {
    const group = LISTENERS.groupOf(signal);
    group.tasks.add(task);
    task.signalGroup = group;
    task.abortWatch = this;
  }

  /**
   * Removes the listeners of signals that still carry no task, when this watch's last sweep
   * was at least {@link SWEEP_EVERY_MS} ago or {@link SWEEP_PAST_IDLE} wait (called once per
   * cut batch).
   * @param now the scheduler's clock, ms
   */
  sweep(now: number): void {
    if (now - this.lastSweep < SWEEP_EVERY_MS && LISTENERS.idleCount < SWEEP_PAST_IDLE) return;
    this.lastSweep = now;
    LISTENERS.sweep();
  }

  /** Removes every idle listener now, and from now on one as soon as a task of this watch leaves it idle. */
  close(): void {
    this.closed = true;
    LISTENERS.sweep();
  }

  /** @internal Whether a group this watch's task left idle goes at once. */
  get removesIdle(): boolean {
    return this.closed;
  }
}

/** Idle listeners are removed at most this often, ms (a keep-alive connection's next request reuses its listener meanwhile). */
export const SWEEP_EVERY_MS = 100;
/** ... or at the next cut once this many wait (a bound on what lingers, whatever the traffic). */
export const SWEEP_PAST_IDLE = 1024;

/** The process's listeners: one group per signal, the idle ones listed for the next sweep. */
class SignalListeners {
  private readonly groups = new WeakMap<AbortSignal, SignalGroup>();
  /** Groups that went idle since the last sweep (some may have tasks again). */
  private idle: SignalGroup[] = [];

  groupOf(signal: AbortSignal): SignalGroup {
    let group = this.groups.get(signal);
    if (group === undefined) {
      group = new SignalGroup(signal);
      signal.addEventListener('abort', group, { once: true });
      this.groups.set(signal, group);
    }
    return group;
  }

  /** Groups listed idle since the last sweep (some may have tasks again). */
  get idleCount(): number {
    return this.idle.length;
  }

  sweep(): void {
    if (this.idle.length === 0) return;
    const idle = this.idle;
    this.idle = [];
    for (const group of idle) {
      group.listed = false;
      if (group.tasks.size === 0) this.remove(group);
    }
  }

  /** A group's last task settled: kept until the next sweep (or removed now, when its watch closed). */
  idled(group: SignalGroup, watch: AbortWatch | undefined): void {
    if (watch?.removesIdle) return this.remove(group);
    if (group.listed) return;
    group.listed = true;
    this.idle.push(group);
  }

  /** The signal aborted: every task it carries is cancelled by its own scheduler (the listener was `once`). */
  aborted(group: SignalGroup): void {
    if (this.groups.get(group.signal) === group) this.groups.delete(group.signal);
    group.removed = true;
    if (group.tasks.size === 0) return; // an idle listener: nothing to cancel
    // Each scheduler cancels its own tasks in one call (one error for them all).
    const byWatch = new Map<AbortWatch, Task[]>();
    for (const task of group.tasks) {
      const own = byWatch.get(task.abortWatch!);
      if (own === undefined) byWatch.set(task.abortWatch!, [task]);
      else own.push(task);
    }
    group.tasks.clear();
    for (const [watch, own] of byWatch) watch.cancel(own, group.signal);
  }

  remove(group: SignalGroup): void {
    if (group.removed) return;
    group.removed = true;
    group.signal.removeEventListener('abort', group);
    if (this.groups.get(group.signal) === group) this.groups.delete(group.signal);
  }
}

const LISTENERS = new SignalListeners();

/** The tasks carrying one signal; it is the signal's listener itself (`handleEvent`), so no closure per signal. */
export class SignalGroup {
  readonly tasks = new Set<Task>();
  /** In the idle list. */
  listed = false;
  /** Its listener is gone (the signal aborted or it was swept). */
  removed = false;

  constructor(readonly signal: AbortSignal) {}

  handleEvent(): void {
    LISTENERS.aborted(this);
  }

  /** A task of this group settled. */
  leave(task: Task): void {
    if (this.tasks.delete(task) && this.tasks.size === 0 && !this.removed) LISTENERS.idled(this, task.abortWatch);
  }
}
