import { rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode, ModelHost, type WarningEvent } from '../../../src/index.js';
import { writeVersion } from '../../helpers/repository.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { versionedRuntime } from '../../helpers/versioned-runtime.js';

const tempDir = useTempDirs();

async function repo(models: Record<string, number[]>) {
  const root = await tempDir();
  for (const [m, versions] of Object.entries(models)) for (const v of versions) await writeVersion(root, m, v, { 'model.fake': `${m}${v}` });
  return root;
}

describe('readiness (like Triton --strict-readiness)', () => {
  it('an empty host is not ready, unless readiness.allowEmpty', async () => {
    const root = await repo({});
    const host = new ModelHost({ repository: root, runtimes: { versioned: versionedRuntime() } });
    expect(host.ready()).toBe(false);
    expect(host.readiness()).toEqual({ ready: false, reason: expect.stringMatching(/no model to serve/), models: {} });
    await host.close();
    const lenient = new ModelHost({ repository: root, readiness: { allowEmpty: true } });
    expect(lenient.readiness()).toEqual({ ready: true, models: {} });
    await lenient.close();
  });

  it('a model asked for with a typo keeps the host not ready, with the reason, until it is unloaded', async () => {
    const root = await repo({ m: [1] });
    const host = new ModelHost({ repository: root, runtimes: { versioned: versionedRuntime() } });
    await host.load('m');
    await expect(host.load('mm')).rejects.toMatchObject({ code: ErrorCode.MODEL_NOT_FOUND });
    expect(host.readiness()).toMatchObject({ ready: false, models: { m: { ready: true }, mm: { ready: false, reason: expect.stringMatching(/mm/) } } });
    await host.unload('mm'); // the operator takes the typo back
    expect(host.readiness()).toEqual({ ready: true, models: { m: { ready: true } } });
    await host.close();
  });

  it('strict: a model that failed to load is reported with its reason in readiness() and status(); strict: false still serves the others', async () => {
    const root = await repo({ good: [1], bad: [1] });
    const runtime = versionedRuntime({ failLoad: new Set([1]) });
    const goodRuntime = versionedRuntime();
    const host = new ModelHost({
      repository: root,
      runtimes: { broken: { ...runtime, name: 'broken' }, versioned: goodRuntime },
      defaults: { runtime: 'versioned' },
      models: { bad: { runtime: 'broken' } },
    });
    await host.load('good');
    await expect(host.load('bad')).rejects.toMatchObject({ code: ErrorCode.LOAD_FAILED });
    expect(host.readiness()).toMatchObject({ ready: false, reason: expect.stringMatching(/bad \(v1 failed to load: .*corrupt/), models: { bad: { ready: false }, good: { ready: true } } });
    expect(host.status('bad')).toMatchObject({ ready: false, reason: expect.stringMatching(/v1 failed to load: .*corrupt/) });
    await host.close();

    const lenient = new ModelHost({ repository: root, runtimes: { broken: { ...runtime, name: 'broken' }, versioned: goodRuntime }, defaults: { runtime: 'versioned' }, models: { bad: { runtime: 'broken' } }, readiness: { strict: false } });
    await lenient.load('good');
    await lenient.load('bad').catch(() => undefined);
    expect(lenient.ready()).toBe(true);
    await lenient.close();
  });

  it('a failed model whose folder is deleted stops counting: ready again after the polls that remove it', async () => {
    const root = await repo({ good: [1], bad: [1] });
    const host = new ModelHost({
      repository: { root, removeAfterPolls: 2 },
      runtimes: { broken: { ...versionedRuntime({ failLoad: new Set([1]) }), name: 'broken' }, versioned: versionedRuntime() },
      defaults: { runtime: 'versioned' },
      models: { bad: { runtime: 'broken' } },
    });
    await host.load('good');
    await host.load('bad').catch(() => undefined);
    expect(host.ready()).toBe(false);
    await rm(path.join(root, 'bad'), { recursive: true });
    await host.poll();
    expect(host.ready()).toBe(false); // one poll is not enough
    await host.poll();
    expect(host.readiness()).toEqual({ ready: true, models: { good: { ready: true } } });
    await host.close();
  });

  it('unload takes a model out of what the host must serve', async () => {
    const root = await repo({ a: [1], b: [1] });
    const host = new ModelHost({ repository: root, runtimes: { versioned: versionedRuntime() } });
    await host.load('a');
    await host.load('b');
    await host.unload('b');
    expect(host.readiness()).toEqual({ ready: true, models: { a: { ready: true } } });
    await host.close();
  });
});

describe('polling is not brittle', () => {
  it('a model folder renamed away for one poll keeps serving; gone for removeAfterPolls polls, it unloads', async () => {
    const root = await repo({ m: [1] });
    const host = new ModelHost({ repository: { root, removeAfterPolls: 3 }, runtimes: { versioned: versionedRuntime() } });
    await host.load('m');
    await rename(path.join(root, 'm'), path.join(root, 'm.moving'));
    expect(await host.poll()).toMatchObject({ unloaded: [] });
    expect(await host.predict('m', [1, 1])).toBeDefined(); // still served
    await rename(path.join(root, 'm.moving'), path.join(root, 'm'));
    expect(await host.poll()).toMatchObject({ unloaded: [] });
    // Now really gone: three polls in a row.
    await rm(path.join(root, 'm'), { recursive: true });
    expect(await host.poll()).toMatchObject({ unloaded: [] });
    expect(await host.poll()).toMatchObject({ unloaded: [] });
    expect(await host.poll()).toMatchObject({ unloaded: ['m@1'] });
    expect(host.status()).toEqual([]);
    await host.close();
  });

  it('a manifest.json pinning versions that do not exist emits one warning and shows in status()', async () => {
    const root = await repo({ m: [1, 2] });
    const host = new ModelHost({ repository: root, runtimes: { versioned: versionedRuntime() } });
    const warnings: WarningEvent[] = [];
    host.on('warning', (w) => warnings.push(w));
    await host.load('m', { version: 1 });
    await writeFile(path.join(root, 'manifest.json'), JSON.stringify({ models: { m: { default: 7, canary: { version: 9, weight: 0.1 } } } }));
    await host.poll();
    await host.poll();
    const manifestWarnings = warnings.filter((w) => /manifest\.json pins v7, v9, not in the repository \(on disk: 1, 2\)/.test(w.message));
    expect(manifestWarnings).toHaveLength(1);
    expect(host.status('m')).toMatchObject({ defaultVersion: 1, manifestProblem: expect.stringMatching(/pins v7, v9, not in the repository/) });
    await writeFile(path.join(root, 'manifest.json'), JSON.stringify({ models: { m: { default: 2 } } }));
    await host.poll();
    expect(host.status('m')).toMatchObject({ defaultVersion: 2, manifestProblem: undefined });
    await host.close();
  });
});
