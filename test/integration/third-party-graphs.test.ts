import { readFile, writeFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelHost } from '../../src/index.js';
import { materializeHumanModel } from '../fixtures/third-party.js';
import { tfjsDirHandler } from '../fixtures/tfjs-dir-handler.js';
import { maxAbsDiff, randomFloats } from '../helpers/repository.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { get, post, serve } from '../adapters/http/serve.js';

const tempDir = useTempDirs('all');
let root: string;
let host: ModelHost;

/** A 320x320 RGB picture with structure (two bright rectangles on a gradient), as int32 0..255. */
function picture(size: number): Int32Array {
  const pixels = new Int32Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const inBox = (x > 60 && x < 140 && y > 80 && y < 220) || (x > 200 && x < 280 && y > 40 && y < 120);
      for (let c = 0; c < 3; c++) pixels[(y * size + x) * 3 + c] = inBox ? 220 - c * 30 : Math.floor((x + y + c * 40) / 3) % 256;
    }
  }
  return pixels;
}

/** The detector's `top` best boxes (after its NonMaxSuppression), as `class@box score` strings. */
function detections(scores: ArrayLike<number>, boxes: ArrayLike<number>, classes: ArrayLike<number>, top: number): string[] {
  const order = Array.from(scores, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!).slice(0, top);
  return order.map((i) => `${classes[i]}@${Array.from({ length: 4 }, (_, k) => boxes[i * 4 + k]!.toFixed(4)).join(',')} ${scores[i]!.toFixed(4)}`);
}

/**
 * Graph models @vladmandic/human@3.3.6 ships: a detector with dynamic ops (NonMaxSuppression,
 * Where, while loops), which tfjs runs only with executeAsync, and a multi-output model whose
 * outputs model.json names by signature key. The host's outputs must equal raw tfjs's.
 */
