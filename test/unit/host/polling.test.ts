import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { ModelHost, type VersionRolledBackEvent, type WarningEvent } from '../../../src/index.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { writeConfig, writeVersion } from '../../helpers/repository.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { versionedRuntime } from '../../helpers/versioned-runtime.js';

const tempDir = useTempDirs();
const INTERVAL = 5000;

async function setup() {
  const root = await tempDir();
  await writeVersion(root, 'm', 1, { 'model.fake': 'v1' });
  const clock = new FakeClock();
  const host = new ModelHost({ repository: { root, pollIntervalMs: INTERVAL }, runtimes: { versioned: versionedRuntime() }, clock });
  const warnings: WarningEvent[] = [];
  host.on('warning', (w) => warnings.push(w));
  await host.load('m');
  /** One interval passes; resolves once the host has converged on `check`. */
  const tick = async (check: () => void) => {
    clock.advance(INTERVAL);
    await vi.waitFor(check, { interval: 5, timeout: 5000 });
  };
  return { root, clock, host, warnings, tick };
}

describe('repository polling (injectable clock)', () => {
  it('loads a new version and makes it the default within one interval', async () => {
    const { root, host, tick } = await setup();
    await writeVersion(root, 'm', 2, { 'model.fake': 'v2' });
    await tick(() => expect(host.status('m').defaultVersion).toBe(2));
    expect(host.status('m').versions.map((v) => [v.version, v.state])).toEqual([[2, 'ready'], [1, 'ready']]); // v1 kept warm
    await host.close();
  });

  it('drains and unloads a version missing from disk for removeAfterPolls (default 3) polls in a row', async () => {
    const { root, host, tick } = await setup();
    await writeVersion(root, 'm', 2, { 'model.fake': 'v2' });
    await tick(() => expect(host.status('m').defaultVersion).toBe(2));
    await rm(path.join(root, 'm', '2'), { recursive: true });
    expect(await host.poll()).toMatchObject({ unloaded: [] });
    expect(await host.poll()).toMatchObject({ unloaded: [] });
    expect(host.status('m').defaultVersion).toBe(2);
    expect(await host.poll()).toMatchObject({ unloaded: ['m@2'] });
    expect(host.status('m').versions.map((v) => v.version)).toEqual([1]);
    expect(host.status('m').defaultVersion).toBe(1);
    await host.close();
  });

  it('a removed default version hands the default to the newest remaining one before it drains', async () => {
    const root = await tempDir();
    for (const v of [1, 2]) await writeVersion(root, 'm', v, { 'model.fake': `v${v}` });
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const runtime = versionedRuntime({ hold: { versions: new Set([2]), until: held } });
    const host = new ModelHost({ repository: { root, versionPolicy: 'all', removeAfterPolls: 1 }, runtimes: { versioned: runtime } });
    await host.load('m');
    const inFlight = host.predict('m', [1, 1]); // v2, held
    await rm(path.join(root, 'm', '2'), { recursive: true });
    const polling = host.poll();
    await vi.waitFor(() => expect(host.status('m').versions.find((v) => v.version === 2)?.state).toBe('draining'));
    expect(host.status('m')).toMatchObject({ defaultVersion: 1, ready: true });
    expect((await host.predict('m', [1, 1]))['y']!.data[0]).toBe(1);
    release();
    expect((await inFlight)['y']!.data[0]).toBe(2);
    expect(await polling).toMatchObject({ unloaded: ['m@2'] });
    await host.close();
  });

  it('never serves a half-written version, warns, and serves it once complete', async () => {
    const { root, host, warnings, tick } = await setup();
    const dir = await writeVersion(root, 'm', 2, { 'model.fake': 'v2' });
    await writeFile(path.join(dir, 'model.fake'), 'v2-but-truncat'); // no longer matches SHA256SUMS
    await tick(() => expect(warnings.some((w) => /v2 is not served: .*m\/2\/model\.fake does not match its SHA-256.*tried again when its files change/.test(w.message))).toBe(true));
    expect(host.status('m').defaultVersion).toBe(1);
    await writeFile(path.join(dir, 'model.fake'), 'v2'); // the copy completes
    await tick(() => expect(host.status('m').defaultVersion).toBe(2));
    await host.close();
  });

  it('a broken version is warned once and not re-read on every poll: tried again when its files change, else after 1, 2, 4 … polls', async () => {
    const root = await tempDir();
    await writeVersion(root, 'm', 1, { 'model.fake': 'v1' });
    const runtime = versionedRuntime({ failLoad: new Set([2]) });
    const host = new ModelHost({ repository: root, runtimes: { versioned: runtime } });
    const warnings: WarningEvent[] = [];
    host.on('warning', (w) => warnings.push(w));
    await host.load('m');
    await writeVersion(root, 'm', 2, { 'model.fake': 'v2' });
    const triesOfV2 = () => runtime.loads.filter((v) => v === 2).length;
    // Tries on polls 1, 2, 4, 8, 16: waits of 0, 1, 3, 7 polls between them.
    const tried: number[] = [];
    for (let poll = 1; poll <= 16; poll++) {
      const before = triesOfV2();
      expect(await host.poll(), `poll ${poll}`).toMatchObject({ failed: ['m@2'] });
      if (triesOfV2() > before) tried.push(poll);
    }
    expect(tried).toEqual([1, 2, 4, 8, 16]);
    expect(warnings.filter((w) => /v2 is not served/.test(w.message))).toHaveLength(1);
    expect(host.status('m').defaultVersion).toBe(1);
    // Its files change: tried on the very next poll (the same failure is not warned again).
    await writeVersion(root, 'm', 2, { 'model.fake': 'v2, copied again' });
    await host.poll();
    expect(triesOfV2()).toBe(6);
    expect(warnings.filter((w) => /v2 is not served/.test(w.message))).toHaveLength(1);
    await host.close();
  });

  it('a broken config.json is warned once per distinct problem, not on every poll', async () => {
    const { root, host, warnings } = await setup();
    await writeFile(path.join(root, 'm', 'config.json'), '{ not json');
    for (let poll = 0; poll < 3; poll++) await host.poll();
    expect(warnings.filter((w) => /repository poll of 'm' failed: m\/config\.json is not valid JSON/.test(w.message))).toHaveLength(1);
    await writeFile(path.join(root, 'm', 'config.json'), JSON.stringify({ maxBatchSize: 0 }));
    for (let poll = 0; poll < 3; poll++) await host.poll();
    expect(warnings.filter((w) => /repository poll of 'm' failed/.test(w.message))).toHaveLength(2);
    await host.close();
  });

  it('holds a new version as a candidate with autoPromote: false', async () => {
    const { root, host } = await setup();
    await writeConfig(root, 'm', { autoPromote: false });
    await writeVersion(root, 'm', 2, { 'model.fake': 'v2' });
    await host.poll();
    expect(host.status('m')).toMatchObject({ defaultVersion: 1, candidate: 2, traffic: { 1: 1 } });
    await host.promote('m');
    expect(host.status('m').defaultVersion).toBe(2);
    await host.close();
  });

  it('converges on manifest.json: default, then a canary, then its removal', async () => {
    const { root, host, tick } = await setup();
    await writeVersion(root, 'm', 2, { 'model.fake': 'v2' });
    await writeVersion(root, 'm', 3, { 'model.fake': 'v3' });
    await writeFile(path.join(root, 'manifest.json'), JSON.stringify({ models: { m: { default: 2 } } }));
    await tick(() => expect(host.status('m')).toMatchObject({ defaultVersion: 2, traffic: { 2: 1 } }));
    await writeFile(path.join(root, 'manifest.json'), JSON.stringify({ models: { m: { default: 2, canary: { version: 3, weight: 0.2 } } } }));
    await tick(() => expect(host.status('m')).toMatchObject({ defaultVersion: 2, candidate: 3, traffic: { 2: 0.8, 3: 0.2 } }));
    await writeFile(path.join(root, 'manifest.json'), JSON.stringify({ models: { m: { default: 2 } } }));
    await tick(() => expect(host.status('m')).toMatchObject({ defaultVersion: 2, candidate: undefined, traffic: { 2: 1 } }));
    await host.close();
  });

  it('a model named like an Object.prototype member (constructor, toString) is not pinned by a manifest.json that does not name it', async () => {
    const root = await tempDir();
    const names = ['constructor', 'toString', 'valueOf', 'm'];
    for (const name of names) await writeVersion(root, name, 1, { 'model.fake': 'v1' });
    await writeVersion(root, 'pinned', 1, { 'model.fake': 'v1' });
    await writeFile(path.join(root, 'manifest.json'), JSON.stringify({ models: { pinned: { default: 1 } } }));
    const clock = new FakeClock();
    const host = new ModelHost({ repository: { root, pollIntervalMs: INTERVAL }, runtimes: { versioned: versionedRuntime() }, clock });
    for (const name of names) await host.load(name);
    // The version policy (latest: 1) serves a new version: the manifest pins only 'pinned'.
    for (const name of names) await writeVersion(root, name, 2, { 'model.fake': 'v2' });
    clock.advance(INTERVAL);
    await vi.waitFor(() => {
      for (const name of names) expect(host.status(name), name).toMatchObject({ defaultVersion: 2, manifestProblem: undefined });
    }, { interval: 5, timeout: 5000 });
    await host.close();
  });

  it('two replicas polling one repository converge on the same rollout', async () => {
    const { root, host: a, clock } = await setup();
    const b = new ModelHost({ repository: { root, pollIntervalMs: INTERVAL }, runtimes: { versioned: versionedRuntime() }, clock });
    await writeVersion(root, 'm', 2, { 'model.fake': 'v2' });
    await writeFile(path.join(root, 'manifest.json'), JSON.stringify({ models: { m: { default: 1, canary: { version: 2, weight: 0.3 } } } }));
    clock.advance(INTERVAL);
    await vi.waitFor(() => {
      expect(a.status('m')).toMatchObject({ defaultVersion: 1, candidate: 2, traffic: { 1: 0.7, 2: 0.3 } });
      expect(b.status('m')).toMatchObject({ defaultVersion: 1, candidate: 2, traffic: { 1: 0.7, 2: 0.3 } });
    });
    await Promise.all([a.close(), b.close()]);
  });

  it('keeps a canary the guard rolled back out of traffic on later polls, until manifest.json changes', async () => {
    const root = await tempDir();
    await writeVersion(root, 'm', 1, { 'model.fake': 'v1' });
    await writeVersion(root, 'm', 2, { 'model.fake': 'v2' });
    await writeFile(path.join(root, 'manifest.json'), JSON.stringify({ models: { m: { default: 1, canary: { version: 2, weight: 0.5 } } } }));
    const clock = new FakeClock();
    const rollout = { windowMs: 10_000, minSamples: 20 };
    const host = new ModelHost({ repository: { root, pollIntervalMs: INTERVAL }, runtimes: { versioned: versionedRuntime({ failShare: new Map([[2, 0.2]]) }) }, clock, defaults: { batching: false, rollout } });
    const rolledBack: VersionRolledBackEvent[] = [];
    host.on('versionRolledBack', (e) => rolledBack.push(e));
    await host.load('m');
    await host.poll();
    expect(host.status('m')).toMatchObject({ defaultVersion: 1, candidate: 2, traffic: { 1: 0.5, 2: 0.5 } });
    for (let step = 0; step < 20 && rolledBack.length === 0; step++) {
      clock.advance(500); // within one window, and no poll yet
      await Promise.all(Array.from({ length: 10 }, () => host.predict('m', [1, 1]).catch(() => undefined)));
    }
    expect(rolledBack).toEqual([expect.objectContaining({ model: 'm', version: 1, from: 2, automatic: true })]);
    expect(host.status('m')).toMatchObject({ defaultVersion: 1, candidate: undefined, traffic: { 1: 1 } });
    // The manifest still names the canary: the polls that follow leave it rolled back.
    for (let poll = 0; poll < 3; poll++) await host.poll();
    expect(host.status('m')).toMatchObject({ defaultVersion: 1, candidate: undefined, traffic: { 1: 1 } });
    expect(rolledBack).toHaveLength(1);
    // A new manifest entry is a new decision: it applies.
    await writeFile(path.join(root, 'manifest.json'), JSON.stringify({ models: { m: { default: 1, canary: { version: 2, weight: 0.1 } } } }));
    await host.poll();
    expect(host.status('m')).toMatchObject({ defaultVersion: 1, candidate: 2, traffic: { 1: 0.9, 2: 0.1 } });
    await host.close();
  });

  it('keeps a default the guard rolled back on later polls, until manifest.json changes', async () => {
    const root = await tempDir();
    await writeVersion(root, 'm', 1, { 'model.fake': 'v1' });
    await writeVersion(root, 'm', 2, { 'model.fake': 'v2' });
    await writeFile(path.join(root, 'manifest.json'), JSON.stringify({ models: { m: { default: 1 } } }));
    const clock = new FakeClock();
    const rollout = { windowMs: 10_000, minSamples: 20 };
    const host = new ModelHost({ repository: { root, pollIntervalMs: INTERVAL }, runtimes: { versioned: versionedRuntime({ failShare: new Map([[2, 0.5]]) }) }, clock, defaults: { batching: false, rollout } });
    const rolledBack: VersionRolledBackEvent[] = [];
    host.on('versionRolledBack', (e) => rolledBack.push(e));
    await host.load('m', { version: 1 });
    await host.poll();
    await writeFile(path.join(root, 'manifest.json'), JSON.stringify({ models: { m: { default: 2 } } }));
    await host.poll();
    expect(host.status('m')).toMatchObject({ defaultVersion: 2, traffic: { 2: 1 } });
    for (let step = 0; step < 20 && rolledBack.length === 0; step++) {
      clock.advance(500);
      await Promise.all(Array.from({ length: 10 }, () => host.predict('m', [1, 1]).catch(() => undefined)));
    }
    expect(rolledBack).toEqual([expect.objectContaining({ model: 'm', version: 1, from: 2, automatic: true })]);
    for (let poll = 0; poll < 3; poll++) await host.poll();
    expect(host.status('m')).toMatchObject({ defaultVersion: 1, traffic: { 1: 1 } });
    await writeFile(path.join(root, 'manifest.json'), JSON.stringify({ models: { m: { default: 1 } } }));
    await host.poll();
    expect(host.status('m')).toMatchObject({ defaultVersion: 1, traffic: { 1: 1 } });
    await host.close();
  });
});

