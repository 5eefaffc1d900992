/**
 * Issue 12, "Exact tensors at the protocol boundary": each input found by replaying other
 * servers' bug reports, kept as a test of the class it belongs to.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ModelHost, type Tensor } from '../../../src/index.js';
import { IDENTITY_DTYPES, onnxIdentity } from '../../fixtures/onnx-models.js';
import { FAKE_SOURCE, fakeRuntime, type FakeRuntime } from '../../helpers/fake-runtime.js';
import { createHttpHandler } from '../../../src/adapters/http/index.js';
import { get, post, request, useServers, type Served, serve } from './serve.js';

const JPEG_HEADER = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x80, 0xfe]);

/** A BYTES identity in JS: carries any bytes, unlike onnxruntime-node's C strings. */
function bytesIdentity(): FakeRuntime & { seen: Tensor[] } {
  const seen: Tensor[] = [];
  const runtime = fakeRuntime({
    name: 'bytes',
    signature: { inputs: [{ name: 'x', dtype: 'string', shape: [-1] }], outputs: [{ name: 'y', dtype: 'string', shape: [-1] }] },
    compute: (inputs) => {
      seen.push(inputs['x']!);
      return { y: { ...inputs['x']!, dtype: 'string' } };
    },
  });
  runtime.canLoad = (files) => files.includes('model.bytes');
  return Object.assign(runtime, { seen });
}

function lengthPrefixed(...items: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(items.reduce((n, p) => n + 4 + p.byteLength, 0));
  const view = new DataView(out.buffer);
  let offset = 0;
  for (const item of items) {
    view.setUint32(offset, item.byteLength, true);
    out.set(item, offset + 4);
    offset += 4 + item.byteLength;
  }
  return out;
}

function binaryRequest(header: unknown, ...parts: Uint8Array[]): { body: Uint8Array; headers: Record<string, string> } {
  const head = new TextEncoder().encode(JSON.stringify(header));
  const body = new Uint8Array(head.byteLength + parts.reduce((n, p) => n + p.byteLength, 0));
  body.set(head);
  let offset = head.byteLength;
  for (const part of parts) {
    body.set(part, offset);
    offset += part.byteLength;
  }
  return { body, headers: { 'inference-header-content-length': String(head.byteLength), 'content-type': 'application/octet-stream' } };
}

async function binaryResponse(response: Response): Promise<{ header: any; tail: Uint8Array }> {
  const bytes = new Uint8Array(await response.arrayBuffer());
  const length = Number(response.headers.get('inference-header-content-length'));
  return { header: JSON.parse(new TextDecoder().decode(bytes.subarray(0, length))), tail: bytes.slice(length) };
}

