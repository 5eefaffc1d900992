import { describe, expect, it } from 'vitest';
import { ErrorCode, ModelHost, type ModelHostError, type ModelHostOptions, type VersionRolledBackEvent } from '../../../src/index.js';
import { FakeClock, flush } from '../../helpers/fake-clock.js';
import { writeVersion } from '../../helpers/repository.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { versionedRuntime, type VersionedRuntimeOptions } from '../../helpers/versioned-runtime.js';

const tempDir = useTempDirs();

async function setup(versions: number[], options: VersionedRuntimeOptions = {}, host: Partial<ModelHostOptions> = {}) {
  const root = await tempDir();
  for (const v of versions) await writeVersion(root, 'm', v, { 'model.fake': `v${v}` });
  const runtime = versionedRuntime(options);
  const h = new ModelHost({ repository: root, runtimes: { versioned: runtime }, ...host });
  return { host: h, runtime, root };
}

/** Which version answered: y = x × version, with x = 1. */
async function who(host: ModelHost, options?: { version?: number; routingKey?: string }): Promise<number> {
  const out = await host.predict('m', [1, 1], options);
  return (out['y']!.data as Float32Array)[0]!;
}

describe('deploy, promote, rollback', () => {
  it('swaps the default without dropping a request; the old version stays warm; rollback is instant', async () => {
    const { host, runtime } = await setup([1, 2]);
    const events: string[] = [];
    for (const e of ['versionSwapped', 'trafficChanged', 'versionRolledBack', 'modelUnloaded'] as const) host.on(e, () => events.push(e));
    await host.load('m', { version: 1 });
    expect(await who(host)).toBe(1);
    const inFlight = Array.from({ length: 20 }, () => who(host));
    const deployed = await host.deploy('m', 2);
    expect(deployed).toEqual({ model: 'm', version: 2, candidate: undefined, traffic: { 2: 1 } });
    expect(await Promise.all(inFlight)).toEqual(Array(20).fill(1));
    expect(await who(host)).toBe(2);
    expect(host.status('m').versions.map((v) => [v.version, v.state])).toEqual([[2, 'ready'], [1, 'ready']]);
    const loads = runtime.loads.length;
    const rolled = await host.rollback('m');
    expect(rolled).toEqual({ model: 'm', version: 1, from: 2 });
    expect(runtime.loads.length).toBe(loads); // no load: v1 was warm
    expect(await who(host)).toBe(1);
    expect(events.filter((e) => e === 'versionSwapped')).toHaveLength(3); // load, deploy, rollback
    expect(events[events.length - 1]).toBe('versionRolledBack');
    await host.close();
  });

  it('a canary takes its share of unpinned traffic; pinned requests bypass weights; routing keys stick; promote makes it the default', async () => {
    const { host } = await setup([1, 2]);
    await host.load('m', { version: 1 });
    const result = await host.deploy('m', 2, { canary: 0.25 });
    expect(result).toEqual({ model: 'm', version: 1, candidate: 2, traffic: { 1: 0.75, 2: 0.25 } });
    const answers = await Promise.all(Array.from({ length: 400 }, () => who(host)));
    expect(answers.filter((v) => v === 2)).toHaveLength(100);
    expect(await who(host, { version: 1 })).toBe(1);
    expect(await who(host, { version: 2 })).toBe(2);
    for (let user = 0; user < 50; user++) {
      const first = await who(host, { routingKey: `user-${user}` });
      for (let i = 0; i < 3; i++) expect(await who(host, { routingKey: `user-${user}` })).toBe(first);
    }
    expect(host.status('m')).toMatchObject({ defaultVersion: 1, candidate: 2, traffic: { 1: 0.75, 2: 0.25 } });
    await host.promote('m');
    expect(host.status('m')).toMatchObject({ defaultVersion: 2, candidate: undefined, traffic: { 2: 1 } });
    expect(await who(host)).toBe(2);
    await host.close();
  });

  it('rollback during a canary sends all traffic back to the default', async () => {
    const { host } = await setup([1, 2]);
    await host.load('m', { version: 1 });
    await host.deploy('m', 2, { canary: 0.5 });
    expect(await host.rollback('m')).toEqual({ model: 'm', version: 1, from: 2 });
    expect(host.status('m')).toMatchObject({ defaultVersion: 1, candidate: undefined, traffic: { 1: 1 } });
    expect(await Promise.all(Array.from({ length: 10 }, () => who(host)))).toEqual(Array(10).fill(1));
    await host.close();
  });

  it('setTraffic sets arbitrary weights over ready versions, and refuses bad ones', async () => {
    const { host } = await setup([1, 2, 3]);
    await host.load('m', { version: 1 });
    await host.deploy('m', 2);
    await host.deploy('m', 3);
    expect((await host.setTraffic('m', { 1: 1, 3: 3 })).traffic).toEqual({ 1: 0.25, 3: 0.75 });
    const answers = await Promise.all(Array.from({ length: 40 }, () => who(host)));
    expect(answers.filter((v) => v === 3)).toHaveLength(30);
    await expect(host.setTraffic('m', { 9: 1 })).rejects.toMatchObject({ code: ErrorCode.VERSION_NOT_FOUND });
    await expect(host.setTraffic('m', { 1: -1 })).rejects.toMatchObject({ code: ErrorCode.INVALID_INPUT });
    await expect(host.setTraffic('m', { 1: 0 })).rejects.toMatchObject({ code: ErrorCode.INVALID_INPUT, message: expect.stringMatching(/at least one positive weight/) });
    await host.close();
  });

  it('setTraffic reads weight keys as canonical versions only (DESIGN §10: one strict version parser)', async () => {
    const { host } = await setup([1, 2]);
    await host.load('m', { version: 1 });
    await host.deploy('m', 2);
    // Each of these spellings used to reach v1 through Number(key); `01` and `1` together split v1's weight.
    for (const key of ['01', '1.0', '0x1', '1e0', ' 1', '+1']) {
      await expect(host.setTraffic('m', { [key]: 1, 2: 1 })).rejects.toMatchObject({
        code: ErrorCode.INVALID_INPUT,
        message: `model 'm': \`weights\` must be keyed by versions in canonical decimal form (1, 2, …), got ${JSON.stringify(key)}`,
      });
    }
    expect(host.status('m').traffic).toEqual({ 2: 1 });
    expect((await host.setTraffic('m', { '1': 1, 2: 3 })).traffic).toEqual({ 1: 0.25, 2: 0.75 });
    await host.close();
  });

  it('a failed deploy leaves serving untouched', async () => {
    const { host } = await setup([1, 2], { failLoad: new Set([2]) });
    await host.load('m', { version: 1 });
    await expect(host.deploy('m', 2, { canary: 0.5 })).rejects.toMatchObject({ code: ErrorCode.LOAD_FAILED, message: expect.stringMatching(/v2 is corrupt/) });
    expect(host.status('m')).toMatchObject({ defaultVersion: 1, candidate: undefined, traffic: { 1: 1 } });
    expect(await who(host)).toBe(1);
    await host.close();
  });

  it('refuses a deploy whose golden set does not match, and accepts one that does', async () => {
    const { host } = await setup([1, 2, 3]);
    await host.load('m', { version: 1 });
    const golden = { inputs: [[1, 2]], expected: [{ y: [2, 4] }] };
    await expect(host.deploy('m', 3, { validate: golden })).rejects.toMatchObject({
      code: ErrorCode.LOAD_FAILED,
      message: expect.stringMatching(/v3 failed validation on example 0: output 'y' element 0 is 3, expected 2 .*refused/),
    });
    expect(host.status('m').defaultVersion).toBe(1);
    expect(host.status('m').versions.map((v) => v.version)).toEqual([1]); // v3 was unloaded again
    await expect(host.deploy('m', 2, { validate: golden })).resolves.toMatchObject({ version: 2 });
    await host.close();
  });

  it('keeps retainVersions old versions warm (LRU) and unloads the evicted; rolling back past them loads from the repository', async () => {
    const { host, runtime } = await setup([1, 2, 3], {}, { models: { m: { retainVersions: 1 } } });
    const unloaded: { version: number; reason: string }[] = [];
    host.on('modelUnloaded', (e) => unloaded.push({ version: e.version, reason: e.reason }));
    await host.load('m', { version: 1 });
    await host.deploy('m', 2);
    await host.deploy('m', 3); // retained: v2; v1 evicted
    await flush();
    expect(unloaded).toEqual([{ version: 1, reason: 'evicted' }]);
    expect(host.status('m').versions.map((v) => v.version)).toEqual([3, 2]);
    const loads = runtime.loads.length;
    await host.rollback('m'); // → v2, warm
    expect(runtime.loads.length).toBe(loads);
    expect(await who(host)).toBe(2);
    await host.rollback('m'); // → v1, not retained: loaded again
    expect(runtime.loads.slice(loads)).toEqual([1]);
    expect(await who(host)).toBe(1);
    await expect(host.rollback('m')).rejects.toMatchObject({ code: ErrorCode.VERSION_NOT_FOUND, message: expect.stringMatching(/no previous version/) });
    await host.close();
  });
});

