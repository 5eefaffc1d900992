import { describe, expect, it } from 'vitest';
import { undeclaredShapes } from '../../../src/runtime/onnx/undeclared-shapes.js';
import { onnxMlp, onnxReshapeUnknownRank, onnxScalarSum } from '../../fixtures/onnx-models.js';
import { buildOnnxModel } from '../../fixtures/onnx-writer.js';
import { mulberry32 } from '../../fixtures/prng.js';

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

  it('never throws nor reads past the buffer on hostile bytes: every prefix of a model, flipped bytes, random bytes, huge varints', () => {
    const random = mulberry32(10);
    const models = [onnxMlp(), onnxReshapeUnknownRank()];
    const walk = (bytes: Uint8Array) => {
      const found = undeclaredShapes(bytes);
      expect(found.inputs).toBeInstanceOf(Set);
      expect(found.outputs).toBeInstanceOf(Set);
    };
    // Every prefix of the small model; of the one with weights, every 31st.
    for (const [i, model] of models.entries()) for (let end = 0; end <= model.length; end += i === 0 ? 31 : 1) walk(model.subarray(0, end));
    for (let i = 0; i < 500; i++) {
      const model = models[i % 2]!.slice();
      for (let k = 0; k < 4; k++) model[Math.floor(random() * model.length)] = Math.floor(random() * 256);
      walk(model);
      walk(Uint8Array.from({ length: Math.floor(random() * 2048) }, () => Math.floor(random() * 256)));
    }
    const graphOfLength = (length: number[]) => Uint8Array.of(0x3a, ...length);
    expect(undeclaredShapes(graphOfLength([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]))).toEqual(NONE); // 2^64 - 1
    expect(undeclaredShapes(graphOfLength([0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]))).toEqual(NONE); // 2^53 + 1
    expect(undeclaredShapes(graphOfLength(Array(11).fill(0xff)))).toEqual(NONE); // a varint of more than 10 bytes
    expect(undeclaredShapes(Uint8Array.of(0x39, 1, 2))).toEqual(NONE); // a fixed64 cut short
  });

  it('reads a message given in several parts as protobuf merges them (as onnxruntime reads it)', () => {
    // A singular message field given twice is merged: its repeated fields concatenate, and a
    // field set in any part is set. Only the first part was read: an output declared in a second
    // graph part was missed, and a type whose shape came in its second part was taken as unshaped.
    const ld = (field: number, ...parts: Uint8Array[]) => {
      const body = Buffer.concat(parts);
      if (body.length > 127) throw new RangeError('test helper: short messages only');
      return Uint8Array.of((field << 3) | 2, body.length, ...body);
    };
    const text = (value: string) => new TextEncoder().encode(value);
    const elemFloat = Uint8Array.of(0x08, 0x01); // TypeProto.Tensor.elem_type = FLOAT
    const unshapedType = ld(2, ld(1, elemFloat));
    const scalarType = ld(2, ld(1, elemFloat, ld(2)));
    const graph1 = ld(7, ld(12, ld(1, text('a')), scalarType));
    const graph2 = ld(7, ld(12, ld(1, text('b')), unshapedType));
    expect(undeclaredShapes(Buffer.concat([graph1, graph2])).outputs).toEqual(new Set(['b']));
    // The shape in the type's second part: a scalar, not a tensor of unknown rank.
    const split = ld(7, ld(12, ld(1, text('c')), unshapedType, ld(2, ld(1, ld(2)))));
    expect(undeclaredShapes(split).outputs).toEqual(new Set());
    // The name given twice: the last one is the name.
    expect(undeclaredShapes(ld(7, ld(11, ld(1, text('old')), ld(1, text('x')), unshapedType))).inputs).toEqual(new Set(['x']));
  });
});
