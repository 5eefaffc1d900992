import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { JsonlSink, ModelHost } from '../../../src/index.js';
import { FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';
import { useTempDirs } from '../../helpers/temp-dir.js';

const tempDir = useTempDirs();

async function sampledHost(models: string[] = ['m']) {
  const host = new ModelHost({ runtimes: { fake: fakeRuntime() }, defaults: { sampling: { rate: 1 } } });
  for (const m of models) await host.load(m, { source: FAKE_SOURCE });
  return host;
}

describe('JsonlSink', () => {
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
});
