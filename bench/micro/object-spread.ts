/**
 * Why node-listener's `send` copies a response's headers in a loop: V8 (Node 20) builds an
 * object spread followed by an added key (`{ ...headers, 'content-length': n }`) on a slow
 * path. Each variant builds a fresh two-header object (as a handler's answer is) and the
 * headers written for it; ns per call, after a warmup.
 *
 *   npx tsx bench/micro/object-spread.ts
 */
let sink: unknown;
let i = 0;
const answerHeaders = (): Record<string, string> => ({ 'content-type': 'application/json', 'x-request-id': `r${i++ & 7}` });

function time(name: string, calls: number, build: () => unknown): void {
  for (let k = 0; k < calls / 10; k++) sink = build();
  const started = performance.now();
  for (let k = 0; k < calls; k++) sink = build();
  console.log(`${name.padEnd(44)} ${(((performance.now() - started) * 1e6) / calls).toFixed(0).padStart(5)} ns`);
}

time('the answer\'s headers alone', 1e6, answerHeaders);
time('{ ...headers, "content-length": n }', 1e6, () => ({ ...answerHeaders(), 'content-length': 368 }));
time('for-in copy, then "content-length"', 1e6, () => {
  const headers = answerHeaders();
  const out: Record<string, string | number> = {};
  for (const name in headers) out[name] = headers[name]!;
  out['content-length'] = 368;
  return out;
});
time('Object.assign({}, headers, { ... })', 1e6, () => Object.assign({}, answerHeaders(), { 'content-length': 368 }));
time('{ ...headers } alone', 1e6, () => ({ ...answerHeaders() }));
time('{ "content-type": t, ...headers }', 1e6, () => ({ 'content-type': 'text/plain', ...answerHeaders() }));
time('{ ...response, headers: { ...headers, id } }', 1e6, () => {
  const response = { status: 200, headers: answerHeaders(), body: 'x' };
  return { ...response, headers: { ...response.headers, 'x-id': 'r' } };
});
const empty = (): Record<string, string> => (i++ & 1 ? {} : { 'retry-after': '1' });
time('{ "content-type": t, ...small } (json())', 1e6, () => ({ 'content-type': 'application/json', ...empty() }));
if (sink === undefined) throw new Error('unreachable');
