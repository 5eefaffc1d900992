/**
 * Review of issue 19 (session 11): a sink whose file fails while serving (a full disk, its
 * directory removed under it) drops every sample from then on, and said so only in `error` and
 * its counts: `modelhost serve --samples` logged nothing until shutdown. `onError` is told once.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { JsonlSink, ModelHost } from '../../../src/index.js';
import { FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';
import { useTempDirs } from '../../helpers/temp-dir.js';

const tempDir = useTempDirs();

async function sampledHost() {
  const host = new ModelHost({ runtimes: { fake: fakeRuntime() }, models: { m: { sampling: { rate: 1 } } } });
  await host.load('m', { source: FAKE_SOURCE });
  return host;
}

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('JsonlSink onError', () => {
  it('in a worker: the directory removed, the next rotation fails; onError is called once with the error, later samples are dropped', async () => {
    const host = await sampledHost();
    const dir = path.join(await tempDir(), 'samples');
    const errors: Error[] = [];
    const sink = await JsonlSink.open(host, { path: path.join(dir, 's.jsonl'), size: '1K', onError: (error) => errors.push(error) });
    for (let i = 0; i < 3; i++) await host.predict('m', [i, 0, 0, 0]);
    await settle(300);
    expect(errors).toEqual([]);
    await rm(dir, { recursive: true, force: true });
    for (let round = 0; round < 20 && errors.length === 0; round++) {
      for (let i = 0; i < 20; i++) await host.predict('m', [i, 1, 2, 3]);
      await settle(150);
    }
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBe(sink.error);
    expect(errors[0]!.message).toMatch(/ENOENT/);
    const dropped = sink.dropped;
    for (let i = 0; i < 5; i++) await host.predict('m', [i, 1, 2, 3]);
    expect(sink.dropped).toBe(dropped + 5);
    await sink.close();
    expect(errors).toHaveLength(1);
    await host.close();
  });

  it('on the request\'s thread: a stream that fails calls it once; a callback that throws breaks nothing', async () => {
    const host = await sampledHost();
    const failing = new Writable({ write: (_chunk, _encoding, callback) => callback(new Error('disk full')) });
    let calls = 0;
    const sink = await JsonlSink.open(host, {
      stream: failing,
      onError: () => {
        calls++;
        throw new Error('a throwing callback');
      },
    });
    await host.predict('m', [1, 2, 3, 4]);
    await settle(200);
    await host.predict('m', [1, 2, 3, 4]);
    await settle(200);
    expect(calls).toBe(1);
    expect(sink.error?.message).toBe('disk full');
    expect(await host.predict('m', [1, 2, 3, 4])).toMatchObject({ y: { shape: [4] } });
    await sink.close();
    await host.close();
  });

  it('refuses an onError that is not a function', async () => {
    const host = await sampledHost();
    await expect(JsonlSink.open(host, { stream: new Writable({ write: (_c, _e, cb) => cb() }), onError: 'log' as never })).rejects.toThrow(/onError must be a function, got/);
    await host.close();
  });
});
