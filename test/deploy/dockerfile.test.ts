/**
 * The Dockerfile, which no machine of this project can build (no container engine): linted
 * with dockerfile-utils (the Docker language server's validator), parsed with dockerfile-ast,
 * and checked for what docs/deployment.md promises: multi-stage, production dependencies and
 * the runtimes only, a non-root user, the repository as a volume, a HEALTHCHECK on the v2
 * live path, SIGTERM as the stop signal, node as PID 1, and a .dockerignore that keeps the
 * build context to what the build copies.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ignoreModule from '@balena/dockerignore';
import { DockerfileParser, type Copy, type Env, type Healthcheck, type Instruction } from 'dockerfile-ast';
import { validate, ValidationSeverity } from 'dockerfile-utils';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = fileURLToPath(new URL('../..', import.meta.url));
const read = (file: string) => readFileSync(`${root}${file}`, 'utf8');
const dockerfileText = read('Dockerfile');
const dockerfile = DockerfileParser.parse(dockerfileText);
// CommonJS with a default export: under NodeNext the function may arrive as the module's .default.
const ignore = ((ignoreModule as unknown as { default?: unknown }).default ?? ignoreModule) as unknown as typeof ignoreModule.default;

/** Every lint rule dockerfile-utils has, as an error. */
const STRICT = Object.fromEntries(
  ['deprecatedMaintainer', 'directiveCasing', 'emptyContinuationLine', 'instructionCasing', 'instructionCmdMultiple', 'instructionEntrypointMultiple', 'instructionHealthcheckMultiple', 'instructionJSONInSingleQuotes', 'instructionWorkdirRelative'].map((rule) => [rule, ValidationSeverity.ERROR]),
);
const lint = (text: string) => validate(text, STRICT).map((d) => `line ${d.range.start.line + 1}: ${d.message}`);

const stages = dockerfile.getFROMs().map((from) => ({ name: from.getBuildStage(), image: from.getImage() }));
/** The instructions of the final stage (what the image is), in order. */
const finalStage: Instruction[] = (() => {
  const lastFrom = dockerfile.getFROMs().at(-1)!.getRange().start.line;
  return dockerfile.getInstructions().filter((i) => i.getRange().start.line >= lastFrom);
})();
const all = (keyword: string) => finalStage.filter((i) => i.getKeyword() === keyword);
const only = (keyword: string) => {
  const found = all(keyword);
  expect(found, keyword).toHaveLength(1);
  return found[0]!;
};
/** The JSON (exec form) arguments of an instruction; exec form is required where it matters. */
const jsonArgs = (instruction: Instruction) => {
  const raw = instruction.getArgumentsContent()!;
  const start = raw.indexOf('[');
  return JSON.parse(raw.slice(start)) as string[];
};

describe('Dockerfile', () => {
  it('lints clean with every rule of dockerfile-utils as an error', () => {
    expect(lint(dockerfileText)).toEqual([]);
  });

  it('the linter does catch a broken Dockerfile (so the check above can fail)', () => {
    expect(lint('FROM node:20-slim\nworkdir app\nSTOPSIGNAL\nHEALTHCHECK CMD\n').length).toBeGreaterThanOrEqual(3);
  });

  it('is multi-stage: dist/ is built in one stage and copied into a slim Node 20 runtime stage', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(stages.map((s) => s.name)).toEqual(expect.arrayContaining(['build', 'runtime']));
    expect(stages.at(-1)!.name).toBe('runtime');
    for (const stage of stages) expect(stage.image).toMatch(/^node:\$\{NODE_VERSION\}-bookworm-slim$/);
    expect(dockerfile.getInitialARGs().map((a) => a.getProperty()?.getValue())).toEqual([expect.stringMatching(/^20(\.\d+)*$/)]);
    const fromBuild = (all('COPY') as Copy[]).filter((c) => c.getFromFlag()?.getValue() === 'build');
    expect(fromBuild.map((c) => c.getArgumentsContent())).toEqual(['/src/dist ./dist']);
  });

  it('installs only production dependencies and the runtimes, pinned to the versions the tests run', () => {
    const runs = all('RUN').map((r) => r.getArgumentsContent()!);
    expect(runs.filter((r) => r.includes('npm ci --omit=dev'))).toHaveLength(2);
    expect(runs.join('\n')).not.toMatch(/npm (install|i) /);
    const runtimes = JSON.parse(read('deploy/container/runtimes/package.json')) as { dependencies: Record<string, string> };
    const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, { version: string }> };
    const peers = JSON.parse(read('package.json')) as { peerDependencies: Record<string, string> };
    expect(Object.keys(runtimes.dependencies).sort()).toEqual(['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', 'onnxruntime-node', 'prom-client']);
    for (const [name, version] of Object.entries(runtimes.dependencies)) {
      expect(Object.keys(peers.peerDependencies)).toContain(name);
      expect({ name, version }).toEqual({ name, version: lock.packages[`node_modules/${name}`]!.version });
    }
    // its lock is in step with it (npm ci refuses otherwise)
    const runtimesLock = JSON.parse(read('deploy/container/runtimes/package-lock.json')) as { packages: Record<string, { dependencies?: Record<string, string> }> };
    expect(runtimesLock.packages['']!.dependencies).toEqual(runtimes.dependencies);
  });

  it('runs as the unprivileged node user, with node itself as PID 1', () => {
    const user = only('USER').getArgumentsContent();
    expect(user).toBe('node');
    const entrypoint = only('ENTRYPOINT');
    expect(jsonArgs(entrypoint)).toEqual(['node', '/opt/modelhost/app/dist/cli.js']);
    expect(finalStage.indexOf(only('USER'))).toBeLessThan(finalStage.indexOf(entrypoint));
    // tsup builds the CLI to dist/cli.js
    expect(read('tsup.config.ts')).toMatch(/entry: \{ cli: 'src\/cli\/modelhost\.ts' \}/);
  });

  it('serves the repository volume on every interface at the exposed port, as the Kubernetes Deployment does', () => {
    const cmd = jsonArgs(only('CMD'));
    const volumes = JSON.parse(only('VOLUME').getArgumentsContent()!) as string[];
    expect(cmd.slice(0, 2)).toEqual(['serve', volumes[0]]);
    expect(cmd[cmd.indexOf('--host') + 1]).toBe('0.0.0.0');
    // Log shippers parse the log: JSON lines, not serve's default text.
    expect(cmd[cmd.indexOf('--log-format') + 1]).toBe('json');
    const port = cmd[cmd.indexOf('--port') + 1];
    expect(only('EXPOSE').getArgumentsContent()).toBe(port);
    const deployment = parse(read('deploy/kubernetes/deployment.yaml')) as { spec: { template: { spec: { containers: { args: string[]; volumeMounts: { mountPath: string }[] }[] } } } };
    const container = deployment.spec.template.spec.containers[0]!;
    expect(container.args).toEqual(cmd);
    expect(container.volumeMounts.map((m) => m.mountPath)).toContain(volumes[0]);
  });

  it('checks health on the v2 live path at the served port, and stops on SIGTERM', () => {
    const healthcheck = only('HEALTHCHECK');
    const flags = (healthcheck as Healthcheck).getFlags().map((f) => f.getName());
    expect(flags.sort()).toEqual(['interval', 'retries', 'start-period', 'timeout']);
    expect(jsonArgs(healthcheck).join(' ')).toContain(`http://127.0.0.1:${only('EXPOSE').getArgumentsContent()}/v2/health/live`);
    expect(only('STOPSIGNAL').getArgumentsContent()).toBe('SIGTERM');
  });
});

