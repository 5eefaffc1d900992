/**
 * examples/nest-app as its README runs it (tsx, 'modelhost' and 'modelhost/nest' resolved
 * by the tsconfig paths): start it on a free port with a fresh demo repository, call the
 * app's route and the protocol controller, stop it with SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { useTempDirs } from '../../helpers/temp-dir.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const tempDir = useTempDirs('all');
let child: ChildProcess | undefined;

afterAll(() => {
  if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

/** Starts the example and resolves with its URL once it listens. */
async function startExample(modelRepository: string): Promise<{ url: string; output: () => string }> {
  child = spawn(process.execPath, ['--import', 'tsx', 'examples/nest-app/main.ts'], {
    cwd: root,
    env: { ...process.env, PORT: '0', MODEL_REPOSITORY: modelRepository, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const started = child;
  const url = await new Promise<string>((resolve, reject) => {
    const onData = () => {
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match !== null) resolve(match[1]!);
    };
    started.stdout!.on('data', onData);
    started.once('exit', (code, signal) => reject(new Error(`the example exited (${code ?? signal}) before listening:\n${output}`)));
  });
  return { url, output: () => output };
}

const features = Array.from({ length: 64 }, (_, i) => Math.sin(i));

describe('examples/nest-app', () => {
  it('serves POST /classify and KServe v2 under /ml, and closes the host on SIGTERM', async () => {
    const { url, output } = await startExample(await tempDir());

    const classify = await fetch(`${url}/classify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ features }) });
    expect(classify.status).toBe(201);
    const result = (await classify.json()) as { model: string; version: number; label: number; probabilities: number[] };
    expect(result).toMatchObject({ model: 'mlp-onnx', version: 1 });
    expect(result.probabilities).toHaveLength(10);
    expect(result.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    expect(result.label).toBe(result.probabilities.indexOf(Math.max(...result.probabilities)));

    // The same model through the protocol controller: its logits give the same probabilities.
    const infer = await fetch(`${url}/ml/v2/models/mlp-onnx/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [{ name: 'x', shape: [1, 64], datatype: 'FP32', data: features }] }),
    });
    expect(infer.status).toBe(200);
    const { outputs } = (await infer.json()) as { outputs: { name: string; shape: number[]; data: number[] }[] };
    expect(outputs[0]).toMatchObject({ name: 'logits', shape: [1, 10] });
    const exp = outputs[0]!.data.map((v) => Math.exp(v - Math.max(...outputs[0]!.data)));
    const sum = exp.reduce((a, b) => a + b, 0);
    exp.forEach((e, i) => expect(result.probabilities[i]).toBeCloseTo(e / sum, 5));

    // Bad input is a 400 with the host's message; other paths are Nest's 404.
    const bad = await fetch(`${url}/classify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ features: [1, 2, 3] }) });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('expected 64 elements') });
    expect((await fetch(`${url}/nothing`)).status).toBe(404);

    const exited = once(child!, 'exit');
    child!.kill('SIGTERM');
    const [code, signal] = (await exited) as [number | null, NodeJS.Signals | null];
    expect(code === 0 || signal === 'SIGTERM').toBe(true);
    expect(output()).toContain('mlp-onnx v1 loaded and warmed up');
    expect(output()).toContain('mlp-onnx v1 unloaded'); // the module closed the host on shutdown
  });
});
