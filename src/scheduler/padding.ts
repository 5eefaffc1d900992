import { ErrorCode, ModelHostError } from '../errors/index.js';
import { concatRows, DTYPES, formatShape, shapeSize, type PreparedInputs, type Signature, type Tensor, type TensorData, type TensorSpec } from '../tensor/index.js';
import { DEFAULT_MAX_WASTE, type PaddingOptions } from './padding-options.js';
import type { Task } from './task.js';

interface PaddedInput {
  readonly name: string;
  readonly axis: number;
  readonly value: number;
  readonly maxLength: number;
  readonly spec: TensorSpec;
}

/**
 * Variable-length batching for one loaded version: requests whose padded inputs differ only
 * in length share a batch, padded to the batch's longest with `value` (and a mask the host
 * fills), and outputs named in `outputs` are sliced back to each request's length.
 *
 * A batch stops growing when the next request would make more than `maxWaste` of its
 * elements padding, so one long request does not make every short one pay for its length.
 */
export class Padding {
  private readonly inputs: readonly PaddedInput[];
  private readonly mask: TensorSpec | undefined;
  private readonly outputs: ReadonlyMap<string, number>;
  private readonly maxWaste: number;
  /** Each running task's own length, recorded when its batch is built (a settled task drops its inputs). */
  private readonly lengths = new WeakMap<Task, number>();

  /** Checks the options against the signature; throws INVALID_CONFIG naming what does not fit. */
  constructor(
    options: PaddingOptions,
    private readonly signature: Signature,
    private readonly context: { model: string; version: number },
  ) {
    const where = `model '${context.model}' v${context.version}: padding`;
    const find = (list: readonly TensorSpec[], name: string, kind: string) => {
      const spec = list.find((s) => s.name === name || s.aliases?.includes(name));
      if (spec === undefined) throw this.configError(`${where} names ${kind} '${name}', but the model's ${kind}s are ${list.map((s) => `'${s.name}'`).join(', ')}`);
      return spec;
    };
    this.inputs = Object.entries(options.inputs).map(([name, input]) => {
      const spec = find(signature.inputs, name, 'input');
      const axis = input.axis ?? 1;
      if (spec.shape[axis] !== -1) {
        throw this.configError(`${where}.inputs.${name}.axis is ${axis}, but '${spec.name}' ${formatShape(spec.shape)} has no variable dimension there`);
      }
      if (DTYPES[spec.dtype].array === undefined) throw this.configError(`${where}: '${spec.name}' holds strings, which cannot be padded`);
      return { name: spec.name, axis, value: input.value ?? 0, maxLength: input.maxLength, spec };
    });
    if (options.mask !== undefined) {
      this.mask = find(signature.inputs, options.mask, 'input');
      if (this.mask.shape.length !== 2 || this.mask.shape[0] !== -1 || this.mask.shape[1] !== -1 || DTYPES[this.mask.dtype].array === undefined) {
        throw this.configError(`${where}.mask '${this.mask.name}' must be a numeric or bool input of shape [-1, -1] (rows, length), got ${this.mask.dtype}${formatShape(this.mask.shape)}`);
      }
      if (this.inputs.some((i) => i.name === this.mask!.name)) throw this.configError(`${where}.mask '${this.mask.name}' is filled by the host, so it cannot be a padded input too`);
    }
    this.outputs = new Map(
      Object.entries(options.outputs ?? {}).map(([name, output]) => {
        const spec = find(signature.outputs, name, 'output');
        if (output.axis >= spec.shape.length) throw this.configError(`${where}.outputs.${name}.axis is ${output.axis}, but '${spec.name}' has rank ${spec.shape.length}`);
        return [spec.name, output.axis];
      }),
    );
    this.maxWaste = options.maxWaste ?? DEFAULT_MAX_WASTE;
  }

  /** The input the host fills, if any: clients do not send it. */
  get maskInput(): string | undefined {
    return this.mask?.name;
  }

