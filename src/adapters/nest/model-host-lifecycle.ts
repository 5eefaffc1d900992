import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { ModelHost } from 'modelhost';
import { isModelHost, type ResolvedModelHostModuleOptions } from './module-options.js';
import { MODEL_HOST, MODEL_HOST_HANDLE, MODEL_HOST_MODULE_OPTIONS } from './tokens.js';

/** The provided host and whether the module closes it. */
export interface ModelHostHandle {
  readonly host: ModelHost;
  /** The module constructed it (from ModelHostOptions). */
  readonly created: boolean;
  /** It is closed on application shutdown. */
  readonly close: boolean;
}

/** Constructs the host from options, or takes the given instance. */
export function createHandle(options: ResolvedModelHostModuleOptions): ModelHostHandle {
  if (isModelHost(options.host)) return { host: options.host, created: false, close: options.close ?? false };
  return { host: new ModelHost(options.host), created: true, close: options.close ?? true };
}

/**
 * Loads `load` on module init into the provided host (`MODEL_HOST`, also when a testing
 * module overrides it), and closes the host the module owns on application shutdown (after
 * Nest stopped the HTTP server, so in-flight HTTP requests have finished; `close()` then
 * drains whatever else is pending and disposes every session and worker thread).
 */
export class ModelHostLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    private readonly host: ModelHost,
    private readonly handle: ModelHostHandle,
    private readonly options: ResolvedModelHostModuleOptions,
  ) {}

  async onModuleInit(): Promise<void> {
    const { host } = this;
    const results = await Promise.allSettled(
      this.options.load.map((entry) => {
        if (typeof entry === 'string') return host.load(entry);
        const { name, ...loadOptions } = entry;
        return host.load(name, loadOptions);
      }),
    );
    const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    if (errors.length === 0) return;
    // The application will not start: do not leave a host we own (and its threads) behind.
    await this.onApplicationShutdown();
    if (errors.length === 1) throw errors[0];
    throw new AggregateError(errors, `ModelHostModule: ${errors.length} of ${results.length} models failed to load`);
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.handle.close) await this.handle.host.close();
  }
}

// No decorator syntax (the build emits no decorator metadata): Nest's decorators applied as
// functions, with an explicit token for every constructor parameter.
Injectable()(ModelHostLifecycle);
Inject(MODEL_HOST)(ModelHostLifecycle, undefined, 0);
Inject(MODEL_HOST_HANDLE)(ModelHostLifecycle, undefined, 1);
Inject(MODEL_HOST_MODULE_OPTIONS)(ModelHostLifecycle, undefined, 2);
