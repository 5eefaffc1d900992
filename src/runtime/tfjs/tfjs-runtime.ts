import { ErrorCode, ModelHostError, toModelHostError } from '../../errors/index.js';
import { ModelFiles } from '../model-files.js';
import type { Runtime, RuntimeLoadOptions, RuntimeMemory, Session } from '../runtime.js';
import { readTfjsArtifacts } from './tfjs-artifacts.js';
import { TFJS_BACKENDS, useTfjs, type TfjsBackendName, type TfjsEngine } from './tfjs-backend.js';
import { TfjsSession } from './tfjs-session.js';
import { dynamicOpsOf } from './dynamic-ops.js';
import { readGraphSignature } from './graph-signature.js';

/** Settings of the `tfjs` section of a model's config. */
export interface TfjsSettings {
  /** `auto` (default): `node` when `@tensorflow/tfjs-node` is installed, else `wasm`, else `cpu`. One backend per thread. */
  backend?: TfjsBackendName;
}

let engineInUse: TfjsEngine | undefined;
let openSessions = 0;

/** TensorFlow.js layers and graph models (`model.json` + weight shards). */
export const tfjsRuntime: Runtime = {
  name: 'tfjs',

  canLoad(files) {
    return files.includes('model.json');
  },

  async load(source, options: RuntimeLoadOptions): Promise<Session> {
    const settings = options.settings as TfjsSettings;
    const backend = settings.backend ?? 'auto';
    if (!TFJS_BACKENDS.includes(backend)) {
      throw new ModelHostError(ErrorCode.INVALID_CONFIG, `tfjs.backend must be one of ${TFJS_BACKENDS.join(', ')}, got ${JSON.stringify(backend)}`);
    }
    const engine = await useTfjs(backend);
    engineInUse = engine;
    const { tf } = engine;
    const files = new ModelFiles(source);
    const { artifacts, format } = await readTfjsArtifacts(files);
    const handler = { load: async () => artifacts };
    const onDispose = () => void openSessions--;
    let model: Awaited<ReturnType<typeof tf.loadLayersModel>> | Awaited<ReturnType<typeof tf.loadGraphModel>>;
    try {
      model = format === 'graph' ? await tf.loadGraphModel(handler) : await tf.loadLayersModel(handler);
    } catch (error) {
      // tfjs's message may quote model.json: the log gets it, the response does not.
      throw new ModelHostError(ErrorCode.LOAD_FAILED, `tfjs could not load the ${format} model in ${files.describe()} (its message is in the host's log)`, {
        cause: error,
        model: options.model,
        version: options.version,
      });
    }
    try {
      const session =
        'predictOnBatch' in model
          ? TfjsSession.layers(tf, model, onDispose)
          : await TfjsSession.graph(tf, model, readGraphSignature(artifacts.signature, artifacts.modelTopology), dynamicOpsOf(artifacts.modelTopology), onDispose);
      openSessions++;
      return session;
    } catch (error) {
      model.dispose(); // an unsupported signature must not leak the weights
      throw toModelHostError(error, ErrorCode.UNSUPPORTED_MODEL, { model: options.model, version: options.version });
    }
  },

  memory(): RuntimeMemory {
    return { tensors: engineInUse?.tf.memory().numTensors ?? 0, sessions: openSessions };
  },
};

/** The tfjs backend in use in this thread, once a tfjs model has loaded. */
export function tfjsBackendInUse(): string | undefined {
  return engineInUse?.backend;
}
