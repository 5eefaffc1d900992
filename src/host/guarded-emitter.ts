import { EventEmitter } from 'eventemitter3';

type Listener = (...args: never[]) => unknown;

/** What a wrapped listener stands for: the caller's function, its `this`, and whether it is a `once`. */
interface Registration {
  readonly fn: Listener;
  readonly context: unknown;
  readonly once: boolean;
}

/** Wrapper → registration, for the listeners registered with `once` or a context. */
const registrations = new WeakMap<Listener, Registration>();

/**
 * An eventemitter3 emitter whose owner delivers each event itself (`deliver`), one listener
 * at a time, so a listener that throws cannot stop the others or the code that emitted.
 *
 * eventemitter3's `emit` honours `once` and the `context` argument of `on`, but stops at the
 * first listener that throws. Calling the functions `listeners()` returns instead keeps the
 * others going, and loses both: a `once` listener (and `events.once(host, name)`) fired on
 * every event and was never removed, and `on(event, fn, context)` ran with the emitter as
 * `this`. So a `once` listener, or one with a context, is registered as a wrapper that
 * removes itself and applies the context; `removeListener`/`off` and `listeners()` speak in
 * the caller's functions, as eventemitter3's own do. A falsy context is the emitter, as in
 * eventemitter3 (`on(event, fn, null)` is `on(event, fn)`, and `off(event, fn, null)` removes it).
 *
 * The owner's own subscribers (`own`) are delivered first and are not the callers' listeners:
 * `listeners()`, `listenerCount()`, `eventNames()`, `off(event)` and `removeAllListeners()`
 * never see them, so a caller's cleanup cannot switch off the owner's bookkeeping.
 */
export abstract class GuardedEmitter<Events extends EventEmitter.ValidEventTypes> extends EventEmitter<Events> {
  /** The owner's own subscribers: delivered before the callers' listeners, invisible to them. */
  protected readonly own = new EventEmitter<Events>();
  /** Bumped whenever a caller's listener is added or removed: what was worked out from `listeners()` holds while it stays the same. */
  protected listenerGeneration = 0;

  override on<T extends EventEmitter.EventNames<Events>>(event: T, fn: EventEmitter.EventListener<Events, T>, context?: unknown): this {
    this.listenerGeneration++;
    return super.on(event, context ? this.wrap(event, fn, context, false) : fn);
  }

  override addListener<T extends EventEmitter.EventNames<Events>>(event: T, fn: EventEmitter.EventListener<Events, T>, context?: unknown): this {
    return this.on(event, fn, context);
  }

  override once<T extends EventEmitter.EventNames<Events>>(event: T, fn: EventEmitter.EventListener<Events, T>, context?: unknown): this {
    this.listenerGeneration++;
    return super.on(event, this.wrap(event, fn, context, true));
  }

  override removeListener<T extends EventEmitter.EventNames<Events>>(event: T, fn?: EventEmitter.EventListener<Events, T>, context?: unknown, once?: boolean): this {
    this.listenerGeneration++;
    if (fn === undefined) return super.removeListener(event);
    for (const raw of super.listeners(event) as Listener[]) {
      const registration = registrations.get(raw);
      const original = registration?.fn ?? raw;
      if (original !== (fn as Listener)) continue;
      // eventemitter3's rules: a (truthy) context or `once` given narrows what is removed; no context registered means the emitter.
      if (context && (registration?.context ?? this) !== context) continue;
      if (once === true && registration?.once !== true) continue;
      super.removeListener(event, raw as EventEmitter.EventListener<Events, T>);
    }
    return this;
  }

  override removeAllListeners(event?: EventEmitter.EventNames<Events>): this {
    this.listenerGeneration++;
    return super.removeAllListeners(event);
  }

  override off<T extends EventEmitter.EventNames<Events>>(event: T, fn?: EventEmitter.EventListener<Events, T>, context?: unknown, once?: boolean): this {
    return this.removeListener(event, fn, context, once);
  }

  /** The functions the callers registered (not the wrappers), in order. */
  override listeners<T extends EventEmitter.EventNames<Events>>(event: T): EventEmitter.EventListener<Events, T>[] {
    // eventemitter3 returns a new array each call: unwrapped in place (sampling asks per sample).
    const all = super.listeners(event) as Listener[];
    for (let i = 0; i < all.length; i++) all[i] = registrations.get(all[i]!)?.fn ?? all[i]!;
    return all as EventEmitter.EventListener<Events, T>[];
  }

  /** Whether anyone, the owner or a caller, listens to `event` (worth building its payload). */
  protected hears(event: EventEmitter.EventNames<Events>): boolean {
    return super.listenerCount(event) > 0 || this.own.listenerCount(event) > 0;
  }

  /**
   * Calls the owner's subscribers and then every listener of `event` with `payload`, in order;
   * one that throws goes to `listenerThrew` and the rest still run. A `once` listener is
   * removed before it is called.
   */
  protected deliver<T extends EventEmitter.EventNames<Events>>(event: T, payload: unknown): void {
    if (this.own.listenerCount(event) > 0) this.call(this.own.listeners(event) as ((payload: unknown) => void)[], event, payload);
    if (super.listenerCount(event) > 0) this.call(super.listeners(event) as ((payload: unknown) => void)[], event, payload);
  }

  private call<T extends EventEmitter.EventNames<Events>>(listeners: readonly ((payload: unknown) => void)[], event: T, payload: unknown): void {
    for (const listener of listeners) {
      try {
        listener.call(this, payload);
      } catch (error) {
        this.listenerThrew(event, payload, error);
      }
    }
  }

  /** What becomes of an error a listener threw while `deliver` called it. */
  protected abstract listenerThrew(event: EventEmitter.EventNames<Events>, payload: unknown, error: unknown): void;

  private wrap<T extends EventEmitter.EventNames<Events>>(event: T, fn: EventEmitter.EventListener<Events, T>, context: unknown, once: boolean): EventEmitter.EventListener<Events, T> {
    if (typeof fn !== 'function') throw new TypeError('The listener must be a function');
    const emitter = this;
    const self = context || emitter;
    let fired = false;
    const wrapper = function (this: unknown, ...args: unknown[]): unknown {
      if (once) {
        if (fired) return undefined;
        fired = true;
        emitter.listenerGeneration++;
        EventEmitter.prototype.removeListener.call(emitter, event, wrapper as never);
      }
      return (fn as (...a: unknown[]) => unknown).apply(self, args);
    };
    registrations.set(wrapper, { fn: fn as Listener, context: self, once });
    return wrapper as unknown as EventEmitter.EventListener<Events, T>;
  }
}
