/**
 * The documentation's request examples, executed. Every ```sh block of README.md and docs/
 * that sends a request (`curl …`) runs in bash against a real server, command by command,
 * and each documented answer (the `# …` lines under a command) is compared with what came
 * back: as JSON when it is JSON, else as text. A command without a documented answer must
 * succeed (2xx). `curl` is test/docs/curl-shim.mjs, so no curl is needed; `localhost:8080`
 * is the test's server. JavaScript blocks that fetch from `localhost:8080` run too, their
 * `// → [...]` result comment checked. Documentation drifts when nothing runs it.
 *
 * One placeholder, for values no one can know in advance (a generated request id): in a
 * JSON answer the string `"…"` matches any string, and `"3f0c…"` any string starting with
 * `3f0c`; the key must be present and its value a string (test/docs/documented-answer.ts).
 * Admin routes take `Authorization: Bearer $MODELHOST_ADMIN_TOKEN`: the server checks the
 * token as `modelhost serve` does, and the examples' bash has the same variable.
 *
 * Every ```sh block runs unless its first command is one of NOT_RUN (each with why), and a
 * shell block must be tagged `sh`: a block cannot drop out of the test unnoticed.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelHost } from '../../src/index.js';
import { createNodeListener } from '../../src/adapters/http/index.js';
import { collectMetrics } from '../../src/metrics/prometheus.js';
import { materializeDemoRepository } from '../../scripts/demo-repository.js';
import { ADMIN_TOKEN_ENV, bearerTokenAuthorizer, readAdminToken } from '../../src/cli/admin-token.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { DOCS_MODELS, writeDocsRepository } from './docs-repository.js';
import { withPlaceholders } from './documented-answer.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const SHIM = fileURLToPath(new URL('./curl-shim.mjs', import.meta.url));
/** What the examples' bash and the server both get as MODELHOST_ADMIN_TOKEN. */
const ADMIN_ENV = { [ADMIN_TOKEN_ENV]: 'docs-example-admin-token' };

/** Shell blocks that do not run here, by their first command, and why. */
const NOT_RUN: readonly { readonly command: RegExp; readonly why: string; readonly anyLine?: boolean }[] = [
  { command: /^npm (install|ci)\b/, why: 'installs packages (the test runs offline, in an installed tree)' },
  // Benches run under the machine's shared lock (`flock <lock> npx tsx bench/…`), often after a build: any line of the block.
  // Also the plain-Node profiling scripts (`[VAR=… ]node bench/profile/…`), which the bench harness starts too.
  { command: /^(npm run build && )?([A-Z_]+=\S+ )?(flock \S+ )?([A-Z_]+=\S+ )?(npm run bench|npx tsx bench\/|node bench\/)/, why: 'a benchmark (the HTTP ones after building dist/): minutes of CPU, numbers not answers (docs/benchmarks.md)', anyLine: true },
  { command: /^npx modelhost serve /, why: 'starts the server; this test starts the same server in-process (test/helpers/serve-process.ts runs the CLI for the tests that need it)' },
  { command: /^docker /, why: 'no container engine here; test/deploy lints the Dockerfile' },
];
const tempDir = useTempDirs('all');

interface Command {
  readonly text: string;
  readonly line: number;
  /** The documented answer: the `# ` lines under the command, joined; undefined when none. */
  readonly expected: string | undefined;
}

interface Block {
  readonly lang: string;
  readonly line: number;
  readonly body: string;
}

function codeBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !lines[i]!.startsWith('```'); i++) body.push(lines[i]!);
    blocks.push({ lang: open[1]!, line: start + 1, body: body.join('\n') });
  }
  return blocks;
}

