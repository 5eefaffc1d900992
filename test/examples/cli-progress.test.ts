/**
 * `modelhost serve` says what each model and version is doing while it loads: a live block
 * on a terminal (run under `script`, which gives it a pseudo-terminal), "loading" log lines
 * in a pipe: plain text by default, JSON with `--log-format json` or MODELHOST_LOG_FORMAT=json.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { onnxAffine, onnxMlp } from '../fixtures/onnx-models.js';
import { writeVersion } from '../helpers/repository.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tempDir = useTempDirs('all');
const PHASES = ['verifying', 'reading', 'compiling', 'measuring'];

/** The environment of the test without MODELHOST_LOG_FORMAT (so the default is what runs), plus `env`. */
function environment(env: Record<string, string> = {}): NodeJS.ProcessEnv {
  const { MODELHOST_LOG_FORMAT: _ignored, ...inherited } = process.env;
  return { ...inherited, ...env };
}

/** Runs `command` until its output matches `until`, then stops it with SIGTERM; resolves with all it printed. */
async function runUntil(command: string, args: readonly string[], until: RegExp, env: Record<string, string> = {}): Promise<string> {
  const child = spawn(command, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: environment(env) });
  let out = '';
  const exited = once(child, 'exit');
  await new Promise<void>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      if (until.test(out)) resolve();
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    void exited.then(() => reject(new Error(`exited before ${until}:\n${out}`)));
  });
  child.kill('SIGTERM');
  await exited;
  return out;
}

describe('modelhost serve: progress while loading', () => {
  let repository: string;
  const serve = (...flags: string[]) => [process.execPath, '--import', 'tsx', 'src/cli/modelhost.ts', 'serve', repository, '--port', '0', ...flags];

  beforeAll(async () => {
    repository = await tempDir();
    await writeVersion(repository, 'affine', 1, { 'model.onnx': onnxAffine({ size: 4 }) });
    await writeVersion(repository, 'mlp', 2, { 'model.onnx': onnxMlp({ inputs: 8, hidden: [16], outputs: 3 }) });
  });

  it('in a pipe, by default, logs each phase of each version as a plain text line', async () => {
    const [node, ...args] = serve();
    const out = await runUntil(node!, args, / listening url=/);
    const loading = out.split('\n').filter((l) => / loading model=mlp /.test(l));
    expect(loading.map((l) => /phase=(\w+)/.exec(l)?.[1]).slice(0, 4)).toEqual(PHASES);
    expect(loading[0]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z info {2}loading model=mlp version=2 phase=verifying elapsedMs=\d+$/);
    expect(out).toMatch(/ info {2}model loaded model=mlp version=2 runtime=onnx .* phases=\{"verifying":\d+,"reading":\d+,"compiling":\d+,"measuring":\d+(,"warming":\d+)?\}/);
    expect(out).not.toMatch(/\{"time"/);
  });

  it('with --log-format json, logs each phase of each version as a JSON line, then the load with its phase durations', async () => {
    const [node, ...args] = serve('--log-format', 'json');
    const out = await runUntil(node!, args, /"msg":"listening"/);
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const [model, version] of [['affine', 1], ['mlp', 2]] as const) {
      const loading = lines.filter((l) => l['msg'] === 'loading' && l['model'] === model);
      expect(loading.map((l) => l['phase']).slice(0, 4)).toEqual(PHASES);
      for (const l of loading) expect(l).toMatchObject({ level: 'info', version, elapsedMs: expect.any(Number) });
      const loaded = lines.find((l) => l['msg'] === 'model loaded' && l['model'] === model);
      expect(loaded).toMatchObject({ version, phases: { verifying: expect.any(Number), reading: expect.any(Number), compiling: expect.any(Number), measuring: expect.any(Number) } });
      expect(lines.indexOf(loaded!)).toBeGreaterThan(lines.indexOf(loading.at(-1)!));
    }
  });

  it('reads the format from MODELHOST_LOG_FORMAT, and the flag wins over it', async () => {
    const [node, ...args] = serve();
    const json = await runUntil(node!, args, /"msg":"listening"/, { MODELHOST_LOG_FORMAT: 'json' });
    for (const line of json.trim().split('\n')) expect(JSON.parse(line)).toMatchObject({ time: expect.any(String), level: expect.any(String), msg: expect.any(String) });
    const [node2, ...flagged] = serve('--log-format', 'text');
    const text = await runUntil(node2!, flagged, / listening url=/, { MODELHOST_LOG_FORMAT: 'json' });
    expect(text).toMatch(/ info {2}loading model=mlp version=2 phase=verifying elapsedMs=\d+\n/);
    expect(text).not.toMatch(/\{"time"/);
  });

  it('refuses an unknown --log-format before loading anything', async () => {
    const [node, ...args] = serve('--log-format', 'xml');
    const child = spawn(node!, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: environment() });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    const [code] = await once(child, 'exit');
    expect(code).toBe(2);
    expect(err).toMatch(/--log-format must be json or text, got xml/);
  });

  it('on a terminal, redraws one line per version in place, ending with its load time and phases', async () => {
    const command = serve().map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
    const out = await runUntil('script', ['-qfec', command, '/dev/null'], / listening url=/);
    // Cursor up and clear: the block is redrawn, not scrolled.
    expect(out).toMatch(/\x1b\[\d+A\r\x1b\[J/);
    expect(out).toMatch(/ {2}mlp v2 {5}\S (verifying checksums|reading|compiling|measuring) [\d.]+ m?s/);
    expect(out).toMatch(/ {2}affine v1 {2}✓ loaded in [\d.]+ m?s \(verifying checksums [\d.]+ m?s, reading [\d.]+ m?s, compiling [\d.]+ m?s, measuring [\d.]+ m?s(, warming up [\d.]+ m?s)?\)/);
    expect(out).toMatch(/ {2}mlp v2 {5}✓ loaded in [\d.]+ m?s \(verifying checksums [\d.]+ m?s, reading [\d.]+ m?s, compiling [\d.]+ m?s, measuring [\d.]+ m?s(, warming up [\d.]+ m?s)?\)/);
    expect(out).not.toMatch(/\{"time"/);
  });
});
