import { describe, expect, it, vi } from 'vitest';
import { ModelHost, type ModelOptions } from '../../../src/index.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { writeConfig, writeVersion } from '../../helpers/repository.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { versionedRuntime } from '../../helpers/versioned-runtime.js';

const tempDir = useTempDirs();

const MONITORING: ModelOptions = {
  sampling: { rate: 1 },
  drift: { enabled: true, referenceSize: 20, windowSize: 20 },
  feedback: { task: 'classification' },
  cache: { enabled: true },
};

/** A repository with m v1 and `config`; the host loads m with `load` as its `config`. */
async function setup({ config = {}, load, models }: { config?: object; load?: ModelOptions; models?: Record<string, ModelOptions> }) {
  const root = await tempDir();
  await writeVersion(root, 'm', 1, { 'model.fake': 'v1' });
  await writeConfig(root, 'm', config);
  const host = new ModelHost({ repository: { root }, runtimes: { versioned: versionedRuntime() }, clock: new FakeClock(), models });
  await host.load('m', load === undefined ? {} : { config: load });
  return { root, host };
}

/** 30 requests with ids `r0`..`r29` (20 rows of drift reference, 10 in the live window), labels for `r0`..`r4`, and a cached answer for [100, 1]. */
async function serve(host: ModelHost): Promise<void> {
  for (let i = 0; i < 30; i++) await host.predict('m', [i, 1], { id: `r${i}` });
  for (let i = 0; i < 5; i++) expect(host.feedback('m', `r${i}`, 0)).toMatchObject({ matched: true, version: 1 });
  for (let i = 0; i < 3; i++) await host.predict('m', [100, 1]); // kept from its second sighting, answered from memory on the third
}

function monitoring(host: ModelHost) {
  return host.stats('m').monitoring!;
}

describe('a repository poll that finds config.json changed', () => {
  it('resolves the model’s options as its load did: the load’s `config` still applies (autoPromote: false holds a new version as a candidate)', async () => {
    const { root, host } = await setup({ config: { batching: { maxBatchSize: 8 } }, load: { autoPromote: false } });
    await writeConfig(root, 'm', { batching: { maxBatchSize: 16 } });
    await host.poll();
    await writeVersion(root, 'm', 2, { 'model.fake': 'v2' });
    await host.poll();
    expect(host.status('m')).toMatchObject({ defaultVersion: 1, candidate: 2 });
    await host.close();
  });

  it('in a key monitoring does not read: the monitor of options given at load keeps its remembered predictions, quality windows, drift reference and window, and cache', async () => {
    const { root, host } = await setup({ config: { batching: { maxBatchSize: 8 } }, load: MONITORING });
    await serve(host);
    const before = monitoring(host);
    expect(before.drift!.inputs).toMatchObject({ state: 'watching', referenceRows: 20 });
    expect(before.cache).toMatchObject({ hits: 1, entries: 1 });

    await writeConfig(root, 'm', { batching: { maxBatchSize: 16 } });
    await host.poll();
    await host.predict('m', [100, 1]); // a hit: the cache kept its answer
    // A late label for a prediction served before the poll still joins it.
    expect(host.feedback('m', 'r10', 0)).toMatchObject({ matched: true, version: 1 });
    const after = monitoring(host);
    expect(after.feedback!.quality[1]).toMatchObject({ labels: 6 });
    expect(after.drift!.inputs).toMatchObject({ state: 'watching', referenceRows: 20 });
    expect(after.drift!.inputs.windowRows).toBe(before.drift!.inputs.windowRows + 1);
    expect(after.cache).toMatchObject({ hits: 2, entries: 1 });
    expect(after.sampling.sampled).toBe(before.sampling.sampled + 1);
    await host.close();
  });

  it('keeps the monitor of options from models[name] and config.json alike when the change is elsewhere', async () => {
    const { root, host } = await setup({ config: { ...MONITORING, batching: { maxBatchSize: 8 } }, models: { m: { feedback: { task: 'classification', ttlMs: 60_000 } } } });
    await serve(host);
    await writeConfig(root, 'm', { ...MONITORING, batching: { maxBatchSize: 16 } });
    await host.poll();
    expect(host.feedback('m', 'r10', 0)).toMatchObject({ matched: true, version: 1 });
    expect(monitoring(host).feedback!.quality[1]).toMatchObject({ labels: 6 });
    expect(monitoring(host).drift!.inputs).toMatchObject({ state: 'watching', referenceRows: 20 });
    await host.close();
  });
});

