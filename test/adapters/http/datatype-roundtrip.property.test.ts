/**
 * Every datatype through every encoding, against identity models (onnxruntime-node, built by
 * the fixtures; BYTES also through a JS identity that carries any bytes): what comes back is
 * bit-exact what was sent, or a 400 that names the reason.
 *
 * Encodings: KServe JSON; KServe binary input, binary output, both; TF Serving row
 * (`instances`) and columnar (`inputs`); TF Serving `{"b64": ...}` for BYTES.
 */
import fc from 'fast-check';
import { parse as parseLossless } from 'lossless-json';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpHandler, type HttpResponse } from '../../../src/adapters/http/index.js';
import { bytesOf, DTYPES, float16Bits, float16Value, fromRawBytes, ModelHost, toRawBytes, type DType, type TensorData } from '../../../src/index.js';
import { IDENTITY_DTYPES, onnxIdentity } from '../../fixtures/onnx-models.js';
import { fakeRuntime } from '../../helpers/fake-runtime.js';

type Element = number | bigint | string | Uint8Array;

const INT_BOUNDS: Partial<Record<DType, [number, number]>> = {
  int8: [-128, 127],
  uint8: [0, 255],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-(2 ** 31), 2 ** 31 - 1],
  uint32: [0, 2 ** 32 - 1],
};

/** Storage-level elements of a dtype: what a tensor of it can hold (NaN, ±Infinity, -0 included). */
function elementOf(dtype: DType): fc.Arbitrary<Element> {
  switch (dtype) {
    case 'bool':
      return fc.integer({ min: 0, max: 1 });
    case 'int64':
      return fc.oneof(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.constantFrom(-(2n ** 63n), 2n ** 63n - 1n, 2n ** 53n + 1n, 0n));
    case 'uint64':
      return fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.constantFrom(2n ** 64n - 1n, 2n ** 53n + 1n, 0n));
    case 'float16':
      return fc.integer({ min: 0, max: 0xffff });
    case 'float32':
      return fc.float();
    case 'float64':
      return fc.double();
    case 'string':
      return fc.oneof(
        fc.string({ unit: 'binary', maxLength: 6 }),
        fc.string({ unit: fc.constantFrom('a', 'é', '\u0000', '\ud800', '"', '\\'), maxLength: 4 }),
        fc.uint8Array({ maxLength: 6 }),
      );
    default: {
      const [min, max] = INT_BOUNDS[dtype]!;
      return fc.integer({ min, max });
    }
  }
}

function storageOf(dtype: DType, elements: readonly Element[]): TensorData {
  const storage = DTYPES[dtype].array;
  if (storage === undefined) return [...(elements as (string | Uint8Array)[])];
  const out = new storage(elements.length) as unknown as Element[];
  elements.forEach((e, i) => (out[i] = e));
  return out as unknown as TensorData;
}

/** The bytes a tensor's data is, for bit-exact comparison (BYTES: UTF-8 of strings). */
function bitsOf(data: TensorData): number[][] {
  if (Array.isArray(data)) return data.map((e) => [...bytesOf(e)]);
  return [[...new Uint8Array(data.buffer, data.byteOffset, data.byteLength)]];
}

/** JSON text of one element as a client writes it; undefined when JSON cannot say it. */
function jsonText(dtype: DType, e: Element): string | undefined {
  if (dtype === 'bool') return e === 1 ? 'true' : 'false';
  if (dtype === 'string') {
    if (typeof e === 'string') return JSON.stringify(e);
    try {
      return JSON.stringify(new TextDecoder('utf-8', { fatal: true }).decode(e as Uint8Array));
    } catch {
      return undefined;
    }
  }
  const value = dtype === 'float16' ? float16Value(e as number) : e;
  if (typeof value === 'number' && !Number.isFinite(value)) return undefined;
  return Object.is(value, -0) ? '-0' : String(value);
}

/** A JSON value from a response back to a storage element. */
function fromJson(dtype: DType, v: unknown): Element {
  if (dtype === 'bool') return v === true ? 1 : 0;
  if (dtype === 'int64' || dtype === 'uint64') return BigInt(v as number | bigint);
  if (dtype === 'float16') return float16Bits(v as number);
  if (dtype === 'string') {
    if (typeof v === 'object' && v !== null && 'b64' in v) return new Uint8Array(Buffer.from((v as { b64: string }).b64, 'base64'));
    return v as string;
  }
  return Number(v);
}

