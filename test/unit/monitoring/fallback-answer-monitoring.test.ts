/**
 * Review of issue 19 (session 11): with `breaker.fallback: 'previous-version'` a canary's failed
 * request is answered by the baseline, and the request's promise resolves with the baseline's
 * outputs. Monitoring took them for the canary's: the response cache kept them under the canary
 * (every later identical request then "hit" the canary, which never ran it again, so its
 * failure vanished from its stats and from the rollout guard), feedback joined labels to them
 * as the canary's predictions (a worse canary looked as good as the baseline), and the sample
 * said the canary answered.
 */
import { describe, expect, it } from 'vitest';
import { fallbackVersionOf, ModelHost, type ModelHostOptions, type RequestSampledEvent } from '../../../src/index.js';
import { call, useGrpc } from '../../adapters/grpc/client.js';
import { post, useServers } from '../../adapters/http/serve.js';
import { writeVersion } from '../../helpers/repository.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { versionedRuntime } from '../../helpers/versioned-runtime.js';

const tempDir = useTempDirs();
const { serve } = useServers();
const { start: startGrpc } = useGrpc('each');

/** v1 and v2 of `m` (y = x × version); v2 fails on inputs holding 7; a 0.5 canary alternates. */
async function canary(models: ModelHostOptions['models'], batching: ModelHostOptions['defaults'] extends infer D ? (D extends { batching?: infer B } ? B : never) : never = false) {
  const root = await tempDir();
  for (const v of [1, 2]) await writeVersion(root, 'm', v, { 'model.fake': `v${v}` });
  const host = new ModelHost({
    repository: root,
    runtimes: { versioned: versionedRuntime({ failValues: new Map([[2, new Set([7])]]) }) },
    defaults: { batching, breaker: { fallback: 'previous-version' } },
    models,
  });
  await host.load('m', { version: 1 });
  await host.deploy('m', 2, { canary: 0.5 });
  const first = (x: number, id?: string) => host.predict('m', [x, x], id === undefined ? {} : { id }).then((out) => (out['y']!.data as Float32Array)[0]!);
  expect(await first(1)).toBe(1); // v1's turn
  expect(await first(1)).toBe(2); // v2 answers a good input
  return { host, first };
}

describe('the baseline\'s answer to a canary\'s failed request', () => {
  it('is not cached as the canary\'s: the canary runs that input again (and fails it again) rather than "hit"', async () => {
    const { host, first } = await canary({ m: { cache: { enabled: true } } });
    const failedOnV2: number[] = [];
    host.on('requestFailed', (e) => e.version === 2 && failedOnV2.push(e.rows));
    for (let i = 0; i < 6; i++) expect(await first(7)).toBe(7); // v1's answer every time (× 1)
    // Three of the six went to v2: each ran and failed (the baseline answered), none was a hit under v2.
    expect(failedOnV2).toHaveLength(3);
    const hitsOnV2: number[] = [];
    host.on('requestCompleted', (e) => e.version === 2 && e.cached && hitsOnV2.push(e.rows));
    for (let i = 0; i < 4; i++) await first(7);
    expect(hitsOnV2).toEqual([]);
    await host.close();
  });

  it('feedback files it under the version that made it: the canary\'s live accuracy is not the baseline\'s', async () => {
    const { host, first } = await canary({ m: { feedback: { task: 'regression' } } });
    expect(await first(1, 'v1-good')).toBe(1); // v1's turn
    expect(await first(7, 'v2-failed')).toBe(7); // v2 failed it, v1 answered
    expect(host.feedback('m', 'v2-failed', 7)).toMatchObject({ matched: true, version: 1, absoluteError: 0 });
    expect(host.stats('m').versions[2]?.quality).toBeUndefined();
    expect(host.stats('m').versions[1]!.quality).toMatchObject({ labels: 1, mae: 0 });
    await host.close();
  });

  it('a sample says the baseline answered', async () => {
    const { host, first } = await canary({ m: { sampling: { rate: 1 } } });
    const samples: RequestSampledEvent[] = [];
    host.on('requestSampled', (e) => samples.push(e));
    expect(await first(1)).toBe(1); // v1's turn
    expect(await first(7)).toBe(7); // v2 failed it, v1 answered
    expect(samples.map((s) => [s.version, (s.outputs!['y']!.data as Float32Array)[0]])).toEqual([
      [1, 1],
      [1, 7],
    ]);
    await host.close();
  });

  it('a split predictBatch whose failed chunk the baseline answered: rows of two versions, neither cached nor remembered', async () => {
    const { host } = await canary({ m: { cache: { enabled: true }, feedback: { task: 'regression' } } }, { maxBatchSize: 2, maxDelayMs: 0 });
    const x = { x: { data: new Float32Array([1, 1, 1, 1, 7, 7, 1, 1]), shape: [4, 2] } };
    const entries = host.stats('m').monitoring!.cache!.entries;
    for (const id of ['mixed-1', 'mixed-2']) {
      await host.predict('m', [3, 3]); // v1's turn
      const out = await host.predictBatch('m', x, { id }); // v2's: its second chunk answered by v1
      expect(out['y']!.data).toEqual(new Float32Array([2, 2, 2, 2, 7, 7, 1, 1]));
    }
    expect(host.feedback('m', 'mixed-2', [2, 2, 7, 1])).toMatchObject({ matched: false });
    // [3, 3] seen twice on v1 is kept; the mixed answer, seen twice on v2, is not.
    expect(host.stats('m').monitoring!.cache!.entries).toBe(entries + 1);
    await host.close();
  });
});

