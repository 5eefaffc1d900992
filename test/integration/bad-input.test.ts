import { writeFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ErrorCode, ModelHost, ModelHostError } from '../../src/index.js';
import { onnxMlp } from '../fixtures/onnx-models.js';
import { tfjsLayersFiles } from '../fixtures/tfjs-model-writer.js';
import { buildTfjsMlp } from '../fixtures/tfjs-models.js';
import { writeVersion } from '../helpers/repository.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs('all');
let root: string;
let host: ModelHost;

const x = () => new Float32Array(64);

type Call = (h: ModelHost, model: string) => Promise<unknown>;
const rows: [title: string, call: Call, code: ErrorCode, message: RegExp][] = [
  ['an unknown input name', (h, m) => h.predict(m, { x: x(), y: x() }), ErrorCode.INVALID_INPUT, /has no input 'y' \(expected 'x' float32\[-1, 64\]\)/],
  ['a missing input', (h, m) => h.predict(m, {}), ErrorCode.INVALID_INPUT, /input 'x': is missing \(expected 'x' float32\[-1, 64\]\)/],
  ['an extra input', (h, m) => h.predict(m, { x: x(), extra: [1] }), ErrorCode.INVALID_INPUT, /has no input 'extra'/],
  ['a wrong dtype', (h, m) => h.predict(m, { x: new Int32Array(64) }), ErrorCode.INVALID_INPUT, /input 'x': expected dtype float32 \(Float32Array\), got int32 \(Int32Array\)/],
  ['a wrong rank', (h, m) => h.predict(m, { x: { data: x(), shape: [8, 8] } }), ErrorCode.INVALID_INPUT, /input 'x': expected one instance of shape \[64\].*got shape \[8, 8\] \(rank 2\)/],
  ['a wrong dimension', (h, m) => h.predictBatch(m, { x: { data: new Float32Array(63), shape: [1, 63] } }), ErrorCode.INVALID_INPUT, /input 'x': expected shape \[-1, 64\], got \[1, 63\] \(dimension 1 is 63, expected 64\)/],
  ['data length ≠ product of shape', (h, m) => h.predictBatch(m, { x: { data: x(), shape: [2, 64] } }), ErrorCode.INVALID_INPUT, /input 'x': data has 64 elements but shape \[2, 64\] holds 128/],
  ['an empty batch', (h, m) => h.predictBatch(m, { x: { data: new Float32Array(0), shape: [0, 64] } }), ErrorCode.INVALID_INPUT, /input 'x': expected at least one row, got an empty batch/],
  ['a string tensor to a float model', (h, m) => h.predict(m, { x: { data: Array(64).fill('a'), shape: [64], dtype: 'string' } }), ErrorCode.INVALID_INPUT, /input 'x': expected dtype float32, got string/],
  ['a non-object', (h, m) => h.predict(m, null), ErrorCode.INVALID_INPUT, /expected inputs as an object keyed by input name \('x'\), got null/],
  ['a bare scalar for a vector input', (h, m) => h.predict(m, 0.5), ErrorCode.INVALID_INPUT, /input 'x': expected one instance of shape \[64\].*got shape \[\] \(rank 0\)/],
  ['an unknown model', (h) => h.predict('nope', { x: x() }), ErrorCode.MODEL_NOT_FOUND, /model 'nope' is not loaded/],
  ['an unknown version', (h, m) => h.predict(m, { x: x() }, { version: 42 }), ErrorCode.VERSION_NOT_FOUND, /has no loaded version 42/],
  ['a model name like ../etc', (h) => h.load('../etc'), ErrorCode.INVALID_INPUT, /model name must be/],
  ['loading a version that is not on disk', (h, m) => h.load(m, { version: 9 }), ErrorCode.VERSION_NOT_FOUND, /has no version 9 .*on disk: 1, 2, 3, 4/],
  ['a corrupt model file (the previous version keeps serving)', (h, m) => h.load(m, { version: 2 }), ErrorCode.LOAD_FAILED, /^mlp-tfjs\/2\/model\.json is not valid JSON$|^onnxruntime could not load mlp-onnx\/2\/model\.onnx \(its message is in the host's log\)$/],
  ['a checksum mismatch', (h, m) => h.load(m, { version: 3 }), ErrorCode.INTEGRITY_FAILED, /mlp-(tfjs\/3\/model\.json|onnx\/3\/model\.onnx) does not match its SHA-256 in SHA256SUMS$/],
  ['a truncated weight file', (h, m) => h.load(m, { version: 4 }), ErrorCode.LOAD_FAILED, /weight shards of mlp-tfjs\/4 hold 1000 bytes, but model.json describes \d+ \(a shard is truncated or missing\)|onnxruntime could not load mlp-onnx\/4\/model.onnx/],
];

describe.each(['tfjs', 'onnx'])('bad input to a %s model: a clear error, and the host keeps serving', (runtime) => {
  const model = `mlp-${runtime}`;

  beforeAll(async () => {
    root ??= await tempDir();
    let files: Record<string, Uint8Array | string>;
    if (runtime === 'tfjs') {
      const mlp = buildTfjsMlp(tf);
      files = await tfjsLayersFiles(mlp);
      mlp.dispose();
    } else {
      files = { 'model.onnx': onnxMlp() };
    }
    await writeVersion(root, model, 1, files);
    // v2: corrupt model file; v3: checksum mismatch; v4: truncated weights.
    const main = runtime === 'tfjs' ? 'model.json' : 'model.onnx';
    await writeVersion(root, model, 2, { ...files, [main]: runtime === 'tfjs' ? '{"modelTopology": {"class_name": "Sequential", "config": [42' : 'this is not protobuf' }, { checksums: false });
    const v3 = await writeVersion(root, model, 3, files);
    await writeFile(`${v3}/${main}`, runtime === 'tfjs' ? String(files[main]).replace('"linear"', '"relu"') : Buffer.concat([Buffer.from(files[main] as Uint8Array), Buffer.from([0])]));
    const weights = runtime === 'tfjs' ? 'group1-shard1of1.bin' : 'model.onnx';
    await writeVersion(root, model, 4, { ...files, [weights]: (files[weights] as Uint8Array).subarray(0, 1000) }, { checksums: false });
    host = new ModelHost({ repository: root });
    await host.load(model, { version: 1 });
  });

  afterAll(async () => {
    await host.close();
  });

  it.each(rows)('%s', async (_title, call, code, message) => {
    const error = await call(host, model).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ModelHostError);
    expect(error).toMatchObject({ code, message: expect.stringMatching(message) });
    // Nothing broke: v1 still answers correctly.
    const out = await host.predict(model, { x: x() });
    expect(out['logits']!.shape).toEqual([10]);
    expect(host.status(model)).toMatchObject({ defaultVersion: 1, ready: true });
  });

  it('MODEL_NOT_READY while loading, SHUTTING_DOWN after close', async () => {
    const other = new ModelHost({ repository: root });
    const loading = other.load(model, { version: 1 });
    await expect(other.predict(model, { x: x() })).rejects.toMatchObject({ code: ErrorCode.MODEL_NOT_FOUND });
    await vi.waitFor(() => expect(other.status(model).versions[0]?.state).toMatch(/loading|warming/), { interval: 1 });
    const early = other.predict(model, { x: x() }).catch((e: unknown) => e);
    await loading;
    expect(await early).toMatchObject({ code: ErrorCode.MODEL_NOT_READY, message: expect.stringMatching(/has no ready version \(v1 (loading|warming)\)/) });
    await expect(other.predict(model, { x: x() })).resolves.toBeDefined();
    await other.close();
    await expect(other.predict(model, { x: x() })).rejects.toMatchObject({ code: ErrorCode.SHUTTING_DOWN, message: 'the model host is shutting down' });
  });
});
