/**
 * The KServe v2 infer response as JSON text in one pass, for the common answer: every output
 * in JSON, each of a dtype JSON.stringify writes exactly (float32/64, 8..32-bit integers)
 * with only finite values and no -0, fewer than ELEMENTS_PER_SLICE elements in all. The text
 * is the one `writeJson` writes for the same response (a property test holds them equal),
 * without walking a generic object: no entry list, no part per token.
 */
import { DTYPES, type Tensor } from 'modelhost';
import { ELEMENTS_PER_SLICE, plainNumbersText } from './json-writer.js';

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
  for (const { tensor } of outputs) elements += tensor.data.length;
  if (elements >= ELEMENTS_PER_SLICE) return undefined;
  let text = `{"model_name":${JSON.stringify(model)},${modelVersion === undefined ? '' : `"model_version":${JSON.stringify(modelVersion)},`}"id":${JSON.stringify(id)},"outputs":[`;
  for (let i = 0; i < outputs.length; i++) {
    const { name, tensor } = outputs[i]!;
    const data = plainNumbersText(tensor);
    if (data === undefined) return undefined;
    text += `${i > 0 ? ',' : ''}{"name":${JSON.stringify(name)},"datatype":"${DTYPES[tensor.dtype].kserve}","shape":${JSON.stringify(tensor.shape)},"data":${data}}`;
  }
  text += ']}';
  // Names and ids may hold non-ASCII text: the bound is in bytes.
  return text.length <= limitBytes / 3 || Buffer.byteLength(text) <= limitBytes ? text : undefined;
}
