/**
 * The documentation's TypeScript examples, type-checked. Every ```ts block of README.md and
 * docs/*.md is written to a temporary .ts file that imports `modelhost`, `modelhost/http`, …
 * as a user would (tsconfig.json `paths` map them to src/), and all blocks are checked in one
 * TypeScript program with the project's compiler options. A block whose code no longer
 * matches the public API fails here, naming the file and line of the block.
 *
 * Fragments may use names they do not declare (`host`, `app`, `pixels`, …): PRELUDE declares
 * them once, for every block, as globals; each block is compiled as a module, so a block that
 * declares or imports the same name shadows the prelude's. A block opts out only with an
 * explicit marker, `// not checked: <reason>`, as its first line (`// not run: <reason>` keeps it
 * checked but not executed by run-typescript-examples.test.ts) (not on the fence line: the
 * shell-examples test and many Markdown tools expect a bare language there); the test lists
 * the blocks that opted out and why, and fails on a marker without a reason.
 *
 * Two compiler options differ from tsconfig.json: `noUnusedLocals` and `noUnusedParameters`
 * are off, since an example may declare a value only to show it.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { markdownFiles, root, tsBlocks, type TsBlock } from './typescript-blocks.js';

/**
 * What the fragments assume exists, by name: one shared prelude for every block. Each entry
 * is what a reader would have at that point of the docs (a host they created, an Express app,
 * an input they read). Add a name here rather than a declaration in the docs' prose, and give
 * it a value in test/docs/example-runner.ts (which runs the blocks) and its name in
 * run-typescript-examples.test.ts's PRELUDE_GLOBALS.
 */
const PRELUDE = `
import type { Clock, ModelHost as Host, Runtime } from 'modelhost';
import type { HttpRequest as Request } from 'modelhost/http';
declare global {
  // Imports a fragment leaves out, as the page's earlier blocks import them.
  const ModelHost: typeof import('modelhost').ModelHost;
  type ModelHost = Host;
  const JsonlSink: typeof import('modelhost').JsonlSink;
  const createNodeListener: typeof import('modelhost/http').createNodeListener;
  type HttpRequest = Request;
  const collectMetrics: typeof import('modelhost/prometheus').collectMetrics;
  const ModelHostModule: typeof import('modelhost/nest').ModelHostModule;
  const Module: typeof import('@nestjs/common').Module;
  const createServer: typeof import('node:http').createServer;
  const express: typeof import('express');
  const trace: typeof import('@opentelemetry/api').trace;
  const metrics: typeof import('@opentelemetry/api').metrics;

  // Values the reader already has: a host, an app, inputs, files, the caller's own helpers.
  /** The host of the page: \`const host = new ModelHost({ … })\` (docs/guide.md). */
  const host: Host;
  /** An Express application. */
  const app: import('express').Express;
  /** The rest of the reader's Express routes. */
  const yourRoutes: import('express').Router;
  /** Model inputs: an image's pixels, one instance, a batch's data. */
  const pixels: Float32Array;
  const x: Float32Array;
  const x1: Float32Array;
  const x2: Float32Array;
  const input: Float32Array;
  const data: Float32Array;
  const row: Float32Array;
  /** The caller's id for a request, reused when its label arrives. */
  const requestId: string;
  const user: { readonly id: string };
  /** A model's files: model.onnx bytes, a tfjs model.json and its weights. */
  const onnxBytes: Uint8Array;
  const json: Uint8Array;
  const bytes: Uint8Array;
  /** PEM file paths and a bearer token. */
  const certFile: string;
  const keyFile: string;
  const caFile: string;
  const token: string;
  /** A runtime and a clock of the reader's own (docs/guide.md#custom-runtimes). */
  const myRuntime: Runtime;
  const myClock: Clock;
  /** The reader's own helpers. */
  function retryLater(afterMs: number | undefined): void;
  function alert(message: string): void;
  function verifyJwt(token: string): Promise<{ roles: string[] }>;
}
export {};
`;

const blocks = markdownFiles.flatMap(tsBlocks);
const checked = blocks.filter((block) => block.notChecked === undefined);
const optedOut = blocks.filter((block) => block.notChecked !== undefined);

/** Where the blocks are written: inside the repository (gitignored .scratch/), so `express`, `@nestjs/*`, … resolve from its node_modules. */
mkdirSync(path.join(root, '.scratch'), { recursive: true });
const dir = mkdtempSync(path.join(root, '.scratch', 'typescript-examples-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function compilerOptions(): ts.CompilerOptions {
  const configPath = path.join(root, 'tsconfig.json');
  const config = ts.readConfigFile(configPath, (file) => ts.sys.readFile(file));
  if (config.error) throw new Error(ts.flattenDiagnosticMessageText(config.error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, root, undefined, configPath);
  return { ...parsed.options, noEmit: true, noUnusedLocals: false, noUnusedParameters: false };
}

/** Every checked block's diagnostics, as `docs/guide.md:42 (line 3 of the block): message`. */
function typeCheck(): string[] {
  const preludeFile = path.join(dir, 'prelude.ts');
  writeFileSync(preludeFile, PRELUDE);
  const fileToBlock = new Map<string, TsBlock>();
  checked.forEach((block, index) => {
    const file = path.join(dir, `block-${String(index).padStart(2, '0')}.ts`);
    // `export {}` makes every block a module, so its own declarations shadow the prelude's.
    writeFileSync(file, `${block.code}\nexport {};\n`);
    fileToBlock.set(path.resolve(file), block);
  });
  const program = ts.createProgram([preludeFile, ...fileToBlock.keys()], compilerOptions());
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
    const file = diagnostic.file;
    if (!file) return message;
    const block = fileToBlock.get(path.resolve(file.fileName));
    const { line } = file.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
    if (!block) return `${path.relative(root, file.fileName)}:${line + 1}: ${message}`;
    return `${block.where} (line ${line + 1} of the block): ${message}`;
  });
}

describe('the TypeScript examples of README.md and docs/', () => {
  it('finds the blocks, and every opt-out says why', () => {
    expect(checked.length).toBeGreaterThan(20);
    // A TypeScript fence with more than its language would not be read above: refuse it, so no block drops out unnoticed.
    const oddFences = markdownFiles.flatMap((file) =>
      readFileSync(file, 'utf8').split('\n').flatMap((line, index) =>
        /^```(ts|typescript|tsx|js|javascript)\b/.test(line) && !/^```(ts|typescript)\s*$/.test(line) ? [`${path.relative(root, file)}:${index + 1}: ${line}`] : [],
      ),
    );
    expect(oddFences).toEqual([]);
    for (const block of optedOut) expect(block.notChecked, block.where).toMatch(/\w/);
    if (optedOut.length > 0) {
      console.info(`not type-checked:\n${optedOut.map((block) => `  ${block.where}: ${block.notChecked}`).join('\n')}`);
    }
  });

  it('type-check against the public API', () => {
    expect(typeCheck()).toEqual([]);
  }, 60_000);
});
