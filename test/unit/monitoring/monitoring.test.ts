import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode, JsonlSink, ModelHost, type DriftDetectedEvent, type ModelHostOptions, type RequestCompletedEvent, type RequestSampledEvent, type VersionRolledBackEvent } from '../../../src/index.js';
import { collectMetrics } from '../../../src/metrics/prometheus.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { affine, FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';
import { writeVersion } from '../../helpers/repository.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { versionedRuntime } from '../../helpers/versioned-runtime.js';
import { mulberry32 } from '../../fixtures/prng.js';
import { borrowsSamples } from '../../../src/monitoring/sample-listeners.js';
import { FeedbackStore } from '../../../src/monitoring/feedback-store.js';

const tempDir = useTempDirs();

afterEach(() => {
  vi.restoreAllMocks();
});

/** Standard normal draws from a seeded uniform source (Box–Muller). */
function gaussian(random: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** `rows` rows of 4 features, each N(mean, 1). */
function rowsOf(draw: () => number, rows: number, mean: number): Float32Array {
  const data = new Float32Array(rows * 4);
  for (let i = 0; i < data.length; i++) data[i] = mean + draw();
  return data;
}

function affineHost(models: ModelHostOptions['models'], extra: Partial<ModelHostOptions> = {}) {
  const runtime = fakeRuntime();
  return { host: new ModelHost({ runtimes: { fake: runtime }, models, ...extra }), runtime };
}

describe('drift', () => {
  it('a stream that shifts half-way (seed 7): drift in the first window after the shift, never in the 10 stable windows before', async () => {
    const windowSize = 200;
    const { host } = affineHost({ m: { sampling: { rate: 1 }, drift: { enabled: true, referenceSize: 1000, windowSize } } });
    await host.load('m', { source: FAKE_SOURCE });
    const drifts: DriftDetectedEvent[] = [];
    host.on('driftDetected', (e) => drifts.push(e));
    const draw = gaussian(mulberry32(7));
    const send = async (rows: number, mean: number) => {
      for (let sent = 0; sent < rows; sent += 50) await host.predictBatch('m', { x: { data: rowsOf(draw, 50, mean), shape: [50, 4] } });
    };
    await send(1000, 0); // the reference
    expect(host.stats('m').monitoring?.drift?.inputs).toMatchObject({ state: 'watching', referenceRows: 1000, windows: 0 });
    await send(10 * windowSize, 0); // 10 stable windows
    const stable = host.stats('m').monitoring!.drift!.inputs;
    expect(stable).toMatchObject({ windows: 10, driftedWindows: 0 });
    expect(drifts).toEqual([]);
    expect(stable.last!.score).toBeLessThan(0.2);

    await send(windowSize, 1); // the world shifts by one standard deviation
    const inputDrifts = drifts.filter((d) => d.group === 'inputs');
    expect(inputDrifts).toHaveLength(1);
    expect(inputDrifts[0]).toMatchObject({ model: 'm', version: 1, windowRows: windowSize });
    expect(inputDrifts[0]!.score).toBeGreaterThan(0.2);
    expect(inputDrifts[0]!.features.map((f) => f.name).sort()).toEqual(['x[0]', 'x[1]', 'x[2]', 'x[3]']);
    for (const f of inputDrifts[0]!.features) expect(f.pValue).toBeLessThan(0.05 / 4);
    const after = host.stats('m').monitoring!.drift!.inputs;
    expect(after).toMatchObject({ windows: 11, driftedWindows: 1 });
    const x0 = after.last!.features.find((f) => f.name === 'x[0]')!;
    expect(x0.reference).toMatchObject({ mean: expect.closeTo(0, 1) });
    expect(x0.live).toMatchObject({ mean: expect.closeTo(1, 0) });
    await host.close();
  });

  it('summarizes an image input per channel (not per pixel) and a classifier output by class shares', async () => {
    const classes = 3;
    const runtime = fakeRuntime({
      signature: { inputs: [{ name: 'image', dtype: 'float32', shape: [-1, 8, 8, 3] }], outputs: [{ name: 'probs', dtype: 'float32', shape: [-1, classes] }] },
      compute: (inputs) => {
        const x = inputs['image']!;
        const rows = x.shape[0]!;
        const probs = new Float32Array(rows * classes);
        // The class is the brightest channel of the row.
        for (let r = 0; r < rows; r++) {
          const sums = [0, 0, 0];
          for (let i = 0; i < 192; i++) sums[i % 3]! += (x.data as Float32Array)[r * 192 + i]!;
          probs[r * classes + sums.indexOf(Math.max(...sums))] = 1;
        }
        return { probs: { data: probs, shape: [rows, classes], dtype: 'float32' } };
      },
    });
    const host = new ModelHost({ runtimes: { fake: runtime }, models: { img: { sampling: { rate: 1 }, drift: { enabled: true, referenceSize: 300, windowSize: 100 } } } });
    await host.load('img', { source: FAKE_SOURCE });
    const random = mulberry32(11);
    const image = (bias: number) => {
      const data = new Float32Array(192);
      for (let i = 0; i < 192; i++) data[i] = random() + (i % 3 === 0 ? bias : 0);
      return data;
    };
    for (let i = 0; i < 400; i++) await host.predict('img', image(0));
    const stats = host.stats('img').monitoring!.drift!;
    expect(stats.inputs.last!.features.map((f) => f.name)).toEqual(['image:channel0', 'image:channel1', 'image:channel2']);
    expect(stats.outputs.last!.features.map((f) => [f.name, f.kind])).toEqual([['probs:class', 'classes']]);
    expect(stats.outputs.last!.drifted).toBe(false);
    const drifts: DriftDetectedEvent[] = [];
    host.on('driftDetected', (e) => drifts.push(e));
    for (let i = 0; i < 100; i++) await host.predict('img', image(0.2)); // channel 0 brighter: class 0 wins more
    expect(drifts.map((d) => d.group).sort()).toEqual(['inputs', 'outputs']);
    expect(drifts.find((d) => d.group === 'inputs')!.features.map((f) => f.name)).toEqual(['image:channel0']);
    const shares = host.stats('img').monitoring!.drift!.outputs.last!.features[0]!.live as { shares: number[] };
    expect(shares.shares[0]).toBeGreaterThan(0.5);
    await host.close();
  });

  it('summarizes a long input without channels (audio) by its row mean, and sees a loudness change through the spread of those means', async () => {
    const runtime = fakeRuntime({
      signature: { inputs: [{ name: 'audio', dtype: 'float32', shape: [-1, 512] }], outputs: [{ name: 'speech', dtype: 'float32', shape: [-1, 1] }] },
      compute: (inputs) => ({ speech: { data: new Float32Array(inputs['audio']!.shape[0]!), shape: [inputs['audio']!.shape[0]!, 1], dtype: 'float32' } }),
    });
    const host = new ModelHost({ runtimes: { fake: runtime }, models: { vad: { sampling: { rate: 1 }, drift: { enabled: true, referenceSize: 300, windowSize: 100 } } } });
    await host.load('vad', { source: FAKE_SOURCE });
    const random = mulberry32(13);
    const chunk = (amplitude: number) => Float32Array.from({ length: 512 }, () => (random() - 0.5) * amplitude);
    for (let i = 0; i < 300 + 3 * 100; i++) await host.predict('vad', chunk(0.05)); // the reference, 3 quiet windows
    const quiet = host.stats('vad').monitoring!.drift!.inputs;
    expect(quiet.last!.features.map((f) => f.name)).toEqual(['audio:mean']);
    expect(quiet).toMatchObject({ windows: 3, driftedWindows: 0 });
    for (let i = 0; i < 100; i++) await host.predict('vad', chunk(0.5)); // ten times louder: zero-mean still, but the chunk means spread
    const loud = host.stats('vad').monitoring!.drift!.inputs;
    expect(loud.driftedWindows).toBe(1);
    const mean = loud.last!.features[0]!;
    expect((mean.live as { variance: number }).variance).toBeGreaterThan(50 * (mean.reference as { variance: number }).variance);
    await host.close();
  });

  it('a row holding NaN or ±Infinity is skipped and counted, not folded into the reference or a window (one such request made the reference mean NaN for good)', async () => {
    const { host } = affineHost({ m: { sampling: { rate: 1 }, drift: { enabled: true, referenceSize: 20, windowSize: 20 } } });
    await host.load('m', { source: FAKE_SOURCE });
    const draw = gaussian(mulberry32(9));
    const hostile = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
    for (let i = 0; i < 20; i++) {
      await host.predict('m', rowsOf(draw, 1, 0));
      await host.predict('m', [hostile[i % 3]!, 0, 0, 0]); // refused by nothing upstream: the model answers it
    }
    for (let i = 0; i < 20; i++) await host.predict('m', rowsOf(draw, 1, 0));
    const inputs = host.stats('m').monitoring!.drift!.inputs;
    expect(inputs).toMatchObject({ state: 'watching', referenceRows: 20, windows: 1, skippedRows: 20 });
    for (const f of inputs.last!.features) {
      const { mean, variance } = f.reference as { mean: number; variance: number };
      const live = f.live as { mean: number; variance: number };
      expect([mean, variance, live.mean, live.variance, f.psi, f.pValue].every(Number.isFinite), f.name).toBe(true);
    }
    await host.close();
  });

  it('takes the reference from drift.reference in config when given', async () => {
    const draw = gaussian(mulberry32(3));
    const reference = Array.from({ length: 200 }, () => Array.from(rowsOf(draw, 1, 5)));
    const { host } = affineHost({ m: { sampling: { rate: 1 }, drift: { enabled: true, reference, windowSize: 100 } } });
    await host.load('m', { source: FAKE_SOURCE });
    await host.predict('m', [5, 5, 5, 5]);
    const inputs = host.stats('m').monitoring!.drift!.inputs;
    expect(inputs).toMatchObject({ state: 'watching', referenceRows: 200, windowRows: 1 });
    await host.close();
  });
});

describe('payload sampling', () => {
  it('rate 1 samples every request with copies of inputs and outputs, its id and latency', async () => {
    const { host } = affineHost({ m: { sampling: { rate: 1 } } });
    await host.load('m', { source: FAKE_SOURCE });
    const samples: RequestSampledEvent[] = [];
    host.on('requestSampled', (e) => samples.push(e));
    const input = new Float32Array([1, 2, 3, 4]);
    const out = await host.predict('m', input, { id: 'req-1' });
    expect(samples).toHaveLength(1);
    expect(samples[0]).toMatchObject({ model: 'm', version: 1, id: 'req-1', rows: 1, cached: false });
    expect(samples[0]!.latencyMs).toBeGreaterThanOrEqual(0);
    expect(samples[0]!.inputs!['x']).toEqual({ data: new Float32Array([1, 2, 3, 4]), shape: [1, 4], dtype: 'float32' });
    expect(samples[0]!.outputs!['y']!.data).toEqual(new Float32Array([3, 5, 7, 9]));
    (out['y']!.data as Float32Array)[0] = 99; // the caller's outputs are not the sample's
    expect((samples[0]!.outputs!['y']!.data as Float32Array)[0]).toBe(3);
    expect(host.stats('m').monitoring!.sampling).toEqual({ rate: 1, sampled: 1 });
    await host.close();
  });

  it('hands borrowing listeners alone (the JSON-lines sink) the request’s own outputs, and copies to all once any listener may keep them', async () => {
    const { host } = affineHost({ m: { sampling: { rate: 1 } } });
    await host.load('m', { source: FAKE_SOURCE });
    const borrowed: RequestSampledEvent[] = [];
    const borrower = borrowsSamples((e: RequestSampledEvent) => void borrowed.push(e));
    host.on('requestSampled', borrower);
    const input = new Float32Array([1, 2, 3, 4]);
    const out = await host.predict('m', input);
    // No copies of the outputs for a listener that reads the sample during the call only; the
    // inputs are copied as they come (the caller may change its array while the request is in flight).
    expect(borrowed[0]!.inputs!['x']!.data).not.toBe(input);
    expect(borrowed[0]!.inputs!['x']!.data).toEqual(input);
    expect(borrowed[0]!.outputs!['y']!.data).toBe(out['y']!.data);

    // A listener that may keep samples: it and the borrower get copies, the same ones.
    const kept: RequestSampledEvent[] = [];
    host.on('requestSampled', (e) => kept.push(e));
    const out2 = await host.predict('m', input);
    expect(kept[0]!.inputs!['x']!.data).not.toBe(input);
    expect(kept[0]!.inputs!['x']!.data).toEqual(input);
    expect(kept[0]!.outputs!['y']!.data).not.toBe(out2['y']!.data);
    expect(borrowed[1]).toBe(kept[0]);
    input[0] = 99;
    (out2['y']!.data as Float32Array)[0] = 99;
    expect((kept[0]!.inputs!['x']!.data as Float32Array)[0]).toBe(1);
    expect((kept[0]!.outputs!['y']!.data as Float32Array)[0]).toBe(3);
    await host.close();
  });

  it('a sample holds the inputs the model was given, not what the caller changed its array to while the request was in flight (JSON-lines sink alone; a keeping listener added in flight)', async () => {
    // The "caller" changes its array after the model read it and before the answer is sampled.
    let input = new Float32Array([1, 2, 3, 4]);
    let armed = false;
    const seen: number[][] = [];
    const runtime = fakeRuntime({
      compute: (inputs) => {
        seen.push(Array.from(inputs['x']!.data as Float32Array));
        const out = affine(inputs);
        if (armed) input.fill(-1);
        return out;
      },
    });
    const host = new ModelHost({ runtimes: { fake: runtime }, models: { m: { sampling: { rate: 1 } } } });
    await host.load('m', { source: FAKE_SOURCE });
    const chunks: Buffer[] = [];
    const stream = new Writable({ write: (chunk: Buffer, _encoding, done) => void (chunks.push(chunk), done()) });
    const sink = await JsonlSink.open(host, { stream });
    seen.length = 0;
    armed = true;
    await host.predict('m', input, { id: 'a' });

    input = new Float32Array([5, 6, 7, 8]);
    const answer = host.predict('m', input, { id: 'b' });
    const kept: RequestSampledEvent[] = [];
    host.on('requestSampled', (e) => kept.push(e));
    await answer;
    await sink.close();
    const decode = (b64: string) => Array.from(new Float32Array(new Uint8Array(Buffer.from(b64, 'base64')).buffer));
    const lines = Buffer.concat(chunks).toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; inputs: { x: { b64: string } }; outputs: { y: { b64: string } } });
    expect(seen).toEqual([[1, 2, 3, 4], [5, 6, 7, 8]]);
    expect(lines.map((l) => [l.id, decode(l.inputs.x.b64), decode(l.outputs.y.b64)])).toEqual([
      ['a', [1, 2, 3, 4], [3, 5, 7, 9]],
      ['b', [5, 6, 7, 8], [11, 13, 15, 17]],
    ]);
    expect(Array.from(kept[0]!.inputs!['x']!.data as Float32Array)).toEqual([5, 6, 7, 8]);
    await host.close();
  });

  it('a keeping listener added while the request was in flight (only a borrower listened when it came) gets the inputs copied when it came', async () => {
    const { host } = affineHost({ m: { sampling: { rate: 1 }, batching: { maxBatchSize: 8, maxDelayMs: 1 } } });
    await host.load('m', { source: FAKE_SOURCE });
    host.on('requestSampled', borrowsSamples(() => undefined));
    const input = new Float32Array([1, 2, 3, 4]);
    const answer = host.predict('m', input);
    const kept: RequestSampledEvent[] = [];
    host.on('requestSampled', (e) => kept.push(e));
    await answer;
    expect(kept).toHaveLength(1);
    expect(kept[0]!.inputs!['x']!.data).not.toBe(input);
    expect(kept[0]!.inputs!['x']).toEqual({ data: new Float32Array([1, 2, 3, 4]), shape: [1, 4], dtype: 'float32' });
    await host.close();
  });

  it('JSON-lines sinks on a host (in-thread and in a worker) borrow each sample: their lines hold the request’s values, untouched by the caller changing its arrays afterwards', async () => {
    const dir = await tempDir();
    const { host } = affineHost({ m: { sampling: { rate: 1 } } });
    await host.load('m', { source: FAKE_SOURCE });
    const chunks: Buffer[] = [];
    const stream = new Writable({ write: (chunk: Buffer, _encoding, done) => void (chunks.push(chunk), done()) });
    const inThread = await JsonlSink.open(host, { stream });
    const worker = await JsonlSink.open(host, { path: join(dir, 'samples.jsonl') });
    const input = new Float32Array([1, 2, 3, 4]);
    const out = await host.predict('m', input, { id: 'a' });
    input.fill(-1);
    (out['y']!.data as Float32Array).fill(-1);
    await inThread.close();
    await worker.close();
    const decode = (b64: string) => Array.from(new Float32Array(new Uint8Array(Buffer.from(b64, 'base64')).buffer));
    for (const text of [Buffer.concat(chunks).toString('utf8'), await readFile(join(dir, 'samples.jsonl'), 'utf8')]) {
      const line = JSON.parse(text) as { id: string; inputs: { x: { b64: string } }; outputs: { y: { b64: string } } };
      expect(line.id).toBe('a');
      expect(decode(line.inputs.x.b64)).toEqual([1, 2, 3, 4]);
      expect(decode(line.outputs.y.b64)).toEqual([3, 5, 7, 9]);
    }
    await host.close();
  });

  it('include narrows what a sample carries; rate 0 samples nothing; one draw per sampled request decides how many to skip', async () => {
    const { host } = affineHost({ a: { sampling: { rate: 1, include: ['outputs'] } }, b: { sampling: { rate: 0 } }, c: { sampling: { rate: 0.25 } } });
    for (const m of ['a', 'b', 'c']) await host.load(m, { source: FAKE_SOURCE });
    const samples: RequestSampledEvent[] = [];
    host.on('requestSampled', (e) => samples.push(e));
    await host.predict('a', [1, 1, 1, 1]);
    expect(samples[0]!.inputs).toBeUndefined();
    expect(samples[0]!.outputs).toBeDefined();
    await host.predict('b', [1, 1, 1, 1]);
    expect(samples).toHaveLength(1);
    // Skips are floor(ln(1 − u) / ln(1 − 0.25)): u 0.3 → 1, 0.5 → 2, 0.9 → 8.
    const draws = [0.3, 0.5, 0.9];
    const random = vi.spyOn(Math, 'random').mockImplementation(() => draws.shift()!);
    for (let i = 0; i < 6; i++) await host.predict('c', [i, 0, 0, 0]);
    expect(random).toHaveBeenCalledTimes(3);
    expect(samples.slice(1).map((s) => (s.inputs!['x']!.data as Float32Array)[0])).toEqual([1, 4]);
    await host.close();
  });

  it('refuses bad options naming the option, the expected and the received', async () => {
    expect(() => new ModelHost({ runtimes: { fake: fakeRuntime() }, models: { m: { sampling: { rate: 2 } } } })).toThrow(/sampling\.rate.*2/);
    expect(() => new ModelHost({ runtimes: { fake: fakeRuntime() }, models: { m: { sampling: { include: ['headers'] } } } } as never)).toThrow(/sampling\.include\[0\]/);
    expect(() => new ModelHost({ runtimes: { fake: fakeRuntime() }, models: { m: { cache: { maxBytes: 0 } } } })).toThrow(/cache\.maxBytes/);
    expect(() => new ModelHost({ runtimes: { fake: fakeRuntime() }, models: { m: { feedback: { task: 'ranking' } } } } as never)).toThrow(/feedback\.task/);
  });
});

