/**
 * `npx tsx bench/protocol-json.ts`: what exact JSON costs at the protocol boundary (issue 12).
 * In-process, interleaved rounds, medians; compare the ratios of one run, not absolute times.
 *
 * - parse: a KServe body of N FP32 values with the native JSON.parse (what every model without
 *   INT64/UINT64 inputs gets) and with lossless-json (what models with them get);
 * - respond: the same FP32 output written as JSON the old way (JSON.stringify of an Array.from)
 *   and through the sliced, bounded writer (writeJson) every response now takes;
 * - request: one small FP32 infer end to end through the handler (identity model, onnxruntime).
 */
import { parse as parseLossless } from 'lossless-json';
import { createHttpHandler } from '../src/adapters/http/index.js';
import { TensorJson, writeJson } from '../src/adapters/http/json-writer.js';
import { ModelHost } from '../src/index.js';
import { onnxIdentity } from '../test/fixtures/onnx-models.js';

const N = Number(process.env['N'] ?? 100_000);
const ROUNDS = Number(process.env['ROUNDS'] ?? 15);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function time(fn: () => unknown | Promise<unknown>, reps = 1): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) await fn();
  return (performance.now() - t0) / reps;
}

const values = Float32Array.from({ length: N }, (_, i) => Math.fround(Math.sin(i) * 100));
const text = JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [N], data: Array.from(values) }] });
const exactNumber = (s: string) => (/^-?\d+$/.test(s) && !Number.isSafeInteger(Number(s)) ? BigInt(s) : Number(s));
const tensor = { data: values, shape: [N], dtype: 'float32' as const };

const host = new ModelHost();
await host.load('id', { source: onnxIdentity('float32') });
const handle = createHttpHandler(host);
const small = new TextEncoder().encode(JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [4], data: [1, 2, 3, 4] }] }));
const infer = () => handle({ method: 'POST', url: '/v2/models/id/infer', headers: {}, body: small, signal: new AbortController().signal });
for (let i = 0; i < 200; i++) await infer();

const rows: Record<string, number[]> = { 'parse JSON.parse': [], 'parse lossless-json': [], 'respond JSON.stringify': [], 'respond writeJson': [], 'infer FP32 [4] end to end': [] };
for (let r = 0; r < ROUNDS; r++) {
  rows['parse JSON.parse']!.push(await time(() => JSON.parse(text)));
  rows['parse lossless-json']!.push(await time(() => parseLossless(text, null, exactNumber)));
  rows['respond JSON.stringify']!.push(await time(() => JSON.stringify({ outputs: [{ name: 'y', datatype: 'FP32', shape: [N], data: Array.from(values) }] })));
  rows['respond writeJson']!.push(await time(() => writeJson({ outputs: [{ name: 'y', datatype: 'FP32', shape: [N], data: new TensorJson('y', tensor, 0, [N]) }] }, { limitBytes: 1 << 30, hint: '' })));
  rows['infer FP32 [4] end to end']!.push(await time(infer, 200));
}
await host.close();

console.log(`N = ${N} FP32 values (${(text.length / 1e6).toFixed(2)} MB of JSON), ${ROUNDS} interleaved rounds, median ms`);
for (const [name, xs] of Object.entries(rows)) console.log(`${name.padEnd(28)} ${median(xs).toFixed(3)}`);
const ratio = (a: string, b: string) => (median(rows[a]!) / median(rows[b]!)).toFixed(2);
console.log(`lossless-json / JSON.parse: ${ratio('parse lossless-json', 'parse JSON.parse')}x; writeJson / JSON.stringify: ${ratio('respond writeJson', 'respond JSON.stringify')}x`);
