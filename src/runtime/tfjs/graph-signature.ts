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
  /** The declared shape with -1 for unknown dimensions, where the file states one. */
  readonly shape?: readonly number[];
}

/** Signature entries by graph node name (the tensor name without `:0`). */
export interface GraphSignature {
  readonly inputs: ReadonlyMap<string, SignatureEntry>;
  readonly outputs: ReadonlyMap<string, SignatureEntry>;
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

/** Reads `signature` from `model.json`; anything malformed is ignored (tfjs falls back to node names too). */
export function readGraphSignature(signature: unknown): GraphSignature {
  const section = (field: 'inputs' | 'outputs'): Map<string, SignatureEntry> => {
    const map = new Map<string, SignatureEntry>();
    const entries = typeof signature === 'object' && signature !== null ? (signature as Record<string, unknown>)[field] : undefined;
    if (typeof entries !== 'object' || entries === null) return map;
    for (const [key, value] of Object.entries(entries as Record<string, TensorInfoJson>)) {
      if (typeof value !== 'object' || value === null || typeof value.name !== 'string') continue;
      const dtype = typeof value.dtype === 'string' ? TF_DTYPES[value.dtype] : undefined;
      map.set(nodeName(value.name), { key, tensorName: value.name, ...(dtype === undefined ? {} : { dtype }), ...shapeOf(value) });
    }
    return map;
  };
  return { inputs: section('inputs'), outputs: section('outputs') };
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
