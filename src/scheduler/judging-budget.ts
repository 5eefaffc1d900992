import type { Clock } from './clock.js';

/** Share of a version's execution time (every slot's) that running failures again to judge them may take over time. */
export const JUDGING_SHARE = 0.1;

/** Run time, per slot, the budget saves up while nothing fails: ms. A quiet version judges a burst of bad inputs in full. */
export const JUDGING_RESERVE_MS = 1_000;

/**
 * The bound on the runs a version spends judging failures: bisecting a failed batch to find
 * the requests at fault (up to ~12 runs for a batch of 8) and reproducing a failure alone
 * (reproduction.ts: up to 6 more runs). Unbounded, a client that sends only inputs the
 * runtime refuses would buy that many runs of everyone's execution slots with each request,
 * and a server would do less under more load. The budget is run time: it grows by `share` of
 * the elapsed time per slot, up to a reserve, and each judging run is charged what it took
 * (its wait for a slot included). A failed batch is judged only while the balance is positive
 * and then in full, bisection and reproductions (a slow model's one bad input is still judged
 * whole), so the balance may go below zero: that debt is repaid before the next judgment
 * starts. A failure the budget does not cover is judged by nobody (BatchScheduler.classify).
 */
export class JudgingBudget {
  private balanceMs: number;
  private at: number;
  private readonly reserveMs: number;
  private readonly perMs: number;

  constructor(
    private readonly clock: Clock,
    slots: number,
    share = JUDGING_SHARE,
    reserveMs = JUDGING_RESERVE_MS,
  ) {
    this.perMs = share * slots;
    this.reserveMs = reserveMs * slots * share;
    this.balanceMs = this.reserveMs;
    this.at = clock.now();
  }

  /** Whether a judgment may start now (the balance is positive). */
  available(): boolean {
    const now = this.clock.now();
    this.balanceMs = Math.min(this.reserveMs, this.balanceMs + (now - this.at) * this.perMs);
    this.at = now;
    return this.balanceMs > 0;
  }

  /** Charges a judging run (a bisection's, a reproduction's) that took `ms`. */
  spend(ms: number): void {
    this.balanceMs -= ms;
  }
}