describe('response cache', () => {
  it('answers identical inputs from memory without running the model, with copies; a swap invalidates it', async () => {
    const root = await tempDir();
    for (const v of [1, 2]) await writeVersion(root, 'm', v, { 'model.fake': `v${v}` });
    const runtime = versionedRuntime();
    let runs = 0;
    const counting = { ...runtime, async load(...args: Parameters<typeof runtime.load>) {
      const session = await runtime.load(...args);
      return { ...session, run: (inputs: Parameters<typeof session.run>[0]) => (runs++, session.run(inputs)) };
    } };
    const host = new ModelHost({ repository: root, runtimes: { versioned: counting }, models: { m: { cache: { enabled: true } } } });
    await host.load('m', { version: 1 });
    const before = runs;
    // Kept from its second sighting: the first two run, the third is answered from memory.
    const first = await host.predict('m', [1, 2]);
    expect(host.stats('m').monitoring!.cache).toMatchObject({ hits: 0, misses: 1, entries: 0 });
    await host.predict('m', [1, 2]);
    const third = await host.predict('m', [1, 2]);
    expect(runs - before).toBe(2);
    expect(third).toEqual(first);
    (third['y']!.data as Float32Array)[0] = 42;
    expect((await host.predict('m', [1, 2]))['y']!.data).toEqual(new Float32Array([1, 2]));
    for (let i = 0; i < 2; i++) await host.predict('m', [1, 3]);
    expect(host.stats('m').monitoring!.cache).toMatchObject({ hits: 2, misses: 4, entries: 2 });
    await host.deploy('m', 2);
    for (let i = 0; i < 2; i++) expect((await host.predict('m', [1, 2]))['y']!.data).toEqual(new Float32Array([2, 4]));
    expect(host.stats('m').monitoring!.cache).toMatchObject({ hits: 2, misses: 6, entries: 1 });
    await host.close();
  });

  it('never answers from another version while a canary splits traffic, is promoted, rolled back, and a version loads and unloads under load', async () => {
    const root = await tempDir();
    for (const v of [1, 2, 3]) await writeVersion(root, 'm', v, { 'model.fake': `v${v}` });
    // y = x × version: an answer names the version that computed it.
    const host = new ModelHost({ repository: root, runtimes: { versioned: versionedRuntime() }, defaults: { cache: { enabled: true }, rollout: { enabled: false } } });
    await host.load('m', { version: 1 });
    const answeredBy = new Map<string, number>();
    let hits = 0;
    host.on('requestCompleted', (e) => {
      answeredBy.set(e.id!, e.version);
      if (e.cached) hits++;
    });
    const wrong: string[] = [];
    let sent = 0;
    const burst = async () => {
      const requests = Array.from({ length: 200 }, (_, i) => {
        const id = `r${sent++}`;
        return host.predict('m', [i % 5, 1], { id }).then((out) => {
          const version = answeredBy.get(id)!;
          if ((out['y']!.data as Float32Array)[1] !== version) wrong.push(`${id}: y ${String((out['y']!.data as Float32Array)[1])} from v${version}`);
        });
      });
      await Promise.all(requests);
    };
    await Promise.all([burst(), host.deploy('m', 2, { canary: 0.5 }), burst(), burst()]);
    await Promise.all([burst(), host.promote('m'), burst()]);
    await Promise.all([burst(), host.rollback('m'), burst()]);
    await Promise.all([burst(), host.load('m', { version: 3 }), burst()]);
    await Promise.all([burst(), host.unload('m', 3), burst()]);
    await burst();
    expect(wrong).toEqual([]);
    expect(hits).toBeGreaterThan(100); // the cache did answer
    await host.close();
  });

  it('counts a hit as a request served (stats, requestCompleted, modelhost_requests_total), marked `cached`, with no queue or compute time', async () => {
    const { host, runtime } = affineHost({ m: { cache: { enabled: true } } });
    await host.load('m', { source: FAKE_SOURCE });
    const completed: RequestCompletedEvent[] = [];
    host.on('requestCompleted', (e) => completed.push(e));
    const { registry } = collectMetrics(host);
    const runs = runtime.runs;
    for (let i = 0; i < 4; i++) await host.predict('m', [1, 1, 1, 1], { id: `r${i}` });
    expect(runtime.runs - runs).toBe(2);
    expect(completed.map((e) => [e.id, e.cached])).toEqual([['r0', false], ['r1', false], ['r2', true], ['r3', true]]);
    expect(completed[2]).toMatchObject({ model: 'm', version: 1, rows: 1, batchSize: 0, queueMs: 0, computeMs: 0 });
    expect(completed[2]!.totalMs).toBeGreaterThanOrEqual(0);
    const window = host.stats('m').versions[1]!.windows['1m'];
    expect(window).toMatchObject({ requests: 4, rows: 4, errors: 0, batches: 2 });
    expect(host.stats('m').monitoring!.cache).toMatchObject({ hits: 2, misses: 2 });
    expect(await registry.metrics()).toMatch(/^modelhost_requests_total\{model="m",version="1",code="OK"\} 4$/m);
    await host.close();
  });

  it('a cache hit whose monitoring throws is still answered (as a run is): monitoring never fails a request that succeeded', async () => {
    const { host } = affineHost({ m: { cache: { enabled: true }, feedback: { task: 'regression' } } });
    await host.load('m', { source: FAKE_SOURCE });
    const expected = await host.predict('m', [3, 1, 1, 1], { id: 'first' });
    await host.predict('m', [3, 1, 1, 1], { id: 'second' }); // seen twice: the cache keeps it now
    vi.spyOn(FeedbackStore.prototype, 'record').mockImplementation(() => {
      throw new Error('feedback store fault');
    });
    const hit = await host.predict('m', [3, 1, 1, 1], { id: 'third' });
    expect(hit['y']!.data).toEqual(expected['y']!.data);
    expect(host.stats('m').monitoring!.cache).toMatchObject({ hits: 1 });
    await host.close();
  });

  it('counts hits in stats without any event listener (the recorder is the host’s own subscriber)', async () => {
    const { host } = affineHost({ m: { cache: { enabled: true } } });
    await host.load('m', { source: FAKE_SOURCE });
    for (let i = 0; i < 4; i++) await host.predict('m', [2, 1, 1, 1]);
    expect(host.stats('m').monitoring!.cache).toMatchObject({ hits: 2 });
    expect(host.stats('m').versions[1]!.windows['5m']).toMatchObject({ requests: 4, rows: 4 });
    await host.close();
  });

  it('is off by default and never holds more than maxBytes', async () => {
    const { host, runtime } = affineHost({ small: { cache: { enabled: true, maxBytes: 100 } } });
    await host.load('plain', { source: FAKE_SOURCE });
    await host.load('small', { source: FAKE_SOURCE });
    await host.predict('plain', [1, 1, 1, 1]);
    await host.predict('plain', [1, 1, 1, 1]);
    expect(host.stats('plain').monitoring).toBeUndefined();
    const runs = runtime.runs;
    await host.predict('small', [1, 1, 1, 1]);
    await host.predict('small', [1, 1, 1, 1]);
    expect(runtime.runs - runs).toBe(2);
    expect(host.stats('small').monitoring!.cache).toMatchObject({ entries: 0, bytes: 0 });
    await host.close();
  });
});

