/**
 * Injection tokens of `modelhost/nest`. Registry-wide symbols (`Symbol.for`), so the ESM
 * and the CommonJS build of the package (or two installs) agree on them.
 */

/** The `ModelHost` the module provides: `@Inject(MODEL_HOST)` or `@InjectModelHost()`. */
export const MODEL_HOST: unique symbol = Symbol.for('modelhost.nest.MODEL_HOST');

/** The `HttpOptions` the protocol controller serves with (`http` without `controller`). */
export const MODEL_HOST_HTTP_OPTIONS: unique symbol = Symbol.for('modelhost.nest.MODEL_HOST_HTTP_OPTIONS');

/** The module's options, checked (`ResolvedModelHostModuleOptions`). */
export const MODEL_HOST_MODULE_OPTIONS: unique symbol = Symbol.for('modelhost.nest.MODEL_HOST_MODULE_OPTIONS');

/** Internal: the host and whether the module closes it. */
export const MODEL_HOST_HANDLE: unique symbol = Symbol.for('modelhost.nest.MODEL_HOST_HANDLE');
