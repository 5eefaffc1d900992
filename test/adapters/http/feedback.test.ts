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

describe('feedback integrity over HTTP', () => {
  async function classifier() {
    const host = track(new ModelHost({ runtimes: { fake: fakeRuntime() }, models: { c: { feedback: { task: 'classification' } } } }));
    await host.load('c', { source: FAKE_SOURCE });
    return { host, ...(await serve(host, { authorizeFeedback })) };
  }

  it('ground_truth 99 (or 4) on a 4-class output, or 1.5, is 400 INVALID_INPUT, not matched:true correct:0', async () => {
    const { url, host } = await classifier();
    expect((await post(`${url}/v2/models/c/infer`, { ...INFER, id: 'q-1' })).status).toBe(200); // class 0 of 4
    for (const ground_truth of [99, 4, 1.5, -1]) {
      const res = await post(`${url}/v2/models/c/feedback`, { id: 'q-1', ground_truth }, AUTH);
      expect(res.status).toBe(400);
      expect(res.headers.get('x-modelhost-error-code')).toBe('INVALID_INPUT');
    }
    expect((await post(`${url}/v2/models/c/feedback`, { id: 'q-1', ground_truth: 99 }, AUTH)).body.error).toMatch(/class index below 4 .*got 99/);
    expect(host.stats('c').versions[1]!.quality).toBeUndefined();
    expect((await post(`${url}/v2/models/c/feedback`, { id: 'q-1', ground_truth: 0 }, AUTH)).body).toMatchObject({ matched: true, correct: 1 });
  });

  it('a reused infer id cannot poison accuracy: the second request is answered, the id is not matched', async () => {
    const { url, host } = await classifier();
    expect((await post(`${url}/v2/models/c/infer`, { ...INFER, id: 'dup' })).status).toBe(200); // class 0
    const again = await post(`${url}/v2/models/c/infer`, { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [0, 0, 0, 1] }], id: 'dup' }); // class 3
    expect(again.status).toBe(200);
    expect((await post(`${url}/v2/models/c/feedback`, { id: 'dup', ground_truth: 3 }, AUTH)).body).toMatchObject({ matched: false, labels: 0 });
    expect(host.stats('c').monitoring!.feedback).toMatchObject({ duplicateIds: 1 });
  });

  it('one id rule for infer and feedback: "" and 300 characters are refused by both; 128 visible ASCII characters pass both', async () => {
    const { url } = await classifier();
    for (const id of ['', 'x'.repeat(300), 'has space']) {
      const infer = await post(`${url}/v2/models/c/infer`, { ...INFER, id });
      expect(infer.status).toBe(400);
      expect(infer.body.error).toMatch(/"id" must be 1–128 visible ASCII characters/);
      const fb = await post(`${url}/v2/models/c/feedback`, { id, ground_truth: 0 }, AUTH);
      expect(fb.status).toBe(400);
      expect(fb.body.error).toMatch(/must be 1–128 visible ASCII characters/);
    }
    const id = 'k'.repeat(128);
    expect((await post(`${url}/v2/models/c/infer`, { ...INFER, id })).body.id).toBe(id);
    expect((await post(`${url}/v2/models/c/feedback`, { id, ground_truth: 0 }, AUTH)).body).toMatchObject({ matched: true });
  });

  it('unknown body keys are refused; without credentials the 401 names the feedback route', async () => {
    const { url } = await classifier();
    const typo = await post(`${url}/v2/models/c/feedback`, { id: 'r', groundtruth: 1 }, AUTH);
    expect(typo.status).toBe(400);
    expect(typo.body.error).toBe('POST /v2/models/c/feedback: unknown key "groundtruth" (did you mean "ground_truth"?); accepted keys: "id", "ground_truth"');
    const anonymous = await post(`${url}/v2/models/c/feedback`, { id: 'r', ground_truth: 1 });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error).toBe('the feedback route needs credentials');
  });
});
