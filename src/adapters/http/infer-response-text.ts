/**
 * The KServe v2 infer response as JSON text in one pass, for the common answer: every output
 * in JSON, each of a dtype JSON.stringify writes exactly (float32/64, 8..32-bit integers)
 * with only finite values and no -0, fewer than ELEMENTS_PER_SLICE elements in all. The text
 * is the one `writeJson` writes for the same response (a property test holds them equal),
 * in one native JSON.stringify of a plain object (the same text: same keys in the same order,
 * numbers JSON.stringify writes exactly), without the generic writer's part per token.
 */
import { DTYPES, type Tensor } from 'modelhost';
import { ELEMENTS_PER_SLICE, stringifiesWhole } from './json-writer.js';

/** One output of the response, written with its values as a flat `data` array. */
export interface JsonOutput {
  readonly name: string;
  readonly tensor: Tensor;
}

/**
 * `{"model_name":…,"model_version":…,"id":…,"outputs":[{"name":…,"datatype":…,"shape":[…],"data":[…]}…]}`
 * (no `model_version` when it is undefined); undefined when an output is not of the common
 * kind, or the text would pass `limitBytes` (UTF-8): `writeJson` then writes or refuses it.
 */
export function inferResponseText(model: string, modelVersion: string | undefined, id: string, outputs: readonly JsonOutput[], limitBytes: number): string | undefined {
  let elements = 0;
  for (const { tensor } of outputs) {
    if (!stringifiesWhole(tensor)) return undefined;
    elements += tensor.data.length;
  }
  if (elements >= ELEMENTS_PER_SLICE) return undefined;
  // One native JSON.stringify of the response: one flat string, no piece per field.
  const entries = new Array<{ name: string; datatype: string; shape: readonly number[]; data: number[] }>(outputs.length);
  for (let i = 0; i < outputs.length; i++) {
    const { name, tensor } = outputs[i]!;
    entries[i] = { name, datatype: DTYPES[tensor.dtype].kserve, shape: tensor.shape, data: Array.from(tensor.data as Float32Array) };
  }
  const text = JSON.stringify(modelVersion === undefined ? { model_name: model, id, outputs: entries } : { model_name: model, model_version: modelVersion, id, outputs: entries });
  // Names and ids may hold non-ASCII text: the bound is in bytes.
  return text.length <= limitBytes / 3 || Buffer.byteLength(text) <= limitBytes ? text : undefined;
}