describe('live quality', () => {
  async function canary(rollout: Record<string, unknown>) {
    const root = await tempDir();
    for (const v of [1, 2]) await writeVersion(root, 'm', v, { 'model.fake': `v${v}` });
    const clock = new FakeClock();
    // y = x × factor: v1 keeps the argmax of x (right), v2 flips it (a deliberately worse classifier).
    const runtime = versionedRuntime({ factor: new Map([[1, 1], [2, -1]]) });
    const host = new ModelHost({ repository: root, clock, runtimes: { versioned: runtime }, defaults: { batching: false, feedback: { task: 'classification', windowMs: 60_000 }, rollout } });
    await host.load('m', { version: 1 });
    await host.deploy('m', 2, { canary: 0.5 });
    return { host, clock };
  }

  async function serveAndLabel(host: ModelHost, clock: FakeClock, requests: number): Promise<void> {
    const random = mulberry32(5);
    for (let i = 0; i < requests; i++) {
      clock.advance(100);
      const x = [random(), random()];
      const id = `req-${i}`;
      await host.predict('m', x, { id });
      host.feedback('m', id, x[0]! > x[1]! ? 0 : 1);
    }
  }

  it('per-version accuracy shows a worse canary; without maxAccuracyDrop the guard leaves it', async () => {
    const { host, clock } = await canary({ windowMs: 10_000, minSamples: 20, minFeedback: 20 });
    const rolledBack: VersionRolledBackEvent[] = [];
    host.on('versionRolledBack', (e) => rolledBack.push(e));
    await serveAndLabel(host, clock, 200);
    const stats = host.stats('m');
    expect(stats.versions[1]!.quality).toMatchObject({ accuracy: 1 });
    expect(stats.versions[2]!.quality).toMatchObject({ accuracy: 0 });
    expect(stats.versions[1]!.quality!.labels + stats.versions[2]!.quality!.labels).toBe(200);
    expect(stats.guard).toMatchObject({ candidateAccuracy: 0, baselineAccuracy: 1 });
    expect(rolledBack).toEqual([]);
    await host.close();
  });

  it('with maxAccuracyDrop the guard rolls the worse canary back, naming the metric', async () => {
    const { host, clock } = await canary({ windowMs: 10_000, minSamples: 20, minFeedback: 20, maxAccuracyDrop: 0.1 });
    const rolledBack: VersionRolledBackEvent[] = [];
    host.on('versionRolledBack', (e) => rolledBack.push(e));
    await serveAndLabel(host, clock, 200);
    expect(rolledBack).toHaveLength(1);
    expect(rolledBack[0]).toMatchObject({ from: 2, version: 1, automatic: true, reason: expect.stringMatching(/^live accuracy: 0\.0% against 100\.0% \(v2 vs v1, \d+ and \d+ labels over the last 10 s\); allowed drop 10\.0%, got 100\.0%$/) });
    expect(host.status('m')).toMatchObject({ defaultVersion: 1, candidate: undefined });
    await host.close();
  });

  it('a version unloaded leaves nothing in the store: its quality window goes, and so do the predictions it served (their labels no longer match)', async () => {
    const { host, clock } = await canary({ windowMs: 10_000, minSamples: 1_000_000 });
    await serveAndLabel(host, clock, 40);
    // Served, not yet labelled: which version answered each is known only to the store.
    for (let i = 40; i < 80; i++) await host.predict('m', [1, 0], { id: `req-${i}` });
    expect(Object.keys(host.stats('m').monitoring!.feedback!.quality).sort()).toEqual(['1', '2']);
    expect(host.stats('m').monitoring!.feedback!.pending).toBe(40);
    await host.unload('m', 2);
    const { feedback } = host.stats('m').monitoring!;
    expect(Object.keys(feedback!.quality)).toEqual(['1']);
    // v2's predictions stop matching at once; their memory goes as they are met, expire or are pushed out.
    expect(feedback!.pending).toBe(40);
    const versions = [];
    for (let i = 40; i < 80; i++) versions.push(host.feedback('m', `req-${i}`, 0).version);
    const byV1 = versions.filter((v) => v === 1).length;
    expect(byV1).toBeGreaterThan(0);
    expect(byV1).toBeLessThan(40);
    expect(versions.filter((v) => v === undefined)).toHaveLength(40 - byV1);
    expect(host.stats('m').monitoring!.feedback!.pending).toBe(0);
    expect(Object.keys(host.stats('m').monitoring!.feedback!.quality)).toEqual(['1']);
    await host.close();
  });

  it('a request in flight while its version unloads: answered, and its label does not bring the version back into the stats', async () => {
    const { host } = await canary({ windowMs: 10_000, minSamples: 1_000_000 });
    let unloading = false;
    let answeredDuringUnload = 0;
    host.on('requestCompleted', (e) => (answeredDuringUnload += unloading && e.version === 2 ? 1 : 0));
    const inFlight = Array.from({ length: 8 }, (_, i) => host.predict('m', [1, 0], { id: `flight-${i}`, version: 2 }));
    unloading = true;
    await host.unload('m', 2);
    await Promise.all(inFlight);
    expect(answeredDuringUnload).toBe(8);
    for (let i = 0; i < 8; i++) expect(host.feedback('m', `flight-${i}`, 0)).toMatchObject({ matched: false });
    expect(Object.keys(host.stats('m').monitoring!.feedback!.quality)).toEqual([]);
    await host.close();
  });

  it('a version reloaded under the same number starts afresh: what the unloaded one served matches no label, nor counts for the new one', async () => {
    const { host } = await canary({ windowMs: 10_000, minSamples: 1_000_000 });
    const served = new Map<string, number>();
    host.on('requestCompleted', (e) => e.id !== undefined && served.set(e.id, e.version));
    for (let i = 0; i < 40; i++) await host.predict('m', [1, 0], { id: `old-${i}` });
    const byOldV2 = [...served].filter(([, v]) => v === 2).map(([id]) => id);
    expect(byOldV2.length).toBeGreaterThan(0);
    await host.unload('m', 2);
    await host.deploy('m', 2, { canary: 0.5 }); // loaded again: the same number, another load
    for (const id of byOldV2) expect(host.feedback('m', id, 0)).toMatchObject({ matched: false, version: undefined });
    await host.predict('m', [1, 0], { id: 'new', version: 2 });
    expect(host.feedback('m', 'new', 0)).toMatchObject({ matched: true, version: 2, labels: 1 });
    // A request id an unloaded version had used is free again, not "ambiguous".
    await host.predict('m', [1, 0], { id: byOldV2[0]!, version: 2 });
    expect(host.feedback('m', byOldV2[0]!, 0)).toMatchObject({ matched: true, version: 2 });
    expect(host.stats('m').monitoring!.feedback!.quality[2]).toMatchObject({ labels: 2 });
    expect(host.stats('m').monitoring!.feedback!.duplicateIds).toBe(0);
    await host.close();
  });

  it('an unknown or expired id does not match; a second label for one id does not count twice; bad labels are refused', async () => {
    const clock = new FakeClock();
    const host = new ModelHost({ runtimes: { fake: fakeRuntime() }, clock, models: { r: { feedback: { task: 'regression', ttlMs: 1000 } } } });
    await host.load('r', { source: FAKE_SOURCE });
    await host.predict('r', [1, 0, 0, 0], { id: 'a' }); // y[0] = 3
    expect(host.feedback('r', 'a', 2.5)).toEqual({ matched: true, version: 1, labels: 1, correct: undefined, absoluteError: 0.5 });
    expect(host.feedback('r', 'a', 2.5).matched).toBe(false);
    await host.predict('r', [1, 0, 0, 0], { id: 'b' });
    clock.advance(2000);
    expect(host.feedback('r', 'b', 3).matched).toBe(false);
    expect(host.feedback('r', 'nope', 3).matched).toBe(false);
    expect(host.stats('r').versions[1]!.quality).toEqual({ labels: 1, accuracy: undefined, mae: 0.5 });
    expect(host.stats('r').monitoring!.feedback).toMatchObject({ unmatched: 3 });
    await host.predict('r', [1, 0, 0, 0], { id: 'c' });
    expect(() => host.feedback('r', 'c', 'three')).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_INPUT, message: expect.stringMatching(/a finite number, got the string "three"/) }));
    expect(() => host.feedback('r', 'c', [1, 2])).toThrow(/an array of 2/);
    await host.load('plain', { source: FAKE_SOURCE });
    expect(() => host.feedback('plain', 'c', 1)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_INPUT, message: expect.stringMatching(/no `feedback` option/) }));
    expect(() => host.feedback('ghost', 'c', 1)).toThrow(expect.objectContaining({ code: ErrorCode.MODEL_NOT_FOUND }));
    await host.close();
  });
});

