/**
 * The handler issue 17 measures `modelhost serve` against: a bare node:http server over the
 * same built ModelHost (dist/) and repository, that reads the body, `JSON.parse`s it, awaits
 * `host.predict` on the first input's data and answers the outputs with `JSON.stringify` of a
 * KServe v2 response. No routing, validation, limits, request ids, cancellation or metrics:
 * what a hand-written endpoint costs. Single-input FP32 models only.
 *
 *   node bench/http/bare-server.mjs <repository> <model>
 *
 * Logs `{"msg":"listening","url":…}` on stdout; SIGTERM stops it.
 */
import { createServer } from 'node:http';
import { listenForBench } from './serve-script.mjs';
import { ModelHost } from '../../dist/index.js';

const [root, model] = process.argv.slice(2);
if (root === undefined || model === undefined) throw new Error('usage: node bench/http/bare-server.mjs <repository> <model>');
const host = new ModelHost({ repository: root });
await host.load(model);

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', async () => {
    let status = 200;
    let text;
    try {
      const input = JSON.parse(Buffer.concat(chunks).toString('utf8')).inputs[0];
      const outputs = await host.predict(model, { [input.name]: new Float32Array(input.data) });
      text = JSON.stringify({
        model_name: model,
        outputs: Object.entries(outputs).map(([name, t]) => ({ name, datatype: 'FP32', shape: [1, ...t.shape], data: Array.from(t.data) })),
      });
    } catch (error) {
      status = 500;
      text = JSON.stringify({ error: String(error) });
    }
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
});
listenForBench(server, () => host.close());
