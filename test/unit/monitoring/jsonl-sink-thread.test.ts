import { execFileSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { JsonlSink, sampleLine, type RequestSampledEvent } from '../../../src/index.js';
import { SINK_WORKER_ENTRY, SinkThread } from '../../../src/monitoring/sink-thread.js';
import { useTempDirs } from '../../helpers/temp-dir.js';

const tempDir = useTempDirs();

/** Samples of every kind of tensor a line holds, with non-ASCII names and ids. */
function sample(i: number): RequestSampledEvent {
  return {
    model: i % 2 === 0 ? 'm' : 'modèle-🚀',
    version: 1 + (i % 3),
    timestamp: 1_700_000_000_000 + i * 7,
    id: i % 5 === 0 ? undefined : `ид-${i} "q"`,
    inputs: {
      x: { data: new Float32Array([i, 0.1, Number.NaN, -Infinity]), shape: [1, 4], dtype: 'float32' },
      h: { data: new Uint16Array([0x3c00, 0x7e00]), shape: [2], dtype: 'float16' },
      n: { data: new BigInt64Array([BigInt(-i), 2n ** 62n]), shape: [2], dtype: 'int64' },
    },
    outputs: i % 4 === 0 ? undefined : { 'sortie∑': { data: ['é', new Uint8Array([0, 255, i & 255])], shape: [2], dtype: 'string' }, p: { data: new Float64Array([i / 3]), shape: [1, 1], dtype: 'float64' } },
    rows: 1,
    latencyMs: i / 7,
    cached: i % 3 === 0,
  };
}

async function fileText(dir: string): Promise<string> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('samples.jsonl')).sort();
  return (await Promise.all(files.map((f) => readFile(join(dir, f), 'utf8')))).join('');
}

