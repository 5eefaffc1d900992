/**
 * The documentation's TypeScript examples, run. typescript-examples.test.ts checks that every
 * ```ts block of README.md and docs/*.md compiles against the public API; this test executes
 * them, each in its own process (test/docs/example-runner.ts, under tsx, `modelhost` mapped to
 * src/ by tsconfig.json `paths`), against a model repository of small, exact ONNX models named
 * as the docs name them (mobilenet, mlp, fraud, ranker, and docs-repository.ts's affine, …).
 *
 * A block passes when it settles without throwing, its process then exits by itself (what it
 * opened is closed: by its own SIGTERM handler when it documents one, else by the runner), and
 * each documented answer matches: a line ending `// → <value>` (a JavaScript value; in a string,
 * `"…"` stands for an unknowable one, test/docs/documented-answer.ts) is the value of that
 * line's `const`, of that line's expression, or of the first argument of that line's
 * console.log. A route the block adds that calls the host (`app.post('/score', …)`) is called
 * once with `{ features, user }` and must answer 200. Fragments use the names typescript-examples.test.ts's PRELUDE declares; the
 * runner gives them real values (`host` has the models the block names loaded). The docs' ports
 * (8080, 8081, 3000, 9090) become free ports, so runs never collide with anything listening.
 *
 * A block that cannot run here says why on its first line: `// not run: <reason>` (still
 * type-checked), or `// not checked: <reason>` (neither).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOnnxModel } from '../fixtures/onnx-writer.js';
import { onnxAffine } from '../fixtures/onnx-models.js';
import { writeVersion } from '../helpers/repository.js';
import * as tf from '@tensorflow/tfjs';
import { tfjsLayersFilesOf, writeModelFiles } from '../fixtures/tfjs-model-writer.js';
import { buildTfjsAffine } from '../fixtures/tfjs-models.js';
import { issueCert, makeCa } from '../helpers/tls-certs.js';
import { writeDocsRepository } from './docs-repository.js';
import { withPlaceholders } from './documented-answer.js';
import type { RunnerConfig } from './example-runner.js';
import { markdownFiles, root, tsBlocks, type TsBlock } from './typescript-blocks.js';

const RUNNER = fileURLToPath(new URL('./example-runner.ts', import.meta.url));
const TSX = path.join(root, 'node_modules', 'tsx', 'dist', 'loader.mjs');
/** A block's process is killed after this long: a documented example that hangs fails. */
const BLOCK_TIMEOUT_MS = 30_000;

const blocks = markdownFiles.flatMap(tsBlocks);
const runnable = blocks.filter((block) => block.notChecked === undefined && block.notRun === undefined);

/** What `host` loads for a block that names the model, in order (the last load of a name is its default). */
const LOADS: Record<string, readonly (readonly [string, number])[]> = {
  mobilenet: [['mobilenet', 1], ['mobilenet', 2]], // v2 serves; v3 is on disk for deploy
  mlp: [['mlp', 1], ['mlp', 3]], // v3 serves, v1 is pinnable; v4 is on disk for deploy
  ranker: [['ranker', 4], ['ranker', 5], ['ranker', 6]],
  affine: [['affine', 1]],
  fraud: [['fraud', 3]],
};
const PRELUDE_GLOBALS = [
  'host', 'ModelHost', 'JsonlSink', 'createNodeListener', 'collectMetrics', 'ModelHostModule', 'Module', 'createServer', 'express', 'trace',
  'metrics', 'app', 'yourRoutes', 'pixels', 'x', 'input', 'data', 'x1', 'x2', 'row', 'requestId', 'user', 'onnxBytes', 'json', 'bytes',
  'certFile', 'keyFile', 'caFile', 'token', 'myRuntime', 'myClock', 'retryLater', 'alert', 'verifyJwt',
];
const DOC_PORTS = ['8080', '8081', '3000', '9090'];

/**
 * A [64, 2] weight whose first two rows are the answers docs/versions.md's validation example
 * expects for one-hot inputs x1, x2 (the runner's values), scaled by `scale`; the rest small.
 */
function weights(scale: number): number[] {
  return Array.from({ length: 64 * 2 }, (_, i) => (i < 4 ? [0.12, 0.88, 0.95, 0.05][i]! : ((i % 5) - 2) / 100) * scale);
}

