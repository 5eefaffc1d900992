/**
 * A Nest application that serves its models over gRPC (the KServe v2 / Open Inference
 * Protocol service, `inference.GRPCInferenceService`): `npx tsx examples/grpc-server/main.ts`.
 *
 * ModelHostModule owns the host; a provider starts `createGrpcServer` on it once the app has
 * booted, and stops it before the module closes the host, so calls in flight finish first.
 * Any gRPC client of the protocol can call it, e.g. Triton's
 * `tritonclient.grpc.InferenceServerClient("localhost:8081")`, or grpc-js with
 * `PROTO_PATH` (see client.ts beside this file).
 *
 * Environment: GRPC_PORT (default 8081; 0 picks a free one), MODEL_REPOSITORY (default: the
 * demo repository, written on first run).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Inject, Injectable, Logger, Module, type BeforeApplicationShutdown, type INestApplicationContext, type OnApplicationBootstrap } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { ModelHost } from 'modelhost';
import { createGrpcServer, type GrpcServer } from 'modelhost/grpc';
import { MODEL_HOST, ModelHostModule } from 'modelhost/nest';
import { DEFAULT_DEMO_ROOT, materializeDemoRepository } from '../../scripts/demo-repository.js';

export const MODEL = 'mlp-onnx';

/** The gRPC server's lifecycle, tied to the app's: up after bootstrap, down before the host closes. */
export class GrpcInferenceServer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  server: GrpcServer | undefined;

  constructor(private readonly host: ModelHost) {}

  async onApplicationBootstrap(): Promise<void> {
    this.server = await createGrpcServer(this.host, Number(process.env['GRPC_PORT'] ?? 8081), { timeoutMs: 2000 });
    new Logger('grpc-server').log(`gRPC listening on 127.0.0.1:${this.server.port}`);
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.server?.close();
  }
}
// The build has no decorator metadata: explicit injection tokens (see docs/guide.md).
Injectable()(GrpcInferenceServer);
Inject(MODEL_HOST)(GrpcInferenceServer, undefined, 0);

export class AppModule {}
Module({
  imports: [
    ModelHostModule.forRootAsync({
      useFactory: async () => {
        const repository = process.env['MODEL_REPOSITORY'] ?? DEFAULT_DEMO_ROOT;
        await materializeDemoRepository(repository);
        return { host: { repository }, load: [MODEL] };
      },
    }),
  ],
  providers: [GrpcInferenceServer],
})(AppModule);

/** Starts the app (no HTTP server: an application context) and returns it with its gRPC port. */
export async function bootstrap(): Promise<{ app: INestApplicationContext; port: number }> {
  const app = await NestFactory.createApplicationContext(AppModule, { logger: ['error', 'warn', 'log'] });
  app.enableShutdownHooks(); // SIGTERM/SIGINT → gRPC stops, then the host drains and unloads
  await app.init();
  return { app, port: app.get(GrpcInferenceServer).server!.port };
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await bootstrap();
}
