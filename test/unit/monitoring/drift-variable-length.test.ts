/**
 * Review of issue 19 (session 11): an input summarized for drift (more than
 * `maxFeaturesPerInput` elements per row: audio, text, images) whose length varies from request
 * to request — Silero VAD's `input` [-1, -1] takes chunks of 512 or 1536 samples — had every row
 * of another length than the first request's skipped, and with it the row's other inputs: drift
 * went blind to such traffic. A summary (a row mean, channel means) does not depend on the
 * length, so those rows are now counted.
 */
import { describe, expect, it } from 'vitest';
import { ModelHost, type Signature } from '../../../src/index.js';
import { FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';
import { mulberry32 } from '../../fixtures/prng.js';

const AUDIO: Signature = {
  inputs: [{ name: 'x', dtype: 'float32', shape: [-1, -1] }],
  outputs: [{ name: 'y', dtype: 'float32', shape: [-1, -1] }],
};
const IMAGE: Signature = {
  inputs: [{ name: 'x', dtype: 'float32', shape: [-1, -1, -1, 3] }],
  outputs: [{ name: 'y', dtype: 'float32', shape: [-1, -1, -1, 3] }],
};

function uniform(random: () => number, length: number, mean: number): Float32Array {
  const data = new Float32Array(length);
  for (let i = 0; i < length; i++) data[i] = mean + (random() - 0.5);
  return data;
}

describe('drift on inputs whose length varies', () => {
  it('audio chunks of 512 and 1536 samples all count (row mean), and a shift in either is seen', async () => {
    const host = new ModelHost({ runtimes: { fake: fakeRuntime({ signature: AUDIO }) }, models: { vad: { sampling: { rate: 1 }, drift: { enabled: true, referenceSize: 100, windowSize: 50 } } } });
    await host.load('vad', { source: FAKE_SOURCE });
    const random = mulberry32(3);
    const send = async (rows: number, mean: number) => {
      for (let i = 0; i < rows; i++) {
        const length = i % 2 === 0 ? 512 : 1536;
        await host.predict('vad', { x: { data: uniform(random, length, mean), shape: [length], dtype: 'float32' } });
      }
    };
    await send(100, 0);
    await send(50, 0);
    const stable = host.stats('vad').monitoring!.drift!.inputs;
    expect(stable).toMatchObject({ state: 'watching', referenceRows: 100, windows: 1, driftedWindows: 0, skippedRows: 0 });
    expect(stable.last!.features.map((f) => f.name)).toEqual(['x:mean']);
    await send(50, 0.5);
    const shifted = host.stats('vad').monitoring!.drift!.inputs;
    expect(shifted).toMatchObject({ windows: 2, driftedWindows: 1, skippedRows: 0 });
    await host.close();
  });

  it('images of another size count per channel (their channels are the same)', async () => {
    const host = new ModelHost({ runtimes: { fake: fakeRuntime({ signature: IMAGE }) }, models: { img: { sampling: { rate: 1 }, drift: { enabled: true, referenceSize: 20, windowSize: 20 } } } });
    await host.load('img', { source: FAKE_SOURCE });
    const random = mulberry32(5);
    for (let i = 0; i < 40; i++) {
      const side = i % 2 === 0 ? 8 : 16;
      await host.predict('img', { x: { data: uniform(random, side * side * 3, 0), shape: [side, side, 3], dtype: 'float32' } });
    }
    const stats = host.stats('img').monitoring!.drift!.inputs;
    expect(stats).toMatchObject({ referenceRows: 20, windows: 1, skippedRows: 0 });
    expect(stats.last!.features.map((f) => f.name)).toEqual(['x:channel0', 'x:channel1', 'x:channel2']);
    await host.close();
  });

  it('an input tracked per element (64 or fewer per row) still skips rows of another size', async () => {
    const host = new ModelHost({ runtimes: { fake: fakeRuntime({ signature: AUDIO }) }, models: { m: { sampling: { rate: 1 }, drift: { enabled: true, referenceSize: 20, windowSize: 20 } } } });
    await host.load('m', { source: FAKE_SOURCE });
    await host.predict('m', { x: { data: new Float32Array(4), shape: [4], dtype: 'float32' } });
    await host.predict('m', { x: { data: new Float32Array(5), shape: [5], dtype: 'float32' } });
    expect(host.stats('m').monitoring!.drift!.inputs).toMatchObject({ referenceRows: 1, skippedRows: 1 });
    await host.close();
  });
});
