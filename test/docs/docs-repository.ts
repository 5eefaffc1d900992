/**
 * The model repository the HTTP examples of docs/ run against: the models the examples
 * name, built here (the demo repository holds real models; these are small, exact ones).
 *
 *   affine/1,2,3      x float32 [-1, 4] → y = 2x + 1, 3x, x + 1   (protocols.md, http.md)
 *   mymodel/1         the KServe specification's example: input0 UINT32 [2, 2], input1 BOOL [3]
 *                     → output0 FP32 [3, 2]
 *   half_plus_three/123  TF Serving's example: x float32 [-1] → y = x / 2 + 3
 *   tss/1             TF Serving's multi-input example: tag, signal, sensor echoed back
 *   fraud/3           a two-class scorer for the feedback example (http.md): x float32 [-1, 2]
 *                     (the scores of legit, fraud) → y = x, so the class is the larger score;
 *                     `feedback: { task: 'classification' }` in its config.json
 */
import { buildOnnxModel } from '../fixtures/onnx-writer.js';
import { onnxAffine } from '../fixtures/onnx-models.js';
import { onnxHalfPlusThree, onnxTagSignalSensor } from '../adapters/http/models.js';
import { writeConfig, writeVersion } from '../helpers/repository.js';

/** The models of the docs repository, each loaded by the docs test. */
export const DOCS_MODELS = ['affine', 'mymodel', 'half_plus_three', 'tss', 'fraud'] as const;

/** The KServe spec's `mymodel`. The specification does not say what it computes, only the answer to its one example: so it answers that table, whatever the inputs. */
function onnxSpecExample(): Uint8Array {
  return buildOnnxModel({
    inputs: [
      { name: 'input0', dtype: 'uint32', shape: [2, 2] },
      { name: 'input1', dtype: 'bool', shape: [3] },
    ],
    outputs: [{ name: 'output0', dtype: 'float32', shape: [3, 2] }],
    initializers: [{ name: 'table', dtype: 'float32', dims: [3, 2], data: [1, 1.1, 2, 2.1, 3, 3.1] }],
    nodes: [{ op: 'Identity', inputs: ['table'], outputs: ['output0'] }],
  });
}

export async function writeDocsRepository(root: string): Promise<void> {
  await writeVersion(root, 'affine', 1, { 'model.onnx': onnxAffine({ size: 4, scale: 2, bias: 1 }) });
  await writeVersion(root, 'affine', 2, { 'model.onnx': onnxAffine({ size: 4, scale: 3, bias: 0 }) });
  await writeVersion(root, 'affine', 3, { 'model.onnx': onnxAffine({ size: 4, scale: 1, bias: 1 }) });
  await writeVersion(root, 'mymodel', 1, { 'model.onnx': onnxSpecExample() });
  await writeVersion(root, 'half_plus_three', 123, { 'model.onnx': onnxHalfPlusThree() });
  await writeVersion(root, 'tss', 1, { 'model.onnx': onnxTagSignalSensor() });
  await writeVersion(root, 'fraud', 3, { 'model.onnx': onnxAffine({ size: 2, scale: 1, bias: 0 }) });
  await writeConfig(root, 'fraud', { feedback: { task: 'classification' } });
}