describe('feedback integrity', () => {
  it('a class index outside the output classes (99, 4 of 4) or not an integer (1.5) is INVALID_INPUT, and the prediction stays labellable', async () => {
    const host = new ModelHost({ runtimes: { fake: fakeRuntime() }, models: { c: { feedback: { task: 'classification' } } } });
    await host.load('c', { source: FAKE_SOURCE });
    await host.predict('c', [1, 0, 0, 0], { id: 'a' }); // y = [3, 1, 1, 1]: class 0 of 4
    expect(() => host.feedback('c', 'a', 99)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_INPUT, message: expect.stringMatching(/class index below 4 .*got 99/) }));
    expect(() => host.feedback('c', 'a', 4)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_INPUT }));
    expect(() => host.feedback('c', 'a', 1.5)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_INPUT, message: expect.stringMatching(/an integer ≥ 0\), got 1.5/) }));
    expect(host.stats('c').versions[1]!.quality).toBeUndefined();
    expect(host.feedback('c', 'a', 3)).toEqual({ matched: true, version: 1, labels: 1, correct: 0, absoluteError: undefined });
    await host.close();
  });

  it('a reused id is never replaced: the id turns ambiguous, labels for it do not match, and duplicateIds counts it', async () => {
    const host = new ModelHost({ runtimes: { fake: fakeRuntime() }, models: { c: { feedback: { task: 'classification' } } } });
    await host.load('c', { source: FAKE_SOURCE });
    await host.predict('c', [1, 0, 0, 0], { id: 'shared' }); // class 0
    await host.predict('c', [0, 0, 0, 1], { id: 'shared' }); // class 3, same id
    await host.predict('c', [0, 0, 1, 0], { id: 'shared' }); // class 2, same id again
    expect(host.feedback('c', 'shared', 3)).toMatchObject({ matched: false, labels: 0 });
    expect(host.feedback('c', 'shared', 0)).toMatchObject({ matched: false, labels: 0 });
    expect(host.stats('c').versions[1]!.quality).toBeUndefined();
    expect(host.stats('c').monitoring!.feedback).toMatchObject({ duplicateIds: 2, unmatched: 2 });
    await host.close();
  });
});

