import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time this process's threads have run, in ns, split into the main thread and all the
 * others (worker threads, V8's GC helpers, libuv's pool), from /proc/self/task/<tid>/schedstat
 * (Linux only). Unlike a throughput ratio it does not move when other processes take the
 * cores: on a shared machine it says what the code itself costs.
 */
export interface ThreadCpu {
  readonly mainNs: number;
  readonly othersNs: number;
}

/** A reading now; undefined where /proc/self/task does not exist. Threads that ended since an earlier reading are missing from the later one (their time is not counted). */
export function threadCpu(): ThreadCpu | undefined {
  let tasks: string[];
  try {
    tasks = readdirSync('/proc/self/task');
  } catch {
    return undefined;
  }
  let mainNs = 0;
  let othersNs = 0;
  for (const task of tasks) {
    let ns: number;
    try {
      // schedstat: time on the CPU (ns), time waiting to run (ns), timeslices.
      ns = Number(readFileSync(`/proc/self/task/${task}/schedstat`, 'utf8').split(' ', 1)[0]);
    } catch {
      continue; // ended meanwhile
    }
    if (task === String(process.pid)) mainNs += ns;
    else othersNs += ns;
  }
  return { mainNs, othersNs };
}
