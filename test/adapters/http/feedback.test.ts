/**
 * Request ids on every response (KServe `id`, `x-request-id` on both protocols) and the
 * feedback route (`POST /v2/models/{m}/feedback`, a modelhost extension).
 */
import { describe, expect, it } from 'vitest';
import { ModelHost } from '../../../src/index.js';
import type { HttpOptions } from '../../../src/adapters/http/index.js';
import { FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';
import { get, post, useServers } from './serve.js';

const { serve, track } = useServers();
const TOKEN = 'labels';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const authorizeFeedback: HttpOptions['authorizeFeedback'] = (req) => (req.headers['authorization'] === `Bearer ${TOKEN}` ? true : 401);

async function served(options: HttpOptions = { authorizeFeedback }) {
  const host = track(new ModelHost({ runtimes: { fake: fakeRuntime() }, models: { m: { feedback: { task: 'regression' } } } }));
  await host.load('m', { source: FAKE_SOURCE });
  return { host, ...(await serve(host, options)) };
}

const INFER = { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 0, 0, 0] }] };

describe('request ids', () => {
  it('KServe: the body id is echoed in `id` and x-request-id; without one the x-request-id header names it; without both a UUID does', async () => {
    const { url } = await served();
    const withId = await post(`${url}/v2/models/m/infer`, { ...INFER, id: 'k-1' });
    expect(withId.body.id).toBe('k-1');
    expect(withId.headers.get('x-request-id')).toBe('k-1');
    const withHeader = await post(`${url}/v2/models/m/infer`, INFER, { 'x-request-id': 'h-1' });
    expect(withHeader.body.id).toBe('h-1');
    expect(withHeader.headers.get('x-request-id')).toBe('h-1');
    const bare = await post(`${url}/v2/models/m/infer`, INFER);
    expect(bare.body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(bare.headers.get('x-request-id')).toBe(bare.body.id);
  });

  it('TF Serving, errors and metadata carry x-request-id too; a header that is not a sane token is replaced', async () => {
    const { url } = await served();
    expect((await post(`${url}/v1/models/m:predict`, { instances: [[1, 0, 0, 0]] }, { 'x-request-id': 't-1' })).headers.get('x-request-id')).toBe('t-1');
    expect((await post(`${url}/v1/models/m:predict`, { instances: [[1, 0]] }, { 'x-request-id': 'bad-1' })).headers.get('x-request-id')).toBe('bad-1');
    expect((await get(`${url}/v2/models/m`)).headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const long = await post(`${url}/v1/models/m:predict`, { instances: [[1, 0, 0, 0]] }, { 'x-request-id': 'x'.repeat(500) });
    expect(long.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('POST /v2/models/{m}/feedback', () => {
  it('joins a label to the prediction served under that id; live MAE shows in stats', async () => {
    const { url, host } = await served();
    const answer = await post(`${url}/v1/models/m:predict`, { instances: [[1, 0, 0, 0]] }, { 'x-request-id': 'r-1' }); // y[0] = 3
    expect(answer.status).toBe(200);
    const fb = await post(`${url}/v2/models/m/feedback`, { id: 'r-1', ground_truth: 2 }, AUTH);
    expect(fb.status).toBe(200);
    expect(fb.body).toEqual({ model_name: 'm', id: 'r-1', matched: true, model_version: '1', labels: 1, absolute_error: 1 });
    expect(host.stats('m').versions[1]!.quality).toEqual({ labels: 1, accuracy: undefined, mae: 1 });
    const again = await post(`${url}/v2/models/m/feedback`, { id: 'r-1', ground_truth: 2 }, AUTH);
    expect(again.body).toMatchObject({ matched: false, labels: 0 });
  });

  it('is refused without credentials, off without a hook, and answers bad bodies with a 400 that names the field', async () => {
    const { url } = await served();
    expect((await post(`${url}/v2/models/m/feedback`, { id: 'r', ground_truth: 1 })).status).toBe(401);
    expect((await post(`${url}/v2/models/m/feedback`, { ground_truth: 1 }, AUTH)).body.error).toMatch(/"id" must be/);
    expect((await post(`${url}/v2/models/m/feedback`, { id: 'r' }, AUTH)).body.error).toMatch(/"ground_truth" is missing/);
    const wrong = await post(`${url}/v2/models/m/feedback`, { id: 'r', ground_truth: 'three' }, AUTH);
    expect(wrong.status).toBe(400);
    const off = await served({});
    expect((await post(`${off.url}/v2/models/m/feedback`, { id: 'r', ground_truth: 1 }, AUTH)).status).toBe(403);
  });

  it('the admin authorize hook covers it when authorizeFeedback is not given', async () => {
    const { url } = await served({ authorize: (req) => req.headers['authorization'] === 'Bearer admin' });
    expect((await post(`${url}/v2/models/m/feedback`, { id: 'r', ground_truth: 1 }, { authorization: 'Bearer admin' })).body).toMatchObject({ matched: false });
    expect((await post(`${url}/v2/models/m/feedback`, { id: 'r', ground_truth: 1 }, AUTH)).status).toBe(403);
  });
});
