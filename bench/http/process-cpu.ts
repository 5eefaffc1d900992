import { readFileSync } from 'node:fs';

/**
 * Where the CPU went while the HTTP side ran: the server (a child process), the client
 * (this process: autocannon), and everything else on the machine. Linux only (/proc).
 */
export interface HttpCpu {
  /** Cores' worth used by the server process (all its threads). */
  readonly serverCores: number;
  /** Cores' worth used by this process (the load generator). */
  readonly clientCores: number;
  /** Cores' worth used by every other process. */
  readonly otherCores: number;
}

const TICKS_PER_SECOND = 100; // USER_HZ

interface Snapshot {
  readonly busyTicks: number;
  readonly serverTicks: number;
  readonly own: NodeJS.CpuUsage;
  readonly at: number;
}

/** utime + stime of a process (every thread), in ticks. */
function processTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // "pid (comm) state ppid …": comm may hold spaces, so count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function snapshot(serverPid: number): Snapshot | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0] = line.trim().split(/\s+/).slice(1).map(Number);
    return { busyTicks: user + nice + system + irq + softirq, serverTicks: processTicks(serverPid), own: process.cpuUsage(), at: performance.now() };
  } catch {
    return undefined;
  }
}

/** Starts a window; `end()` returns the shares over it (undefined off Linux). */
export function cpuWindow(serverPid: number): { end(): HttpCpu | undefined } {
  const start = snapshot(serverPid);
  return {
    end() {
      const end = snapshot(serverPid);
      if (start === undefined || end === undefined) return undefined;
      const seconds = (end.at - start.at) / 1000;
      const busy = (end.busyTicks - start.busyTicks) / TICKS_PER_SECOND;
      const server = (end.serverTicks - start.serverTicks) / TICKS_PER_SECOND;
      const client = (end.own.user - start.own.user + end.own.system - start.own.system) / 1e6;
      return { serverCores: server / seconds, clientCores: client / seconds, otherCores: Math.max(0, busy - server - client) / seconds };
    },
  };
}

/** Averages windows weighted by their length. */
export function mergeHttpCpu(parts: readonly { cpu: HttpCpu | undefined; ms: number }[]): HttpCpu | undefined {
  const known = parts.filter((p): p is { cpu: HttpCpu; ms: number } => p.cpu !== undefined && p.ms > 0);
  const total = known.reduce((sum, p) => sum + p.ms, 0);
  if (total === 0) return undefined;
  const mean = (key: keyof HttpCpu) => known.reduce((sum, p) => sum + p.cpu[key] * p.ms, 0) / total;
  return { serverCores: mean('serverCores'), clientCores: mean('clientCores'), otherCores: mean('otherCores') };
}
