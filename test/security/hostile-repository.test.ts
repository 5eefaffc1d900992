/**
 * A repository full of hostile files: links out of the root to a secret, files that are not
 * what their names say, names that point outside. Every one is refused at load, and no
 * response of any route (KServe v2, TF Serving, admin, repository index, status page,
 * status.json, metrics) carries the secret's bytes or an absolute path. The full detail
 * reaches the host's logger.
 */
import { mkdir, realpath, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, ModelHost } from '../../src/index.js';
import { collectMetrics } from '../../src/metrics/prometheus.js';
import { onnxMlp } from '../fixtures/onnx-models.js';
import { tfjsLayersFilesOf, writeModelFiles } from '../fixtures/tfjs-model-writer.js';
import { buildTfjsMlp } from '../fixtures/tfjs-models.js';
import { writeSha256Sums } from '../fixtures/sha256sums.js';
import { writeVersion } from '../helpers/repository.js';
import { onnxWithExternalData } from './onnx-external-data.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { request, useServers } from '../adapters/http/serve.js';

const tempDir = useTempDirs('all');
const { serve } = useServers();

/** A marker no route could produce by chance: it is only in the secret files. */
const MARKER = `modelhost-secret-${process.pid}-9b41e7`;
const TOKEN = 'admin-token-for-the-test';
const AUTH = { authorization: `Bearer ${TOKEN}` };

interface Fixture {
  root: string;
  outside: string;
  logs: { level: string; message: string; fields: Record<string, unknown> | undefined }[];
  /** Every model folder of the repository; each is hostile except `good`. */
  models: string[];
}

let fixture: Fixture;

