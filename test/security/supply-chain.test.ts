/**
 * The runtime dependency tree stays as small as it is, and the audit this machine cannot
 * run (the registry answers its advisory endpoint with 405) runs in CI.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

interface LockPackage {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  dev?: boolean;
}

/** Every package `npm install modelhost` brings in, from package-lock.json (peers excluded: the user chooses them). */
async function runtimeTree(): Promise<string[]> {
  const lock = JSON.parse(await readFile(`${root}/package-lock.json`, 'utf8')) as { packages: Record<string, LockPackage> };
  const found = new Set<string>();
  const visit = (from: string, name: string) => {
    // Node's resolution: the nearest node_modules up from the dependent package.
    let base = from;
    for (;;) {
      const at = `${base === '' ? '' : `${base}/`}node_modules/${name}`;
      if (lock.packages[at] !== undefined) {
        if (found.has(at)) return;
        found.add(at);
        const pkg = lock.packages[at]!;
        for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) visit(at, dep);
        return;
      }
      if (base === '') throw new Error(`${name} (needed by ${from || 'modelhost'}) is not in package-lock.json`);
      base = base.includes('/node_modules/') ? base.slice(0, base.lastIndexOf('/node_modules/')) : '';
    }
  };
  for (const name of Object.keys(lock.packages['']!.dependencies ?? {})) visit('', name);
  return [...found].map((p) => p.slice(p.lastIndexOf('node_modules/') + 'node_modules/'.length)).sort();
}

describe('supply chain', () => {
  // Five for serving, and two zero-dependency libraries that keep tensors exact at the
  // boundary (float16 rounding, 64-bit integers in JSON): a well-kept library over our own.
  it('installs seven runtime packages, no more', async () => {
    expect(await runtimeTree()).toEqual(['@petamoriken/float16', 'eventemitter3', 'lossless-json', 'lru-cache', 'opossum', 'p-queue', 'p-timeout']);
  });

  it('audits the runtime dependencies in CI', async () => {
    const workflow = await readFile(`${root}/.github/workflows/security.yml`, 'utf8');
    expect(workflow).toMatch(/^\s+- run: npm ci --ignore-scripts/m);
    expect(workflow).toMatch(/^\s+- run: npm audit --omit=dev --audit-level=moderate$/m);
  });
});
