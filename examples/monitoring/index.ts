/**
 * Monitoring in-process (docs/monitoring.md): `npx tsx examples/monitoring/index.ts`.
 *
 * Serves the quickstart's MLP (ONNX: 64 floats in, 10 logits out) with payload sampling into a
 * rotating JSON-lines file, drift against a reference captured from the first sampled rows,
 * live accuracy from labels that arrive after the answers, and the response cache. Half-way
 * its inputs shift and its labeller starts to disagree with it; the example prints what
 * monitoring saw: the drift event, accuracy before and after, cache hits, lines written.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { JsonlSink, ModelHost } from 'modelhost';
import { materializeDemoRepository } from '../../scripts/demo-repository.js';

const { root } = await materializeDemoRepository();
const host = new ModelHost({
  repository: root,
  models: {
    'mlp-onnx': {
      sampling: { rate: 0.25 }, // a quarter of requests, so drift has rows quickly; production uses ~0.01
      drift: { enabled: true, referenceSize: 500, windowSize: 250 },
      feedback: { task: 'classification' },
      cache: { enabled: true },
    },
  },
});
host.on('warning', (w) => console.warn(`warning: ${w.message}`));
host.on('driftDetected', (e) => console.log(`driftDetected: ${e.group} of ${e.model} v${e.version}, score ${e.score.toFixed(2)}, drifted: ${e.features.slice(0, 3).map((f) => f.name).join(', ')}${e.features.length > 3 ? `, … (${e.features.length} features)` : ''}`));
await host.load('mlp-onnx');

const dir = await mkdtemp(path.join(tmpdir(), 'modelhost-monitoring-'));
const file = path.join(dir, 'mlp-onnx.jsonl');
const sink = await JsonlSink.open(host, { path: file, size: '10M', maxFiles: 2 });

// A seeded stream of rows: uniform in [0, 1), then shifted by `offset`.
let seed = 7;
const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
const row = (offset: number) => Float32Array.from({ length: 64 }, () => random() + offset);
const argmax = (logits: Float32Array) => logits.reduce((best, v, i) => (v > logits[best]! ? i : best), 0);
const accuracy = () => host.stats('mlp-onnx').versions[1]?.quality?.accuracy;

/** Serves `count` requests, each with an id; the labeller agrees with the model on `agreeing` of them. */
async function serve(count: number, offset: number, agreeing: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const id = `r-${offset}-${i}`;
    const out = await host.predict('mlp-onnx', row(offset), { id });
    const predicted = argmax(out['logits']!.data as Float32Array);
    // The truth arrives later (here at once): the predicted class, or another one.
    host.feedback('mlp-onnx', id, i < count * agreeing ? predicted : (predicted + 1) % 10);
  }
}

await serve(4000, 0, 1); // the reference, then stable windows: no drift
console.log(`before the shift: accuracy ${accuracy()?.toFixed(3)}, drift events so far: none expected`);
await serve(2000, 0.5, 0.6); // inputs shift by +0.5; 40% of labels disagree
console.log(`after the shift: accuracy ${accuracy()?.toFixed(3)} (a rolling window: labels from before the shift count too)`);

// The same inputs three times: an answer is kept the second time its inputs are seen (so
// one-off requests do not fill the cache), and the third is answered from it without a run.
const repeated = row(0);
for (let i = 0; i < 3; i++) await host.predict('mlp-onnx', repeated);

const { monitoring } = host.stats('mlp-onnx');
console.log(`sampled ${monitoring?.sampling.sampled} of 6003 requests; input windows compared ${monitoring?.drift?.inputs.windows}, drifted ${monitoring?.drift?.inputs.driftedWindows}; cache hits ${monitoring?.cache?.hits}, misses ${monitoring?.cache?.misses}`);
await sink.close();
const lines = (await readFile(file, 'utf8')).split('\n').filter(Boolean);
console.log(`${lines.length} sampled requests written to ${path.basename(file)} (${sink.dropped} dropped); the first: ${lines[0]!.slice(0, 80)}…`);
await host.close();
await rm(dir, { recursive: true, force: true });