const parseExact = (text: string): any => parseLossless(text, null, (s) => (/^-?\d+$/.test(s) && !Number.isSafeInteger(Number(s)) ? BigInt(s) : Number(s)));

/** Why the server must refuse these elements (a pattern its 400 matches), or undefined if it must carry them. */
function refusal(model: string, dtype: DType, elements: readonly Element[], jsonIn: boolean, jsonOut: boolean): RegExp | undefined {
  if (jsonIn && elements.some((e) => jsonText(dtype, e) === undefined)) return /./; // the client could not write it: not sent
  if (dtype === 'string') {
    for (const e of elements) {
      if (typeof e === 'string' && /\p{Cs}/u.test(e)) return /lone surrogate/;
    }
    const textOnly = model === 'id-string';
    for (const e of elements) {
      const utf8 = typeof e === 'string' || jsonText('string', e) !== undefined;
      if (textOnly && !utf8) return /not UTF-8 text, and this model's runtime/;
      if (textOnly && bytesOf(e as string | Uint8Array).includes(0)) return /contains a NUL byte/;
      if (jsonOut && !utf8) return /not UTF-8 text; ask for outputs in binary/;
    }
  }
  if (jsonOut && DTYPES[dtype].kind === 'float') {
    if (elements.some((e) => !Number.isFinite(dtype === 'float16' ? float16Value(e as number) : (e as number)))) return /which JSON cannot carry/;
  }
  return undefined;
}

