import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { ModelHost } from '../../src/index.js';
import { createNodeListener } from '../../src/adapters/http/index.js';
import { onnxMlp } from '../fixtures/onnx-models.js';
import { writeVersion } from '../helpers/repository.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tempDir = useTempDirs('all');

/** `npx tsx examples/load-test/run.ts …`, minus npx. Resolves with the output whatever the exit code. */
async function run(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'examples/load-test/run.ts', ...args], { cwd: root, encoding: 'utf8', timeout: 90_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const { code, stdout, stderr } = error as { code: number; stdout: string; stderr: string };
    return { code, stdout, stderr };
  }
}

/** The printed table's row for `model`, as numbers (thousands separators removed). */
function row(stdout: string, model: string): Record<string, number> {
  const lines = stdout.split('\n').filter((l) => l.startsWith('|'));
  const headers = lines[0]!.split('|').slice(1, -1).map((h) => h.trim());
  const cells = lines.find((l) => l.startsWith(`| ${model} `))?.split('|').slice(1, -1).map((c) => c.trim());
  if (cells === undefined) throw new Error(`no row for ${model} in:\n${stdout}`);
  return Object.fromEntries(headers.slice(1, -1).map((h, i) => [h, Number(cells[i + 1]!.replaceAll(',', ''))]));
}

describe('examples/load-test', () => {
  let repository: string;

  beforeAll(async () => {
    // The demo repository's mlp-onnx (the same MLP and weights), alone in a repository of
    // its own: fast to write, and no race with tests that write examples/quickstart/models.
    repository = await tempDir();
    await writeVersion(repository, 'mlp-onnx', 1, { 'model.onnx': onnxMlp({ inputs: 64, hidden: [256, 256], outputs: 10, seed: 1 }) });
  });

  it('starts modelhost serve, loads it with autocannon, prints req/s, p50, p99, errors and non-2xx, then stops the server', async () => {
    const { code, stdout, stderr } = await run(['--repository', repository, '--duration', '2', '--connections', '16', '--warmup', '0.5']);
    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
    const result = row(stdout, 'mlp-onnx');
    expect(Object.keys(result)).toEqual(['req/s', 'p50 ms', 'p99 ms', 'errors', 'non-2xx', 'requests']);
    for (const [name, value] of Object.entries(result)) expect(Number.isFinite(value), `${name} = ${value}`).toBe(true);
    expect(result['errors']).toBe(0);
    expect(result['non-2xx']).toBe(0);
    expect(result['req/s']).toBeGreaterThan(0);
    expect(result['requests']).toBeGreaterThan(0);
    expect(result['p50 ms']).toBeGreaterThan(0);
    expect(result['p99 ms']).toBeGreaterThanOrEqual(result['p50 ms']!);
    expect(stdout).toContain('16 connections, 2 s per model');
    // progress and the server's lifecycle go to stderr
    expect(stderr).toMatch(/server listening on http:\/\/127\.0\.0\.1:\d+/);
    expect(stderr).toMatch(/server stopped \(exit code 0\)/);
  });

  it('load-tests a server it did not start (--url) and prints JSON with --json', async () => {
    const host = new ModelHost({ repository });
    await host.load('mlp-onnx');
    const server = createServer(createNodeListener(host));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const { code, stdout, stderr } = await run(['--url', url, '--duration', '1', '--connections', '4', '--warmup', '0', '--json']);
      expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
      expect(stderr).not.toMatch(/starting|server stopped/);
      const report = JSON.parse(stdout) as { url: string; connections: number; results: { model: string; requests: number }[] };
      expect(report).toMatchObject({ url, connections: 4 });
      expect(report.results).toEqual([
        expect.objectContaining({ model: 'mlp-onnx', errors: 0, non2xx: 0, requestsPerSec: expect.any(Number), p50Ms: expect.any(Number), p99Ms: expect.any(Number) }),
      ]);
      // every request it counted reached this host (plus its one probe request)
      expect(host.stats()['mlp-onnx']!.versions[1]!.windows['1m'].requests).toBeGreaterThanOrEqual(report.results[0]!.requests);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await host.close();
    }
  });

  it('fails with the server\'s refusal for a model the repository lacks, which it names', async () => {
    const { code, stderr } = await run(['--repository', repository, '--models', 'nope', '--duration', '1']);
    expect(code).toBe(1);
    expect(stderr).toMatch(/modelhost serve exited with code 2 before listening/);
    expect(stderr).toMatch(/--models names 'nope', not in the repository; models found: mlp-onnx/);
  });

  it('explains its options with --help and refuses bad ones', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--url <url>[\s\S]*--connections <n>[\s\S]*--duration <s>/);
    const bad = await run(['--connections', 'many']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--connections must be a number ≥ 1, got many');
  });
});
