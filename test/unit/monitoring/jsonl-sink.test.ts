import { execFileSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { EventEmitter } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { JsonlSink, ModelHost, type RequestSampledEvent } from '../../../src/index.js';
import { FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';
import { useTempDirs } from '../../helpers/temp-dir.js';

const tempDir = useTempDirs();

async function sampledHost(models: string[] = ['m']) {
  const host = new ModelHost({ runtimes: { fake: fakeRuntime() }, defaults: { sampling: { rate: 1 } } });
  for (const m of models) await host.load(m, { source: FAKE_SOURCE });
  return host;
}

describe('JsonlSink', () => {
  it('writes gathered lines before a process that never calls close() exits on its own', () => {
    // The 100 ms flush timer must hold the event loop: an unref'd one let the process end with the lines unwritten (and not counted as dropped).
    const output = execFileSync(process.execPath, ['--import', 'tsx', 'test/fixtures/scripts/sink-natural-exit.mts'], { encoding: 'utf8', timeout: 30_000 });
    expect(output.trim()).toBe('lines=1');
  });

  it('writes one JSON line per sample to a rotating file, rotating by size', async () => {
    const dir = await tempDir();
    const host = await sampledHost();
    const sink = await JsonlSink.open(host, { path: join(dir, 'samples.jsonl'), size: '1K', maxFiles: 50, tensorEncoding: 'numbers' });
    for (let i = 0; i < 30; i++) await host.predict('m', [i, 0, 0, 0], { id: `r${i}` });
    await sink.close();
    expect(sink).toMatchObject({ written: 30, dropped: 0 });
    const files = (await readdir(dir)).filter((f) => f.endsWith('samples.jsonl')); // rfs keeps a history file beside them
    expect(files.length).toBeGreaterThan(1); // rotated
    const lines = (await Promise.all(files.map((f) => readFile(join(dir, f), 'utf8')))).join('').trim().split('\n');
    expect(lines).toHaveLength(30);
    const first = lines.map((l) => JSON.parse(l) as { id: string; model: string; version: number; inputs: { x: { datatype: string; shape: number[]; data: number[] } }; outputs: { y: { data: number[] } } }).find((s) => s.id === 'r2')!;
    expect(first).toMatchObject({ model: 'm', version: 1, rows: 1, cached: false, inputs: { x: { datatype: 'float32', shape: [1, 4], data: [2, 0, 0, 0] } }, outputs: { y: { data: [5, 1, 1, 1] } } });
    await host.close();
  });

  it('writes tensors as base64 of their raw bytes by default (exact, cheap to write)', async () => {
    const host = await sampledHost();
    const out = new PassThrough();
    const chunks: string[] = [];
    out.on('data', (c: Buffer) => chunks.push(c.toString()));
    const sink = await JsonlSink.open(host, { stream: out });
    await host.predict('m', [0.1, -2, 3.5, 1e-8], { id: 'b' });
    await sink.close();
    const sample = JSON.parse(chunks.join('')) as { inputs: { x: { datatype: string; shape: number[]; b64: string } }; outputs: { y: { b64: string } } };
    expect(sample.inputs.x).toMatchObject({ datatype: 'float32', shape: [1, 4] });
    const bytes = Buffer.from(sample.inputs.x.b64, 'base64');
    expect(new Float32Array(bytes.buffer, bytes.byteOffset, 4)).toEqual(new Float32Array([0.1, -2, 3.5, 1e-8]));
    const y = Buffer.from(sample.outputs.y.b64, 'base64');
    expect(new Float32Array(y.buffer, y.byteOffset, 4)).toEqual(new Float32Array([1.2, -3, 8, 1 + 2e-8]));
    await host.close();
  });

  it('drops and counts, never queues, while the buffer waiting for the disk is full', async () => {
    const host = await sampledHost();
    // A stream that never drains: everything written waits in its buffer.
    const stuck = new Writable({ highWaterMark: 1, write: () => undefined });
    const sink = await JsonlSink.open(host, { stream: stuck, maxBufferBytes: 1000 });
    for (let i = 0; i < 50; i++) await host.predict('m', [i, 0, 0, 0]);
    expect(sink.written + sink.dropped).toBe(50);
    expect(sink.dropped).toBeGreaterThan(30);
    expect(sink.bufferedBytes).toBeLessThan(1000 + 600); // at most one line past the bound
    stuck.destroy();
    await sink.close();
    await host.close();
  });

  it('keeps only the models asked for, and stops listening on close', async () => {
    const host = await sampledHost(['a', 'b']);
    const out = new PassThrough();
    const chunks: string[] = [];
    out.on('data', (c: Buffer) => chunks.push(c.toString()));
    const sink = await JsonlSink.open(host, { stream: out, models: ['b'] });
    await host.predict('a', [1, 1, 1, 1]);
    await host.predict('b', [1, 1, 1, 1]);
    await sink.close();
    await host.predict('b', [1, 1, 1, 1]);
    expect(sink.written).toBe(1);
    expect(chunks.join('').trim().split('\n').map((l) => (JSON.parse(l) as { model: string }).model)).toEqual(['b']);
    expect(host.listenerCount('requestSampled')).toBe(0);
    await host.close();
  });

  it('refuses an option it does not take before it listens: a misspelt `models` kept every model', async () => {
    const source = new EventEmitter();
    await expect(JsonlSink.open(source as never, { stream: new PassThrough(), model: ['b'] } as never)).rejects.toThrow(
      "JsonlSink: unknown option 'model' (did you mean 'models'?); known options: path, size, interval, maxFiles, compress, maxBufferBytes, tensorEncoding, models, stream, thread, closeTimeoutMs",
    );
    await expect(JsonlSink.open(source as never, { path: 'x.jsonl', maxFile: 3 } as never)).rejects.toThrow(/unknown option 'maxFile' \(did you mean 'maxFiles'\?\)/);
    expect(source.listenerCount('requestSampled')).toBe(0);
  });

  it('gathers lines and writes them 100 ms after the first, or at once when half of maxBufferBytes wait', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate'] });
    try {
      const source = new EventEmitter();
      const writes: string[] = [];
      const stream = new Writable({ write: (chunk: Buffer, _encoding, done) => (writes.push(chunk.toString()), done()) });
      const sink = await JsonlSink.open(source as never, { stream, maxBufferBytes: 4000 });
      const sample = (id: string): RequestSampledEvent => ({ model: 'm', version: 1, timestamp: 0, id, inputs: undefined, outputs: { y: { data: new Float32Array(100), shape: [1, 100], dtype: 'float32' } }, rows: 1, latencyMs: 1, cached: false });
      source.emit('requestSampled', sample('a'));
      source.emit('requestSampled', sample('b'));
      vi.advanceTimersByTime(99);
      expect(writes).toEqual([]);
      vi.advanceTimersByTime(1);
      expect(writes).toHaveLength(1); // both lines, one write
      expect(writes[0]!.trim().split('\n').map((l) => (JSON.parse(l) as { id: string }).id)).toEqual(['a', 'b']);
      // Each line is 713 bytes: the third passes 2000 (half the bound), so those three go at once
      // (not at the next turn: a caller may not give one), the fourth 100 ms later.
      for (const id of ['c', 'd', 'e', 'f']) source.emit('requestSampled', sample(id));
      expect(writes).toHaveLength(2);
      expect(writes[1]!.trim().split('\n').map((l) => (JSON.parse(l) as { id: string }).id)).toEqual(['c', 'd', 'e']);
      vi.advanceTimersByTime(100);
      expect(writes).toHaveLength(3);
      expect(writes[2]!.trim().split('\n').map((l) => (JSON.parse(l) as { id: string }).id)).toEqual(['f']);
      expect(sink.dropped).toBe(0);
      source.emit('requestSampled', sample('g'));
      const closing = sink.close(); // writes what waits, without waiting for the timer
      expect(writes.at(-1)).toContain('"id":"g"');
      await closing;
    } finally {
      vi.useRealTimers();
    }
  });

  it('writes non-ASCII names and ids as UTF-8, and lines larger than a chunk whole', async () => {
    const source = new EventEmitter();
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    const sink = await JsonlSink.open(source as never, { stream: out });
    const big = new Float32Array(20_000).map((_, i) => i / 7); // 80 KB of data: a line of ~107 KB, past the 16 KiB chunks
    const events: RequestSampledEvent[] = [
      { model: 'modèle-🚀', version: 2, timestamp: 1_700_000_000_123, id: 'ид-1 "q"', inputs: undefined, outputs: { 'sortie∑': { data: new Float32Array([1.5]), shape: [1, 1], dtype: 'float32' } }, rows: 1, latencyMs: 0.5, cached: false },
      { model: 'm', version: 1, timestamp: 1_700_000_000_124, id: 'big', inputs: { x: { data: big, shape: [1, 20_000], dtype: 'float32' } }, outputs: undefined, rows: 1, latencyMs: 2, cached: true },
      { model: 'm', version: 1, timestamp: 1_700_000_000_125, id: 'after', inputs: undefined, outputs: undefined, rows: 1, latencyMs: 1, cached: false },
    ];
    for (const e of events) source.emit('requestSampled', e);
    await sink.close();
    const lines = Buffer.concat(chunks).toString('utf8').trim().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { id: string }).id)).toEqual(['ид-1 "q"', 'big', 'after']);
    expect(JSON.parse(lines[0]!)).toMatchObject({ model: 'modèle-🚀', timestamp: '2023-11-14T22:13:20.123Z', outputs: { 'sortie∑': { shape: [1, 1] } } });
    const b64 = (JSON.parse(lines[1]!) as { inputs: { x: { b64: string } } }).inputs.x.b64;
    const bytes = Buffer.from(b64, 'base64');
    expect(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)).toEqual(big);
    expect(sink).toMatchObject({ written: 3, dropped: 0 });
  });
});

