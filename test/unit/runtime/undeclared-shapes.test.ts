import { describe, expect, it } from 'vitest';
import { undeclaredShapes } from '../../../src/runtime/onnx/undeclared-shapes.js';
import { onnxMlp, onnxReshapeUnknownRank, onnxScalarSum } from '../../fixtures/onnx-models.js';
import { buildOnnxModel } from '../../fixtures/onnx-writer.js';

const outputs = (bytes: Uint8Array) => undeclaredShapes(bytes).outputs;
const NONE = { inputs: new Set(), outputs: new Set() };

describe('undeclaredShapes (ONNX inputs and outputs of unknown rank, from the model bytes)', () => {
  it('names the outputs without a shape, not the scalars nor the shaped ones', () => {
    expect(outputs(onnxReshapeUnknownRank())).toEqual(new Set(['y']));
    expect(outputs(onnxScalarSum())).toEqual(new Set());
    expect(outputs(onnxMlp())).toEqual(new Set()); // weights (initializers) are skipped by length
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
    expect(outputs(mixed)).toEqual(new Set(['a', 'c']));
  });

  it('names inputs without a shape apart from outputs', () => {
    const bytes = buildOnnxModel({
      inputs: [{ name: 'x', dtype: 'float32', shape: null }, { name: 'k', dtype: 'float32', shape: [] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: ['N'] }],
      nodes: [{ op: 'Mul', inputs: ['x', 'k'], outputs: ['y'] }],
    });
    expect(undeclaredShapes(bytes)).toEqual({ inputs: new Set(['x']), outputs: new Set() });
  });

  it('reads nothing from bytes that are not a model it can walk (truncated, garbage, empty)', () => {
    const bytes = onnxReshapeUnknownRank();
    expect(outputs(bytes.subarray(0, bytes.length >> 1))).toEqual(new Set()); // cut inside the graph
    expect(outputs(Uint8Array.of(0xff, 0xff, 0xff))).toEqual(new Set());
    expect(outputs(Uint8Array.of(0x0f))).toEqual(new Set()); // wire type 7
    expect(outputs(new Uint8Array())).toEqual(new Set());
    expect(undeclaredShapes(Uint8Array.of(0xff))).toEqual(NONE);
  });
});
