/**
 * A real @grpc/grpc-js client built from the package's `.proto` (as any user's stub would be),
 * with promise wrappers for the unary rpcs.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterAll, afterEach } from 'vitest';
import { createGrpcServer, PROTO_PATH, type GrpcServer, type GrpcServerOptions } from '../../../src/adapters/grpc/index.js';
import type { ModelHost } from '../../../src/index.js';

const definition = protoLoader.loadSync(PROTO_PATH, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
const pkg = grpc.loadPackageDefinition(definition) as unknown as { inference: { GRPCInferenceService: grpc.ServiceClientConstructor } };

type Method = (...args: any[]) => any;
export type Client = grpc.Client & { ModelInfer: Method; ModelStreamInfer: Method } & Record<string, Method>;

export function newClient(port: number, credentials = grpc.credentials.createInsecure(), options: grpc.ChannelOptions = {}): Client {
  return new pkg.inference.GRPCInferenceService(`127.0.0.1:${port}`, credentials, { 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1, ...options }) as Client;
}

export interface CallOptions {
  readonly metadata?: grpc.Metadata;
  readonly deadlineMs?: number;
}

/** A unary call as a promise; rejects with the ServiceError (code, details, metadata). */
export function call<T = any>(client: Client, method: string, request: object, options: CallOptions = {}): Promise<T> {
  return new Promise((resolve, reject) => {
    const callOptions: grpc.CallOptions = options.deadlineMs === undefined ? {} : { deadline: Date.now() + options.deadlineMs };
    (client[method] as Method)(request, options.metadata ?? new grpc.Metadata(), callOptions, (error: grpc.ServiceError | null, response: T) => (error ? reject(error) : resolve(response)));
  });
}

/** The error a call rejected with (fails the test if it resolved). */
export async function failure(promise: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await promise;
  } catch (error) {
    return error as grpc.ServiceError;
  }
  throw new Error('expected the call to fail, it succeeded');
}

/** Servers, clients and hosts made in a test, closed after it. */
export function useGrpc(scope: 'each' | 'all' = 'each'): { start: (host: ModelHost, options?: GrpcServerOptions) => Promise<{ server: GrpcServer; client: Client }>; track: <T extends ModelHost>(host: T) => T } {
  const servers: GrpcServer[] = [];
  const clients: Client[] = [];
  const hosts: ModelHost[] = [];
  (scope === 'each' ? afterEach : afterAll)(async () => {
    for (const c of clients.splice(0)) c.close();
    await Promise.all(servers.splice(0).map((s) => s.close(100)));
    await Promise.all(hosts.splice(0).map((h) => h.destroy()));
  });
  return {
    async start(host, options) {
      hosts.push(host);
      const server = await createGrpcServer(host, 0, options);
      servers.push(server);
      const client = newClient(server.port);
      clients.push(client);
      return { server, client };
    },
    track: (host) => {
      hosts.push(host);
      return host;
    },
  };
}

export { grpc };
