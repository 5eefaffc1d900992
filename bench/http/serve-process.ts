/**
 * Servers in child processes, started through tsx (`node --import tsx`, one process, so
 * SIGTERM reaches the server), their URL read from a `{"msg":"listening","url":…}` line of
 * their JSON-lines log: `modelhost serve` as a user runs it, and the node:http floor.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = fileURLToPath(new URL('../../src/cli/modelhost.ts', import.meta.url));
const FLOOR = fileURLToPath(new URL('./floor-server.ts', import.meta.url));

export interface ServeProcess {
  readonly url: string;
  readonly pid: number;
  /** The command, for the report. */
  readonly command: string;
  /** SIGTERM, then its exit code (0 when it drained and stopped cleanly). */
  stop(): Promise<number | null>;
}

/** `modelhost serve <root> --port 0 --models …`. */
export function startServe(root: string, models: readonly string[], extraArgs: readonly string[] = []): Promise<ServeProcess> {
  const args = ['serve', root, '--port', '0', '--log-format', 'json', '--models', models.join(','), ...extraArgs];
  return startProcess([CLI, ...args], `modelhost serve <repository> --port 0 --models ${models.join(',')}${extraArgs.length > 0 ? ` ${extraArgs.join(' ')}` : ''}`);
}

/** A node:http server that reads each request's body and answers `responseBody`: what HTTP alone costs here. */
export function startFloor(responseBody: string): Promise<ServeProcess> {
  return startProcess([FLOOR, responseBody], 'node:http, body read, fixed response');
}

async function startProcess(args: readonly string[], command: string): Promise<ServeProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const url = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        let entry: { level?: string; msg?: string; url?: string; model?: string; error?: string };
        try {
          entry = JSON.parse(line) as typeof entry;
        } catch {
          continue;
        }
        if (entry.level === 'error') reject(new Error(`${command}: ${entry.msg} ${entry.model ?? ''}: ${entry.error ?? ''}`));
        if (entry.msg === 'listening' && entry.url !== undefined) resolve(entry.url);
      }
    });
    void exited.then((code) => reject(new Error(`${command} exited with code ${code} before listening:\n${stderr}`)));
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  return {
    url,
    pid: child.pid!,
    command,
    async stop() {
      process.off('exit', killOnExit);
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      return exited;
    },
  };
}