  /**
   * Checks a request's lengths and gives it a batching key without them, so requests of
   * different lengths may share a batch. Throws INVALID_INPUT for a length over `maxLength`
   * or padded inputs of different lengths.
   */
  admit(prepared: PreparedInputs): PreparedInputs {
    let length = -1;
    for (const input of this.inputs) {
      const shape = prepared.tensors[input.name]!.shape;
      const n = shape[input.axis]!;
      if (n > input.maxLength) throw this.inputError(input.name, `expected at most ${input.maxLength} along axis ${input.axis} (padding.inputs.${input.name}.maxLength), got ${n} (shape ${formatShape(shape)})`);
      if (n === 0) throw this.inputError(input.name, `expected at least 1 along axis ${input.axis}, got an empty sequence (shape ${formatShape(shape)})`);
      if (length !== -1 && n !== length) throw this.inputError(input.name, `expected length ${length} along axis ${input.axis} like the other padded inputs, got ${n}`);
      length = n;
    }
    let key = '';
    for (const spec of this.signature.inputs) {
      const t = prepared.tensors[spec.name];
      if (t === undefined) continue;
      const padded = this.inputs.find((i) => i.name === spec.name);
      for (let axis = 1; axis < t.shape.length; axis++) key += axis === padded?.axis ? '*,' : `${t.shape[axis]},`;
      key += ';';
    }
    return { ...prepared, shapeKey: key };
  }

  /** A request's length along the padded axis. */
  lengthOf(task: Task): number {
    const first = this.inputs[0]!;
    return task.inputs[first.name]!.shape[first.axis]!;
  }

  /**
   * Decides, task by task in queue order, which join the batch being cut: a task that would
   * make more than `maxWaste` of the batch padding waits (the first one always joins).
   */
  batchFilter(): (task: Task) => boolean {
    let rows = 0;
    let real = 0;
    let longest = 0;
    return (task) => {
      const length = this.lengthOf(task);
      const nextRows = rows + task.rows;
      const nextReal = real + length * task.rows;
      const nextLongest = Math.max(longest, length);
      if (rows > 0 && 1 - nextReal / (nextRows * nextLongest) > this.maxWaste) return false;
      rows = nextRows;
      real = nextReal;
      longest = nextLongest;
      return true;
    };
  }

  /** The batch's inputs: padded inputs padded to the longest task, the others concatenated, the mask filled. */
  pad(tasks: readonly Task[]): Record<string, Tensor> {
    const lengths = tasks.map((task) => this.lengthOf(task));
    for (let i = 0; i < tasks.length; i++) this.lengths.set(tasks[i]!, lengths[i]!);
    const longest = Math.max(...lengths);
    const inputs: Record<string, Tensor> = {};
    for (const name in tasks[0]!.inputs) {
      const padded = this.inputs.find((i) => i.name === name);
      const parts = tasks.map((task) => task.inputs[name]!);
      inputs[name] = padded === undefined ? concatRows(parts) : padAlong(parts, lengths, longest, padded);
    }
    if (this.mask !== undefined) inputs[this.mask.name] = fillMask(this.mask, tasks, lengths, longest);
    return inputs;
  }

  /** Adds the mask (all ones) to inputs that were not built by `pad` (warmup sets). */
  complete(inputs: Record<string, Tensor>): Record<string, Tensor> {
    if (this.mask === undefined) return inputs;
    const first = this.inputs[0]!;
    const t = inputs[first.name];
    if (t === undefined) return inputs;
    const rows = t.shape[0]!;
    const length = t.shape[first.axis]!;
    return { ...inputs, [this.mask.name]: fillMask(this.mask, [{ rows } as Task], [length], length) };
  }

  /**
   * Why a batch's outputs cannot be sliced back per request, or undefined when they can: every
   * output named in `outputs` must be as long along its axis as the batch's padded inputs. A
   * model whose output length does not follow the input's (a text recognizer: 320 pixels of
   * width give 40 time steps) would otherwise be cut at the input's lengths, handing a request
   * values of the next row.
   */
  unsliceable(tasks: readonly Task[], outputs: Record<string, Tensor>): string | undefined {
    if (this.outputs.size === 0) return undefined;
    let longest = 0;
    for (const task of tasks) longest = Math.max(longest, this.lengths.get(task) ?? 0);
    if (longest === 0) return undefined; // not built by pad(): nothing to slice
    const input = this.inputs[0]!;
    for (const [name, axis] of this.outputs) {
      const t = outputs[name];
      if (t === undefined || t.shape[axis] === longest) continue;
      return (
        `output '${name}' has ${String(t.shape[axis])} along axis ${axis} for a batch padded to ${longest} along input '${input.name}' axis ${input.axis}, ` +
        `so it cannot be sliced back per request: padding.outputs.${name}.axis must name an axis as long as the padded input`
      );
    }
    return undefined;
  }

