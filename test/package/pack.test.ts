import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onnxAffine } from '../fixtures/onnx-models.js';
import { writeVersion } from '../helpers/repository.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
let consumer: string;

function run(file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  return execFileSync(file, args, { cwd, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Newest modification time (ms) of a file or of any file under a folder. */
function newest(file: string): number {
  const stats = statSync(file);
  if (!stats.isDirectory()) return stats.mtimeMs;
  return Math.max(0, ...readdirSync(file).map((name) => newest(path.join(file, name))));
}

/** Builds dist unless it is newer than every source it is built from: a stale dist would test old code. */
function buildIfStale(): void {
  const built = path.join(root, 'dist', 'cli.js');
  const sources = ['src', 'package.json', 'tsup.config.ts'].map((f) => newest(path.join(root, f)));
  const stale = !existsSync(built) || !existsSync(path.join(root, 'dist', 'vendor', 'uPlot.iife.min.js')) || Math.max(...sources) > statSync(built).mtimeMs;
  if (stale) run('npm', ['run', 'build'], root);
}

/**
 * Packs the package as npm would publish it and uses it from a consumer folder, as a user would:
 * `import` and `require` must both work, with types.
 */
describe('the packed package', () => {
  beforeAll(async () => {
    buildIfStale();
    // Inside the project, so the consumer resolves modelhost's dependencies from its node_modules.
    await mkdir(path.join(root, '.scratch'), { recursive: true });
    consumer = await mkdtemp(path.join(root, '.scratch', 'consumer-'));
    const tarball = run('npm', ['pack', '--silent', '--pack-destination', consumer], root).trim().split('\n').pop()!;
    const target = path.join(consumer, 'node_modules', 'modelhost');
    await mkdir(target, { recursive: true });
    run('tar', ['-xzf', path.join(consumer, tarball), '-C', target, '--strip-components=1'], consumer);
  }, 120_000);

  afterAll(async () => {
    if (consumer) await rm(consumer, { recursive: true, force: true });
  });

  it('ships dist, docs and the license, and no sources or tests', () => {
    const listing = run('tar', ['-tzf', run('ls', [], consumer).split('\n').find((f) => f.endsWith('.tgz'))!], consumer);
    expect(listing).toMatch(/package\/dist\/index\.js/);
    expect(listing).toMatch(/package\/dist\/index\.cjs/);
    expect(listing).toMatch(/package\/dist\/index\.d\.ts/);
    expect(listing).toMatch(/package\/LICENSE/);
    expect(listing).not.toMatch(/package\/(src|test)\//);
  });

  it('ships the status page charting library (dist/vendor, with its license) and the installed package serves it', () => {
    const listing = run('tar', ['-tzf', run('ls', [], consumer).split('\n').find((f) => f.endsWith('.tgz'))!], consumer);
    expect(listing).toMatch(/package\/dist\/vendor\/uPlot\.iife\.min\.js/);
    expect(listing).toMatch(/package\/dist\/vendor\/uPlot\.min\.css/);
    expect(listing).toMatch(/package\/dist\/vendor\/uPlot\.LICENSE/);
    // uplot is a devDependency: an installed modelhost serves the copy in its dist/vendor.
    for (const kind of ['esm', 'cjs'] as const) {
      const script = `
        ${kind === 'esm' ? "import { ModelHost } from 'modelhost'; import { createHttpHandler } from 'modelhost/http';" : "const { ModelHost } = require('modelhost'); const { createHttpHandler } = require('modelhost/http');"}
        const handle = createHttpHandler(new ModelHost());
        handle({ method: 'GET', url: '/status/uplot.min.js', headers: {} }).then((r) => console.log(r.status, r.headers['content-type'], r.body.length));`;
      const out = run('node', [...(kind === 'esm' ? ['--input-type=module'] : []), '-e', script], consumer);
      expect(out.trim()).toMatch(/^200 text\/javascript; charset=utf-8 [1-9]\d{4,}$/);
    }
  });

  it('works with import', () => {
    const out = run('node', ['--input-type=module', '-e', "import { ModelHost, ErrorCode } from 'modelhost'; const h = new ModelHost(); console.log(typeof ModelHost, ErrorCode.QUEUE_FULL, h.live()); await h.close();"], consumer);
    expect(out.trim()).toBe('function QUEUE_FULL true');
  });

  it('works with require', () => {
    const out = run('node', ['-e', "const { ModelHost, ModelHostError } = require('modelhost'); const h = new ModelHost(); console.log(typeof ModelHost, typeof ModelHostError, h.live()); h.close();"], consumer);
    expect(out.trim()).toBe('function function true');
  });

  it('serves a model from the built ESM and CJS files alike', () => {
    const script = (kind: 'esm' | 'cjs') => `
      ${kind === 'esm' ? "import { ModelHost } from 'modelhost';" : "const { ModelHost } = require('modelhost');"}
      const runtime = { name: 'echo', canLoad: (f) => f.includes('model.echo'), async load() {
        return { signature: { inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 2] }], outputs: [{ name: 'x', dtype: 'float32', shape: [-1, 2] }] },
                 async run(i) { return i; }, dispose() {} };
      } };
      (async () => {
        const host = new ModelHost({ runtimes: { echo: runtime } });
        await host.load('e', { source: { files: { 'model.echo': '' } } });
        const out = await host.predict('e', [1, 2]);
        console.log(JSON.stringify(Array.from(out.x.data)));
        await host.close();
      })();`;
    expect(run('node', ['--input-type=module', '-e', script('esm')], consumer).trim()).toBe('[1,2]');
    expect(run('node', ['-e', script('cjs')], consumer).trim()).toBe('[1,2]');
  });

  it('serves with neither prom-client nor @opentelemetry/api resolvable (optional peers)', async () => {
    // A loader hook that makes both packages unresolvable, as if they were not installed.
    await writeFile(
      path.join(consumer, 'block-peers.mjs'),
      `export async function resolve(specifier, context, next) {
        if (specifier === 'prom-client' || specifier.startsWith('@opentelemetry/')) throw Object.assign(new Error('Cannot find package ' + specifier), { code: 'ERR_MODULE_NOT_FOUND' });
        return next(specifier, context);
      }`,
    );
    await writeFile(path.join(consumer, 'register.mjs'), "import { register } from 'node:module'; register('./block-peers.mjs', import.meta.url);");
    const script = `
      import { ModelHost } from 'modelhost';
      const runtime = { name: 'echo', canLoad: (f) => f.includes('model.echo'), async load() {
        return { signature: { inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 2] }], outputs: [{ name: 'x', dtype: 'float32', shape: [-1, 2] }] }, async run(i) { return i; }, dispose() {} };
      } };
      const host = new ModelHost({ runtimes: { echo: runtime } });
      await host.load('e', { source: { files: { 'model.echo': '' } } });
      const out = await host.predict('e', [3, 4]);
      let prom = 'importable';
      try { await import('prom-client'); } catch { prom = 'blocked'; }
      console.log(JSON.stringify(Array.from(out.x.data)), prom, host.stats('e').versions[1].windows['1m'].requests);
      await host.close();`;
    expect(run('node', ['--import', './register.mjs', '--input-type=module', '-e', script], consumer).trim()).toBe('[3,4] blocked 1');
  });

  it('exposes every subpath entry, sharing the one ModelHost of the main entry', () => {
    const esm = `const [p, o, h, e, n, g] = await Promise.all(['prometheus', 'otel', 'http', 'express', 'nest', 'grpc'].map((x) => import('modelhost/' + x)));
      console.log(typeof p.collectMetrics, typeof o.instrument, typeof h.createNodeListener, typeof e.createExpressRouter, typeof n.ModelHostModule, typeof g.createGrpcServer);`;
    expect(run('node', ['--input-type=module', '-e', esm], consumer).trim()).toBe('function function function function function function');
    const cjs = "const r = (x) => require('modelhost/' + x); console.log(typeof r('prometheus').collectMetrics, typeof r('otel').instrument, typeof r('http').createHttpHandler, typeof r('express').createExpressRouter, typeof r('nest').ModelHostModule, typeof r('grpc').createGrpcServer)";
    expect(run('node', ['-e', cjs], consumer).trim()).toBe('function function function function function function');
    // The adapters import 'modelhost' itself instead of bundling a second copy of the host.
    const listing = run('tar', ['-xOzf', run('ls', [], consumer).split('\n').find((f) => f.endsWith('.tgz'))!, 'package/dist/nest.js'], consumer);
    expect(listing).toMatch(/from 'modelhost'/);
    expect(listing).not.toMatch(/class ModelHost extends/);
  });

  it('ships the gRPC service\'s .proto where the built modelhost/grpc finds it, and serves it from ESM and CJS', () => {
    const script = (kind: 'esm' | 'cjs') => `
      ${kind === 'esm' ? "import { ModelHost } from 'modelhost'; import { createGrpcServer, PROTO_PATH } from 'modelhost/grpc';" : "const { ModelHost } = require('modelhost'); const { createGrpcServer, PROTO_PATH } = require('modelhost/grpc');"}
      const grpc = require('@grpc/grpc-js'); const loader = require('@grpc/proto-loader');
      (async () => {
        const host = new ModelHost();
        const server = await createGrpcServer(host, 0);
        const pkg = grpc.loadPackageDefinition(loader.loadSync(PROTO_PATH, { keepCase: true }));
        const client = new pkg.inference.GRPCInferenceService('127.0.0.1:' + server.port, grpc.credentials.createInsecure());
        client.ServerLive({}, async (error, response) => {
          console.log(PROTO_PATH.replace(/\\\\/g, '/').split('/').slice(-2).join('/'), require('node:fs').existsSync(PROTO_PATH), JSON.stringify(error ?? response));
          client.close(); await server.close(); await host.close();
        });
      })();`;
    const esm = `import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);${script('esm')}`;
    expect(run('node', ['--input-type=module', '-e', esm], consumer).trim()).toBe('proto/grpc_predict_v2.proto true {"live":true}');
    expect(run('node', ['-e', script('cjs')], consumer).trim()).toBe('proto/grpc_predict_v2.proto true {"live":true}');
    const listing = run('tar', ['-tzf', run('ls', [], consumer).split('\n').find((f) => f.endsWith('.tgz'))!], consumer);
    expect(listing).toMatch(/^package\/proto\/grpc_predict_v2\.proto$/m);
  });

  it('without @grpc/grpc-js, modelhost/grpc still imports and createGrpcServer names what to install', async () => {
    await writeFile(
      path.join(consumer, 'block-grpc.mjs'),
      `export async function resolve(specifier, context, next) {
        if (specifier.startsWith('@grpc/')) throw Object.assign(new Error("Cannot find package '" + specifier + "'"), { code: 'ERR_MODULE_NOT_FOUND' });
        return next(specifier, context);
      }`,
    );
    await writeFile(path.join(consumer, 'register-grpc.mjs'), "import { register } from 'node:module'; register('./block-grpc.mjs', import.meta.url);");
    const script = `
      import { ModelHost } from 'modelhost';
      import { createGrpcServer } from 'modelhost/grpc';
      const host = new ModelHost();
      try { await createGrpcServer(host, 0); console.log('started'); } catch (error) { console.log(error.code, error.message); }
      await host.close();`;
    expect(run('node', ['--import', './register-grpc.mjs', '--input-type=module', '-e', script], consumer).trim()).toBe(
      "INVALID_CONFIG modelhost/grpc needs the package '@grpc/grpc-js', which is not installed. Install it: npm install @grpc/grpc-js @grpc/proto-loader",
    );
  });

  it('has a modelhost bin that prints its help', () => {
    const out = run('node', [path.join(consumer, 'node_modules', 'modelhost', 'dist', 'cli.js'), '--help'], consumer);
    expect(out).toMatch(/Usage: modelhost serve <repository>/);
  });

  it('has types for both import and require consumers', async () => {
    await writeFile(path.join(consumer, 'esm.mts'), "import { ModelHost, type Outputs } from 'modelhost';\nconst h: ModelHost = new ModelHost();\nexport const p: Promise<Outputs> = h.predict('m', [1]);\n");
    await writeFile(path.join(consumer, 'cjs.cts'), "import mh = require('modelhost');\nexport const h: mh.ModelHost = new mh.ModelHost();\n");
    const tsc = path.join(root, 'node_modules', '.bin', 'tsc');
    run(tsc, ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--skipLibCheck', '--types', 'node', '--typeRoots', path.join(root, 'node_modules', '@types'), 'esm.mts', 'cjs.cts'], consumer);
  });
});

/**
 * The packed CLI as a user runs it: `npm install modelhost onnxruntime-node` in an empty
 * project outside this repository (no prom-client, no tfjs, no framework), then
 * `npx modelhost`. Each optional peer must be imported only when used.
 */
describe('the packed CLI in a project with only modelhost and onnxruntime-node', () => {
  let project: string;
  let bin: string;

  beforeAll(async () => {
    buildIfStale();
    project = await mkdtemp(path.join(tmpdir(), 'modelhost-consumer-'));
    const tarball = run('npm', ['pack', '--silent', '--pack-destination', project], root).trim().split('\n').pop()!;
    const ort = (JSON.parse(readFileSync(path.join(root, 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8')) as { version: string }).version;
    await writeFile(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
    // As the README says for an offline machine: skip onnxruntime-node's GPU download (the CPU build ships in the package).
    run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', `./${tarball}`, `onnxruntime-node@${ort}`], project, { ONNXRUNTIME_NODE_INSTALL: 'skip' });
    bin = path.join(project, 'node_modules', '.bin', 'modelhost');
  }, 300_000);

  afterAll(async () => {
    if (project) await rm(project, { recursive: true, force: true });
  });

  it('has nothing but modelhost, its dependencies and onnxruntime-node', () => {
    const installed = readdirSync(path.join(project, 'node_modules'));
    for (const peer of ['prom-client', '@opentelemetry', '@tensorflow', 'express', '@nestjs']) expect(installed).not.toContain(peer);
    expect(installed).toEqual(expect.arrayContaining(['modelhost', 'onnxruntime-node']));
  });

  it('prints its help and version', () => {
    expect(run(bin, ['--help'], project)).toMatch(/^Usage: modelhost serve <repository> \[options\]/);
    const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
    expect(run(bin, ['--version'], project).trim()).toBe(version);
  });

  it('serves a repository: one inference over HTTP, /metrics off, a clean stop', async () => {
    const repository = path.join(project, 'models');
    await writeVersion(repository, 'affine', 1, { 'model.onnx': onnxAffine({ size: 4, scale: 2, bias: 1 }) });
    const child = spawn(bin, ['serve', repository, '--port', '0', '--log-format', 'json'], { cwd: project, env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = once(child, 'exit');
    let stdout = '';
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
          stdout += chunk;
          const listening = /"msg":"listening","url":"([^"]+)"/.exec(stdout);
          if (listening) resolve(listening[1]!);
        });
        void exited.then(([code]) => reject(new Error(`modelhost exited (${code}) before listening:\n${stdout}\n${stderr}`)));
      });
      const response = await fetch(`${url}/v2/models/affine/infer`, { method: 'POST', body: JSON.stringify({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] }) });
      // KServe answers carry the request id (generated when the client sends none), echoed in x-request-id.
      const answer = (await response.json()) as { id: string };
      expect(answer).toEqual({ id: expect.any(String), model_name: 'affine', model_version: '1', outputs: [{ name: 'y', datatype: 'FP32', shape: [1, 4], data: [3, 5, 7, 9] }] });
      expect(response.headers.get('x-request-id')).toBe(answer.id);
      expect((await fetch(`${url}/metrics`)).status).toBe(404);
      expect(stdout).toContain('prom-client is not installed: /metrics is off');
      child.kill('SIGTERM');
      expect(await exited).toEqual([0, null]);
      expect(stderr.replace(/^npm warn .*\n/gm, '')).toBe('');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});
