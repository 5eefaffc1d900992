/**
 * The one-pass read of KServe JSON number inputs (issue 17, fourth pass): the limits walk
 * counts each input's `data` unread and one loop per array checks and converts it. It must
 * change nothing a client sees: for any infer body and any JSON limits, the answer (status,
 * headers, body, to the byte) is the one the strict path gives, which reads every value with
 * the walk and lets the host convert. The strict path is reached without a test hook: the same
 * body with `Inference-Header-Content-Length` equal to its length (the binary extension with no
 * binary part) is read by parseJson alone.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpHandler, type HttpResponse } from '../../../src/adapters/http/index.js';
import { parseJsonUnread } from '../../../src/adapters/http/json-body.js';
import { jsonNumbersInto } from '../../../src/adapters/http/json-numbers.js';
import { resolveHttpOptions, type HttpRequest } from '../../../src/adapters/http/http-types.js';
import { ModelHost, type Tensor } from '../../../src/index.js';
import { FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';

const signature = {
  inputs: [
    { name: 'a', dtype: 'float32', shape: [-1, 2] },
    { name: 'b', dtype: 'uint8', shape: [-1, 2] },
    { name: 'c', dtype: 'float64', shape: [-1, 2] },
  ],
  outputs: [
    { name: 'a_echo', dtype: 'float32', shape: [-1, 2] },
    { name: 'b_echo', dtype: 'uint8', shape: [-1, 2] },
    { name: 'c_echo', dtype: 'float64', shape: [-1, 2] },
  ],
} as const;

/** Echoes each input (a missing one as zeros of the first one's rows). */
function echo(inputs: Record<string, Tensor>): Record<string, Tensor> {
  return { a_echo: inputs['a']!, b_echo: inputs['b']!, c_echo: inputs['c']! };
}

let host: ModelHost;
beforeAll(async () => {
  host = new ModelHost({
    runtimes: { fake: fakeRuntime({ signature: signature as never, compute: echo }) },
    defaults: { batching: { maxBatchSize: 1, maxDelayMs: 0 }, warmup: false },
    models: { m: { runtime: 'fake' } },
  });
  await host.load('m', { source: FAKE_SOURCE });
});
afterAll(() => host.close());

async function answer(text: string, maxDepth: number, maxElements: number, strict: boolean): Promise<HttpResponse> {
  const body = Buffer.from(text);
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': 'r-1' };
  if (strict) headers['inference-header-content-length'] = String(body.byteLength);
  const handle = createHttpHandler(host, { json: { maxDepth, maxElements } });
  return (await handle({ method: 'POST', url: '/v2/models/m/infer', headers, body, signal: new AbortController().signal }))!;
}

const number = fc.oneof(
  fc.integer({ min: -3, max: 300 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom('9007199254740993', '9007199254740992', '-9007199254740991', '1e300', '1e400', '-1e400', '3.5e38', '0.5', '-0', '255', '256', '4294967296'),
);
const element = fc.oneof({ weight: 8, arbitrary: number.map(String) }, fc.constantFrom('"a"', 'true', 'null', '[1,2]', '{}'));
const data = fc.oneof(
  { weight: 6, arbitrary: fc.array(element, { maxLength: 6 }).map((list) => `[${list.join(',')}]`) },
  fc.array(fc.array(number.map(String), { minLength: 2, maxLength: 2 }), { maxLength: 3 }).map((rows) => `[${rows.map((r) => `[${r.join(',')}]`).join(',')}]`),
  fc.constantFrom('1', '"x"', 'null'),
);
const DATATYPES = ['FP32', 'FP64', 'UINT8', 'INT32', 'UINT32', 'INT8', 'BOOL', 'BYTES', 'FP16', 'X'];
/** An input as the model takes it most of the time (so that many bodies are answered 200), anything else otherwise. */
const input = (name: string, datatype: string, valid: fc.Arbitrary<string>) =>
  fc.record({
    name: fc.oneof({ weight: 30, arbitrary: fc.constant(name) }, fc.constantFrom('a', 'b', 'c', 'z')),
    shape: fc.oneof({ weight: 30, arbitrary: fc.constant('[1,2]') }, fc.constantFrom('[2,2]', '[1,3]', '[2]', '[-1,2]')),
    datatype: fc.oneof({ weight: 30, arbitrary: fc.constant(datatype) }, fc.constantFrom(...DATATYPES)),
    data: fc.oneof({ weight: 9, arbitrary: fc.array(valid, { minLength: 2, maxLength: 2 }).map((l) => `[${l.join(',')}]`) }, data),
    extra: fc.oneof({ weight: 20, arbitrary: fc.constant('') }, fc.constantFrom(',"parameters":{}', ',"parameters":{"deep":[[[[1]]]]}')),
  });
const inputs = fc.tuple(
  input('a', 'FP32', fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e30, max: 1e30 }), fc.integer()).map(String)),
  input('b', 'UINT8', fc.integer({ min: 0, max: 255 }).map(String)),
  input('c', 'FP64', fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e15, max: 1e15 }).map(String)),
);
const bodyText = fc
  .tuple(
    fc.oneof({ weight: 6, arbitrary: inputs.map((l) => [...l]) }, fc.array(fc.oneof(...['a', 'b', 'c'].map((name) => input(name, 'FP32', number.map(String)))), { maxLength: 4 })),
    fc.constantFrom('', '', '', ',"id":"q"', ',"id":9007199254740993', ',"outputs":[{"name":"a_echo"}]', ',"big":1e400'),
  )
  .map(([list, extra]) => `{"inputs":[${list.map((i) => `{"name":"${i.name}","shape":${i.shape},"datatype":"${i.datatype}","data":${i.data}${i.extra}}`).join(',')}]${extra}}`);