/** A shell block's commands (continued across `\` and open single quotes) with their documented answers. */
function commands(block: Block): Command[] {
  const out: { text: string; line: number; answer: string[] }[] = [];
  const lines = block.body.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      if (out.length === 0) continue; // a comment before any command
      out.at(-1)!.answer.push(line.replace(/^#\s?/, '').replace(/\s{2,}#\s.*$/, ''));
      continue;
    }
    let text = line;
    const start = block.line + 1 + i;
    while ((text.endsWith('\\') || (text.match(/'/g)?.length ?? 0) % 2 === 1) && i + 1 < lines.length) text += `\n${lines[++i]!}`;
    out.push({ text, line: start, answer: [] });
  }
  return out.map(({ text, line, answer }) => {
    if (answer.length === 0) return { text, line, expected: undefined };
    const json = /^[[{]/.test(answer[0]!.trim());
    return { text, line, expected: answer.join(json ? '' : '\n').trim() };
  });
}

const docs = ['README.md', ...readdirSync(path.join(root, 'docs')).map((f) => `docs/${f}`)].filter((f) => f.endsWith('.md'));

function run(file: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) =>
      resolve({ stdout, stderr, code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1 }),
    );
  });
}

function parseOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Models the examples of a file name in their URLs. */
function modelsNamed(markdown: string): string[] {
  return [...new Set([...markdown.matchAll(/localhost:8080\/(?:v[12]|v2\/repository|admin)\/models\/([A-Za-z0-9_.-]+?)(?=[/:'"\s]|$)/g)].map((m) => m[1]!))];
}

let docsRepository: string;

beforeAll(async () => {
  docsRepository = await tempDir();
  await writeDocsRepository(docsRepository);
}, 120_000);

for (const file of docs) {
  const markdown = readFileSync(path.join(root, file), 'utf8');
  const blocks = codeBlocks(markdown);
  const shell = blocks.filter((b) => b.lang === 'sh' && !notRun(b));
  const fetching = blocks.filter((b) => /^(ts|js)$/.test(b.lang) && b.body.includes("fetch('http://localhost:8080"));
  if (shell.length === 0 && fetching.length === 0) continue;

  describe(`${file}: request examples`, () => {
    let host: ModelHost;
    let server: Server;
    let url: string;
    let cwd: string;

    beforeAll(async () => {
      if (file === 'README.md') {
        // The README's examples are the demo repository's, as `npm start` serves it.
        const { root: demo } = await materializeDemoRepository();
        host = new ModelHost({ repository: demo });
        for (const name of modelsNamed(markdown)) await host.load(name);
      } else {
        // The models the file names (so its repository index shows them), from test/docs/docs-repository.ts.
        host = new ModelHost({ repository: docsRepository });
        for (const name of modelsNamed(markdown)) {
          expect(DOCS_MODELS, `${file} names model '${name}': build it in test/docs/docs-repository.ts`).toContain(name);
          await host.load(name, name === 'affine' ? { version: 1 } : {}); // affine: version 1 serves, 2 and 3 wait on disk
        }
      }
      // As `modelhost serve` guards its admin routes (and so the feedback route): the token from the environment.
      const authorize = bearerTokenAuthorizer(readAdminToken(undefined, ADMIN_ENV)!);
      server = createServer(createNodeListener(host, { metrics: collectMetrics(host).registry, authorize }));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      cwd = await mkdtemp(path.join(tmpdir(), 'modelhost-docs-'));
    }, 180_000);

    afterAll(async () => {
      server?.closeAllConnections();
      await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
      await host?.close();
      if (cwd) await rm(cwd, { recursive: true, force: true });
    });

    // Blocks run in document order against one server: later examples see what earlier ones did.
    for (const block of [...shell, ...fetching].sort((a, b) => a.line - b.line)) {
      if (!shell.includes(block)) {
        it(`runs the JavaScript example at ${file}:${block.line}`, () => runJavaScript(block));
        continue;
      }
      it(`runs the shell example at ${file}:${block.line}`, async () => {
        const list = commands(block);
        const log = path.join(cwd, `curl-${block.line}.log`);
        const script = ['set -eo pipefail', `curl() { node ${JSON.stringify(SHIM)} "$@"; }`];
        list.forEach((command, i) => script.push(`printf '\\n@@ %d\\n' ${i}`, `echo '@@ ${i}' >> "$CURL_LOG"`, command.text));
        script.push(`printf '\\n@@ end\\n'`);
        await writeFile(log, '');
        const result = await run('bash', ['-c', script.join('\n')], cwd, { DOCS_SERVER: url, CURL_LOG: log, ...ADMIN_ENV });
        const outputs = result.stdout.split(/\n@@ (?:\d+|end)\n/).slice(1);
        const statuses = (await readFile(log, 'utf8')).split(/@@ \d+\n/).slice(1);
        list.forEach((command, i) => {
          const where = `${file}:${command.line}: ${command.text.split('\n')[0]}`;
          expect(outputs[i], `${where}\n(the example stopped: ${result.stderr})`).toBeDefined();
          const actual = outputs[i]!.trim();
          if (command.expected === undefined) {
            for (const status of statuses[i]!.trim().split('\n').filter(Boolean)) expect.soft(Number(status), `${where} answered ${status}: ${actual}`).toBeLessThan(300);
            return;
          }
          let expected: unknown;
          try {
            expected = JSON.parse(command.expected);
          } catch {
            expect.soft(actual.replaceAll(/\s+/g, ' '), where).toBe(command.expected.replaceAll(/\s+/g, ' '));
            return;
          }
          expect.soft(parseOrText(actual), `${where} answered ${actual}`).toEqual(withPlaceholders(expected));
        });
        expect(result.stderr, file).toBe('');
        expect(result.code, `${file}:${block.line} exited ${result.code}`).toBe(0);
      });
    }

    async function runJavaScript(block: Block): Promise<void> {
      // The last `const name = …;   // → <json>` says what the example computes.
      const result = [...block.body.matchAll(/const (\w+) = .*;\s*\/\/ (?:→ )?(\[.*\])\s*$/gm)].at(-1);
      expect(result, `${file}:${block.line} documents no result`).toBeDefined();
      const source = `${block.body.replaceAll('http://localhost:8080', url)}\nconsole.log(JSON.stringify(Array.from(${result![1]})));`;
      const { stdout, stderr, code } = await run(process.execPath, ['--input-type=module', '-e', source], cwd, {});
      expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
      expect(JSON.parse(stdout) as unknown).toEqual(JSON.parse(result![2]!));
    }
  });
}

function notRun(block: Block): string | undefined {
  const commands = block.body.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('#')).map((line) => line.trim());
  const first = commands[0] ?? '';
  return NOT_RUN.find((rule) => rule.command.test(first) || (rule.anyLine === true && commands.some((command) => rule.command.test(command))))?.why;
}

describe('the shell blocks of the docs', () => {
  it.each(docs)('%s: each is tagged sh, and runs or says why not', (file) => {
    const blocks = codeBlocks(readFileSync(path.join(root, file), 'utf8'));
    expect(blocks.filter((b) => /^(bash|shell|console|zsh)$/.test(b.lang)).map((b) => `${file}:${b.line} is \`\`\`${b.lang}: tag it sh`)).toEqual([]);
    // A block that does not run must not hide a request among commands that cannot run.
    const hidden = blocks.filter((b) => b.lang === 'sh' && notRun(b) !== undefined && /(^|[\s$(|])curl /.test(b.body));
    expect(hidden.map((b) => `${file}:${b.line} sends a request but is not run (${notRun(b)})`)).toEqual([]);
  });
});

describe('the usage of modelhost serve in docs/http.md', () => {
  it('is what `modelhost --help` prints', async () => {
    const { stdout, code } = await run(process.execPath, ['--import', 'tsx', 'src/cli/modelhost.ts', '--help'], root, {});
    expect(code).toBe(0);
    const usage = codeBlocks(readFileSync(path.join(root, 'docs/http.md'), 'utf8')).find((b) => b.body.startsWith('Usage: modelhost serve'));
    expect(`${usage?.body}\n`).toBe(stdout);
  });
});

describe('the warmup example of the docs', () => {
  it.each(['docs/guide.md', 'docs/configuration.md'])('loads Silero VAD with the warmup of %s', async (file) => {
    const { materializeSileroVad } = await import('../fixtures/third-party.js');
    const block = codeBlocks(readFileSync(path.join(root, file), 'utf8')).find((b) => b.lang === 'json' && b.body.includes('"warmup"'));
    expect(block, `${file} has a warmup example`).toBeDefined();
    const { warmup } = JSON.parse(block!.body) as { warmup: object };
    const repository = await tempDir();
    await materializeSileroVad(path.join(repository, 'vad', '1'));
    await writeFile(path.join(repository, 'vad', 'config.json'), JSON.stringify({ runtime: 'onnx', warmup }));
    const host = new ModelHost({ repository });
    const warnings: string[] = [];
    host.on('warning', (w) => warnings.push(w.message));
    try {
      await host.load('vad');
      expect(host.ready('vad')).toBe(true);
      expect(warnings).toEqual([]); // warmup ran with the documented inputs, not skipped
    } finally {
      await host.close();
    }
  });
});
