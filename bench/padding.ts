/**
 * Variable-length batching: a text-shaped ONNX encoder (token ids + attention mask →
 * per-token embeddings and a masked mean) under 64 closed-loop callers whose requests have
 * mixed lengths (uniform 4..64 tokens), served with `padding` (requests of different
 * lengths share a padded batch) and without (only equal lengths share a batch, so nearly
 * every request runs alone). A same-length side (every request 34 tokens, the mean) shows
 * what full batching would give. Two sizes of the same encoder: hidden 32, where a runtime
 * call's fixed cost dominates (batching pays), and hidden 128, where per-token compute does
 * (padding's extra positions cost about what batching saves). Sides are interleaved
 * (a b c c b a ...) so drift hits all alike.
 *
 *   npx tsx bench/padding.ts [--quick]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeVersion } from '../test/helpers/repository.js';
import { onnxTextEncoder } from '../test/fixtures/onnx-models.js';
import { mulberry32 } from '../test/fixtures/prng.js';
import { ModelHost, type ModelOptions } from './lib/modelhost.js';
import { runClosedLoop } from './lib/closed-loop.js';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 2 : 4;
const MEASURE_MS = quick ? 1000 : 2500;
const CALLERS = 64;
const MIN_LENGTH = 4;
const MAX_LENGTH = 64;

type Side = 'mixed lengths, padding' | 'mixed lengths, no padding' | 'one length (34), no padding';
const SIDES: readonly Side[] = ['mixed lengths, padding', 'mixed lengths, no padding', 'one length (34), no padding'];

const PADDING: ModelOptions['padding'] = {
  inputs: { input_ids: { axis: 1, value: 0, maxLength: MAX_LENGTH } },
  mask: 'attention_mask',
  outputs: { token_embeddings: { axis: 1 } },
};

function requests(side: Side, count: number): Record<string, BigInt64Array<ArrayBuffer>>[] {
  const random = mulberry32(7);
  return Array.from({ length: count }, (): Record<string, BigInt64Array<ArrayBuffer>> => {
    const length = side.startsWith('one length') ? 34 : MIN_LENGTH + Math.floor(random() * (MAX_LENGTH - MIN_LENGTH + 1));
    const ids = BigInt64Array.from({ length }, () => BigInt(1 + Math.floor(random() * 4999)));
    return side === 'mixed lengths, padding' ? { input_ids: ids } : { input_ids: ids, attention_mask: new BigInt64Array(length).fill(1n) };
  });
}

async function measure(hidden: number): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'modelhost-bench-padding-'));
  await writeVersion(root, 'text', 1, { 'model.onnx': onnxTextEncoder({ vocab: 5000, hidden }) });
  const hosts = new Map<Side, ModelHost>();
  const batches = new Map<Side, { batches: number; requests: number }>(SIDES.map((s) => [s, { batches: 0, requests: 0 }]));
  for (const side of SIDES) {
    const host = new ModelHost({
      repository: root,
      stats: false,
      models: { text: { batching: { maxBatchSize: 64, maxDelayMs: 2 }, instances: { kind: 'inline' }, onnx: { intraOpNumThreads: 1 }, ...(side === 'mixed lengths, padding' ? { padding: PADDING } : {}) } },
    });
    await host.load('text');
    host.on('batchCompleted', (e) => {
      const b = batches.get(side)!;
      b.batches++;
      b.requests += e.requests;
    });
    hosts.set(side, host);
  }
  const inputs = new Map(SIDES.map((s) => [s, requests(s, 1024)] as const));

  const totals = new Map<Side, { requests: number; ms: number }>(SIDES.map((s) => [s, { requests: 0, ms: 0 }]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? SIDES : [...SIDES].reverse();
    for (const side of order) {
      const host = hosts.get(side)!;
      const list = inputs.get(side)!;
      let i = 0;
      const result = await runClosedLoop({
        concurrency: CALLERS,
        request: () => host.predict('text', list[i++ & 1023]!),
        warmup: { ms: 300 },
        measure: { ms: MEASURE_MS },
      });
      if (result.errors > 0) throw new Error(`${side}: ${result.errors} errors, first: ${result.firstError}`);
      const t = totals.get(side)!;
      t.requests += result.requests;
      t.ms += result.elapsedMs;
      process.stderr.write(`hidden ${hidden}, round ${round + 1}, ${side}: ${Math.round(result.requestsPerSec)} req/s\n`);
    }
  }
  const rate = (side: Side) => totals.get(side)!.requests / (totals.get(side)!.ms / 1000);
  const base = rate('mixed lengths, no padding');
  const lines = ['| requests | req/s | ÷ mixed, no padding | requests per batch |', '|---|--:|--:|--:|'];
  for (const side of SIDES) {
    const b = batches.get(side)!;
    lines.push(`| ${side} | ${Math.round(rate(side)).toLocaleString('en-US')} | ${(rate(side) / base).toFixed(2)} | ${(b.requests / b.batches).toFixed(1)} |`);
  }
  for (const host of hosts.values()) await host.close();
  await rm(root, { recursive: true, force: true });
  return `text encoder (onnx, vocab 5000, hidden ${hidden})\n\n${lines.join('\n')}`;
}

const reports: string[] = [];
for (const hidden of [32, 128]) reports.push(await measure(hidden));
console.log(`\n${CALLERS} closed-loop callers, lengths ${MIN_LENGTH}..${MAX_LENGTH}, ${ROUNDS} interleaved rounds of ${MEASURE_MS} ms per side, default maxWaste (0.5)\n`);
console.log(reports.join('\n\n'));
