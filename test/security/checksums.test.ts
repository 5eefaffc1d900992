/**
 * What SHA256SUMS protects, end to end: a shard the list forgot cannot be swapped, and with
 * `requireChecksums` a version without the list is never served (a zero-filled shard of the
 * right size would otherwise load and answer wrongly).
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it, vi } from 'vitest';
import { ErrorCode, ModelHost, type Runtime } from '../../src/index.js';
import { ModelFiles } from '../../src/runtime/model-files.js';
import { tfjsLayersFilesOf, writeModelFiles } from '../fixtures/tfjs-model-writer.js';
import { buildTfjsMlp } from '../fixtures/tfjs-models.js';
import { writeSha256Sums } from '../fixtures/sha256sums.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { writeVersion } from '../helpers/repository.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { versionedRuntime } from '../helpers/versioned-runtime.js';

const tempDir = useTempDirs();
const SHARD = 'group1-shard1of1.bin';

describe('SHA256SUMS', () => {
  it('refuses a tfjs version whose SHA256SUMS lists only model.json, with a zero-filled shard of the right size', async () => {
    const root = await tempDir();
    const files = await tfjsLayersFilesOf(() => buildTfjsMlp(tf));
    const dir = path.join(root, 'mlp', '1');
    await writeModelFiles({ 'model.json': files['model.json']! }, dir);
    await writeSha256Sums(dir); // lists model.json only
    await writeFile(path.join(dir, SHARD), new Uint8Array((files[SHARD] as Uint8Array).byteLength));
    const host = new ModelHost({ repository: root });
    await expect(host.load('mlp')).rejects.toMatchObject({
      code: ErrorCode.INTEGRITY_FAILED,
      message: `model 'mlp' v1: mlp/1/${SHARD} is not listed in SHA256SUMS: every file of a version with one must be`,
    });
    await host.close();
  });

  it('without requireChecksums, loads a version without SHA256SUMS (what integrity cannot protect)', async () => {
    const root = await tempDir();
    await writeVersion(root, 'm', 1, { 'model.fake': 'v1' }, { checksums: false });
    const host = new ModelHost({ repository: root, runtimes: { versioned: versionedRuntime() } });
    await expect(host.load('m')).resolves.toMatchObject({ version: 1 });
    await host.close();
  });

  it('with requireChecksums, refuses a version without SHA256SUMS, and serves it once its SHA256SUMS lands', async () => {
    const root = await tempDir();
    await writeVersion(root, 'm', 1, { 'model.fake': 'v1' });
    const clock = new FakeClock();
    const host = new ModelHost({ repository: { root, pollIntervalMs: 1000, requireChecksums: true }, runtimes: { versioned: versionedRuntime() }, clock });
    const warnings: string[] = [];
    host.on('warning', (w) => warnings.push(w.message));
    await host.load('m');
    // v2 is copied in, its SHA256SUMS last (as a careful publisher does).
    const dir = await writeVersion(root, 'm', 2, { 'model.fake': 'v2' }, { checksums: false });
    clock.advance(1000);
    await vi.waitFor(() => expect(warnings.some((m) => m.includes('m/2 has no SHA256SUMS, and checksums are required'))).toBe(true), { interval: 5, timeout: 5000 });
    expect(host.status('m').defaultVersion).toBe(1);
    await writeSha256Sums(dir);
    clock.advance(1000);
    await vi.waitFor(() => expect(host.status('m').defaultVersion).toBe(2), { interval: 5, timeout: 5000 });
    await host.close();
  });

  it('with requireChecksums, refuses a load by hand too', async () => {
    const root = await tempDir();
    await writeVersion(root, 'm', 1, { 'model.fake': 'v1' }, { checksums: false });
    const host = new ModelHost({ repository: { root, requireChecksums: true }, runtimes: { versioned: versionedRuntime() } });
    await expect(host.load('m')).rejects.toMatchObject({ code: ErrorCode.INTEGRITY_FAILED, message: "model 'm' v1: m/1 has no SHA256SUMS, and checksums are required (requireChecksums)" });
    await host.close();
  });

  it('checks what a runtime reads against the verified sums: a file rewritten after the verification is refused', async () => {
    const root = await tempDir();
    await writeVersion(root, 'm', 1, { 'model.fake': 'v1' });
    await writeVersion(root, 'm', 2, { 'model.fake': 'v2' });
    // A runtime that reads its file through ModelFiles, as the built-in ones do; between the
    // verification and the read of v2, the file is rewritten.
    const reading: Runtime = {
      name: 'reading',
      canLoad: (files) => files.includes('model.fake'),
      async load(source, { version }) {
        if (version === 2 && source.kind === 'directory') await writeFile(path.join(source.path, 'model.fake'), 'v2-swapped');
        await new ModelFiles(source).read('model.fake');
        return { signature: { inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 2] }], outputs: [{ name: 'y', dtype: 'float32', shape: [-1, 2] }] }, run: async (inputs) => ({ y: inputs['x']! }), dispose() {} };
      },
    };
    const host = new ModelHost({ repository: root, runtimes: { reading } });
    await expect(host.load('m', { version: 1 })).resolves.toMatchObject({ version: 1 });
    await expect(host.load('m', { version: 2 })).rejects.toMatchObject({
      code: ErrorCode.INTEGRITY_FAILED,
      message: 'm/2/model.fake changed after it was verified: it no longer matches its SHA-256 in SHA256SUMS',
    });
    await host.close();
  });

  it('checks the requireChecksums option', () => {
    expect(() => new ModelHost({ repository: { root: '.', requireChecksums: 'yes' as unknown as boolean } })).toThrow(/repository\.requireChecksums/);
  });
});
