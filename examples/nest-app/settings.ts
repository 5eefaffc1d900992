/**
 * The app's settings, from the environment, as a provider other modules import (what
 * `@nestjs/config`'s ConfigModule would do in a real app).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Module } from '@nestjs/common';

export const SETTINGS = Symbol('SETTINGS');

export interface Settings {
  /** Port to listen on; 0 picks a free one. */
  readonly port: number;
  readonly hostname: string;
  /** The model repository; the demo one (written on first run) by default. */
  readonly modelRepository: string;
}

export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): Settings {
  return {
    port: env['PORT'] === undefined ? 3000 : Number(env['PORT']),
    hostname: env['HOSTNAME_TO_BIND'] ?? '127.0.0.1',
    modelRepository: path.resolve(env['MODEL_REPOSITORY'] ?? fileURLToPath(new URL('../quickstart/models', import.meta.url))),
  };
}

export class SettingsModule {}
Module({ providers: [{ provide: SETTINGS, useFactory: () => settingsFromEnv() }], exports: [SETTINGS] })(SettingsModule);
