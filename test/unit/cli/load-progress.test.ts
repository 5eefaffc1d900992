/**
 * The load progress of `modelhost serve`: a live block on a terminal, log lines otherwise,
 * in text or JSON, each naming the model, version, phase and elapsed time.
 */
import { describe, expect, it } from 'vitest';
import { LoadProgress } from '../../../src/cli/load-progress.js';
import { createLogger } from '../../../src/cli/log-format.js';
import { ModelHost } from '../../../src/index.js';
import { deferred, fakeRuntime } from '../../helpers/fake-runtime.js';
import { writeVersion } from '../../helpers/repository.js';
import { useTempDirs } from '../../helpers/temp-dir.js';

const tempDir = useTempDirs('each');

/** A stream that keeps what was written. */
function stream(columns?: number) {
  const chunks: string[] = [];
  return { chunks, columns, write: (text: string) => chunks.push(text), text: () => chunks.join('') };
}

/** What a terminal would show: cursor-up and clear-below applied to the lines written. */
function screen(text: string): string[] {
  const lines: string[] = [''];
  for (const token of text.split(/(\x1b\[\d+A|\r|\x1b\[J|\n)/)) {
    const up = /^\x1b\[(\d+)A$/.exec(token);
    if (up) lines.splice(lines.length - 1 - Number(up[1]), Number(up[1]) + 1, '');
    else if (token === '\n') lines.push('');
    else if (token === '\r' || token === '\x1b[J') continue;
    else lines[lines.length - 1] += token;
  }
  return lines.filter((l) => l !== '');
}

async function repository(): Promise<string> {
  const root = await tempDir();
  await writeVersion(root, 'alpha', 1, { 'model.fake': 'fake' });
  await writeVersion(root, 'beta', 2, { 'model.fake': 'fake' });
  return root;
}

describe('load progress', () => {
  it('prints one JSON line per phase when not on a terminal', async () => {
    const out = stream();
    const progress = new LoadProgress(out, { live: false });
    const logger = createLogger('json', (line) => progress.log(line));
    const host = new ModelHost({ repository: await repository(), runtimes: { fake: fakeRuntime() }, logger });
    progress.attach(host, logger);
    await host.load('alpha');
    progress.stop();
    const lines = out.text().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const loading = lines.filter((l) => l['msg'] === 'loading');
    expect(loading.map((l) => l['phase'])).toEqual(['verifying', 'reading', 'compiling', 'warming']);
    for (const l of loading) expect(l).toMatchObject({ level: 'info', model: 'alpha', version: 1, elapsedMs: expect.any(Number) });
    // The host's own line at the end carries the phase durations.
    expect(lines.at(-1)).toMatchObject({ msg: 'model loaded', model: 'alpha', version: 1, phases: { verifying: expect.any(Number), compiling: expect.any(Number), warming: expect.any(Number) } });
    await host.close();
  });

  it('prints plain text lines with --log-format text', async () => {
    const out = stream();
    const progress = new LoadProgress(out, { live: false });
    const logger = createLogger('text', (line) => progress.log(line));
    const host = new ModelHost({ repository: await repository(), runtimes: { fake: fakeRuntime() }, logger });
    progress.attach(host, logger);
    await host.load('beta');
    progress.stop();
    const lines = out.text().trim().split('\n');
    expect(lines.filter((l) => / loading /.test(l)).map((l) => l.replace(/^\S+ /, '').replace(/elapsedMs=\d+/, 'elapsedMs=N'))).toEqual([
      'info  loading model=beta version=2 phase=verifying elapsedMs=N',
      'info  loading model=beta version=2 phase=reading elapsedMs=N',
      'info  loading model=beta version=2 phase=compiling elapsedMs=N',
      'info  loading model=beta version=2 phase=warming elapsedMs=N',
    ]);
    expect(lines.at(-1)).toMatch(/^\S+Z info  model loaded model=beta version=2 runtime=fake .*phases=\{"verifying":\d+,"reading":\d+,"compiling":\d+,"warming":\d+\}$/);
    await host.close();
  });

  it('on a terminal, shows each version in place: its phase while loading, then its time and phases', async () => {
    const out = stream(120);
    const progress = new LoadProgress(out, { live: true });
    const logger = createLogger('text', (line) => progress.log(line));
    const gate = deferred();
    const runtime = fakeRuntime({ loadGate: () => gate.promise });
    const host = new ModelHost({ repository: await repository(), runtimes: { fake: runtime }, logger });
    progress.attach(host, logger);
    const alpha = host.load('alpha');
    await new Promise<void>((resolve) => host.on('loadPhaseStarted', (e) => e.phase === 'compiling' && resolve()));
    expect(screen(out.text())).toEqual([expect.stringMatching(/^ {2}alpha v1 {2}\S compiling [\d.]+ m?s$/)]);
    gate.resolve();
    await alpha;
    await host.load('beta');
    progress.stop();
    const shown = screen(out.text());
    // The host's log lines stay above the block; the block ends with one line per version.
    expect(shown.slice(-2)).toEqual([
      expect.stringMatching(/^ {2}alpha v1 {2}✓ loaded in [\d.]+ m?s \(verifying checksums [\d.]+ m?s, reading [\d.]+ m?s, compiling [\d.]+ m?s, warming up [\d.]+ m?s\)$/),
      expect.stringMatching(/^ {2}beta v2 {3}✓ loaded in [\d.]+ m?s \(verifying checksums [\d.]+ m?s, reading [\d.]+ m?s, compiling [\d.]+ m?s, warming up [\d.]+ m?s\)$/),
    ]);
    expect(shown.slice(0, -2).every((l) => / info {2}model loaded /.test(l))).toBe(true);
    expect(shown).toHaveLength(4);
    // After stop, logs go below the block.
    logger.info('listening', { url: 'http://127.0.0.1:8080' });
    expect(screen(out.text()).at(-1)).toMatch(/ info {2}listening url=http:\/\/127\.0\.0\.1:8080$/);
    await host.close();
  });

  it('shows a failed load as failed, with its code', async () => {
    const out = stream(120);
    const progress = new LoadProgress(out, { live: true });
    const logger = createLogger('text', () => undefined);
    const host = new ModelHost({ runtimes: { fake: fakeRuntime({ failLoad: () => new Error('bad file') }) }, logger });
    progress.attach(host, logger);
    await expect(host.load('m', { source: { files: { 'model.fake': 'fake' } } })).rejects.toThrow();
    progress.stop();
    expect(screen(out.text())).toEqual([expect.stringMatching(/^ {2}m v\d+ {2}✗ failed \(LOAD_FAILED\)$/)]);
    await host.close();
  });

  it('keeps each row to one terminal line', async () => {
    const out = stream(30);
    const progress = new LoadProgress(out, { live: true });
    const logger = createLogger('text', () => undefined);
    const host = new ModelHost({ repository: await repository(), runtimes: { fake: fakeRuntime() }, logger });
    progress.attach(host, logger);
    await host.load('alpha');
    progress.stop();
    const shown = screen(out.text());
    expect(shown.every((l) => l.length < 30)).toBe(true);
    expect(shown.at(-1)).toMatch(/…$/);
    await host.close();
  });
});
