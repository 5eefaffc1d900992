import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../src/index.js';
import { assertModelName, ModelRepository, parseVersion, selectVersions, validateManifest, validateVersionPolicy } from '../../../src/repository/index.js';
import { MAX_CONFIG_BYTES } from '../../../src/repository/model-repository.js';
import { useTempDirs } from '../../helpers/temp-dir.js';

const tempDir = useTempDirs();

async function repositoryWith(layout: Record<string, string>): Promise<string> {
  const root = await tempDir();
  for (const [file, content] of Object.entries(layout)) {
    await mkdir(path.dirname(path.join(root, file)), { recursive: true });
    await writeFile(path.join(root, file), content);
  }
  return root;
}

describe('ModelRepository', () => {
  it('lists models and their positive integer versions only', async () => {
    const root = await repositoryWith({
      'a/1/model.onnx': 'x',
      'a/2/model.onnx': 'x',
      'a/10/model.onnx': 'x',
      'a/0/model.onnx': 'x',
      'a/01/model.onnx': 'x',
      'a/-1/model.onnx': 'x',
      'a/latest/model.onnx': 'x',
      'a/3': 'a file, not a folder',
      'b/config.json': '{}',
      '.hidden/1/model.onnx': 'x',
    });
    const repo = new ModelRepository(root);
    expect(await repo.listModels()).toEqual(['a', 'b']);
    expect(await repo.listVersions('a')).toEqual([1, 2, 10]);
    expect(await repo.listVersions('b')).toEqual([]);
  });

  it('reads config.json, and names the file when it is not JSON', async () => {
    const root = await repositoryWith({ 'a/config.json': '{"runtime":"onnx"}', 'b/config.json': '{ nope' });
    const repo = new ModelRepository(root);
    expect(await repo.readConfig('a')).toEqual({ runtime: 'onnx' });
    await expect(repo.readConfig('b')).rejects.toMatchObject({ code: ErrorCode.INVALID_CONFIG, message: expect.stringMatching(/b\/config\.json is not valid JSON/) });
  });

  it('refuses a config.json over MAX_CONFIG_BYTES without reading it all, and reads one at the limit', async () => {
    const padded = (bytes: number) => `{"runtime":"onnx"${' '.repeat(bytes - 18)}}`;
    expect(padded(100)).toHaveLength(100);
    const root = await repositoryWith({ 'a/config.json': padded(MAX_CONFIG_BYTES), 'b/config.json': padded(MAX_CONFIG_BYTES + 1) });
    const repo = new ModelRepository(root);
    expect(await repo.readConfig('a')).toEqual({ runtime: 'onnx' });
    await expect(repo.readConfig('b')).rejects.toMatchObject({ code: ErrorCode.INVALID_CONFIG, message: expect.stringMatching(/b\/config\.json is larger than 1048576 bytes, the limit of a config\.json$/) });
  });

  it('reports unknown models and versions with their codes', async () => {
    const repo = new ModelRepository(await repositoryWith({ 'a/1/model.onnx': 'x' }));
    await expect(repo.listVersions('nope')).rejects.toMatchObject({ code: ErrorCode.MODEL_NOT_FOUND });
    await expect(repo.versionDir('a', 7)).rejects.toMatchObject({ code: ErrorCode.VERSION_NOT_FOUND, version: 7 });
  });

  it.each(['../etc', '..', 'a/b', '/etc', '.hidden', 'a\0b', '', 'x'.repeat(129)])('refuses the model name %j', async (name) => {
    const repo = new ModelRepository(await repositoryWith({ 'a/1/model.onnx': 'x' }));
    await expect(repo.listVersions(name)).rejects.toMatchObject({ code: ErrorCode.INVALID_INPUT });
    expect(() => assertModelName(name)).toThrow(/model name must be/);
  });

  it('refuses a model or version folder that is a symlink leading out of the repository', async () => {
    const outside = await repositoryWith({ '1/model.onnx': 'secret' });
    const root = await repositoryWith({ 'ok/1/model.onnx': 'x' });
    await symlink(outside, path.join(root, 'escape'));
    await symlink(path.join(outside, '1'), path.join(root, 'ok', '2'));
    const repo = new ModelRepository(root);
    await expect(repo.versionDir('escape', 1)).rejects.toMatchObject({ code: ErrorCode.LOAD_FAILED, message: 'escape links outside the repository' });
    await expect(repo.versionDir('ok', 2)).rejects.toMatchObject({ code: ErrorCode.LOAD_FAILED, message: 'ok/2 links outside the repository' });
    expect(await repo.versionDir('ok', 1)).toMatch(/ok\/1$/);
  });

  it('refuses a config.json that links out of the repository, and names no absolute path in any message', async () => {
    const outside = await repositoryWith({ 'secret.json': '{"token": "outside-secret"}' });
    const root = await repositoryWith({ 'ok/1/model.onnx': 'x', 'bad/config.json': '{"token": "inside-and-broken' });
    await symlink(path.join(outside, 'secret.json'), path.join(root, 'ok', 'config.json'));
    const repo = new ModelRepository(root);
    const messages: string[] = [];
    // One at a time, each started when awaited: a rejection nobody awaits yet is unhandled.
    for (const attempt of [() => repo.readConfig('ok'), () => repo.readConfig('bad'), () => repo.versionDir('ok', 7), () => repo.listVersions('nope'), () => new ModelRepository(path.join(root, 'gone')).listModels()]) {
      messages.push(((await attempt().catch((e: unknown) => e)) as Error).message);
    }
    expect(messages).toEqual([
      'ok/config.json links outside the repository',
      'bad/config.json is not valid JSON',
      "model 'ok' has no version 7 in the repository",
      "no model 'nope' in the repository",
      'the repository folder does not exist',
    ]);
  });

  it('allows symlinks that stay inside the repository', async () => {
    const root = await repositoryWith({ 'store/v1/model.onnx': 'x' });
    await mkdir(path.join(root, 'linked'));
    await symlink(path.join(root, 'store', 'v1'), path.join(root, 'linked', '1'));
    expect(await new ModelRepository(root).versionDir('linked', 1)).toBe(path.join(await import('node:fs/promises').then((f) => f.realpath(root)), 'store', 'v1'));
  });
});