describe('JsonlSink in a worker thread', () => {
  it.each(['base64', 'numbers'] as const)('writes, byte for byte, the lines sampleLine builds (%s)', async (tensorEncoding) => {
    const dir = await tempDir();
    const source = new EventEmitter();
    const sink = await JsonlSink.open(source as never, { path: join(dir, 'samples.jsonl'), tensorEncoding });
    const events = Array.from({ length: 40 }, (_, i) => sample(i));
    for (const e of events) source.emit('requestSampled', e);
    await sink.close();
    expect(await fileText(dir)).toBe(events.map((e) => sampleLine(e, tensorEncoding)).join(''));
    expect(sink).toMatchObject({ written: 40, dropped: 0, error: undefined });
  });

  it('ends its worker on close(), and leaves none running', async () => {
    const dir = await tempDir();
    const before = SinkThread.live;
    const sink = await JsonlSink.open(new EventEmitter() as never, { path: join(dir, 'samples.jsonl') });
    expect(SinkThread.live).toBe(before + 1);
    await sink.close();
    expect(SinkThread.live).toBe(before);
    await sink.close(); // twice is fine
  });

  it('drops and counts, never blocks or grows, while the ring is full; writes every sample it accepted', async () => {
    const dir = await tempDir();
    const source = new EventEmitter();
    const sink = await JsonlSink.open(source as never, { path: join(dir, 'samples.jsonl'), maxBufferBytes: 4096 });
    // Emitted in one turn: the worker cannot read before the ring is full.
    const events = Array.from({ length: 200 }, (_, i) => sample(i));
    for (const e of events) {
      source.emit('requestSampled', e);
      // The ring (4096) plus at most one write the worker holds for its file (~64 KiB of lines and one line past it).
      expect(sink.bufferedBytes).toBeLessThanOrEqual(4096 + 64 * 1024 + 2048);
    }
    expect(sink.dropped).toBeGreaterThan(100);
    expect(sink.written + sink.dropped).toBe(200);
    const written = sink.written;
    await sink.close();
    const lines = (await fileText(dir)).trim().split('\n');
    expect(lines).toHaveLength(written);
    // Each line is one of the samples, exactly, in the order they came (the worker reads while the rest are dropped).
    const expected = events.map((e) => sampleLine(e).trimEnd());
    const indices = lines.map((l) => expected.indexOf(l));
    expect(indices.every((i) => i >= 0)).toBe(true);
    expect(indices).toEqual([...indices].sort((a, b) => a - b));
    expect(new Set(indices).size).toBe(written);
  });

  it('reports a worker that dies in `error`, counts what it held as dropped, and drops from then on', async () => {
    const dir = await tempDir();
    const source = new EventEmitter();
    const sink = await JsonlSink.open(source as never, { path: join(dir, 'samples.jsonl') });
    for (let i = 0; i < 5; i++) source.emit('requestSampled', sample(i));
    // The worker is killed before it was woken (100 ms): the 5 samples in the ring are lost.
    await (sink as unknown as { thread: { worker: { terminate(): Promise<number> } } }).thread.worker.terminate();
    await new Promise((resolve) => setImmediate(resolve));
    expect(sink.error?.message).toMatch(/worker exited with code 1/);
    expect(sink).toMatchObject({ written: 0, dropped: 5 });
    source.emit('requestSampled', sample(5));
    expect(sink).toMatchObject({ written: 0, dropped: 6 });
    await sink.close(); // settles, the worker being gone
  });

  it('stops a worker stuck writing once close() has waited closeTimeoutMs, counting every sample it had not written as dropped (taken out of the ring or not)', async () => {
    const dir = await tempDir();
    const source = new EventEmitter();
    const entry = new URL('../../fixtures/scripts/stuck-sink-worker.mts', import.meta.url);
    const sink = await JsonlSink.open(source as never, { path: join(dir, 'samples.jsonl'), closeTimeoutMs: 200, [SINK_WORKER_ENTRY]: entry } as never);
    for (let i = 0; i < 3; i++) source.emit('requestSampled', sample(i));
    // Once woken it takes the 3 out of the ring, as if handed to its file, and writes none.
    await vi.waitFor(() => expect(sink.bufferedBytes).toBe(0));
    for (let i = 3; i < 5; i++) source.emit('requestSampled', sample(i));
    // Without the bound this never settles (the test times out).
    await sink.close();
    expect(sink.error?.message).toMatch(/did not finish writing within closeTimeoutMs \(200 ms\)/);
    expect(sink).toMatchObject({ written: 0, dropped: 5 });
    expect(SinkThread.live).toBe(0);
  });

  it('refuses a closeTimeoutMs that is not an integer ≥ 0', async () => {
    await expect(JsonlSink.open(new EventEmitter() as never, { path: join(await tempDir(), 's.jsonl'), closeTimeoutMs: -1 })).rejects.toThrow(/closeTimeoutMs must be an integer ≥ 0, got -1/);
  });

  it('reports a file that cannot be written in `error`, and drops from then on, never throwing into the source', async () => {
    const dir = await tempDir();
    // The file opens; its first rotation fails (EISDIR): a directory where rotating-file-stream keeps its history of rotated files.
    await mkdir(join(dir, 'samples.jsonl.txt'));
    const source = new EventEmitter();
    const sink = await JsonlSink.open(source as never, { path: join(dir, 'samples.jsonl'), size: '1K', maxFiles: 5 });
    let emitted = 0;
    for (; sink.error === undefined && emitted < 250; emitted++) {
      source.emit('requestSampled', sample(emitted));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(sink.error?.message).toMatch(/EISDIR/);
    const written = sink.written;
    for (let i = 0; i < 3; i++) source.emit('requestSampled', sample(i));
    emitted += 3;
    await sink.close();
    // Nothing more written; every sample is written or dropped (those the file held when it failed are dropped too).
    expect(sink.written).toBeLessThanOrEqual(written);
    expect(sink.dropped).toBeGreaterThanOrEqual(3);
    expect(sink.written + sink.dropped).toBe(emitted);
  });

  it('refuses at open a path it cannot open as a file (a directory there): in a worker or not, no worker left (it opened, and dropped every sample)', async () => {
    const before = SinkThread.live;
    const dir = await tempDir();
    await mkdir(join(dir, 'samples.jsonl'));
    const source = new EventEmitter();
    for (const thread of [true, false]) {
      await expect(JsonlSink.open(source as never, { path: join(dir, 'samples.jsonl'), thread })).rejects.toThrow(/samples\.jsonl.*not a file/);
    }
    await vi.waitFor(() => expect(SinkThread.live).toBe(before)); // the worker that refused it exits
    expect(source.listenerCount('requestSampled')).toBe(0);
  });

  it('rotates by size', async () => {
    const dir = await tempDir();
    const source = new EventEmitter();
    const sink = await JsonlSink.open(source as never, { path: join(dir, 'samples.jsonl'), size: '1K', maxFiles: 50 });
    const events = Array.from({ length: 30 }, (_, i) => sample(i));
    for (const e of events) {
      source.emit('requestSampled', e);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await sink.close();
    const files = (await readdir(dir)).filter((f) => f.endsWith('samples.jsonl'));
    expect(files.length).toBeGreaterThan(1);
    const lines = (await fileText(dir)).trim().split('\n');
    expect(lines.sort()).toEqual(events.map((e) => sampleLine(e).trim()).sort());
  });

  it('a file passes `size` by at most one write of at most half of it: a burst into a 4K file made files of 1 MiB (the worker wrote up to 1 MiB at once)', async () => {
    const dir = await tempDir();
    const source = new EventEmitter();
    const sink = await JsonlSink.open(source as never, { path: join(dir, 'samples.jsonl'), size: '4K', maxFiles: 1000 });
    const events = Array.from({ length: 600 }, (_, i) => sample(i)); // ~150 KB, emitted at once: one drain
    for (const e of events) source.emit('requestSampled', e);
    await sink.close();
    const files = (await readdir(dir)).filter((f) => f.endsWith('samples.jsonl'));
    const sizes = await Promise.all(files.map(async (f) => (await readFile(join(dir, f))).length));
    expect(Math.max(...sizes)).toBeLessThanOrEqual(2 * 4096);
    expect((await fileText(dir)).trim().split('\n')).toHaveLength(600);
  });

  it('runs in-thread with `thread: false`, and refuses `thread: true` with a stream', async () => {
    const dir = await tempDir();
    const before = SinkThread.live;
    const source = new EventEmitter();
    const sink = await JsonlSink.open(source as never, { path: join(dir, 'samples.jsonl'), thread: false });
    expect(SinkThread.live).toBe(before);
    source.emit('requestSampled', sample(1));
    await sink.close();
    expect(await fileText(dir)).toBe(sampleLine(sample(1)));
    await expect(JsonlSink.open(source as never, { stream: process.stdout, thread: true })).rejects.toThrow(/thread: true.*needs a `path`/);
  });

  it('never keeps the process alive, and still writes the last samples of a process that never calls close()', async () => {
    const file = join(await tempDir(), 'samples.jsonl');
    const output = execFileSync(process.execPath, ['--import', 'tsx', 'test/fixtures/scripts/sink-thread-natural-exit.mts', file], { encoding: 'utf8', timeout: 30_000 });
    expect(output.trim()).toBe('lines=1');
  });

  it('a process that ends without close() under load still writes every sample its sink accepted, and exits', async () => {
    const file = join(await tempDir(), 'samples.jsonl');
    const output = execFileSync(process.execPath, ['--import', 'tsx', 'test/fixtures/scripts/sink-thread-natural-exit.mts', file, '20000'], { encoding: 'utf8', timeout: 60_000 });
    const [, lines, written, dropped] = /^lines=(\d+) written=(\d+) dropped=(\d+)$/.exec(output.trim())!.map(Number);
    expect(written! + dropped!).toBe(20_000);
    expect(written).toBeGreaterThan(0);
    expect(lines).toBe(written);
  });

  it('holds the process while close() writes the rest, when the close is the last thing it awaits', async () => {
    const file = join(await tempDir(), 'samples.jsonl');
    const output = execFileSync(process.execPath, ['--import', 'tsx', 'test/fixtures/scripts/sink-thread-close-last.mts', file], { encoding: 'utf8', timeout: 30_000 });
    expect(output.trim()).toBe('lines=2');
  });
});