describe('a repository poll that changes monitoring options keeps each part whose own options did not change', () => {
  it('sampling.include: everything is kept, the sample count goes on', async () => {
    const { root, host } = await setup({ config: MONITORING });
    await serve(host);
    const sampled = monitoring(host).sampling.sampled;
    await writeConfig(root, 'm', { ...MONITORING, sampling: { rate: 1, include: ['outputs'] } });
    await host.poll();
    await host.predict('m', [100, 1]);
    expect(host.feedback('m', 'r10', 0)).toMatchObject({ matched: true, version: 1 });
    expect(monitoring(host).feedback!.quality[1]).toMatchObject({ labels: 6 });
    expect(monitoring(host)).toMatchObject({ sampling: { sampled: sampled + 1 }, cache: { hits: 2, entries: 1 }, drift: { inputs: { state: 'watching', referenceRows: 20 } } });
    await host.close();
  });

  it('drift.windowSize: drift starts over (a new reference), remembered predictions and the cache stay', async () => {
    const { root, host } = await setup({ config: MONITORING });
    await serve(host);
    await writeConfig(root, 'm', { ...MONITORING, drift: { enabled: true, referenceSize: 20, windowSize: 40 } });
    await host.poll();
    await host.predict('m', [100, 1]);
    expect(monitoring(host).drift!.inputs).toMatchObject({ state: 'capturing', referenceRows: 1, windows: 0 });
    expect(host.feedback('m', 'r10', 0)).toMatchObject({ matched: true, version: 1 });
    expect(monitoring(host).feedback!.quality[1]).toMatchObject({ labels: 6 });
    expect(monitoring(host).cache).toMatchObject({ hits: 2, entries: 1 });
    await host.close();
  });

  it('feedback.ttlMs: a fresh store (earlier predictions no longer match, quality starts over), drift and the cache stay', async () => {
    const { root, host } = await setup({ config: MONITORING });
    await serve(host);
    await writeConfig(root, 'm', { ...MONITORING, feedback: { task: 'classification', ttlMs: 60_000 } });
    await host.poll();
    await host.predict('m', [100, 1], { id: 'after' });
    expect(host.feedback('m', 'r10', 0)).toMatchObject({ matched: false });
    expect(host.feedback('m', 'after', 0)).toMatchObject({ matched: true, version: 1 });
    expect(monitoring(host).feedback!.quality[1]).toMatchObject({ labels: 1 });
    expect(monitoring(host)).toMatchObject({ cache: { hits: 2, entries: 1 }, drift: { inputs: { state: 'watching', referenceRows: 20 } } });
    await host.close();
  });

  it('cache.maxBytes: an empty cache (its hit and miss counts go on), the rest stays', async () => {
    const { root, host } = await setup({ config: MONITORING });
    await serve(host);
    const { misses } = monitoring(host).cache!;
    await writeConfig(root, 'm', { ...MONITORING, cache: { enabled: true, maxBytes: 1 << 20 } });
    await host.poll();
    await host.predict('m', [100, 1]);
    expect(monitoring(host).cache).toMatchObject({ hits: 1, misses: misses + 1, entries: 0 });
    expect(host.feedback('m', 'r10', 0)).toMatchObject({ matched: true, version: 1 });
    expect(monitoring(host).feedback!.quality[1]).toMatchObject({ labels: 6 });
    expect(monitoring(host).drift!.inputs).toMatchObject({ state: 'watching', referenceRows: 20 });
    await host.close();
  });
});

describe('a version loaded after the load (by a poll, by deploy) loads with the load’s config', () => {
  it('breaker: { enabled: false } given at load holds for v2 found by a poll and v3 deployed (deploy’s own config over it)', async () => {
    const { root, host } = await setup({ config: {}, load: { breaker: { enabled: false } } });
    await writeVersion(root, 'm', 2, { 'model.fake': 'v2' });
    await host.poll();
    await writeVersion(root, 'm', 3, { 'model.fake': 'v3' });
    await writeVersion(root, 'm', 4, { 'model.fake': 'v4' });
    await host.deploy('m', 3, { canary: 0.5 });
    await host.deploy('m', 4, { shadow: 0.5, config: { breaker: { enabled: true } } });
    const breakers = Object.fromEntries(host.status('m').versions.map((v) => [v.version, v.breaker]));
    expect(breakers).toEqual({ 1: undefined, 2: undefined, 3: undefined, 4: 'closed' });
    await host.close();
  });
});

