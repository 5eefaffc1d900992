import { describe, expect, it } from 'vitest';
import { dynamicOpsOf, needsAsyncExecution } from '../../../src/runtime/tfjs/dynamic-ops.js';
import { namesOf, readGraphSignature } from '../../../src/runtime/tfjs/graph-signature.js';

describe('readGraphSignature', () => {
  it('maps graph node names to signature keys, tensor names, dtypes and shapes', () => {
    const signature = readGraphSignature({
      inputs: { input_1: { name: 'input_1:0', dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: '-1' }, { size: '192' }] } } },
      outputs: {
        output_mesh: { name: 'Identity_2:0', dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: '-1' }, { size: '1404' }] } },
        count: { name: 'Identity_5:0', dtype: 'DT_FLOAT', tensorShape: {} },
        unshaped: { name: 'Identity_7:0', dtype: 'DT_UINT8' },
      },
    });
    expect(signature.inputs.get('input_1')).toEqual({ key: 'input_1', tensorName: 'input_1:0', dtype: 'float32', declared: 'DT_FLOAT', shape: [-1, 192] });
    expect(signature.outputs.get('Identity_2')).toEqual({ key: 'output_mesh', tensorName: 'Identity_2:0', dtype: 'float32', declared: 'DT_FLOAT', shape: [-1, 1404] });
    expect(signature.outputs.get('Identity_5')?.shape).toEqual([]); // a scalar: no `dim`
    expect(signature.outputs.get('Identity_7')).toEqual({ key: 'unshaped', tensorName: 'Identity_7:0', dtype: 'int32', declared: 'DT_UINT8' });
  });

  it('gives the declared type and values of inputs declared narrower than int32 (fed as int32), the placeholder over the signature', () => {
    const signature = readGraphSignature(
      { inputs: { image: { name: 'image:0', dtype: 'DT_UINT8' }, mask: { name: 'mask:0', dtype: 'DT_INT16' }, ids: { name: 'ids:0', dtype: 'DT_INT32' } } },
      { node: [{ name: 'mask', op: 'Placeholder', attr: { dtype: { type: 'DT_INT8' } } }, { name: 'ids', op: 'Placeholder', attr: { dtype: { type: 'DT_INT32' } } }, { name: 'other', op: 'Placeholder', attr: { dtype: { type: 'DT_UINT16' } } }] },
    );
    expect(Object.fromEntries(signature.narrow)).toEqual({
      image: { dtype: 'uint8', range: [0, 255] },
      mask: { dtype: 'int8', range: [-128, 127] },
      other: { dtype: 'uint16', range: [0, 65535] },
    });
    expect(readGraphSignature(undefined, { node: 'x' }).narrow.size).toBe(0);
    // A placeholder type named like an Object.prototype member is no narrow integer.
    expect(readGraphSignature(undefined, { node: [{ name: 'p', op: 'Placeholder', attr: { dtype: { type: 'constructor' } } }] }).narrow.size).toBe(0);
  });

  it('ignores a missing or malformed signature', () => {
    expect(readGraphSignature(undefined).inputs.size).toBe(0);
    expect(readGraphSignature({ inputs: 'x', outputs: { a: null, b: { name: 3 } } }).outputs.size).toBe(0);
  });

  it('names a tensor by its key, with the tensor name with and without :0 as aliases', () => {
    expect(namesOf('Identity_2', { key: 'output_mesh', tensorName: 'Identity_2:0' })).toEqual({ name: 'output_mesh', aliases: ['Identity_2:0', 'Identity_2'] });
    expect(namesOf('input_tensor', { key: 'input_tensor:0', tensorName: 'input_tensor:0' })).toEqual({ name: 'input_tensor:0', aliases: ['input_tensor'] });
    expect(namesOf('x', undefined)).toEqual({ name: 'x', aliases: ['x:0'] });
  });
});

describe('dynamicOpsOf', () => {
  it('finds control flow and data-dependent ops in the graph and its function library', () => {
    const topology = {
      node: [{ op: 'Conv2D' }, { op: 'NonMaxSuppressionV5' }, { op: 'Where' }],
      library: { function: [{ nodeDef: [{ op: 'StatelessWhile' }, { op: 'Add' }] }] },
    };
    expect(dynamicOpsOf(topology)).toEqual(['NonMaxSuppressionV5', 'StatelessWhile', 'Where']);
    expect(dynamicOpsOf({ node: [{ op: 'MatMul' }] })).toEqual([]);
    expect(dynamicOpsOf(undefined)).toEqual([]);
  });

  it('recognizes tfjs refusing execute() for a dynamic graph', () => {
    expect(needsAsyncExecution(new Error("This execution contains the node 'x/Where', which has the dynamic op 'Where'. Please use model.executeAsync() instead."))).toBe(true);
    expect(needsAsyncExecution(new Error('shapes do not match'))).toBe(false);
  });
});
