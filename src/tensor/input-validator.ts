import { ErrorCode, ModelHostError, show } from '../errors/index.js';
import { bytesAsText, invalidBool, type BytesElement } from './codec/index.js';
import { MAX_RANK } from './codec/nested.js';
import { ConversionError, describeValue, fromFlat, fromNested } from './convert.js';
import { narrowerDeclared } from './declared-datatype.js';
import { DTYPES, dtypeOfData, type DType, type TensorData } from './dtype.js';
import { formatShape, hasBatchDimension, shapeSize, type Signature, type Tensor, type TensorSpec } from './tensor.js';

/** `instance`: one request without a batch dimension (`predict`); `batch`: a leading batch dimension (`predictBatch`). */
export type InputMode = 'instance' | 'batch';

export interface PreparedInputs {
  /** One tensor per signature input, in signature order; batchable models get a leading batch dimension. */
  readonly tensors: Record<string, Tensor>;
  /** Rows along the batch dimension (1 for models without one). */
  readonly rows: number;
  /** Requests share a batch only when their keys match: the sizes of their variable non-batch dimensions. */
  readonly shapeKey: string;
  /** One instance given to a batched model (`predict`): its outputs come back without the batch dimension. */
  readonly single: boolean;
}

interface CompiledSpec {
  readonly spec: TensorSpec;
  readonly name: string;
  readonly dtype: DType;
  /** The shape of one instance: the spec's shape without the batch dimension, if the model has one. */
  readonly instanceShape: readonly number[];
  /** Elements in one instance, or -1 when an instance has variable dimensions. */
  readonly instanceSize: number;
  /** `[1, ...instanceShape]`, shared by every fixed-shape instance (shapes are never mutated). */
  readonly singleRowShape: readonly number[];
  readonly variableDims: boolean;
  /** Other names the input answers to (graph tensor names with and without `:0`). */
  readonly aliases: readonly string[];
  /** The typed array class of the dtype (undefined for strings). */
  readonly storage: (abstract new (...args: never[]) => ArrayBufferView) | undefined;
  /** The values an int32 input the model declares narrower can hold (`TensorSpec.range`). */
  readonly range: readonly [number, number] | undefined;
  /** The narrower dtype the model declares for an int32 input (`TensorSpec.declaredDtype`), which requests may send too. */
  readonly declared: DType | undefined;
  /** Whether its values are checked beyond their storage (`range`; bool: 0 or 1), so no typed array is taken as it is. */
  readonly valuesChecked: boolean;
}

/**
 * Turns what callers pass (tensors, typed arrays, nested arrays, scalars) into validated
 * tensors for one signature. Compiled once per loaded version; `prepare` is on the hot path.
 */
export class InputValidator {
  readonly batched: boolean;
  private readonly specs: readonly CompiledSpec[];
  private readonly names: ReadonlySet<string>;
  /** Each input's own name → its index in `specs` (aliases are not in it). */
  private readonly positions: ReadonlyMap<string, number>;
  private readonly anyVariableDims: boolean;

  /** An input the host fills (padding's mask): clients do not send it. */
  private readonly hostFilled: string | undefined;

  constructor(
    readonly signature: Signature,
    private readonly context: { model: string; version?: number },
    options: { hostFilled?: string | undefined } = {},
  ) {
    this.batched = hasBatchDimension(signature);
    this.hostFilled = options.hostFilled;
    this.specs = signature.inputs.filter((spec) => spec.name !== options.hostFilled).map((spec) => {
      const instanceShape = this.batched ? spec.shape.slice(1) : spec.shape.slice();
      const variableDims = instanceShape.some((d) => d < 0) || spec.rankUnknown === true;
      return {
        spec,
        name: spec.name,
        dtype: spec.dtype,
        instanceShape,
        instanceSize: variableDims ? -1 : shapeSize(instanceShape),
        singleRowShape: Object.freeze([1, ...instanceShape]),
        variableDims,
        aliases: spec.aliases ?? [],
        storage: DTYPES[spec.dtype].array,
        range: spec.dtype === 'int32' ? spec.range : undefined,
        declared: narrowerDeclared(spec),
        valuesChecked: (spec.dtype === 'int32' && spec.range !== undefined) || spec.dtype === 'bool',
      };
    });
    this.names = new Set(this.specs.flatMap((s) => [s.name, ...s.aliases]));
    this.positions = new Map(this.specs.map((s, i) => [s.name, i]));
    this.anyVariableDims = this.specs.some((s) => s.variableDims);
  }

