import { it, expect } from 'vitest';
import { readFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { ModelHost, JsonlSink, type RequestSampledEvent } from '../../../src/index.js';
import { sampleLine } from '../../../src/monitoring/sample-line.js';
import { borrowsSamples } from '../../../src/monitoring/sample-listeners.js';
import { fakeRuntime, FAKE_SOURCE } from '../../helpers/fake-runtime.js';

/**
 * Sampling under churn: two hosts with a JSON-lines sink in-thread and one in a worker each,
 * one worker sink closed while samples flow, a user listener added and removed mid-stream (the
 * host switches between borrowing and copying), callers reusing their arrays once answered.
 * Every line is `sampleLine` of a sample served by its own host, with that request's values.
 */
it('two hosts, two sinks each, one closed mid-stream, a user listener coming and going: every line is its request’s', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'two-'));
  const hosts = [0, 1].map(() => new ModelHost({ runtimes: { fake: fakeRuntime() }, models: { m: { sampling: { rate: 1 }, batching: { maxBatchSize: 4, maxDelayMs: 1 } } } }));
  const expected = [new Set<string>(), new Set<string>()];
  for (const [h, host] of hosts.entries()) {
    await host.load('m', { source: FAKE_SOURCE });
    host.on('requestSampled', borrowsSamples((e: RequestSampledEvent) => void expected[h]!.add(sampleLine(e))));
  }
  const chunks: Buffer[][] = [[], []];
  const streams = [0, 1].map((h) => new Writable({ write: (c: Buffer, _e, done) => void (chunks[h]!.push(c), done()) }));
  const sinks = await Promise.all(hosts.flatMap((host, h) => [JsonlSink.open(host, { stream: streams[h]! }), JsonlSink.open(host, { path: join(dir, `w${h}.jsonl`) })]));
  const kept: RequestSampledEvent[] = [];
  const keep = (e: RequestSampledEvent) => void kept.push(e);
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < 2000; i++) {
    const h = i % 2;
    const input = new Float32Array([i, h, -i, 0.5]);
    // The caller reuses its input array (and overwrites its outputs) once its answer came.
    pending.push(hosts[h]!.predict('m', input, { id: `r${i}` }).then((out) => void (input.fill(Number.NaN), (out['y']!.data as Float32Array).fill(Number.NaN))));
    if (i === 500) hosts[0]!.on('requestSampled', keep);
    if (i === 900) hosts[0]!.off('requestSampled', keep);
    if (i === 1200) pending.push(sinks[1]!.close());
    if (i % 100 === 99) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  await Promise.all(sinks.map((s) => s.close()));
  for (const h of [0, 1]) {
    const inThread = Buffer.concat(chunks[h]!).toString('utf8').split('\n').filter(Boolean);
    const worker = (await readFile(join(dir, `w${h}.jsonl`), 'utf8')).split('\n').filter(Boolean);
    for (const l of [...inThread, ...worker]) expect(expected[h]!.has(l + '\n')).toBe(true);
    expect(inThread.length).toBe(1000);
    if (h === 1) expect(worker.length).toBe(1000);
    // Every line holds the request's values: inputs as given, outputs 2x + 1.
    const decode = (b64: string) => Array.from(new Float32Array(new Uint8Array(Buffer.from(b64, 'base64')).buffer));
    for (const l of [...inThread, ...worker]) {
      const s = JSON.parse(l) as { id: string; inputs: { x: { b64: string } }; outputs: { y: { b64: string } } };
      const i = Number(s.id.slice(1));
      expect([decode(s.inputs.x.b64), decode(s.outputs.y.b64)]).toEqual([[i, h, -i, 0.5], [2 * i + 1, 2 * h + 1, -2 * i + 1, 2]]);
    }
  }
  for (const e of kept) {
    const i = Number(e.id!.slice(1));
    expect(Array.from(e.inputs!['x']!.data as Float32Array)).toEqual([i, 0, -i, 0.5]);
    expect(Array.from(e.outputs!['y']!.data as Float32Array)).toEqual([2 * i + 1, 1, -2 * i + 1, 2]);
  }
  expect(kept.length).toBeGreaterThan(100);
  for (const host of hosts) await host.close();
});