/** `output = input · W`: mobilenet's input is `input`, mlp's is `x` with output `logits` (as the docs name them). */
function onnxLinear(inputName: string, outputName: string, scale: number): Uint8Array {
  return buildOnnxModel({
    inputs: [{ name: inputName, dtype: 'float32', shape: ['N', 64] }],
    outputs: [{ name: outputName, dtype: 'float32', shape: ['N', 2] }],
    initializers: [{ name: 'w', dtype: 'float32', dims: [64, 2], data: weights(scale) }],
    nodes: [{ op: 'MatMul', inputs: [inputName, 'w'], outputs: [outputName] }],
  });
}

let dir: string;
const ports = new Map<string, number>();

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    }).on('error', reject);
  });
}

beforeAll(async () => {
  mkdirSync(path.join(root, '.scratch'), { recursive: true });
  dir = mkdtempSync(path.join(root, '.scratch', 'run-examples-'));
  const models = path.join(dir, 'models');
  await writeDocsRepository(models);
  for (const version of [1, 2, 3]) await writeVersion(models, 'mobilenet', version, { 'model.onnx': onnxLinear('input', 'output', version) });
  for (const version of [1, 2, 3]) await writeVersion(models, 'mlp', version, { 'model.onnx': onnxLinear('x', 'logits', 1 + version / 10) });
  await writeVersion(models, 'mlp', 4, { 'model.onnx': onnxLinear('x', 'logits', 1) });
  for (const version of [4, 5, 6]) await writeVersion(models, 'ranker', version, { 'model.onnx': onnxLinear('x', 'y', version) });
  // Files the guide loads from outside the repository: a folder, a tfjs model's bytes, and a
  // version folder "over https" (the runner answers https://models.example.com/ from here).
  mkdirSync(path.join(dir, 'exported', 'model'), { recursive: true });
  await writeModelFiles(await tfjsLayersFilesOf(() => buildTfjsAffine(tf)), path.join(dir, 'exported', 'tfjs'));
  await writeVersion(path.join(dir, 'models.example.com'), 'mlp', 3, { 'model.onnx': onnxLinear('x', 'logits', 1) }, { checksums: false });
  writeFileSync(path.join(dir, 'exported', 'model', 'model.onnx'), onnxAffine({ size: 4, scale: 2, bias: 1 }));
  const certs = path.join(dir, 'certs');
  mkdirSync(certs);
  const ca = await makeCa(certs, 'ca');
  const server = await issueCert(certs, ca, 'server', 'server');
  writeFileSync(path.join(dir, 'tls.json'), JSON.stringify({ certFile: server.cert, keyFile: server.key, caFile: ca.cert }));
  for (const port of DOC_PORTS) ports.set(port, await freePort());
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Prepared {
  readonly code: string;
  readonly documented: readonly { readonly line: string; readonly expected: string }[];
  readonly logs: readonly { readonly line: string; readonly expected: string }[];
}

/** The block with its ports replaced and a `__documented(i, value)` call for each `// → value` that is not a console.log's. */
function prepare(block: TsBlock): Prepared {
  const documented: { line: string; expected: string }[] = [];
  const logs: { line: string; expected: string }[] = [];
  const lines = block.code.split('\n').flatMap((text, index) => {
    const line = text.replace(new RegExp(`\\b(${DOC_PORTS.join('|')})\\b`, 'g'), (port) => String(ports.get(port)));
    const answer = /^(.*?);?\s*\/\/ → (.*)$/.exec(line);
    if (!answer) return [line];
    const where = `${block.where} (line ${index + 1} of the block)`;
    if (/console\.log\(/.test(line)) {
      logs.push({ line: where, expected: answer[2]! });
      return [line];
    }
    const constant = /^\s*(?:const|let)\s+(\w+)\s*=/.exec(line);
    documented.push({ line: where, expected: answer[2]! });
    const call = `__documented(${documented.length - 1}, ${constant ? constant[1] : `(${answer[1]!.trim()})`});`;
    return constant ? [line, call] : [`${/^\s*/.exec(line)![0]}${call}`];
  });
  return { code: `${lines.join('\n')}\nexport {};\n`, documented, logs };
}

function configFor(block: TsBlock, prepared: Prepared, index: number): RunnerConfig {
  const code = block.code;
  const declared = (name: string) =>
    new RegExp(`\\b(const|let|var|function|class)\\s+${name}\\b`).test(code) ||
    code.split('\n').some((line) => /^import\b/.test(line) && new RegExp(`\\b${name}\\b`).test(line.replace(/from\s+'[^']*'/, '')));
  const globals = PRELUDE_GLOBALS.filter((name) => new RegExp(`\\b${name}\\b`).test(code) && !declared(name));
  const load = Object.entries(LOADS).flatMap(([model, versions]) => (new RegExp(`'${model}'|/models/${model}/`).test(code) ? versions : []));
  const http = /http:\/\/localhost:8080\b/.test(code) ? { httpPort: ports.get('8080')! } : {};
  const grpc = /'localhost:8081'/.test(code) ? { grpcPort: ports.get('8081')! } : {};
  const name = `block-${String(index).padStart(2, '0')}`;
  return {
    blockFile: path.join(dir, `${name}.ts`),
    resultFile: path.join(dir, `${name}.result.json`),
    globals,
    load,
    ...http,
    ...grpc,
    documentedLogs: prepared.logs.length,
    routes: [...code.matchAll(/app\.post\('(\/[\w-]+)'.*\n(?:.*\n){0,2}?.*host\.predict\(/g)].map((route) => route[1]!),
    tls: JSON.parse(readFileSync(path.join(dir, 'tls.json'), 'utf8')),
  };
}

function run(configFile: string): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', TSX, RUNNER, configFile],
      { cwd: dir, timeout: BLOCK_TIMEOUT_MS, killSignal: 'SIGKILL', env: { ...process.env, TSX_TSCONFIG_PATH: path.join(root, 'tsconfig.json'), NODE_OPTIONS: '' } },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, signal: error?.signal ?? null, stdout, stderr }),
    );
  });
}

function evaluate(text: string): unknown {
  return new Function(`return (${text});`)();
}

describe('the TypeScript examples of README.md and docs/, run', () => {
  it('runs most blocks, and every block that does not run says why', () => {
    expect(runnable.length).toBeGreaterThan(15);
    const notRun = blocks.filter((block) => block.notRun !== undefined);
    for (const block of notRun) expect(block.notRun, block.where).toMatch(/\w/);
    const skipped = blocks.filter((block) => !runnable.includes(block));
    console.info(`not run:\n${skipped.map((block) => `  ${block.where}: ${block.notRun ?? `(not checked) ${block.notChecked}`}`).join('\n')}`);
  });

  runnable.forEach((block, index) => {
    it(block.where, async () => {
      const prepared = prepare(block);
      const config = configFor(block, prepared, index);
      writeFileSync(config.blockFile, prepared.code);
      const configFile = path.join(dir, `block-${index}.config.json`);
      writeFileSync(configFile, JSON.stringify(config));
      const result = await run(configFile);
      expect({ exit: result.code, signal: result.signal, stderr: result.stderr.trim() }, `${block.where} did not run cleanly`).toEqual({ exit: 0, signal: null, stderr: '' });
      const answers = JSON.parse(readFileSync(config.resultFile, 'utf8')) as { documented: unknown[]; logs: unknown[]; responses: { route: string; status: number; body: unknown }[] };
      prepared.documented.forEach(({ line, expected }, i) => expect(answers.documented[i], line).toEqual(withPlaceholders(evaluate(expected))));
      prepared.logs.forEach(({ line, expected }, i) => expect(answers.logs[i], line).toEqual(withPlaceholders(evaluate(expected))));
      // A route that calls the host answers a well-formed request.
      expect(answers.responses.map(({ route, status }) => ({ route, status })), JSON.stringify(answers.responses)).toEqual(config.routes.map((route) => ({ route, status: 200 })));
      // … with JSON a client can read: a typed array given to res.json() arrives as {"0": …, "1": …}.
      for (const { route, body } of answers.responses) expect(JSON.stringify(body), `${block.where}: ${route}`).not.toMatch(/\{"0":/);
    }, BLOCK_TIMEOUT_MS + 10_000);
  });
});
