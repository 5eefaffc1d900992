/**
 * Servers in child processes, each run by plain `node` as users run them, their URL read
 * from a `{"msg":"listening","url":…}` line of their JSON-lines log: `modelhost serve` from
 * the built CLI (`dist/cli.js`, after `npm run build`; from source through tsx it is 7–10%
 * slower), the bare node:http + host.predict handler, and the node:http floor.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertFreshBuild } from '../lib/fresh-build.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
const FLOOR = fileURLToPath(new URL('./floor-server.mjs', import.meta.url));
const BARE = fileURLToPath(new URL('./bare-server.mjs', import.meta.url));

export interface ServeProcess {
  readonly url: string;
  readonly pid: number;
  /** The command, for the report. */
  readonly command: string;
  /** SIGTERM, then its exit code (0 when it drained and stopped cleanly). */
  stop(): Promise<number | null>;
}

/** `node dist/cli.js serve <root> --port 0 --models …`. @throws Error when dist/ is missing or older than src/. */
export function startServe(root: string, models: readonly string[], extraArgs: readonly string[] = []): Promise<ServeProcess> {
  assertBuilt();
  const args = ['serve', root, '--port', '0', '--log-format', 'json', '--models', models.join(','), ...extraArgs];
  return startProcess([CLI, ...args], `node dist/cli.js serve <repository> --port 0 --models ${models.join(',')}${extraArgs.length > 0 ? ` ${extraArgs.join(' ')}` : ''}`);
}

/** A node:http server that reads each request's body and answers `responseBody`: what HTTP alone costs here. */
export function startFloor(responseBody: string): Promise<ServeProcess> {
  return startProcess([FLOOR, responseBody], 'node:http, body read, fixed response');
}

/** A bare node:http handler: JSON.parse, `await host.predict`, JSON.stringify (bench/http/bare-server.mjs), on the built host. */
export function startBare(root: string, model: string): Promise<ServeProcess> {
  assertBuilt();
  return startProcess([BARE, root, model], 'node:http, JSON.parse, await host.predict, JSON.stringify');
}

/** The built CLI must exist and be newer than every source file, or the bench would measure stale code. */
function assertBuilt(): void {
  assertFreshBuild(CLI, 'the HTTP benches run the built CLI, as users do');
}

function startProcess(args: readonly string[], command: string): Promise<ServeProcess> {
  return startCommand(process.execPath, [...(process.env['BENCH_SERVER_NODE_OPTIONS']?.split(' ').filter(Boolean) ?? []), ...args], command);
}

/** Any server program that logs `{"msg":"listening","url":…}` on stdout (e.g. a Python peer), resolved once it listens. */
export async function startCommand(executable: string, args: readonly string[], command: string): Promise<ServeProcess> {
  const child = spawn(executable, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
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
