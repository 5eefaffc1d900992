/**
 * Review of issue 19 (session 11): `thread: false` wrote lines past 64 KiB "at the next turn of
 * the event loop"; a caller whose requests settle without a turn (awaited one after another)
 * piled up to `maxBufferBytes` into one write, and a file rotated at `size: '64K'` held 500 KiB.
 * They are written as soon as 64 KiB wait: a file passes `size` by at most that (and a line).
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { JsonlSink, ModelHost } from '../../../src/index.js';
import { FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';
import { useTempDirs } from '../../helpers/temp-dir.js';

const tempDir = useTempDirs();

describe('JsonlSink on the request\'s thread', () => {
  it('a loop of awaited requests (no turn of the event loop between them): every file ends within size + 64 KiB, every sample written', async () => {
    const host = new ModelHost({ runtimes: { fake: fakeRuntime() }, models: { m: { sampling: { rate: 1 } } } });
    await host.load('m', { source: FAKE_SOURCE });
    const dir = await tempDir();
    const sink = await JsonlSink.open(host, { path: path.join(dir, 's.jsonl'), size: '64K', maxFiles: 100, thread: false });
    for (let i = 0; i < 3000; i++) await host.predict('m', [i, 1, 2, 3]);
    await sink.close();
    expect({ written: sink.written, dropped: sink.dropped }).toEqual({ written: 3000, dropped: 0 });
    const files = (await readdir(dir)).filter((f) => f.endsWith('.jsonl'));
    expect(files.length).toBeGreaterThan(3);
    for (const file of files) expect((await stat(path.join(dir, file))).size).toBeLessThanOrEqual(64 * 1024 + 64 * 1024 + 512);
    await host.close();
  });
});
