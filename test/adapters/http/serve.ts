import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach } from 'vitest';
import { createNodeListener, type NodeListenerOptions } from '../../../src/adapters/http/index.js';
import type { ModelHost } from '../../../src/index.js';

export interface Served {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

/** A real `node:http` server on 127.0.0.1 and a free port, serving `host` with `createNodeListener`. */
export async function serve(host: ModelHost, options?: NodeListenerOptions): Promise<Served> {
  const server = createServer(createNodeListener(host, options));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Servers and hosts made in a test, closed after it (servers first, so no connection is
 * left to a closed host).
 */
export function useServers(): { serve: typeof serve; track: <T extends ModelHost>(host: T) => T } {
  const servers: Served[] = [];
  const hosts: ModelHost[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
    await Promise.all(hosts.splice(0).map((h) => h.destroy()));
  });
  return {
    serve: async (host, options) => {
      hosts.push(host);
      const served = await serve(host, options);
      servers.push(served);
      return served;
    },
    track: (host) => {
      hosts.push(host);
      return host;
    },
  };
}

export interface JsonResponse<T = any> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
  readonly text: string;
}

/** A request with a JSON body (or none); the response body parsed as JSON when it is JSON. */
export async function request<T = any>(url: string, init: { method?: string; body?: unknown; headers?: Record<string, string>; signal?: AbortSignal } = {}): Promise<JsonResponse<T>> {
  const hasBody = init.body !== undefined;
  const response = await fetch(url, {
    method: init.method ?? (hasBody ? 'POST' : 'GET'),
    headers: { ...(hasBody && typeof init.body !== 'string' && !(init.body instanceof Uint8Array) ? { 'content-type': 'application/json' } : {}), ...init.headers },
    body: !hasBody ? undefined : typeof init.body === 'string' || init.body instanceof Uint8Array ? init.body : JSON.stringify(init.body),
    signal: init.signal,
  });
  const text = await response.text();
  const isJson = response.headers.get('content-type')?.startsWith('application/json') === true;
  return { status: response.status, headers: response.headers, body: (isJson ? JSON.parse(text) : text) as T, text };
}

export const get = <T = any>(url: string, headers?: Record<string, string>) => request<T>(url, { headers });
export const post = <T = any>(url: string, body?: unknown, headers?: Record<string, string>) => request<T>(url, { method: 'POST', body, headers });
