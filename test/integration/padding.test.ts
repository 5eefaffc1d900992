import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, ModelHost, type BatchCompletedEvent, type ModelOptions } from '../../src/index.js';
import { onnxDoubledLength, onnxTextEncoder } from '../fixtures/onnx-models.js';
import { mulberry32 } from '../fixtures/prng.js';
import { maxAbsDiff, writeVersion } from '../helpers/repository.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const HIDDEN = 32;
const tempDir = useTempDirs('all');
let root: string;
let raw: ort.InferenceSession;

const PADDING: ModelOptions['padding'] = {
  inputs: { input_ids: { axis: 1, value: 0, maxLength: 64 } },
  mask: 'attention_mask',
  outputs: { token_embeddings: { axis: 1 } },
  maxWaste: 0.9,
};

function tokens(length: number, seed: number): BigInt64Array {
  const random = mulberry32(seed);
  return BigInt64Array.from({ length }, () => BigInt(1 + Math.floor(random() * 999)));
}

/** The request run alone on a raw onnxruntime session, with its own length and a mask of ones. */
async function alone(ids: BigInt64Array): Promise<{ tokens: Float32Array; sentence: Float32Array }> {
  const shape = [1, ids.length];
  const out = await raw.run({ input_ids: new ort.Tensor('int64', ids, shape), attention_mask: new ort.Tensor('int64', new BigInt64Array(ids.length).fill(1n), shape) });
  return { tokens: out['token_embeddings']!.data as Float32Array, sentence: out['sentence_embedding']!.data as Float32Array };
}

async function hostWith(padding: ModelOptions['padding'], extra: ModelOptions = {}): Promise<{ host: ModelHost; batches: BatchCompletedEvent[] }> {
  const host = new ModelHost({ repository: root, models: { text: { padding, instances: { kind: 'inline' }, batching: { maxBatchSize: 16 }, ...extra } } });
  await host.load('text');
  const batches: BatchCompletedEvent[] = [];
  host.on('batchCompleted', (e) => batches.push(e));
  return { host, batches };
}

/**
 * Variable-length batching on a text-shaped ONNX encoder (token ids + attention mask →
 * per-token embeddings and a masked mean): requests of different lengths share a padded
 * batch, and each gets what it would get running alone.
 */
