import { expect, it } from 'vitest';
import { ModelHost } from '../../../src/index.js';
import { writeVersion } from '../../helpers/repository.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { versionedRuntime } from '../../helpers/versioned-runtime.js';
const tempDir = useTempDirs();
// With batching off a run is one request: a predictBatch of 2 rows took no request under a
// bound of 1 row, and the scheduler's cutting loop spun forever (the process hung).
it('with batching off, a predictBatch of several rows runs as one request', async () => {
  const root = await tempDir();
  await writeVersion(root, 'm', 1, { 'model.fake': 'v1' });
  const h = new ModelHost({ repository: root, runtimes: { versioned: versionedRuntime() }, defaults: { batching: false } });
  await h.load('m', { version: 1 });
  const out = await h.predictBatch('m', { x: { data: new Float32Array([7, 7, 7, 7]), shape: [2, 2] } });
  expect(out['y']).toMatchObject({ shape: [2, 2], data: new Float32Array([7, 7, 7, 7]) });
  expect(await h.predict('m', [2, 3])).toMatchObject({ y: { shape: [2], data: new Float32Array([2, 3]) } });
  await h.close();
});
