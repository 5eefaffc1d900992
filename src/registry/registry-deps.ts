import type { ModelHostEventName, ModelHostEvents } from '../metrics/events.js';
import type { ModelRepository } from '../repository/index.js';
import type { Clock } from '../scheduler/clock.js';
import type { Tensor } from '../tensor/index.js';
import type { ModelOptions } from './model-options.js';
import type { NamedModel } from './named-model.js';
import type { VersionLoader } from './version-loader.js';

/** What the registry's parts (pool, rollouts, guard, shadow, repository sync) share with the host. */
export interface RegistryDeps {
  readonly models: Map<string, NamedModel>;
  readonly loader: VersionLoader;
  readonly repository: ModelRepository | undefined;
  readonly runtimeNames: readonly string[];
  readonly defaults: ModelOptions | undefined;
  readonly modelOptions: Readonly<Record<string, ModelOptions>>;
  readonly repositoryPolicy: ModelOptions['versionPolicy'];
  /** Consecutive polls a model or version must be missing from the repository before it unloads. */
  readonly removeAfterPolls: number;
  readonly memoryBudgetBytes: number | undefined;
  readonly clock: Clock;
  readonly isClosing: () => boolean;
  readonly notify: <E extends ModelHostEventName>(event: E, payload: ModelHostEvents[E][0]) => void;
  readonly warn: (message: string, model: string | undefined, version: number | undefined, cause?: unknown) => void;
  readonly log: (level: 'info' | 'warn', message: string, fields: Record<string, unknown>) => void;
  /** Runs a validation example on a version, pinned. */
  readonly predictPinned: (model: string, version: number, inputs: unknown) => Promise<Record<string, Tensor>>;
}
