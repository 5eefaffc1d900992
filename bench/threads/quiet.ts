/**
 * Opt-in guard against a shared machine (`--wait-quiet`, BENCH_WAIT_QUIET=1): before each
 * section, wait until other processes (and the hypervisor: steal) leave the cores alone;
 * after each measured run, when they took more than BUSY_CORES meanwhile, wait for quiet
 * again and measure the run again.
 * Off by default, so a run's length stays predictable; the report says how quiet every
 * window was either way.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { cpuShareSince, cpuSnapshot, type CpuShare } from '../lib/cpu-contention.js';

/** Above this, another process (or, as steal, another VM) visibly competes with the bench for the 2 cores. */
export const BUSY_CORES = 0.2;

/** Cores' worth of CPU the bench did not get: other processes' share plus the hypervisor's steal. */
export function lostCores(share: CpuShare | undefined): number {
  return share === undefined ? 0 : share.otherCores + share.stealCores;
}

export interface QuietGuard {
  readonly enabled: boolean;
  /** Runs that were measured again because others were busy during them. */
  redone: number;
  /** Time spent waiting for quiet (ms). */
  waitedMs: number;
  /** Waits that gave up (the machine stayed busy): those runs were measured anyway. */
  gaveUp: number;
}

export function quietGuard(enabled: boolean): QuietGuard {
  return { enabled, redone: 0, waitedMs: 0, gaveUp: 0 };
}

const QUIET_CORES = 0.1;
const PROBE_MS = 400;
const MAX_WAIT_MS = 60_000;
const MAX_REDOS = 2;

/** Waits until two consecutive PROBE_MS windows see others use under QUIET_CORES (this process must be idle). */
export async function waitForQuiet(guard: QuietGuard, log: (line: string) => void): Promise<void> {
  if (!guard.enabled) return;
  const started = performance.now();
  let quiet = 0;
  let announced = false;
  while (quiet < 2) {
    const snapshot = cpuSnapshot();
    await sleep(PROBE_MS);
    const share = cpuShareSince(snapshot);
    if (share === undefined) return; // not Linux: nothing to measure
    if (lostCores(share) < QUIET_CORES) quiet++;
    else {
      quiet = 0;
      if (!announced) log(`  waiting for quiet: other processes take ${share.otherCores.toFixed(2)} cores, steal ${share.stealCores.toFixed(2)}`);
      announced = true;
    }
    if (performance.now() - started > MAX_WAIT_MS) {
      guard.gaveUp++;
      log(`  still busy after ${MAX_WAIT_MS / 1000} s: measuring anyway`);
      break;
    }
  }
  guard.waitedMs += performance.now() - started;
}

/** Runs `run`, and when the guard is on and others were busy meanwhile, waits for quiet and runs it again. */
export async function guarded<R>(guard: QuietGuard, run: () => Promise<R>, cpuOf: (result: R) => CpuShare | undefined, log: (line: string) => void): Promise<R> {
  for (let attempt = 0; ; attempt++) {
    if (attempt > 0) await waitForQuiet(guard, log);
    const result = await run();
    const lost = lostCores(cpuOf(result));
    if (!guard.enabled || lost <= BUSY_CORES || attempt >= MAX_REDOS) return result;
    guard.redone++;
    log(`  others (and steal) took ${lost.toFixed(2)} cores during that run: measuring it again`);
  }
}
