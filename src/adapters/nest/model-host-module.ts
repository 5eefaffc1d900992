import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import { checkObject, invalidOption } from '../../errors/option-checks.js';
import { createModelHostController } from './model-host-controller.js';
import { createHandle, ModelHostLifecycle, type ModelHostHandle } from './model-host-lifecycle.js';
import {
  controllerPath,
  resolveModuleOptions,
  type ModelHostModuleAsyncOptions,
  type ModelHostModuleFactoryOptions,
  type ModelHostModuleOptions,
  type ResolvedModelHostModuleOptions,
} from './module-options.js';
import { MODEL_HOST, MODEL_HOST_HANDLE, MODEL_HOST_HTTP_OPTIONS, MODEL_HOST_MODULE_OPTIONS } from './tokens.js';

/**
 * Provides a `ModelHost` to a Nest application:
 *
 * ```ts
 * ModelHostModule.forRoot({ host: { repository: './models' }, load: ['mobilenet'] })
 * ModelHostModule.forRootAsync({
 *   imports: [ConfigModule],
 *   inject: [ConfigService],
 *   useFactory: (config: ConfigService) => ({ host: { repository: config.get('MODELS') }, load: ['mlp'] }),
 *   controller: { path: 'ml' },   // KServe v2, TF Serving, admin, /metrics, status under /ml
 * })
 * ```
 *
 * Exports `MODEL_HOST` (inject it with `@InjectModelHost()`), `MODEL_HOST_HTTP_OPTIONS` and
 * `MODEL_HOST_MODULE_OPTIONS`. Global unless `global: false`.
 */
export class ModelHostModule {
  /** A module providing the host of `options` (see `ModelHostModuleOptions`). */
  static forRoot(options: ModelHostModuleOptions): DynamicModule {
    const resolved = resolveModuleOptions(options, 'ModelHostModule.forRoot(options)');
    const global = checkGlobal(options.global, 'ModelHostModule.forRoot(options).global');
    const path = controllerPath(options.http?.controller, 'ModelHostModule.forRoot(options).http.controller');
    return dynamicModule({ provide: MODEL_HOST_MODULE_OPTIONS, useValue: resolved }, path, global, []);
  }

  /**
   * A module whose options come from `useFactory` (with `inject`ed providers of `imports`).
   * `controller` and `global` are given here: they shape the module, which Nest fixes
   * before any factory runs.
   */
  static forRootAsync(options: ModelHostModuleAsyncOptions): DynamicModule {
    const where = 'ModelHostModule.forRootAsync(options)';
    checkObject(options, where, ['imports', 'inject', 'useFactory', 'controller', 'global']);
    if (typeof options.useFactory !== 'function') throw invalidOption(`${where}.useFactory`, 'a function', options.useFactory);
    if (options.inject !== undefined && !Array.isArray(options.inject)) throw invalidOption(`${where}.inject`, 'an array of injection tokens', options.inject);
    if (options.imports !== undefined && !Array.isArray(options.imports)) throw invalidOption(`${where}.imports`, 'an array of modules', options.imports);
    const global = checkGlobal(options.global, `${where}.global`);
    const path = controllerPath(options.controller, `${where}.controller`);
    const { useFactory } = options;
    const provider: Provider = {
      provide: MODEL_HOST_MODULE_OPTIONS,
      inject: [...(options.inject ?? [])],
      useFactory: async (...args: unknown[]): Promise<ResolvedModelHostModuleOptions> => {
        const result = (await useFactory(...args)) as ModelHostModuleFactoryOptions & { http?: { controller?: unknown }; global?: unknown };
        const returned = `${where}.useFactory()`;
        if (typeof result === 'object' && result !== null) {
          if (result.http?.controller !== undefined) throw invalidOption(`${returned}.http.controller`, `absent (a module's routes are fixed when it is declared: pass \`controller\` to forRootAsync)`, result.http.controller);
          if (result.global !== undefined) throw invalidOption(`${returned}.global`, 'absent (pass `global` to forRootAsync)', result.global);
        }
        return resolveModuleOptions(result, returned);
      },
    };
    return dynamicModule(provider, path, global, [...(options.imports ?? [])]);
  }
}

Module({})(ModelHostModule);

function dynamicModule(options: Provider, controllerPrefix: string | undefined, global: boolean, imports: NonNullable<DynamicModule['imports']>): DynamicModule {
  return {
    module: ModelHostModule,
    global,
    imports,
    providers: [
      options,
      { provide: MODEL_HOST_HANDLE, inject: [MODEL_HOST_MODULE_OPTIONS], useFactory: createHandle },
      { provide: MODEL_HOST, inject: [MODEL_HOST_HANDLE], useFactory: (handle: ModelHostHandle) => handle.host },
      { provide: MODEL_HOST_HTTP_OPTIONS, inject: [MODEL_HOST_MODULE_OPTIONS], useFactory: (resolved: ResolvedModelHostModuleOptions) => resolved.http },
      ModelHostLifecycle,
    ],
    controllers: controllerPrefix === undefined ? [] : [createModelHostController(controllerPrefix)],
    exports: [MODEL_HOST, MODEL_HOST_HTTP_OPTIONS, MODEL_HOST_MODULE_OPTIONS],
  };
}

function checkGlobal(value: unknown, where: string): boolean {
  if (value === undefined) return true;
  if (typeof value !== 'boolean') throw invalidOption(where, 'true or false', value);
  return value;
}
