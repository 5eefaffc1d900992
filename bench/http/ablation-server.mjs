/**
 * One step of issue 17's ablation (bench/http-ablation.ts): a node:http server over the built
 * host (dist/) and repository, from the bare handler of bare-server.mjs up to what
 * `modelhost serve` runs, one piece added per variant:
 *
 *   bare        JSON.parse, await host.predict, JSON.stringify (bare-server.mjs)
 *   bare+prom   the same, with `collectMetrics(host)` subscribed (serve does when prom-client is installed)
 *   bare-batch, bare-batch-array   `predictBatch` of a [1, n] tensor as the KServe handler calls it (a Float32Array; a Map of JS arrays)
 *   bare-id     an id per request (a UUID) passed to the host, echoed in `x-request-id` and in the body with `model_version`, as serve answers
 *   handler     modelhost/http's createHttpHandler behind the bare body reading and writing (no signal)
 *   handler+signal   the handler with one AbortSignal per connection (aborted on its 'close'), as the listener passes it
 *   handler+timer    the handler with a body timer per request (setTimeout, unref, clearTimeout at 'end'), as the listener reads
 *   handler+close    the handler with a 'close' listener (a closure) on each response, as the listener frees a slot
 *   handler+all      the three above together
 *   listener-fixed   the listener with a fixed limit no request reaches (concurrency 1e6, no parking): the gate's permits, no adaptive limit
 *   listener    createServer(createNodeListener(host)): modelhost/http's listener and handler
 *   listener+prom   the same with `metrics` (/metrics) on
 *   server      createNodeServer(host): the listener plus the server limits
 *   server+prom the same with `metrics` on: what `modelhost serve` builds (without its logger)
 *
 *   node bench/http/ablation-server.mjs <repository> <model> <variant>
 */
import { randomUUID } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { listenForBench } from './serve-script.mjs';
import { ModelHost } from '../../dist/index.js';
import { createHttpHandler, createNodeListener, createNodeServer } from '../../dist/http.js';
import { collectMetrics } from '../../dist/prometheus.js';

const [root, model, variant] = process.argv.slice(2);
const VARIANTS = ['bare', 'bare+prom', 'bare-batch', 'bare-batch-array', 'bare-id', 'handler', 'handler+signal', 'handler+timer', 'handler+close', 'handler+all', 'listener-fixed', 'listener', 'listener+prom', 'server', 'server+prom'];
if (root === undefined || model === undefined || !VARIANTS.includes(variant)) throw new Error(`usage: node bench/http/ablation-server.mjs <repository> <model> <${VARIANTS.join('|')}>`);
const host = new ModelHost({ repository: root });
await host.load(model);
// Rows per batch, appended to $ABLATION_BATCH_LOG on SIGTERM: a server that cuts smaller batches pays onnxruntime's per-run cost more often.
let batches = 0;
let rows = 0;
host.on('batchCompleted', (e) => {
  batches++;
  rows += e.batchSize;
});
const batchLog = process.env['ABLATION_BATCH_LOG'];
if (batchLog !== undefined) process.once('SIGTERM', () => appendFileSync(batchLog, `${JSON.stringify({ variant, batches, rows })}\n`));
const prom = variant.endsWith('+prom');
const metrics = prom ? collectMetrics(host).registry : undefined;

function bareListener(req, res) {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', async () => {
    let status = 200;
    let text;
    const id = variant === 'bare-id' ? randomUUID() : undefined;
    try {
      const input = JSON.parse(Buffer.concat(chunks).toString('utf8')).inputs[0];
      const outputs =
        variant === 'bare-batch'
          ? await host.predictBatch(model, { [input.name]: { data: new Float32Array(input.data), shape: input.shape, dtype: 'float32' } })
          : variant === 'bare-batch-array'
            ? await host.predictBatch(model, new Map([[input.name, { data: input.data, shape: input.shape, dtype: 'float32' }]]))
            : await host.predict(model, { [input.name]: new Float32Array(input.data) }, id === undefined ? undefined : { id });
      text = JSON.stringify({
        model_name: model,
        ...(id === undefined ? {} : { model_version: '1', id }),
        outputs: Object.entries(outputs).map(([name, t]) => ({ name, datatype: 'FP32', shape: [1, ...t.shape], data: Array.from(t.data) })),
      });
    } catch (error) {
      status = 500;
      text = JSON.stringify({ error: String(error) });
    }
    res.writeHead(status, id === undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } : { 'content-type': 'application/json', 'x-request-id': id, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
}

const handle = createHttpHandler(host, { metrics });
/** modelhost/http's handler behind the bare handler's body reading and writing. */
const withSignal = variant === 'handler+signal' || variant === 'handler+all';
const withTimer = variant === 'handler+timer' || variant === 'handler+all';
const withClose = variant === 'handler+close' || variant === 'handler+all';
const signals = new WeakMap();
/** One AbortSignal per connection, as the listener's connection-signal.ts. */
function connectionSignal(socket) {
  let signal = signals.get(socket);
  if (signal === undefined) {
    const controller = new AbortController();
    signal = controller.signal;
    socket.once('close', () => controller.abort(new Error('closed')));
    signals.set(socket, signal);
  }
  return signal;
}
let closed = 0;
function handlerListener(req, res) {
  const chunks = [];
  const signal = withSignal ? connectionSignal(req.socket) : undefined;
  if (withClose) res.on('close', () => { closed++; });
  let timer;
  if (withTimer) {
    timer = setTimeout(() => req.destroy(), 30_000);
    timer.unref();
  }
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', async () => {
    if (timer !== undefined) clearTimeout(timer);
    const response = await handle({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks), signal });
    // A loop, as the listener's send: `{ ...headers, key }` is V8's slow path (bench/micro/object-spread.ts).
    const headers = {};
    for (const name in response.headers) headers[name] = response.headers[name];
    headers['content-length'] = Buffer.byteLength(response.body);
    res.writeHead(response.status, headers);
    res.end(response.body);
  });
}

const server = variant.startsWith('handler')
  ? createServer(handlerListener)
  : variant === 'listener-fixed'
  ? createServer(createNodeListener(host, { limits: { concurrency: 1_000_000, parkConnections: false } }))
  : variant.startsWith('bare')
  ? createServer(bareListener)
  : variant.startsWith('listener')
    ? createServer(createNodeListener(host, { metrics }))
    : createNodeServer(host, { metrics });
listenForBench(server, () => host.close());
