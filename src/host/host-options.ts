import { checkBoolean, checkFunction, checkInteger, checkObject, checkString, ErrorCode, invalidOption, MAX_TIMER_MS, ModelHostError } from '../errors/index.js';
import { validateModelOptions, type ModelOptions } from '../registry/model-options.js';
import { isModelName, validateVersionPolicy, type VersionPolicy } from '../repository/index.js';
import { BUILTIN_RUNTIMES, type Runtime } from '../runtime/index.js';
import type { ReadinessOptions } from '../registry/readiness.js';
import { systemClock, type Clock } from '../scheduler/clock.js';

export interface RepositoryOptions {
  /** The repository folder. */
  root: string;
  /** Default version policy for models that do not set one. */
  versionPolicy?: VersionPolicy;
  /** Rescan the repository this often (ms): new versions load, removed ones unload, manifest.json applies. Default: no polling. */
  pollIntervalMs?: number;
  /**
   * Polls in a row a model or version must be missing from a readable repository before it
   * is unloaded, so a folder renamed away for a moment is not. Default 3.
   */
  removeAfterPolls?: number;
  /**
   * Refuse (INTEGRITY_FAILED) any directory version without a `SHA256SUMS`; a polled one is
   * retried when its files change. Default false: a version without one loads unverified.
   * With or without it, a present `SHA256SUMS` must list and match every file of the version.
   */
  requireChecksums?: boolean;
}

