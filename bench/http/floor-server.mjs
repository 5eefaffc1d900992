/**
 * The floor under any HTTP server on this machine: node:http reading each request's body
 * and answering a fixed response (argv[2]), with no routing, JSON or model. Started by
 * bench/http.ts in its own process with plain `node` (like the built CLI it is compared
 * with); SIGTERM stops it.
 */
import { createServer } from 'node:http';

const response = process.argv[2] ?? '{}';
const length = Buffer.byteLength(response);
const server = createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': length });
    res.end(response);
  });
});
server.keepAliveTimeout = 5000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  process.stdout.write(`${JSON.stringify({ msg: 'listening', url: `http://127.0.0.1:${port}` })}\n`);
});
process.once('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
