import { describe, expect, it } from 'vitest';
import { ErrorCode, ModelHost } from '../../../src/index.js';
import { FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';

describe('review: metadata() answers', () => {
  it('hands out specs a caller cannot change, so a changed answer never changes what requests are checked against', async () => {
    const host = new ModelHost({ runtimes: { fake: fakeRuntime() } });
    await host.load('a', { source: FAKE_SOURCE });
    const meta = host.metadata('a') as unknown as { inputs: { name: string; shape: number[] }[] };
    expect(Object.isFrozen(meta.inputs) && Object.isFrozen(meta.inputs[0]) && Object.isFrozen(meta.inputs[0]!.shape)).toBe(true);
    expect(() => (meta.inputs[0]!.shape[1] = 2)).toThrow(TypeError);
    expect(() => (meta.inputs[0]!.name = 'z')).toThrow(TypeError);
    expect(() => meta.inputs.push({ name: 'z', shape: [] })).toThrow(TypeError);
    expect(host.metadata('a').inputs).toEqual([{ name: 'x', dtype: 'float32', shape: [-1, 4] }]);
    expect((await host.predict('a', [1, 2, 3, 4]))['y']!.shape).toEqual([4]);
    await expect(host.predict('a', [1, 2])).rejects.toMatchObject({ code: ErrorCode.INVALID_INPUT });
    await host.close();
  });

  it('follows the default version through load, canary-free swap, unload and a failed load', async () => {
    let fail = false;
    const host = new ModelHost({ runtimes: { fake: fakeRuntime({ failLoad: () => (fail ? new Error('corrupt') : undefined) }) } });
    await host.load('a', { source: FAKE_SOURCE, version: 1 });
    expect(host.metadata('a')).toMatchObject({ version: 1, versions: [1] });
    await host.load('a', { source: FAKE_SOURCE, version: 2 });
    expect(host.metadata('a')).toMatchObject({ version: 2, versions: [2, 1] });
    fail = true;
    await expect(host.load('a', { source: FAKE_SOURCE, version: 3 })).rejects.toBeDefined();
    expect(host.metadata('a')).toMatchObject({ version: 2, versions: [2, 1] });
    await host.unload('a', 1);
    expect(host.metadata('a')).toMatchObject({ version: 2, versions: [2] });
    await host.close();
  });
});