describe('shadow', () => {
  it('mirrors a share of requests to the candidate; callers only get the default; agreement is reported', async () => {
    const { host } = await setup([1, 2, 3], { factor: new Map([[1, 1], [2, 1], [3, 5]]) });
    const compared: boolean[] = [];
    host.on('shadowCompared', (e) => compared.push(e.agrees));
    await host.load('m', { version: 1 });
    await host.deploy('m', 2, { shadow: 0.5 });
    const answers = await Promise.all(Array.from({ length: 40 }, () => who(host)));
    expect(answers).toEqual(Array(40).fill(1));
    await flush();
    expect(compared).toHaveLength(20);
    expect(compared.every(Boolean)).toBe(true);
    const stats = host.stats('m');
    expect(stats.shadow).toMatchObject({ version: 2, fraction: 0.5, compared: 20, agreement: 1, maxAbsDiff: 0 });
    await host.deploy('m', 3, { shadow: 1 });
    await Promise.all(Array.from({ length: 10 }, () => who(host)));
    await flush();
    expect(host.stats('m').shadow).toMatchObject({ version: 3, compared: 10, agreement: 0, maxAbsDiff: 4 });
    await host.close();
  });
});

describe('rollout guard', () => {
  const rollout = { windowMs: 10_000, minSamples: 20 };

  it('rolls back a candidate that fails 20% within one window, naming metric, threshold and value', async () => {
    const clock = new FakeClock();
    const { host } = await setup([1, 2], { failShare: new Map([[2, 0.2]]) }, { clock, defaults: { batching: false, rollout } });
    const rolledBack: VersionRolledBackEvent[] = [];
    host.on('versionRolledBack', (e) => rolledBack.push(e));
    await host.load('m', { version: 1 });
    await host.deploy('m', 2, { canary: 0.5 });
    let failures = 0;
    for (let step = 0; step < 20 && rolledBack.length === 0; step++) {
      clock.advance(1000); // within one 10 s window
      const results = await Promise.all(Array.from({ length: 10 }, () => who(host).catch((e: ModelHostError) => e.code)));
      failures += results.filter((r) => r === ErrorCode.INFERENCE_FAILED).length;
    }
    expect(failures).toBeGreaterThan(0);
    expect(rolledBack).toHaveLength(1);
    expect(rolledBack[0]).toMatchObject({ model: 'm', version: 1, from: 2, automatic: true, reason: expect.stringMatching(/^error rate: [12]\d\.\d% against 0\.0% \(v2 vs v1, \d+ requests over the last 10 s\); allowed increase 5\.0%, got [12]\d\.\d%$/) });
    expect(host.status('m')).toMatchObject({ defaultVersion: 1, candidate: undefined, traffic: { 1: 1 } });
    await host.close();
  });

  it('leaves a healthy candidate alone over 10 windows', async () => {
    const clock = new FakeClock();
    const { host } = await setup([1, 2], {}, { clock, defaults: { batching: false, rollout: { ...rollout, observeMs: 1_000_000 } } });
    const rolledBack: VersionRolledBackEvent[] = [];
    host.on('versionRolledBack', (e) => rolledBack.push(e));
    await host.load('m', { version: 1 });
    await host.deploy('m', 2, { canary: 0.5 });
    for (let step = 0; step < 100; step++) {
      clock.advance(1000); // 100 s: 10 windows
      await Promise.all(Array.from({ length: 10 }, () => who(host)));
    }
    expect(rolledBack).toEqual([]);
    expect(host.stats('m').guard).toMatchObject({ candidate: 2, baseline: 1, active: true, candidateErrorRate: 0 });
    await host.close();
  });

  it('rolls back a full swap that fails, against the old version with no traffic left', async () => {
    const clock = new FakeClock();
    const { host } = await setup([1, 2], { failShare: new Map([[2, 0.5]]) }, { clock, defaults: { batching: false, rollout } });
    await host.load('m', { version: 1 });
    await host.deploy('m', 2);
    for (let step = 0; step < 10 && host.status('m').defaultVersion === 2; step++) {
      clock.advance(1000);
      await Promise.all(Array.from({ length: 10 }, () => who(host).catch(() => undefined)));
      await flush();
    }
    expect(host.status('m').defaultVersion).toBe(1);
    await host.close();
  });

  it('rolls back a shadow candidate that disagrees', async () => {
    const clock = new FakeClock();
    const { host } = await setup([1, 2], { factor: new Map([[1, 1], [2, 3]]) }, { clock, defaults: { rollout } });
    const rolledBack: VersionRolledBackEvent[] = [];
    host.on('versionRolledBack', (e) => rolledBack.push(e));
    await host.load('m', { version: 1 });
    await host.deploy('m', 2, { shadow: 1 });
    for (let step = 0; step < 10 && rolledBack.length === 0; step++) {
      clock.advance(1000);
      await Promise.all(Array.from({ length: 10 }, () => who(host)));
      await flush();
    }
    expect(rolledBack[0]).toMatchObject({ automatic: true, from: 2, reason: expect.stringMatching(/^shadow disagreement: 100\.0% of \d+ mirrored requests/) });
    await host.close();
  });
});