export interface Logger {
  debug?(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export interface ModelHostOptions {
  /** A model repository folder (DESIGN §5), or its options. Optional: `load` also takes a `source`. */
  repository?: string | RepositoryOptions;
  /** Options every model starts from. */
  defaults?: ModelOptions;
  /** Options per model name; they override `defaults` and the model's `config.json`. */
  models?: Record<string, ModelOptions>;
  /** Custom runtimes by name, beside the built-in `tfjs` and `onnx` (a custom one may replace a built-in). */
  runtimes?: Record<string, Runtime>;
  /** Where the host logs load, unload and warnings. Default: silent (subscribe to events instead). */
  logger?: Logger;
  /** Time for deadlines and batching delays; inject one in tests. Default: `performance.now()` and unref-ed timers. */
  clock?: Clock;
  /**
   * Memory all loaded versions may take, in bytes. A load that would exceed it evicts warm
   * retained versions first, then is refused with LOAD_FAILED. Default: no budget.
   */
  memoryBudgetBytes?: number;
  /** Keep rolling statistics for `stats()` (an event subscriber: request events are built for it). Default true. */
  stats?: boolean;
  /** What `ready()` and `/v2/health/ready` mean (Triton's `--strict-readiness`). Default `{ strict: true, allowEmpty: false }`. */
  readiness?: ReadinessOptions;
  /**
   * How long `close()` lets queued and running requests finish, ms; past it they are refused
   * with SHUTTING_DOWN and `drainTimedOut` is set. Default 30000.
   */
  drainTimeoutMs?: number;
}

export interface ResolvedHostOptions {
  readonly repository:
    | { readonly root: string; readonly versionPolicy: VersionPolicy | undefined; readonly pollIntervalMs: number | undefined; readonly removeAfterPolls: number; readonly requireChecksums: boolean }
    | undefined;
  readonly defaults: ModelOptions | undefined;
  readonly models: Readonly<Record<string, ModelOptions>>;
  readonly runtimes: Readonly<Record<string, Runtime>>;
  readonly runtimeNames: readonly string[];
  readonly logger: Logger | undefined;
  readonly clock: Clock;
  readonly memoryBudgetBytes: number | undefined;
  readonly stats: boolean;
  readonly readiness: Readonly<ReadinessOptions>;
  readonly drainTimeoutMs: number;
}

export const DEFAULT_REMOVE_AFTER_POLLS = 3;
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;

const KNOWN = ['repository', 'defaults', 'models', 'runtimes', 'logger', 'clock', 'memoryBudgetBytes', 'stats', 'readiness', 'drainTimeoutMs'];

/** Validates host options eagerly, so a typo fails at construction, not at the first request. */
export function resolveHostOptions(options: ModelHostOptions = {}): ResolvedHostOptions {
  const raw = checkObject(options, 'options', KNOWN) as ModelHostOptions;

  const runtimes: Record<string, Runtime> = {};
  if (raw.runtimes !== undefined) {
    for (const [name, runtime] of Object.entries(checkObject(raw.runtimes, 'runtimes', Object.keys(raw.runtimes)))) {
      if (!isModelName(name)) throw invalidOption(`runtimes`, 'keyed by simple names (letters, digits, _ - .)', name);
      if (typeof runtime !== 'object' || runtime === null || typeof (runtime as Runtime).load !== 'function') {
        throw invalidOption(`runtimes.${name}`, 'a Runtime: an object with a load(source, options) method', runtime);
      }
      runtimes[name] = runtime as Runtime;
    }
  }
  const runtimeNames = [...new Set([...Object.keys(BUILTIN_RUNTIMES), ...Object.keys(runtimes)])];

  let repository: ResolvedHostOptions['repository'];
  if (typeof raw.repository === 'string') {
    repository = { root: checkString(raw.repository, 'repository'), versionPolicy: undefined, pollIntervalMs: undefined, removeAfterPolls: DEFAULT_REMOVE_AFTER_POLLS, requireChecksums: false };
  } else if (raw.repository !== undefined) {
    const repo = checkObject(raw.repository, 'repository', ['root', 'versionPolicy', 'pollIntervalMs', 'removeAfterPolls', 'requireChecksums']);
    repository = {
      root: checkString(repo['root'], 'repository.root'),
      versionPolicy: repo['versionPolicy'] === undefined ? undefined : validateVersionPolicy(repo['versionPolicy'], 'repository.versionPolicy'),
      pollIntervalMs: repo['pollIntervalMs'] === undefined ? undefined : checkInteger(repo['pollIntervalMs'], 'repository.pollIntervalMs', 10, MAX_TIMER_MS),
      removeAfterPolls: repo['removeAfterPolls'] === undefined ? DEFAULT_REMOVE_AFTER_POLLS : checkInteger(repo['removeAfterPolls'], 'repository.removeAfterPolls', 1),
      requireChecksums: repo['requireChecksums'] === undefined ? false : checkBoolean(repo['requireChecksums'], 'repository.requireChecksums'),
    };
  }

  const defaults = raw.defaults === undefined ? undefined : validateModelOptions(raw.defaults, 'defaults', runtimeNames);
  // Looked up by model name: without a prototype, a model named `toString` gets no options from Object's.
  const models: Record<string, ModelOptions> = Object.create(null) as Record<string, ModelOptions>;
  if (raw.models !== undefined) {
    for (const [name, value] of Object.entries(checkObject(raw.models, 'models', Object.keys(raw.models)))) {
      if (!isModelName(name)) {
        throw new ModelHostError(ErrorCode.INVALID_CONFIG, `\`models\` has an entry ${JSON.stringify(name)}, which is not a valid model name (letters, digits, _ - ., starting with a letter or digit)`);
      }
      models[name] = validateModelOptions(value, `models.${name}`, runtimeNames);
    }
  }

  let logger: Logger | undefined;
  if (raw.logger !== undefined) {
    const l = checkObject(raw.logger, 'logger', ['debug', 'info', 'warn', 'error', ...Object.keys(raw.logger)]) as unknown as Logger;
    for (const level of ['info', 'warn', 'error'] as const) checkFunction(l[level], `logger.${level}`);
    logger = l;
  }
  let clock = systemClock;
  if (raw.clock !== undefined) {
    const c = checkObject(raw.clock, 'clock', Object.keys(raw.clock)) as unknown as Clock;
    for (const method of ['now', 'setTimeout', 'clearTimeout'] as const) checkFunction(c[method], `clock.${method}`);
    clock = c;
  }
  const memoryBudgetBytes = raw.memoryBudgetBytes === undefined ? undefined : checkInteger(raw.memoryBudgetBytes, 'memoryBudgetBytes', 1);
  const stats = raw.stats === undefined ? true : checkBoolean(raw.stats, 'stats');
  const readiness: ReadinessOptions = {};
  if (raw.readiness !== undefined) {
    const r = checkObject(raw.readiness, 'readiness', ['strict', 'allowEmpty']);
    if (r['strict'] !== undefined) readiness.strict = checkBoolean(r['strict'], 'readiness.strict');
    if (r['allowEmpty'] !== undefined) readiness.allowEmpty = checkBoolean(r['allowEmpty'], 'readiness.allowEmpty');
  }
  const drainTimeoutMs = raw.drainTimeoutMs === undefined ? DEFAULT_DRAIN_TIMEOUT_MS : checkInteger(raw.drainTimeoutMs, 'drainTimeoutMs', 0, MAX_TIMER_MS);
  return Object.freeze({ repository, defaults, models: Object.freeze(models), runtimes: Object.freeze(runtimes), runtimeNames, logger, clock, memoryBudgetBytes, stats, readiness: Object.freeze(readiness), drainTimeoutMs });
}