  /** One task's outputs with padded axes sliced back to its length; `single` outputs have no batch axis. */
  trim(task: Task, outputs: Record<string, Tensor>): Record<string, Tensor> {
    const length = this.lengths.get(task);
    if (length === undefined || this.outputs.size === 0) return outputs;
    const trimmed: Record<string, Tensor> = { ...outputs };
    for (const [name, axis] of this.outputs) {
      const t = outputs[name];
      if (t === undefined) continue;
      const at = task.single ? axis - 1 : axis;
      if (t.shape[at] === length) continue;
      trimmed[name] = sliceAxis(t, at, length);
    }
    return trimmed;
  }

  private inputError(name: string, detail: string): ModelHostError {
    const { model, version } = this.context;
    return new ModelHostError(ErrorCode.INVALID_INPUT, `model '${model}' v${version}, input '${name}': ${detail}`, { model, version });
  }

  private configError(message: string): ModelHostError {
    return new ModelHostError(ErrorCode.INVALID_CONFIG, message, this.context);
  }
}

/** Stacks `parts` along the batch axis, each padded with `value` from its length to `longest` along `axis`. */
function padAlong(parts: readonly Tensor[], lengths: readonly number[], longest: number, input: PaddedInput): Tensor {
  const first = parts[0]!;
  const rows = parts.reduce((n, p) => n + p.shape[0]!, 0);
  const shape = first.shape.slice();
  shape[0] = rows;
  shape[input.axis] = longest;
  const Storage = DTYPES[input.spec.dtype].array!;
  const out = new Storage(shapeSize(shape));
  const value = DTYPES[input.spec.dtype].kind === 'bigint' ? BigInt(Math.trunc(input.value)) : input.value;
  if (value !== 0 && value !== 0n) (out as { fill(v: unknown): unknown }).fill(value);
  const inner = shapeSize(first.shape.slice(input.axis + 1));
  let offset = 0;
  for (let p = 0; p < parts.length; p++) {
    const part = parts[p]!;
    const length = lengths[p]!;
    const outer = shapeSize(part.shape.slice(0, input.axis)); // rows × dimensions before the axis
    const chunk = length * inner;
    const stride = longest * inner;
    const data = part.data as Float32Array;
    for (let o = 0; o < outer; o++) (out as Float32Array).set(data.subarray(o * chunk, (o + 1) * chunk), offset + o * stride);
    offset += outer * stride;
  }
  return { data: out as TensorData, shape, dtype: first.dtype };
}

/** `[rows, longest]`: 1 (or true) where a task has a position, 0 where it was padded. */
function fillMask(spec: TensorSpec, tasks: readonly Pick<Task, 'rows'>[], lengths: readonly number[], longest: number): Tensor {
  const info = DTYPES[spec.dtype];
  const rows = tasks.reduce((n, t) => n + t.rows, 0);
  const out = new info.array!(rows * longest) as unknown as { fill(v: unknown, start: number, end: number): unknown };
  const one = info.kind === 'bigint' ? 1n : 1;
  let row = 0;
  for (let t = 0; t < tasks.length; t++) {
    for (let r = 0; r < tasks[t]!.rows; r++, row++) out.fill(one, row * longest, row * longest + lengths[t]!);
  }
  return { data: out as unknown as TensorData, shape: [rows, longest], dtype: spec.dtype };
}

/** The first `length` entries of `axis` (a copy). */
function sliceAxis(t: Tensor, axis: number, length: number): Tensor {
  const shape = t.shape.slice();
  const full = shape[axis]!;
  shape[axis] = length;
  const outer = shapeSize(t.shape.slice(0, axis));
  const inner = shapeSize(t.shape.slice(axis + 1));
  if (Array.isArray(t.data)) {
    const out: string[] = [];
    for (let o = 0; o < outer; o++) out.push(...(t.data as string[]).slice(o * full * inner, o * full * inner + length * inner));
    return { data: out, shape, dtype: t.dtype };
  }
  const data = t.data as Float32Array;
  const out = new (data.constructor as Float32ArrayConstructor)(outer * length * inner);
  for (let o = 0; o < outer; o++) out.set(data.subarray(o * full * inner, o * full * inner + length * inner), o * length * inner);
  return { data: out as TensorData, shape, dtype: t.dtype };
}
