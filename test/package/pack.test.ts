import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
let consumer: string;

function run(file: string, args: string[], cwd: string): string {
  return execFileSync(file, args, { cwd, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Packs the package as npm would publish it and uses it from a consumer folder, as a user would:
 * `import` and `require` must both work, with types.
 */
describe('the packed package', () => {
  beforeAll(async () => {
    if (!existsSync(path.join(root, 'dist', 'index.js')) || !existsSync(path.join(root, 'dist', 'vendor', 'uPlot.iife.min.js'))) run('npm', ['run', 'build'], root);
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
    const esm = `const [p, o, h, e, n] = await Promise.all(['prometheus', 'otel', 'http', 'express', 'nest'].map((x) => import('modelhost/' + x)));
      console.log(typeof p.collectMetrics, typeof o.instrument, typeof h.createNodeListener, typeof e.createExpressRouter, typeof n.ModelHostModule);`;
    expect(run('node', ['--input-type=module', '-e', esm], consumer).trim()).toBe('function function function function function');
    const cjs = "const r = (x) => require('modelhost/' + x); console.log(typeof r('prometheus').collectMetrics, typeof r('otel').instrument, typeof r('http').createHttpHandler, typeof r('express').createExpressRouter, typeof r('nest').ModelHostModule)";
    expect(run('node', ['-e', cjs], consumer).trim()).toBe('function function function function function');
    // The adapters import 'modelhost' itself instead of bundling a second copy of the host.
    const listing = run('tar', ['-xOzf', run('ls', [], consumer).split('\n').find((f) => f.endsWith('.tgz'))!, 'package/dist/nest.js'], consumer);
    expect(listing).toMatch(/from 'modelhost'/);
    expect(listing).not.toMatch(/class ModelHost extends/);
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
