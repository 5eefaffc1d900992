import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * CPU that other processes took while a bench ran: on a shared 2-core machine it is the
 * main source of noise, so every measured window records it (Linux only: /proc/stat).
 */
export interface CpuShare {
  /** Cores' worth of CPU used by other processes (all busy time minus this process's). */
  readonly otherCores: number;
  /** Cores' worth the hypervisor gave to other machines (steal). */
  readonly stealCores: number;
}

export interface CpuSnapshot {
  readonly busyTicks: number;
  readonly stealTicks: number;
  readonly own: NodeJS.CpuUsage;
  readonly at: number;
}

// USER_HZ: the unit of /proc/stat, 100 on every mainstream Linux build.
const TICKS_PER_SECOND = 100;

/** A reading of machine-wide and own CPU time; undefined where /proc/stat does not exist. */
export function cpuSnapshot(): CpuSnapshot | undefined {
  let line: string | undefined;
  try {
    line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
  } catch {
    return undefined;
  }
  // cpu  user nice system idle iowait irq softirq steal guest guest_nice (guest is inside user)
  const fields = line?.trim().split(/\s+/).slice(1).map(Number) ?? [];
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
  return { busyTicks: user + nice + system + irq + softirq, stealTicks: steal, own: process.cpuUsage(), at: performance.now() };
}

export function cpuShareSince(start: CpuSnapshot | undefined): CpuShare | undefined {
  const end = cpuSnapshot();
  if (start === undefined || end === undefined) return undefined;
  const seconds = (end.at - start.at) / 1000;
  if (seconds <= 0) return undefined;
  const busy = (end.busyTicks - start.busyTicks) / TICKS_PER_SECOND;
  const own = (end.own.user - start.own.user + end.own.system - start.own.system) / 1e6;
  return { otherCores: Math.max(0, busy - own) / seconds, stealCores: (end.stealTicks - start.stealTicks) / TICKS_PER_SECOND / seconds };
}

/** Averages windows weighted by their length. */
export function mergeCpuShares(parts: readonly { share: CpuShare | undefined; ms: number }[]): CpuShare | undefined {
  const known = parts.filter((p): p is { share: CpuShare; ms: number } => p.share !== undefined && p.ms > 0);
  const total = known.reduce((sum, p) => sum + p.ms, 0);
  if (total === 0) return undefined;
  return {
    otherCores: known.reduce((sum, p) => sum + p.share.otherCores * p.ms, 0) / total,
    stealCores: known.reduce((sum, p) => sum + p.share.stealCores * p.ms, 0) / total,
  };
}

/** Waits (at most `limitMs`) until other processes leave the cores alone: two half-seconds under 0.1 core. */
export async function waitForQuiet(limitMs: number): Promise<void> {
  const started = performance.now();
  for (let quiet = 0; quiet < 2 && performance.now() - started < limitMs; ) {
    const snapshot = cpuSnapshot();
    await sleep(500);
    const others = cpuShareSince(snapshot)?.otherCores;
    if (others === undefined) return;
    quiet = others < 0.1 ? quiet + 1 : 0;
  }
}
