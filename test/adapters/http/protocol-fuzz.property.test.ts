/**
 * Fuzz over both protocols' request bodies, paths and headers (fast-check): every answer is
 * 2xx, 4xx, 503 or 504, errors carry a JSON `{ "error" }` body, nothing is a 500 and nothing
 * throws out of the handler or the listener.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpHandler, type HttpResponse } from '../../../src/adapters/http/index.js';
import { ModelHost } from '../../../src/index.js';
import { onnxIdentity } from '../../fixtures/onnx-models.js';
import { fakeRuntime, FAKE_SOURCE } from '../../helpers/fake-runtime.js';
import { onnxTwoOutputs } from './models.js';
import { serve, type Served } from './serve.js';

const MODELS = ['id-float32', 'id-int64', 'id-string', 'id-float16', 'id-bool', 'two-outputs', 'fake'];
const DATATYPES = ['BOOL', 'UINT8', 'INT32', 'INT64', 'UINT64', 'FP16', 'FP32', 'FP64', 'BYTES', 'fp32', 'STRING', ''];

const weird = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'toString', 'x', 'y', 'a', 'b64', 'hasOwnProperty', 'double', 'plus_one', ''),
  fc.string({ maxLength: 8 }),
);
const number = fc.oneof(fc.integer({ min: -3, max: 8 }), fc.double(), fc.constantFrom(2 ** 53, 2 ** 64, -0, 1e308, 0.5), fc.bigInt({ min: -(2n ** 65n), max: 2n ** 65n }));
const scalar = fc.oneof(number, fc.boolean(), fc.string({ maxLength: 4 }), fc.constant(null), fc.record({ b64: fc.oneof(fc.base64String({ maxLength: 8 }), fc.string({ maxLength: 6 }), number) }));
const nested = fc.letrec((tie) => ({ value: fc.oneof({ depthSize: 'small' }, scalar, fc.array(tie('value'), { maxLength: 4 })) })).value;
const shape = fc.oneof(fc.array(fc.oneof(fc.integer({ min: 0, max: 4 }), fc.constantFrom(-1, 1.5, 2 ** 53, 1e12)), { maxLength: 4 }), fc.anything());

const kserveInput = fc.record(
  {
    name: fc.oneof(weird, fc.anything()),
    datatype: fc.oneof(fc.constantFrom(...DATATYPES), fc.anything()),
    shape,
    data: nested,
    parameters: fc.oneof(fc.record({ binary_data_size: fc.oneof(fc.integer({ min: -1, max: 40 }), fc.anything()) }, { requiredKeys: [] }), fc.anything()),
  },
  { requiredKeys: [] },
);
const kserveBody = fc.record(
  {
    id: fc.oneof(fc.string({ maxLength: 4 }), fc.anything()),
    inputs: fc.oneof(fc.array(kserveInput, { maxLength: 3 }), fc.anything()),
    outputs: fc.oneof(fc.array(fc.oneof(fc.record({ name: weird, parameters: fc.record({ binary_data: fc.oneof(fc.boolean(), fc.anything()) }, { requiredKeys: [] }) }, { requiredKeys: [] }), fc.anything()), { maxLength: 3 }), fc.anything()),
    parameters: fc.oneof(fc.record({ binary_data_output: fc.oneof(fc.boolean(), fc.anything()) }), fc.anything()),
  },
  { requiredKeys: [] },
);
const tfBody = fc.oneof(
  fc.record({ instances: fc.oneof(fc.array(fc.oneof(nested, fc.dictionary(weird, nested, { maxKeys: 3 })), { maxLength: 4 }), fc.anything()) }, { requiredKeys: [] }),
  fc.record({ inputs: fc.oneof(nested, fc.dictionary(weird, nested, { maxKeys: 3 })), signature_name: fc.anything() }, { requiredKeys: [] }),
);

const model = fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...MODELS) }, { weight: 1, arbitrary: fc.constantFrom('nope', 'id-float32.', 'a..b', '%2e%2e', 'id%2Dfloat32') });
const version = fc.oneof(fc.constantFrom('1', '2', '01', '0x1', '1.0', '+1', '1e0', '%31', '0', '-1', '9007199254740993', '%', '%zz'), fc.string({ maxLength: 4 }).map(encodeURIComponent));
const path = fc.oneof(
  fc.tuple(model, fc.option(version), fc.constantFrom('/infer', '/ready', '')).map(([m, v, tail]) => `/v2/models/${m}${v === null ? '' : `/versions/${v}`}${tail}`),
  fc.tuple(model, fc.option(fc.oneof(version.map((v) => `/versions/${v}`), fc.constantFrom('/labels/default', '/labels/canary', '/labels/x'))), fc.constantFrom(':predict', '/metadata', '', ':classify')).map(
    ([m, v, tail]) => `/v1/models/${m}${v ?? ''}${tail}`,
  ),
  fc.tuple(model, fc.constantFrom('/load', '/deploy', '/promote', '/rollback', '/traffic', '', '/versions/1', '/versions/0x1')).map(([m, tail]) => `/admin/models/${m}${tail}`),
  fc.constantFrom('/v2', '/v2/health/live', '/v2/health/ready', '/v2/repository/index', '/status.json', '/metrics'),
  fc.webPath(),
);
const body = fc.oneof(
  kserveBody.map((b) => JSON.stringify(b, (_, v: unknown) => (typeof v === 'bigint' ? Number(v) : v))),
  fc.tuple(kserveBody, fc.array(fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }), { maxLength: 3 })).map(([b, big]) => JSON.stringify(b, (_, v: unknown) => (typeof v === 'bigint' ? Number(v) : v)).replace(/\d{6,}/, String(big[0] ?? 1))),
  tfBody.map((b) => JSON.stringify(b, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v))),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 40 }),
  fc.uint8Array({ maxLength: 64 }),
  fc.constant(undefined),
);
const headers = fc.record(
  {
    'inference-header-content-length': fc.oneof(fc.nat({ max: 400 }).map(String), fc.string({ maxLength: 5 }), fc.constantFrom('-1', '1e2', '0x10', ' 12', '99999999999999999999')),
    'content-type': fc.constantFrom('application/json', 'application/octet-stream', 'text/plain'),
    'x-request-id': fc.string({ maxLength: 8 }),
  },
  { requiredKeys: [] },
);
const method = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'PATCH');
const kserveText = kserveBody.map((b) => JSON.stringify(b, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v)).replace(/"(-?\d{6,})"/g, '$1'));
const versionTail = fc.oneof({ weight: 4, arbitrary: fc.constant('') }, { weight: 1, arbitrary: version.map((v) => `/versions/${v}`) });

/** [method, path, body]: mostly well-aimed (infer, predict), some anywhere. */
const call = fc.oneof(
  { weight: 5, arbitrary: fc.tuple(fc.constant('POST'), fc.tuple(model, versionTail).map(([m, v]) => `/v2/models/${m}${v}/infer`), fc.oneof({ weight: 4, arbitrary: kserveText }, { weight: 1, arbitrary: body })) },
  { weight: 4, arbitrary: fc.tuple(fc.constant('POST'), fc.tuple(model, versionTail).map(([m, v]) => `/v1/models/${m}${v}:predict`), fc.oneof({ weight: 4, arbitrary: tfBody.map((b) => JSON.stringify(b, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v))) }, { weight: 1, arbitrary: body })) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('POST', 'PUT', 'DELETE', 'GET'), fc.tuple(model, fc.constantFrom('/load', '/deploy', '/promote', '/rollback', '/traffic', '', '/versions/1', '/versions/0x1')).map(([m, tail]) => `/admin/models/${m}${tail}`), fc.oneof(fc.jsonValue().map((v) => JSON.stringify(v)), fc.record({ version: fc.oneof(fc.string({ maxLength: 3 }), fc.integer()), weights: fc.dictionary(fc.string({ maxLength: 3 }), fc.integer()) }, { requiredKeys: [] }).map((v) => JSON.stringify(v)))) },
  { weight: 2, arbitrary: fc.tuple(method, path, body) },
);

