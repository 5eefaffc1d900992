import { ErrorCode, ModelHostError } from '../../errors/index.js';
import type { DType, Signature, Tensor, TensorData, TensorSpec } from '../../tensor/index.js';
import { bytesOf, type BytesElement } from '../../tensor/codec/index.js';
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
    const inputNames = inputs.map((s) => s.name);
    const outputNames = model.outputs.map((t) => t.name);
    const execute = (xs: TfTensor[]): TfTensor[] => {
      const feed: Record<string, TfTensor> = {};
      for (let i = 0; i < xs.length; i++) feed[inputNames[i]!] = xs[i]!;
      const out = model.execute(feed, outputNames);
      return Array.isArray(out) ? out : [out];
    };
    // Converted graph models often leave output shapes out; learn them from two probe runs.
    const outputs = model.outputs.every((t) => t.shape !== undefined)
      ? model.outputs.map((t) => spec(t.name, t.dtype, t.shape))
      : probeOutputs(tf, inputs, model.outputs, execute);
    return new TfjsSession(tf, { signature: { inputs, outputs }, execute, dispose: () => model.dispose() }, onDispose);
  }

  async run(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    if (this.disposed) throw new ModelHostError(ErrorCode.INFERENCE_FAILED, 'the tfjs session was disposed');
    const { tf, signature } = this;
    const result: Record<string, Tensor> = {};
    tf.tidy(() => {
      const xs = signature.inputs.map((s) => {
        const t = inputs[s.name]!;
        // tfjs string tensors hold bytes: text is UTF-8 encoded, bytes pass as they are.
        const data = s.dtype === 'string' ? (t.data as BytesElement[]).map(bytesOf) : t.data;
        return tf.tensor(data as Float32Array, t.shape as number[], TO_TF[s.dtype]);
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

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function readData(y: TfTensor): TensorData {
  const data = y.dataSync() as unknown;
  if (y.dtype !== 'string') return data as TensorData;
  // Text where the bytes are UTF-8, the bytes themselves where they are not: nothing is lost.
  return (data as Uint8Array[]).map((bytes) => {
    try {
      return utf8.decode(bytes);
    } catch {
      return bytes.slice();
    }
  });
}

function spec(name: string, dtype: string | undefined, shape: readonly (number | null)[] | undefined): TensorSpec {
  const ours = FROM_TF[dtype ?? 'float32'];
  if (ours === undefined) throw new ModelHostError(ErrorCode.UNSUPPORTED_MODEL, `tensor '${name}' has tfjs dtype ${dtype}, which modelhost cannot exchange`);
  if (shape === undefined) {
    throw new ModelHostError(ErrorCode.UNSUPPORTED_MODEL, `tensor '${name}' has an unknown rank; modelhost needs every input and output to have a known rank`);
  }
  return { name, dtype: ours, shape: shape.map((d) => (d === null || d === undefined || d < 0 ? -1 : d)) };
}

/**
 * Output specs found by running the model on zeros at batch sizes 1 and 2: a leading
 * dimension that follows the batch is the batch dimension, the others are fixed.
 */
function probeOutputs(tf: Tfjs, inputs: readonly TensorSpec[], outputs: readonly tfjs.ModelTensorInfo[], execute: (xs: TfTensor[]) => TfTensor[]): TensorSpec[] {
  const batched = inputs.length > 0 && inputs.every((s) => s.shape[0] === -1 && s.shape.slice(1).every((d) => d >= 0));
  if (!batched && !inputs.every((s) => s.shape.every((d) => d >= 0))) {
    const names = outputs.map((o) => `'${o.name}'`).join(', ');
    throw new ModelHostError(ErrorCode.UNSUPPORTED_MODEL, `the graph model does not declare the shapes of ${names}, and its inputs have variable dimensions, so they cannot be probed`);
  }
  const shapesAt = (rows: number) =>
    tf.tidy(() => {
      const xs = inputs.map((s) => tf.zeros(s.shape.map((d, i) => (i === 0 && batched ? rows : d)), TO_TF[s.dtype]));
      return execute(xs).map((y) => y.shape);
    });
  const one = shapesAt(1);
  const two = batched ? shapesAt(2) : one;
  return outputs.map((o, i) => {
    const a = one[i]!;
    const b = two[i]!;
    const shape = a.map((d, axis) => (batched && axis === 0 && d === 1 && b[0] === 2 ? -1 : d));
    return spec(o.name, o.dtype, shape);
  });
}

export function toTfDType(dtype: DType): TfDType | undefined {
  return TO_TF[dtype];
}
