import { ModelHost, JsonlSink } from './src/index.js';
import { fakeRuntime, FAKE_SOURCE } from './test/helpers/fake-runtime.js';
const host = new ModelHost({ runtimes: { fake: fakeRuntime() }, models: { m: { sampling: { rate: 1 } } } });
await host.load('m', { source: FAKE_SOURCE });
const thread = process.argv[2] !== 'inline';
const sink = await JsonlSink.open(host, { path: '/tmp/b19/full/s.jsonl', size: '64K', maxFiles: 3, thread } as any);
let failed = 0;
for (let i = 0; i < 20000; i++) { try { await host.predict('m', [i, 1, 2, 3], { id: `r${i}` }); } catch { failed++; } if (i % 2000 === 0) await new Promise((r) => setTimeout(r, 150)); }
await new Promise((r) => setTimeout(r, 500));
console.log('thread', thread, 'failed', failed, 'written', sink.written, 'dropped', sink.dropped, 'bufferedBytes', sink.bufferedBytes, 'error', sink.error?.message);
const t0 = Date.now();
await sink.close();
console.log('closed in', Date.now() - t0, 'ms; written', sink.written, 'dropped', sink.dropped, 'sum', sink.written + sink.dropped);
await host.close();
console.log('handles', (process as any)._getActiveHandles().map((x: any) => x.constructor.name));