describe('every datatype through every encoding: bit-exact, or a 400 naming the reason', () => {
  let host: ModelHost;
  let handle: ReturnType<typeof createHttpHandler>;

  beforeAll(async () => {
    const bytes = fakeRuntime({
      name: 'bytes',
      signature: { inputs: [{ name: 'x', dtype: 'string', shape: [-1] }], outputs: [{ name: 'y', dtype: 'string', shape: [-1] }] },
      compute: (inputs) => ({ y: inputs['x']! }),
    });
    host = new ModelHost({ runtimes: { bytes } });
    for (const dtype of IDENTITY_DTYPES) await host.load(`id-${dtype}`, { source: onnxIdentity(dtype) });
    await host.load('bytes-id', { source: { files: { 'model.fake': '' } } });
    handle = createHttpHandler(host);
  });

  afterAll(() => host?.close());

  const send = async (path: string, body: string | Uint8Array, headers: Record<string, string> = {}): Promise<HttpResponse> => {
    const response = await handle({ method: 'POST', url: path, headers, body: typeof body === 'string' ? new TextEncoder().encode(body) : body, signal: new AbortController().signal });
    return response!;
  };

  const cases = [...IDENTITY_DTYPES.map((d) => [`id-${d}`, d] as const), ['bytes-id', 'string'] as const];

  for (const [model, dtype] of cases) {
    it(`${model}`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(elementOf(dtype), { minLength: 1, maxLength: 6 }), async (elements) => {
          const sent = storageOf(dtype, elements);
          const datatype = DTYPES[dtype].kserve;
          const n = elements.length;
          const texts = elements.map((e) => jsonText(dtype, e));
          const jsonArray = texts.every((t) => t !== undefined) ? `[${texts.join(',')}]` : undefined;

          // Binary input carries bytes: a string element goes as its UTF-8 (a lone surrogate as U+FFFD, by the client's encoder).
          const binaryElements = dtype === 'string' ? elements.map((e) => bytesOf(e as string | Uint8Array)) : elements;
          const check = async (encoding: string, jsonIn: boolean, jsonOut: boolean, run: () => Promise<Element[] | HttpResponse>) => {
            const given = jsonIn ? elements : binaryElements;
            const why = refusal(model, dtype, given, jsonIn, jsonOut);
            if (jsonIn && jsonArray === undefined) return; // JSON cannot say NaN, Infinity or non-UTF-8 bytes: nothing to send
            const result = await run();
            if (why !== undefined) {
              expect(Array.isArray(result), `${encoding}: expected a refusal (${why})`).toBe(false);
              const response = result as HttpResponse;
              expect(response.status, `${encoding}: ${String(response.body)}`).toBe(400);
              expect(JSON.parse(String(response.body)).error, encoding).toMatch(why);
              return;
            }
            if (!Array.isArray(result)) throw new Error(`${encoding}: ${result.status} ${String(result.body)}`);
            expect(bitsOf(storageOf(dtype, result)), encoding).toEqual(bitsOf(storageOf(dtype, given)));
          };

          const kserve = async (body: string | Uint8Array, headers: Record<string, string> = {}): Promise<Element[] | HttpResponse> => {
            const response = await send(`/v2/models/${model}/infer`, body, headers);
            if (response.status !== 200) return response;
            const raw = response.body as string | Uint8Array;
            if (typeof raw === 'string') return (parseExact(raw).outputs[0].data as unknown[]).map((v) => fromJson(dtype, v));
            const length = Number(response.headers['inference-header-content-length']);
            const header = parseExact(new TextDecoder().decode(raw.subarray(0, length)));
            const output = header.outputs[0];
            if (output.data !== undefined) return (output.data as unknown[]).map((v) => fromJson(dtype, v));
            return [...(fromRawBytes(raw.subarray(length), dtype, n) as unknown as Element[])];
          };
          const binaryIn = (header: object): [Uint8Array, Record<string, string>] => {
            const raw = toRawBytes(sent);
            const head = new TextEncoder().encode(JSON.stringify({ inputs: [{ name: 'x', datatype, shape: [n], parameters: { binary_data_size: raw.byteLength } }], ...header }));
            const body = new Uint8Array(head.byteLength + raw.byteLength);
            body.set(head);
            body.set(raw, head.byteLength);
            return [body, { 'inference-header-content-length': String(head.byteLength) }];
          };
          const jsonBody = (extra = '') => `{"inputs":[{"name":"x","datatype":"${datatype}","shape":[${n}],"data":${jsonArray}}]${extra}}`;

          await check('KServe JSON', true, true, () => kserve(jsonBody()));
          await check('KServe JSON in, binary out', true, false, () => kserve(jsonBody(',"parameters":{"binary_data_output":true}')));
          await check('KServe binary in, JSON out', false, true, () => kserve(...binaryIn({})));
          await check('KServe binary in and out', false, false, () => kserve(...binaryIn({ parameters: { binary_data_output: true } })));

          const tfserving = async (body: string, key: 'predictions' | 'outputs'): Promise<Element[] | HttpResponse> => {
            const response = await send(`/v1/models/${model}:predict`, body);
            if (response.status !== 200) return response;
            return (parseExact(String(response.body))[key] as unknown[]).map((v) => fromJson(dtype, v));
          };
          // TF Serving answers bytes that are not UTF-8 as {"b64": ...}: its JSON output refuses nothing for BYTES.
          const tfOut = dtype !== 'string';
          await check('TF Serving row', true, tfOut, () => tfserving(`{"instances":${jsonArray}}`, 'predictions'));
          await check('TF Serving columnar', true, tfOut, () => tfserving(`{"inputs":${jsonArray}}`, 'outputs'));
          if (dtype === 'string') {
            const b64 = `[${(sent as (string | Uint8Array)[]).map((e) => `{"b64":"${Buffer.from(bytesOf(e)).toString('base64')}"}`).join(',')}]`;
            // b64 carries bytes: a string element goes as its UTF-8 bytes.
            const asBytes = (sent as (string | Uint8Array)[]).map(bytesOf);
            const why = refusal(model, dtype, asBytes, false, false);
            const result = await tfserving(`{"instances":${b64}}`, 'predictions');
            if (why !== undefined) {
              expect((result as HttpResponse).status, 'b64').toBe(400);
              expect(JSON.parse(String((result as HttpResponse).body)).error, 'b64').toMatch(why);
            } else {
              expect(bitsOf(storageOf(dtype, result as Element[])), 'b64').toEqual(bitsOf(asBytes));
            }
          }
        }),
        { numRuns: Number(process.env["ROUNDTRIP_RUNS"] ?? 25) },
      );
    }, 60_000);
  }
});
