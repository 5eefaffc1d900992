import { ErrorCode, ModelHostError } from '../../errors/index.js';
import { formatShape, type DType, type Signature, type Tensor, type TensorData, type TensorSpec } from '../../tensor/index.js';
import { bytesOf, type BytesElement } from '../../tensor/codec/index.js';
import type { Session } from '../runtime.js';
import type { Tfjs } from './tfjs-backend.js';
import { needsAsyncExecution } from './dynamic-ops.js';
import { namesOf, narrowInteger, type GraphSignature, type SignatureEntry } from './graph-signature.js';
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
  /**
   * Graphs with dynamic ops (control flow, NonMaxSuppression, Where): runs with tfjs's
   * `executeAsync`, outside `tf.tidy`; the caller disposes inputs and outputs.
   */
  executeAsync?(inputs: TfTensor[]): Promise<TfTensor[]>;
  dispose(): void;
}

/**
 * A tfjs model behind the Session SPI. Every tensor it creates lives inside `tf.tidy` (or,
 * for graphs run with `executeAsync`, is disposed once read), so the live tensor count
 * returns to where it was once `run` settles.
 */
export class TfjsSession implements Session {
  readonly signature: Signature;
  private disposed = false;

  constructor(
    private readonly tf: Tfjs,
    private readonly model: Executable,
    private readonly onDispose: () => void,
    /** Whether runs use `executeAsync`: decided at load, or by the first run (the warmup) if tfjs asks for it. */
    private dynamic = false,
  ) {
    this.signature = model.signature;
  }

