import { ErrorCode, ModelHostError } from '../../errors/index.js';
import { isDType, type Signature, type Tensor, type TensorSpec } from '../../tensor/index.js';
import { ModelFiles } from '../model-files.js';
import { undeclaredShapes, type UndeclaredShapes } from './undeclared-shapes.js';
import { importPeer } from '../optional-peer.js';
import type { Runtime, RuntimeLoadOptions, RuntimeMemory, Session } from '../runtime.js';
import type * as ort from 'onnxruntime-node';

type Ort = typeof ort;

/** Settings of the `onnx` section of a model's config. */
export interface OnnxSettings {
  /** Threads one run may use. Default 1: scale with instances instead, and leave a core to the event loop. */
  intraOpNumThreads?: number;
  /** Threads for parallel branches of the graph (with `executionMode: 'parallel'`). Default 1. */
  interOpNumThreads?: number;
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  executionMode?: 'sequential' | 'parallel';
  /** onnxruntime's own stderr logging: 0 verbose … 4 fatal. Default 4: failures reach you as errors instead. */
  logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
}

const DEFAULT_SETTINGS: Readonly<Required<OnnxSettings>> = Object.freeze({
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
  executionMode: 'sequential',
  logSeverityLevel: 4,
});

let openSessions = 0;

/** ONNX models (`model.onnx`) on onnxruntime-node's CPU execution provider. */
export const onnxRuntime: Runtime = {
  name: 'onnx',

  canLoad(files) {
    return files.includes('model.onnx');
  },

  async load(source, options: RuntimeLoadOptions): Promise<Session> {
    const settings = { ...DEFAULT_SETTINGS, ...(options.settings as OnnxSettings) };
    const runtime = await loadOrt();
    const files = new ModelFiles(source);
    let bytes: Uint8Array;
    try {
      bytes = await files.read('model.onnx');
    } catch (error) {
      // ModelFiles names the file relative to the repository and says why, without its contents.
      throw new ModelHostError(ErrorCode.LOAD_FAILED, (error as Error).message, { cause: error, model: options.model, version: options.version });
    }
    let session: ort.InferenceSession;
    try {
      session = await runtime.InferenceSession.create(bytes, {
        executionProviders: ['cpu'],
        intraOpNumThreads: settings.intraOpNumThreads,
        interOpNumThreads: settings.interOpNumThreads,
        graphOptimizationLevel: settings.graphOptimizationLevel,
        executionMode: settings.executionMode,
        logSeverityLevel: settings.logSeverityLevel,
      });
    } catch (error) {
      // onnxruntime's message may quote the model (names, paths it refers to): the log gets it, the response does not.
      throw new ModelHostError(ErrorCode.LOAD_FAILED, `onnxruntime could not load ${files.display('model.onnx')} (its message is in the host's log)`, {
        cause: error,
        model: options.model,
        version: options.version,
      });
    }
    try {
      const onnxSession = new OnnxSession(runtime, session, undeclaredShapes(bytes));
      openSessions++;
      return onnxSession;
    } catch (error) {
      await session.release();
      throw error;
    }
  },

  memory(): RuntimeMemory {
    return { sessions: openSessions };
  },
};

function loadOrt(): Promise<Ort> {
  // CommonJS imported from ESM may arrive as `{ default: module }`.
  return importPeer<Ort>('onnxruntime-node', 'The onnx runtime').then((mod) => ('InferenceSession' in mod ? mod : (mod as unknown as { default: Ort }).default));
}

class OnnxSession implements Session {
  readonly signature: Signature;
  private readonly outputNames: readonly string[];
  private released = false;

  constructor(
    private readonly ort: Ort,
    private readonly session: ort.InferenceSession,
    /** Tensors the file declares no shape for: onnxruntime says `[]` for them, as for a scalar. */
    unshaped: UndeclaredShapes,
  ) {
    const withRank = (spec: TensorSpec, names: ReadonlySet<string>): TensorSpec => (spec.shape.length === 0 && names.has(spec.name) ? { ...spec, rankUnknown: true } : spec);
    this.signature = {
      inputs: session.inputMetadata.map((m) => withRank(specOf(m, 'input'), unshaped.inputs)),
      outputs: session.outputMetadata.map((m) => withRank(specOf(m, 'output'), unshaped.outputs)),
      // onnxruntime-node copies string tensors as C strings: they end at the first NUL.
      textOnlyStrings: true,
    };
    this.outputNames = this.signature.outputs.map((s) => s.name);
  }

  /** Not async: an async function and its `await` cost a promise and a hop per batch (per request at one caller). */
  run(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    if (this.released) return Promise.reject(new ModelHostError(ErrorCode.INFERENCE_FAILED, 'the onnx session was released'));
    const feeds: Record<string, ort.Tensor> = {};
    try {
      for (const spec of this.signature.inputs) {
        const t = inputs[spec.name]!;
        // ort.Tensor wraps the typed array without copying it.
        feeds[spec.name] = new this.ort.Tensor(t.dtype as 'float32', t.data as Float32Array, t.shape as number[]);
      }
      return this.session.run(feeds, this.outputNames as string[]).then(this.outputsOf);
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  /** onnxruntime's results as modelhost tensors (the typed arrays are not copied). */
  private readonly outputsOf = (results: ort.InferenceSession.OnnxValueMapType): Record<string, Tensor> => {
    const out: Record<string, Tensor> = {};
    for (const spec of this.signature.outputs) {
      const r = results[spec.name] as ort.Tensor;
      out[spec.name] = { data: r.data as Float32Array, shape: r.dims, dtype: spec.dtype };
    }
    return out;
  };

  async dispose(): Promise<void> {
    if (this.released) return;
    this.released = true;
    openSessions--;
    await this.session.release();
  }
}

function specOf(meta: ort.InferenceSession.ValueMetadata, kind: 'input' | 'output'): TensorSpec {
  if (!meta.isTensor) {
    throw new ModelHostError(ErrorCode.UNSUPPORTED_MODEL, `${kind} '${meta.name}' is not a tensor (sequences and maps are not supported)`);
  }
  const type = meta.type as string;
  if (!isDType(type)) throw new ModelHostError(ErrorCode.UNSUPPORTED_MODEL, `${kind} '${meta.name}' has ONNX type ${type}, which modelhost cannot exchange`);
  // Symbolic dimensions ('batch', 'N') and unknown ones are variable: -1.
  return { name: meta.name, dtype: type, shape: meta.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)) };
}
