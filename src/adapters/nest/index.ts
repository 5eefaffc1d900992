/**
 * `modelhost/nest`: a `ModelHost` in a NestJS application (needs `@nestjs/common` and
 * `@nestjs/core`; the protocol controller needs `@nestjs/platform-express`).
 *
 * ```ts
 * import { ModelHostModule, InjectModelHost } from 'modelhost/nest';
 *
 * ModelHostModule.forRoot({ host: { repository: './models' }, load: ['mobilenet'], http: { controller: { path: 'ml' } } });
 * ```
 *
 * - `ModelHostModule.forRoot(options)` / `.forRootAsync({ imports, inject, useFactory, controller, global })`
 * - `@InjectModelHost()` = `@Inject(MODEL_HOST)`
 * - the opt-in protocol controller: KServe v2, TF Serving REST, admin, `/metrics` and the
 *   status page of `modelhost/http`, under a prefix
 * - `load` on module init, `host.close()` on application shutdown for a host the module created
 *
 * Nest's decorators are applied as plain calls with explicit tokens: nothing here needs
 * `experimentalDecorators` or `emitDecoratorMetadata`.
 *
 * A host needed before the module exists (to export metrics from it, say) is built in the
 * factory and handed over with `close: true`:
 *
 * ```ts
 * ModelHostModule.forRootAsync({
 *   useFactory: () => {
 *     const host = new ModelHost({ repository: './models' });
 *     return { host, close: true, load: ['mlp'], http: { metrics: collectMetrics(host).registry } };
 *   },
 *   controller: { path: 'ml' },
 * });
 * ```
 */
export { ModelHostModule } from './model-host-module.js';
export { InjectModelHost } from './inject-model-host.js';
export { MODEL_HOST, MODEL_HOST_HTTP_OPTIONS, MODEL_HOST_MODULE_OPTIONS } from './tokens.js';
export type {
  ModelHostModuleOptions,
  ModelHostModuleAsyncOptions,
  ModelHostModuleFactoryOptions,
  ModelHostModuleLoad,
  ModelHostHttpOptions,
  ModelHostControllerOption,
  ResolvedModelHostModuleOptions,
} from './module-options.js';
export type { HttpOptions } from '../http/http-types.js';
