/**
 * `modelhost serve …` as a child process (node --import tsx src/cli/modelhost.ts, one
 * process so signals reach the server itself), resolved once it logs "listening".
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface LogLine {
  readonly level: string;
  readonly msg: string;
  readonly [field: string]: unknown;
}

/** A `modelhost …` child process as it runs: its output so far, its exit, and a way to wait for a log line. */
export interface ServeRun {
  readonly child: ChildProcessWithoutNullStreams;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Everything written to stdout so far (the usage of --help, the log lines). */
  stdout(): string;
  stderr(): string;
  /** Every JSON log line so far. */
  logs(): LogLine[];
  /** Resolves with the first log line `match` accepts (now or later); rejects if the process exits first. */
  waitForLog(match: (line: LogLine) => boolean): Promise<LogLine>;
  /** SIGKILL if still running (afterAll safety net). */
  kill(): void;
}

export interface ServeProcess extends ServeRun {
  /** Where to reach it from this machine: `http://127.0.0.1:<port>` whatever address it binds. */
  readonly url: string;
  /** The address it says it listens on (`http://<bind address>:<port>`). */
  readonly listening: string;
}

/**
 * Starts `modelhost <args>` (JSON log lines unless `env` says otherwise) and returns at once:
 * for exit codes, usage errors, signals while loading. An `env` entry set to undefined
 * removes that variable from the inherited environment.
 */
export function spawnServe(args: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): ServeRun {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/modelhost.ts', ...args], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, MODELHOST_LOG_FORMAT: 'json', ...env } });
  let stdout = '';
  let stderr = '';
  const waiters = new Set<() => void>();
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    for (const waiter of waiters) waiter();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  const logs = (): LogLine[] =>
    stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as LogLine);
  const waitForLog = (match: (line: LogLine) => boolean) =>
    new Promise<LogLine>((resolve, reject) => {
      const check = () => {
        const found = logs().find(match);
        if (found === undefined) return;
        waiters.delete(check);
        resolve(found);
      };
      waiters.add(check);
      check();
      void exited.then(({ code, signal }) => {
        if (!waiters.delete(check)) return;
        reject(new Error(`modelhost exited (${code ?? signal}) before the expected log line:\n${stdout}\n${stderr}`));
      });
    });
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  return { child, exited, stdout: () => stdout, stderr: () => stderr, logs, waitForLog, kill };
}

/** `modelhost serve …`, resolved once it logs "listening" (killed, and rejected, if it exits first). */
export async function startServe(args: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): Promise<ServeProcess> {
  const run = spawnServe(args, env);
  try {
    const listening = String((await run.waitForLog((l) => l.msg === 'listening')).url);
    const url = `http://127.0.0.1:${new URL(listening).port}`;
    return { ...run, url, listening };
  } catch (error) {
    run.kill();
    throw error;
  }
}
