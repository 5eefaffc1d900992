/**
 * A load says what it is doing: `loadPhaseStarted` per phase as it starts, and the time
 * each phase took in `modelLoaded.phases`.
 */
import { describe, expect, it } from 'vitest';
import { ModelHost, type LoadPhaseStartedEvent, type ModelLoadedEvent } from '../../../src/index.js';
import { onnxAffine } from '../../fixtures/onnx-models.js';
import { deferred, fakeRuntime } from '../../helpers/fake-runtime.js';
import { writeVersion } from '../../helpers/repository.js';
import { useTempDirs } from '../../helpers/temp-dir.js';

const tempDir = useTempDirs('each');

function record(host: ModelHost) {
  const phases: LoadPhaseStartedEvent[] = [];
  const loaded: ModelLoadedEvent[] = [];
  host.on('loadPhaseStarted', (e) => phases.push(e));
  host.on('modelLoaded', (e) => loaded.push(e));
  return { phases, loaded };
}

describe('load phases', () => {
  it('verifies, reads, compiles and warms up an inline version, in that order, and times each', async () => {
    const root = await tempDir();
    await writeVersion(root, 'm', 1, { 'model.fake': 'fake' });
    const host = new ModelHost({ repository: root, runtimes: { fake: fakeRuntime() } });
    const { phases, loaded } = record(host);
    await host.load('m');
    expect(phases.map((p) => p.phase)).toEqual(['verifying', 'reading', 'compiling', 'warming']);
    expect(phases.every((p) => p.model === 'm' && p.version === 1 && p.timestamp > 0)).toBe(true);
    // elapsedMs counts from the start of this version's load, so it never goes back.
    expect(phases[0]!.elapsedMs).toBeGreaterThanOrEqual(0);
    expect(phases.map((p) => p.elapsedMs)).toEqual([...phases.map((p) => p.elapsedMs)].sort((a, b) => a - b));
    const [event] = loaded;
    expect(Object.keys(event!.phases)).toEqual(['verifying', 'reading', 'compiling', 'warming']);
    const total = Object.values(event!.phases).reduce((a, b) => a + b!, 0);
    expect(Object.values(event!.phases).every((ms) => ms! >= 0)).toBe(true);
    expect(total).toBeLessThanOrEqual(event!.loadMs);
    await host.close();
  });

  it('tells the phase a slow load is in while it is in it', async () => {
    const gate = deferred();
    const host = new ModelHost({ runtimes: { fake: fakeRuntime({ loadGate: () => gate.promise }) } });
    const { phases } = record(host);
    const loading = host.load('m', { source: { files: { 'model.fake': 'fake' } } });
    await new Promise<void>((resolve) => host.on('loadPhaseStarted', (e) => e.phase === 'compiling' && resolve()));
    // In-memory source: nothing to verify.
    expect(phases.map((p) => p.phase)).toEqual(['reading', 'compiling']);
    expect(host.status('m').versions[0]!.state).toBe('loading');
    gate.resolve();
    await loading;
    expect(phases.map((p) => p.phase)).toEqual(['reading', 'compiling', 'warming']);
    await host.close();
  });

  it('measures an auto version on the calling thread (ONNX Runtime), without a warmup of its own after', async () => {
    const root = await tempDir();
    await writeVersion(root, 'affine', 1, { 'model.onnx': onnxAffine({ size: 4 }) });
    const host = new ModelHost({ repository: root });
    const { phases, loaded } = record(host);
    await host.load('affine');
    const names = phases.map((p) => p.phase);
    expect(names.slice(0, 4)).toEqual(['verifying', 'reading', 'compiling', 'measuring']);
    // A tiny model stays inline: its measuring runs were its warmup. A slow one would compile again on threads and warm up.
    expect(names).toEqual(host.status('affine').versions[0]!.instances!.kind === 'inline' ? ['verifying', 'reading', 'compiling', 'measuring'] : ['verifying', 'reading', 'compiling', 'measuring', 'compiling', 'warming']);
    expect(Object.keys(loaded[0]!.phases).sort()).toEqual([...new Set(names)].sort());
    await host.close();
  });
});
