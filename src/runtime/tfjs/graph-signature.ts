/**
 * What a converted graph model's `model.json` says about its tensors, beyond what tfjs
 * exposes on `GraphModel.inputs/outputs`: the signature's keys (`output_mesh`), the tensor
 * each key stands for (`Identity_2:0`), and declared dtypes and shapes.
 */

/** One entry of `model.json`'s `signature.inputs` or `signature.outputs`. */
export interface SignatureEntry {
  /** The signature's key: the name TF Serving and Triton expose (`output_mesh`, `input_1`). */
  readonly key: string;
  /** The graph tensor it stands for, as written (`Identity_2:0`). */
  readonly tensorName: string;
  /** The declared dtype in tfjs terms (`float32`, `int32`, ...), where the file states one. */
  readonly dtype?: string;
  /** The declared dtype as TensorFlow names it (`DT_UINT8`), where the file states one. */
  readonly declared?: string;
  /** The declared shape with -1 for unknown dimensions, where the file states one. */
  readonly shape?: readonly number[];
}

/** Signature entries by graph node name (the tensor name without `:0`). */
export interface GraphSignature {
  readonly inputs: ReadonlyMap<string, SignatureEntry>;
  readonly outputs: ReadonlyMap<string, SignatureEntry>;
  /**
   * Inputs the graph declares as an integer type narrower than int32 (a `DT_UINT8` image),
   * by node name: tfjs feeds them as int32, so the declared type and the values it holds.
   * (Outputs: `narrowInteger(entry.declared)` of their signature entry.)
   */
  readonly narrow: ReadonlyMap<string, NarrowInteger>;
}

/** An integer type narrower than int32, which tfjs widens to int32. */
export interface NarrowInteger {
  readonly dtype: 'uint8' | 'int8' | 'uint16' | 'int16';
  readonly range: readonly [min: number, max: number];
}

/** Integer types tfjs widens to int32, by TensorFlow name. */
const NARROW_INTEGERS: Readonly<Record<string, NarrowInteger>> = {
  DT_UINT8: { dtype: 'uint8', range: [0, 255] },
  DT_INT8: { dtype: 'int8', range: [-128, 127] },
  DT_UINT16: { dtype: 'uint16', range: [0, 65535] },
  DT_INT16: { dtype: 'int16', range: [-32768, 32767] },
};

/** The integer type narrower than int32 a TensorFlow type name stands for (`DT_UINT8`), which tfjs computes as int32; undefined for any other. */
export function narrowInteger(tfType: string | undefined): NarrowInteger | undefined {
  return tfType !== undefined && Object.hasOwn(NARROW_INTEGERS, tfType) ? NARROW_INTEGERS[tfType] : undefined;
}

interface TensorInfoJson {
  name?: unknown;
  dtype?: unknown;
  tensorShape?: { dim?: { size?: unknown }[]; unknownRank?: unknown };
}

// TensorFlow DataType enum names, as the converter writes them, to tfjs dtypes.
const TF_DTYPES: Readonly<Record<string, string>> = {
  DT_FLOAT: 'float32',
  DT_HALF: 'float32',
  DT_DOUBLE: 'float32',
  DT_INT32: 'int32',
  DT_INT64: 'int32',
  DT_INT16: 'int32',
  DT_INT8: 'int32',
  DT_UINT8: 'int32',
  DT_UINT16: 'int32',
  DT_BOOL: 'bool',
  DT_STRING: 'string',
};

/** The graph node a tensor name refers to: `Identity_2:0` → `Identity_2` (output 0 is the node's name). */
export function nodeName(tensorName: string): string {
  return tensorName.endsWith(':0') ? tensorName.slice(0, -2) : tensorName;
}

/**
 * Reads `signature` (and the input placeholders' dtypes from `modelTopology`) from
 * `model.json`; anything malformed is ignored (tfjs falls back to node names too).
 */
export function readGraphSignature(signature: unknown, topology?: unknown): GraphSignature {
  const section = (field: 'inputs' | 'outputs'): Map<string, SignatureEntry> => {
    const map = new Map<string, SignatureEntry>();
    const entries = typeof signature === 'object' && signature !== null ? (signature as Record<string, unknown>)[field] : undefined;
    if (typeof entries !== 'object' || entries === null) return map;
    for (const [key, value] of Object.entries(entries as Record<string, TensorInfoJson>)) {
      if (typeof value !== 'object' || value === null || typeof value.name !== 'string') continue;
      const dtype = typeof value.dtype === 'string' ? TF_DTYPES[value.dtype] : undefined;
      map.set(nodeName(value.name), { key, tensorName: value.name, ...(dtype === undefined ? {} : { dtype, declared: value.dtype as string }), ...shapeOf(value) });
    }
    return map;
  };
  const inputs = section('inputs');
  const narrow = new Map<string, NarrowInteger>();
  for (const [node, entry] of inputs) {
    const integer = narrowInteger(entry.declared);
    if (integer !== undefined) narrow.set(node, integer);
  }
  // The placeholder's own dtype is what the graph runs on: it wins over the signature's.
  const nodes = typeof topology === 'object' && topology !== null ? (topology as { node?: unknown }).node : undefined;
  if (Array.isArray(nodes)) {
    for (const node of nodes as { name?: unknown; op?: unknown; attr?: { dtype?: { type?: unknown } } }[]) {
      if (node?.op !== 'Placeholder' || typeof node.name !== 'string') continue;
      const type = node.attr?.dtype?.type;
      if (typeof type !== 'string') continue;
      const integer = narrowInteger(type);
      if (integer !== undefined) narrow.set(node.name, integer);
      else narrow.delete(node.name);
    }
  }
  return { inputs, outputs: section('outputs'), narrow };
}

function shapeOf(info: TensorInfoJson): { shape?: number[] } {
  const dims = info.tensorShape?.dim;
  if (info.tensorShape === undefined || info.tensorShape.unknownRank === true) return {};
  if (dims === undefined) return { shape: [] }; // a scalar: the converter omits `dim`
  if (!Array.isArray(dims)) return {};
  const shape = dims.map((d) => Number(d.size ?? -1));
  return shape.every((d) => Number.isInteger(d)) ? { shape: shape.map((d) => (d < 0 ? -1 : d)) } : {};
}

/**
 * The names a tensor answers to: its signature key is the name, and the graph tensor's name
 * with and without `:0` are aliases (as written in `model.json` and as tfjs names nodes).
 */
export function namesOf(node: string, entry: SignatureEntry | undefined): { name: string; aliases: string[] } {
  const name = entry?.key ?? node;
  const aliases = [...new Set([entry?.tensorName ?? `${node}:0`, node, `${node}:0`])].filter((a) => a !== name);
  return { name, aliases };
}
