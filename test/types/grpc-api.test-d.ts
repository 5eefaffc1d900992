import type { Server } from '@grpc/grpc-js';
import { describe, expectTypeOf, it } from 'vitest';
import { addInferenceService, createGrpcServer, GRPC_STATUS_BY_CODE, GrpcStatus, PROTO_PATH, type GrpcServer, type GrpcServerOptions } from '../../src/adapters/grpc/index.js';
import type { HttpOptions } from '../../src/adapters/http/index.js';
import type { ErrorCode, ModelHost } from '../../src/index.js';

describe('modelhost/grpc types', () => {
  it('createGrpcServer takes a host, a port and options, and resolves to a closable server', () => {
    expectTypeOf(createGrpcServer).parameters.toEqualTypeOf<[ModelHost, number, (GrpcServerOptions & { readonly address?: string })?]>();
    expectTypeOf(createGrpcServer).returns.toEqualTypeOf<Promise<GrpcServer>>();
    expectTypeOf<GrpcServer['close']>().toEqualTypeOf<(graceMs?: number) => Promise<void>>();
    expectTypeOf<GrpcServer['server']>().toEqualTypeOf<Server>();
    expectTypeOf(addInferenceService).parameter(0).toEqualTypeOf<Server>();
  });

  it('one authorize hook fits HTTP and gRPC', () => {
    expectTypeOf<NonNullable<HttpOptions['authorize']>>().toEqualTypeOf<NonNullable<GrpcServerOptions['authorize']>>();
  });

  it('maps every error code to a gRPC status number', () => {
    expectTypeOf(GRPC_STATUS_BY_CODE).toEqualTypeOf<Readonly<Record<ErrorCode, GrpcStatus>>>();
    expectTypeOf(GrpcStatus.UNAVAILABLE).toEqualTypeOf<14>();
    expectTypeOf(PROTO_PATH).toEqualTypeOf<string>();
  });
});
