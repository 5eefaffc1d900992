import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sampleLine } from '../../../src/monitoring/jsonl-sink.js';
import type { RequestSampledEvent } from '../../../src/metrics/events.js';
import type { Tensor } from '../../../src/tensor/index.js';

/** The line as JSON.stringify of objects writes it: what the hand-written sampleLine must equal. */
function reference(event: RequestSampledEvent, encoding: 'base64' | 'numbers'): string {
  const tensors = (record: Readonly<Record<string, Tensor>>) =>
    Object.fromEntries(
      Object.entries(record).map(([name, t]) => {
        const view = t.data as Float32Array | Int32Array;
        const data = encoding === 'base64' ? { b64: Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString('base64') } : { data: Array.from(view, (x) => (Number.isFinite(x) ? x : null)) };
        return [name, { datatype: t.dtype, shape: t.shape, ...data }];
      }),
    );
  return (
    JSON.stringify({
      timestamp: new Date(event.timestamp).toISOString(),
      model: event.model,
      version: event.version,
      id: event.id,
      rows: event.rows,
      latency_ms: Math.round(event.latencyMs * 1000) / 1000,
      cached: event.cached,
      ...(event.inputs === undefined ? {} : { inputs: tensors(event.inputs) }),
      ...(event.outputs === undefined ? {} : { outputs: tensors(event.outputs) }),
    }) + '\n'
  );
}

const name = fc.string({ minLength: 1, maxLength: 12 });
const tensor = fc.oneof(
  fc.array(fc.float(), { maxLength: 12 }).map((v): Tensor => ({ dtype: 'float32', shape: [1, v.length], data: Float32Array.from(v) })),
  fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { maxLength: 12 }).map((v): Tensor => ({ dtype: 'int32', shape: [v.length], data: Int32Array.from(v) })),
);
const tensors = fc.option(fc.dictionary(name, tensor, { maxKeys: 3 }), { nil: undefined });
const event = fc.record({
  model: name,
  version: fc.integer({ min: 1, max: 10_000 }),
  // Integer ms as Date.now() gives them, across second and year boundaries; fractions, the years before 1970 and past 9999 too.
  timestamp: fc.oneof(fc.integer({ min: 0, max: 4_102_444_800_000 }), fc.integer({ min: -62_198_755_200_000, max: 8_640_000_000_000_000 }), fc.double({ min: 0, max: 4e12, noNaN: true })),
  id: fc.option(fc.string({ minLength: 1, maxLength: 20 }), { nil: undefined }),
  rows: fc.integer({ min: 0, max: 64 }),
  latencyMs: fc.double({ min: 0, max: 1e6, noNaN: true }),
  cached: fc.boolean(),
  inputs: tensors,
  outputs: tensors,
}) as fc.Arbitrary<RequestSampledEvent>;

describe('sampleLine', () => {
  it('writes the same text as JSON.stringify of the sample, in both encodings', () => {
    fc.assert(
      fc.property(event, fc.constantFrom('base64' as const, 'numbers' as const), (e, encoding) => {
        expect(sampleLine(e, encoding)).toBe(reference(e, encoding));
      }),
      { numRuns: 500 },
    );
  });
});
