import { execFileSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JsonlSink, sampleLine, type RequestSampledEvent } from '../../../src/index.js';
import type { Tensor } from '../../../src/index.js';
import { SinkThread } from '../../../src/monitoring/sink-thread.js';
import { useTempDirs } from '../../helpers/temp-dir.js';

const tempDir = useTempDirs();

async function fileText(dir: string): Promise<string> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('samples.jsonl')).sort();
  return (await Promise.all(files.map((f) => readFile(join(dir, f), 'utf8')))).join('');
}

function event(over: Partial<RequestSampledEvent>): RequestSampledEvent {
  return { model: 'm', version: 1, timestamp: 1_700_000_000_000, id: 'r', inputs: undefined, outputs: undefined, rows: 1, latencyMs: 1, cached: false, ...over };
}

/** Every dtype, at its extremes, plus empty tensors. */
function extremes(): Record<string, Tensor> {
  return {
    f32: { data: new Float32Array([-0, Number.NaN, Infinity, -Infinity, 3.4028234663852886e38, 1e-45]), shape: [6], dtype: 'float32' },
    f64: { data: new Float64Array([-0, Number.MIN_VALUE, Number.MAX_VALUE, Number.NaN]), shape: [2, 2], dtype: 'float64' },
    f16: { data: new Uint16Array([0x8000, 0x7c00, 0xfc00, 0x7e01, 0x0001, 0x7bff]), shape: [6], dtype: 'float16' },
    i8: { data: new Int8Array([-128, 127]), shape: [2], dtype: 'int8' },
    u8: { data: new Uint8Array([0, 255]), shape: [2], dtype: 'uint8' },
    i16: { data: new Int16Array([-32768, 32767]), shape: [2], dtype: 'int16' },
    u16: { data: new Uint16Array([65535]), shape: [1], dtype: 'uint16' },
    i32: { data: new Int32Array([-(2 ** 31), 2 ** 31 - 1]), shape: [2], dtype: 'int32' },
    u32: { data: new Uint32Array([2 ** 32 - 1]), shape: [1], dtype: 'uint32' },
    i64: { data: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]), shape: [2], dtype: 'int64' },
    u64: { data: new BigUint64Array([2n ** 64n - 1n, 0n]), shape: [2], dtype: 'uint64' },
    b: { data: new Uint8Array([1, 0, 1]), shape: [3], dtype: 'bool' },
    empty: { data: new Float32Array(0), shape: [0, 3], dtype: 'float32' },
    emptyStrings: { data: [], shape: [0], dtype: 'string' },
    s: { data: ['', 'é', '🚀', '\u0000\n"\\', new Uint8Array(0), new Uint8Array([0, 255])], shape: [6], dtype: 'string' },
  };
}

async function roundTrip(events: readonly RequestSampledEvent[], tensorEncoding: 'base64' | 'numbers', maxBufferBytes?: number): Promise<{ text: string; sink: JsonlSink }> {
  const dir = await tempDir();
  const source = new EventEmitter();
  const sink = await JsonlSink.open(source as never, { path: join(dir, 'samples.jsonl'), tensorEncoding, maxBufferBytes });
  for (const e of events) source.emit('requestSampled', e);
  await sink.close();
  return { text: await fileText(dir), sink };
}

describe('JsonlSink worker (review): exactness', () => {
  it.each(['base64', 'numbers'] as const)('writes every dtype at its extremes, empty tensors and strings as sampleLine does (%s)', async (encoding) => {
    const events = [event({ inputs: extremes(), outputs: extremes() }), event({ inputs: {}, outputs: {} })];
    const { text, sink } = await roundTrip(events, encoding);
    expect(text).toBe(events.map((e) => sampleLine(e, encoding)).join(''));
    expect(sink).toMatchObject({ written: 2, dropped: 0, error: undefined });
  });

  it('keeps text that is not well-formed UTF-16 (a lone surrogate in an id, a string element, a name) as sampleLine writes it', async () => {
    const events = [
      event({ id: 'a\uD800b', inputs: { 'x\uDFFF': { data: ['\uD83D', 'ok\uDE80'], shape: [2], dtype: 'string' } } }),
      event({ model: 'm\uD800', id: '\uDC00' }),
    ];
    const { text } = await roundTrip(events, 'base64');
    expect(text).toBe(events.map((e) => sampleLine(e)).join(''));
    // The id a client sent comes back as the same JSON escape, not U+FFFD.
    expect(text).toContain('"id":"a\\ud800b"');
  });

  it.each(['base64', 'numbers'] as const)('writes data held in another typed array than its dtype\'s (bytes under float32, a Buffer) as sampleLine does (%s)', async (encoding) => {
    const events = [
      event({ inputs: { odd: { data: new Uint8Array([1, 2, 3]), shape: [3], dtype: 'float32' }, buf: { data: Buffer.from([7, 8]), shape: [2], dtype: 'uint8' }, i32: { data: new Int32Array([-1, 5]), shape: [2], dtype: 'float32' } } }),
    ];
    const { text, sink } = await roundTrip(events, encoding);
    expect(text).toBe(events.map((e) => sampleLine(e, encoding)).join(''));
    expect(sink).toMatchObject({ written: 1, dropped: 0, error: undefined });
  });

  it('writes non-ASCII and very long ids (100 000 characters) exactly', async () => {
    const events = [event({ id: 'é🚀'.repeat(50_000) }), event({ id: 'x'.repeat(100_000), model: 'модель' })];
    const { text, sink } = await roundTrip(events, 'base64');
    expect(text).toBe(events.map((e) => sampleLine(e)).join(''));
    expect(sink.dropped).toBe(0);
  });
});

