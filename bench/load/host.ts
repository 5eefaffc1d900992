import { ErrorCode, isModelHostError, ModelHost, type ModelHostOptions } from '../lib/modelhost.js';

/** DESIGN §9's batching settings for these benches. */
export const BATCHING = Object.freeze({ maxBatchSize: 64, maxDelayMs: 2 });

/** The host under test, in one place so every bench configures it the same way. */
export function hostOptions(root: string, { batching = true } = {}): ModelHostOptions {
  return {
    repository: root,
    // Inline, like the raw sides it is compared with: this bench measures batching; the
    // worker-thread instances that `auto` picks for MobileNetV2 are bench/threads.ts's subject.
    defaults: { instances: { kind: 'inline' }, ...(batching ? { batching: { ...BATCHING } } : {}) },
    // modelhost's default, spelled out: the raw baseline runs with the same setting.
    models: {
      'mlp-onnx': { onnx: { intraOpNumThreads: 1 } },
      // Compared with raw batches of 32 (issue 17): the host batches as large, no larger.
      'tiny-tfjs': batching ? { batching: { ...BATCHING, maxBatchSize: 32 } } : {},
    },
  };
}

export interface HostUnderTest {
  readonly host: ModelHost;
  /** Whether the host accepted `defaults.batching`. */
  readonly batching: boolean;
  readonly note: string | undefined;
}

/**
 * Creates the host with batching. Until the scheduler lands, ModelHost rejects the
 * `batching` option (INVALID_CONFIG); the bench then runs the host without it, and says so.
 */
export function createHost(root: string): HostUnderTest {
  try {
    return { host: new ModelHost(hostOptions(root)), batching: true, note: undefined };
  } catch (error) {
    if (!isModelHostError(error, ErrorCode.INVALID_CONFIG)) throw error;
    const note = `ModelHost rejected defaults.batching (${error.message}); measuring the host without batching options`;
    return { host: new ModelHost(hostOptions(root, { batching: false })), batching: false, note };
  }
}
