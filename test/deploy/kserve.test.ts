/**
 * deploy/kserve/: the ClusterServingRuntime and the InferenceService validate against
 * KServe's own CRD schemas, strictly: a field KServe does not define is an error. No npm
 * package ships those CRDs and the repository keeps no copy: they are read from
 * `$MODELHOST_KSERVE_CRDS` or `../shared/kserve-crds` (./kserve-crds.ts), and those tests skip,
 * saying so in their names, when neither holds them. The runtime's container is always
 * checked against the core Container schema (kubernetes-models). And `modelhost serve`,
 * started the way the runtime starts it (its args and env, `{{.Name}}` rendered), serves a
 * model from `/mnt/models` laid out as KServe's storage initializer leaves it: the contents
 * of the storageUri, whether that is one version's files, one model's version folders or a
 * repository.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { onnxAffine } from '../fixtures/onnx-models.js';
import { tfjsLayersFilesOf, writeModelFiles } from '../fixtures/tfjs-model-writer.js';
import { buildTfjsAffine } from '../fixtures/tfjs-models.js';
import { writeSha256Sums } from '../fixtures/sha256sums.js';
import { writeVersion } from '../helpers/repository.js';
import { startServe, type ServeProcess } from '../helpers/serve-process.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { Container } from 'kubernetes-models/v1';
import { crdValidator } from './crd-schema.js';
import { findKserveCrds, kserveCrdDirs, needsKserveCrds } from './kserve-crds.js';

const tempDir = useTempDirs('each');
const file = (relative: string) => fileURLToPath(new URL(`../../${relative}`, import.meta.url));
const load = (relative: string) => parse(readFileSync(file(relative), 'utf8'));

// Manifests are plain JSON read from YAML (`any`): each test walks the fields it checks.
const runtime = load('deploy/kserve/cluster-serving-runtime.yaml');
const isvc = load('deploy/kserve/inference-service.yaml');
const container = runtime.spec.containers[0];
const crds = findKserveCrds();
const runtimes = crds && crdValidator(crds.clusterServingRuntimes);
const inferenceServices = crds && crdValidator(crds.inferenceServices);

describe('deploy/kserve against KServe’s CRD schemas', () => {
  it.skipIf(!crds)(needsKserveCrds(crds, 'the ClusterServingRuntime validates'), () => {
    expect(runtimes!.apiVersions).toContain('serving.kserve.io/v1alpha1');
    expect(runtimes!.validate(runtime)).toEqual([]);
  });

  it.skipIf(!crds)(needsKserveCrds(crds, 'the InferenceService validates'), () => {
    expect(inferenceServices!.apiVersions).toContain('serving.kserve.io/v1beta1');
    expect(inferenceServices!.validate(isvc)).toEqual([]);
  });

  it.skipIf(!crds)(needsKserveCrds(crds, 'refuses what KServe would refuse: a misspelt field, a wrong type, another kind'), () => {
    const misspelt = structuredClone(isvc);
    misspelt.spec.predictor.canaryTrafficPercentage = 10;
    expect(inferenceServices!.validate(misspelt)).toContainEqual(expect.stringMatching(/\/spec\/predictor must NOT have additional properties: canaryTrafficPercentage/));
    const wrongType = structuredClone(runtime);
    wrongType.spec.supportedModelFormats[0].autoSelect = 'yes';
    expect(runtimes!.validate(wrongType)).toContainEqual(expect.stringMatching(/autoSelect must be boolean/));
    expect(runtimes!.validate(isvc)).toEqual(['kind must be ClusterServingRuntime, got InferenceService']);
  });
});

describe('deploy/kserve', () => {
  it('looks for the CRDs in $MODELHOST_KSERVE_CRDS, then ../shared/kserve-crds, and takes only a folder holding both', async () => {
    const root = file('');
    expect(kserveCrdDirs({})).toEqual([path.resolve(root, '..', 'shared', 'kserve-crds')]);
    const dir = await tempDir();
    expect(kserveCrdDirs({ MODELHOST_KSERVE_CRDS: dir })[0]).toBe(dir);
    await writeFile(path.join(dir, 'serving.kserve.io_inferenceservices.yaml'), '');
    const onlyOne = findKserveCrds({ MODELHOST_KSERVE_CRDS: dir });
    expect(onlyOne?.dir).not.toBe(dir);
    await writeFile(path.join(dir, 'serving.kserve.io_clusterservingruntimes.yaml'), '');
    expect(findKserveCrds({ MODELHOST_KSERVE_CRDS: dir })).toEqual({
      dir,
      clusterServingRuntimes: path.join(dir, 'serving.kserve.io_clusterservingruntimes.yaml'),
      inferenceServices: path.join(dir, 'serving.kserve.io_inferenceservices.yaml'),
    });
  });

  it('the runtime’s container validates against the core Container schema (kubernetes-models), which refuses a wrong one', () => {
    const errors = (value: unknown) => {
      try {
        new Container(value as never).validate();
        return '';
      } catch (error) {
        return (error as Error).message;
      }
    };
    expect(errors(container)).toBe('');
    const broken = structuredClone(container);
    broken.ports[0].containerPort = String(broken.ports[0].containerPort);
    expect(errors(broken)).toMatch(/containerPort must be integer/);
  });

  it('the runtime speaks v2 for tensorflowjs and onnx from /mnt/models, named by MODEL_NAME, on the port it declares', () => {
    expect(runtime.spec.protocolVersions).toEqual(['v2']);
    expect(runtime.spec.supportedModelFormats.map((f: any) => f.name).sort()).toEqual(['onnx', 'tensorflowjs']);
    expect(container.name).toBe('kserve-container');
    expect(container.args.slice(0, 2)).toEqual(['serve', '/mnt/models']);
    expect(container.env).toContainEqual({ name: 'MODEL_NAME', value: '{{.Name}}' });
    const port = container.args[container.args.indexOf('--port') + 1];
    expect(container.ports).toEqual([{ containerPort: Number(port), protocol: 'TCP' }]);
    expect(container.args[container.args.indexOf('--host') + 1]).toBe('0.0.0.0');
    expect(container.args[container.args.indexOf('--log-format') + 1]).toBe('json');
    expect(container.readinessProbe.httpGet).toEqual({ path: '/v2/health/ready', port: Number(port) });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/v2/health/live', port: Number(port) });
  });

  it('the InferenceService runs on that runtime with a canary', () => {
    const predictor = isvc.spec.predictor;
    expect(predictor.model.runtime).toBe(runtime.metadata.name);
    expect(runtime.spec.supportedModelFormats.map((f: any) => f.name)).toContain(predictor.model.modelFormat.name);
    expect(predictor.model.protocolVersion).toBe('v2');
    expect(predictor.canaryTrafficPercent).toBeGreaterThan(0);
    expect(predictor.canaryTrafficPercent).toBeLessThan(100);
  });
});

describe('modelhost serve started as the ClusterServingRuntime starts it', () => {
  let server: ServeProcess | undefined;
  afterEach(() => {
    server?.kill();
    server = undefined;
  });

  /** The runtime's container, rendered for an InferenceService `name`, with /mnt/models at `mnt` and a free port. */
  async function startAsRuntime(mnt: string, name: string): Promise<ServeProcess> {
    const render = (value: string) => value.replaceAll('{{.Name}}', name);
    const args = (container.args as string[]).map(render).map((a) => (a === '/mnt/models' ? mnt : a));
    args[args.indexOf('--port') + 1] = '0';
    const env = Object.fromEntries((container.env as { name: string; value: string }[]).map((e) => [e.name, render(e.value)]));
    return startServe(args, env);
  }

  async function infer(name: string, data: number[]): Promise<{ status: number; body: any }> {
    const response = await fetch(`${server!.url}/v2/models/${name}/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data }] }),
    });
    return { status: response.status, body: await response.json() };
  }

  it('one version’s tfjs files in /mnt/models (storageUri …/mobilenet/3): served as the InferenceService’s name, version 1', async () => {
    const mnt = await tempDir();
    await writeModelFiles(await tfjsLayersFilesOf(() => buildTfjsAffine(tf, { size: 4, scale: 2, bias: 1 })), mnt);
    await writeSha256Sums(mnt);
    server = await startAsRuntime(mnt, isvc.metadata.name);
    expect((await fetch(`${server.url}/v2/health/ready`)).status).toBe(200);
    expect(await (await fetch(`${server.url}/v2/models/${isvc.metadata.name}/ready`)).json()).toEqual({ name: isvc.metadata.name, ready: true });
    const { status, body } = await infer(isvc.metadata.name, [1, 2, 3, 4]);
    expect(status).toBe(200);
    expect(body).toMatchObject({ model_name: isvc.metadata.name, model_version: '1' });
    expect(body.outputs[0].data).toEqual([3, 5, 7, 9]);
  });

  it('one model’s version folders in /mnt/models (storageUri …/ranker): the newest version serves', async () => {
    const mnt = await tempDir();
    await writeModelFiles({ 'model.onnx': onnxAffine({ size: 4, scale: 2, bias: 1 }) }, path.join(mnt, '1'));
    await writeModelFiles({ 'model.onnx': onnxAffine({ size: 4, scale: 3, bias: 0 }) }, path.join(mnt, '2'));
    server = await startAsRuntime(mnt, 'ranker');
    const { status, body } = await infer('ranker', [1, 2, 3, 4]);
    expect(status).toBe(200);
    expect(body).toMatchObject({ model_name: 'ranker', model_version: '2' });
    expect(body.outputs[0].data).toEqual([3, 6, 9, 12]);
    expect((await fetch(`${server.url}/v2/models/other`)).status).toBe(404);
  });

  it('one model’s folder with a config.json: the config applies (and is validated)', async () => {
    const mnt = await tempDir();
    await writeModelFiles({ 'model.onnx': onnxAffine({ size: 4, scale: 2, bias: 1 }) }, path.join(mnt, '1'));
    await writeFile(path.join(mnt, 'config.json'), JSON.stringify({ batching: { maxBatchSize: 0 } }));
    // Its only model cannot load: the runtime exits 1 (KServe restarts it) rather than serve nothing.
    await expect(startAsRuntime(mnt, 'ranker')).rejects.toThrow(/exited \(1\)[\s\S]*"msg":"model not served","model":"ranker","error":"[^"]*maxBatchSize[^"]*got 0/);
    await writeFile(path.join(mnt, 'config.json'), JSON.stringify({ batching: { maxBatchSize: 4 } }));
    server = await startAsRuntime(mnt, 'ranker');
    expect((await infer('ranker', [1, 2, 3, 4])).body.outputs[0].data).toEqual([3, 5, 7, 9]);
  });

  it('a repository in /mnt/models (storageUri …/models): only the model named by MODEL_NAME serves', async () => {
    const mnt = await tempDir();
    await writeVersion(mnt, 'ranker', 4, { 'model.onnx': onnxAffine({ size: 4, scale: 2, bias: 1 }) });
    await writeVersion(mnt, 'other', 1, { 'model.onnx': onnxAffine({ size: 4, scale: 1, bias: 0 }) });
    server = await startAsRuntime(mnt, 'ranker');
    const { status, body } = await infer('ranker', [0, 0, 0, 1]);
    expect(status).toBe(200);
    expect(body).toMatchObject({ model_name: 'ranker', model_version: '4' });
    expect(body.outputs[0].data).toEqual([1, 1, 1, 3]);
    expect(server.logs().find((l) => l.msg === 'listening')).toMatchObject({ models: ['ranker'] });
  });

  it('a half-copied version (checksum mismatch) is never served: the runtime exits 1 and never turns ready', async () => {
    const mnt = await tempDir();
    await writeModelFiles({ 'model.onnx': onnxAffine() }, mnt);
    await writeSha256Sums(mnt);
    await writeFile(path.join(mnt, 'model.onnx'), onnxAffine({ scale: 5 }));
    await expect(startAsRuntime(mnt, 'ranker')).rejects.toThrow(/exited \(1\)[\s\S]*"level":"error","msg":"model not served","model":"ranker"[\s\S]*no model could be loaded: exiting/);
  });

  it('exits 2 naming the layouts when /mnt/models holds none of them, and refuses --models with a model name', async () => {
    const mnt = await tempDir();
    await mkdir(path.join(mnt, 'notes'));
    await expect(startAsRuntime(mnt, 'ranker')).rejects.toThrow(/exited \(2\)[\s\S]*holds neither a folder 'ranker'/);
    await expect(startServe(['serve', mnt, '--port', '0', '--models', 'a'], { MODEL_NAME: 'ranker' })).rejects.toThrow(/exited \(2\)[\s\S]*--models and --model-name \(or MODEL_NAME\) cannot be used together/);
  });
});
