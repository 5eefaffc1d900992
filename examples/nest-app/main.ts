/**
 * A Nest application serving a model with modelhost: `npx tsx examples/nest-app/main.ts`.
 *
 *   POST /classify                         the app's own route (a service injects the host)
 *   POST /ml/v2/models/mlp-onnx/infer      KServe v2, from the opt-in protocol controller
 *   POST /ml/v1/models/mlp-onnx:predict    TF Serving REST
 *   GET  /ml                               status page
 *
 * Ctrl-C (SIGINT) or SIGTERM closes the app: the HTTP server stops, then the host drains
 * and unloads its models.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Logger, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';
import { SETTINGS, type Settings } from './settings.js';

export async function bootstrap(): Promise<INestApplication> {
  const app = await NestFactory.create(AppModule);
  app.enableShutdownHooks(); // SIGTERM/SIGINT → app.close() → the module closes the host
  const settings = app.get<Settings>(SETTINGS);
  await app.listen(settings.port, settings.hostname);
  const address = app.getHttpServer().address() as { port: number };
  const url = `http://${settings.hostname}:${address.port}`;
  new Logger('nest-app').log(`listening on ${url}: POST /classify, POST /ml/v2/models/mlp-onnx/infer, GET /ml (status page)`);
  return app;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await bootstrap();
}
