/**
 * What the bench's own HTTP servers share: listen on a free port of 127.0.0.1, log
 * `{"msg":"listening","url":…}` on stdout for the parent, and on SIGTERM close every
 * connection, run `stop` (if any) and exit 0.
 */
export function listenForBench(server, stop = async () => {}) {
  server.keepAliveTimeout = 5000;
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    process.stdout.write(`${JSON.stringify({ msg: 'listening', url: `http://127.0.0.1:${port}` })}\n`);
  });
  process.once('SIGTERM', () => {
    server.close(() => void stop().then(() => process.exit(0)));
    server.closeAllConnections();
  });
}