  /** Validates and converts `inputs`; throws a ModelHostError(INVALID_INPUT) that names the input, the expected and the received. */
  prepare(inputs: unknown, mode: InputMode): PreparedInputs {
    if (mode === 'batch' && !this.batched) {
      throw this.error(`has no batch dimension (its inputs do not all start with -1), so it takes predict(), not predictBatch()`);
    }
    const single = mode === 'instance' && this.batched;
    // The common case, a bare value for a one-input model: no wrapper record, no key count.
    if (this.specs.length === 1 && isBareValue(inputs, this.specs[0]!.name)) {
      const compiled = this.specs[0]!;
      const t = this.checkRows(compiled, this.toTensor(compiled, inputs, mode), -1);
      const tensors: Record<string, Tensor> = {};
      tensors[compiled.name] = t;
      return { tensors, rows: this.batched ? t.shape[0]! : 1, shapeKey: this.anyVariableDims ? this.keyOf(tensors) : '', single };
    }
    const named = this.byOwnNames(inputs);
    if (named !== undefined) {
      const tensors: Record<string, Tensor> = {};
      let rows = -1;
      for (let i = 0; i < this.specs.length; i++) {
        const compiled = this.specs[i]!;
        const t = this.checkRows(compiled, this.toTensor(compiled, this.specs.length === 1 ? named : (named as unknown[])[i], mode), rows);
        if (this.batched) rows = t.shape[0]!;
        tensors[compiled.name] = t;
      }
      return { tensors, rows: this.batched ? rows : 1, shapeKey: this.anyVariableDims ? this.keyOf(tensors) : '', single };
    }
    // Maps, aliases, and every input error: the record as a Map (one per request, but not on the common path).
    const record = this.asRecord(inputs);
    const tensors: Record<string, Tensor> = {};
    let rows = -1;
    let found = 0;
    for (let i = 0; i < this.specs.length; i++) {
      const compiled = this.specs[i]!;
      // Own properties only: an input named 'constructor' or '__proto__' is never inherited.
      const value = record.get(compiled.name) ?? this.byAlias(compiled, record);
      if (value === undefined) throw this.missing(compiled, record);
      found++;
      const t = this.checkRows(compiled, this.toTensor(compiled, value, mode), rows);
      if (this.batched) rows = t.shape[0]!;
      tensors[compiled.name] = t;
    }
    if (found !== record.size) throw this.unknown(record);
    return { tensors, rows: this.batched ? rows : 1, shapeKey: this.anyVariableDims ? this.keyOf(tensors) : '', single };
  }

  /**
   * The common named form, a plain object whose own enumerable keys are exactly the inputs'
   * names, each with a value: the one value (one input) or the values in signature order;
   * otherwise undefined, and `prepare` takes the general path (Maps, aliases, errors), which
   * reads the object again.
   *
   * Why: the general path copies the object into a `Map` (`Object.entries`: an array per key,
   * the entries array and the Map), several hundred bytes per request for the form the README
   * shows, `predict(name, { input: data })`.
   */
  private byOwnNames(inputs: unknown): unknown {
    if (typeof inputs !== 'object' || inputs === null || inputs instanceof Map || Array.isArray(inputs) || ArrayBuffer.isView(inputs)) return undefined;
    const specs = this.specs;
    const one = specs.length === 1 ? specs[0]!.name : undefined;
    let value: unknown;
    let values: unknown[] | undefined;
    let found = 0;
    // for…in with Object.hasOwn visits what Object.entries does: own enumerable string keys, once each.
    for (const key in inputs) {
      if (!Object.hasOwn(inputs, key)) continue;
      const given = (inputs as Record<string, unknown>)[key];
      if (given === undefined) return undefined;
      if (one !== undefined) {
        if (key !== one) return undefined;
        value = given;
      } else {
        const index = this.positions.get(key);
        if (index === undefined) return undefined;
        (values ??= new Array<unknown>(specs.length))[index] = given;
      }
      found++;
    }
    if (found !== specs.length) return undefined;
    return one !== undefined ? value : values;
  }

  /** The value given under one of the input's aliases (`input_1:0` for `input_1`), if any. */
  private byAlias(compiled: CompiledSpec, record: ReadonlyMap<string, unknown>): unknown {
    for (const alias of compiled.aliases) if (record.has(alias)) return record.get(alias);
    return undefined;
  }

