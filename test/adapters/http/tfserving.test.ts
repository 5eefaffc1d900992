/**
 * TF Serving REST, against a real listening server. Request and response bodies follow
 * tensorflow/serving `tensorflow_serving/g3doc/api_rest.md` (half_plus_three, the
 * tag/signal/sensor request, `{ "b64": ... }`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelHost } from '../../../src/index.js';
import { onnxFixedShape, onnxIdentity, onnxTwoInputs } from '../../fixtures/onnx-models.js';
import { writeVersion } from '../../helpers/repository.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { versionedRuntime } from '../../helpers/versioned-runtime.js';
import { onnxHalfPlusThree, onnxTagSignalSensor, onnxTwoOutputs } from './models.js';
import { get, post, serve, useServers, type Served } from './serve.js';

describe('TF Serving REST over node:http (a repository: half_plus_three v123, tag/signal/sensor, two-outputs, fixed, strings)', () => {
  const tempDir = useTempDirs('all');
  let host: ModelHost;
  let served: Served;
  let url: string;

  beforeAll(async () => {
    const root = await tempDir();
    await writeVersion(root, 'half_plus_three', 123, { 'model.onnx': onnxHalfPlusThree() });
    await writeVersion(root, 'tss', 1, { 'model.onnx': onnxTagSignalSensor() });
    await writeVersion(root, 'two-outputs', 1, { 'model.onnx': onnxTwoOutputs() });
    await writeVersion(root, 'two-inputs', 1, { 'model.onnx': onnxTwoInputs() });
    await writeVersion(root, 'fixed', 1, { 'model.onnx': onnxFixedShape() });
    await writeVersion(root, 'strings', 1, { 'model.onnx': onnxIdentity('string') });
    await writeVersion(root, 'pairs', 1, { 'model.onnx': onnxIdentity('float32', ['N', 1, 2]) });
    await writeVersion(root, 'int64', 1, { 'model.onnx': onnxIdentity('int64') });
    host = new ModelHost({ repository: root });
    for (const name of ['half_plus_three', 'tss', 'two-outputs', 'two-inputs', 'fixed', 'strings', 'pairs', 'int64']) await host.load(name);
    served = await serve(host);
    url = served.url;
  });

  afterAll(async () => {
    await served?.close();
    await host?.close();
  });

  describe('model status and metadata', () => {
    it("GET /v1/models/{m} answers the document's example status (GetModelStatusResponse)", async () => {
      const expected = { model_version_status: [{ version: '123', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }] };
      expect(await get(`${url}/v1/models/half_plus_three`)).toMatchObject({ status: 200, body: expected });
      expect(await get(`${url}/v1/models/half_plus_three/versions/123`)).toMatchObject({ status: 200, body: expected });
    });

    it('GET /v1/models/{m}[/versions/{v}]/metadata answers GetModelMetadataResponse with the serving_default signature', async () => {
      const expected = {
        model_spec: { name: 'half_plus_three', signature_name: '', version: '123' },
        metadata: {
          signature_def: {
            signature_def: {
              serving_default: {
                inputs: { x: { dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: '-1', name: '' }], unknown_rank: false }, name: 'x' } },
                outputs: { y: { dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: '-1', name: '' }], unknown_rank: false }, name: 'y' } },
                method_name: 'tensorflow/serving/predict',
              },
            },
          },
        },
      };
      expect(await get(`${url}/v1/models/half_plus_three/metadata`)).toMatchObject({ status: 200, body: expected });
      expect(await get(`${url}/v1/models/half_plus_three/versions/123/metadata`)).toMatchObject({ status: 200, body: expected });
      const tss = (await get(`${url}/v1/models/tss/metadata`)).body.metadata.signature_def.signature_def.serving_default;
      expect(tss.inputs.tag.dtype).toBe('DT_STRING');
      expect(tss.inputs.sensor.tensor_shape.dim.map((d: { size: string }) => d.size)).toEqual(['-1', '2', '2']);
    });

    it('an unknown model or version is 404 { error }', async () => {
      for (const path of ['/v1/models/half', '/v1/models/half_plus_three/versions/1', '/v1/models/half_plus_three/versions/1/metadata', '/v1/models/half/metadata']) {
        const response = await get(`${url}${path}`);
        expect(response.status, path).toBe(404);
        expect(Object.keys(response.body), path).toEqual(['error']);
      }
    });
  });

  describe(':predict', () => {
    it("answers the document's half_plus_three example in the row format", async () => {
      expect(await post(`${url}/v1/models/half_plus_three:predict`, { instances: [1.0, 2.0, 5.0] })).toMatchObject({ status: 200, body: { predictions: [3.5, 4.0, 5.5] } });
      expect(await post(`${url}/v1/models/half_plus_three/versions/123:predict`, { instances: [1.0, 2.0, 5.0] })).toMatchObject({ status: 200, body: { predictions: [3.5, 4.0, 5.5] } });
    });

    it("takes the document's one-input row examples: three scalar strings, two tensors of shape [1, 2]", async () => {
      expect((await post(`${url}/v1/models/strings:predict`, { instances: ['foo', 'bar', 'baz'] })).body).toEqual({ predictions: ['foo', 'bar', 'baz'] });
      expect((await post(`${url}/v1/models/pairs:predict`, { instances: [[[1, 2]], [[3, 4]]] })).body).toEqual({ predictions: [[[1, 2]], [[3, 4]]] });
    });

    it("answers 404 { error } for the document's misspelt model name", async () => {
      const { status, body } = await post(`${url}/v1/models/half:predict`, { instances: [1.0, 5.0] });
      expect(status).toBe(404);
      expect(body).toEqual({ error: expect.stringMatching(/'half'/) });
    });

    it('answers the columnar format with "outputs", the input given bare or by name', async () => {
      expect((await post(`${url}/v1/models/half_plus_three:predict`, { inputs: [1.0, 2.0, 5.0] })).body).toEqual({ outputs: [3.5, 4.0, 5.5] });
      expect((await post(`${url}/v1/models/half_plus_three:predict`, { inputs: { x: [1.0, 2.0, 5.0] } })).body).toEqual({ outputs: [3.5, 4.0, 5.5] });
    });

    it("takes the document's multi-input row example (tag, signal, sensor) and answers a list of objects", async () => {
      const instances = [
        { tag: 'foo', signal: [1, 2, 3, 4, 5], sensor: [[1, 2], [3, 4]] },
        { tag: 'bar', signal: [3, 4, 1, 2, 5], sensor: [[4, 5], [6, 8]] },
      ];
      const { status, body } = await post(`${url}/v1/models/tss:predict`, { signature_name: 'serving_default', instances });
      expect(status).toBe(200);
      // An empty signature name means the default one, as in TF Serving.
      expect((await post(`${url}/v1/models/tss:predict`, { signature_name: '', instances })).body).toEqual(body);
      expect(body).toEqual({
        predictions: [
          { tag_echo: 'foo', signal_echo: [1, 2, 3, 4, 5], sensor_echo: [[1, 2], [3, 4]] },
          { tag_echo: 'bar', signal_echo: [3, 4, 1, 2, 5], sensor_echo: [[4, 5], [6, 8]] },
        ],
      });
    });

    it("takes the document's columnar version of it and answers an object of outputs", async () => {
      const inputs = { tag: ['foo', 'bar'], signal: [[1, 2, 3, 4, 5], [3, 4, 1, 2, 5]], sensor: [[[1, 2], [3, 4]], [[4, 5], [6, 8]]] };
      const { status, body } = await post(`${url}/v1/models/tss:predict`, { inputs });
      expect(status).toBe(200);
      expect(body).toEqual({ outputs: { tag_echo: ['foo', 'bar'], signal_echo: [[1, 2, 3, 4, 5], [3, 4, 1, 2, 5]], sensor_echo: [[[1, 2], [3, 4]], [[4, 5], [6, 8]]] } });
    });

    it('a model with two inputs takes named instances; a model with two outputs answers objects per row', async () => {
      const sum = await post(`${url}/v1/models/two-inputs:predict`, { instances: [{ a: [1, 2, 3], b: [1, 1, 1] }, { a: [0, 0, 0], b: [5, 6, 7] }] });
      expect(sum.body).toEqual({ predictions: [[2, 3, 4], [5, 6, 7]] });
      const two = await post(`${url}/v1/models/two-outputs:predict`, { instances: [[1, 2], [3, 4]] });
      expect(two.body).toEqual({ predictions: [{ double: [2, 4], plus_one: [2, 3] }, { double: [6, 8], plus_one: [4, 5] }] });
      const columnar = await post(`${url}/v1/models/two-outputs:predict`, { inputs: [[1, 2], [3, 4]] });
      expect(columnar.body).toEqual({ outputs: { double: [[2, 4], [6, 8]], plus_one: [[2, 3], [4, 5]] } });
    });

    it('decodes { "b64": ... } binary values, bare or under the input name', async () => {
      // The document's encoding example: "image bytes", "awesome image bytes".
      const bare = await post(`${url}/v1/models/strings:predict`, { instances: [{ b64: 'aW1hZ2UgYnl0ZXM=' }, { b64: 'YXdlc29tZSBpbWFnZSBieXRlcw==' }] });
      expect(bare).toMatchObject({ status: 200, body: { predictions: ['image bytes', 'awesome image bytes'] } });
      const named = await post(`${url}/v1/models/strings:predict`, { instances: [{ x: { b64: 'aW1hZ2UgYnl0ZXM=' } }, { x: 'plain' }] });
      expect(named.body).toEqual({ predictions: ['image bytes', 'plain'] });
      const columnar = await post(`${url}/v1/models/strings:predict`, { inputs: { x: [{ b64: 'aW1hZ2UgYnl0ZXM=' }] } });
      expect(columnar.body).toEqual({ outputs: ['image bytes'] });
    });

    it('a signature_name that is a big integer (read exactly: the model has INT64 inputs) is 400 echoing it whole', async () => {
      const response = await post(`${url}/v1/models/int64:predict`, '{"signature_name":[9007199254740993],"instances":[1]}');
      expect(response).toMatchObject({ status: 400, body: { error: '"signature_name": serving signature [9007199254740993] (not a string) not found in the model\'s signatures (it has "serving_default")' } });
    });

    it('a model without a batch dimension takes its full tensors in the columnar format only', async () => {
      expect((await post(`${url}/v1/models/fixed:predict`, { inputs: [[1, 2, 3], [4, 5, 6]] })).body).toEqual({ outputs: [[2, 4, 6], [8, 10, 12]] });
      const rows = await post(`${url}/v1/models/fixed:predict`, { instances: [[1, 2, 3], [4, 5, 6]] });
      expect(rows).toMatchObject({ status: 400, body: { error: expect.stringMatching(/no batch dimension.*columnar "inputs"/) } });
    });

    it.each([
      ['both instances and inputs', { instances: [1], inputs: [1] }, /exactly one of "instances".*"inputs"/],
      ['neither', { signature_name: 'serving_default' }, /exactly one of "instances".*"inputs"/],
      ['empty instances', { instances: [] }, /non-empty array/],
      ['instances of the wrong shape', { instances: [[1, 2]] }, /input 'x'/],
      ['an instance missing an input', { instances: [{ tag: 'foo', signal: [1, 2, 3, 4, 5] }], model: 'tss' }, /instances\[0\] has no input "sensor"/],
      ['a misnamed key in the row format (one input)', { instances: [{ y: [1, 2, 3] }] }, /^instances\[0\] has unknown input "y" \(known inputs: "x"\)$/],
      ['a misnamed key in the columnar format (one input)', { inputs: { y: [[1, 2, 3]] } }, /^"inputs" has unknown input "y" \(known inputs: "x"\)$/],
      ['a bare value for a multi-input model', { instances: [[1, 2, 3]], model: 'two-inputs' }, /instances\[0\] must be an object with inputs "a", "b"/],
      ['a JSON array body', [], /JSON object/],
      ['a misspelt top-level key', { instancez: [1] }, /^the predict request: unknown key "instancez" \(did you mean "instances"\?\); accepted keys: "signature_name", "instances", "inputs"$/],
      ['a signature the model does not have', { signature_name: 'predict_images', instances: [1] }, /^"signature_name": serving signature "predict_images" not found in the model's signatures \(it has "serving_default"\)$/],
      ['a signature_name that is not a string', { signature_name: 7, instances: [1] }, /^"signature_name": serving signature 7 \(not a string\) not found/],
      ['b64 for an FP32 input (row format)', { instances: [{ b64: 'AAAA' }] }, /^instances\[0\]: got \{"b64": \.\.\.\}, but input "x" is float32 \(FP32\) and expects numbers; \{"b64": \.\.\.\} is only for string \(BYTES\) inputs$/],
      ['b64 for an FP32 input (columnar, named)', { inputs: { x: [1, { b64: 'AAAA' }] } }, /^inputs\.x\[1\]: got \{"b64": \.\.\.\}, but input "x" is float32 \(FP32\)/],
      ['b64 for the FP32 input of a multi-input model', { instances: [{ tag: { b64: 'Zm9v' }, signal: [{ b64: 'AAAA' }, 2, 3, 4, 5], sensor: [[1, 2], [3, 4]] }], model: 'tss' }, /^instances\[0\]\.signal\[0\]: got \{"b64": \.\.\.\}, but input "signal" is float32 \(FP32\)/],
    ])('%s is 400 { error }', async (_title, body, message) => {
      const { model = 'half_plus_three', ...rest } = body as { model?: string };
      const response = await post(`${url}/v1/models/${model}:predict`, Array.isArray(body) ? body : rest);
      expect(response.status).toBe(400);
      expect(response.body).toEqual({ error: expect.stringMatching(message) });
    });
  });
});

describe('TF Serving labels: default and canary', () => {
  const tempDir = useTempDirs('each');
  const { serve: serveTracked } = useServers();

  async function canaryHost() {
    const root = await tempDir();
    for (const v of [1, 2, 3]) await writeVersion(root, 'm', v, { 'model.fake': 'fake' });
    // y = x × version: the answer tells which version ran.
    const host = new ModelHost({ repository: root, runtimes: { versioned: versionedRuntime({ failLoad: new Set([3]) }) }, defaults: { rollout: { enabled: false } } });
    await host.load('m', { version: 1 });
    await host.deploy('m', 2, { canary: 0.1 });
    return { host, ...(await serveTracked(host)) };
  }

  it('/labels/default is the default version and /labels/canary the candidate, for status, metadata and :predict', async () => {
    const { host, url } = await canaryHost();
    expect(host.status('m')).toMatchObject({ defaultVersion: 1, candidate: 2 });
    const all = await get(`${url}/v1/models/m`);
    expect(all.body.model_version_status.map((s: { version: string; state: string }) => [s.version, s.state])).toEqual([
      ['2', 'AVAILABLE'],
      ['1', 'AVAILABLE'],
    ]);
    expect((await get(`${url}/v1/models/m/labels/default`)).body.model_version_status).toEqual([{ version: '1', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }]);
    expect((await get(`${url}/v1/models/m/labels/stable`)).body).toEqual((await get(`${url}/v1/models/m/labels/default`)).body); // an alias
    expect((await get(`${url}/v1/models/m/labels/canary`)).body.model_version_status).toEqual([{ version: '2', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }]);
    expect((await get(`${url}/v1/models/m/labels/default/metadata`)).body.model_spec).toEqual({ name: 'm', signature_name: '', version: '1' });
    expect((await get(`${url}/v1/models/m/labels/canary/metadata`)).body.model_spec).toEqual({ name: 'm', signature_name: '', version: '2' });
    expect((await post(`${url}/v1/models/m/labels/default:predict`, { instances: [[1, 2]] })).body).toEqual({ predictions: [[1, 2]] });
    expect((await post(`${url}/v1/models/m/labels/canary:predict`, { instances: [[1, 2]] })).body).toEqual({ predictions: [[2, 4]] });
    expect((await post(`${url}/v1/models/m/versions/2:predict`, { inputs: [[1, 2]] })).body).toEqual({ outputs: [[2, 4]] });
  });

  it('an unknown label, or canary when there is no candidate, is 404', async () => {
    const { host, url } = await canaryHost();
    expect(await get(`${url}/v1/models/m/labels/beta`)).toMatchObject({ status: 404, body: { error: expect.stringMatching(/no version labelled 'beta' \(labels: default, canary\)/) } });
    await host.promote('m');
    expect(await get(`${url}/v1/models/m/labels/canary`)).toMatchObject({ status: 404, body: { error: expect.stringMatching(/labelled 'canary'/) } });
    expect((await post(`${url}/v1/models/m/labels/default:predict`, { instances: [[1, 2]] })).body).toEqual({ predictions: [[2, 4]] });
  });

  it('a version that failed to load shows as END with its error', async () => {
    const { host, url } = await canaryHost();
    await expect(host.load('m', { version: 3 })).rejects.toMatchObject({ code: 'LOAD_FAILED' });
    const v3 = (await get(`${url}/v1/models/m/versions/3`)).body.model_version_status;
    expect(v3).toEqual([{ version: '3', state: 'END', status: { error_code: 'UNKNOWN', error_message: expect.stringMatching(/v3 is corrupt/) } }]);
  });
});
