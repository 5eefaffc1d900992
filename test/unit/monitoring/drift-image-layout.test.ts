/**
 * Review of issue 19 (session 11): drift summarized an image per channel only when the channel
 * was the last dimension (NHWC, tfjs's layout). An ONNX vision model takes NCHW ([-1, 3, 224,
 * 224]): its last dimension is the width, so the image was summarized by its row mean alone,
 * and a shift of one channel (a colour cast) that another channel's values hid went unseen.
 * The first dimension after the batch is the channel when the last cannot be.
 */
import { describe, expect, it } from 'vitest';
import { ModelHost, type Signature } from '../../../src/index.js';
import { FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';
import { mulberry32 } from '../../fixtures/prng.js';

const NCHW: Signature = {
  inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 3, 8, 80] }],
  outputs: [{ name: 'y', dtype: 'float32', shape: [-1, 3, 8, 80] }],
};

/** One NCHW image: channel c's plane holds uniform values around `means[c]`. */
function image(random: () => number, means: readonly number[]): Float32Array {
  const data = new Float32Array(3 * 8 * 80);
  for (let i = 0; i < data.length; i++) data[i] = means[Math.floor(i / 640)]! + (random() - 0.5) * 0.2;
  return data;
}

describe('drift of NCHW images', () => {
  it('one feature per channel plane; a shift of channel 0 that channel 2 offsets drifts channel 0 and 2, the row mean alone would not have moved', async () => {
    const host = new ModelHost({ runtimes: { fake: fakeRuntime({ signature: NCHW }) }, models: { img: { sampling: { rate: 1 }, drift: { enabled: true, referenceSize: 50, windowSize: 50 } } } });
    await host.load('img', { source: FAKE_SOURCE });
    const random = mulberry32(11);
    for (let i = 0; i < 100; i++) await host.predict('img', { x: { data: image(random, [0.5, 0.5, 0.5]), shape: [3, 8, 80], dtype: 'float32' } });
    const stable = host.stats('img').monitoring!.drift!.inputs;
    expect(stable.last!.features.map((f) => f.name)).toEqual(['x:channel0', 'x:channel1', 'x:channel2']);
    expect(stable).toMatchObject({ windows: 1, driftedWindows: 0, skippedRows: 0 });
    const means = stable.last!.features.map((f) => (f.live as { mean: number }).mean);
    for (const mean of means) expect(mean).toBeCloseTo(0.5, 1);
    // A colour cast: channel 0 up by 0.3, channel 2 down by 0.3 — the same row mean.
    for (let i = 0; i < 50; i++) await host.predict('img', { x: { data: image(random, [0.8, 0.5, 0.2]), shape: [3, 8, 80], dtype: 'float32' } });
    const shifted = host.stats('img').monitoring!.drift!.inputs;
    expect(shifted).toMatchObject({ windows: 2, driftedWindows: 1 });
    expect(shifted.last!.features.filter((f) => f.drifted).map((f) => f.name)).toEqual(['x:channel0', 'x:channel2']);
    await host.close();
  });

  it('NHWC stays per last dimension ([16, 16, 3]), as does a row whose last dimension could be channels ([3, 16, 16]: 16, unless maxFeaturesPerInput is lower); one leading channel and a 2-D row are row means', async () => {
    const layouts: [number[], string[], number?][] = [
      [[-1, 16, 16, 3], ['x:channel0', 'x:channel1', 'x:channel2']],
      [[-1, 3, 16, 16], Array.from({ length: 16 }, (_, c) => `x:channel${c}`)],
      [[-1, 3, 16, 16], ['x:channel0', 'x:channel1', 'x:channel2'], 8],
      [[-1, 1, 16, 100], ['x:mean']], // one "channel" first: the row mean
      [[-1, 4, 300], ['x:mean']], // a 2-D row ([tokens, hidden]): no channels
    ];
    for (const [shape, names, maxFeaturesPerInput] of layouts) {
      const signature: Signature = { inputs: [{ name: 'x', dtype: 'float32', shape }], outputs: [{ name: 'y', dtype: 'float32', shape }] };
      const host = new ModelHost({ runtimes: { fake: fakeRuntime({ signature }) }, models: { m: { sampling: { rate: 1 }, drift: { enabled: true, referenceSize: 20, windowSize: 20, ...(maxFeaturesPerInput === undefined ? {} : { maxFeaturesPerInput }) } } } });
      await host.load('m', { source: FAKE_SOURCE });
      const row = shape.slice(1);
      const size = row.reduce((a, b) => a * b, 1);
      for (let i = 0; i < 40; i++) await host.predict('m', { x: { data: new Float32Array(size).fill(i % 5), shape: row, dtype: 'float32' } });
      expect(host.stats('m').monitoring!.drift!.inputs.last!.features.map((f) => f.name)).toEqual(names);
      await host.close();
    }
  });
});
