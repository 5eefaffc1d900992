/**
 * The same closed loop as raw-load.ts, driven by wrk (a C load generator: epoll, one thread
 * per `-t`), to check that what a run measures is the server and not our Node client. wrk is
 * optional and not an npm dependency (`apt-get install wrk`); without it this throws.
 *
 * wrk reports every response in one distribution: its latency percentiles include refusals,
 * so with non-2xx responses they are not "of 2xx" as raw-load's are (the caller is told how
 * many there were). Its CPU time comes from the shell that ran it (`times`), so it is exact.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { RawLoadOptions } from './raw-load.js';
import type { Summary } from './stats.js';

export interface WrkLoadResult {
  /** `200` (every 2xx/3xx), `non-2xx`, and `timeouts` / socket errors as wrk counts them. */
  readonly statuses: Record<string, number>;
  /** 2xx responses per second. */
  readonly goodput: number;
  /** wrk's percentiles of all responses, ms (count = responses; mean, min and p90 as wrk gives them). */
  readonly latency: Summary;
  /** CPU seconds (user + system) wrk used. */
  readonly clientCpuSeconds: number;
  readonly seconds: number;
}

/** Runs `wrk -t<threads> -c<connections> -d<seconds>s --latency` with the request of `options`. @throws Error when wrk is not installed or fails. */
export async function wrkLoad(options: RawLoadOptions & { readonly threads?: number }): Promise<WrkLoadResult> {
  const dir = mkdtempSync(path.join(tmpdir(), 'wrk-'));
  const script = path.join(dir, 'request.lua');
  const quote = luaString;
  const lines = [`wrk.method = ${quote(options.method ?? 'GET')}`];
  for (const [name, value] of Object.entries(options.headers ?? {})) lines.push(`wrk.headers[ ${quote(name)} ] = ${quote(value)}`);
  if (options.body !== undefined) lines.push(`wrk.body = ${quote(options.body.toString())}`);
  writeFileSync(script, `${lines.join('\n')}\n`);
  const args = [`-t${options.threads ?? 1}`, `-c${options.connections}`, `-d${options.seconds}s`, '--timeout', '10s', '--latency', '-s', script, options.url];
  try {
    // `times` after wrk: the CPU its child used, exact to the tick.
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn('bash', ['-c', 'wrk "$@" || exit $?; times', 'bash', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
      child.once('error', reject);
      child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(code === 127 ? 'wrk is not installed (apt-get install wrk), or run with --client raw' : `wrk exited with ${code}: ${out}`))));
    });
    // wrk reports a script error and runs anyway (a GET without the body): that run measures nothing.
    if (/\.lua: /.test(output)) throw new Error(`wrk could not run its request script: ${output}`);
    return parseWrk(output);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `text` as a Lua long string (`[==[…]==]`), which takes any bytes but its own closing
 * bracket: the level is one the text (followed by that bracket) does not contain.
 */
export function luaString(text: string): string {
  let level = '';
  while (`${text}]`.includes(`]${level}]`)) level += '=';
  return `[${level}[${text}]${level}]`;
}

/** wrk's report (with `--latency`) followed by the shell's `times`. */
export function parseWrk(output: string): WrkLoadResult {
  const number = (pattern: RegExp) => Number(pattern.exec(output)?.[1] ?? 0);
  const responses = number(/(\d+) requests in/);
  const seconds = durationMs(/requests in ([\d.]+\w+),/.exec(output)?.[1] ?? '0s') / 1000;
  const non2xx = number(/Non-2xx or 3xx responses: (\d+)/);
  const statuses: Record<string, number> = { 200: responses - non2xx };
  if (non2xx > 0) statuses['non-2xx'] = non2xx;
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  if (socketErrors !== null) {
    ['connect', 'read', 'write', 'timeouts'].forEach((kind, i) => {
      const n = Number(socketErrors[i + 1]);
      if (n > 0) statuses[kind] = n;
    });
  }
  const percentile = (p: number) => durationMs(new RegExp(`^\\s+${p}%\\s+([\\d.]+\\w+)`, 'm').exec(output)?.[1] ?? 'NaNms');
  const stats = /Latency\s+([\d.]+\w+)\s+[\d.]+\w+\s+([\d.]+\w+)/.exec(output);
  // The shell's `times`: its own line, then its children's ("0m0.302s 0m2.357s").
  const times = [...output.matchAll(/^(\d+)m([\d.]+)s (\d+)m([\d.]+)s$/gm)].at(-1);
  const clientCpuSeconds = times === undefined ? Number.NaN : Number(times[1]) * 60 + Number(times[2]) + Number(times[3]) * 60 + Number(times[4]);
  return {
    statuses,
    goodput: (responses - non2xx) / seconds,
    latency: { count: responses, mean: durationMs(stats?.[1] ?? 'NaNms'), min: Number.NaN, p50: percentile(50), p90: percentile(90), p99: percentile(99), max: durationMs(stats?.[2] ?? 'NaNms') },
    clientCpuSeconds,
    seconds,
  };
}

/** "350.00us", "21.88ms", "1.92s", "2.00m" → ms. */
function durationMs(text: string): number {
  const match = /^([\d.]+|NaN)(us|ms|s|m)$/.exec(text);
  if (match === null) return Number.NaN;
  const scale = { us: 1e-3, ms: 1, s: 1e3, m: 6e4 }[match[2] as 'us' | 'ms' | 's' | 'm'];
  return Number(match[1]) * scale;
}