  /** Batched models: at least one row, and as many as the inputs before (`rows`, -1 for the first). */
  private checkRows(compiled: CompiledSpec, t: Tensor, rows: number): Tensor {
    if (!this.batched) return t;
    const r = t.shape[0]!;
    if (r === 0) throw this.inputError(compiled, `expected at least one row, got an empty batch (shape ${formatShape(t.shape)})`);
    if (rows !== -1 && r !== rows) throw this.inputError(compiled, `expected ${rows} rows like the other inputs, got ${r} (shape ${formatShape(t.shape)})`);
    return t;
  }

  /** Inputs by name: a Map as given, or an object's own enumerable string keys. */
  private asRecord(inputs: unknown): ReadonlyMap<string, unknown> {
    if (inputs instanceof Map) {
      for (const key of inputs.keys()) if (typeof key !== 'string') throw this.error(`expected inputs keyed by input name, got a Map key ${describeValue(key)}`);
      return inputs as ReadonlyMap<string, unknown>;
    }
    if (typeof inputs !== 'object' || inputs === null || Array.isArray(inputs) || ArrayBuffer.isView(inputs)) {
      const names = this.specs.map((s) => `'${s.name}'`).join(', ');
      throw this.error(`expected inputs as an object keyed by input name (${names}), got ${describeValue(inputs)}`);
    }
    return new Map(Object.entries(inputs));
  }

