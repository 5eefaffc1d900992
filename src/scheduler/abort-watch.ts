import type { Task } from './task.js';

/**
 * Cancels tasks when the `AbortSignal` they carry aborts: one listener per signal, shared
 * by every task that carries it (a caller may pass one signal to hundreds of requests; one
 * listener each would also trip Node's listener-leak warning).
 *
 * A signal whose tasks have all settled keeps its listener until the next `sweep` (the
 * scheduler sweeps once per cut batch), and a task that arrives with it meanwhile reuses
 * it. Why: the HTTP adapters pass the connection's signal, so a keep-alive client sends
 * request after request with one signal; adding and removing a listener per request cost
 * ~0.3 µs at one caller and ~0.55 µs per request at 64 (bench/host-cost.ts, signal
 * column). A lingering listener holds nothing but its signal and this watch: no task, no
 * input; `close` removes them all, and once closed a listener goes as soon as it is idle.
 */
export class AbortWatch {
  private readonly groups = new WeakMap<AbortSignal, SignalGroup>();
  /** Groups that went idle since the last sweep (some may have tasks again). */
  private idle: SignalGroup[] = [];
  private closed = false;

  /** `cancel` settles the tasks of an aborted signal (with CANCELLED); each leaves its group as it settles. */
  constructor(private readonly cancel: (tasks: Iterable<Task>, signal: AbortSignal) => void) {}

  /** Cancels `task` when `signal` aborts, until the task settles (`Task.resolve`/`reject` leave the group). */
  watch(signal: AbortSignal, task: Task): void {
    let group = this.groups.get(signal);
    if (group === undefined) {
      group = new SignalGroup(this, signal);
      signal.addEventListener('abort', group, { once: true });
      this.groups.set(signal, group);
    }
    group.tasks.add(task);
    task.signalGroup = group;
  }

  /** Removes the listeners of signals that still carry no task (called once per cut batch). */
  sweep(): void {
    if (this.idle.length === 0) return;
    const idle = this.idle;
    this.idle = [];
    for (const group of idle) {
      group.listed = false;
      if (group.tasks.size === 0) this.remove(group);
    }
  }

  /** Removes every idle listener now, and from now on each as soon as its signal carries no task. */
  close(): void {
    this.closed = true;
    this.sweep();
  }

  /** A group's last task settled: kept until the next sweep (or removed now, once closed). */
  idled(group: SignalGroup): void {
    if (this.closed) return this.remove(group);
    if (group.listed) return;
    group.listed = true;
    this.idle.push(group);
  }

  /** The signal aborted: every task it carries is cancelled (the listener was `once`). */
  aborted(group: SignalGroup): void {
    if (this.groups.get(group.signal) === group) this.groups.delete(group.signal);
    group.removed = true;
    if (group.tasks.size === 0) return; // an idle listener: nothing to cancel
    this.cancel(group.tasks, group.signal);
    group.tasks.clear();
  }

  private remove(group: SignalGroup): void {
    if (group.removed) return;
    group.removed = true;
    group.signal.removeEventListener('abort', group);
    if (this.groups.get(group.signal) === group) this.groups.delete(group.signal);
  }
}

/** The tasks carrying one signal; it is the signal's listener itself (`handleEvent`), so no closure per signal. */
export class SignalGroup {
  readonly tasks = new Set<Task>();
  /** In the watch's idle list. */
  listed = false;
  /** Its listener is gone (the signal aborted or it was swept). */
  removed = false;

  constructor(
    private readonly watch: AbortWatch,
    readonly signal: AbortSignal,
  ) {}

  handleEvent(): void {
    this.watch.aborted(this);
  }

  /** A task of this group settled. */
  leave(task: Task): void {
    if (this.tasks.delete(task) && this.tasks.size === 0 && !this.removed) this.watch.idled(this);
  }
}
