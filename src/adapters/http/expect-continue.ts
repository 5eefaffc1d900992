import type { Server, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';

/**
 * `Expect: 100-continue` answered when the body is wanted, not when the headers arrive. Node
 * writes "100 Continue" at once unless the server listens for 'checkContinue', so a request
 * refused on its headers (413 by Content-Length, 429 before admission) first invited the client
 * to send the body it then refused (RFC 9110 §10.1.1: a server may answer with the final
 * status instead). Responses whose 100 was held back are marked here; the listener writes it
 * when it starts reading the body, and a refusal without it closes the connection (Node does).
 */
const held = new WeakSet<ServerResponse>();

/** Makes `server` hold back "100 Continue" until its listener reads the body. Only for a server whose every request goes to `createNodeListener`. */
export function holdContinue<S extends Server | HttpsServer>(server: S): S {
  server.on('checkContinue', (req, res) => {
    held.add(res);
    server.emit('request', req, res);
  });
  return server;
}

/** Writes the "100 Continue" held back for this response, if any: its body is about to be read. */
export function continueBody(res: ServerResponse): void {
  if (held.delete(res)) res.writeContinue();
}