  private toTensor(compiled: CompiledSpec, value: unknown, mode: InputMode): Tensor {
    const { dtype } = compiled;
    const single = mode === 'instance' && this.batched;
    // Fast path: one instance as a typed array of exactly the right type and size.
    if (single && compiled.storage !== undefined && value instanceof compiled.storage && (value as Float32Array).length === compiled.instanceSize && !compiled.valuesChecked) {
      if (!(value instanceof Uint8ClampedArray)) return { data: value as unknown as TensorData, shape: compiled.singleRowShape, dtype };
    }
    let data: TensorData;
    let shape: readonly number[];
    if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
      data = this.checkStorage(compiled, value, undefined);
      shape = this.shapeForFlat(compiled, data.length, mode);
    } else if (isTensorLike(value)) {
      shape = this.checkShapeValue(compiled, value.shape);
      // The dtype the model declares (uint8 for a tfjs image fed as int32) is as good as the one it runs on.
      const given = value.dtype === undefined || value.dtype === dtype ? dtype : value.dtype === compiled.declared ? compiled.declared : undefined;
      if (given === undefined) {
        throw this.inputError(compiled, `expected dtype ${dtype}${compiled.declared === undefined ? '' : ` or ${compiled.declared} (as the model declares it)`}, got ${String(value.dtype)}`);
      }
      if (Array.isArray(value.data)) {
        data = this.convert(compiled, () => fromFlat(value.data as unknown[], given));
        if (given !== dtype) data = Int32Array.from(data as Uint8Array); // the declared narrower type, widened exactly
      }
      else if (ArrayBuffer.isView(value.data)) data = this.checkStorage(compiled, value.data, value.dtype);
      else throw this.inputError(compiled, `expected data as a typed array or an array, got ${describeValue(value.data)}`);
      const expected = shapeSize(shape);
      if (data.length !== expected) {
        throw this.inputError(compiled, `data has ${data.length} elements but shape ${formatShape(shape)} holds ${expected}`);
      }
    } else {
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
        throw this.inputError(compiled, `expected a tensor ({ data, shape }), a typed array or a nested array, got ${describeValue(value)}`);
      }
      const converted = this.convert(compiled, () => fromNested(value, dtype));
      data = converted.data;
      shape = converted.shape;
    }
    this.checkShape(compiled, shape, single);
    if (dtype === 'string' && this.signature.textOnlyStrings === true) data = this.asText(compiled, data as BytesElement[]);
    if (compiled.range !== undefined) this.checkRange(compiled, data as Int32Array, compiled.range);
    if (dtype === 'bool') this.checkBools(compiled, data as Uint8Array);
    if (!single) return { data, shape, dtype };
    return { data, shape: compiled.variableDims ? [1, ...shape] : compiled.singleRowShape, dtype };
  }

  /** An int32 input the model declares narrower (a `DT_UINT8` image): every value must fit, or it is refused rather than computed on. */
  private checkRange(compiled: CompiledSpec, data: Int32Array, [min, max]: readonly [number, number]): void {
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      if (v < min || v > max) throw this.inputError(compiled, `element ${i} is ${v}, outside ${min}..${max}, the values the model's declared type holds (int32 carries it, as in tfjs)`);
    }
  }

  /** A bool input given as bytes (a Uint8Array): each must be 0 or 1, or it is refused rather than read as true (or as whatever the runtime makes of it). */
  private checkBools(compiled: CompiledSpec, data: Uint8Array): void {
    const bad = invalidBool(data);
    if (bad >= 0) throw this.inputError(compiled, `element ${bad} is ${data[bad]}; a bool is 0 or 1`);
  }

  /** For runtimes whose string tensors are C strings: every element as text without NUL, or refused. */
  private asText(compiled: CompiledSpec, data: BytesElement[]): string[] {
    const text = new Array<string>(data.length);
    for (let i = 0; i < data.length; i++) {
      const s = this.convert(compiled, () => {
        try {
          return bytesAsText(data[i]!, i);
        } catch (error) {
          throw error instanceof ConversionError ? new ConversionError(`${error.message}, and this model's runtime (onnxruntime-node string tensors) carries only UTF-8 text`) : error;
        }
      });
      if (s.includes('\0')) {
        throw this.inputError(compiled, `element ${i} contains a NUL byte, which this model's runtime (onnxruntime-node string tensors) cannot carry; it is refused rather than truncated`);
      }
      text[i] = s;
    }
    return text;
  }

  private checkStorage(compiled: CompiledSpec, data: ArrayBufferView, declared: DType | undefined): TensorData {
    const { dtype } = compiled;
    const storage = DTYPES[dtype].array;
    // Uint8Array also stores bool, Uint16Array also stores float16: the spec's dtype decides.
    if (storage !== undefined && data instanceof storage && !(data instanceof Uint8ClampedArray) && (declared === undefined || declared === dtype)) return data as TensorData;
    // The narrower type the model declares for an int32 input: widened, every value exact.
    const narrow = compiled.declared === undefined ? undefined : DTYPES[compiled.declared].array;
    if (narrow !== undefined && data instanceof narrow && !(data instanceof Uint8ClampedArray) && (declared === undefined || declared === compiled.declared)) {
      return Int32Array.from(data as Uint8Array);
    }
    const got = declared ?? dtypeOfData(data) ?? data.constructor.name;
    const also = compiled.declared === undefined ? '' : ` or ${compiled.declared} (${narrow!.name}, as the model declares it)`;
    throw this.inputError(compiled, `expected dtype ${dtype} (${storage?.name ?? 'string[]'})${also}, got ${got} (${data.constructor.name})`);
  }

  private shapeForFlat(compiled: CompiledSpec, length: number, mode: InputMode): readonly number[] {
    const { instanceShape, instanceSize } = compiled;
    if (instanceSize < 0 && !(mode === 'batch' && this.batched)) {
      // One instance with a single variable dimension (a token sequence): its size follows from the length.
      const variable = instanceShape.filter((d) => d < 0).length;
      const fixed = shapeSize(instanceShape.filter((d) => d >= 0));
      if (variable === 1 && fixed > 0 && length % fixed === 0) return instanceShape.map((d) => (d < 0 ? length / fixed : d));
    }
    if (instanceSize < 0) {
      const what = compiled.spec.rankUnknown === true ? 'has no declared shape' : `has variable dimensions ${formatShape(compiled.spec.shape)}`;
      throw this.inputError(compiled, `${what}, so a bare typed array is ambiguous; pass { data, shape }`);
    }
    if (mode === 'batch' && this.batched) {
      if (instanceSize === 0 || length % instanceSize !== 0 || length === 0) {
        throw this.inputError(compiled, `expected a multiple of ${instanceSize} elements (rows of ${formatShape(instanceShape)}), got ${length}`);
      }
      return [length / instanceSize, ...instanceShape];
    }
    if (length !== instanceSize) {
      throw this.inputError(compiled, `expected ${instanceSize} elements (shape ${formatShape(instanceShape)}), got ${length}`);
    }
    return instanceShape;
  }

  private checkShapeValue(compiled: CompiledSpec, shape: unknown): readonly number[] {
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw this.inputError(compiled, `expected shape as an array of non-negative integers, got ${Array.isArray(shape) ? show(shape) : describeValue(shape)}`);
    }
    // Checked for every input, not only one whose rank the model leaves open: a shape the
    // runtime would take is echoed in messages (a refusal names it), so its length is bounded.
    if (shape.length > MAX_RANK) throw this.inputError(compiled, `expected a shape of at most ${MAX_RANK} dimensions, got ${shape.length}`);
    return shape as number[];
  }

  /** Checks rank and fixed dimensions; `single` shapes have no batch dimension yet. */
  private checkShape(compiled: CompiledSpec, shape: readonly number[], single: boolean): void {
    if (compiled.spec.rankUnknown === true) return; // the model declares no shape: any is the model's to judge
    const expected = single ? compiled.instanceShape : compiled.spec.shape;
    if (shape.length !== expected.length) {
      const what = single ? `one instance of shape ${formatShape(expected)} (rank ${expected.length}; the batch dimension is added for you)` : `shape ${formatShape(expected)} (rank ${expected.length})`;
      throw this.inputError(compiled, `expected ${what}, got shape ${formatShape(shape)} (rank ${shape.length})`);
    }
    for (let i = 0; i < shape.length; i++) {
      const want = expected[i]!;
      if (want >= 0 && shape[i] !== want) {
        throw this.inputError(compiled, `expected shape ${formatShape(expected)}, got ${formatShape(shape)} (dimension ${i} is ${shape[i]}, expected ${want})`);
      }
    }
  }

  private convert<T>(compiled: CompiledSpec, fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      if (error instanceof ConversionError) throw this.inputError(compiled, error.message);
      throw error;
    }
  }

  private keyOf(tensors: Record<string, Tensor>): string {
    let key = '';
    for (const compiled of this.specs) {
      if (!compiled.variableDims) continue;
      const shape = tensors[compiled.name]!.shape;
      key += `${shape.slice(this.batched ? 1 : 0).join('x')};`;
    }
    return key;
  }

  private missing(compiled: CompiledSpec, record: ReadonlyMap<string, unknown>): ModelHostError {
    const unknown = [...record.keys()].filter((k) => !this.names.has(k));
    const hint = unknown.length > 0 ? `; got unknown input${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')}` : '';
    return this.inputError(compiled, `is missing (expected ${this.expectedInputs()})${hint}`);
  }

  private unknown(record: ReadonlyMap<string, unknown>): ModelHostError {
    const unknown = [...record.keys()].filter((k) => !this.names.has(k));
    const filled = this.signature.inputs.find((s) => s.name === this.hostFilled);
    if (filled !== undefined && unknown.some((k) => k === filled.name || filled.aliases?.includes(k))) {
      return this.error(`input '${filled.name}' is filled by the host (padding.mask); send only ${this.expectedInputs()}`);
    }
    if (unknown.length === 0) {
      const twice = this.specs.find((s) => [s.name, ...s.aliases].filter((n) => record.has(n)).length > 1)!;
      const given = [twice.name, ...twice.aliases].filter((n) => record.has(n));
      return this.inputError(twice, `is given more than once (as ${given.map((n) => `'${n}'`).join(' and ')}); send it under one name`);
    }
    return this.error(`has no input${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')} (expected ${this.expectedInputs()})`);
  }

  private expectedInputs(): string {
    return this.specs.map((s) => `'${s.name}'${s.aliases.length > 0 ? ` (or ${s.aliases.map((a) => `'${a}'`).join(', ')})` : ''} ${s.dtype}${formatShape(s.spec.shape)}`).join(', ');
  }

  private inputError(compiled: CompiledSpec, detail: string): ModelHostError {
    return this.error(`input '${compiled.name}': ${detail}`, true);
  }

  private error(detail: string, aboutInput = false): ModelHostError {
    const { model, version } = this.context;
    const where = `model '${model}'${version === undefined ? '' : ` v${version}`}`;
    return new ModelHostError(ErrorCode.INVALID_INPUT, aboutInput ? `${where}, ${detail}` : `${where} ${detail}`, { model, version });
  }
}

function isTensorLike(value: unknown): value is { data: unknown; shape: unknown; dtype?: DType } {
  return typeof value === 'object' && value !== null && 'data' in value && 'shape' in value;
}

/** A value given for a single-input model without naming the input. */
function isBareValue(value: unknown, inputName: string): boolean {
  if (value === null || typeof value !== 'object') return typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean' || typeof value === 'bigint';
  if (Array.isArray(value) || ArrayBuffer.isView(value)) return true;
  return isTensorLike(value) && !Object.hasOwn(value, inputName);
}
