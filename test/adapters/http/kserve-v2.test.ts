/**
 * KServe v2 / Open Inference Protocol REST, against a real listening server. Request and
 * response bodies follow kserve/open-inference-protocol `specification/protocol/inference_rest.md`
 * and Triton's binary tensor data and model repository extensions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelHost } from '../../../src/index.js';
import { onnxAffine, onnxFixedShape, onnxIdentity } from '../../fixtures/onnx-models.js';
import { deferred, FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';
import { writeVersion } from '../../helpers/repository.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { versionedRuntime } from '../../helpers/versioned-runtime.js';
import { kserveExampleRuntime, onnxTwoOutputs, OUTPUT0 } from './models.js';
import { get, post, request, serve, useServers, type Served } from './serve.js';

const tempDir = useTempDirs('each');

/** `<JSON header><binary parts…>` and its Inference-Header-Content-Length. */
function binaryBody(header: unknown, ...parts: Uint8Array[]): { body: Uint8Array; headerLength: number } {
  const head = new TextEncoder().encode(JSON.stringify(header));
  const body = new Uint8Array(head.byteLength + parts.reduce((n, p) => n + p.byteLength, 0));
  body.set(head, 0);
  let offset = head.byteLength;
  for (const part of parts) {
    body.set(part, offset);
    offset += part.byteLength;
  }
  return { body, headerLength: head.byteLength };
}

/** A binary response split into its JSON header and the bytes after it. */
async function binaryResponse(response: Response): Promise<{ header: any; tail: Uint8Array }> {
  const bytes = new Uint8Array(await response.arrayBuffer());
  const length = Number(response.headers.get('inference-header-content-length'));
  expect(Number.isInteger(length) && length > 0 && length <= bytes.byteLength).toBe(true);
  return { header: JSON.parse(new TextDecoder().decode(bytes.subarray(0, length))), tail: bytes.slice(length) };
}

/** BYTES elements as the binary extension lays them out: 4-byte little-endian length, then the bytes. */
function bytesElements(...items: string[]): Uint8Array {
  const parts = items.map((s) => new TextEncoder().encode(s));
  const out = new Uint8Array(parts.reduce((n, p) => n + 4 + p.byteLength, 0));
  const view = new DataView(out.buffer);
  let offset = 0;
  for (const part of parts) {
    view.setUint32(offset, part.byteLength, true);
    out.set(part, offset + 4);
    offset += 4 + part.byteLength;
  }
  return out;
}