describe('the version named in the answer', () => {
  it('fallbackVersionOf names the baseline that made the outputs; a version\'s own outputs name none', async () => {
    const { host } = await canary({}, false);
    const own = await host.predict('m', [1, 1]); // v1's turn
    const answered = await host.predict('m', [7, 7]); // v2 failed it, v1 answered
    expect(fallbackVersionOf(own)).toBeUndefined();
    expect(fallbackVersionOf(answered)).toBe(1);
    await host.close();
  });

  it('KServe over HTTP: a guarded full swap whose new version failed a request v1 answered says model_version "1", not "2"', async () => {
    const root = await tempDir();
    for (const v of [1, 2]) await writeVersion(root, 'm', v, { 'model.fake': `v${v}` });
    const host = new ModelHost({ repository: root, runtimes: { versioned: versionedRuntime({ failValues: new Map([[2, new Set([7])]]) }) }, defaults: { batching: false, breaker: { fallback: 'previous-version' }, rollout: { windowMs: 10_000, minSamples: 1000 } } });
    await host.load('m', { version: 1 });
    await host.deploy('m', 2);
    const { url } = await serve(host);
    const infer = (x: number) => post(`${url}/v2/models/m/infer`, { inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [x, x] }] });
    expect((await infer(1)).body).toMatchObject({ model_version: '2', outputs: [{ data: [2, 2] }] });
    expect((await infer(7)).body).toMatchObject({ model_version: '1', outputs: [{ data: [7, 7] }] });
  });

  it('gRPC ModelInfer: the same swap names model_version "1" for v1\'s answer, "2" for its own', async () => {
    const root = await tempDir();
    for (const v of [1, 2]) await writeVersion(root, 'm', v, { 'model.fake': `v${v}` });
    const host = new ModelHost({ repository: root, runtimes: { versioned: versionedRuntime({ failValues: new Map([[2, new Set([7])]]) }) }, defaults: { batching: false, breaker: { fallback: 'previous-version' }, rollout: { windowMs: 10_000, minSamples: 1000 } } });
    await host.load('m', { version: 1 });
    await host.deploy('m', 2);
    const { client } = await startGrpc(host);
    const infer = (x: number) => call(client, 'ModelInfer', { model_name: 'm', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], contents: { fp32_contents: [x, x] } }] });
    expect(await infer(1)).toMatchObject({ model_version: '2' });
    expect(await infer(7)).toMatchObject({ model_version: '1' });
  });
});