  /** Whether this session runs its graph with `executeAsync`. */
  get async(): boolean {
    return this.dynamic;
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

  /**
   * A graph model. Tensors are named by `model.json`'s signature keys, with the graph tensor
   * names (with and without `:0`) as aliases. Graphs with dynamic ops (`dynamicOps`, found in
   * the topology) run with `executeAsync`. Output shapes come from the graph, else from the
   * signature, else from running the model on zeros of the declared input shapes.
   */
  static async graph(tf: Tfjs, model: tfjs.GraphModel, declared: GraphSignature, dynamicOps: readonly string[], onDispose: () => void): Promise<TfjsSession> {
    const inputNodes = model.inputs.map((t) => t.name);
    const outputNodes = model.outputs.map((t) => t.name);
    const feed = (xs: TfTensor[]): Record<string, TfTensor> => {
      const named: Record<string, TfTensor> = {};
      for (let i = 0; i < xs.length; i++) named[inputNodes[i]!] = xs[i]!;
      return named;
    };
    const list = (out: TfTensor | TfTensor[]) => (Array.isArray(out) ? out : [out]);
    const execute = (xs: TfTensor[]): TfTensor[] => list(model.execute(feed(xs), outputNodes));
    const executeAsync = async (xs: TfTensor[]): Promise<TfTensor[]> => list(await model.executeAsync(feed(xs), outputNodes));
    let dynamic = dynamicOps.length > 0;

    const inputs = model.inputs.map((t) => {
      const entry = declared.inputs.get(t.name);
      const base = spec(t.name, t.dtype ?? entry?.dtype, t.shape ?? entry?.shape);
      // A narrower integer the graph declares (a uint8 image): tfjs computes on int32; the declared type is reported and bounds the values.
      const narrow = base.dtype === 'int32' ? declared.narrow.get(t.name) : undefined;
      return { ...base, ...namesOf(t.name, entry), ...(narrow === undefined ? {} : { range: narrow.range, declaredDtype: narrow.dtype }) };
    });
    const known = model.outputs.map((t) => {
      const entry = declared.outputs.get(t.name);
      const shape = t.shape ?? entry?.shape;
      return shape === undefined ? undefined : outputSpec(spec(t.name, t.dtype ?? entry?.dtype, shape), t.name, entry);
    });
    let outputs: TensorSpec[];
    if (known.every((o) => o !== undefined)) outputs = dynamic ? (known as TensorSpec[]) : await batchedOutputs(tf, inputs, known as TensorSpec[], (xs) => Promise.resolve(execute(xs)));
    else {
      const probe = (xs: TfTensor[]) => (dynamic ? executeAsync(xs) : Promise.resolve(execute(xs)));
      let probed: Probe;
      try {
        probed = await probeOutputs(tf, inputs, inputNodes, model.outputs, declared, probe);
      } catch (error) {
        // A dynamic op the topology scan missed (a newer tfjs op): tfjs says so; switch once.
        if (dynamic || !needsAsyncExecution(error)) throw error;
        dynamic = true;
        probed = await probeOutputs(tf, inputs, inputNodes, model.outputs, declared, probe);
      }
      outputs = model.outputs.map((t, i) => known[i] ?? outputSpec(spec(t.name, probed.one[i]!.dtype, learnedShape(probed, i, dynamic)), t.name, declared.outputs.get(t.name)));
    }
    return new TfjsSession(tf, { signature: { inputs, outputs }, execute, executeAsync, dispose: () => model.dispose() }, onDispose, dynamic);
  }

  async run(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    if (this.disposed) throw new ModelHostError(ErrorCode.INFERENCE_FAILED, 'the tfjs session was disposed');
    if (this.dynamic) return this.runAsync(inputs);
    const result: Record<string, Tensor> = {};
    try {
      this.runSync(inputs, result);
    } catch (error) {
      // A dynamic op the topology scan did not know: tfjs names it; switch once, for good.
      if (this.model.executeAsync === undefined || !needsAsyncExecution(error)) throw error;
      this.dynamic = true;
      return this.runAsync(inputs);
    }
    return result;
  }

  private runSync(inputs: Record<string, Tensor>, result: Record<string, Tensor>): void {
    const { tf, signature } = this;
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
  }

  private async runAsync(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    const { tf, signature } = this;
    const xs = signature.inputs.map((s) => {
      const t = inputs[s.name]!;
      return tf.tensor(t.data as Float32Array, t.shape as number[], TO_TF[s.dtype]);
    });
    let ys: TfTensor[] = [];
    try {
      ys = await this.model.executeAsync!(xs);
      const result: Record<string, Tensor> = {};
      for (let i = 0; i < signature.outputs.length; i++) {
        const y = ys[i]!;
        const out = signature.outputs[i]!;
        result[out.name] = { data: readData(y), shape: y.shape, dtype: out.dtype };
      }
      return result;
    } finally {
      tf.dispose(xs);
      tf.dispose(ys);
    }
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

/**
 * A graph output's spec: named by its signature key, and with the narrower integer type the
 * signature declares (`DT_UINT8`) where tfjs computes it as int32; the scheduler gives its
 * values back in that type, exactly or not at all (`asDeclared`).
 */
function outputSpec(base: { name: string; dtype: DType; shape: number[] }, node: string, entry: SignatureEntry | undefined): TensorSpec {
  const narrow = base.dtype === 'int32' ? narrowInteger(entry?.declared) : undefined;
  return { ...base, ...namesOf(node, entry), ...(narrow === undefined ? {} : { declaredDtype: narrow.dtype }) };
}

function spec(name: string, dtype: string | undefined, shape: readonly (number | null)[] | undefined): { name: string; dtype: DType; shape: number[] } {
  const ours = FROM_TF[dtype ?? 'float32'];
  if (ours === undefined) throw new ModelHostError(ErrorCode.UNSUPPORTED_MODEL, `tensor '${name}' has tfjs dtype ${dtype}, which modelhost cannot exchange`);
  if (shape === undefined) {
    throw new ModelHostError(ErrorCode.UNSUPPORTED_MODEL, `tensor '${name}' has an unknown rank; modelhost needs every input and output to have a known rank`);
  }
  return { name, dtype: ours, shape: shape.map((d) => (d === null || d === undefined || d < 0 ? -1 : d)) };
}

/**
 * Outputs a graph declares for one instance (`[1, …]`) while every input takes any leading
 * size (`[-1, …]`): a signature exported at batch 1 (`faceres`). One run at two rows of zeros
 * tells: if every output then leads with 2 and keeps its other sizes, they follow the batch
 * and lead with -1; otherwise (or if the run fails) they stay as declared, and the model is
 * served one request per call.
 */
async function batchedOutputs(tf: Tfjs, inputs: readonly TensorSpec[], outputs: TensorSpec[], run: (xs: TfTensor[]) => Promise<TfTensor[]>): Promise<TensorSpec[]> {
  const candidate = inputs.length > 0 && inputs.every((s) => s.shape[0] === -1 && s.shape.slice(1).every((d) => d >= 0)) && outputs.length > 0 && outputs.every((o) => o.shape[0] === 1);
  if (!candidate) return outputs;
  const xs = inputs.map((s) => tf.zeros([2, ...s.shape.slice(1)], TO_TF[s.dtype]));
  let ys: TfTensor[] = [];
  try {
    ys = await run(xs);
    const follows = ys.length === outputs.length && ys.every((y, i) => y.shape[0] === 2 && y.shape.length === outputs[i]!.shape.length && y.shape.slice(1).every((d, axis) => outputs[i]!.shape[axis + 1] === -1 || outputs[i]!.shape[axis + 1] === d));
    return follows ? outputs.map((o) => ({ ...o, shape: [-1, ...o.shape.slice(1)] })) : outputs;
  } catch {
    return outputs; // it takes one instance only, whatever its input says: served unbatched
  } finally {
    tf.dispose(xs);
    tf.dispose(ys);
  }
}

interface Probe {
  /** Whether every input has a leading batch dimension, probed at 1 and 2 rows. */
  readonly batched: boolean;
  /** Whether a variable input dimension took its size from model.json's signature. */
  readonly borrowed: boolean;
  readonly one: readonly { shape: number[]; dtype: string }[];
  readonly two: readonly { shape: number[]; dtype: string }[];
}

/**
 * Output `i`'s shape from the probe: a leading size that followed the batch (1, then 2) is
 * the batch dimension; other sizes are kept where they can be trusted, else -1.
 */
function learnedShape(probed: Probe, i: number, dynamic: boolean): number[] {
  const one = probed.one[i]!.shape;
  const two = probed.two[i]!.shape;
  const followsBatch = probed.batched && one[0] === 1 && two[0] === 2;
  return one.map((d, axis) => {
    if (axis === 0) return followsBatch ? -1 : d; // a data-dependent leading size must not pass for a batch
    // A dynamic graph's sizes may depend on the data (a box count), which zeros cannot show;
    // and sizes seen at a borrowed input size (the signature's) may follow the input's.
    return dynamic || probed.borrowed || two[axis] !== d ? -1 : d;
  });
}

/**
 * Output shapes learned by running the model on zeros of its declared input shapes, at batch
 * sizes 1 and 2 where every input has a leading batch dimension. A variable dimension takes
 * the size `model.json`'s signature declares for it; one that nothing fixes cannot be probed.
 */
async function probeOutputs(
  tf: Tfjs,
  inputs: readonly TensorSpec[],
  inputNodes: readonly string[],
  outputs: readonly tfjs.ModelTensorInfo[],
  declared: GraphSignature,
  run: (xs: TfTensor[]) => Promise<TfTensor[]>,
): Promise<Probe> {
  const batched = inputs.length > 0 && inputs.every((s) => s.shape[0] === -1);
  const shapes = inputs.map((s, i) => {
    const fromFile = declared.inputs.get(inputNodes[i]!)?.shape;
    return s.shape.map((d, axis) => (d >= 0 ? d : batched && axis === 0 ? -1 : fromFile?.length === s.shape.length && fromFile[axis]! >= 0 ? fromFile[axis]! : Number.NaN));
  });
  const unfixed = inputs.filter((_, i) => shapes[i]!.some((d) => Number.isNaN(d)));
  if (unfixed.length > 0) {
    const names = outputs.map((o) => `'${o.name}'`).join(', ');
    const which = unfixed.map((s) => `'${s.name}' ${formatShape(s.shape)}`).join(', ');
    throw new ModelHostError(
      ErrorCode.UNSUPPORTED_MODEL,
      `the graph model states the shapes of neither ${names} nor a size for every variable dimension of its input${unfixed.length > 1 ? 's' : ''} ${which} (in the graph or model.json's signature), so its outputs cannot be probed`,
    );
  }
  const at = async (rows: number) => {
    const xs = inputs.map((s, i) => tf.zeros(shapes[i]!.map((d) => (d === -1 ? rows : d)), TO_TF[s.dtype]));
    let ys: TfTensor[] = [];
    try {
      ys = await run(xs);
      return ys.map((y) => ({ shape: y.shape.slice(), dtype: y.dtype as string }));
    } finally {
      tf.dispose(xs);
      tf.dispose(ys);
    }
  };
  const one = await at(1);
  const two = batched ? await at(2) : one;
  const borrowed = inputs.some((s) => s.shape.some((d, axis) => d < 0 && !(batched && axis === 0)));
  return { batched, borrowed, one, two };
}

export function toTfDType(dtype: DType): TfDType | undefined {
  return TO_TF[dtype];
}
