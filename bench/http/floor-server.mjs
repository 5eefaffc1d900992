/**
 * The floor under any HTTP server on this machine: node:http reading each request's body
 * and answering a fixed response (argv[2]), with no routing, JSON or model. Started by
 * bench/http.ts in its own process with plain `node` (like the built CLI it is compared
 * with); SIGTERM stops it.
 */
import { createServer } from 'node:http';
import { listenForBench } from './serve-script.mjs';

const response = process.argv[2] ?? '{}';
const length = Buffer.byteLength(response);
const server = createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': length });
    res.end(response);
  });
});
listenForBench(server);
