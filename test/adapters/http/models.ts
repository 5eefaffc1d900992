/**
 * Models for the HTTP tests, shaped after the protocol documents' own examples: TF
 * Serving's `half_plus_three` and its tag/signal/sensor request, KServe's `mymodel`
 * (input0 UINT32 [2, 2], input1 BOOL [3] → output0 FP32 [3, 2]).
 */
import type { Tensor } from '../../../src/index.js';
import { buildOnnxModel } from '../../fixtures/onnx-writer.js';
import { fakeRuntime, type FakeRuntime } from '../../helpers/fake-runtime.js';

/** TF Serving's toy model: `y = 0.5 x + 3`, x float32 [N]. */
export function onnxHalfPlusThree(): Uint8Array {
  return buildOnnxModel({
    inputs: [{ name: 'x', dtype: 'float32', shape: ['N'] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: ['N'] }],
    initializers: [
      { name: 'half', dtype: 'float32', dims: [], data: [0.5] },
      { name: 'three', dtype: 'float32', dims: [], data: [3] },
    ],
    nodes: [
      { op: 'Mul', inputs: ['x', 'half'], outputs: ['halved'] },
      { op: 'Add', inputs: ['halved', 'three'], outputs: ['y'] },
    ],
  });
}

/**
 * The three named inputs of TF Serving's row-format example — `tag` string [N], `signal`
 * float32 [N, 5], `sensor` float32 [N, 2, 2] — each echoed to an output of its own.
 */
export function onnxTagSignalSensor(): Uint8Array {
  return buildOnnxModel({
    inputs: [
      { name: 'tag', dtype: 'string', shape: ['N'] },
      { name: 'signal', dtype: 'float32', shape: ['N', 5] },
      { name: 'sensor', dtype: 'float32', shape: ['N', 2, 2] },
    ],
    outputs: [
      { name: 'tag_echo', dtype: 'string', shape: ['N'] },
      { name: 'signal_echo', dtype: 'float32', shape: ['N', 5] },
      { name: 'sensor_echo', dtype: 'float32', shape: ['N', 2, 2] },
    ],
    nodes: [
      { op: 'Identity', inputs: ['tag'], outputs: ['tag_echo'] },
      { op: 'Identity', inputs: ['signal'], outputs: ['signal_echo'] },
      { op: 'Identity', inputs: ['sensor'], outputs: ['sensor_echo'] },
    ],
  });
}

/** x float32 [N, 2] → `double` = 2x and `plus_one` = x + 1: a model with two outputs. */
export function onnxTwoOutputs(): Uint8Array {
  return buildOnnxModel({
    inputs: [{ name: 'x', dtype: 'float32', shape: ['N', 2] }],
    outputs: [
      { name: 'double', dtype: 'float32', shape: ['N', 2] },
      { name: 'plus_one', dtype: 'float32', shape: ['N', 2] },
    ],
    initializers: [
      { name: 'two', dtype: 'float32', dims: [], data: [2] },
      { name: 'one', dtype: 'float32', dims: [], data: [1] },
    ],
    nodes: [
      { op: 'Mul', inputs: ['x', 'two'], outputs: ['double'] },
      { op: 'Add', inputs: ['x', 'one'], outputs: ['plus_one'] },
    ],
  });
}

/** What the KServe example model answers: output0, FP32 [3, 2]. */
export const OUTPUT0 = [1.0, 1.1, 2.0, 2.1, 3.0, 3.1];

/**
 * KServe's `mymodel` behind the runtime SPI (no batch dimension): input0 uint32 [2, 2],
 * input1 bool [3], output0 float32 [3, 2] = OUTPUT0. `seen` holds the inputs of the last
 * run, so a test sees what the HTTP layer decoded.
 */
export function kserveExampleRuntime(): FakeRuntime & { seen: Record<string, Tensor> | undefined } {
  const runtime = fakeRuntime({
    signature: {
      inputs: [
        { name: 'input0', dtype: 'uint32', shape: [2, 2] },
        { name: 'input1', dtype: 'bool', shape: [3] },
      ],
      outputs: [{ name: 'output0', dtype: 'float32', shape: [3, 2] }],
    },
    compute: (inputs) => {
      runtime.seen = inputs;
      return { output0: { data: new Float32Array(OUTPUT0), shape: [3, 2], dtype: 'float32' } };
    },
  }) as FakeRuntime & { seen: Record<string, Tensor> | undefined };
  runtime.seen = undefined;
  return runtime;
}
