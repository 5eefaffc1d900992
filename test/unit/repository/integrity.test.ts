import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../src/index.js';
import { verifyIntegrity } from '../../../src/repository/index.js';
import { useTempDirs } from '../../helpers/temp-dir.js';

const tempDir = useTempDirs();
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('verifyIntegrity', () => {
  it('passes when every listed file matches, and says nothing was verified without SHA256SUMS', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'model.onnx'), 'weights');
    expect(await verifyIntegrity(dir)).toEqual({ verified: false, files: 0 });
    await writeFile(path.join(dir, 'SHA256SUMS'), `${sha('weights')}  model.onnx\n# comment\n\n`);
    expect(await verifyIntegrity(dir)).toEqual({ verified: true, files: 1 });
    await writeFile(path.join(dir, 'SHA256SUMS'), `${sha('weights').toUpperCase()} *model.onnx\n`);
    expect(await verifyIntegrity(dir)).toEqual({ verified: true, files: 1 });
  });

  it.each([
    ['a changed file', (h: string) => `${h.replace(/^./, h[0] === 'a' ? 'b' : 'a')}  model.onnx`, /'model.onnx' has SHA-256 .* but SHA256SUMS expects/],
    ['a missing file', (h: string) => `${h}  model.onnx\n${h}  shard.bin`, /lists 'shard.bin', which could not be read \(ENOENT\)/],
    ['a malformed line', () => 'not a checksum line', /SHA256SUMS line 1 is not '<sha256>  <file>'/],
    ['a path outside the folder', (h: string) => `${h}  ../model.onnx`, /lies outside the version folder/],
  ])('fails with INTEGRITY_FAILED on %s', async (_title, sums, message) => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'model.onnx'), 'weights');
    await writeFile(path.join(dir, 'SHA256SUMS'), sums(sha('weights')));
    await expect(verifyIntegrity(dir, { model: 'm', version: 1 })).rejects.toMatchObject({
      code: ErrorCode.INTEGRITY_FAILED,
      model: 'm',
      version: 1,
      message: expect.stringMatching(message),
    });
  });
});
