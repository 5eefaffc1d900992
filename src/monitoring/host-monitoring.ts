import { ErrorCode, ModelHostError } from '../errors/index.js';
import type { LoadedVersion } from '../registry/loaded-version.js';
import type { NamedModel } from '../registry/named-model.js';
import { checkLabels, type FeedbackResult } from './feedback-store.js';
import { ModelMonitor, sameOptions, type MonitorDeps, type MonitoringStats } from './model-monitor.js';
import { monitoringActive, type ResolvedMonitoring } from './monitoring-options.js';

/**
 * The host's monitors, one per model that turns monitoring on, made on its first request and
 * remade when its options change (a load with another config, a poll that finds config.json
 * changed), keeping each part whose own options did not (`ModelMonitor`); kept as they are
 * across loads and polls otherwise, so a drift reference survives a new version.
 */
export class HostMonitoring {
  private readonly monitors = new Map<string, ModelMonitor>();
  /** The options object each monitor was last checked against (options are remade on every load). */
  private readonly seen = new Map<string, ResolvedMonitoring>();
  /** The last answer of `of`, for the model and options it was for: a host serving one model asks every request. */
  private last: { model: NamedModel; options: ResolvedMonitoring; monitor: ModelMonitor | undefined } | undefined;

  constructor(
    private readonly deps: MonitorDeps & { readonly warn: (message: string, model: string, cause: unknown) => void },
  ) {}

  /** The model's monitor, or undefined when monitoring is off for it (the common, free case). */
  of(model: NamedModel, version: LoadedVersion): ModelMonitor | undefined {
    const options = model.options.monitoring;
    const last = this.last;
    if (last !== undefined && last.model === model && last.options === options) return last.monitor;
    const monitor = this.monitorOf(model, version, options);
    this.last = { model, options, monitor };
    return monitor;
  }

  private monitorOf(model: NamedModel, version: LoadedVersion, options: ResolvedMonitoring): ModelMonitor | undefined {
    let monitor = this.monitors.get(model.name);
    if (this.seen.get(model.name) === options) return monitor;
    this.seen.set(model.name, options);
    if (monitor !== undefined && sameOptions(monitor.options, options)) return monitor;
    if (!monitoringActive(options)) {
      this.monitors.delete(model.name);
      return undefined;
    }
    const previous = monitor;
    monitor = new ModelMonitor(model.name, options, this.deps, previous);
    this.monitors.set(model.name, monitor);
    if (monitor.drift !== undefined && !monitor.keptDrift(previous) && options.drift.reference !== undefined) this.feedReference(monitor, model, version);
    return monitor;
  }

  /**
   * Joins a late label to the prediction served for `requestId`.
   * @throws ModelHostError INVALID_INPUT when the model has no `feedback` option or the label does not fit.
   */
  feedback(model: NamedModel, requestId: string, groundTruth: unknown): FeedbackResult {
    if (typeof requestId !== 'string' || requestId.length === 0 || requestId.length > 256) {
      throw new ModelHostError(ErrorCode.INVALID_INPUT, `feedback for '${model.name}': the request id must be a string of 1 to 256 characters, got ${typeof requestId === 'string' ? `${requestId.length} characters` : typeof requestId}`, { model: model.name });
    }
    const options = model.options.monitoring.feedback;
    if (options === undefined) {
      throw new ModelHostError(ErrorCode.INVALID_INPUT, `feedback for '${model.name}': the model has no \`feedback\` option, so no predictions are remembered`, { model: model.name });
    }
    const store = this.monitors.get(model.name)?.feedback;
    if (store === undefined) {
      checkLabels(model.name, options.task, groundTruth);
      return { matched: false, version: undefined, labels: 0, correct: undefined, absoluteError: undefined };
    }
    return store.join(requestId, groundTruth);
  }

  stats(name: string): MonitoringStats | undefined {
    return this.monitors.get(name)?.stats();
  }

  /** A swap, load or unload: cached answers no longer hold. */
  invalidate(name: string): void {
    this.monitors.get(name)?.cache?.clear();
  }

  /** A version of `name` unloaded: its live quality and the predictions it served are dropped. */
  forgetVersion(name: string, version: number): void {
    this.monitors.get(name)?.feedback?.forget(version);
  }

  forget(name: string): void {
    this.monitors.delete(name);
    this.seen.delete(name);
    if (this.last?.model.name === name) this.last = undefined;
  }

  private feedReference(monitor: ModelMonitor, model: NamedModel, version: LoadedVersion): void {
    const rows = monitor.options.drift.reference!;
    try {
      for (const row of rows) {
        const prepared = version.validator!.prepare(row, 'instance');
        monitor.drift!.inputs.observe(prepared.tensors, prepared.rows);
      }
      monitor.drift!.inputs.freeze();
    } catch (error) {
      this.deps.warn(`drift.reference of '${model.name}' does not fit the model's inputs, so the reference is captured from live rows instead: ${(error as Error).message}`, model.name, error);
      monitor.resetDrift();
    }
  }
}