describe('latest: 1 with a broken newest version', () => {
  it('serves the newest version that loads, warns, and takes the fixed one on a later poll', async () => {
    const root = await tempDir();
    await writeVersion(root, 'm', 1, { 'model.fake': 'v1' });
    const dir = await writeVersion(root, 'm', 2, { 'model.fake': 'v2' });
    await writeFile(path.join(dir, 'model.fake'), 'v2, half writ'); // no longer matches SHA256SUMS
    const clock = new FakeClock();
    const host = new ModelHost({ repository: { root, pollIntervalMs: INTERVAL }, runtimes: { versioned: versionedRuntime() }, clock });
    const warnings: WarningEvent[] = [];
    host.on('warning', (w) => warnings.push(w));

    expect(await host.load('m')).toMatchObject({ version: 1, versions: [1] });
    expect(host.status('m')).toMatchObject({ defaultVersion: 1, ready: true });
    expect(host.status('m').versions.map((v) => [v.version, v.state])).toEqual([[2, 'failed'], [1, 'ready']]);
    expect(warnings.map((w) => w.message)).toContainEqual(
      expect.stringMatching(/^model 'm': v2 failed to load \(.*SHA256SUMS.*\); serving v1, the newest version that loads; v2 is tried again on the next repository poll or load\(\)$/),
    );
    expect((await host.predict('m', [1, 1]))['y']!.data).toEqual(new Float32Array([1, 1]));

    await writeFile(path.join(dir, 'model.fake'), 'v2'); // the copy completes
    clock.advance(INTERVAL);
    await vi.waitFor(() => expect(host.status('m').defaultVersion).toBe(2), { interval: 5, timeout: 5000 });
    await host.close();
  });

  it('fails the load when no version loads, with the newest version\'s error', async () => {
    const root = await tempDir();
    for (const v of [1, 2]) {
      const dir = await writeVersion(root, 'm', v, { 'model.fake': `v${v}` });
      await writeFile(path.join(dir, 'model.fake'), 'truncated');
    }
    const host = new ModelHost({ repository: root, runtimes: { versioned: versionedRuntime() } });
    await expect(host.load('m')).rejects.toMatchObject({ code: 'INTEGRITY_FAILED', version: 2 });
    await host.close();
  });

  it('a pinned version gets no substitute', async () => {
    const root = await tempDir();
    await writeVersion(root, 'm', 1, { 'model.fake': 'v1' });
    const dir = await writeVersion(root, 'm', 2, { 'model.fake': 'v2' });
    await writeFile(path.join(dir, 'model.fake'), 'truncated');
    const host = new ModelHost({ repository: root, runtimes: { versioned: versionedRuntime() } });
    await expect(host.load('m', { version: 2 })).rejects.toMatchObject({ code: 'INTEGRITY_FAILED' });
    expect(host.status('m').ready).toBe(false);
    await host.close();
  });
});