describe('third-party tfjs graph models (@vladmandic/human)', () => {
  beforeAll(async () => {
    root = await tempDir();
    await materializeHumanModel('handtrack', `${root}/handtrack/1`);
    await materializeHumanModel('facemesh', `${root}/facemesh/1`);
    host = new ModelHost({ repository: root });
  });

  afterAll(async () => {
    await host?.close();
  });

  it('handtrack (dynamic ops): loads, names tensors by signature key, same detections as raw tfjs executeAsync', async () => {
    await host.load('handtrack');
    const meta = host.metadata('handtrack');
    expect(meta.batched).toBe(false); // the signature fixes the batch at 1: served one request per call
    // A uint8 placeholder, fed as int32 (as tfjs does): the values uint8 holds, and no others.
    expect(meta.inputs).toEqual([{ name: 'input_tensor:0', aliases: ['input_tensor'], dtype: 'int32', declaredDtype: 'uint8', shape: [1, -1, -1, 3], range: [0, 255] }]);
    expect(meta.outputs.map((o) => o.name)).toEqual(['Identity_2:0', 'Identity_4:0', 'Identity_6:0', 'Identity_1:0', 'Identity_3:0', 'Identity_5:0', 'Identity:0', 'Identity_7:0']);
    expect(meta.outputs.find((o) => o.name === 'Identity_1:0')).toEqual({ name: 'Identity_1:0', aliases: ['Identity_1'], dtype: 'float32', shape: [1, 100, 4] });

    const pixels = picture(320);
    const tensorsBefore = (await host.memory()).runtimes['tfjs']!.tensors;
    const out = await host.predict('handtrack', { input_tensor: { data: pixels, shape: [1, 320, 320, 3] } });
    expect((await host.memory()).runtimes['tfjs']!.tensors).toBe(tensorsBefore); // executeAsync's inputs and outputs disposed

    const raw = await tf.loadGraphModel(tfjsDirHandler(`${root}/handtrack/1`));
    const x = tf.tensor(pixels, [1, 320, 320, 3], 'int32');
    const names = meta.outputs.map((o) => o.aliases![0]!);
    const ys = (await raw.executeAsync(x, names)) as tf.Tensor[];
    const expected = Object.fromEntries(meta.outputs.map((o, i) => [o.name, ys[i]!.dataSync()]));
    tf.dispose([x, ...ys]);
    raw.dispose();

    let worst = 0;
    for (const o of meta.outputs) worst = Math.max(worst, maxAbsDiff(out[o.name]!.data as Float32Array, expected[o.name]! as Float32Array));
    // Identity_4:0 scores, Identity_1:0 boxes, Identity_2:0 classes (the TF object detection API's order).
    const ours = detections(out['Identity_4:0']!.data as Float32Array, out['Identity_1:0']!.data as Float32Array, out['Identity_2:0']!.data as Float32Array, 10);
    const theirs = detections(expected['Identity_4:0']! as Float32Array, expected['Identity_1:0']! as Float32Array, expected['Identity_2:0']! as Float32Array, 10);
    console.info(`[third-party] handtrack max |host - raw tfjs executeAsync| over 8 outputs: ${worst}; best detection ${ours[0]}`);
    expect(worst).toBe(0);
    expect(ours).toHaveLength(10);
    expect(ours).toEqual(theirs);
    expect(out['Identity_1:0']!.shape).toEqual([1, 100, 4]);
  });

  it('handtrack runs on a worker-thread instance with the same outputs as inline', async () => {
    const threads = new ModelHost({ repository: root, models: { handtrack: { instances: { kind: 'thread', count: 1 } } } });
    try {
      await threads.load('handtrack');
      const pixels = picture(320);
      const input = { 'input_tensor:0': { data: pixels, shape: [1, 320, 320, 3] } };
      const [onThread, inline] = await Promise.all([threads.predict('handtrack', input), host.predict('handtrack', input)]);
      for (const name of Object.keys(inline)) expect(maxAbsDiff(onThread[name]!.data as Float32Array, inline[name]!.data as Float32Array)).toBe(0);
    } finally {
      await threads.close();
    }
  });

  it('a dynamic-op graph whose model.json states no output shapes: learned by running the signature\'s input shape', async () => {
    const dir = `${root}/handtrack-unshaped/1`;
    await materializeHumanModel('handtrack', dir);
    const json = JSON.parse(await readFile(`${dir}/model.json`, 'utf8')) as { signature: { inputs: Record<string, { tensorShape?: unknown }>; outputs: Record<string, { tensorShape?: unknown }> } };
    for (const output of Object.values(json.signature.outputs)) delete output.tensorShape;
    await writeFile(`${dir}/model.json`, JSON.stringify(json));
    await host.load('handtrack-unshaped');
    const outputs = host.metadata('handtrack-unshaped').outputs;
    // Probed at [1, 320, 320, 3] (the signature's input shape); sizes past the first may depend on the data.
    expect(outputs.find((o) => o.name === 'Identity_1:0')).toMatchObject({ dtype: 'float32', shape: [1, -1, -1] });
    expect(outputs.find((o) => o.name === 'Identity_5:0')).toMatchObject({ dtype: 'float32', shape: [1] });

    // Without the input's declared shape either, nothing fixes its variable dimensions: the message says so.
    for (const input of Object.values(json.signature.inputs)) delete input.tensorShape;
    const unfixable = `${root}/handtrack-unfixable/1`;
    await materializeHumanModel('handtrack', unfixable);
    await writeFile(`${unfixable}/model.json`, JSON.stringify(json));
    await expect(host.load('handtrack-unfixable')).rejects.toMatchObject({
      code: 'UNSUPPORTED_MODEL',
      message: expect.stringMatching(/nor a size for every variable dimension of its input 'input_tensor:0' \[1, -1, -1, 3\] \(in the graph or model.json's signature\), so its outputs cannot be probed/),
    });
  });

  it('facemesh (three outputs): signature keys as names, node names with or without :0 accepted, batched like raw tfjs', async () => {
    await host.load('facemesh');
    const meta = host.metadata('facemesh');
    expect(meta.batched).toBe(true);
    expect(meta.inputs).toEqual([{ name: 'input_1', aliases: ['input_1:0'], dtype: 'float32', shape: [-1, 192, 192, 3] }]);
    expect(meta.outputs).toEqual([
      { name: 'output_mesh', aliases: ['Identity_2:0', 'Identity_2'], dtype: 'float32', shape: [-1, 1404] },
      { name: 'output_faceflag', aliases: ['Identity_1:0', 'Identity_1'], dtype: 'float32', shape: [-1, 1] },
      { name: 'output_contours', aliases: ['Identity:0', 'Identity'], dtype: 'float32', shape: [-1, 266] },
    ]);
    const images = randomFloats(2 * 192 * 192 * 3, 7).map((v) => (v + 1) / 2);
    const [batch, single] = await Promise.all([
      host.predictBatch('facemesh', { 'input_1:0': { data: images, shape: [2, 192, 192, 3] } }),
      host.predict('facemesh', { input_1: images.subarray(0, 192 * 192 * 3) }),
    ]);

    const raw = await tf.loadGraphModel(tfjsDirHandler(`${root}/facemesh/1`));
    const ys = tf.tidy(() => (raw.execute(tf.tensor(images, [2, 192, 192, 3]), ['Identity_2', 'Identity_1', 'Identity']) as tf.Tensor[]).map((y) => y.dataSync()));
    raw.dispose();
    const names = ['output_mesh', 'output_faceflag', 'output_contours'];
    const worst = Math.max(...names.map((n, i) => maxAbsDiff(batch[n]!.data as Float32Array, ys[i]! as Float32Array)));
    const rowSize = [1404, 1, 266];
    const worstSingle = Math.max(...names.map((n, i) => maxAbsDiff(single[n]!.data as Float32Array, (ys[i]! as Float32Array).subarray(0, rowSize[i]))));
    console.info(`[third-party] facemesh max |host - raw tfjs|: batch ${worst}, single ${worstSingle}`);
    expect(worst).toBe(0);
    expect(worstSingle).toBeLessThan(1e-4); // a batch of 1 vs a row of a batch of 2: kernels may differ in the last bits
    expect(single['output_mesh']!.shape).toEqual([1404]);
  });

  it('over TF Serving REST: metadata keyed by signature key with the graph tensor name, rows by alias, a misnamed key listed as unknown', async () => {
    await host.load('facemesh');
    const served = await serve(host);
    try {
      const meta = (await get(`${served.url}/v1/models/facemesh/metadata`)).body;
      const outputs = meta.metadata.signature_def.signature_def.serving_default.outputs;
      expect(Object.keys(outputs)).toEqual(['output_mesh', 'output_faceflag', 'output_contours']);
      expect(outputs.output_mesh).toMatchObject({ name: 'Identity_2:0', dtype: 'DT_FLOAT' });

      const image = Array.from(randomFloats(192 * 192 * 3, 9), (v) => (v + 1) / 2);
      const nested = Array.from({ length: 192 }, (_, y) => Array.from({ length: 192 }, (_, x) => image.slice((y * 192 + x) * 3, (y * 192 + x) * 3 + 3)));
      const rows = await post(`${served.url}/v1/models/facemesh:predict`, { instances: [{ 'input_1:0': nested }] });
      expect(rows.body.error).toBeUndefined();
      const direct = await host.predict('facemesh', { input_1: Float32Array.from(image) });
      expect(maxAbsDiff(rows.body.predictions[0].output_mesh, direct['output_mesh']!.data as Float32Array)).toBeLessThan(1e-6);

      const misnamed = await post(`${served.url}/v1/models/facemesh:predict`, { instances: [{ image: nested }] });
      expect(misnamed).toMatchObject({ status: 400, body: { error: 'instances[0] has unknown input "image" (known inputs: "input_1", "input_1:0")' } });
    } finally {
      await served.close();
    }
  });

  it('refuses an unknown input name, listing the names and aliases it knows', async () => {
    await host.load('facemesh');
    await expect(host.predict('facemesh', { image: new Float32Array(192 * 192 * 3) })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringMatching(/input 'input_1': is missing \(expected 'input_1' \(or 'input_1:0'\) float32\[-1, 192, 192, 3\]\); got unknown input 'image'/),
    });
  });

  it('handtrack (a uint8 image fed as int32): a pixel outside 0..255 is refused naming it, in-process and over KServe v2', async () => {
    await host.load('handtrack');
    const pixels = picture(320);
    pixels[7] = 300;
    await expect(host.predict('handtrack', { input_tensor: { data: pixels, shape: [1, 320, 320, 3] } })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: "model 'handtrack' v1, input 'input_tensor:0': element 7 is 300, outside 0..255, the values the model's declared type holds (int32 carries it, as in tfjs)",
    });
    pixels[7] = -1;
    await expect(host.predict('handtrack', { input_tensor: { data: pixels, shape: [1, 320, 320, 3] } })).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(/element 7 is -1, outside 0\.\.255/) });
    const served = await serve(host);
    try {
      const small = Array.from({ length: 32 * 32 * 3 }, (_, i) => (i === 5 ? 256 : i % 256));
      const refused = await post(`${served.url}/v2/models/handtrack/infer`, { inputs: [{ name: 'input_tensor', shape: [1, 32, 32, 3], datatype: 'INT32', data: small }] });
      expect(refused).toMatchObject({ status: 400, body: { error: expect.stringMatching(/input 'input_tensor:0': element 5 is 256, outside 0\.\.255/) } });
      const asDeclared = await post(`${served.url}/v2/models/handtrack/infer`, { inputs: [{ name: 'input_tensor', shape: [1, 32, 32, 3], datatype: 'UINT8', data: small }] });
      expect(asDeclared).toMatchObject({ status: 400, body: { error: expect.stringMatching(/input 'input_tensor:0'.*256/) } });
    } finally {
      await served.close();
    }
  });

  it('handtrack over every protocol: metadata names the declared UINT8 (not the int32 tfjs computes on), and a UINT8 request answers as the int32 one', async () => {
    await host.load('handtrack');
    const served = await serve(host);
    try {
      expect((await get(`${served.url}/v2/models/handtrack`)).body.inputs).toEqual([{ name: 'input_tensor:0', datatype: 'UINT8', shape: [1, -1, -1, 3] }]);
      const tf = (await get(`${served.url}/v1/models/handtrack/metadata`)).body.metadata.signature_def.signature_def.serving_default;
      expect(tf.inputs['input_tensor:0']).toMatchObject({ dtype: 'DT_UINT8', name: 'input_tensor:0' });
      const pixels = Array.from(picture(64));
      const infer = (datatype: string) => post(`${served.url}/v2/models/handtrack/infer`, { inputs: [{ name: 'input_tensor', shape: [1, 64, 64, 3], datatype, data: pixels }] });
      const [uint8, int32] = await Promise.all([infer('UINT8'), infer('INT32')]);
      expect(uint8.status).toBe(200);
      expect(uint8.body.outputs).toEqual(int32.body.outputs);
      const direct = await host.predict('handtrack', { input_tensor: { data: Uint8Array.from(pixels), shape: [1, 64, 64, 3], dtype: 'uint8' } });
      expect(Array.from(direct['Identity_4:0']!.data as Float32Array)).toEqual(int32.body.outputs.find((o: { name: string }) => o.name === 'Identity_4:0').data);
    } finally {
      await served.close();
    }
  });

  it('emotion, movenet and faceres (models no other test serves): metadata, outputs equal to raw tfjs over KServe JSON, binary and TF Serving', async () => {
    for (const name of ['emotion', 'movenet-lightning', 'faceres'] as const) await materializeHumanModel(name, `${root}/${name}/1`);
    for (const name of ['emotion', 'movenet-lightning', 'faceres']) await host.load(name);
    expect(host.metadata('emotion')).toMatchObject({ batched: true, inputs: [{ name: 'input_1', dtype: 'float32', shape: [-1, 64, 64, 1] }], outputs: [{ name: 'Identity', dtype: 'float32', shape: [-1, 7] }] });
    // movenet's placeholder is int32 itself: no range beyond int32's.
    expect(host.metadata('movenet-lightning')).toMatchObject({ batched: false, inputs: [{ name: 'input:0', dtype: 'int32', shape: [1, 192, 192, 3] }] });
    expect(host.metadata('movenet-lightning').inputs[0]!.range).toBeUndefined();
    // faceres's signature declares its outputs for one image ([1, 1], [1, 1024], [1, 100]) though its input takes any
    // number: a probe at two images shows the outputs follow the input's leading size, so it is served batched.
    expect(host.metadata('faceres')).toMatchObject({
      batched: true,
      inputs: [{ name: 'input_1', shape: [-1, 224, 224, 3] }],
      outputs: [{ name: 'gender_pred/Sigmoid:0', shape: [-1, 1] }, { name: 'global_pooling/Mean', shape: [-1, 1024] }, { name: 'age_pred/Softmax:0', shape: [-1, 100] }],
    });

    const faces = randomFloats(2 * 64 * 64, 11).map((v) => (v + 1) / 2);
    const people = Int32Array.from(randomFloats(192 * 192 * 3, 12), (v) => Math.floor((v + 1) * 127));
    const raw = async (name: string, x: tf.Tensor, outputs: string[]) => {
      const model = await tf.loadGraphModel(tfjsDirHandler(`${root}/${name}/1`));
      const ys = tf.tidy(() => (model.execute(x, outputs) as tf.Tensor | tf.Tensor[]));
      const values = (Array.isArray(ys) ? ys : [ys]).map((y) => Array.from(y.dataSync()));
      tf.dispose([x, ys as tf.Tensor]);
      model.dispose();
      return values;
    };
    const [emotionRaw] = await raw('emotion', tf.tensor(faces, [2, 64, 64, 1]), ['Identity']);
    const [movenetRaw] = await raw('movenet-lightning', tf.tensor(people, [1, 192, 192, 3], 'int32'), ['Identity']);

    const served = await serve(host);
    try {
      const json = await post(`${served.url}/v2/models/emotion/infer`, { inputs: [{ name: 'input_1', shape: [2, 64, 64, 1], datatype: 'FP32', data: Array.from(faces) }] });
      expect(json.status).toBe(200);
      expect(json.body.outputs[0]).toMatchObject({ name: 'Identity', shape: [2, 7], datatype: 'FP32' });
      expect(maxAbsDiff(json.body.outputs[0].data, emotionRaw!)).toBe(0);

      const head = Buffer.from(JSON.stringify({ inputs: [{ name: 'input:0', shape: [1, 192, 192, 3], datatype: 'INT32', parameters: { binary_data_size: people.byteLength } }], parameters: { binary_data_output: true } }));
      const response = await fetch(`${served.url}/v2/models/movenet-lightning/infer`, { method: 'POST', body: Buffer.concat([head, Buffer.from(people.buffer)]), headers: { 'inference-header-content-length': String(head.length) } });
      expect(response.status).toBe(200);
      const bytes = Buffer.from(await response.arrayBuffer());
      const headerLength = Number(response.headers.get('inference-header-content-length'));
      expect(JSON.parse(bytes.subarray(0, headerLength).toString()).outputs[0]).toMatchObject({ name: 'Identity:0', shape: [1, 1, 17, 3], datatype: 'FP32', parameters: { binary_data_size: 17 * 3 * 4 } });
      const keypoints = new Float32Array(bytes.buffer.slice(bytes.byteOffset + headerLength, bytes.byteOffset + headerLength + 17 * 3 * 4));
      expect(maxAbsDiff(keypoints, movenetRaw!)).toBe(0);

      const nested = (flat: Float32Array, rows: number) => Array.from({ length: rows }, (_, r) => Array.from({ length: 64 }, (_, y) => Array.from({ length: 64 }, (_, x) => [flat[r * 4096 + y * 64 + x]!])));
      const rows = await post(`${served.url}/v1/models/emotion:predict`, { instances: nested(faces, 2) });
      expect(rows.status).toBe(200);
      expect(maxAbsDiff(rows.body.predictions.flat(), emotionRaw!)).toBe(0);

      // Two images in one request, and two requests of one image batched together: each gets what raw tfjs gives.
      const images = randomFloats(2 * 224 * 224 * 3, 13).map((v) => (v + 1) / 2);
      const [ageRaw] = await raw('faceres', tf.tensor(images, [2, 224, 224, 3]), ['age_pred/Softmax']);
      const two = await post(`${served.url}/v2/models/faceres/infer`, { inputs: [{ name: 'input_1', shape: [2, 224, 224, 3], datatype: 'FP32', data: Array.from(images) }] });
      expect(two.status).toBe(200);
      const age = two.body.outputs.find((o: { name: string }) => o.name === 'age_pred/Softmax:0');
      expect(age.shape).toEqual([2, 100]);
      expect(maxAbsDiff(age.data, ageRaw!)).toBe(0);
      const singles = await Promise.all([0, 1].map((i) => host.predict('faceres', { input_1: images.subarray(i * 224 * 224 * 3, (i + 1) * 224 * 224 * 3) })));
      for (const [i, single] of singles.entries()) {
        expect(single['age_pred/Softmax:0']!.shape).toEqual([100]);
        expect(maxAbsDiff(single['age_pred/Softmax:0']!.data as Float32Array, ageRaw!.slice(i * 100, (i + 1) * 100))).toBeLessThan(1e-5);
      }
    } finally {
      await served.close();
    }
  });
});