describe('Dockerfile: the environment the server starts with', () => {
  it("sets docs/configuration.md's glibc mmap threshold in the runtime stage, and no manifest that runs the image overrides it", () => {
    const documented = /\*\*`MALLOC_MMAP_THRESHOLD_=(\d+)`\*\*/.exec(read('docs/configuration.md'))?.[1];
    expect(documented).toBe('131072');
    const env = Object.fromEntries((all('ENV') as Env[]).flatMap((e) => e.getProperties().map((p) => [p.getName(), p.getValue()])));
    expect(env).toMatchObject({ MALLOC_MMAP_THRESHOLD_: documented, NODE_ENV: 'production' });
    // glibc reads it; the base image must stay a glibc one (Debian), not Alpine's musl.
    expect(stages.at(-1)!.image).toMatch(/-bookworm-slim$/);
    const containers = [
      ...(parse(read('deploy/kubernetes/deployment.yaml')) as { spec: { template: { spec: { containers: { env?: { name: string }[] }[] } } } }).spec.template.spec.containers,
      ...(parse(read('deploy/kserve/cluster-serving-runtime.yaml')) as { spec: { containers: { env?: { name: string }[] }[] } }).spec.containers,
    ];
    for (const container of containers) expect((container.env ?? []).map((e) => e.name)).not.toContain('MALLOC_MMAP_THRESHOLD_');
  });
});

describe('.dockerignore', () => {
  const rules = ignore().add(read('.dockerignore').split('\n'));
  const tracked = execFileSync('git', ['ls-files'], { cwd: root, encoding: 'utf8' }).split('\n').filter(Boolean);

  it('lets in every file the Dockerfile copies from the context', () => {
    const sources = dockerfile
      .getInstructions()
      .filter((i): i is Copy => i.getKeyword() === 'COPY')
      .filter((copy) => copy.getFromFlag() === null)
      .flatMap((i) => i.getArguments().slice(0, -1).map((a) => a.getValue().replace(/^\.\//, '')));
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) {
      const files = tracked.filter((f) => f === source || f.startsWith(`${source}/`));
      expect(files, source).not.toEqual([]);
      expect(files.filter((f) => rules.ignores(f)), source).toEqual([]);
    }
  });

  it('keeps out dependencies, git history, tests, docs and model files', () => {
    for (const file of ['node_modules/p-queue/package.json', 'src/node_modules/x.js', '.git/HEAD', 'dist/cli.js', 'test/deploy/dockerfile.test.ts', 'docs/guide.md', 'bench/load.ts', 'examples/quickstart/models/mlp-onnx/1/model.onnx', 'models/m/1/model.onnx', '.env']) {
      expect({ file, ignored: rules.ignores(file) }).toEqual({ file, ignored: true });
    }
  });
});
