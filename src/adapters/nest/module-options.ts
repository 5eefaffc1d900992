import type { FactoryProvider, ModuleMetadata } from '@nestjs/common';
import { checkObject, invalidOption } from '../../errors/option-checks.js';
import type { ModelHostOptions } from 'modelhost';
import type { LoadOptions, ModelHost } from 'modelhost';
import type { NodeListenerOptions } from '../http/node-listener.js';

/**
 * The opt-in protocol controller (KServe v2, TF Serving REST, admin, `/metrics`, status page):
 * `true` mounts it at the application's root (the URLs of `createNodeListener`: `/v2/...`,
 * `/v1/...`, `/admin/...`, `/metrics`, `/status`), `{ path: 'ml' }` under a prefix (route
 * parameters allowed; a global prefix applies; version-neutral). Off by default.
 *
 * It is one catch-all route: a path it does not serve goes on to the application's other
 * routes, then Nest's 404. Routes the app declared before it come first (at the root, an
 * app's own `GET /` wins over the status page). It needs `@nestjs/platform-express`. Behind
 * Nest's JSON body parser (on by default, 100 kB) it uses the parsed body, so that parser's
 * limit applies: raise it (`app.useBodyParser('json', { limit: '32mb' })`) or create the app
 * with `bodyParser: false` to have `http.bodyLimitBytes` apply.
 */
export type ModelHostControllerOption = boolean | { readonly path?: string };

/** The listener's options of `modelhost/http` (`HttpOptions` and its `limits`), plus whether to mount the protocol controller. */
export interface ModelHostHttpOptions extends NodeListenerOptions {
  readonly controller?: ModelHostControllerOption;
}

/** A model to load at startup: its name (the repository's version policy), or a name with `load` options. */
export type ModelHostModuleLoad = string | (LoadOptions & { readonly name: string });

/** `ModelHostModule.forRoot(options)`. */
export interface ModelHostModuleOptions {
  /**
   * The host to provide: `ModelHostOptions` (the module constructs the host, owns it and
   * closes it on application shutdown) or a `ModelHost` you constructed (the module does
   * not close it unless `close: true`: whoever creates a host closes it).
   */
  readonly host: ModelHost | ModelHostOptions;
  /**
   * Loaded in parallel on module init (`onModuleInit`), before the application serves;
   * a failed load fails the application's startup (and closes a host the module owns).
   */
  readonly load?: readonly ModelHostModuleLoad[];
  /** Options of the protocol controller, and `controller` to mount it. Provided as `MODEL_HOST_HTTP_OPTIONS`. */
  readonly http?: ModelHostHttpOptions;
  /**
   * Close the host on application shutdown (`onApplicationShutdown`, after the HTTP server
   * stopped accepting). Default: true for a host the module constructed, false for a given instance.
   */
  readonly close?: boolean;
  /** Register the module globally, so every module can inject `MODEL_HOST`. Default true. */
  readonly global?: boolean;
}

/**
 * What `forRootAsync`'s `useFactory` returns: the options of `forRoot`, but for `global`
 * and `http.controller`, which shape the module itself and so are given to `forRootAsync`.
 */
export interface ModelHostModuleFactoryOptions extends Omit<ModelHostModuleOptions, 'http' | 'global'> {
  /** The listener options of the protocol controller; `controller` itself is an option of `forRootAsync`. */
  readonly http?: NodeListenerOptions & { readonly controller?: never };
  /** An option of `forRootAsync`. */
  readonly global?: never;
}

/** `ModelHostModule.forRootAsync(options)`. */
export interface ModelHostModuleAsyncOptions {
  /** Modules whose exported providers `useFactory` injects (e.g. a config module). */
  readonly imports?: ModuleMetadata['imports'];
  /** Tokens of the providers passed to `useFactory`, in order. */
  readonly inject?: FactoryProvider['inject'];
  // `any[]` as in Nest's own FactoryProvider: the injected values' types are the caller's.
  readonly useFactory: (...args: any[]) => ModelHostModuleFactoryOptions | Promise<ModelHostModuleFactoryOptions>;
  /** Mount the protocol controller (its HTTP options come from `useFactory`'s `http`). Default false. */
  readonly controller?: ModelHostControllerOption;
  /** Register the module globally. Default true. */
  readonly global?: boolean;
}

/** The checked options, provided as `MODEL_HOST_MODULE_OPTIONS`. */
export interface ResolvedModelHostModuleOptions {
  readonly host: ModelHost | ModelHostOptions;
  readonly load: readonly ModelHostModuleLoad[];
  readonly http: NodeListenerOptions;
  readonly close: boolean | undefined;
}

/** Checks the options eagerly ("`load[1]` must be …, got …", INVALID_CONFIG). */
export function resolveModuleOptions(options: unknown, where: string): ResolvedModelHostModuleOptions {
  // A misspelt key (`laod`) would start the application with nothing loaded.
  checkObject(options, where, ['host', 'load', 'http', 'close', 'global']);
  const { host, load = [], http = {}, close } = options as Partial<ModelHostModuleOptions>;
  if (typeof host !== 'object' || host === null) throw invalidOption(`${where}.host`, 'a ModelHost or ModelHostOptions', host);
  if (!Array.isArray(load)) throw invalidOption(`${where}.load`, 'an array of model names or { name, ...LoadOptions }', load);
  load.forEach((entry: unknown, index) => {
    const name = typeof entry === 'object' && entry !== null ? (entry as { name?: unknown }).name : entry;
    if (typeof name !== 'string' || name === '') throw invalidOption(`${where}.load[${index}]`, 'a model name or { name, ...LoadOptions }', entry);
  });
  if (typeof http !== 'object' || http === null) throw invalidOption(`${where}.http`, 'an object (HttpOptions)', http);
  if (close !== undefined && typeof close !== 'boolean') throw invalidOption(`${where}.close`, 'true or false', close);
  const { controller: _, ...httpOptions } = http as ModelHostHttpOptions;
  return { host, load: [...(load as ModelHostModuleLoad[])], http: httpOptions, close };
}

/** Checks `controller` and returns the prefix to mount it at, or undefined when off. */
export function controllerPath(option: unknown, where: string): string | undefined {
  if (option === undefined || option === false) return undefined;
  if (option === true) return '';
  if (typeof option === 'object' && option !== null) {
    const path = (option as { path?: unknown }).path ?? '';
    if (typeof path !== 'string') throw invalidOption(`${where}.path`, 'a string', path);
    return path.replace(/^\/+|\/+$/g, '');
  }
  throw invalidOption(where, 'true, false or { path }', option);
}

/** Duck-typed, so a host from another copy of the package (ESM and CJS builds) counts too. */
export function isModelHost(value: unknown): value is ModelHost {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as ModelHost).predict === 'function' &&
    typeof (value as ModelHost).load === 'function' &&
    typeof (value as ModelHost).close === 'function'
  );
}