describe('KServe v2 over node:http (shared host: mymodel, affine, fixed, two-outputs, identities)', () => {
  let host: ModelHost;
  let served: Served;
  let url: string;
  const mymodel = kserveExampleRuntime();

  beforeAll(async () => {
    host = new ModelHost({ runtimes: { fake: mymodel } });
    await host.load('mymodel', { source: FAKE_SOURCE });
    await host.load('affine', { source: onnxAffine() });
    await host.load('fixed', { source: onnxFixedShape() });
    await host.load('two-outputs', { source: onnxTwoOutputs() });
    for (const dtype of ['string', 'bool', 'int64', 'float16'] as const) await host.load(`id-${dtype}`, { source: onnxIdentity(dtype) });
    served = await serve(host, { serverName: 'triton-compatible' });
    url = served.url;
  });

  afterAll(async () => {
    await served?.close();
    await host?.close();
  });

  describe('server and model metadata, health', () => {
    it('GET /v2 answers $metadata_server_response with the extensions it implements', async () => {
      const { status, body, headers } = await get(`${url}/v2`);
      expect(status).toBe(200);
      expect(headers.get('content-type')).toBe('application/json');
      expect(body).toEqual({ name: 'triton-compatible', version: expect.any(String), extensions: ['binary_tensor_data', 'model_repository'] });
      // The OpenAPI document spells it `/v2/`: a trailing slash is the same route.
      expect((await get(`${url}/v2/`)).body).toEqual(body);
    });

    it('GET /v2/health/live and /v2/health/ready answer 200 while every model is ready', async () => {
      expect(await get(`${url}/v2/health/live`)).toMatchObject({ status: 200, body: { live: true } });
      expect(await get(`${url}/v2/health/ready`)).toMatchObject({ status: 200, body: { ready: true } });
    });

    it('GET /v2/models/{m}[/versions/{v}] answers $metadata_model_response: datatypes, -1 for variable dimensions, versions as strings', async () => {
      const expected = {
        name: 'affine',
        versions: ['1'],
        platform: 'onnxruntime_onnx',
        inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 4] }],
        outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 4] }],
      };
      expect(await get(`${url}/v2/models/affine`)).toMatchObject({ status: 200, body: expected });
      expect(await get(`${url}/v2/models/affine/versions/1`)).toMatchObject({ status: 200, body: expected });
      expect((await get(`${url}/v2/models/mymodel`)).body).toMatchObject({
        platform: 'fake',
        inputs: [
          { name: 'input0', datatype: 'UINT32', shape: [2, 2] },
          { name: 'input1', datatype: 'BOOL', shape: [3] },
        ],
        outputs: [{ name: 'output0', datatype: 'FP32', shape: [3, 2] }],
      });
      expect((await get(`${url}/v2/models/id-string`)).body.inputs).toEqual([{ name: 'x', datatype: 'BYTES', shape: [-1] }]);
      expect((await get(`${url}/v2/models/id-float16`)).body.inputs).toEqual([{ name: 'x', datatype: 'FP16', shape: [-1] }]);
    });

    it('GET /v2/models/{m}[/versions/{v}]/ready answers $ready_model_response', async () => {
      expect(await get(`${url}/v2/models/affine/ready`)).toMatchObject({ status: 200, body: { name: 'affine', ready: true } });
      expect(await get(`${url}/v2/models/affine/versions/1/ready`)).toMatchObject({ status: 200, body: { name: 'affine', ready: true } });
      expect(await get(`${url}/v2/models/affine/versions/2/ready`)).toMatchObject({ status: 503, body: { name: 'affine', ready: false } });
    });

    it('unknown models and versions are 404 with { error } only', async () => {
      for (const path of ['/v2/models/nope', '/v2/models/affine/versions/7', '/v2/models/affine/versions/latest', '/v2/models/nope/ready', '/v2/models/nope/versions/1/ready']) {
        const response = await get(`${url}${path}`);
        expect(response.status, path).toBe(404);
        expect(Object.keys(response.body), path).toEqual(['error']);
      }
      expect((await get(`${url}/v2/models/affine/versions/7`)).body.error).toMatch(/version 7/);
    });
  });

  describe('POST .../infer with JSON tensors', () => {
    // inference_rest.md, "Inference Request Examples" — with input1 holding the 3 elements its shape says.
    const EXAMPLE = {
      id: '42',
      inputs: [
        { name: 'input0', shape: [2, 2], datatype: 'UINT32', data: [1, 2, 3, 4] },
        { name: 'input1', shape: [3], datatype: 'BOOL', data: [true, false, true] },
      ],
      outputs: [{ name: 'output0' }],
    };

    it("answers the specification's example: id echoed, output0 FP32 [3, 2]", async () => {
      const { status, body } = await post(`${url}/v2/models/mymodel/infer`, EXAMPLE);
      expect(status).toBe(200);
      expect(body).toMatchObject({ model_name: 'mymodel', model_version: '1', id: '42' });
      expect(body.outputs).toHaveLength(1);
      expect(body.outputs[0]).toMatchObject({ name: 'output0', shape: [3, 2], datatype: 'FP32' });
      // FP32 values come back as the float32 the model computed (1.1 → 1.100000023841858).
      expect(body.outputs[0].data).toEqual(Array.from(new Float32Array(OUTPUT0)));
      // What reached the runtime: typed, shaped, booleans as bytes.
      expect(mymodel.seen!['input0']).toEqual({ data: new Uint32Array([1, 2, 3, 4]), shape: [2, 2], dtype: 'uint32' });
      expect(mymodel.seen!['input1']).toEqual({ data: new Uint8Array([1, 0, 1]), shape: [3], dtype: 'bool' });
    });

    it("refuses the example exactly as printed (input1: shape [3] but one element) with 400 naming the input", async () => {
      const verbatim = { ...EXAMPLE, inputs: [EXAMPLE.inputs[0], { name: 'input1', shape: [3], datatype: 'BOOL', data: [true] }] };
      const { status, body } = await post(`${url}/v2/models/mymodel/infer`, verbatim);
      expect(status).toBe(400);
      expect(body).toEqual({ error: expect.stringMatching(/input 'input1'.*1 elements but shape \[3\] holds 3/) });
    });

    it('takes data nested or flat (row-major), answers flat data with the shape', async () => {
      const nested = await post(`${url}/v2/models/affine/infer`, { inputs: [{ name: 'x', shape: [2, 4], datatype: 'FP32', data: [[1, 2, 3, 4], [5, 6, 7, 8]] }] });
      const flat = await post(`${url}/v2/models/affine/infer`, { inputs: [{ name: 'x', shape: [2, 4], datatype: 'FP32', data: [1, 2, 3, 4, 5, 6, 7, 8] }] });
      expect(nested.status).toBe(200);
      // Every answer names its request (a new id when the client gave none), echoed in x-request-id.
      expect(nested.body).toEqual({ model_name: 'affine', model_version: '1', id: expect.stringMatching(/^[0-9a-f-]{36}$/), outputs: [{ name: 'y', datatype: 'FP32', shape: [2, 4], data: [3, 5, 7, 9, 11, 13, 15, 17] }] });
      expect(nested.headers.get('x-request-id')).toBe(nested.body.id);
      expect(flat.body).toEqual({ ...nested.body, id: flat.headers.get('x-request-id') });
    });

    // One rule with TF Serving's nested values: a ragged list is refused, never flattened into numbers that count right.
    it.each([
      ['a short row', [[1, 2, 3, 4], [5, 6, 7]], [2, 4], /^input 'x': is ragged: expected an array of length 4 at depth 1, got length 3$/],
      ['rows of unequal lengths that sum right', [[1, 2, 3, 4, 5], [6, 7, 8]], [2, 4], /^input 'x': is ragged: expected an array of length 5 at depth 1, got length 3$/],
      ['a scalar beside a list', [[1, 2, 3, 4], 5, 6, 7, 8], [2, 4], /^input 'x': is ragged: expected an array of length 4 at depth 1, got number 5$/],
      ['a list beside scalars', [1, 2, 3, 4, 5, 6, 7, [8]], [2, 4], /^input 'x': is ragged: expected a value at depth 1, got an array$/],
      ['regular nesting of another shape', [[1, 2], [3, 4], [5, 6], [7, 8]], [2, 4], /^input 'x': "data" nests as \[4, 2\], but "shape" is \[2, 4\]/],
    ])('nested data that is not the shape (%s) is 400 naming the input, the expected and the received', async (_title, data, shape, message) => {
      const response = await post(`${url}/v2/models/affine/infer`, { inputs: [{ name: 'x', shape, datatype: 'FP32', data }] });
      expect(response).toMatchObject({ status: 400, body: { error: expect.stringMatching(message) } });
    });

    it('a batched model takes the batch dimension in the shape; a model without one takes its full shape', async () => {
      const batched = await post(`${url}/v2/models/affine/infer`, { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [0, 0, 0, 0] }] });
      expect(batched.body.outputs[0]).toMatchObject({ shape: [1, 4], data: [1, 1, 1, 1] });
      const unbatched = await post(`${url}/v2/models/fixed/infer`, { inputs: [{ name: 'x', shape: [2, 3], datatype: 'FP32', data: [[1, 2, 3], [4, 5, 6]] }] });
      expect(unbatched.body.outputs).toEqual([{ name: 'y', datatype: 'FP32', shape: [2, 3], data: [2, 4, 6, 8, 10, 12] }]);
      const noBatchDim = await post(`${url}/v2/models/affine/infer`, { inputs: [{ name: 'x', shape: [4], datatype: 'FP32', data: [0, 0, 0, 0] }] });
      expect(noBatchDim.status).toBe(400);
      expect(noBatchDim.body.error).toMatch(/input 'x'.*rank 2/);
    });

    it('round-trips BYTES, BOOL, INT64 and FP16 as JSON values', async () => {
      const cases = [
        ['string', 'BYTES', ['héllo', '', 'wörld']],
        ['bool', 'BOOL', [true, false, true]],
        ['int64', 'INT64', [-(2 ** 53 - 1), 0, 2 ** 53 - 1]],
        ['float16', 'FP16', [1, -2, 0.5]],
      ] as const;
      for (const [dtype, datatype, data] of cases) {
        const { status, body } = await post(`${url}/v2/models/id-${dtype}/infer`, { inputs: [{ name: 'x', shape: [3], datatype, data }] });
        expect(status, datatype).toBe(200);
        expect(body.outputs, datatype).toEqual([{ name: 'y', datatype, shape: [3], data }]);
      }
    });

    it('a datatype that is not the input\'s, or not a KServe datatype, is 400', async () => {
      const wrong = await post(`${url}/v2/models/affine/infer`, { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP64', data: [1, 2, 3, 4] }] });
      expect(wrong).toMatchObject({ status: 400, body: { error: expect.stringMatching(/expected dtype float32, got float64/) } });
      const unknown = await post(`${url}/v2/models/affine/infer`, { inputs: [{ name: 'x', shape: [1, 4], datatype: 'BF16', data: [1, 2, 3, 4] }] });
      expect(unknown).toMatchObject({ status: 400, body: { error: expect.stringMatching(/unknown "datatype" "BF16"/) } });
    });

    it('returns only the requested outputs, in the order asked; an unknown one is 400', async () => {
      const inputs = [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [1, 2] }];
      const all = await post(`${url}/v2/models/two-outputs/infer`, { inputs });
      expect(all.body.outputs.map((o: { name: string }) => o.name).sort()).toEqual(['double', 'plus_one']);
      const one = await post(`${url}/v2/models/two-outputs/infer`, { inputs, outputs: [{ name: 'plus_one' }] });
      expect(one.body.outputs).toEqual([{ name: 'plus_one', datatype: 'FP32', shape: [1, 2], data: [2, 3] }]);
      const ordered = await post(`${url}/v2/models/two-outputs/infer`, { inputs, outputs: [{ name: 'plus_one' }, { name: 'double' }] });
      expect(ordered.body.outputs.map((o: { name: string }) => o.name)).toEqual(['plus_one', 'double']);
      const bad = await post(`${url}/v2/models/two-outputs/infer`, { inputs, outputs: [{ name: 'triple' }] });
      expect(bad).toMatchObject({ status: 400, body: { error: expect.stringMatching(/requested output "triple"/) } });
    });

    it('accepts request and input "parameters" it has no use for; "id" must be a request id (1–128 visible ASCII)', async () => {
      const ok = await post(`${url}/v2/models/affine/infer`, {
        id: 'req-7',
        parameters: { custom_id: 3, priority: 'high', flag: true }, // sequence_id is refused (hostile-requests)
        inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', parameters: { note: 'ignored' }, data: [0, 0, 0, 0] }],
      });
      expect(ok).toMatchObject({ status: 200, body: { id: 'req-7' } });
      expect(await post(`${url}/v2/models/affine/infer`, { id: 42, inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [0, 0, 0, 0] }] })).toMatchObject({
        status: 400,
        body: { error: '"id" must be 1–128 visible ASCII characters (no spaces), got 42' },
      });
    });

    it('carries the request id into request events', async () => {
      const ids: (string | undefined)[] = [];
      const listener = (e: { id?: string }) => ids.push(e.id);
      host.on('requestCompleted', listener);
      await post(`${url}/v2/models/affine/infer`, { id: 'trace-1', inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [0, 0, 0, 0] }] });
      host.off('requestCompleted', listener);
      expect(ids).toContain('trace-1');
    });

    it('a model with INT64 inputs reads the body with exact integers: an id or a parameter past 2^53 is a 400 that quotes its digits, never a 500', async () => {
      const input = '{"name":"x","shape":[1],"datatype":"INT64","data":[1]}';
      for (const [body, message] of [
        [`{"id":9007199254740993,"inputs":[${input}]}`, /"id" must be 1–128 visible ASCII characters \(no spaces\), got 9007199254740993$/],
        [`{"id":{"a":[9007199254740993]},"inputs":[${input}]}`, /got \{"a":\[9007199254740993n\]\}$/],
        [`{"parameters":{"binary_data_output":9007199254740993},"inputs":[${input}]}`, /binary_data_output must be a boolean, got 9007199254740993$/],
      ] as const) {
        const response = await post(`${url}/v2/models/id-int64/infer`, body, { 'content-type': 'application/json' });
        expect(response.status, response.text).toBe(400);
        expect(response.body).toEqual({ error: expect.stringMatching(message) });
      }
    });

    it('addresses a version with /versions/{v}/infer', async () => {
      const { status, body } = await post(`${url}/v2/models/affine/versions/1/infer`, { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 1, 1, 1] }] });
      expect(status).toBe(200);
      expect(body).toMatchObject({ model_name: 'affine', model_version: '1', outputs: [{ data: [3, 3, 3, 3] }] });
      expect((await post(`${url}/v2/models/affine/versions/3/infer`, { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 1, 1, 1] }] })).status).toBe(404);
    });

    it.each([
      ['no inputs', {}, /non-empty "inputs" array/],
      ['inputs not an array', { inputs: { x: [1] } }, /non-empty "inputs" array/],
      ['an input without name', { inputs: [{ shape: [1, 4], datatype: 'FP32', data: [0, 0, 0, 0] }] }, /"name" string/],
      ['a negative dimension', { inputs: [{ name: 'x', shape: [-1, 4], datatype: 'FP32', data: [0, 0, 0, 0] }] }, /"shape" must be an array of non-negative integers/],
      ['no data', { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32' }] }, /needs "data"/],
      ['an unknown input', { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [0, 0, 0, 0] }, { name: 'z', shape: [1], datatype: 'FP32', data: [0] }] }, /'z'/],
      ['strings for FP32', { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: ['a', 'b', 'c', 'd'] }] }, /expected numbers/],
      ['a JSON array body', [], /JSON object/],
    ])('%s is 400 { error }', async (_title, body, message) => {
      const response = await post(`${url}/v2/models/affine/infer`, body);
      expect(response.status).toBe(400);
      expect(response.body).toEqual({ error: expect.stringMatching(message) });
    });
  });

  describe('binary tensor data extension', () => {
    it("takes the extension's example request (16 + 3 bytes of input) and answers output0 as 24 bytes", async () => {
      const header = {
        model_name: 'mymodel',
        inputs: [
          { name: 'input0', shape: [2, 2], datatype: 'UINT32', parameters: { binary_data_size: 16 } },
          { name: 'input1', shape: [3], datatype: 'BOOL', parameters: { binary_data_size: 3 } },
        ],
        outputs: [{ name: 'output0', parameters: { binary_data: true } }],
      };
      const input0 = new Uint8Array(new Uint32Array([1, 2, 3, 4]).buffer); // little-endian on every platform Node runs on
      const input1 = new Uint8Array([1, 0, 1]);
      const { body, headerLength } = binaryBody(header, input0, input1);
      const response = await fetch(`${url}/v2/models/mymodel/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(headerLength) },
        body,
      });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/octet-stream');
      const { header: json, tail } = await binaryResponse(response);
      expect(json).toEqual({
        model_name: 'mymodel',
        model_version: '1',
        id: response.headers.get('x-request-id'),
        outputs: [{ name: 'output0', shape: [3, 2], datatype: 'FP32', parameters: { binary_data_size: 24 } }],
      });
      expect(tail.byteLength).toBe(24);
      expect(new Float32Array(tail.buffer, tail.byteOffset, 6)).toEqual(new Float32Array(OUTPUT0));
      expect(mymodel.seen!['input0']).toEqual({ data: new Uint32Array([1, 2, 3, 4]), shape: [2, 2], dtype: 'uint32' });
      expect(mymodel.seen!['input1']).toEqual({ data: new Uint8Array([1, 0, 1]), shape: [3], dtype: 'bool' });
    });

    it('mixes binary and JSON inputs; binary parts follow in the order of the inputs that have them', async () => {
      const header = {
        inputs: [
          { name: 'input0', shape: [2, 2], datatype: 'UINT32', data: [[5, 6], [7, 8]] },
          { name: 'input1', shape: [3], datatype: 'BOOL', parameters: { binary_data_size: 3 } },
        ],
      };
      const { body, headerLength } = binaryBody(header, new Uint8Array([0, 1, 0]));
      const { status, body: json } = await request(`${url}/v2/models/mymodel/infer`, { body, headers: { 'inference-header-content-length': String(headerLength) } });
      expect(status).toBe(200);
      expect(json.outputs[0]).toMatchObject({ name: 'output0', data: expect.any(Array) }); // no binary output asked for: JSON
      expect(mymodel.seen!['input0']!.data).toEqual(new Uint32Array([5, 6, 7, 8]));
      expect(mymodel.seen!['input1']!.data).toEqual(new Uint8Array([0, 1, 0]));
    });

    it('"binary_data_output": true returns every output as binary unless an output says "binary_data": false', async () => {
      const inputs = [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [1, 2] }];
      const all = await fetch(`${url}/v2/models/two-outputs/infer`, { method: 'POST', body: JSON.stringify({ inputs, parameters: { binary_data_output: true }, outputs: [{ name: 'double' }, { name: 'plus_one' }] }) });
      const everything = await binaryResponse(all);
      expect(everything.header.outputs).toEqual([
        { name: 'double', datatype: 'FP32', shape: [1, 2], parameters: { binary_data_size: 8 } },
        { name: 'plus_one', datatype: 'FP32', shape: [1, 2], parameters: { binary_data_size: 8 } },
      ]);
      expect(new Float32Array(everything.tail.buffer)).toEqual(new Float32Array([2, 4, 2, 3]));

      const overridden = await fetch(`${url}/v2/models/two-outputs/infer`, {
        method: 'POST',
        body: JSON.stringify({ inputs, parameters: { binary_data_output: true }, outputs: [{ name: 'double' }, { name: 'plus_one', parameters: { binary_data: false } }] }),
      });
      const mixed = await binaryResponse(overridden);
      expect(mixed.header.outputs).toEqual([
        { name: 'double', datatype: 'FP32', shape: [1, 2], parameters: { binary_data_size: 8 } },
        { name: 'plus_one', datatype: 'FP32', shape: [1, 2], data: [2, 3] },
      ]);
      expect(new Float32Array(mixed.tail.buffer)).toEqual(new Float32Array([2, 4]));
    });

    it('round-trips BYTES (length-prefixed), FP16 (half bits) and INT64 as binary', async () => {
      const strings = bytesElements('héllo', '', 'x');
      const s = binaryBody({ inputs: [{ name: 'x', shape: [3], datatype: 'BYTES', parameters: { binary_data_size: strings.byteLength } }], outputs: [{ name: 'y', parameters: { binary_data: true } }] }, strings);
      const stringsOut = await binaryResponse(await fetch(`${url}/v2/models/id-string/infer`, { method: 'POST', headers: { 'inference-header-content-length': String(s.headerLength) }, body: s.body }));
      expect(stringsOut.header.outputs).toEqual([{ name: 'y', datatype: 'BYTES', shape: [3], parameters: { binary_data_size: strings.byteLength } }]);
      expect(stringsOut.tail).toEqual(strings);

      const halves = new Uint8Array(new Uint16Array([0x3c00, 0xc000, 0x3800]).buffer); // 1, -2, 0.5
      const h = binaryBody({ inputs: [{ name: 'x', shape: [3], datatype: 'FP16', parameters: { binary_data_size: 6 } }] }, halves);
      const halvesOut = await request(`${url}/v2/models/id-float16/infer`, { body: h.body, headers: { 'inference-header-content-length': String(h.headerLength) } });
      expect(halvesOut.body.outputs).toEqual([{ name: 'y', datatype: 'FP16', shape: [3], data: [1, -2, 0.5] }]);

      const longs = new Uint8Array(BigInt64Array.from([-(2n ** 63n), 2n ** 63n - 1n]).buffer);
      const l = binaryBody({ inputs: [{ name: 'x', shape: [2], datatype: 'INT64', parameters: { binary_data_size: 16 } }], parameters: { binary_data_output: true } }, longs);
      const longsOut = await binaryResponse(await fetch(`${url}/v2/models/id-int64/infer`, { method: 'POST', headers: { 'inference-header-content-length': String(l.headerLength) }, body: l.body }));
      expect(new BigInt64Array(longsOut.tail.buffer)).toEqual(BigInt64Array.from([-(2n ** 63n), 2n ** 63n - 1n])); // exact, unlike JSON numbers
    });

    it('a binary part that does not match its binary_data_size, shape or Inference-Header-Content-Length is 400', async () => {
      const send = (body: Uint8Array, headerLength: number) => request(`${url}/v2/models/mymodel/infer`, { body, headers: { 'inference-header-content-length': String(headerLength) } });
      const short = binaryBody({ inputs: [{ name: 'input0', shape: [2, 2], datatype: 'UINT32', parameters: { binary_data_size: 16 } }] }, new Uint8Array(8));
      expect(await send(short.body, short.headerLength)).toMatchObject({ status: 400, body: { error: expect.stringMatching(/binary_data_size 16 does not match/) } });
      const wrongSize = binaryBody({ inputs: [{ name: 'input0', shape: [2, 2], datatype: 'UINT32', parameters: { binary_data_size: 8 } }] }, new Uint8Array(8));
      expect(await send(wrongSize.body, wrongSize.headerLength)).toMatchObject({ status: 400, body: { error: expect.stringMatching(/input .input0.: has 8 bytes, but 4 elements of UINT32 need 16/) } });
      expect(await send(short.body, short.body.byteLength + 1)).toMatchObject({ status: 400, body: { error: expect.stringMatching(/Inference-Header-Content-Length/) } });
      expect(await send(short.body, 3)).toMatchObject({ status: 400, body: { error: expect.stringMatching(/not valid JSON/) } });
    });
  });
});

describe('KServe v2 health follows the lifecycle', () => {
  const { serve: serveTracked } = useServers();

  it('/v2/health/ready and the model ready route are 503 while a version loads, 200 once it is ready', async () => {
    const gate = deferred();
    const host = new ModelHost({ runtimes: { fake: fakeRuntime({ loadGate: () => gate.promise }) } });
    const { url } = await serveTracked(host);
    const loading = host.load('m', { source: FAKE_SOURCE });
    await expect.poll(() => host.status().length).toBe(1);
    expect(await get(`${url}/v2/health/ready`)).toMatchObject({ status: 503, body: { ready: false } });
    expect(await get(`${url}/v2/models/m/ready`)).toMatchObject({ status: 503, body: { name: 'm', ready: false } });
    expect(await get(`${url}/v2/health/live`)).toMatchObject({ status: 200, body: { live: true } });
    gate.resolve();
    await loading;
    expect((await get(`${url}/v2/health/ready`)).status).toBe(200);
    expect((await get(`${url}/v2/models/m/ready`)).status).toBe(200);
  });

  it('/v2/health/ready is 503 once the host is closing, /v2/health/live once it is closed', async () => {
    const host = new ModelHost({ runtimes: { fake: fakeRuntime() } });
    await host.load('m', { source: FAKE_SOURCE });
    const { url } = await serveTracked(host);
    await host.close();
    expect(await get(`${url}/v2/health/ready`)).toMatchObject({ status: 503, body: { ready: false } });
    expect(await get(`${url}/v2/health/live`)).toMatchObject({ status: 503, body: { live: false } });
  });
});

describe('KServe model_version names the version that answered', () => {
  const { serve: serveTracked } = useServers();

  it('during a canary: left out of unpinned answers (either version may have run), given for pinned ones; after promote, the new default', async () => {
    const root = await tempDir();
    for (const v of [1, 2]) await writeVersion(root, 'm', v, { 'model.fake': 'fake' });
    // y = x × version: the answer tells which version ran.
    const host = new ModelHost({ repository: root, runtimes: { versioned: versionedRuntime() }, defaults: { rollout: { enabled: false } } });
    await host.load('m', { version: 1 });
    await host.deploy('m', 2, { canary: 0.5 });
    const { url } = await serveTracked(host);
    const body = { inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [1, 1] }] };
    const answers = new Set<number>();
    for (let i = 0; i < 4; i++) {
      const { body: out } = await post(`${url}/v2/models/m/infer`, body);
      expect(out).not.toHaveProperty('model_version');
      answers.add(out.outputs[0].data[0]);
    }
    expect([...answers].sort()).toEqual([1, 2]); // both versions answered
    for (const v of [1, 2]) {
      const { body: out } = await post(`${url}/v2/models/m/versions/${v}/infer`, body);
      expect(out).toMatchObject({ model_version: String(v), outputs: [{ data: [v, v] }] });
    }
    await host.promote('m');
    expect((await post(`${url}/v2/models/m/infer`, body)).body).toMatchObject({ model_version: '2', outputs: [{ data: [2, 2] }] });
  });
});

describe('KServe model repository extension (load and unload are admin routes: they need authorize)', () => {
  const { serve: serveTracked } = useServers();

  it('index lists the loaded models; load and unload change what serves', async () => {
    const root = await tempDir();
    await writeVersion(root, 'affine', 1, { 'model.onnx': onnxAffine() });
    await writeVersion(root, 'affine', 2, { 'model.onnx': onnxAffine({ scale: 3 }) });
    const host = new ModelHost({ repository: root });
    const { url } = await serveTracked(host, { authorize: () => true });

    expect(await post(`${url}/v2/repository/index`, {})).toMatchObject({ status: 200, body: [] });
    // $repository_load_request: an empty body, or { parameters }
    expect(await post(`${url}/v2/repository/models/affine/load`)).toMatchObject({ status: 200, body: { model: 'affine', version: 2, versions: [2] } });
    expect(await post(`${url}/v2/repository/models/affine/load`, { parameters: { version: 1 } })).toMatchObject({ status: 200, body: { model: 'affine', version: 1 } });
    const index = await post(`${url}/v2/repository/index`, { ready: false });
    expect(index.body).toEqual([
      { name: 'affine', version: '2', state: 'READY', reason: '' },
      { name: 'affine', version: '1', state: 'READY', reason: '' },
    ]);
    expect((await get(`${url}/v2/models/affine/ready`)).status).toBe(200);

    expect(await post(`${url}/v2/repository/models/affine/unload`, { parameters: { unload_dependents: false } })).toMatchObject({ status: 200, body: { model: 'affine', unloaded: true } });
    expect(await get(`${url}/v2/models/affine/ready`)).toMatchObject({ status: 404, body: { error: expect.stringMatching(/not loaded/) } });
    const infer = await post(`${url}/v2/models/affine/infer`, { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [0, 0, 0, 0] }] });
    expect(infer).toMatchObject({ status: 404, body: { error: expect.stringMatching(/not loaded/) } }); // every version unloaded: the model is gone
    expect(await post(`${url}/v2/repository/index`)).toMatchObject({ status: 200, body: [] });
  });

  it('the index takes only {"ready": bool}: ready keeps the READY versions, any other key or value is 400 naming it', async () => {
    let loads = 0;
    const gate = deferred();
    // The first load passes; the second one waits, so its version stays LOADING.
    const host = new ModelHost({ runtimes: { fake: fakeRuntime({ loadGate: () => (loads++ === 0 ? Promise.resolve() : gate.promise) }) } });
    const { url } = await serveTracked(host);
    await host.load('a', { source: FAKE_SOURCE });
    const loading = host.load('b', { source: FAKE_SOURCE });
    await expect.poll(() => host.status().length).toBe(2);
    expect((await post(`${url}/v2/repository/index`, { ready: false })).body).toHaveLength(2);
    expect(await post(`${url}/v2/repository/index`, { ready: true })).toMatchObject({ status: 200, body: [{ name: 'a', version: '1', state: 'READY', reason: '' }] });
    gate.resolve();
    await loading;
    expect(await post(`${url}/v2/repository/index`, { readdy: true })).toMatchObject({ status: 400, body: { error: expect.stringMatching(/unknown key "readdy" \(did you mean "ready"\?\); accepted keys: "ready"/) } });
    expect(await post(`${url}/v2/repository/index`, { ready: 'yes' })).toMatchObject({ status: 400, body: { error: '"ready" must be true or false, got "yes"' } });
    expect(await post(`${url}/v2/repository/index`, [1])).toMatchObject({ status: 400, body: { error: 'the request body must be a JSON object' } });
  });

  it('a load of a model the repository does not have is 404; without authorize load and unload are 403 (the read-only index stays open)', async () => {
    const root = await tempDir();
    const open = await serveTracked(new ModelHost({ repository: root }), { authorize: () => true });
    expect(await post(`${open.url}/v2/repository/models/ghost/load`)).toMatchObject({ status: 404, body: { error: expect.any(String) } });
    const closed = await serveTracked(new ModelHost({ repository: root }));
    expect(await post(`${closed.url}/v2/repository/index`)).toMatchObject({ status: 200, body: [] });
    for (const path of ['/v2/repository/models/ghost/load', '/v2/repository/models/ghost/unload']) {
      expect(await post(`${closed.url}${path}`), path).toMatchObject({ status: 403, body: { error: expect.stringMatching(/admin routes are disabled/) } });
    }
  });
});
