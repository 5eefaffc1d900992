import { ErrorCode, ModelHostError } from 'modelhost';
import type * as GrpcJs from '@grpc/grpc-js';
import type * as ProtoLoader from '@grpc/proto-loader';
import { PROTO_PATH } from './proto-path.js';

export type Grpc = typeof GrpcJs;

/** The optional peers, imported once, and the service definition built from the `.proto`. */
export interface GrpcPeer {
  readonly grpc: Grpc;
  readonly service: GrpcJs.ServiceDefinition;
}

let pending: Promise<GrpcPeer> | undefined;

/**
 * Imports `@grpc/grpc-js` and `@grpc/proto-loader` (optional peers) and loads the `.proto`,
 * once. 64-bit integers arrive as decimal strings (`longs: String`), so INT64 and UINT64
 * values keep all their digits.
 *
 * @throws ModelHostError INVALID_CONFIG naming the package to install when one is missing
 */
export function loadGrpcPeer(): Promise<GrpcPeer> {
  pending ??= (async () => {
    const grpc = await importPeer<Grpc>('@grpc/grpc-js');
    const loader = await importPeer<typeof ProtoLoader>('@grpc/proto-loader');
    const definition = await loader.load(PROTO_PATH, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
    const service = definition['inference.GRPCInferenceService'] as unknown as GrpcJs.ServiceDefinition;
    return { grpc, service };
  })().catch((error: unknown) => {
    pending = undefined; // installing the package later and retrying works
    throw error;
  });
  return pending;
}

async function importPeer<T>(pkg: string): Promise<T> {
  try {
    const mod = (await import(pkg)) as T & { default?: T };
    // CommonJS packages imported from ESM: the named exports may sit on `default` only.
    return (mod.default ?? mod) as T;
  } catch (error) {
    const code = (error as { code?: string }).code;
    const missing = (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND' || /Cannot find (package|module)/.test(String((error as Error).message))) && String((error as Error).message).includes(pkg);
    throw new ModelHostError(
      ErrorCode.INVALID_CONFIG,
      missing ? `modelhost/grpc needs the package '${pkg}', which is not installed. Install it: npm install @grpc/grpc-js @grpc/proto-loader` : `modelhost/grpc could not import '${pkg}': ${(error as Error).message}`,
      { cause: error },
    );
  }
}
