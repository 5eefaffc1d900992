/**
 * The sample ring (8-byte aligned tensor records) against sampleLine: random samples of every
 * dtype, odd element counts, views at odd offsets and text fields of odd lengths, written and
 * consumed in random order through rings barely larger than a sample and not a multiple of 8,
 * so records wrap around at every offset. Each line built from the ring is the line of the
 * sample written, in order, and the ring ends empty.
 */
import { it, expect } from 'vitest';
import { SampleRing } from '../../../src/monitoring/sample-ring.js';
import { sampleLine } from '../../../src/monitoring/sample-line.js';
import { mulberry32 } from '../../fixtures/prng.js';

const KINDS: [string, (n: number, r: () => number) => unknown][] = [
  ['float32', (n, r) => Float32Array.from({ length: n }, () => r() * 100 - 50)],
  ['float64', (n, r) => Float64Array.from({ length: n }, () => r() * 1e10 - 5e9)],
  ['float16', (n, r) => Uint16Array.from({ length: n }, () => Math.floor(r() * 65536))],
  ['int8', (n, r) => Int8Array.from({ length: n }, () => Math.floor(r() * 256) - 128)],
  ['uint8', (n, r) => Uint8Array.from({ length: n }, () => Math.floor(r() * 256))],
  ['bool', (n, r) => Uint8Array.from({ length: n }, () => (r() < 0.5 ? 1 : 0))],
  ['int16', (n, r) => Int16Array.from({ length: n }, () => Math.floor(r() * 65536) - 32768)],
  ['int32', (n, r) => Int32Array.from({ length: n }, () => Math.floor(r() * 2 ** 32) - 2 ** 31)],
  ['int64', (n, r) => BigInt64Array.from({ length: n }, () => BigInt(Math.floor(r() * 2 ** 53)) * (r() < 0.5 ? -1n : 1n))],
  ['uint64', (n, r) => BigUint64Array.from({ length: n }, () => BigInt(Math.floor(r() * 2 ** 53)) * 1025n)],
  ['string', (n, r) => Array.from({ length: n }, () => (r() < 0.5 ? 'ab\u00e9\ud800'.slice(0, Math.floor(r() * 5)) : new Uint8Array(Math.floor(r() * 7)).map(() => Math.floor(r() * 256))))],
];

for (const capacity of [256, 257, 515, 1003, 4096]) {
  it(`ring ${capacity}: lines equal sampleLine(event) through wrap-around`, () => {
    const r = mulberry32(capacity);
    const ring = new SampleRing(capacity);
    const queue: string[] = [];
    let written = 0, read = 0, refused = 0;
    for (let step = 0; step < 6000; step++) {
      if (r() < 0.55) {
        const tensors: Record<string, any> = {};
        const count = 1 + Math.floor(r() * 3);
        for (let t = 0; t < count; t++) {
          const [dtype, make] = KINDS[Math.floor(r() * KINDS.length)]!;
          const n = Math.floor(r() * 9);
          let data = make(n, r) as any;
          // odd offset views
          if (ArrayBuffer.isView(data) && n > 1 && r() < 0.3) data = (data as any).subarray(1);
          tensors['t' + t + 'é'.repeat(Math.floor(r() * 3))] = { data, shape: [Array.isArray(data) ? data.length : (data as any).length], dtype };
        }
        const event = { model: 'm' + 'x'.repeat(Math.floor(r() * 5)), version: 1 + Math.floor(r() * 3), timestamp: 1.7e12 + step, id: r() < 0.5 ? undefined : 'id' + 'y'.repeat(Math.floor(r() * 7)), inputs: r() < 0.8 ? tensors : undefined, outputs: r() < 0.5 ? tensors : undefined, rows: 1, latencyMs: r() * 3, cached: r() < 0.2 };
        const expected = sampleLine(event as any);
        if (ring.write(event as any)) { queue.push(expected); written++; } else refused++;
      } else {
        const line = ring.consume((s) => sampleLine(s));
        if (line === undefined) { expect(queue.length).toBe(0); continue; }
        expect(line).toBe(queue.shift());
        read++;
      }
    }
    for (;;) { const line = ring.consume((s) => sampleLine(s)); if (line === undefined) break; expect(line).toBe(queue.shift()); read++; }
    expect(queue.length).toBe(0);
    expect(ring.usedBytes).toBe(0);
    // Both branches ran: samples that fit and samples refused while the ring was full.
    expect(written).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(0);
    expect(read).toBe(written);
  });
}