describe('KServe JSON number inputs read in one pass', () => {
  const statuses = new Map<number, number>();
  it('answers every body, under any limits, exactly as the strict path does', async () => {
    await fc.assert(
      fc.asyncProperty(bodyText, fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 60 }), async (text, maxDepth, maxElements) => {
        const [fast, strict] = [await answer(text, maxDepth, maxElements, false), await answer(text, maxDepth, maxElements, true)];
        statuses.set(fast.status, (statuses.get(fast.status) ?? 0) + 1);
        expect({ status: fast.status, headers: fast.headers, body: String(fast.body) }).toEqual({ status: strict.status, headers: strict.headers, body: String(strict.body) });
      }),
      { numRuns: 1500 },
    );
    // The bodies reach the model, not only the refusals: a tenth or more are answered.
    expect(statuses.get(200) ?? 0).toBeGreaterThan(100);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(100);
  });

  it('a typical request passes, and a refusal found in a number array is worded as the strict walk words it', async () => {
    const ok = await answer('{"inputs":[{"name":"a","shape":[1,2],"datatype":"FP32","data":[0.1,-2]},{"name":"b","shape":[1,2],"datatype":"UINT8","data":[0,255]},{"name":"c","shape":[1,2],"datatype":"FP64","data":[0.1,1e15]}]}', 64, 1000, false);
    expect(ok.status).toBe(200);
    expect(JSON.parse(String(ok.body)).outputs.map((o: { data: number[] }) => o.data)).toEqual([[Math.fround(0.1), -2], [0, 255], [0.1, 1e15]]);
    // The count passes its bound inside a `data` array counted unread: the same 400 as the strict walk.
    const many = await answer('{"inputs":[{"name":"a","shape":[1,2],"datatype":"FP32","data":[1,2,3,4,5]}]}', 64, 6, false);
    expect([many.status, JSON.parse(String(many.body)).error]).toEqual([400, 'the JSON body holds more than 6 values']);
    // An overflowing literal in a data array, with the shape wrong too: the walk's refusal comes first, as before.
    const overflow = await answer('{"inputs":[{"name":"a","shape":[9],"datatype":"FP32","data":[1,1e400]}]}', 64, 1000, false);
    expect([overflow.status, JSON.parse(String(overflow.body)).error]).toEqual([400, 'the JSON body holds a number too large for a double (past 1.8e308)']);
    // 256 in UINT8: the host's converter words it, naming the input.
    const range = await answer('{"inputs":[{"name":"a","shape":[1,2],"datatype":"FP32","data":[1,2]},{"name":"b","shape":[1,2],"datatype":"UINT8","data":[1,256]},{"name":"c","shape":[1,2],"datatype":"FP64","data":[1,2]}]}', 64, 1000, false);
    expect(range.status).toBe(400);
    expect(JSON.parse(String(range.body)).error).toContain('value 256 at element 1 is out of range for dtype uint8');
  });
});