describe('parseVersion: the one version parser', () => {
  it('reads only the canonical decimal form of a positive safe integer', () => {
    expect(['1', '2', '10', '9007199254740991'].map(parseVersion)).toEqual([1, 2, 10, 9007199254740991]);
    for (const text of ['', '0', '01', '-1', '+1', '1.0', '1e0', '0x1', ' 1', '1 ', '%31', '１', '9007199254740992', '12345678901234567']) expect(parseVersion(text)).toBeUndefined();
  });

  it('is what manifest.json weights are keyed by', () => {
    expect(validateManifest({ models: { m: { weights: { '1': 1, '2': 0 } } } })).toEqual({ models: { m: { weights: { '1': 1, '2': 0 } } } });
    let error: Error | undefined;
    try {
      validateManifest({ models: { m: { weights: { '01': 1 } } } });
    } catch (e) {
      error = e as Error;
    }
    // What the file holds is for the log (the cause), not for status(): the message says what is expected.
    expect(error?.message).toBe('manifest.json: models.m.weights must map versions (canonical decimal: "2", not "02") to weights ≥ 0');
    expect((error?.cause as Error).message).toMatch(/, got "01": 1$/);
  });
});

describe('version policy', () => {
  it('selects the newest N, a specific list, or all', () => {
    expect(selectVersions([1, 3, 2], { latest: 1 })).toEqual([3]);
    expect(selectVersions([1, 3, 2], { latest: 2 })).toEqual([3, 2]);
    expect(selectVersions([1, 3, 2], { specific: [1, 5] })).toEqual([1]);
    expect(selectVersions([1, 3, 2], 'all')).toEqual([3, 2, 1]);
  });

  it.each([
    [{ latest: 0 }, /versionPolicy.latest must be an integer ≥ 1, got 0/],
    [{ specific: [] }, /versionPolicy.specific must be a non-empty array of positive integers/],
    [{ specific: [1.5] }, /versionPolicy.specific must be/],
    ['newest', /versionPolicy must be \{ latest: N \}, \{ specific: \[versions\] \} or 'all', got "newest"/],
    [{ latest: 1, specific: [1] }, /versionPolicy must be/],
  ])('rejects %j', (policy, message) => {
    expect(() => validateVersionPolicy(policy, 'versionPolicy')).toThrow(message);
  });
});
