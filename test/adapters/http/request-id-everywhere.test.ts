/**
 * Review of issue 19 (session 11): one id names a request everywhere — the answer (success or
 * error, a route's or the listener's own), the host's feedback, and the log lines about it.
 * Each case failed before the fix: a KServe body `id` named the success only (its errors and
 * logs took the header's id or a new UUID); a 500 from a bug logged the raw header (undefined
 * when the answer carried a new UUID); the listener's own refusals (413, 404) carried no id.
 */
import { describe, expect, it } from 'vitest';
import { ModelHost } from '../../../src/index.js';
import { FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';
import { createHttpHandler } from '../../../src/adapters/http/index.js';
import { get, post, request, useServers } from './serve.js';

const { serve, track } = useServers();
const AUTH = { authorization: 'Bearer labels' };
const authorizeFeedback = (req: { headers: Record<string, unknown> }) => (req.headers['authorization'] === AUTH.authorization ? true : 401);
const infer = (data: number[], id?: string) => ({ ...(id === undefined ? {} : { id }), inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data }] });

function recordingLogger() {
  const logged: { message: string; fields: Record<string, unknown> }[] = [];
  const record = (message: string, fields?: unknown) => logged.push({ message, fields: (fields ?? {}) as Record<string, unknown> });
  return { logged, logger: { debug: record, info: record, warn: record, error: record } };
}

/** A regression model (`y = 2x + 1`) that fails its run on an input holding 13, with feedback on. */
async function served() {
  const { logged, logger } = recordingLogger();
  const runtime = fakeRuntime({ failRun: (inputs) => ((inputs['x']!.data as Float32Array).includes(13) ? new Error('run failed at /secret/path') : undefined) });
  const host = track(new ModelHost({ runtimes: { fake: runtime }, logger, defaults: { warmup: false }, models: { m: { feedback: { task: 'regression' } } } }));
  await host.load('m', { source: FAKE_SOURCE });
  return { host, logged, ...(await serve(host, { authorizeFeedback, bodyLimitBytes: 4096 })) };
}

describe('a KServe body id names the request everywhere, errors and logs too', () => {
  it('a 400 found after the id was read carries the body id, not the header\'s', async () => {
    const { url } = await served();
    const refused = await post(`${url}/v2/models/m/infer`, { id: 'body-400', inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] }, { 'x-request-id': 'header-400' });
    expect(refused.status).toBe(400);
    expect(refused.headers.get('x-request-id')).toBe('body-400');
  });

  it('a 500 carries the body id, and the log line that holds the runtime\'s text names the same id', async () => {
    const { url, logged } = await served();
    expect((await post(`${url}/v2/models/m/infer`, infer([1, 2, 3, 4]))).status).toBe(200); // a success: the failure below is the model's
    const failedAnswer = await post(`${url}/v2/models/m/infer`, infer([13, 13, 13, 13], 'body-500'), { 'x-request-id': 'header-500' });
    expect(failedAnswer.status).toBeGreaterThanOrEqual(400);
    expect(failedAnswer.headers.get('x-request-id')).toBe('body-500');
    const line = logged.find((l) => l.message === 'inference failed' || l.message === 'input rejected by the runtime');
    expect(line?.fields['requestId']).toBe('body-500');
    expect(logged.some((l) => l.fields['requestId'] === 'header-500')).toBe(false);
  });

  it('without a body id the header (or a new UUID) names it, on success and on failure alike', async () => {
    const { url } = await served();
    const bare = await post(`${url}/v2/models/m/infer`, infer([1, 2, 3, 4]));
    expect(bare.headers.get('x-request-id')).toBe(bare.body.id);
    const header = await post(`${url}/v2/models/m/infer`, infer([1, 2, 3]), { 'x-request-id': 'h-only' });
    expect(header.status).toBe(400);
    expect(header.headers.get('x-request-id')).toBe('h-only');
  });

  it('the id a success carried is the one feedback joins, over KServe (body id or none) and TF Serving', async () => {
    const { url } = await served();
    const auth = AUTH;
    const kserve = await post(`${url}/v2/models/m/infer`, infer([1, 0, 0, 0], 'k-ok'), { 'x-request-id': 'not-this-one' });
    const none = await post(`${url}/v2/models/m/infer`, infer([1, 0, 0, 0]));
    const tf = await post(`${url}/v1/models/m:predict`, { instances: [[1, 0, 0, 0]] });
    for (const id of [kserve.headers.get('x-request-id')!, none.body.id as string, tf.headers.get('x-request-id')!]) {
      const fb = await post(`${url}/v2/models/m/feedback`, { id, ground_truth: 3 }, auth);
      expect(fb.body).toMatchObject({ id, matched: true, absolute_error: 0 });
    }
    expect((await post(`${url}/v2/models/m/feedback`, { id: 'not-this-one', ground_truth: 3 }, auth)).body.matched).toBe(false);
  });
});

