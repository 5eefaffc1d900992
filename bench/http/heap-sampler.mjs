/**
 * Issue 17: a preload (`node --import ./bench/http/heap-sampler.mjs …`) for bench/http-gc.ts
 * `--heap-profile`: SIGUSR2 starts V8's sampling heap profiler with the objects scavenges and
 * mark-compacts collected kept in the profile (garbage is what it is for), the next SIGUSR2
 * stops it and writes the profile to `$MODELHOST_HEAP_PROFILE` (a `.heapprofile`, DevTools'
 * format). One sample per 1 KiB allocated on average.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

const out = process.env.MODELHOST_HEAP_PROFILE;
if (out === undefined) throw new Error('heap-sampler: set MODELHOST_HEAP_PROFILE to the file to write');
const session = new Session();
session.connect();
let sampling = false;
process.on('SIGUSR2', () => {
  if (!sampling) {
    sampling = true;
    session.post('HeapProfiler.startSampling', { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    return;
  }
  sampling = false;
  session.post('HeapProfiler.stopSampling', (error, result) => {
    if (error) throw error;
    writeFileSync(out, JSON.stringify(result.profile));
  });
});
