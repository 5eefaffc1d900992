import type { Clock } from './clock.js';

/** Share of a version's execution time (every slot's) that running failures again to blame them may take over time. */
export const REPRODUCTION_SHARE = 0.1;

/** Run time, per slot, the budget saves up while nothing fails: ms. A quiet version judges a burst of bad inputs in full. */
export const REPRODUCTION_RESERVE_MS = 1_000;

/**
 * The bound on the runs a version spends reproducing failures (reproduction.ts): a request
 * that failed alone is run again, with a probe after each, up to 6 more runs, so a client
 * that sends only inputs the runtime refuses would otherwise buy 6 runs of everyone's
 * execution slots with each request. The budget is run time: it grows by `share` of the
 * elapsed time per slot, up to a reserve, and each reproduction run is charged what it took
 * (its wait for a slot included). A reproduction starts only while the balance is positive
 * and then runs all its rounds (a slow model's one bad input is still judged in full), so the
 * balance may go below zero: that debt is repaid before the next one starts. A failure the
 * budget does not cover is judged by nobody (BatchScheduler.classify).
 */
export class ReproductionBudget {
  private balanceMs: number;
  private at: number;
  private readonly reserveMs: number;
  private readonly perMs: number;

  constructor(
    private readonly clock: Clock,
    slots: number,
    share = REPRODUCTION_SHARE,
    reserveMs = REPRODUCTION_RESERVE_MS,
  ) {
    this.perMs = share * slots;
    this.reserveMs = reserveMs * slots * share;
    this.balanceMs = this.reserveMs;
    this.at = clock.now();
  }

  /** Whether a reproduction may start now (the balance is positive). */
  available(): boolean {
    const now = this.clock.now();
    this.balanceMs = Math.min(this.reserveMs, this.balanceMs + (now - this.at) * this.perMs);
    this.at = now;
    return this.balanceMs > 0;
  }

  /** Charges a reproduction run that took `ms`. */
  spend(ms: number): void {
    this.balanceMs -= ms;
  }
}