describe('feedback and non-finite predictions', () => {
  it('a request whose prediction is NaN or ±Infinity is not remembered: its label cannot make live MAE NaN for the window', async () => {
    const host = new ModelHost({ runtimes: { fake: fakeRuntime() }, models: { r: { feedback: { task: 'regression' } } } });
    await host.load('r', { source: FAKE_SOURCE });
    await host.predict('r', [Number.NaN, 0, 0, 0], { id: 'nan' }); // y[0] = 2x + 1 = NaN
    await host.predict('r', [Number.POSITIVE_INFINITY, 0, 0, 0], { id: 'inf' });
    await host.predict('r', [1, 0, 0, 0], { id: 'fine' }); // y[0] = 3
    expect(host.feedback('r', 'nan', 3)).toMatchObject({ matched: false });
    expect(host.feedback('r', 'inf', 3)).toMatchObject({ matched: false });
    expect(host.feedback('r', 'fine', 2.5)).toMatchObject({ matched: true, absoluteError: 0.5 });
    expect(host.stats('r').versions[1]!.quality).toEqual({ labels: 1, accuracy: undefined, mae: 0.5 });
    await host.close();
    // A classifier's scores holding NaN have no argmax: not remembered either.
    const classifier = new ModelHost({ runtimes: { fake: fakeRuntime() }, models: { c: { feedback: { task: 'classification' } } } });
    await classifier.load('c', { source: FAKE_SOURCE });
    await classifier.predict('c', [Number.NaN, 0, 0, 0], { id: 'nan' });
    expect(classifier.feedback('c', 'nan', 1)).toMatchObject({ matched: false });
    await classifier.close();
  });

  it('a prediction is read as a number whatever the output dtype: float16 NaN/Infinity bits and float64 NaN are not remembered; int64 is', () => {
    const options = { task: 'regression' as const, output: undefined, ttlMs: 60_000, maxEntries: 100, maxBytes: 1 << 20, windowMs: 60_000 };
    const store = new FeedbackStore('r', options, () => 0);
    const out = (dtype: string, data: ArrayLike<number | bigint>) => ({ y: { dtype, shape: [1, 1], data } }) as never;
    store.record('half-nan', 1, out('float16', new Uint16Array([0x7e00])), 1);
    store.record('half-inf', 1, out('float16', new Uint16Array([0x7c00])), 1);
    store.record('double-nan', 1, out('float64', new Float64Array([Number.NaN])), 1);
    store.record('half', 1, out('float16', new Uint16Array([0x3e00])), 1); // 1.5
    store.record('int64', 1, out('int64', new BigInt64Array([7n])), 1);
    for (const id of ['half-nan', 'half-inf', 'double-nan']) expect(store.join(id, 1)).toMatchObject({ matched: false });
    expect(store.join('half', 1)).toMatchObject({ matched: true, absoluteError: 0.5 });
    expect(store.join('int64', 5)).toMatchObject({ matched: true, absoluteError: 2 });
    const classes = new FeedbackStore('c', { ...options, task: 'classification' }, () => 0);
    classes.record('half-nan', 1, { y: { dtype: 'float16', shape: [1, 2], data: new Uint16Array([0x3c00, 0x7e00]) } } as never, 1);
    expect(classes.join('half-nan', 0)).toMatchObject({ matched: false });
  });
});