describe('answers the listener makes itself name the request too', () => {
  it('413 (body too large) and 404 (no route) carry the client\'s x-request-id, or a new one', async () => {
    const { url } = await served();
    const large = await post(`${url}/v2/models/m/infer`, 'x'.repeat(10_000), { 'x-request-id': 'too-large-1', 'content-type': 'application/json' });
    expect(large.status).toBe(413);
    expect(large.headers.get('x-request-id')).toBe('too-large-1');
    const nowhere = await get(`${url}/nowhere`, { 'x-request-id': 'nowhere-1' });
    expect(nowhere.status).toBe(404);
    expect(nowhere.headers.get('x-request-id')).toBe('nowhere-1');
    expect((await request(`${url}/nowhere`)).headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('a bug answered 500 logs the id its answer carried (a new one when the header was none or no request id)', async () => {
    const { url, host, logged } = await served();
    // A metadata call whose host throws something that is no ModelHostError: a bug, answered 500.
    (host as unknown as { metadata: () => never }).metadata = () => {
      throw new TypeError('a bug');
    };
    const answer = await get(`${url}/v2/models/m`, { 'x-request-id': 'bad id with spaces' });
    expect(answer.status).toBe(500);
    const id = answer.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(logged.find((l) => l.message === 'unexpected error answered with 500')?.fields['requestId']).toBe(id);
  });
});

describe('the OpenAPI description', () => {
  it('declares x-request-id on the inference routes (the header a client may send, and the one every answer carries)', async () => {
    const { url } = await served();
    const doc = (await get(`${url}/openapi.json`)).body;
    for (const path of ['/v2/models/{model}/infer', '/v1/models/{model}:predict']) {
      const operation = doc.paths[path].post;
      expect(operation.parameters.map((p: { name: string }) => p.name)).toContain('x-request-id');
      expect(Object.keys(operation.responses['200'].headers)).toEqual(['x-request-id']);
    }
  });
});

describe('createHttpHandler (Fastify, any server): answers made before a route runs name the request', () => {
  it('405, an invalid URL and the 503 of a draining server carry the client\'s x-request-id, or a new one', async () => {
    const host = track(new ModelHost({ runtimes: { fake: fakeRuntime() }, defaults: { warmup: false } }));
    await host.load('m', { source: FAKE_SOURCE });
    const handle = createHttpHandler(host);
    const call = (method: string, url: string, id?: string) => handle({ method, url, headers: id === undefined ? {} : { 'x-request-id': id }, body: undefined, signal: new AbortController().signal });
    expect((await call('DELETE', '/v2/models/m/infer', 'not-allowed'))!).toMatchObject({ status: 405, headers: { 'x-request-id': 'not-allowed' } });
    expect((await call('GET', 'http://[::1', 'broken'))!).toMatchObject({ status: 400, headers: { 'x-request-id': 'broken' } });
    const closing = host.close();
    expect((await call('POST', '/v2/models/m/infer', 'draining'))!).toMatchObject({ status: 503, headers: { 'x-request-id': 'draining' } });
    expect((await call('GET', '/v2/models/m'))!.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    await closing;
  });
});