describe('memory budget', () => {
  it('evicts retained versions to make room, and refuses a load that cannot fit, with a clear message', async () => {
    const { host, root } = await setup([1, 2, 3], {}, { memoryBudgetBytes: 64 });
    void root;
    // Each version folder holds a 'model.fake' of 2 bytes + SHA256SUMS ≈ 80 bytes, × factor 4.
    await expect(host.load('m', { version: 1 })).rejects.toMatchObject({
      code: ErrorCode.LOAD_FAILED,
      message: expect.stringMatching(/would exceed memoryBudgetBytes: it needs about .* of files × 4\.0 for versioned\), .* of .* are in use/),
    });
    await host.close();
  });

  it('makes room by unloading the least recently used retained version', async () => {
    // Each version: 'model.fake' + SHA256SUMS ≈ 82 bytes × 4 (the factor of a runtime without one) ≈ 328 bytes.
    const { host } = await setup([1, 2, 3], {}, { memoryBudgetBytes: 700, models: { m: { retainVersions: 2 } } });
    const evicted: number[] = [];
    host.on('modelUnloaded', (e) => evicted.push(e.version));
    await host.load('m', { version: 1 });
    await host.deploy('m', 2);
    await host.deploy('m', 3); // three would not fit in 700: the least recently used retained one, v1, goes
    expect(evicted).toEqual([1]);
    expect(await who(host)).toBe(3);
    await host.close();
  });
});