describe('padding: requests of different lengths share a batch', () => {
  beforeAll(async () => {
    root = await tempDir();
    const bytes = onnxTextEncoder({ hidden: HIDDEN });
    await writeVersion(root, 'text', 1, { 'model.onnx': bytes });
    raw = await ort.InferenceSession.create(bytes);
  });

  afterAll(async () => {
    await raw?.release();
  });

  it('pads a mixed-length burst into one batch; every request gets its own-length result, as if run alone', async () => {
    const { host, batches } = await hostWith(PADDING);
    try {
      const lengths = [3, 17, 9, 1, 30, 12, 5, 24];
      const requests = lengths.map((n, i) => tokens(n, 10 + i));
      const results = await Promise.all(requests.map((ids) => host.predict('text', { input_ids: ids })));
      expect(batches.map((b) => b.requests)).toEqual([lengths.length]); // one runtime call for all eight
      let worst = 0;
      for (let i = 0; i < requests.length; i++) {
        const out = results[i]!;
        expect(out['token_embeddings']!.shape).toEqual([lengths[i], HIDDEN]);
        expect(out['sentence_embedding']!.shape).toEqual([HIDDEN]);
        const expected = await alone(requests[i]!);
        worst = Math.max(worst, maxAbsDiff(out['token_embeddings']!.data as Float32Array, expected.tokens), maxAbsDiff(out['sentence_embedding']!.data as Float32Array, expected.sentence));
      }
      console.info(`[padding] max |padded batch - alone| over ${lengths.length} requests: ${worst}`);
      expect(worst).toBeLessThan(1e-5);
    } finally {
      await host.close();
    }
  });

  it('pads the same way on a worker-thread instance', async () => {
    const { host, batches } = await hostWith(PADDING, { instances: { kind: 'thread', count: 1 } });
    try {
      const lengths = [4, 19, 8];
      const requests = lengths.map((n, i) => tokens(n, 40 + i));
      const results = await Promise.all(requests.map((ids) => host.predict('text', { input_ids: ids })));
      expect(batches.map((b) => b.requests)).toEqual([3]);
      for (let i = 0; i < requests.length; i++) {
        const expected = await alone(requests[i]!);
        expect(results[i]!['token_embeddings']!.shape).toEqual([lengths[i], HIDDEN]);
        expect(maxAbsDiff(results[i]!['sentence_embedding']!.data as Float32Array, expected.sentence)).toBeLessThan(1e-5);
      }
    } finally {
      await host.close();
    }
  });

  it('predictBatch rows of one length, and single requests, share a batch with others', async () => {
    const { host, batches } = await hostWith(PADDING);
    try {
      const two = new BigInt64Array([...tokens(6, 1), ...tokens(6, 2)]);
      const [batch, single] = await Promise.all([
        host.predictBatch('text', { input_ids: { data: two, shape: [2, 6] } }),
        host.predict('text', { input_ids: tokens(11, 3) }),
      ]);
      expect(batches.map((b) => [b.requests, b.batchSize])).toEqual([[2, 3]]);
      expect(batch['token_embeddings']!.shape).toEqual([2, 6, HIDDEN]);
      expect(maxAbsDiff((batch['sentence_embedding']!.data as Float32Array).subarray(HIDDEN), (await alone(tokens(6, 2))).sentence)).toBeLessThan(1e-5);
      expect(maxAbsDiff(single['token_embeddings']!.data as Float32Array, (await alone(tokens(11, 3))).tokens)).toBeLessThan(1e-5);
    } finally {
      await host.close();
    }
  });

  it('cuts a batch rather than pad past maxWaste: a short request does not wait in a long one', async () => {
    const { host, batches } = await hostWith({ ...PADDING, maxWaste: 0.5 });
    try {
      // 40 + 2 tokens in a 2 x 40 batch would be 47.5% padding; a third of 2 tokens makes it 63%.
      await Promise.all([host.predict('text', { input_ids: tokens(40, 1) }), host.predict('text', { input_ids: tokens(2, 2) }), host.predict('text', { input_ids: tokens(2, 3) })]);
      expect(batches.map((b) => b.requests)).toEqual([2, 1]);
    } finally {
      await host.close();
    }
  });

  it('without padding, requests of different lengths run one per call (the mask sent by the client)', async () => {
    const { host, batches } = await hostWith(undefined);
    try {
      const lengths = [3, 17, 9];
      await Promise.all(lengths.map((n, i) => host.predict('text', { input_ids: tokens(n, i), attention_mask: new BigInt64Array(n).fill(1n) })));
      expect(batches.map((b) => b.requests)).toEqual([1, 1, 1]);
    } finally {
      await host.close();
    }
  });

  it('refuses a request longer than maxLength, and a mask sent by the client, as INVALID_INPUT naming the input', async () => {
    const { host } = await hostWith(PADDING);
    try {
      await expect(host.predict('text', { input_ids: tokens(65, 1) })).rejects.toMatchObject({
        code: ErrorCode.INVALID_INPUT,
        message: "model 'text' v1, input 'input_ids': expected at most 64 along axis 1 (padding.inputs.input_ids.maxLength), got 65 (shape [1, 65])",
      });
      await expect(host.predict('text', { input_ids: tokens(3, 1), attention_mask: new BigInt64Array(3).fill(1n) })).rejects.toMatchObject({
        code: ErrorCode.INVALID_INPUT,
        message: expect.stringContaining("input 'attention_mask' is filled by the host (padding.mask)"),
      });
    } finally {
      await host.close();
    }
  });

  it.each([
    [{ inputs: { input_ids: { axis: 2, maxLength: 8 } } }, /padding.inputs.input_ids.axis is 2, but 'input_ids' \[-1, -1\] has no variable dimension there/],
    [{ inputs: { ids: { maxLength: 8 } } }, /padding names input 'ids', but the model's inputs are 'input_ids', 'attention_mask'/],
    [{ inputs: { input_ids: { maxLength: 8 } }, outputs: { token_embeddings: { axis: 3 } } }, /padding.outputs.token_embeddings.axis is 3, but 'token_embeddings' has rank 3/],
  ])('a padding config that does not fit the model fails its load with INVALID_CONFIG (%#)', async (padding, message) => {
    const host = new ModelHost({ repository: root, models: { text: { padding: padding as ModelOptions['padding'] } } });
    try {
      await expect(host.load('text')).rejects.toMatchObject({ code: ErrorCode.INVALID_CONFIG, message: expect.stringMatching(message) });
    } finally {
      await host.close();
    }
  });

  it('an output whose length does not follow the padded input is refused, never cut at the input lengths (no request gets another row)', async () => {
    // PP-OCR's recognizer does this: 320 pixels of width give 40 time steps. Cutting the
    // padded batch's output at each request's input length read the next row's values.
    await writeVersion(root, 'doubled', 1, { 'model.onnx': onnxDoubledLength() });
    const host = new ModelHost({
      repository: root,
      models: { doubled: { padding: { inputs: { x: { axis: 1, maxLength: 16 } }, outputs: { y: { axis: 1 } }, maxWaste: 0.9 }, instances: { kind: 'inline' }, batching: { maxBatchSize: 8, maxDelayMs: 50 } } },
    });
    try {
      await host.load('doubled');
      const rows = [Float32Array.of(1, 2), Float32Array.of(3, 4, 5, 6), Float32Array.of(7)];
      const settled = await Promise.allSettled(rows.map((x) => host.predict('doubled', { x })));
      for (const [i, s] of settled.entries()) {
        expect(s.status, `request ${i}`).toBe('rejected');
        const reason = (s as PromiseRejectedResult).reason as { code: string; message: string };
        expect(reason.code).toBe(ErrorCode.INFERENCE_FAILED);
        expect(reason.message).toMatch(/output 'y' has \d+ along axis 1 for a batch padded to \d+ along input 'x' axis 1, so it cannot be sliced back per request: padding.outputs.y.axis must name an axis as long as the padded input/);
      }
      // A lone request fails the same way: the configuration is wrong at any load.
      await expect(host.predict('doubled', { x: Float32Array.of(1, 2, 3) })).rejects.toMatchObject({ message: expect.stringContaining("output 'y' has 6 along axis 1 for a batch padded to 3") });
    } finally {
      await host.close();
    }
  });

  it('validates the options as written', () => {
    expect(() => new ModelHost({ models: { text: { padding: { inputs: { input_ids: { axis: 1 } } } as never } } })).toThrow(/`models.text.padding.inputs.input_ids.maxLength` must be an integer ≥ 1, got undefined/);
    expect(() => new ModelHost({ models: { text: { padding: { inputs: { input_ids: { maxLength: 8 } }, maxWaste: 2 } } } })).toThrow(/maxWaste` must be a number from 0 to 1, got 2/);
  });
});
