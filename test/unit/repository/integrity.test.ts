import { createHash } from 'node:crypto';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../src/index.js';
import { verifyIntegrity } from '../../../src/repository/index.js';
import { useTempDirs } from '../../helpers/temp-dir.js';

const tempDir = useTempDirs();
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const SECRET = 'modelhost-integrity-secret-7f3a9c';

describe('verifyIntegrity', () => {
  it('passes when every file is listed and matches, and says nothing was verified without SHA256SUMS', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'model.onnx'), 'weights');
    expect(await verifyIntegrity(dir)).toEqual({ verified: false, files: 0 });
    await writeFile(path.join(dir, 'SHA256SUMS'), `${sha('weights')}  model.onnx\n# comment\n\n`);
    expect(await verifyIntegrity(dir)).toEqual({ verified: true, files: 1, checksums: new Map([['model.onnx', sha('weights')]]) });
    await writeFile(path.join(dir, 'SHA256SUMS'), `${sha('weights').toUpperCase()} *model.onnx\n`);
    expect(await verifyIntegrity(dir)).toEqual({ verified: true, files: 1, checksums: new Map([['model.onnx', sha('weights')]]) });
  });

  it('covers files in subfolders of the version', async () => {
    const dir = await tempDir();
    await mkdir(path.join(dir, 'weights'));
    await writeFile(path.join(dir, 'model.json'), '{}');
    await writeFile(path.join(dir, 'weights', 'shard1.bin'), 'w1');
    await writeFile(path.join(dir, 'SHA256SUMS'), `${sha('{}')}  model.json\n${sha('w1')}  weights/shard1.bin\n`);
    expect(await verifyIntegrity(dir)).toEqual({ verified: true, files: 2, checksums: new Map([['model.json', sha('{}')], ['weights/shard1.bin', sha('w1')]]) });
    await writeFile(path.join(dir, 'SHA256SUMS'), `${sha('{}')}  model.json\n`);
    await expect(verifyIntegrity(dir)).rejects.toMatchObject({ code: ErrorCode.INTEGRITY_FAILED, message: expect.stringMatching(/weights\/shard1\.bin is not listed in SHA256SUMS/) });
  });

  it('refuses a shard the list forgot: SHA256SUMS listing only model.json does not let a tampered shard of the right size load', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'model.json'), '{}');
    await writeFile(path.join(dir, 'group1-shard1of1.bin'), Buffer.alloc(16)); // zero-filled, the right size
    await writeFile(path.join(dir, 'SHA256SUMS'), `${sha('{}')}  model.json\n`);
    await expect(verifyIntegrity(dir, { model: 'm', version: 1 })).rejects.toMatchObject({
      code: ErrorCode.INTEGRITY_FAILED,
      message: "model 'm' v1: group1-shard1of1.bin is not listed in SHA256SUMS: every file of a version with one must be",
    });
  });

  it('refuses a version without SHA256SUMS when checksums are required', async () => {
    const root = await tempDir();
    const dir = path.join(root, 'm', '3');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'model.onnx'), 'weights');
    await expect(verifyIntegrity(dir, { root, required: true, model: 'm', version: 3 })).rejects.toMatchObject({
      code: ErrorCode.INTEGRITY_FAILED,
      message: "model 'm' v3: m/3 has no SHA256SUMS, and checksums are required (requireChecksums)",
    });
  });

  it.each([
    ['a changed file', (h: string) => `${h.replace(/^./, h[0] === 'a' ? 'b' : 'a')}  model.onnx`, /^model 'm' v1: model\.onnx does not match its SHA-256 in SHA256SUMS$/],
    ['a missing file', (h: string) => `${h}  model.onnx\n${h}  shard.bin`, /lists 'shard.bin', which is not a file of the version/],
    ['a file listed twice', (h: string) => `${h}  model.onnx\n${h}  ./model.onnx`, /lists 'model.onnx' twice/],
    ['a malformed line', () => 'not a checksum line', /SHA256SUMS line 1 is not '<sha256>  <file>'$/],
    ['a path outside the folder', (h: string) => `${h}  model.onnx\n${h}  ../../etc/${SECRET}`, /lists the file on line 2, which is not a file of the version$/],
  ])('fails with INTEGRITY_FAILED on %s', async (_title, sums, message) => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'model.onnx'), 'weights');
    await writeFile(path.join(dir, 'SHA256SUMS'), sums(sha('weights')));
    const error = await verifyIntegrity(dir, { model: 'm', version: 1 }).catch((e: unknown) => e as Error);
    expect(error).toMatchObject({ code: ErrorCode.INTEGRITY_FAILED, model: 'm', version: 1, message: expect.stringMatching(message) });
    expect((error as Error).message).not.toContain(SECRET);
    expect((error as Error).message).not.toContain(dir);
  });

  it('refuses a SHA256SUMS or a version file that links out of the root, without quoting the target', async () => {
    const outside = await tempDir();
    const secret = path.join(outside, 'secret.txt');
    await writeFile(secret, `${SECRET}\n`);
    for (const linked of ['SHA256SUMS', 'model.onnx']) {
      const root = await tempDir();
      const dir = path.join(root, 'm', '1');
      await mkdir(dir, { recursive: true });
      if (linked !== 'model.onnx') await writeFile(path.join(dir, 'model.onnx'), 'weights');
      else await writeFile(path.join(dir, 'SHA256SUMS'), `${sha(`${SECRET}\n`)}  model.onnx\n`);
      await symlink(secret, path.join(dir, linked));
      const error = (await verifyIntegrity(dir, { root, model: 'm', version: 1 }).catch((e: unknown) => e)) as Error;
      expect(error).toMatchObject({ code: ErrorCode.LOAD_FAILED, message: `m/1/${linked} links outside the repository` });
      expect(error.message).not.toContain(outside);
    }
  });

  it('never quotes a line of a SHA256SUMS that holds something else', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'model.onnx'), 'weights');
    await writeFile(path.join(dir, 'SHA256SUMS'), `root:x:0:0:${SECRET}:/root:/bin/bash\n`);
    const error = (await verifyIntegrity(dir).catch((e: unknown) => e)) as Error;
    expect(error.message).toBe("SHA256SUMS line 1 is not '<sha256>  <file>'");
  });

  it('refuses a SHA256SUMS larger than 4 MiB before holding it (a version lists at most 10,000 files)', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'model.onnx'), 'weights');
    await writeFile(path.join(dir, 'SHA256SUMS'), `${sha('weights')}  model.onnx\n${'#'.repeat(4 * 1024 * 1024)}\n`);
    await expect(verifyIntegrity(dir)).rejects.toMatchObject({ code: ErrorCode.INTEGRITY_FAILED, message: 'SHA256SUMS is larger than 4194304 bytes, the limit of a SHA256SUMS' });
  });
});
