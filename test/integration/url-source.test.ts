/**
 * Loading from an http(s) URL (`load(name, { source: 'https://…' })`), over a real HTTP
 * server: the runtime is detected as for a folder on disk, a URL naming the entry file
 * stands for its folder, and a URL with nothing loadable says so.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, ModelHost, type Outputs } from '../../src/index.js';
import { onnxAffine } from '../fixtures/onnx-models.js';
import { tfjsLayersFilesOf } from '../fixtures/tfjs-model-writer.js';
import { buildTfjsAffine } from '../fixtures/tfjs-models.js';
import { writeVersion } from '../helpers/repository.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs('all');

describe('a model loaded from an http(s) URL', () => {
  let server: Server;
  let base: string;
  let host: ModelHost;
  const requests: string[] = [];

  beforeAll(async () => {
    const root = await tempDir();
    await writeVersion(root, 'onnx', 1, { 'model.onnx': onnxAffine({ size: 4, scale: 2, bias: 1 }) });
    await writeVersion(root, 'tfjs', 1, await tfjsLayersFilesOf(() => buildTfjsAffine(tf, { size: 4, scale: 3, bias: 0 })));
    // A static file server that, like many object stores, cannot list a folder and refuses HEAD.
    server = createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      if (req.method !== 'GET') return void res.writeHead(405).end();
      const file = path.join(root, path.normalize(decodeURIComponent(new URL(req.url!, 'http://x').pathname)));
      readFile(file).then(
        (bytes) => res.writeHead(200).end(bytes),
        () => res.writeHead(404).end(),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    host = new ModelHost();
  });

  afterAll(async () => {
    await host?.close();
    await new Promise((resolve) => server?.close(resolve));
  });

  const x = [1, 2, 3, 4];
  const first = (out: Outputs) => Array.from(Object.values(out)[0]!.data as Float32Array);

  it.each([
    ['a folder URL', '/onnx/1/'],
    ['a folder URL without the trailing slash', '/onnx/1'],
    ['the URL of model.onnx itself', '/onnx/1/model.onnx'],
  ])('detects the onnx runtime from %s', async (_, urlPath) => {
    const name = `onnx-${urlPath.replaceAll(/[^a-z0-9]/g, '')}`;
    await host.load(name, { source: `${base}${urlPath}` });
    expect(host.metadata(name).runtime).toBe('onnx');
    expect(first(await host.predict(name, x))).toEqual([3, 5, 7, 9]);
    // never the file under itself (…/model.onnx/model.onnx)
    expect(requests.filter((r) => r.includes('model.onnx/'))).toEqual([]);
  });

  it.each([
    ['a folder URL', '/tfjs/1/'],
    ['the URL of model.json itself', '/tfjs/1/model.json'],
  ])('detects the tfjs runtime from %s (weights fetched beside model.json)', async (_, urlPath) => {
    const name = `tfjs-${urlPath.replaceAll(/[^a-z0-9]/g, '')}`;
    await host.load(name, { source: new URL(`${base}${urlPath}`) });
    expect(host.metadata(name).runtime).toBe('tfjs');
    expect(first(await host.predict(name, x))).toEqual([3, 6, 9, 12]);
  });

  it('fails a URL with no model.json or model.onnx with UNSUPPORTED_MODEL naming the URL', async () => {
    await expect(host.load('none', { source: `${base}/nothing/here/` })).rejects.toMatchObject({
      code: ErrorCode.UNSUPPORTED_MODEL,
      message: expect.stringContaining(`found neither model.json (tfjs) nor model.onnx (onnx) under ${base}/nothing/here/`),
    });
  });

  it('refuses a URL naming another .onnx or .json file, saying to name the folder', async () => {
    await expect(host.load('other', { source: `${base}/onnx/1/resnet50.onnx` })).rejects.toMatchObject({
      code: ErrorCode.INVALID_INPUT,
      message: expect.stringContaining("names the file 'resnet50.onnx': name its folder"),
    });
  });
});
