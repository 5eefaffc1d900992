/**
 * A closed-loop HTTP/1.1 load client on raw sockets, as cheap as a client can be so that a
 * load run on the same machine measures the server, not the client: each connection sends
 * one prebuilt request, reads the response (status line and Content-Length only), and sends
 * the next at once. No HTTP parser, no per-request objects beyond a latency sample.
 */
import { connect, type Socket } from 'node:net';

export interface RawLoadOptions {
  readonly url: string;
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string | Buffer;
  readonly connections: number;
  readonly seconds: number;
}

export interface RawLoadResult {
  /** Responses by status code; `closed` counts connections the server closed (each is reopened). */
  readonly statuses: Record<string, number>;
  /** Latency of each 2xx, ms. */
  readonly latencies: Float64Array;
  readonly seconds: number;
}

const HEADER_END = Buffer.from('\r\n\r\n');

export async function rawLoad(options: RawLoadOptions): Promise<RawLoadResult> {
  const url = new URL(options.url);
  const body = options.body === undefined ? Buffer.alloc(0) : Buffer.from(options.body);
  const head = [`${options.method ?? 'GET'} ${url.pathname}${url.search} HTTP/1.1`, `host: ${url.host}`, `content-length: ${body.byteLength}`, ...Object.entries(options.headers ?? {}).map(([k, v]) => `${k}: ${v}`), '', ''].join('\r\n');
  const request = Buffer.concat([Buffer.from(head, 'latin1'), body]);
  const statuses: Record<string, number> = {};
  let latencies = new Float64Array(1 << 16);
  let count = 0;
  let running = true;
  const record = (status: number, ms: number) => {
    statuses[status] = (statuses[status] ?? 0) + 1;
    if (status >= 300) return;
    if (count === latencies.length) {
      const grown = new Float64Array(latencies.length * 2);
      grown.set(latencies);
      latencies = grown;
    }
    latencies[count++] = ms;
  };
  const sockets: Socket[] = [];
  const open = () => {
    const socket = connect({ host: url.hostname, port: Number(url.port), noDelay: true });
    sockets.push(socket);
    let pending: Buffer | undefined;
    let sentAt = 0;
    const send = () => {
      if (!running) return;
      sentAt = performance.now();
      socket.write(request);
    };
    socket.once('connect', send);
    socket.on('data', (chunk: Buffer) => {
      pending = pending === undefined ? chunk : Buffer.concat([pending, chunk]);
      // A response may come in pieces; several never do (one request outstanding per connection).
      const end = pending.indexOf(HEADER_END);
      if (end < 0) return;
      const headers = pending.toString('latin1', 0, end).toLowerCase();
      const at = headers.indexOf('\r\ncontent-length:');
      let lineEnd = headers.indexOf('\r\n', at + 2);
      if (lineEnd < 0) lineEnd = headers.length;
      const length = at < 0 ? 0 : Number.parseInt(headers.slice(at + 17, lineEnd), 10);
      if (pending.byteLength < end + 4 + length) return;
      const status = Number(headers.slice(9, 12));
      pending = undefined;
      record(status, performance.now() - sentAt);
      if (headers.includes('\r\nconnection: close')) return;
      send();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      if (running) statuses['closed'] = (statuses['closed'] ?? 0) + 1;
      if (running) setTimeout(open, 10).unref();
    });
  };
  for (let i = 0; i < options.connections; i++) open();
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, options.seconds * 1000));
  running = false;
  for (const socket of sockets) socket.destroy();
  return { statuses, latencies: latencies.subarray(0, count), seconds: (performance.now() - started) / 1000 };
}
