import { describe, expect, it } from 'vitest';
import { outputsWithoutShape } from '../../../src/runtime/onnx/undeclared-output-shapes.js';
import { onnxMlp, onnxReshapeUnknownRank, onnxScalarSum } from '../../fixtures/onnx-models.js';
import { buildOnnxModel } from '../../fixtures/onnx-writer.js';

describe('outputsWithoutShape (ONNX outputs of unknown rank, from the model bytes)', () => {
  it('names the outputs without a shape, not the scalars nor the shaped ones', () => {
    expect(outputsWithoutShape(onnxReshapeUnknownRank())).toEqual(new Set(['y']));
    expect(outputsWithoutShape(onnxScalarSum())).toEqual(new Set());
    expect(outputsWithoutShape(onnxMlp())).toEqual(new Set()); // weights (initializers) are skipped by length
    const mixed = buildOnnxModel({
      inputs: [{ name: 'x', dtype: 'float32', shape: ['N'] }],
      outputs: [
        { name: 'a', dtype: 'float32', shape: null },
        { name: 'b', dtype: 'float32', shape: ['N'] },
        { name: 'c', dtype: 'float32', shape: null },
      ],
      nodes: [
        { op: 'Identity', inputs: ['x'], outputs: ['a'] },
        { op: 'Identity', inputs: ['x'], outputs: ['b'] },
        { op: 'Identity', inputs: ['x'], outputs: ['c'] },
      ],
    });
    expect(outputsWithoutShape(mixed)).toEqual(new Set(['a', 'c']));
  });

  it('reads nothing from bytes that are not a model it can walk (truncated, garbage, empty)', () => {
    const bytes = onnxReshapeUnknownRank();
    expect(outputsWithoutShape(bytes.subarray(0, bytes.length - 3))).toEqual(new Set());
    expect(outputsWithoutShape(Uint8Array.of(0xff, 0xff, 0xff))).toEqual(new Set());
    expect(outputsWithoutShape(Uint8Array.of(0x0f))).toEqual(new Set()); // wire type 7
    expect(outputsWithoutShape(new Uint8Array())).toEqual(new Set());
  });
});