describe('feedback store bounds', () => {
  it('holds at most feedback.maxBytes of predictions, whatever the rows per request: the oldest go first, a request larger than the bound is not remembered', async () => {
    const maxBytes = 64 * 1024;
    // Rows per request are bounded by queue.maxSize (1024 by default; raised here), not by maxEntries.
    const host = new ModelHost({ runtimes: { fake: fakeRuntime() }, models: { r: { feedback: { task: 'regression', maxBytes }, queue: { maxSize: 20_000 } } } });
    await host.load('r', { source: FAKE_SOURCE });
    const rows = 1000; // 8 KB of predictions per id, and ~0.4 KB for the entry: 7 fit
    const x = { x: { data: new Float32Array(rows * 4), shape: [rows, 4] } };
    for (let i = 0; i < 20; i++) await host.predictBatch('r', x, { id: `big-${i}` });
    const held = host.stats('r').monitoring!.feedback!;
    expect(held.bytes).toBeLessThanOrEqual(maxBytes);
    expect(held.pending).toBe(7);
    expect(host.feedback('r', 'big-19', new Array<number>(rows).fill(1))).toMatchObject({ matched: true, labels: rows, absoluteError: 0 });
    expect(host.feedback('r', 'big-0', new Array<number>(rows).fill(1))).toMatchObject({ matched: false });
    const huge = 10_000; // 80 KB: more than the whole bound
    await host.predictBatch('r', { x: { data: new Float32Array(huge * 4), shape: [huge, 4] } }, { id: 'huge' });
    expect(host.stats('r').monitoring!.feedback!.pending).toBe(6);
    expect(host.feedback('r', 'huge', new Array<number>(huge).fill(1))).toMatchObject({ matched: false });
    await host.close();
  });

  it('refuses a windowMs of Infinity (accepted, it kept only the last label: every label started a new slice)', async () => {
    expect(() => new ModelHost({ runtimes: { fake: fakeRuntime() }, models: { r: { feedback: { windowMs: Number.POSITIVE_INFINITY } } } })).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_CONFIG, message: expect.stringMatching(/^`models\.r\.feedback\.windowMs` must be a finite number ≥ 1000, got Infinity/) }),
    );
    // A long one (labels that come months later) still counts every label in it.
    const clock = new FakeClock();
    const host = new ModelHost({ runtimes: { fake: fakeRuntime() }, clock, models: { r: { feedback: { task: 'regression', windowMs: 365 * 24 * 3_600_000 } } } });
    await host.load('r', { source: FAKE_SOURCE });
    for (const id of ['a', 'b', 'c']) {
      await host.predict('r', [1, 2, 3, 4], { id });
      clock.advance(3_600_000);
      host.feedback('r', id, 0);
    }
    expect(host.stats('r').monitoring!.feedback!.quality[1]).toMatchObject({ labels: 3 });
    await host.close();
  });

  it('refuses a maxBytes that is not an integer ≥ 1', () => {
    expect(() => new ModelHost({ runtimes: { fake: fakeRuntime() }, models: { r: { feedback: { maxBytes: 0 } } } })).toThrow(/feedback\.maxBytes/);
  });
});

