/**
 * Review of issue 19 (session 11): a classifier whose first output is the class itself — one
 * integer per row, as skl2onnx exports (`label` int64 [N], then `probabilities`) or a graph that
 * takes its own argmax — had that class read as a score: thresholded at 0.5 (class 3 became 1)
 * and labels of 2 or more refused as "below 2". The class is now the prediction.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode, ModelHost, type Signature, type Tensor } from '../../../src/index.js';
import { FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';

const SIGNATURE: Signature = {
  inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 4] }],
  outputs: [
    { name: 'label', dtype: 'int64', shape: [-1] },
    { name: 'probabilities', dtype: 'float32', shape: [-1, 4] },
  ],
};

/** label = argmax of each row of x; probabilities = x. */
function classify(inputs: Record<string, Tensor>): Record<string, Tensor> {
  const x = inputs['x']!;
  const rows = x.shape[0]!;
  const data = x.data as Float32Array;
  const label = new BigInt64Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let i = 1; i < 4; i++) if (data[r * 4 + i]! > data[r * 4 + best]!) best = i;
    label[r] = BigInt(best);
  }
  return { label: { data: label, shape: [rows], dtype: 'int64' }, probabilities: { data: Float32Array.from(data), shape: [rows, 4], dtype: 'float32' } };
}

async function loaded() {
  const host = new ModelHost({ runtimes: { fake: fakeRuntime({ signature: SIGNATURE, compute: classify }) }, models: { c: { feedback: { task: 'classification' } } } });
  await host.load('c', { source: FAKE_SOURCE });
  return host;
}

describe('feedback on a class output (one integer per row)', () => {
  it('the integer is the predicted class: a label equal to it is correct, another is not', async () => {
    const host = await loaded();
    await host.predict('c', [0, 0, 0, 1], { id: 'three' });
    await host.predict('c', [0, 0, 1, 0], { id: 'two' });
    expect(host.feedback('c', 'three', 3)).toMatchObject({ matched: true, labels: 1, correct: 1 });
    expect(host.feedback('c', 'two', 1)).toMatchObject({ matched: true, labels: 1, correct: 0 });
    expect(host.stats('c').versions[1]!.quality).toEqual({ labels: 2, accuracy: 0.5, mae: undefined });
    await host.close();
  });

  it('a batch: one class per row; labels are still checked (an integer ≥ 0, one per row)', async () => {
    const host = await loaded();
    await host.predictBatch('c', { x: { data: Float32Array.of(1, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 9), shape: [3, 4] } }, { id: 'b' });
    expect(() => host.feedback('c', 'b', [0, 1, -1])).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_INPUT }));
    expect(() => host.feedback('c', 'b', [0, 1])).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_INPUT }));
    expect(host.feedback('c', 'b', [0, 1, 3])).toMatchObject({ matched: true, labels: 3, correct: 3 });
    await host.close();
  });

  it('`feedback.output` naming the scores still takes their argmax', async () => {
    const host = new ModelHost({ runtimes: { fake: fakeRuntime({ signature: SIGNATURE, compute: classify }) }, models: { c: { feedback: { task: 'classification', output: 'probabilities' } } } });
    await host.load('c', { source: FAKE_SOURCE });
    await host.predict('c', [0, 0, 0, 1], { id: 'p' });
    expect(host.feedback('c', 'p', 3)).toMatchObject({ matched: true, correct: 1 });
    await host.close();
  });
});
