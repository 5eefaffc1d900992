/**
 * `model_version` in a KServe v2 infer response names the version that computed the answer,
 * or is left out: never the version that took over while the request ran. The host routes a
 * request when it is called, so the version serving at that moment is the one that answers.
 */
import { describe, expect, it } from 'vitest';
import { ModelHost } from '../../../src/index.js';
import { deferred, FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';
import { post, useServers } from './serve.js';
import { answeredBy } from '../../../src/adapters/http/kserve-v2.js';

const { serve, track } = useServers();

describe('KServe v2 infer: model_version', () => {
  it('names the version that computed the answer when the default changed while the request ran, and the new default after', async () => {
    let hold: ReturnType<typeof deferred<void>> | undefined;
    const started = deferred();
    const runtime = fakeRuntime({
      // The next run after `hold` is set waits for it (warmups of later loads do not).
      runGate: () => {
        const gate = hold;
        if (gate === undefined) return Promise.resolve();
        hold = undefined;
        started.resolve();
        return gate.promise;
      },
    });
    const host = track(new ModelHost({ runtimes: { fake: runtime }, defaults: { batching: false } }));
    await host.load('m', { source: FAKE_SOURCE, version: 1 });
    const { url } = await serve(host);
    const body = { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] };

    const release = deferred<void>();
    hold = release;
    const during = post(`${url}/v2/models/m/infer`, body);
    await started.promise; // v1 is computing it
    await host.deploy('m', 2, { source: FAKE_SOURCE }); // v2 takes all traffic meanwhile
    release.resolve();
    const answer = await during;
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ model_name: 'm', model_version: '1', id: answer.headers.get('x-request-id'), outputs: [{ name: 'y', datatype: 'FP32', shape: [1, 4], data: [3, 5, 7, 9] }] });

    const after = await post(`${url}/v2/models/m/infer`, body);
    expect(after.body).toMatchObject({ model_name: 'm', model_version: '2' });
  });
});

describe('answeredBy: the version a request routed now is answered by', () => {
  const hostWith = (traffic: Record<number, number>, breakers: Record<number, 'closed' | 'open' | 'halfOpen' | undefined>) =>
    ({ status: () => ({ traffic, versions: Object.entries(breakers).map(([v, breaker]) => ({ version: Number(v), breaker })) }) }) as unknown as ModelHost;

  it('names the only version with traffic while its breaker is closed (or off)', () => {
    expect(answeredBy(hostWith({ 2: 1 }, { 1: 'closed', 2: 'closed' }), 'm', undefined)).toBe('2');
    expect(answeredBy(hostWith({ 2: 1, 1: 0 }, { 2: undefined }), 'm', undefined)).toBe('2');
  });

  it('says nothing while traffic is split, or while a breaker that may hand the request to the previous version is not closed', () => {
    expect(answeredBy(hostWith({ 1: 0.9, 2: 0.1 }, { 1: 'closed', 2: 'closed' }), 'm', undefined)).toBeUndefined();
    expect(answeredBy(hostWith({ 2: 1 }, { 1: 'closed', 2: 'open' }), 'm', undefined)).toBeUndefined();
    expect(answeredBy(hostWith({ 2: 1 }, { 1: 'closed', 2: 'halfOpen' }), 'm', undefined)).toBeUndefined();
  });

  it('names a pinned version as it is', () => {
    expect(answeredBy(hostWith({ 2: 1 }, { 2: 'open' }), 'm', 3)).toBe('3');
  });
});
