import { AdaptiveLimit } from './adaptive-limit.js';

/**
 * Admission in front of a model's inference requests, decided on the request's headers:
 * at most `limit` requests are in flight (body read, parsed, queued, run, answered); the
 * next ones wait in a FIFO, unread, costing the server nothing but their socket; past what
 * the FIFO can drain within `maxWaitMs` (predicted from the limit and the mean latency of
 * admitted requests) they are refused at once, before their body is read
 * or parsed, with an honest `retryAfterMs`.
 *
 * Keeping the work inside the server at what it can finish is what keeps goodput and probe
 * latency flat as connections grow: every request the server admits costs a parse, tensors
 * and timers while it waits, and an event-loop turn that serves 2,000 requests at once
 * answers a health probe 2,000 requests late.
 */
export interface AdmissionGateOptions {
  /** In-flight requests: a fixed number, or an adaptive limit learned from latency. */
  readonly limit: number | AdaptiveLimit;
  /** Most requests waiting in the FIFO. */
  readonly maxWaiting: number;
  /** Longest a request waits in the FIFO, ms; also the bound on its predicted wait at arrival. */
  readonly maxWaitMs: number;
  /** Monotonic ms. Default `performance.now`. */
  readonly clock?: () => number;
}

/** A slot in flight; `release()` (idempotent) when the response is sent or the client left. */
export interface Permit {
  /** The body has been read: the latency measured from here on is the server's, not the client's upload. */
  bodyRead(): void;
  /**
   * Frees the slot without a latency sample (idempotent, as `release`): a request whose body is
   * slow to arrive must not hold the model's slot, nor teach the gate its upload time.
   */
  yield(): void;
  release(): void;
}

export type Entry =
  | { readonly kind: 'admitted'; readonly permit: Permit }
  /** Resolves when admitted; rejects with {@link WaitExpired} after `maxWaitMs`. */
  | { readonly kind: 'queued'; readonly permit: Promise<Permit>; cancel(): void }
  | { readonly kind: 'refused'; readonly retryAfterMs: number; readonly reason: 'full' | 'wait' };

/** A request waited `maxWaitMs` in the FIFO without being admitted. */
export class WaitExpired extends Error {
  constructor(readonly waitedMs: number) {
    super(`waited ${Math.round(waitedMs)} ms for admission`);
  }
}

interface Waiter {
  readonly since: number;
  /** Out of the FIFO: cancelled, admitted or expired. A cancel after admission or expiry changes nothing. */
  left: boolean;
  resolve(permit: Permit): void;
  reject(error: WaitExpired): void;
}

/** Weight of the newest latency in the running mean the drain rate is predicted from. */
const RTT_WEIGHT = 0.1;

export class AdmissionGate {
  private readonly fifo: Waiter[] = [];
  private head = 0;
  private live = 0;
  private inflight = 0;
  private readonly clock: () => number;
  private readonly adaptive: AdaptiveLimit | undefined;
  private readonly fixed: number;
  private expiry: ReturnType<typeof setTimeout> | undefined;
  /** Running mean latency of admitted requests, ms; undefined until one finished. */
  private meanRtt: number | undefined;

  constructor(private readonly options: AdmissionGateOptions) {
    this.clock = options.clock ?? (() => performance.now());
    this.adaptive = typeof options.limit === 'number' ? undefined : options.limit;
    this.fixed = typeof options.limit === 'number' ? options.limit : 0;
  }

  /** Requests in flight now. */
  get inFlight(): number {
    return this.inflight;
  }

  /** Requests waiting in the FIFO now. */
  get waiting(): number {
    return this.live;
  }

  /** The in-flight limit now. */
  get limit(): number {
    return this.adaptive?.limit ?? this.fixed;
  }

  /**
   * How fast the FIFO drains while the limit is full, requests per second: `limit` slots each
   * freed every mean latency (Little's law). Undefined until a request has finished. Measured
   * on busy time only, so a burst after an idle minute is predicted at the model's pace.
   */
  get completionsPerSecond(): number | undefined {
    return this.meanRtt === undefined ? undefined : (this.limit / Math.max(this.meanRtt, 1e-3)) * 1000;
  }