describe('JsonlSink worker (review): the ring', () => {
  it('wraps around many times with samples of varied sizes, every line exact and in order', async () => {
    const dir = await tempDir();
    const source = new EventEmitter();
    const sink = await JsonlSink.open(source as never, { path: join(dir, 'samples.jsonl'), maxBufferBytes: 16384 });
    const events: RequestSampledEvent[] = [];
    for (let i = 0; i < 300; i++) {
      const n = (i * 37) % 700;
      const e = event({ id: `r${i}`, timestamp: 1_700_000_000_000 + i, inputs: { x: { data: Float32Array.from({ length: n }, (_, k) => k + i), shape: [n], dtype: 'float32' } } });
      // Wait for room rather than drop: every sample must reach the file.
      while (sink.bufferedBytes > 4000) await new Promise((resolve) => setTimeout(resolve, 1));
      source.emit('requestSampled', e);
      events.push(e);
    }
    await sink.close();
    expect(sink).toMatchObject({ written: 300, dropped: 0, error: undefined });
    expect(await fileText(dir)).toBe(events.map((e) => sampleLine(e)).join(''));
  });

  it('drops and counts a sample larger than the ring, and writes the ones after it', async () => {
    const big = event({ id: 'big', inputs: { x: { data: new Float32Array(4096), shape: [4096], dtype: 'float32' } } });
    const small = event({ id: 'small' });
    const { text, sink } = await roundTrip([big, small], 'base64', 4096);
    expect(sink).toMatchObject({ written: 1, dropped: 1, error: undefined });
    expect(text).toBe(sampleLine(small));
  });

  it('with a maxBufferBytes smaller than any record, drops everything and still closes', async () => {
    const { text, sink } = await roundTrip([event({}), event({})], 'base64', 7);
    expect(sink).toMatchObject({ written: 0, dropped: 2, error: undefined });
    expect(text).toBe('');
  });
});

describe('JsonlSink worker (review): lifecycle', () => {
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown) => rejections.push(reason);
  beforeEach(() => {
    rejections.length = 0;
    process.on('unhandledRejection', onRejection);
  });
  afterEach(() => {
    process.off('unhandledRejection', onRejection);
  });

  it('many sinks: one worker each, all ended by close(); close() twice at once, and without any sample', async () => {
    const dir = await tempDir();
    const before = SinkThread.live;
    const sinks = await Promise.all(Array.from({ length: 4 }, (_, i) => JsonlSink.open(new EventEmitter() as never, { path: join(dir, `s${i}`, 'samples.jsonl') })));
    expect(SinkThread.live).toBe(before + 4);
    await Promise.all(sinks.flatMap((s) => [s.close(), s.close()]));
    expect(SinkThread.live).toBe(before);
    expect(sinks.every((s) => s.error === undefined)).toBe(true);
    expect(rejections).toEqual([]);
  });

  it.each([true, false])('a path that is not a file (a FIFO): refused by open(), the error says why, nothing left listening (thread: %s)', async (thread) => {
    const dir = await tempDir();
    const fifo = join(dir, 'samples.jsonl');
    execFileSync('mkfifo', [fifo]);
    const source = new EventEmitter();
    await expect(JsonlSink.open(source as never, { path: fifo, thread })).rejects.toThrow(/Can't write on.*not a file/);
    expect(source.listenerCount('requestSampled')).toBe(0);
    expect(rejections).toEqual([]);
  });

  it('a directory that cannot be created: an error in `error` or from open(), never an unhandled rejection, and no worker left', async () => {
    const before = SinkThread.live;
    const source = new EventEmitter();
    let sink: JsonlSink | undefined;
    try {
      // Node's recursive mkdir (rotating-file-stream's) never returns here: open() must refuse it.
      sink = await JsonlSink.open(source as never, { path: '/proc/modelhost-nope/samples.jsonl' });
    } catch (error) {
      expect((error as Error).message).toMatch(/ENOENT.*modelhost-nope/);
    }
    expect(sink).toBeUndefined();
    await expect(JsonlSink.open(source as never, { path: '/proc/modelhost-nope/samples.jsonl', thread: false })).rejects.toThrow(/ENOENT/);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(SinkThread.live).toBeLessThanOrEqual(before); // none of this test's left (an earlier test's may end meanwhile)
    expect(rejections).toEqual([]);
  });

  it('a path under a regular file (ENOTDIR): refused by open(), in a worker or not, no worker left (its EEXIST passed for a directory)', async () => {
    const before = SinkThread.live;
    const file = join(await tempDir(), 'a-file');
    await writeFile(file, 'not a directory');
    const source = new EventEmitter();
    for (const thread of [true, false]) {
      await expect(JsonlSink.open(source as never, { path: join(file, 'samples.jsonl'), thread })).rejects.toThrow(/ENOTDIR.*a-file/);
      await expect(JsonlSink.open(source as never, { path: join(file, 'deeper', 'samples.jsonl'), thread })).rejects.toThrow(/ENOTDIR/);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(SinkThread.live).toBeLessThanOrEqual(before); // none of this test's left (an earlier test's may end meanwhile)
    expect(source.listenerCount('requestSampled')).toBe(0);
    expect(rejections).toEqual([]);
  });
});

describe('JsonlSink worker (review): the built package', () => {
  it.each(['index.js', 'index.cjs'])('dist/%s starts the worker and writes the line', async (entry) => {
    const file = join(await tempDir(), 'samples.jsonl');
    const output = execFileSync(process.execPath, ['test/fixtures/scripts/sink-thread-dist.mjs', entry, file], { encoding: 'utf8', timeout: 30_000 });
    expect(output.trim()).toBe('lines=1 live=0');
  });
});
