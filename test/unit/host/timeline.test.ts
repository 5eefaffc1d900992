import { describe, expect, it } from 'vitest';
import { ErrorCode, ModelHost, type ModelHostError, type Runtime } from '../../../src/index.js';
import { deferred } from '../../helpers/fake-runtime.js';
import { writeVersion } from '../../helpers/repository.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { versionedRuntime } from '../../helpers/versioned-runtime.js';

const tempDir = useTempDirs();

/** A versioned runtime whose loads of the versions in `held` wait for `release(version)`. */
function gatedRuntime() {
  const inner = versionedRuntime();
  const gates = new Map<number, ReturnType<typeof deferred>>();
  const runtime: Runtime & { open: () => number } = {
    name: 'versioned',
    canLoad: inner.canLoad,
    async load(source, options) {
      await gates.get(options.version)?.promise;
      return inner.load(source, options);
    },
    open: () => inner.open,
  };
  return {
    runtime,
    hold: (version: number) => gates.set(version, deferred()),
    release: (version: number) => gates.get(version)!.resolve(undefined),
  };
}

async function setup(versions: number[], models = ['m']) {
  const root = await tempDir();
  for (const m of models) for (const v of versions) await writeVersion(root, m, v, { 'model.fake': `${m}${v}` });
  const gated = gatedRuntime();
  const host = new ModelHost({ repository: root, runtimes: { versioned: gated.runtime } });
  return { host, ...gated };
}

const who = async (host: ModelHost, model = 'm') => ((await host.predict(model, [1, 1]))['y']!.data as Float32Array)[0]!;
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('one timeline per model', () => {
  it("unload('m') during m's first load cancels the load: the model ends unloaded, no session left (3 of 3 runs)", async () => {
    for (let run = 0; run < 3; run++) {
      const { host, runtime, hold, release } = await setup([1]);
      hold(1);
      const loading = host.load('m');
      await tick();
      const unloading = host.unload('m');
      release(1);
      await expect(loading).rejects.toMatchObject({ code: ErrorCode.CANCELLED });
      await expect(unloading).resolves.toBeUndefined();
      expect(host.status()).toEqual([]);
      await expect(host.predict('m', [1, 1])).rejects.toMatchObject({ code: ErrorCode.MODEL_NOT_FOUND });
      expect(runtime.open()).toBe(0);
      await host.close();
    }
  });

  it('rollback while deploy(m, 3) loads aborts the deploy: v3 never takes traffic and is unloaded, v2 keeps serving', async () => {
    const { host, runtime, hold, release } = await setup([1, 2, 3]);
    await host.load('m', { version: 1 });
    await host.deploy('m', 2);
    hold(3);
    const deploying = host.deploy('m', 3);
    await tick();
    const rolling = host.rollback('m');
    release(3);
    await expect(deploying).rejects.toMatchObject({ code: ErrorCode.CANCELLED, message: expect.stringMatching(/deploy of v3 was cancelled by a later rollback/) });
    expect(await rolling).toEqual({ model: 'm', version: 2, from: 3 });
    expect(host.status('m')).toMatchObject({ defaultVersion: 2, candidate: undefined, traffic: { 2: 1 } });
    expect(host.status('m').versions.map((v) => v.version)).toEqual([2, 1]);
    expect(await who(host)).toBe(2);
    // Open sessions: v2 and the warm v1; v3's was closed.
    expect(runtime.open()).toBe(2);
    await host.close();
  });

  it('rollback while a canary deploy loads: the default stays, the canary never gets traffic', async () => {
    const { host, hold, release } = await setup([1, 2, 3]);
    await host.load('m', { version: 1 });
    await host.deploy('m', 2);
    hold(3);
    const deploying = host.deploy('m', 3, { canary: 0.5 });
    await tick();
    const rolling = host.rollback('m');
    release(3);
    await expect(deploying).rejects.toMatchObject({ code: ErrorCode.CANCELLED });
    await rolling;
    expect(host.status('m')).toMatchObject({ defaultVersion: 2, candidate: undefined, traffic: { 2: 1 } });
    expect(new Set(await Promise.all(Array.from({ length: 20 }, () => who(host))))).toEqual(new Set([2]));
    await host.close();
  });

  it('operations on one model run in order, each seeing what the previous left; other models are not held up', async () => {
    const { host, hold, release } = await setup([1, 2], ['m', 'other']);
    await host.load('m', { version: 1 });
    hold(2);
    const order: string[] = [];
    const deploying = host.deploy('m', 2, { canary: 0.5 }).then(() => order.push('deploy'));
    const promoting = host.promote('m').then(() => order.push('promote'));
    // A different model loads while m's deploy waits.
    await host.load('other', { version: 1 });
    order.push('other loaded');
    release(2);
    await Promise.all([deploying, promoting]);
    expect(order).toEqual(['other loaded', 'deploy', 'promote']);
    expect(host.status('m')).toMatchObject({ defaultVersion: 2, candidate: undefined });
    await host.close();
  });

  it('a queued operation that is cancelled answers at once and never runs', async () => {
    const { host, runtime, hold, release } = await setup([1, 2, 3]);
    await host.load('m', { version: 1 });
    hold(2);
    const first = host.deploy('m', 2);
    const second = host.deploy('m', 3); // queued behind the first
    await tick();
    const unloading = host.unload('m');
    await expect(second).rejects.toMatchObject({ code: ErrorCode.CANCELLED });
    release(2);
    await expect(first).rejects.toMatchObject({ code: ErrorCode.CANCELLED });
    await unloading;
    expect(host.status()).toEqual([]);
    expect(runtime.open()).toBe(0);
    await host.close();
  });

  it('unload of a name never loaded nor pending is MODEL_NOT_FOUND at once', async () => {
    const { host } = await setup([1]);
    await expect(host.unload('nope')).rejects.toMatchObject({ code: ErrorCode.MODEL_NOT_FOUND });
    await host.close();
  });

  it('close cancels pending operations with SHUTTING_DOWN and leaves no session', async () => {
    const { host, runtime, hold, release } = await setup([1, 2]);
    await host.load('m', { version: 1 });
    hold(2);
    const deploying = host.deploy('m', 2).catch((e: ModelHostError) => e.code);
    await tick();
    const closing = host.close();
    release(2);
    await closing;
    expect(await deploying).toBe(ErrorCode.SHUTTING_DOWN);
    expect(runtime.open()).toBe(0);
  });
});