describe('unloading the default version', () => {
  it('hands the default to the newest remaining ready version at once, not after the old one drains', async () => {
    const root = await tempDir();
    for (const v of [1, 2]) await writeVersion(root, 'm', v, { 'model.fake': `v${v}` });
    // v2 holds its runs until released, so its drain takes as long as the test wants.
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const runtime = versionedRuntime({ hold: { versions: new Set([2]), until: held } });
    const host = new ModelHost({ repository: { root, versionPolicy: 'all' }, runtimes: { versioned: runtime } });
    await host.load('m');
    expect(host.status('m').defaultVersion).toBe(2);
    const inFlight = who(host); // v2, held
    const unloading = host.unload('m', 2);
    await flush();
    // v2 drains its request; v1 serves meanwhile, and the model never stops being ready.
    expect(host.status('m')).toMatchObject({ defaultVersion: 1, ready: true });
    expect(host.readiness()).toMatchObject({ ready: true });
    expect(await who(host)).toBe(1);
    release();
    expect(await inFlight).toBe(2);
    await unloading;
    expect(host.status('m').versions.map((v) => v.version)).toEqual([1]);
    await host.close();
    expect(runtime.open).toBe(0);
  });

  it('a whole-model unload says so to the requests that arrive while its versions drain (it said "no ready version (v2 ready, …)")', async () => {
    const root = await tempDir();
    for (const v of [1, 2]) await writeVersion(root, 'm', v, { 'model.fake': `v${v}` });
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const runtime = versionedRuntime({ hold: { until: held } });
    const host = new ModelHost({ repository: { root, versionPolicy: 'all' }, runtimes: { versioned: runtime } });
    await host.load('m');
    const inFlight = who(host); // v2, held: the unload drains it
    const unloading = host.unload('m');
    await flush();
    await expect(who(host)).rejects.toMatchObject({ code: ErrorCode.MODEL_NOT_READY, message: "model 'm' is being unloaded" });
    release();
    expect(await inFlight).toBe(2);
    await unloading;
    await expect(who(host)).rejects.toMatchObject({ code: ErrorCode.MODEL_NOT_FOUND });
    // Loaded again, it serves: the flag went with the unload.
    await host.load('m');
    expect(await who(host)).toBe(2);
    await host.close();
    expect(runtime.open).toBe(0);
  });
});