describe('monitoring options that cannot work are refused at load, naming the key', () => {
  const refusal = (key: RegExp) => expect.objectContaining({ code: ErrorCode.INVALID_CONFIG, message: expect.stringMatching(key) });

  it('feedback.ttlMs that is not a whole number of ms (lru-cache threw a TypeError at the first request)', () => {
    for (const ttlMs of [1.5, Number.POSITIVE_INFINITY]) {
      expect(() => new ModelHost({ runtimes: { fake: fakeRuntime() }, models: { m: { feedback: { ttlMs } } } })).toThrow(refusal(/feedback\.ttlMs.*an integer/));
    }
  });

  it('drift on without sampling (drift reads sampled rows only: it never saw one)', async () => {
    const host = new ModelHost({ runtimes: { fake: fakeRuntime() }, models: { m: { drift: { enabled: true } } } });
    // Named: among a repository's models, the refusal says whose options they are.
    await expect(host.load('m', { source: FAKE_SOURCE })).rejects.toThrow(expect.objectContaining({ code: ErrorCode.INVALID_CONFIG, model: 'm', message: expect.stringMatching(/^model 'm': `drift\.enabled` is true but `sampling\.rate` is 0/) }));
    await host.close();
  });

  it('feedback.output that is not one of the model’s outputs (every label answered matched: false)', async () => {
    const host = new ModelHost({ runtimes: { fake: fakeRuntime() }, models: { m: { feedback: { output: 'probs' } } } });
    await expect(host.load('m', { source: FAKE_SOURCE })).rejects.toThrow(refusal(/feedback\.output.*'y'.*got 'probs'/));
    await host.close();
    // An alias of an output (tfjs graph models: `Identity:0` for `Identity`) is not the key answers carry.
    const signature = { inputs: [{ name: 'x', dtype: 'float32' as const, shape: [-1, 4] }], outputs: [{ name: 'y', dtype: 'float32' as const, shape: [-1, 4], aliases: ['y:0'] }] };
    const aliased = new ModelHost({ runtimes: { fake: fakeRuntime({ signature }) }, models: { m: { feedback: { output: 'y:0' } } } });
    await expect(aliased.load('m', { source: FAKE_SOURCE })).rejects.toThrow(refusal(/got 'y:0' \('y:0' is another name of 'y'/));
    await aliased.close();
  });

  it('drift.reference rows that do not fit the model’s inputs (the reference was silently captured from live rows instead)', async () => {
    const reference = Array.from({ length: 20 }, (_, i) => (i === 3 ? [1, 2, 3] : [1, 2, 3, 4]));
    const host = new ModelHost({ runtimes: { fake: fakeRuntime() }, models: { m: { sampling: { rate: 1 }, drift: { enabled: true, reference } } } });
    await expect(host.load('m', { source: FAKE_SOURCE })).rejects.toThrow(refusal(/drift\.reference\[3\]/));
    await host.close();
  });

  it('drift.reference in every form predict takes loads and is the reference: nested arrays, typed arrays, { data, shape }, named; batched or not', async () => {
    const row = (i: number) => [i % 5, 1, 2, 3];
    const forms: [string, (i: number) => unknown][] = [
      ['arrays', (i) => row(i)],
      ['typed', (i) => new Float32Array(row(i))],
      ['data/shape', (i) => ({ data: new Float32Array(row(i)), shape: [4] })],
      ['named', (i) => ({ x: row(i) })],
    ];
    const unbatched = { inputs: [{ name: 'x', dtype: 'float32' as const, shape: [4] }], outputs: [{ name: 'y', dtype: 'float32' as const, shape: [4] }] };
    for (const signature of [undefined, unbatched]) {
      for (const [form, make] of forms) {
        const reference = Array.from({ length: 20 }, (_, i) => make(i));
        const host = new ModelHost({ runtimes: { fake: fakeRuntime(signature === undefined ? {} : { signature }) }, models: { m: { sampling: { rate: 1 }, drift: { enabled: true, reference, windowSize: 20 } } } });
        await host.load('m', { source: FAKE_SOURCE });
        await host.predict('m', row(0));
        expect(host.stats('m').monitoring?.drift?.inputs, `${form}, ${signature === undefined ? 'batched' : 'unbatched'}`).toMatchObject({ state: 'watching', referenceRows: 20, windowRows: 1 });
        await host.close();
      }
    }
  });

  it('a rollout guard on live quality without the feedback it reads (never fired)', async () => {
    for (const [models, key] of [
      [{ m: { rollout: { maxAccuracyDrop: 0.05 } } }, /^model 'm': `rollout\.maxAccuracyDrop`.*feedback/],
      [{ m: { feedback: { task: 'regression' }, rollout: { maxAccuracyDrop: 0.05 } } }, /rollout\.maxAccuracyDrop.*classification/],
      [{ m: { feedback: { task: 'classification' }, rollout: { maxMaeRatio: 2 } } }, /rollout\.maxMaeRatio.*regression/],
    ] as const) {
      const host = new ModelHost({ runtimes: { fake: fakeRuntime() }, models: models as ModelHostOptions['models'] });
      await expect(host.load('m', { source: FAKE_SOURCE })).rejects.toThrow(refusal(key));
      await host.close();
    }
  });

  it('a host default a model’s own options leave without effect is off for that model, not refused (one model of a fleet)', async () => {
    // defaults: drift and an accuracy guard for the fleet; one model opts out of sampling, one is a regression, one has no feedback.
    const host = new ModelHost({
      runtimes: { fake: fakeRuntime() },
      defaults: { sampling: { rate: 1 }, drift: { enabled: true }, feedback: { task: 'classification' }, rollout: { maxAccuracyDrop: 0.05 } },
      models: { private: { sampling: { rate: 0 } }, regression: { feedback: { task: 'regression' } } },
    });
    await host.load('private', { source: FAKE_SOURCE });
    await host.load('regression', { source: FAKE_SOURCE });
    await host.predict('private', [1, 2, 3, 4], { id: 'p1' });
    await host.predict('regression', [1, 2, 3, 4], { id: 'r1' });
    expect(host.stats('private').monitoring?.feedback).toBeDefined();
    expect(host.stats('private').monitoring?.drift).toBeUndefined(); // drift is off there, not a detector that never sees a row
    expect(host.feedback('regression', 'r1', 2.5)).toMatchObject({ matched: true, version: 1 });
    await host.close();
    const bare = new ModelHost({ runtimes: { fake: fakeRuntime() }, defaults: { rollout: { maxMaeRatio: 2 } } });
    await bare.load('m', { source: FAKE_SOURCE });
    await bare.close();
    // The same options set by the model itself are still refused.
    const own = new ModelHost({ runtimes: { fake: fakeRuntime() }, defaults: { sampling: { rate: 1 } }, models: { m: { sampling: { rate: 0 }, drift: { enabled: true } } } });
    await expect(own.load('m', { source: FAKE_SOURCE })).rejects.toThrow(refusal(/drift\.enabled.*sampling\.rate/));
    await own.close();
  });
});