describe('a repository poll applies what it resolved', () => {
  it('retainVersions lowered in config.json: the warm versions past the new bound are unloaded, least recently used first (the bound was fixed at the first load)', async () => {
    const root = await tempDir();
    await writeVersion(root, 'm', 1, { 'model.fake': 'v1' });
    await writeConfig(root, 'm', { retainVersions: 2 });
    const host = new ModelHost({ repository: { root }, runtimes: { versioned: versionedRuntime() }, clock: new FakeClock() });
    await host.load('m');
    for (const v of [2, 3]) {
      await writeVersion(root, 'm', v, { 'model.fake': `v${v}` });
      await host.poll();
    }
    expect(host.status('m').versions.map((v) => v.version)).toEqual([3, 2, 1]); // v1 and v2 kept warm
    const unloaded: number[] = [];
    host.on('modelUnloaded', (e) => unloaded.push(e.version));
    await writeConfig(root, 'm', { retainVersions: 1 });
    await host.poll();
    await vi.waitFor(() => expect(host.status('m').versions.map((v) => v.version)).toEqual([3, 2]));
    expect(unloaded).toEqual([1]);
    await writeConfig(root, 'm', { retainVersions: 3 });
    await host.poll();
    await writeVersion(root, 'm', 4, { 'model.fake': 'v4' });
    await host.poll();
    expect(host.status('m').versions.map((v) => v.version)).toEqual([4, 3, 2]);
    await host.close();
  });
});

describe('a repository poll applies retainVersions 0', () => {
  it('retainVersions lowered to 0 in config.json unloads every warm version (a bound of 0 kept one warm)', async () => {
    const root = await tempDir();
    await writeVersion(root, 'm', 1, { 'model.fake': 'v1' });
    await writeConfig(root, 'm', { retainVersions: 2 });
    const host = new ModelHost({ repository: { root }, runtimes: { versioned: versionedRuntime() }, clock: new FakeClock() });
    await host.load('m');
    for (const v of [2, 3]) {
      await writeVersion(root, 'm', v, { 'model.fake': `v${v}` });
      await host.poll();
    }
    expect(host.status('m').versions.map((v) => v.version)).toEqual([3, 2, 1]);
    const unloaded: number[] = [];
    host.on('modelUnloaded', (e) => unloaded.push(e.version));
    await writeConfig(root, 'm', { retainVersions: 0 });
    await host.poll();
    await vi.waitFor(() => expect(host.status('m').versions.map((v) => v.version)).toEqual([3]));
    expect(unloaded.sort()).toEqual([1, 2]);
    // And a later version swap keeps none warm, as retainVersions 0 does from the start.
    await writeVersion(root, 'm', 4, { 'model.fake': 'v4' });
    await host.poll();
    await vi.waitFor(() => expect(host.status('m').versions.map((v) => v.version)).toEqual([4]));
    await host.close();
  });
});

describe('a repository poll keeps the rest of a model’s state', () => {
  it('breakers, the rollout guard, traffic and stats are the same before and after a poll that changes config.json', async () => {
    const root = await tempDir();
    for (const v of [1, 2]) await writeVersion(root, 'm', v, { 'model.fake': `v${v}` });
    await writeConfig(root, 'm', { batching: { maxBatchSize: 8 }, rollout: { minSamples: 1000 } });
    const host = new ModelHost({ repository: { root }, runtimes: { versioned: versionedRuntime() }, clock: new FakeClock() });
    await host.load('m', { version: 1 });
    await host.deploy('m', 2, { canary: 0.5 });
    for (let i = 0; i < 20; i++) await host.predict('m', [i, 1], { routingKey: `k${i}` });
    const before = { status: host.status('m'), stats: host.stats('m') };
    expect(before.stats.guard).toMatchObject({ active: true });
    await writeConfig(root, 'm', { batching: { maxBatchSize: 16 }, rollout: { minSamples: 1000 } });
    await host.poll();
    const after = { status: host.status('m'), stats: host.stats('m') };
    expect(after.status).toEqual(before.status);
    expect(after.stats.guard).toEqual(before.stats.guard);
    expect(after.stats.traffic).toEqual(before.stats.traffic);
    for (const v of [1, 2]) expect(after.stats.versions[v]!.windows['5m'].requests).toBe(before.stats.versions[v]!.windows['5m'].requests);
    await host.close();
  });
});