describe('exact tensors at the protocol boundary (issue 12)', () => {
  let host: ModelHost;
  let served: Served;
  let url: string;
  const bytes = bytesIdentity();
  const counted = fakeRuntime({ name: 'counted' });

  beforeAll(async () => {
    host = new ModelHost({ runtimes: { bytes, counted } });
    for (const dtype of IDENTITY_DTYPES) await host.load(`id-${dtype}`, { source: onnxIdentity(dtype) });
    await host.load('bytes-id', { source: { files: { 'model.bytes': 'x' } } });
    await host.load('affine', { source: FAKE_SOURCE });
    expect(host.metadata('bytes-id').runtime).toBe('bytes');
    expect(host.metadata('affine').runtime).toBe('counted');
    served = await serve(host);
    url = served.url;
  });

  afterAll(async () => {
    await served?.close();
    await host?.close();
  });

  const infer = (model: string, inputs: unknown[], extra: Record<string, unknown> = {}) => post(`${url}/v2/models/${model}/infer`, { inputs, ...extra });
  const predict = (model: string, body: unknown) => post(`${url}/v1/models/${model}:predict`, body);

  describe('1. base64 is strict (TF Serving b64)', () => {
    it.each([
      ['@@@@not base64!!', /character "@" at 0 is not in the standard alphabet/],
      ['%%%', /character "%" at 0/],
      ['aGk', /length 3 is not a multiple of 4: padding with '=' is required/],
      ['_-8=', /URL-safe alphabet is not accepted/],
      ['aGl=', /bits after the last byte are not zero/],
      ['a=Gk', /'=' may only pad the end/],
    ])('%j → 400 naming the element and the reason', async (b64, reason) => {
      const { status, body } = await predict('bytes-id', { instances: [{ b64: 'aGk=' }, { b64 }] });
      expect(status).toBe(400);
      expect(body.error).toMatch(/instances\[1\]: "b64" is not strict base64/);
      expect(body.error).toMatch(reason);
    });

    it('a valid b64 value reaches the model as its bytes, and comes back as b64 when not UTF-8', async () => {
      const b64 = Buffer.from(JPEG_HEADER).toString('base64');
      const { status, body } = await predict('bytes-id', { instances: [{ b64 }, 'text'] });
      expect(status).toBe(200);
      expect(body).toEqual({ predictions: [{ b64 }, 'text'] });
    });
  });

  describe('2. BYTES are bytes end to end', () => {
    it('12 raw bytes of a JPEG header through the binary extension come back byte for byte', async () => {
      const req = binaryRequest({ inputs: [{ name: 'x', datatype: 'BYTES', shape: [1], parameters: { binary_data_size: 16 } }], parameters: { binary_data_output: true } }, lengthPrefixed(JPEG_HEADER));
      const response = await fetch(`${url}/v2/models/bytes-id/infer`, { method: 'POST', body: req.body, headers: req.headers });
      expect(response.status).toBe(200);
      const { header, tail } = await binaryResponse(response);
      expect(header.outputs).toEqual([{ name: 'y', datatype: 'BYTES', shape: [1], parameters: { binary_data_size: 16 } }]);
      expect(tail).toEqual(lengthPrefixed(JPEG_HEADER));
    });

    it('the same bytes asked for as JSON are refused, pointing at the binary extension, never replaced by U+FFFD', async () => {
      const req = binaryRequest({ inputs: [{ name: 'x', datatype: 'BYTES', shape: [1], parameters: { binary_data_size: 16 } }] }, lengthPrefixed(JPEG_HEADER));
      const response = await fetch(`${url}/v2/models/bytes-id/infer`, { method: 'POST', body: req.body, headers: req.headers });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: string }).error).toMatch(/output 'y': element 0 holds 12 bytes that are not UTF-8 text; ask for outputs in binary/);
    });

    it('b64 bytes reach the model as the bytes sent (not a Latin-1 re-encoding)', async () => {
      bytes.seen.length = 0;
      const { body } = await predict('bytes-id', { inputs: [{ b64: Buffer.from(JPEG_HEADER).toString('base64') }] });
      expect(bytes.seen.map((t) => t.data)).toEqual([[JPEG_HEADER]]);
      expect(body).toEqual({ outputs: [{ b64: Buffer.from(JPEG_HEADER).toString('base64') }] });
    });

    it('onnxruntime-node cannot carry NUL or non-UTF-8: INVALID_INPUT saying so, never a truncated string', async () => {
      const req = binaryRequest({ inputs: [{ name: 'x', datatype: 'BYTES', shape: [1], parameters: { binary_data_size: 16 } }] }, lengthPrefixed(JPEG_HEADER));
      const response = await fetch(`${url}/v2/models/id-string/infer`, { method: 'POST', body: req.body, headers: req.headers });
      expect(response.status).toBe(400);
      expect(response.headers.get('x-modelhost-error-code')).toBe('INVALID_INPUT');
      expect(((await response.json()) as { error: string }).error).toMatch(/input 'x': element 0 holds 12 bytes that are not UTF-8 text, and this model's runtime \(onnxruntime-node string tensors\) carries only UTF-8 text/);
      const nul = await infer('id-string', [{ name: 'x', datatype: 'BYTES', shape: [1], data: ['a\u0000b'] }]);
      expect(nul.status).toBe(400);
      expect(nul.body.error).toMatch(/element 0 contains a NUL byte.*refused rather than truncated/);
    });

    it('library callers may still pass strings, and bytes as Uint8Array', async () => {
      const out = await host.predictBatch('bytes-id', { x: ['text', JPEG_HEADER] });
      expect(out['y']!.data).toEqual(['text', JPEG_HEADER]);
    });
  });

  describe('3. FP16 from JSON rounds half to even', () => {
    it.each([
      [1.00048828125, 1],
      [2 ** -25, 0],
      [1.00146484375, 1.001953125], // tie between 1+2^-10 and 1+2^-9: to the even one
      [1 + 2 ** -11 + 2 ** -40, 1.0009765625], // just above the tie: up (no double rounding via float32)
    ])('%d → %d', async (sent, expected) => {
      const { status, body } = await infer('id-float16', [{ name: 'x', datatype: 'FP16', shape: [1], data: [sent] }]);
      expect(status).toBe(200);
      expect(body.outputs[0].data).toEqual([expected]);
    });

    it('a JSON literal past the largest double (1e400) is refused, not read as Infinity', async () => {
      const raw = '{"inputs":[{"name":"x","datatype":"FP64","shape":[1],"data":[1e400]}]}';
      const { status, body } = await request(`${url}/v2/models/id-float64/infer`, { method: 'POST', body: raw });
      expect(status).toBe(400);
      expect(body.error).toMatch(/a number too large for a double/);
    });

    it('a value past the largest half is refused, not turned into Infinity', async () => {
      const { status, body } = await infer('id-float16', [{ name: 'x', datatype: 'FP16', shape: [1], data: [70000] }]);
      expect(status).toBe(400);
      expect(body.error).toMatch(/value 70000 at element 0 is too large for dtype float16/);
    });
  });

  describe('4. INT64 / UINT64 in JSON are exact both ways', () => {
    it('KServe: 2^53, 2^53+1, ±(2^63-1) and -2^63 come back with every digit', async () => {
      const digits = ['9007199254740992', '9007199254740993', '9223372036854775807', '-9223372036854775807', '-9223372036854775808'];
      const raw = `{"inputs":[{"name":"x","datatype":"INT64","shape":[5],"data":[${digits.join(',')}]}]}`;
      const { status, text } = await request(`${url}/v2/models/id-int64/infer`, { method: 'POST', body: raw, headers: { 'content-type': 'application/json' } });
      expect(status).toBe(200);
      expect(text).toContain(`"data":[${digits.join(',')}]`);
    });

    it('a body large enough to be parsed ahead of routing (largeBodyBytes) keeps every digit too', async () => {
      const eager = await serve(host, { limits: { largeBodyBytes: 10 } });
      try {
        const raw = '{"inputs":[{"name":"x","datatype":"INT64","shape":[2],"data":[9007199254740993,-9223372036854775808]}]}';
        const { status, text } = await request(`${eager.url}/v2/models/id-int64/infer`, { method: 'POST', body: raw, headers: { 'content-type': 'application/json' } });
        expect(status, text).toBe(200);
        expect(text).toContain('"data":[9007199254740993,-9223372036854775808]');
        const predicted = await request(`${eager.url}/v1/models/id-uint64:predict`, { method: 'POST', body: '{"instances":[18446744073709551615]}' });
        expect(predicted.text).toBe('{"predictions":[18446744073709551615]}');
      } finally {
        await eager.close();
      }
    });

    it('a body parsed ahead (largeBodyBytes) is read as UTF-8 like a small one: invalid bytes refused, never replaced; a BOM dropped', async () => {
      const eager = await serve(host, { limits: { largeBodyBytes: 10 } });
      try {
        const invalid = Buffer.concat([Buffer.from('{"inputs":[{"name":"x","datatype":"BYTES","shape":[1],"data":["a'), Buffer.from([0xc3, 0x28]), Buffer.from('"]}]}')]);
        for (const target of [url, eager.url]) {
          const refused = await request(`${target}/v2/models/bytes-id/infer`, { method: 'POST', body: invalid, headers: { 'content-type': 'application/json' } });
          expect(refused.status, refused.text).toBe(400);
          expect(refused.body.error).toBe('the request body is not UTF-8 text; JSON must be');
          const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"inputs":[{"name":"x","datatype":"BYTES","shape":[1],"data":["é"]}]}')]);
          const accepted = await request(`${target}/v2/models/bytes-id/infer`, { method: 'POST', body: bom, headers: { 'content-type': 'application/json' } });
          expect(accepted.status, accepted.text).toBe(200);
          expect(accepted.body.outputs[0].data).toEqual(['é']);
        }
      } finally {
        await eager.close();
      }
    });

    it('an integer past 2^53 written with a fraction or an exponent (1e18, 2^53+1 as 9007199254740993.0) is read exactly, not refused with in-process advice', async () => {
      const raw = '{"inputs":[{"name":"x","datatype":"INT64","shape":[4],"data":[1e18,9007199254740993.0,-9.223372036854775808e18,123456789012345678.9e1]}]}';
      const { status, text } = await request(`${url}/v2/models/id-int64/infer`, { method: 'POST', body: raw, headers: { 'content-type': 'application/json' } });
      expect(status, text).toBe(200);
      expect(text).toContain('"data":[1000000000000000000,9007199254740993,-9223372036854775808,1234567890123456789]');
      const predicted = await request(`${url}/v1/models/id-uint64:predict`, { method: 'POST', body: '{"instances":[1.8446744073709551615e19]}' });
      expect(predicted.text).toBe('{"predictions":[18446744073709551615]}');
      // Not an integer: still refused.
      const half = await request(`${url}/v2/models/id-int64/infer`, { method: 'POST', body: '{"inputs":[{"name":"x","datatype":"INT64","shape":[1],"data":[9007199254740993.5]}]}' });
      expect(half.status).toBe(400);
    });

    it('UINT64 up to 2^64-1; TF Serving too', async () => {
      const raw = '{"instances":[0,18446744073709551615,9007199254740993]}';
      const { status, text } = await request(`${url}/v1/models/id-uint64:predict`, { method: 'POST', body: raw });
      expect(status).toBe(200);
      expect(text).toBe('{"predictions":[0,18446744073709551615,9007199254740993]}');
    });

    // A message echoes a received integer with every digit, whatever the model's dtypes (JSON.parse would round 2^53+1 to 2^53).
    it.each([
      ['a KServe shape dim (FP32 model)', '/v2/models/id-float32/infer', '{"inputs":[{"name":"x","datatype":"FP32","shape":[9007199254740993],"data":[1]}]}', `input 'x': "shape" must be an array of non-negative integers, got [9007199254740993]`],
      ['a KServe shape dim (INT64 model)', '/v2/models/id-int64/infer', '{"inputs":[{"name":"x","datatype":"INT64","shape":[1,9007199254740993],"data":[1]}]}', `input 'x': "shape" must be an array of non-negative integers, got [1,9007199254740993]`],
      ['an INT32 value', '/v2/models/id-int32/infer', '{"inputs":[{"name":"x","datatype":"INT32","shape":[1],"data":[9007199254740993]}]}', /value 9007199254740993 at element 0 is out of range for dtype int32/],
      ['an INT64 value past 2^63', '/v2/models/id-int64/infer', '{"inputs":[{"name":"x","datatype":"INT64","shape":[1],"data":[9223372036854775808]}]}', /value 9223372036854775808 at element 0 is out of range for dtype int64/],
      ['a TF Serving INT32 instance', '/v1/models/id-int32:predict', '{"instances":[-9007199254740993]}', /value -9007199254740993 at element 0 is out of range for dtype int32/],
      ['a KServe id', '/v2/models/id-int64/infer', '{"id":9007199254740993,"inputs":[{"name":"x","datatype":"INT64","shape":[1],"data":[1]}]}', '"id" must be 1–128 visible ASCII characters (no spaces), got 9007199254740993'],
      ['binary_data_output', '/v2/models/id-float32/infer', '{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[1]}],"parameters":{"binary_data_output":18446744073709551617}}', 'parameters.binary_data_output must be a boolean, got 18446744073709551617'],
      ['a shape whose element count passes 2^53', '/v2/models/id-float32/infer', '{"inputs":[{"name":"x","datatype":"FP32","shape":[4294967296,4294967297],"data":[1]}]}', "input 'x': 1 elements but shape [4294967296, 4294967297] holds 18446744078004518912"],
    ])('%s past 2^53 is echoed exactly in its 400', async (_title, path, body, message) => {
      const response = await request(`${url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      expect(response.status, response.text).toBe(400);
      if (typeof message === 'string') expect(response.body.error).toBe(message);
      else expect(response.body.error).toMatch(message);
    });

    it('the lossless parser meets deep nesting with a 400, like JSON.parse', async () => {
      const deep = `{"inputs":[{"name":"x","datatype":"INT64","shape":[1],"data":${'['.repeat(200_000)}1${']'.repeat(200_000)}}]}`;
      const { status, body } = await request(`${url}/v2/models/id-int64/infer`, { method: 'POST', body: deep });
      expect(status).toBe(400);
      expect(body.error).toBe("the JSON body nests deeper than 64 levels");
    });

    it('out of range is refused with the exact value it was given', async () => {
      const raw = '{"inputs":[{"name":"x","datatype":"INT64","shape":[1],"data":[9223372036854775808]}]}';
      const { status, body } = await request(`${url}/v2/models/id-int64/infer`, { method: 'POST', body: raw });
      expect(status).toBe(400);
      expect(body.error).toMatch(/value 9223372036854775808 at element 0 is out of range for dtype int64/);
    });
  });

  describe('5. client names are looked up as data, refused before the model runs', () => {
    it.each([[{ name: 'toString' }], [{ name: '__proto__' }], [{ name: 'constructor' }], [null], [{ name: 'hasOwnProperty' }]])('outputs: [%j] → 400, no run', async (output) => {
      const before = counted.runs;
      const { status, body } = await infer('affine', [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }], { outputs: [output] });
      expect(status).toBe(400);
      expect(body.error).toMatch(/outputs\[0\] must be an object|is not an output of model 'affine'/);
      expect(counted.runs).toBe(before);
    });

    it('an input named __proto__ is an unknown input, not x', async () => {
      const before = counted.runs;
      const raw = '{"inputs":[{"name":"__proto__","datatype":"FP32","shape":[1,4],"data":[1,2,3,4]}]}';
      const { status, body } = await request(`${url}/v2/models/affine/infer`, { method: 'POST', body: raw });
      expect(status).toBe(400);
      expect(body.error).toMatch(/input 'x': is missing.*unknown input '__proto__'/);
      const tf = await request(`${url}/v1/models/affine:predict`, { method: 'POST', body: '{"inputs":{"__proto__":[[1,2,3,4]]}}' });
      expect(tf.status).toBe(400);
      expect(counted.runs).toBe(before);
    });

    it('duplicate input or output names are 400, not "the last one wins"', async () => {
      const x = { name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] };
      expect(await infer('affine', [x, { ...x, data: [5, 6, 7, 8] }])).toMatchObject({ status: 400, body: { error: "input 'x' is given twice" } });
      expect(await infer('affine', [x], { outputs: [{ name: 'y' }, { name: 'y' }] })).toMatchObject({ status: 400, body: { error: 'output "y" is requested twice' } });
    });

    it('TF Serving row format: a misnamed key says which inputs are known', async () => {
      const { status, body } = await predict('affine', { instances: [{ xx: [1, 2, 3, 4] }] });
      expect(status).toBe(400);
      expect(body.error).toBe('instances[0] has unknown input "xx" (known inputs: "x")');
    });
  });

  describe('6. shapes are checked against the body before anything is allocated', () => {
    /** `levels` deep, each level's first element nested further, the rest scalars: claims width^levels elements in a few KB. */
    function ragged(width: number, levels: number): unknown {
      let node: unknown = Array.from({ length: width }, () => 0);
      for (let level = 1; level < levels; level++) node = [node, ...Array.from({ length: width - 1 }, () => 0)];
      return node;
    }

    it.each([
      [100, 5],
      [60, 5],
    ])('TF Serving: %d wide, %d deep ragged → 400, not RangeError or gigabytes', async (width, levels) => {
      const body = JSON.stringify({ instances: [ragged(width, levels)] });
      expect(body.length).toBeLessThan(2048);
      const response = await request(`${url}/v1/models/id-float32:predict`, { method: 'POST', body });
      expect(response.status).toBe(400);
      expect(response.body.error).toMatch(/is ragged: expected an array of length \d+ at depth \d, got number 0/);
    });

    it('the library API throws ModelHostError(INVALID_INPUT), never RangeError', async () => {
      await expect(host.predictBatch('id-float32', ragged(100, 5))).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(/is ragged/) });
      const self: unknown[] = [];
      self.push(self);
      await expect(host.predictBatch('id-float32', self)).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(/nests deeper than 64 levels/) });
    });
  });

  describe('7. only the canonical decimal form names a version', () => {
    it.each(['01', '0x1', '1.0', '+1', '1e0', '%31', '1%20', '9007199254740993'])('%s is 404 on KServe and TF Serving', async (version) => {
      expect((await get(`${url}/v2/models/affine/versions/${version}`)).status).toBe(404);
      expect((await infer(`affine/versions/${version}`, [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }])).status).toBe(404);
      expect((await get(`${url}/v1/models/affine/versions/${version}`)).status).toBe(404);
      expect((await predict(`affine/versions/${version}`, { instances: [[1, 2, 3, 4]] })).status).toBe(404);
    });
  });
});

describe('admin routes parse versions with the same parser', () => {
  const { serve: serveTracked } = useServers();

  it('DELETE .../versions/0x1 (or 01, %31) is 404 and leaves v1 serving', async () => {
    const host = new ModelHost({ runtimes: { fake: fakeRuntime() } });
    await host.load('m', { source: FAKE_SOURCE });
    const { url } = await serveTracked(host, { authorize: () => true });
    for (const version of ['0x1', '01', '%31', '1.0', '+1']) {
      expect((await request(`${url}/admin/models/m/versions/${version}`, { method: 'DELETE' })).status).toBe(404);
    }
    expect(host.ready('m')).toBe(true);
    expect((await request(`${url}/admin/models/m/traffic`, { method: 'PUT', body: { weights: { '0x1': 100 } } })).status).toBe(400);
    expect((await request(`${url}/admin/models/m/versions/1`, { method: 'DELETE' })).status).toBe(200);
  });
});

describe('responses are bounded and written without stalling the event loop', () => {
  const { serve: serveTracked } = useServers();
  const ELEMENTS = 1_000_000;

  function bigOutput(onRun?: () => void) {
    return fakeRuntime({
      signature: { inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 1] }], outputs: [{ name: 'y', dtype: 'float32', shape: [-1, -1] }] },
      compute: (inputs) => {
        onRun?.();
        const rows = inputs['x']!.shape[0]!;
        const data = new Float32Array(rows * ELEMENTS);
        for (let i = 0; i < data.length; i++) data[i] = Math.fround(0.1 + i * 1e-7);
        return { y: { data, shape: [rows, ELEMENTS], dtype: 'float32' } };
      },
    });
  }

  it('maxResponseBytes must be a positive integer', () => {
    const host = new ModelHost();
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => createHttpHandler(host, { maxResponseBytes: bad })).toThrow(/`maxResponseBytes` must be a positive integer/);
    void host.close();
  });

  it('past maxResponseBytes a JSON response is a 400 pointing at the binary extension; binary fits', async () => {
    const host = new ModelHost({ runtimes: { fake: bigOutput() } });
    await host.load('big', { source: FAKE_SOURCE });
    const { url } = await serveTracked(host, { maxResponseBytes: 5 * 1024 * 1024 });
    const input = { name: 'x', datatype: 'FP32', shape: [1, 1], data: [1] };
    const refused = await post(`${url}/v2/models/big/infer`, { inputs: [input] });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatch(/the JSON response would be .* bytes, over the 5242880-byte bound \(maxResponseBytes\); ask for outputs in binary \("parameters": \{"binary_data_output": true\}/);
    const binary = await fetch(`${url}/v2/models/big/infer`, { method: 'POST', body: JSON.stringify({ inputs: [input], parameters: { binary_data_output: true } }) });
    expect(binary.status).toBe(200);
    expect((await binary.arrayBuffer()).byteLength).toBeGreaterThan(4 * ELEMENTS);
    const tf = await post(`${url}/v1/models/big:predict`, { instances: [[1]] });
    expect(tf.status).toBe(400);
    expect(tf.body.error).toMatch(/maxResponseBytes/);
  });

  it('/v2/health/live answers while a large JSON response is being written', async () => {
    let ran!: () => void;
    const running = new Promise<void>((resolve) => (ran = resolve));
    const host = new ModelHost({ runtimes: { fake: bigOutput(() => ran()) } });
    await host.load('big', { source: FAKE_SOURCE });
    const { url } = await serveTracked(host);
    const order: string[] = [];
    const big = post(`${url}/v2/models/big/infer`, { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 1], data: [1] }] }).then((r) => {
      order.push('big');
      return r;
    });
    await running;
    const live = await get(`${url}/v2/health/live`);
    order.push('live');
    expect(live).toMatchObject({ status: 200, body: { live: true } });
    const response = await big;
    expect(response.status).toBe(200);
    expect(response.body.outputs[0].data).toHaveLength(ELEMENTS);
    expect(order).toEqual(['live', 'big']);
  });
});

describe('the catch-all 500', () => {
  const { serve: serveTracked } = useServers();

  it('logs a non-ModelHostError with the request id through the host logger; bad input never reaches it', async () => {
    const logger = { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() };
    const host = new ModelHost({ logger, runtimes: { fake: fakeRuntime() } });
    await host.load('m', { source: FAKE_SOURCE });
    const metrics = { contentType: 'text/plain', metrics: () => Promise.reject(new TypeError('registry exploded')) };
    const { url } = await serveTracked(host, { metrics });
    const response = await get(`${url}/metrics`, { 'x-request-id': 'req-42' });
    expect(response).toMatchObject({ status: 500, body: { error: 'internal error' } });
    expect(logger.error).toHaveBeenCalledWith('unexpected error answered with 500', expect.objectContaining({ requestId: 'req-42', method: 'GET', path: '/metrics', error: expect.stringMatching(/TypeError: registry exploded/) }));
    logger.error.mockClear();
    expect((await post(`${url}/v2/models/m/infer`, { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: ['a', 2, 3, 4] }] })).status).toBe(400);
    expect(logger.error).not.toHaveBeenCalled();
  });
});
