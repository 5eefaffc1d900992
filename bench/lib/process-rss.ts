import { readFileSync } from 'node:fs';

/** A process's resident set size, MiB, from /proc (Linux only). */
export function rssMiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}
