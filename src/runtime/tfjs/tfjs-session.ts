import { ErrorCode, ModelHostError } from '../../errors/index.js';
import type { DType, Signature, Tensor, TensorData, TensorSpec } from '../../tensor/index.js';
import type { Session } from '../runtime.js';
import type { Tfjs } from './tfjs-backend.js';
import type * as tfjs from '@tensorflow/tfjs';

type TfTensor = tfjs.Tensor;
type TfDType = tfjs.DataType;

const TO_TF: Partial<Record<DType, TfDType>> = { float32: 'float32', int32: 'int32', bool: 'bool', string: 'string' };
const FROM_TF: Partial<Record<string, DType>> = { float32: 'float32', int32: 'int32', bool: 'bool', string: 'string' };

/** The part of a tfjs model this session needs: layers and graph models differ only here. */
interface Executable {
  readonly signature: Signature;
  /** Runs synchronously inside `tf.tidy`; returns the outputs in signature order. */
  execute(inputs: TfTensor[]): TfTensor[];
  dispose(): void;
}

/**
 * A tfjs model behind the Session SPI. Every tensor it creates lives inside `tf.tidy`,
 * so the live tensor count returns to where it was once `run` settles.
 */
export class TfjsSession implements Session {
  readonly signature: Signature;
  private disposed = false;

  constructor(
    private readonly tf: Tfjs,
    private readonly model: Executable,
    private readonly onDispose: () => void,
  ) {
    this.signature = model.signature;
  }

  static layers(tf: Tfjs, model: tfjs.LayersModel, onDispose: () => void): TfjsSession {
    const inputs = model.inputs.map((t, i) => spec(model.inputNames[i] ?? t.name, t.dtype, t.shape));
    const outputs = model.outputs.map((t, i) => spec(model.outputNames[i] ?? t.name, t.dtype, t.shape));
    return new TfjsSession(tf, {
      signature: { inputs, outputs },
      execute: (xs) => {
        const out = model.predictOnBatch(xs.length === 1 ? xs[0]! : xs);
        return Array.isArray(out) ? out : [out];
      },
      dispose: () => model.dispose(),
    }, onDispose);
  }

  static graph(tf: Tfjs, model: tfjs.GraphModel, onDispose: () => void): TfjsSession {
    const inputs = model.inputs.map((t) => spec(t.name, t.dtype, t.shape));
    const outputs = model.outputs.map((t) => spec(t.name, t.dtype, t.shape));
    const inputNames = inputs.map((s) => s.name);
    const outputNames = outputs.map((s) => s.name);
    return new TfjsSession(tf, {
      signature: { inputs, outputs },
      execute: (xs) => {
        const feed: Record<string, TfTensor> = {};
        for (let i = 0; i < xs.length; i++) feed[inputNames[i]!] = xs[i]!;
        const out = model.execute(feed, outputNames);
        return Array.isArray(out) ? out : [out];
      },
      dispose: () => model.dispose(),
    }, onDispose);
  }

  async run(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    if (this.disposed) throw new ModelHostError(ErrorCode.INFERENCE_FAILED, 'the tfjs session was disposed');
    const { tf, signature } = this;
    const result: Record<string, Tensor> = {};
    tf.tidy(() => {
      const xs = signature.inputs.map((s) => {
        const t = inputs[s.name]!;
        return tf.tensor(t.data as Float32Array, t.shape as number[], TO_TF[s.dtype]);
      });
      const ys = this.model.execute(xs);
      for (let i = 0; i < signature.outputs.length; i++) {
        const y = ys[i]!;
        const out = signature.outputs[i]!;
        result[out.name] = { data: readData(y), shape: y.shape, dtype: out.dtype };
      }
    });
    return result;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.model.dispose();
    this.onDispose();
  }
}

function readData(y: TfTensor): TensorData {
  const data = y.dataSync() as unknown;
  if (y.dtype !== 'string') return data as TensorData;
  const decoder = new TextDecoder();
  return (data as Uint8Array[]).map((bytes) => decoder.decode(bytes));
}

function spec(name: string, dtype: string | undefined, shape: readonly (number | null)[] | undefined): TensorSpec {
  const ours = FROM_TF[dtype ?? 'float32'];
  if (ours === undefined) throw new ModelHostError(ErrorCode.UNSUPPORTED_MODEL, `tensor '${name}' has tfjs dtype ${dtype}, which modelhost cannot exchange`);
  if (shape === undefined) {
    throw new ModelHostError(ErrorCode.UNSUPPORTED_MODEL, `tensor '${name}' has an unknown rank; modelhost needs every input and output to have a known rank`);
  }
  return { name, dtype: ours, shape: shape.map((d) => (d === null || d === undefined || d < 0 ? -1 : d)) };
}

export function toTfDType(dtype: DType): TfDType | undefined {
  return TO_TF[dtype];
}