describe('parseJsonUnread', () => {
  const options = resolveHttpOptions({ json: { maxDepth: 8, maxElements: 10 } });
  const request = (text: string): HttpRequest => ({ method: 'POST', url: '/', headers: {}, body: Buffer.from(text), signal: new AbortController().signal });
  const dataOf = (value: object) => [(value as { d: unknown[] }).d];

  it('counts the arrays it is given by length without reading them', () => {
    // 1e400 (Infinity once parsed) would be refused if read: it is the caller's to check.
    const read = parseJsonUnread(request('{"d":[1,1e400],"n":1}'), options, dataOf);
    expect(read?.unread).toEqual([[1, Infinity]]);
    // 10 unread + 1 value = 11 > 10: refused by count, which it leaves to parseJson to word (undefined).
    expect(parseJsonUnread(request('{"d":[1,2,3,4,5,6,7,8,9,10],"n":1}'), options, dataOf)).toBeUndefined();
    expect(parseJsonUnread(request('{"d":[1,2,3,4,5,6,7,8,9],"n":1}'), options, dataOf)).toBeDefined();
  });

  it('leaves to parseJson what it does not decide: a rounded integer elsewhere, a body parsed ahead, a refusal', () => {
    expect(parseJsonUnread(request('{"d":[1],"n":9007199254740993}'), options, dataOf)).toBeUndefined();
    expect(parseJsonUnread({ ...request('{}'), parsedBody: { d: [1] } }, options, dataOf)).toBeUndefined();
    expect(parseJsonUnread(request('{"d":[1],"n":[[[[[[[[[1]]]]]]]]]}'), options, dataOf)).toBeUndefined();
    expect(() => parseJsonUnread(request('{"d":'), options, dataOf)).toThrow(/not valid JSON/);
  });
});

describe('jsonNumbersInto', () => {
  it('stores numbers as the strict writer does', () => {
    expect(jsonNumbersInto([0.1, -2, 3], 'float32')).toEqual(new Float32Array([0.1, -2, 3]));
    expect(jsonNumbersInto([0.1, -0, 2 ** 53 - 1], 'float64')).toEqual(new Float64Array([0.1, -0, 2 ** 53 - 1]));
    expect(jsonNumbersInto([0, 255], 'uint8')).toEqual(new Uint8Array([0, 255]));
    expect(jsonNumbersInto([-(2 ** 31), 2 ** 31 - 1], 'int32')).toEqual(new Int32Array([-(2 ** 31), 2 ** 31 - 1]));
    expect(jsonNumbersInto([2 ** 32 - 1], 'uint32')).toEqual(new Uint32Array([2 ** 32 - 1]));
  });

  it('vouches for nothing it would have to refuse, round or re-read', () => {
    for (const [values, dtype] of [
      [[1, '2'], 'float32'],
      [[1, Infinity], 'float32'],
      [[1, -Infinity], 'float64'],
      [[2 ** 53 + 2], 'float64'],
      [[1e300], 'float64'],
      [[256], 'uint8'],
      [[-1], 'uint32'],
      [[1.5], 'int32'],
      [[1, null], 'int8'],
      [[[1]], 'float32'],
    ] as const) {
      expect(jsonNumbersInto(values as unknown as unknown[], dtype)).toBeUndefined();
    }
  });
});

