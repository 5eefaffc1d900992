/**
 * An Express app that serves the demo models in-process:
 *
 *   npx tsx examples/express-server/server.ts [port]      (default 3000; 0 picks a free port)
 *
 * It serves the quickstart's demo repository (examples/quickstart/models, written on first
 * run), or the one in $MODEL_REPOSITORY (written there too when missing).
 *
 * - `/ml/...`      KServe v2 and TF Serving REST, the status page (`/ml/`): createExpressRouter
 * - `/metrics`     Prometheus text (modelhost_* series) from collectMetrics(host).registry
 * - `POST /classify { "features": number[64] }`  the app's own route, calling host.predict
 *
 * SIGTERM or SIGINT: stop accepting connections, finish the requests in flight, close the
 * host (drains, then disposes every session), exit.
 */
import type { Server } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import { ErrorCode, isModelHostError, ModelHost } from 'modelhost';
import { createExpressRouter } from 'modelhost/express';
import { collectMetrics } from 'modelhost/prometheus';
import { materializeDemoRepository } from '../../scripts/demo-repository.js';

const port = Number(process.argv[2] ?? process.env['PORT'] ?? 3000);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`usage: server.ts [port] — the port must be 0–65535, got ${process.argv[2] ?? process.env['PORT']}`);
  process.exit(2);
}
const log = (message: string) => console.log(`${new Date().toISOString()} ${message}`);

// 1. The model repository: the quickstart's demo models, written on first run.
const { root } = await materializeDemoRepository(process.env['MODEL_REPOSITORY'] || undefined);

// 2. One host for the whole process: it loads, batches, and serves every model.
const host = new ModelHost({ repository: root });
host.on('modelLoaded', (e) => log(`loaded ${e.model} v${e.version} in ${Math.round(e.loadMs)} ms`));
host.on('warning', (w) => log(`warning: ${w.message}`));
for (const name of ['mlp-onnx', 'mlp', 'vad', 'mobilenet']) await host.load(name);
const metrics = collectMetrics(host);

// 3. The app.
const app = express();
app.disable('x-powered-by');

// A one-line access log.
app.use((req, res, next) => {
  const started = performance.now();
  res.on('finish', () => log(`${req.method} ${req.originalUrl} ${res.statusCode} ${(performance.now() - started).toFixed(1)} ms`));
  next();
});

// KServe v2 (/ml/v2/...), TF Serving (/ml/v1/...), the status page (/ml/). Every inference
// request gets a 1 s deadline; a client that disconnects cancels its queued request.
app.use('/ml', createExpressRouter(host, { timeoutMs: 1000 }));

app.get('/metrics', async (_req, res) => {
  res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
});

// The app's own route: 64 features in, the most likely of 10 classes out.
app.post('/classify', express.json({ limit: '64kb' }), async (req: Request, res: Response) => {
  const features = (req.body as { features?: unknown } | undefined)?.features;
  if (!Array.isArray(features) || !features.every((v) => typeof v === 'number')) {
    res.status(400).json({ error: 'expected a JSON body { "features": [64 numbers] }' });
    return;
  }
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  try {
    // One instance (no batch dimension): the host batches concurrent requests together.
    const { logits } = await host.predict('mlp-onnx', Float32Array.from(features), { timeoutMs: 1000, signal: controller.signal });
    const scores = softmax(Array.from(logits!.data as Float32Array));
    const best = scores.indexOf(Math.max(...scores));
    res.json({ class: best, confidence: scores[best], scores });
  } catch (error) {
    // A wrong number of features is INVALID_INPUT, with a message that says what was expected.
    if (isModelHostError(error, ErrorCode.INVALID_INPUT)) res.status(400).json({ error: error.message });
    else if (isModelHostError(error)) res.status(503).json({ error: error.message, code: error.code });
    else throw error;
  }
});

app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
  log(`error: ${(error as Error)?.stack ?? String(error)}`);
  res.status(500).json({ error: 'internal error' });
});

const server: Server = await new Promise((resolve, reject) => {
  const s = app.listen(port, '127.0.0.1', (error?: Error) => (error ? reject(error) : resolve(s)));
});
const address = server.address();
const url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : port}`;
log(`listening on ${url}`);
log(`try: curl -s ${url}/classify -H 'content-type: application/json' -d '{"features":[${Array.from({ length: 64 }, () => 0.5).join(',')}]}'`);
log(`     the status page is ${url}/ml/, metrics ${url}/metrics`);

// 4. Graceful shutdown.
let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log(`${signal}: closing (no new connections, finishing requests in flight)`);
  // If something keeps the process alive after this, say so rather than hang.
  setTimeout(() => {
    log('still running 10 s after close: exiting');
    process.exit(1);
  }, 10_000).unref();
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  await host.close(); // drains queued and running requests, then disposes every session
  // server.close() only stops listening and closes connections idle right now. The
  // keep-alive connections of the requests that were in flight turn idle as their
  // responses finish: close them then, rather than after keepAliveTimeout.
  const sweep = setInterval(() => server.closeIdleConnections(), 25);
  await closed;
  clearInterval(sweep);
  log('stopped');
  // Nothing is left to keep the event loop alive: the process exits with code 0.
}
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));

function softmax(values: readonly number[]): number[] {
  const max = Math.max(...values);
  const exps = values.map((v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}