beforeAll(async () => {
  const outside = await tempDir();
  const root = await tempDir();
  // The secret: a text file like the system's user database, and a valid model (so a link
  // that is followed would visibly load).
  const secret = path.join(outside, 'passwd');
  await writeFile(secret, `root:x:0:0:${MARKER}:/root:/bin/bash\n`);
  const secretJson = path.join(outside, 'secret.json');
  await writeFile(secretJson, JSON.stringify({ models: {}, token: MARKER, modelTopology: { marker: MARKER } }));
  const outsideModel = path.join(outside, 'model.onnx');
  await writeFile(outsideModel, onnxMlp());
  const tfjs = await tfjsLayersFilesOf(() => buildTfjsMlp(tf));
  const outsideShard = path.join(outside, 'group1-shard1of1.bin');
  await writeFile(outsideShard, tfjs['group1-shard1of1.bin']!);

  const version = async (model: string, files: Record<string, Uint8Array | string>, links: Record<string, string> = {}, sums = false) => {
    const dir = path.join(root, model, '1');
    await writeModelFiles(files, dir);
    for (const [name, target] of Object.entries(links)) await symlink(target, path.join(dir, name));
    if (sums) await writeSha256Sums(dir);
  };
  const modelJsonNaming = (paths: string[]) => JSON.stringify({ ...JSON.parse(tfjs['model.json'] as string), weightsManifest: [{ paths, weights: JSON.parse(tfjs['model.json'] as string).weightsManifest[0].weights }] });

  await writeVersion(root, 'good', 1, { 'model.onnx': onnxMlp() });
  // Files of a version linked out of the root.
  await version('onnx-link', {}, { 'model.onnx': outsideModel });
  await version('onnx-link-thread', {}, { 'model.onnx': outsideModel });
  await writeFile(path.join(root, 'onnx-link-thread', 'config.json'), JSON.stringify({ instances: { kind: 'thread' } }));
  await version('onnx-to-secret', {}, { 'model.onnx': secret });
  await version('tfjs-json-link', { 'group1-shard1of1.bin': tfjs['group1-shard1of1.bin']! }, { 'model.json': secret });
  await version('tfjs-json-link-json', { 'group1-shard1of1.bin': tfjs['group1-shard1of1.bin']! }, { 'model.json': secretJson });
  await version('tfjs-shard-link', { 'model.json': tfjs['model.json']! }, { 'group1-shard1of1.bin': outsideShard });
  await version('sums-link', { 'model.onnx': onnxMlp() }, { SHA256SUMS: secret });
  // Names inside files that point out of the version.
  await version('tfjs-absolute-shard', { 'model.json': modelJsonNaming([secret]) });
  await version('tfjs-dotdot-shard', { 'model.json': modelJsonNaming([`../../../${path.relative(root, secret)}`]) });
  await version('sums-outside', { 'model.onnx': onnxMlp(), SHA256SUMS: `${'0'.repeat(64)}  model.onnx\n${'0'.repeat(64)}  ${secret}\n` });
  // A model.onnx inside the root whose weights are "external data" outside it: onnxruntime
  // reads no external data for a model given as bytes (absolute locations are refused outright).
  const weights = path.join(outside, 'weights.bin');
  await writeFile(weights, Buffer.from(new Float32Array([1, 2, 3, 4]).buffer));
  await version('onnx-external-absolute', { 'model.onnx': onnxWithExternalData(weights) });
  await version('onnx-external-relative', { 'model.onnx': onnxWithExternalData(`../../../${path.relative(root, weights)}`) });
  // Files inside the repository that hold something else than they should (as a hard link would).
  await version('tfjs-not-json', { 'model.json': `root:x:0:0:${MARKER}:/root:/bin/bash\n`, 'group1-shard1of1.bin': tfjs['group1-shard1of1.bin']! });
  await version('sums-not-sums', { 'model.onnx': onnxMlp(), SHA256SUMS: `root:x:0:0:${MARKER}:/root:/bin/bash\n` });
  await version('config-not-json', { 'model.onnx': onnxMlp() });
  await writeFile(path.join(root, 'config-not-json', 'config.json'), `root:x:0:0:${MARKER}:/root:/bin/bash\n`);
  // A config.json inside the repository whose values hold what they should not: validation
  // says which option is wrong, not what it holds.
  await version('config-values', { 'model.onnx': onnxMlp() });
  await writeFile(path.join(root, 'config-values', 'config.json'), JSON.stringify({ batching: `root:x:0:0:${MARKER}` }));
  // config.json linked out.
  await version('config-link', { 'model.onnx': onnxMlp() });
  await symlink(secret, path.join(root, 'config-link', 'config.json'));
  // Folders linked out (refused before: kept as a regression).
  await mkdir(path.join(outside, 'm', '1'), { recursive: true });
  await writeFile(path.join(outside, 'm', '1', 'model.onnx'), onnxMlp());
  await symlink(path.join(outside, 'm'), path.join(root, 'folder-link'));
  await mkdir(path.join(root, 'version-link'));
  await symlink(path.join(outside, 'm', '1'), path.join(root, 'version-link', '1'));
  // The repository's manifest linked out.
  await symlink(secretJson, path.join(root, 'manifest.json'));

  const models = ['good', 'onnx-link', 'onnx-link-thread', 'onnx-to-secret', 'tfjs-json-link', 'tfjs-json-link-json', 'tfjs-shard-link', 'sums-link', 'tfjs-absolute-shard', 'tfjs-dotdot-shard', 'sums-outside', 'onnx-external-absolute', 'onnx-external-relative', 'tfjs-not-json', 'sums-not-sums', 'config-not-json', 'config-values', 'config-link', 'folder-link', 'version-link'];
  fixture = { root, outside, logs: [], models };
});

function newHost(): ModelHost {
  const log = (level: string) => (message: string, fields?: Record<string, unknown>) => fixture.logs.push({ level, message, fields });
  return new ModelHost({ repository: fixture.root, logger: { info: log('info'), warn: log('warn'), error: log('error') }, defaults: { instances: { kind: 'inline' } } });
}