  enter(): Entry {
    if (this.live === 0 && this.inflight < this.limit) return { kind: 'admitted', permit: this.permit() };
    if (this.live >= this.options.maxWaiting) return { kind: 'refused', reason: 'full', retryAfterMs: this.predictedWaitMs(this.live) ?? this.options.maxWaitMs };
    const predicted = this.predictedWaitMs(this.live + 1);
    if (predicted !== undefined && predicted > this.options.maxWaitMs) return { kind: 'refused', reason: 'wait', retryAfterMs: predicted };
    let waiter!: Waiter;
    const permit = new Promise<Permit>((resolve, reject) => {
      waiter = { since: this.clock(), left: false, resolve, reject };
    });
    this.fifo.push(waiter);
    this.live++;
    this.armExpiry();
    return {
      kind: 'queued',
      permit,
      // A request can be cancelled after it was admitted and before its permit's callback ran: a pipelined request's
      // connection closes in the same turn as the response ahead of it, whose slot admitted it.
      cancel: () => {
        if (waiter.left) return;
        waiter.left = true;
        this.live--;
      },
    };
  }

  /** How long the `position`-th waiter is likely to wait, ms. */
  private predictedWaitMs(position: number): number | undefined {
    const perSecond = this.completionsPerSecond;
    return perSecond === undefined ? undefined : (position / perSecond) * 1000;
  }

  private permit(): Permit {
    this.inflight++;
    return new GatePermit(this, this.clock(), this.inflight);
  }

  /** @internal A permit's slot is free again; `rtt` (ms, ending `now`) teaches the limit when it is given. */
  freed(rtt?: number, inflightAtAdmission?: number, now?: number): void {
    this.inflight--;
    if (rtt !== undefined) {
      this.adaptive?.sample(rtt, inflightAtAdmission!, now!);
      this.meanRtt = this.meanRtt === undefined ? rtt : this.meanRtt + RTT_WEIGHT * (rtt - this.meanRtt);
    }
    this.admitWaiting();
  }

  /** @internal Monotonic ms, from the gate's clock. */
  now(): number {
    return this.clock();
  }

  private admitWaiting(): void {
    while (this.live > 0 && this.inflight < this.limit) {
      const waiter = this.shift();
      if (waiter === undefined) break;
      waiter.resolve(this.permit());
    }
  }

  /** The oldest waiter still in the FIFO, removed from it. */
  private shift(): Waiter | undefined {
    while (this.head < this.fifo.length) {
      const waiter = this.fifo[this.head]!;
      this.fifo[this.head++] = undefined as unknown as Waiter;
      if (this.head > 1024 && this.head * 2 > this.fifo.length) {
        this.fifo.splice(0, this.head);
        this.head = 0;
      }
      if (waiter.left) continue;
      waiter.left = true;
      this.live--;
      return waiter;
    }
    return undefined;
  }

  private peek(): Waiter | undefined {
    while (this.head < this.fifo.length && this.fifo[this.head]!.left) this.head++;
    return this.fifo[this.head];
  }

  /** One timer for the whole FIFO: its oldest waiter expires first. */
  private armExpiry(): void {
    if (this.expiry !== undefined) return;
    const oldest = this.peek();
    if (oldest === undefined) return;
    const delay = Math.max(0, oldest.since + this.options.maxWaitMs - this.clock());
    this.expiry = setTimeout(() => {
      this.expiry = undefined;
      const now = this.clock();
      for (let w = this.peek(); w !== undefined && now - w.since >= this.options.maxWaitMs; w = this.peek()) {
        this.shift();
        w.reject(new WaitExpired(now - w.since));
      }
      this.armExpiry();
    }, delay);
    this.expiry.unref?.();
  }
}

/** A slot in flight: one object per request, its methods on the prototype (no closures per request). */
class GatePermit implements Permit {
  private released = false;

  constructor(
    private readonly gate: AdmissionGate,
    private admittedAt: number,
    private readonly inflightAtAdmission: number,
  ) {}

  bodyRead(): void {
    if (!this.released) this.admittedAt = this.gate.now();
  }

  yield(): void {
    if (this.released) return;
    this.released = true;
    this.gate.freed();
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    const now = this.gate.now();
    this.gate.freed(now - this.admittedAt, this.inflightAtAdmission, now);
  }
}
