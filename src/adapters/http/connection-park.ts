import type { Socket } from 'node:net';

/**
 * Keep-alive connections of one model not read while its admission gate is busy.
 *
 * The gate keeps requests past its limit waiting unread in the server, but each of them has
 * already been parsed into an `IncomingMessage` and `ServerResponse` (plus the listener's
 * promise and listeners) that live until admitted: at 2,000 connections that is ~2,000 sets
 * of objects surviving every young-generation GC. A connection parked after its response
 * is not read at all, so its next request stays in the kernel's socket buffer, costing
 * nothing until it is its turn. The gate keeps about `limit` parsed requests waiting (enough
 * to refill every slot without waiting for a read); connections past those are parked, and
 * resumed oldest first as that reserve drains.
 *
 * A connection is parked at most `maxParkMs`, then resumed regardless (its request then
 * waits in the gate, where deadlines and `maxWaitMs` apply). A parked connection has no
 * request in progress, so `server.closeIdleConnections()` would close it with its request
 * unread: at shutdown the listener's `stopParking()` resumes them first (`resumeParkedOnClose`).
 */
export class ConnectionPark {
  private readonly parked: { readonly socket: Socket; readonly since: number }[] = [];
  private head = 0;
  /** Connections resumed whose next request has not arrived yet, with when they were resumed. */
  private readonly resuming = new Map<Socket, number>();
  private expiry: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly maxParkMs: number, private readonly clock: () => number = () => performance.now()) {}

  /** Connections parked now (some may have closed since). */
  get size(): number {
    return this.parked.length - this.head;
  }

  /**
   * Resumed connections whose next request is on its way: they count as waiting requests.
   * Stale entries (closed, or silent for `maxParkMs`) are forgotten here: the listener parks
   * while `waiting + pending` reaches the limit and resumes only below it, so a count that only
   * {@link resumeOldest} corrected would park every connection of the model for `maxParkMs`
   * after each response, with no load at all.
   */
  get pending(): number {
    this.forgetStale();
    return this.resuming.size;
  }

  /** Stops reading `socket` until {@link resumeOldest} or `maxParkMs`. */
  park(socket: Socket): void {
    if (socket.destroyed) return;
    socket.pause();
    this.parked.push({ socket, since: this.clock() });
    this.armExpiry();
  }

  /** A request arrived on `socket`: if it was resumed from the park, it is no longer pending. */
  arrived(socket: Socket): void {
    if (this.resuming.size > 0) this.resuming.delete(socket);
  }

  /** Resumes the oldest parked connection that is still open; false when none is left. */
  resumeOldest(): boolean {
    this.forgetStale();
    for (let entry = this.shift(); entry !== undefined; entry = this.shift()) {
      if (entry.socket.destroyed) continue;
      this.resuming.delete(entry.socket); // re-inserted: the map stays in resume order
      this.resuming.set(entry.socket, this.clock());
      entry.socket.resume();
      return true;
    }
    return false;
  }

  /** Resumes every parked connection (the host drains: each next request is answered at once). */
  resumeAll(): void {
    for (let entry = this.shift(); entry !== undefined; entry = this.shift()) if (!entry.socket.destroyed) entry.socket.resume();
  }

  private shift(): { readonly socket: Socket; readonly since: number } | undefined {
    if (this.head === this.parked.length) return undefined;
    const entry = this.parked[this.head]!;
    this.parked[this.head++] = undefined as never;
    if (this.head === this.parked.length) {
      this.parked.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.parked.length) {
      this.parked.splice(0, this.head);
      this.head = 0;
    }
    return entry;
  }

  /**
   * A resumed connection that closed, or sent nothing for `maxParkMs` (an idle client), is not
   * pending. Entries are in the order they were resumed: the walk stops at the first one still
   * open and recent (a closed one behind it is forgotten within `maxParkMs`), so it costs O(1)
   * per call amortized.
   */
  private forgetStale(): void {
    if (this.resuming.size === 0) return;
    const oldest = this.clock() - this.maxParkMs;
    for (const [socket, at] of this.resuming) {
      if (!socket.destroyed && at >= oldest) break;
      this.resuming.delete(socket);
    }
  }

  /** One timer for the whole park: its oldest connection is due first. */
  private armExpiry(): void {
    if (this.expiry !== undefined || this.size === 0) return;
    const delay = Math.max(0, this.parked[this.head]!.since + this.maxParkMs - this.clock());
    this.expiry = setTimeout(() => {
      this.expiry = undefined;
      const due = this.clock() - this.maxParkMs;
      while (this.size > 0 && this.parked[this.head]!.since <= due) {
        const { socket } = this.shift()!;
        if (!socket.destroyed) socket.resume();
      }
      this.armExpiry();
    }, delay);
    this.expiry.unref();
  }
}