/** What no response may hold: the secret, and any absolute path of this machine. */
function assertLeaksNothing(where: string, text: string): void {
  // The folders' own names too: a path relative to somewhere else still says where things are.
  const forbidden = [MARKER, 'root:x:0:0', fixture.outside, fixture.root, path.basename(fixture.outside), path.basename(fixture.root), tmpdir(), process.cwd()];
  for (const bytes of forbidden) expect(text.includes(bytes), `${where} holds ${JSON.stringify(bytes)}: ${text.slice(0, 400)}`).toBe(false);
  // Any absolute POSIX path with two segments or more (a URL path such as /v2/models is fine: it names no file).
  const absolute = /(?:^|[\s"'(=:,])\/(?:tmp|home|root|etc|usr|var|work|opt|srv|proc|dev|private|Users)\//.exec(text);
  expect(absolute, `${where} names an absolute path: ${text.slice(Math.max(0, (absolute?.index ?? 0) - 80), (absolute?.index ?? 0) + 80)}`).toBeNull();
}

describe('a hostile repository', () => {
  it('refuses every file that links out of the root, naming it relative to the root', async () => {
    const host = newHost();
    const expected: Record<string, RegExp> = {
      'onnx-link': /^onnx-link\/1\/model\.onnx links outside the repository$/,
      'onnx-to-secret': /^onnx-to-secret\/1\/model\.onnx links outside the repository$/,
      'tfjs-json-link': /^tfjs-json-link\/1\/model\.json links outside the repository$/,
      'tfjs-shard-link': /^tfjs-shard-link\/1\/group1-shard1of1\.bin links outside the repository$/,
      'sums-link': /^sums-link\/1\/SHA256SUMS links outside the repository$/,
      'config-link': /^config-link\/config\.json links outside the repository$/,
      'folder-link': /^folder-link links outside the repository$/,
      'version-link': /^version-link\/1 links outside the repository$/,
    };
    for (const [model, message] of Object.entries(expected)) {
      await expect(host.load(model), model).rejects.toMatchObject({ code: ErrorCode.LOAD_FAILED, message: expect.stringMatching(message) });
    }
    await expect(host.load('config-values')).rejects.toMatchObject({ code: ErrorCode.INVALID_CONFIG, message: '`config-values/config.json.batching` must be an object' });
    // Names inside the files that lead out: refused, the name not repeated.
    await expect(host.load('tfjs-absolute-shard')).rejects.toMatchObject({ code: ErrorCode.LOAD_FAILED, message: "a model file name lies outside the model's folder" });
    await expect(host.load('tfjs-dotdot-shard')).rejects.toMatchObject({ code: ErrorCode.LOAD_FAILED, message: "a model file name lies outside the model's folder" });
    for (const model of ['onnx-external-absolute', 'onnx-external-relative']) {
      await expect(host.load(model), model).rejects.toMatchObject({ code: ErrorCode.LOAD_FAILED, message: `onnxruntime could not load ${model}/1/model.onnx (its message is in the host's log)` });
    }
    await host.close();
  });

  it('refuses a link out on a worker-thread instance too', async () => {
    const host = new ModelHost({ repository: fixture.root }); // config.json asks for a thread instance
    await expect(host.load('onnx-link-thread')).rejects.toMatchObject({ code: ErrorCode.LOAD_FAILED, message: 'onnx-link-thread/1/model.onnx links outside the repository (in a worker thread)' });
    await host.close();
  });

  it("confines a load({ source }) folder to itself, and lets links that stay inside the repository be", async () => {
    const host = newHost();
    const source = await tempDir();
    await symlink(path.join(fixture.outside, 'model.onnx'), path.join(source, 'model.onnx'));
    await expect(host.load('from-source', { source })).rejects.toMatchObject({ code: ErrorCode.LOAD_FAILED, message: "model.onnx links outside the model's folder" });
    // A version whose model.onnx links to another version's inside the root loads.
    const dir = path.join(fixture.root, 'shared', '1');
    await mkdir(dir, { recursive: true });
    await symlink(path.join(fixture.root, 'good', '1', 'model.onnx'), path.join(dir, 'model.onnx'));
    await expect(host.load('shared')).resolves.toMatchObject({ version: 1 });
    await host.close();
  });

  it('answers no route with the secret or an absolute path', async () => {
    const host = newHost();
    for (const model of fixture.models) await host.load(model).catch(() => undefined);
    await host.poll(); // reads manifest.json (linked out: refused and logged)
    expect(host.status('good').versions[0]?.state).toBe('ready');
    const { url } = await serve(host, { authorize: (req) => (req.headers['authorization'] === AUTH.authorization ? true : 401), metrics: collectMetrics(host).registry });

    const x = Array.from({ length: 64 }, () => 0);
    const calls: [string, string, unknown?, Record<string, string>?][] = [
      ['GET', '/'],
      ['GET', '/status'],
      ['GET', '/status.json'],
      ['GET', '/metrics'],
      ['GET', '/v2'],
      ['GET', '/v2/health/live'],
      ['GET', '/v2/health/ready'],
      ['POST', '/v2/repository/index'],
      ['POST', '/v2/repository/index', undefined, AUTH],
    ];
    for (const model of fixture.models) {
      calls.push(
        ['GET', `/v2/models/${model}`],
        ['GET', `/v2/models/${model}/ready`],
        ['GET', `/v2/models/${model}/versions/1`],
        ['GET', `/v2/models/${model}/versions/1/ready`],
        ['POST', `/v2/models/${model}/infer`, { inputs: [{ name: 'x', shape: [1, 64], datatype: 'FP32', data: x }] }],
        ['POST', `/v2/models/${model}/versions/1/infer`, { inputs: [{ name: 'x', shape: [1, 64], datatype: 'FP32', data: x }] }],
        ['GET', `/v1/models/${model}`],
        ['GET', `/v1/models/${model}/versions/1`],
        ['GET', `/v1/models/${model}/metadata`],
        ['GET', `/v1/models/${model}/versions/1/metadata`],
        ['GET', `/v1/models/${model}/labels/stable`],
        ['GET', `/v1/models/${model}/labels/stable/metadata`],
        ['POST', `/v1/models/${model}:predict`, { instances: [x] }],
        ['POST', `/v1/models/${model}/versions/1:predict`, { instances: [x] }],
        ['POST', `/v1/models/${model}/labels/stable:predict`, { instances: [x] }],
        ['POST', `/v2/repository/models/${model}/unload`, undefined, AUTH],
        ['POST', `/v2/repository/models/${model}/load`, undefined, AUTH],
        ['POST', `/admin/models/${model}/load`, undefined, AUTH],
        ['POST', `/admin/models/${model}/load`, { version: 1 }, AUTH],
        ['POST', `/admin/models/${model}/deploy`, { version: 1, canary: 0.5 }, AUTH],
        ['POST', `/admin/models/${model}/promote`, undefined, AUTH],
        ['POST', `/admin/models/${model}/rollback`, undefined, AUTH],
        ['PUT', `/admin/models/${model}/traffic`, { weights: { 1: 1 } }, AUTH],
      );
    }
    // Versions and models not on disk, unloads, and everything again after the admin loads failed a second time.
    calls.push(
      ['POST', '/admin/models/good/load', { version: 9 }, AUTH],
      ['POST', '/admin/models/nowhere/load', undefined, AUTH],
      ['POST', '/v2/repository/models/nowhere/load', undefined, AUTH],
      ['DELETE', '/admin/models/onnx-link/versions/1', undefined, AUTH],
      ['DELETE', '/admin/models/config-link', undefined, AUTH],
      ['GET', '/status.json'],
      ['GET', '/'],
      ['GET', '/metrics'],
      ['POST', '/v2/repository/index', undefined, AUTH],
    );
    let refusals = 0;
    for (const [method, route, body, headers] of calls) {
      const response = await request(`${url}${route}`, { method, body, headers });
      assertLeaksNothing(`${method} ${route}`, `${response.status} ${[...response.headers].join(' ')} ${response.text}`);
      if (response.status === 422) refusals++;
    }
    // The admin loads of hostile models were refused (not a route that never reached them).
    expect(refusals).toBeGreaterThanOrEqual(2 * (fixture.models.length - 1));
    const status = await request(`${url}/status.json`);
    const failed = JSON.stringify(status.body);
    // The status says what failed, relative to the root.
    expect(failed).toContain('tfjs-shard-link/1/group1-shard1of1.bin links outside the repository');
    expect(failed).toContain('tfjs-not-json/1/model.json is not valid JSON');
    expect(failed).toContain("SHA256SUMS line 1 is not '<sha256>  <file>'");
    await host.close();
  });

  it('gives the host logger the full detail the responses leave out', async () => {
    const detail = JSON.stringify(fixture.logs);
    // Where the link pointed, and what the parser choked on.
    expect(detail).toContain(await realpath(path.join(fixture.outside, 'model.onnx')));
    expect(detail).toContain('is not valid JSON');
    expect(detail).toContain('Absolute path not allowed for external data'); // onnxruntime's own message
    expect(fixture.logs.some((l) => l.message.includes('manifest') && JSON.stringify(l.fields).includes('links outside'))).toBe(true);
  });
});

describe('a hostile manifest.json inside the repository', () => {
  // Values in the wrong place, a key that is no model name, and a manifest too large to be one:
  // each is refused (the manifest ignored, every model keeps serving) in words that quote nothing
  // of the file, since the refusal reaches status.json and the status page.
  const manifests: [string, string, RegExp][] = [
    ['a canary that is not one', JSON.stringify({ models: { good: { default: 1, canary: { version: MARKER, weight: 0.5 } } } }), /^manifest\.json cannot be read: manifest\.json: models\.good\.canary must be \{ "version": <positive integer>, "weight": <between 0 and 1> \}$/],
    ['a default that is not a version', JSON.stringify({ models: { good: { default: MARKER } } }), /^manifest\.json cannot be read: manifest\.json: models\.good\.default must be a positive integer$/],
    ['weights keyed by no version', JSON.stringify({ models: { good: { default: 1, weights: { [MARKER]: 1 } } } }), /^manifest\.json cannot be read: manifest\.json: models\.good\.weights must map versions \(canonical decimal: "2", not "02"\) to weights ≥ 0$/],
    ['a key that is no model name', JSON.stringify({ models: { [`../${MARKER}`]: { default: 1 } } }), /^manifest\.json cannot be read: manifest\.json: models has a key that is not a valid model name$/],
    ['an unknown key', JSON.stringify({ models: { good: { default: 1, [MARKER]: 1 } } }), /^manifest\.json cannot be read: manifest\.json: models\.good has an unknown key; known: default, canary, weights$/],
    ['more than 1 MiB', JSON.stringify({ models: { good: { default: 1 } }, padding: `${MARKER}${' '.repeat(1024 * 1024)}` }), /^manifest\.json cannot be read: manifest\.json is larger than 1048576 bytes, the limit of a manifest\.json$/],
  ];

  it.each(manifests)('%s: refused without quoting the file, the model keeps serving', async (_title, manifest, problem) => {
    const root = await tempDir();
    await writeVersion(root, 'good', 1, { 'model.onnx': onnxMlp() });
    const host = new ModelHost({ repository: root, logger: { info() {}, warn() {}, error() {} }, defaults: { instances: { kind: 'inline' } } });
    await host.load('good');
    await writeFile(path.join(root, 'manifest.json'), manifest);
    await host.poll();
    expect(host.status('good')).toMatchObject({ ready: true, defaultVersion: 1, manifestProblem: expect.stringMatching(problem) });
    const { url } = await serve(host);
    for (const route of ['/status.json', '/', '/v2/models/good', '/v1/models/good']) {
      const response = await request(`${url}${route}`);
      assertLeaksNothing(`GET ${route}`, `${response.status} ${[...response.headers].join(' ')} ${response.text}`);
    }
    await host.close();
  });
});
