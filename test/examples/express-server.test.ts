import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTempDirs } from '../helpers/temp-dir.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tempDir = useTempDirs('all');

/** The example as its README runs it (`npx tsx …`), minus npx: one process, so SIGTERM reaches it. */
function startExample(port: number, env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/express-server/server.ts', String(port)], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const url = new Promise<string>((resolve, reject) => {
    const onData = () => {
      const match = /listening on (http:\/\/\S+)/.exec(stdout);
      if (match) {
        child.stdout.off('data', onData);
        resolve(match[1]!);
      }
    };
    child.stdout.on('data', onData);
    void exited.then(([code, signal]) => reject(new Error(`the example exited (${code ?? signal}) before listening:\n${stdout}\n${stderr}`)));
  });
  return { child, url, exited, output: () => ({ stdout, stderr }) };
}

const FEATURES = Array.from({ length: 64 }, (_, i) => Math.sin(i) / 2);

describe('examples/express-server', () => {
  let app: ReturnType<typeof startExample>;
  let url: string;
  let child: ChildProcess;

  beforeAll(async () => {
    // A repository of its own: the demo repository written into a temporary folder, so this
    // test never races another one writing examples/quickstart/models.
    app = startExample(0, { MODEL_REPOSITORY: await tempDir() });
    child = app.child;
    url = await app.url;
  });

  afterAll(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  it('serves KServe v2 inference under /ml', async () => {
    const response = await fetch(`${url}/ml/v2/models/mlp-onnx/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'r1', inputs: [{ name: 'x', shape: [1, 64], datatype: 'FP32', data: FEATURES }] }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { model_name: string; model_version: string; id: string; outputs: { name: string; datatype: string; shape: number[]; data: number[] }[] };
    expect(body).toMatchObject({ model_name: 'mlp-onnx', model_version: '1', id: 'r1' });
    expect(body.outputs).toHaveLength(1);
    expect(body.outputs[0]).toMatchObject({ name: 'logits', datatype: 'FP32', shape: [1, 10] });
    expect(body.outputs[0]!.data).toHaveLength(10);

    // The app's own route runs the same model: its class is the arg-max of these logits.
    const logits = body.outputs[0]!.data;
    const classify = await fetch(`${url}/classify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ features: FEATURES }) });
    expect(classify.status).toBe(200);
    const result = (await classify.json()) as { class: number; confidence: number; scores: number[] };
    expect(result.class).toBe(logits.indexOf(Math.max(...logits)));
    expect(result.scores).toHaveLength(10);
    expect(result.scores.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    expect(result.confidence).toBe(Math.max(...result.scores));
  });

  it("answers 400 with the host's message on its own route when the input is wrong", async () => {
    const response = await fetch(`${url}/classify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ features: [1, 2, 3] }) });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toMatch(/expected 64 elements.*got 3/);
    const notJson = await fetch(`${url}/classify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pixels: [] }) });
    expect(notJson.status).toBe(400);
  });

  it('exports Prometheus metrics that count the requests it served', async () => {
    const response = await fetch(`${url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await response.text();
    // the infer and the /classify call of the first test
    const ok = /^modelhost_requests_total\{model="mlp-onnx",version="1",code="OK"\} (\d+)$/m.exec(text);
    expect(ok, text).not.toBeNull();
    expect(Number(ok![1])).toBeGreaterThanOrEqual(2);
    expect(text).toMatch(/^modelhost_request_duration_seconds_count\{model="mlp-onnx",version="1"\} \d+$/m);
  });

  it('serves the status page and TF Serving routes from the router too', async () => {
    const page = await fetch(`${url}/ml/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>modelhost status</title>');
    const status = await fetch(`${url}/ml/v1/models/mobilenet`);
    expect(await status.json()).toEqual({ model_version_status: [expect.objectContaining({ version: '1', state: 'AVAILABLE' })] });
  });

  it('shuts down on SIGTERM and exits with code 0', async () => {
    child.kill('SIGTERM');
    const [code, signal] = await app.exited;
    const { stdout, stderr } = app.output();
    expect({ code, signal, stderr: stderr.replace(/^npm warn.*\n/gm, '') }).toEqual({ code: 0, signal: null, stderr: '' });
    expect(stdout).toMatch(/SIGTERM: closing/);
    expect(stdout).toMatch(/stopped\n$/);
    // every request it served was logged
    expect(stdout).toMatch(/POST \/ml\/v2\/models\/mlp-onnx\/infer 200/);
    expect(stdout).toMatch(/POST \/classify 400/);
  });
});