/** Health and readiness answer 503 with their own JSON body (`{ "ready": false }`), as KServe says. */
const isProbe = (path: string) => /\/(ready|live)$/.test(path.split('?')[0]!);

const statuses = new Map<number, number>();

function checkAnswer(response: HttpResponse | undefined, what: string, probe = false): void {
  if (response === undefined) return; // not a route: passed on (the listener answers 404)
  const { status } = response;
  statuses.set(status, (statuses.get(status) ?? 0) + 1);
  expect(status >= 200 && status < 300 || (status >= 400 && status < 500) || status === 503 || status === 504, `${what} → ${status} ${String(response.body).slice(0, 200)}`).toBe(true);
  if (status >= 400) {
    const parsed = JSON.parse(typeof response.body === 'string' ? response.body : new TextDecoder().decode(response.body)) as { error?: unknown };
    if (!probe) expect(typeof parsed.error, what).toBe('string');
  } else if (response.headers['content-type'] === 'application/json') {
    JSON.parse(typeof response.body === 'string' ? response.body : new TextDecoder().decode(response.body));
  }
}

describe('protocol fuzz: never a 500, never a crash, errors as JSON', () => {
  let host: ModelHost;
  let served: Served;
  let handle: ReturnType<typeof createHttpHandler>;
  const options = { authorize: (request: { method: string }) => request.method !== 'DELETE', maxResponseBytes: 1 << 20 };

  beforeAll(async () => {
    host = new ModelHost({ runtimes: { fake: fakeRuntime() } });
    for (const dtype of ['float32', 'int64', 'string', 'float16', 'bool'] as const) await host.load(`id-${dtype}`, { source: onnxIdentity(dtype) });
    await host.load('two-outputs', { source: onnxTwoOutputs() });
    await host.load('fake', { source: FAKE_SOURCE });
    handle = createHttpHandler(host, options);
    served = await serve(host, options);
  });

  afterAll(async () => {
    await served?.close();
    await host?.close();
  });

  it('the protocol-neutral handler', async () => {
    await fc.assert(
      fc.asyncProperty(call, headers, async ([m, p, b], h) => {
        const bytes = b === undefined ? undefined : typeof b === 'string' ? new TextEncoder().encode(b) : b;
        const response = await handle({ method: m, url: p, headers: h, body: bytes, signal: new AbortController().signal });
        checkAnswer(response, `${m} ${p} ${JSON.stringify(h)} ${typeof b === 'string' ? b.slice(0, 300) : String(b)}`, isProbe(p));
      }),
      { numRuns: Number(process.env['FUZZ_RUNS'] ?? 1500) },
    );
    if (process.env['FUZZ_STATS']) console.log(Object.fromEntries(statuses));
  }, 120_000);

  it('a real node:http listener (bodies, paths and headers over the wire)', async () => {
    await fc.assert(
      fc.asyncProperty(call, headers, async ([m, p, b], h) => {
        if (m === 'HEAD' || m === 'PATCH') return;
        const init: RequestInit = { method: m, headers: h };
        if (m !== 'GET' && b !== undefined) init.body = b;
        const response = await fetch(`${served.url}${p.startsWith('/') ? p : `/${p}`}`, init).catch((error: unknown) => {
          // fetch itself refuses some URLs and header values before sending: not the server's answer.
          if (error instanceof TypeError) return undefined;
          throw error;
        });
        if (response === undefined) return;
        const text = await response.text();
        const status = response.status;
        expect(status === 200 || (status > 200 && status < 300) || (status >= 400 && status < 500) || status === 503 || status === 504, `${m} ${p} → ${status} ${text.slice(0, 200)}`).toBe(true);
        if (status >= 400) {
          const parsed = JSON.parse(text) as { error?: unknown };
          if (!isProbe(p)) expect(typeof parsed.error, `${m} ${p} → ${status} ${text}`).toBe('string');
        }
      }),
      { numRuns: Number(process.env['FUZZ_WIRE_RUNS'] ?? 300) },
    );
    // The server is still there.
    expect((await fetch(`${served.url}/v2/health/live`)).status).toBe(200);
  }, 120_000);
});
