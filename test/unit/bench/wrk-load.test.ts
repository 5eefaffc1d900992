import { describe, expect, it } from 'vitest';
import { luaString, parseWrk } from '../../../bench/lib/wrk-load.js';

// wrk 4.1.0's report of a run against `serve` at 2,000 connections (trimmed of nothing), then bash's `times`.
const REPORT = `Running 4s test @ http://127.0.0.1:37347/v2/models/mlp-onnx/infer
  1 threads and 2000 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    33.36ms  111.53ms   1.92s    98.71%
    Req/Sec    56.82k     4.64k   60.91k    95.00%
  Latency Distribution
     50%   21.88ms
     75%   23.16ms
     90%  596.00us
     99%  428.36ms
  225765 requests in 4.08s, 77.08MB read
  Socket errors: connect 0, read 0, write 0, timeout 76
  Non-2xx or 3xx responses: 765
Requests/sec:  55363.07
Transfer/sec:     18.90MB
0m0.000s 0m0.003s
0m0.281s 0m2.128s
`;

describe('parseWrk (bench/lib/wrk-load.ts)', () => {
  it('counts 2xx as all responses less non-2xx, per second of the run, with socket errors by kind', () => {
    const r = parseWrk(REPORT);
    expect(r.statuses).toEqual({ 200: 225_000, 'non-2xx': 765, timeouts: 76 });
    expect(r.seconds).toBe(4.08);
    expect(r.goodput).toBeCloseTo(225_000 / 4.08, 6);
  });

  it('reads percentiles in ms whatever unit wrk printed (us, ms, s)', () => {
    const r = parseWrk(REPORT);
    expect(r.latency.p50).toBeCloseTo(21.88, 9);
    expect(r.latency.p90).toBeCloseTo(0.596, 9);
    expect(r.latency.p99).toBeCloseTo(428.36, 9);
    expect(r.latency.mean).toBeCloseTo(33.36, 9);
    expect(r.latency.max).toBeCloseTo(1920, 9);
    expect(r.latency.count).toBe(225_765);
  });

  it("takes the client's CPU from the children's line of `times` (the last), user + system", () => {
    expect(parseWrk(REPORT).clientCpuSeconds).toBeCloseTo(0.281 + 2.128, 9);
  });

  it('reports a clean run with only 200s', () => {
    const clean = REPORT.replace('  Socket errors: connect 0, read 0, write 0, timeout 76\n', '').replace('  Non-2xx or 3xx responses: 765\n', '');
    expect(parseWrk(clean).statuses).toEqual({ 200: 225_765 });
  });
});

describe('luaString', () => {
  it('quotes with the level of brackets the text does not close', () => {
    expect(luaString('POST')).toBe('[[POST]]');
    expect(luaString('{"data":[[1,2]]}')).toBe('[=[{"data":[[1,2]]}]=]');
    // A text ending in "]" would close "[[…]]" one bracket early.
    expect(luaString('[1]')).toBe('[=[[1]]=]');
    expect(luaString('a]]b]=]c')).toBe('[==[a]]b]=]c]==]');
  });
});
