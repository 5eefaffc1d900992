import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JsonlSink, ModelHost } from '../../../src/index.js';
import { FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';
import { useTempDirs } from '../../helpers/temp-dir.js';

const tempDir = useTempDirs();

/** Mixed traffic through one sink: two models, predictBatch split at maxBatchSize, failed requests, cache hits. Lines without their times, sorted. */
async function traffic(thread: boolean) {
  const dir = await tempDir();
  const runtime = fakeRuntime({ failRun: (inputs) => ((inputs['x']!.data as Float32Array)[0] === 13 ? new Error('boom') : undefined) });
  const cfg = { sampling: { rate: 1 }, batching: { maxBatchSize: 2 }, cache: { enabled: true } };
  const host = new ModelHost({ runtimes: { fake: runtime }, models: { a: cfg, b: { sampling: { rate: 1 }, batching: { maxBatchSize: 1 } } } });
  await host.load('a', { source: FAKE_SOURCE });
  await host.load('b', { source: FAKE_SOURCE });
  const file = join(dir, 's.jsonl');
  const sink = await JsonlSink.open(host, { path: file, thread });
  const ps: Promise<unknown>[] = [];
  for (let i = 0; i < 40; i++) {
    const m = i % 3 === 0 ? 'b' : 'a';
    const v = i % 5 === 0 ? 13 : i % 7;
    const rows = 1 + (i % 4);
    const batch = Array.from({ length: rows }, (_, r) => [v, r, i % 2, 3]);
    ps.push((rows === 1 ? host.predict(m, batch[0]!, { id: `r${i}` }) : host.predictBatch(m, batch, { id: `r${i}` })).catch(() => undefined));
    if (i % 6 === 0) await Promise.all(ps);
  }
  await Promise.all(ps);
  for (let k = 0; k < 4; k++) await host.predictBatch('a', [[1, 2, 3, 4], [5, 6, 7, 8]], { id: `c${k}` });
  for (let k = 0; k < 4; k++) await host.predict('a', [9, 2, 3, 4]);
  await sink.close();
  await host.close();
  const written = (await readFile(file, 'utf8')).trim().split('\n').map((l) => {
    const { timestamp: _t, latency_ms: _l, ...rest } = JSON.parse(l) as Record<string, unknown>;
    return JSON.stringify(rest);
  });
  return { lines: written.sort(), written: sink.written, dropped: sink.dropped };
}

describe('the worker sink writes what an in-thread sink writes', () => {
  it('two models, predictBatch split at maxBatchSize, failed requests, cache hits: the same lines (but their times) as thread: false', async () => {
    const inWorker = await traffic(true);
    const inThread = await traffic(false);
    expect(inWorker.lines.filter((l) => l.includes('"cached":true'))).toHaveLength(4);
    expect(inWorker).toEqual(inThread);
    expect(inWorker).toMatchObject({ written: 40, dropped: 0 });
  });
});
