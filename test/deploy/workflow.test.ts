/**
 * The CI/CD example (.github/workflows/deploy.yml, not run here): tests gate the image and
 * the model publication, the image is built from the Dockerfile, and a model version is
 * published in the order that keeps the fleet safe (files, then SHA256SUMS, a verification
 * of what the bucket holds, then manifest.json). The manifest its script writes is one
 * modelhost accepts.
 */
import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { validateManifest } from '../../src/repository/index.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tempDir = useTempDirs('each');

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
}
interface Workflow {
  jobs: Record<string, { needs?: string | string[]; if?: string; steps: Step[] }>;
}

describe('.github/workflows/deploy.yml', async () => {
  const workflow = parse(await readFile(path.join(root, '.github/workflows/deploy.yml'), 'utf8')) as Workflow;

  it('runs the tests first, and builds and publishes only after them', () => {
    expect(Object.keys(workflow.jobs).sort()).toEqual(['image', 'publish-model', 'test']);
    expect(workflow.jobs['test']!.steps.map((s) => s.run).filter(Boolean)).toEqual(['npm ci --no-audit --no-fund', 'npm run typecheck', 'npm run build', 'npm test']);
    expect(workflow.jobs['image']!.needs).toBe('test');
    expect(workflow.jobs['publish-model']!.needs).toBe('test');
  });

  it('builds the image from the Dockerfile and pushes it', () => {
    const build = workflow.jobs['image']!.steps.find((s) => s.uses?.startsWith('docker/build-push-action@'))!;
    expect(build.with).toMatchObject({ context: '.', file: 'Dockerfile', push: true });
  });

  it('publishes a version as files, then SHA256SUMS, then a read-back check, then manifest.json', () => {
    const script = workflow.jobs['publish-model']!.steps.map((s) => s.run ?? '').join('\n');
    const at = (text: string) => {
      const index = script.indexOf(text);
      expect(index, text).toBeGreaterThanOrEqual(0);
      return index;
    };
    const order = [
      at('aws s3 cp --recursive --exclude SHA256SUMS'),
      at('aws s3 cp /tmp/SHA256SUMS'),
      at('sha256sum --check --strict SHA256SUMS'),
      at('node deploy/scripts/set-manifest.mjs'),
      at('aws s3 cp /tmp/manifest.json'),
    ];
    expect(order).toEqual([...order].sort((a, b) => a - b));
    // an existing version is never overwritten
    expect(script).toMatch(/already exists: versions are immutable/);
  });
});

describe('deploy/scripts/set-manifest.mjs', () => {
  const setManifest = (...args: string[]) => execFileSync(process.execPath, [path.join(root, 'deploy/scripts/set-manifest.mjs'), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

  it('writes a canary beside the default, then the promotion, each a manifest modelhost accepts', async () => {
    const file = path.join(await tempDir(), 'manifest.json');
    await writeFile(file, JSON.stringify({ models: { other: { default: 4 }, m: { default: 1 } } }));
    setManifest(file, 'm', '2', '0.1');
    const canary = JSON.parse(await readFile(file, 'utf8')) as unknown;
    expect(validateManifest(canary)).toEqual({ models: { other: { default: 4 }, m: { default: 1, canary: { version: 2, weight: 0.1 } } } });
    setManifest(file, 'm', '2');
    expect(validateManifest(JSON.parse(await readFile(file, 'utf8')))).toEqual({ models: { other: { default: 4 }, m: { default: 2 } } });
  });

  it.each([
    { args: ['m', '0'], message: 'version must be a positive integer, got 0' },
    { args: ['m', '2', '1'], message: 'canary weight must be between 0 and 1, got 1' },
    { args: ['m', '1', '0.1'], message: 'version 1 is not newer than the default 1' },
    { args: ['new', '1', '0.1'], message: "model 'new' has no default" },
  ])('refuses $args: $message', async ({ args, message }) => {
    const file = path.join(await tempDir(), 'manifest.json');
    await writeFile(file, JSON.stringify({ models: { m: { default: 1 } } }));
    expect(() => setManifest(file, ...args)).toThrow(message);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ models: { m: { default: 1 } } });
  });
});
