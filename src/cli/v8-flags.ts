import { setFlagsFromString } from 'node:v8';

/** The V8 flag `modelhost serve` turns off, unless node was started with a pretenuring flag of its own. */
export const PRETENURING_FLAG = '--no-allocation-site-pretenuring';

/**
 * Turns off V8's allocation-site pretenuring for this process, before the server allocates
 * anything per request; returns whether it did.
 *
 * Why: V8 moves an allocation site's objects straight to the old generation once enough of
 * them survive a scavenge. Under a server's load the requests in flight at each scavenge
 * decide that, so a site can be pretenured in one process and not in the next, and stays so:
 * pretenured, the short-lived per-request objects fill the old generation (major GCs where
 * there were none) and every allocation-heavy function slows. The same build of `serve` on
 * the MLP at 64 connections read 27.8k–38.7k req/s from one process to the next (mean 32.5k);
 * with the flag, 33.7k–40.0k (mean 36.7k), 11 processes each (bench/http-processes.ts;
 * docs/benchmarks.md, "Session 8").
 *
 * Respects the operator: `node --allocation-site-pretenuring dist/cli.js serve …` (or any
 * pretenuring flag on node's command line) keeps V8's own setting.
 */
export function disablePretenuring(execArgv: readonly string[] = process.execArgv): boolean {
  if (execArgv.some((arg) => arg.includes('pretenuring'))) return false;
  setFlagsFromString(PRETENURING_FLAG);
  return true;
}