describe('KServe JSON number inputs read in one pass: every number datatype at its edges', () => {
  // The property above covers models of FP32, UINT8 and FP64; this one every datatype the
  // one-pass loop reads, each edge the strict path decides, one input at a time.
  const TYPES = { FP32: 'float32', FP64: 'float64', INT8: 'int8', UINT8: 'uint8', INT16: 'int16', UINT16: 'uint16', INT32: 'int32', UINT32: 'uint32' } as const;
  let all: ModelHost;
  beforeAll(async () => {
    const names = Object.values(TYPES);
    all = new ModelHost({
      runtimes: {
        fake: fakeRuntime({
          signature: { inputs: names.map((d) => ({ name: d, dtype: d, shape: [-1, 2] })), outputs: names.map((d) => ({ name: `${d}_echo`, dtype: d, shape: [-1, 2] })) },
          compute: (inputs) => Object.fromEntries(names.map((d) => [`${d}_echo`, inputs[d]!])),
        }),
      },
      defaults: { batching: { maxBatchSize: 1, maxDelayMs: 0 }, warmup: false },
      models: { all: { runtime: 'fake' } },
    });
    await all.load('all', { source: FAKE_SOURCE });
  });
  afterAll(() => all.close());

  async function send(text: string, strict: boolean, json = { maxDepth: 6, maxElements: 80 }): Promise<{ status: number; body: string }> {
    const body = Buffer.from(text);
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': 'r-1' };
    if (strict) headers['inference-header-content-length'] = String(body.byteLength);
    const response = (await createHttpHandler(all, { json })({ method: 'POST', url: '/v2/models/all/infer', headers, body, signal: new AbortController().signal }))!;
    return { status: response.status, body: String(response.body) };
  }
  /** A body with every input `[1,2]` but `datatype`'s, which holds `data` (JSON text) of `shape`. */
  const body = (datatype: string, data: string, shape = '[1,2]') =>
    `{"inputs":[${Object.keys(TYPES).map((k) => `{"name":"${TYPES[k as keyof typeof TYPES]}","datatype":"${k}","shape":${k === datatype ? shape : '[1,2]'},"data":${k === datatype ? data : '[1,2]'}}`).join(',')}]}`;
  const EDGES = ['1e39', '-1e39', '3.4028235677973366e38', '1e-46', '1e-45', '5e-324', '-0', '0.1', '1.5', '-1', '127', '128', '-129', '255', '256', '65536', '2147483648', '4294967295', '4294967296', '9007199254740993', '1e400', 'NaN', '"NaN"', 'Infinity', '"-Infinity"', 'true', 'null', '"1"', '{}'];

  it('answers each edge value, nested and mis-shaped data, empty tensors and the limits exactly as the strict path does', async () => {
    const statuses = new Map<number, number>();
    for (const datatype of Object.keys(TYPES)) {
      const cases = [
        ...EDGES.map((v) => body(datatype, `[${v},2]`)),
        body(datatype, '[[1,2]]'),
        body(datatype, '[1,2,3]'),
        body(datatype, '[]', '[0,2]'),
        body(datatype, '[]'),
        // 6 values an input (name, datatype, shape, data): 46 + 34 = 80, at maxElements; then past it.
        body(datatype, `[${new Array(34).fill(1).join(',')}]`, '[17,2]'),
        body(datatype, `[${new Array(36).fill(1).join(',')}]`, '[18,2]'),
        body(datatype, '[[[[[[1]]]]],2]'), // past maxDepth
      ];
      for (const text of cases) {
        const fast = await send(text, false);
        statuses.set(fast.status, (statuses.get(fast.status) ?? 0) + 1);
        expect({ datatype, text, ...fast }).toEqual({ datatype, text, ...(await send(text, true)) });
      }
    }
    // Both sides of each edge are reached: many bodies answered, many refused.
    expect(statuses.get(200) ?? 0).toBeGreaterThan(50);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(100);
  });

  it('stores the right values: FP32 rounded to nearest (subnormals too), -0 kept, integers within range; refuses what does not fit', async () => {
    const outputs = async (text: string) => {
      const answer = await send(text, false);
      expect([answer.status, answer.body]).toEqual([200, expect.anything()]);
      return Object.fromEntries((JSON.parse(answer.body) as { outputs: { name: string; data: number[] }[] }).outputs.map((o) => [o.name, o.data]));
    };
    expect((await outputs(body('FP32', '[0.1,1e-45]')))['float32_echo']).toEqual([Math.fround(0.1), Math.fround(1e-45)]);
    expect(Object.is((await outputs(body('FP32', '[-0,2]')))['float32_echo']![0], -0)).toBe(true);
    expect((await outputs(body('FP64', '[0.1,9007199254740991]')))['float64_echo']).toEqual([0.1, 9007199254740991]);
    expect((await outputs(body('INT8', '[-128,127]')))['int8_echo']).toEqual([-128, 127]);
    expect((await outputs(body('UINT32', '[0,4294967295]')))['uint32_echo']).toEqual([0, 4294967295]);
    expect((await outputs(body('INT32', '[-2147483648,2147483647]')))['int32_echo']).toEqual([-2147483648, 2147483647]);
    const refused = async (text: string) => {
      const answer = await send(text, false);
      return [answer.status, (JSON.parse(answer.body) as { error: string }).error];
    };
    expect(await refused(body('FP32', '[1e39,2]'))).toEqual([400, expect.stringContaining("input 'float32': value 1000000000000000000000000000000000000000 at element 0 is too large for dtype float32")]);
    expect(await refused(body('UINT16', '[-1,2]'))).toEqual([400, expect.stringContaining("input 'uint16'")]);
    expect(await refused(body('INT16', '[1.5,2]'))).toEqual([400, expect.stringContaining("input 'int16': expected integers (dtype int16), got number 1.5 at element 0")]);
    expect(await refused(body('INT32', '[true,2]'))).toEqual([400, expect.stringContaining("input 'int32'")]);
  });
});
