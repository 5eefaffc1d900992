// Preloaded into `serve` by bench/overload.ts (node --require): on SIGUSR2, collects garbage
// when --expose-gc allows it and writes one JSON line of where the process's memory is
// (V8 heap, external and array buffers, RSS) to stderr, so the bench can say what a burst
// left behind. Bench-only: the product never loads it.
'use strict';
const v8 = require('node:v8');
process.on('SIGUSR2', () => {
  const before = process.memoryUsage();
  if (typeof globalThis.gc === 'function') globalThis.gc();
  const after = process.memoryUsage();
  const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, Math.round(s.space_size / 1048576)]));
  const mib = (m) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Math.round((v / 1048576) * 10) / 10]));
  process.stderr.write(`memory-report ${JSON.stringify({ before: mib(before), afterGc: mib(after), heapSpacesMiB: spaces })}\n`);
});
