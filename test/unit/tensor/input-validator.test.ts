import { describe, expect, it } from 'vitest';
import { ErrorCode, ModelHostError, type Signature } from '../../../src/index.js';
import { InputValidator } from '../../../src/tensor/index.js';

const mlp: Signature = {
  inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 3] }],
  outputs: [{ name: 'y', dtype: 'float32', shape: [-1, 2] }],
};
const twoInputs: Signature = {
  inputs: [
    { name: 'ids', dtype: 'int64', shape: [-1, -1] },
    { name: 'mask', dtype: 'bool', shape: [-1, -1] },
  ],
  outputs: [{ name: 'y', dtype: 'float32', shape: [-1] }],
};
const fixed: Signature = {
  inputs: [{ name: 'x', dtype: 'float32', shape: [2, 3] }],
  outputs: [{ name: 'y', dtype: 'float32', shape: [2, 3] }],
};
const text: Signature = {
  inputs: [{ name: 'text', dtype: 'string', shape: [-1] }],
  outputs: [{ name: 'y', dtype: 'float32', shape: [-1] }],
};

const validator = (signature: Signature) => new InputValidator(signature, { model: 'm', version: 1 });

describe('InputValidator.prepare: accepted forms', () => {
  it('takes a bare Float32Array for a single-input model and adds the batch dimension', () => {
    const data = new Float32Array([1, 2, 3]);
    const prepared = validator(mlp).prepare(data, 'instance');
    expect(prepared.rows).toBe(1);
    expect(prepared.tensors['x']).toEqual({ data, shape: [1, 3], dtype: 'float32' });
    expect(prepared.tensors['x']!.data).toBe(data); // no copy
    expect(prepared.shapeKey).toBe('');
  });

  it('takes nested number arrays and converts them to the input dtype', () => {
    const prepared = validator(mlp).prepare({ x: [1, 2, 3] }, 'instance');
    expect(prepared.tensors['x']!.data).toEqual(new Float32Array([1, 2, 3]));
    expect(prepared.tensors['x']!.shape).toEqual([1, 3]);
  });

  it('takes a tensor object with or without dtype, and flat plain arrays as data', () => {
    const a = validator(mlp).prepare({ x: { data: new Float32Array(6), shape: [2, 3], dtype: 'float32' } }, 'batch');
    expect(a.rows).toBe(2);
    const b = validator(mlp).prepare({ x: { data: [1, 2, 3, 4, 5, 6], shape: [2, 3] } }, 'batch');
    expect(b.tensors['x']!.data).toEqual(new Float32Array([1, 2, 3, 4, 5, 6]));
  });

  it('infers the rows of a bare typed array in batch mode', () => {
    const prepared = validator(mlp).prepare(new Float32Array(9), 'batch');
    expect(prepared.rows).toBe(3);
    expect(prepared.tensors['x']!.shape).toEqual([3, 3]);
  });

  it('converts numbers to int64 and booleans to bool, and keys variable shapes', () => {
    const prepared = validator(twoInputs).prepare({ ids: [[1, 2, 3]], mask: [[true, false, true]] }, 'batch');
    expect(prepared.tensors['ids']!.data).toEqual(BigInt64Array.from([1n, 2n, 3n]));
    expect(prepared.tensors['mask']!.data).toEqual(new Uint8Array([1, 0, 1]));
    expect(prepared.shapeKey).toBe('3;3;');
  });

  it('takes bool bytes (a Uint8Array) only when each is 0 or 1: a byte such as 7 is refused naming the element, not read as true', () => {
    const boolOnly: Signature = { inputs: [{ name: 'mask', dtype: 'bool', shape: [-1, 3] }], outputs: [{ name: 'y', dtype: 'bool', shape: [-1, 3] }] };
    expect(validator(boolOnly).prepare(Uint8Array.of(1, 0, 1), 'instance').tensors['mask']!.data).toEqual(Uint8Array.of(1, 0, 1));
    for (const given of [Uint8Array.of(1, 7, 1), { mask: { data: Uint8Array.of(0, 0, 0, 1, 1, 255), shape: [2, 3], dtype: 'bool' } }]) {
      expect(() => validator(boolOnly).prepare(given, given instanceof Uint8Array ? 'instance' : 'batch')).toThrow(/input 'mask': element (1 is 7|5 is 255); a bool is 0 or 1/);
    }
  });

  it('takes strings for string inputs', () => {
    const prepared = validator(text).prepare({ text: { data: ['a', 'b'], shape: [2] } }, 'batch');
    expect(prepared.tensors['text']!.data).toEqual(['a', 'b']);
  });

  it('passes shapes through unchanged for models without a batch dimension', () => {
    const prepared = validator(fixed).prepare([[1, 2, 3], [4, 5, 6]], 'instance');
    expect(prepared.tensors['x']!.shape).toEqual([2, 3]);
    expect(prepared.rows).toBe(1);
  });
});

type Case = [title: string, signature: Signature, inputs: unknown, mode: 'instance' | 'batch', message: RegExp];

const rejected: Case[] = [
  ['a non-object', twoInputs, 42, 'instance', /expected inputs as an object keyed by input name \('ids', 'mask'\), got number 42/],
  ['null', twoInputs, null, 'instance', /expected inputs as an object.*got null/],
  ['an unknown input name', mlp, { x: [1, 2, 3], z: [1] }, 'instance', /has no input 'z' \(expected 'x' float32\[-1, 3\]\)/],
  ['a missing input', twoInputs, { ids: [[1]] }, 'batch', /input 'mask': is missing/],
  ['a misspelt input', mlp, { X: [1, 2, 3] }, 'instance', /input 'x': is missing .*got unknown input 'X'/],
  ['a wrong dtype (tensor)', mlp, { x: { data: new Int32Array(3), shape: [3], dtype: 'int32' } }, 'instance', /input 'x': expected dtype float32, got int32/],
  ['a wrong dtype (typed array)', mlp, { x: new Float64Array(3) }, 'instance', /input 'x': expected dtype float32 \(Float32Array\), got float64 \(Float64Array\)/],
  ['a wrong rank', mlp, { x: [[1, 2, 3]] }, 'instance', /input 'x': expected one instance of shape \[3\].*got shape \[1, 3\] \(rank 2\)/],
  ['a wrong dimension', mlp, { x: [1, 2] }, 'instance', /input 'x': expected shape \[3\], got \[2\] \(dimension 0 is 2, expected 3\)/],
  ['a wrong dimension in batch mode', mlp, { x: { data: new Float32Array(8), shape: [2, 4] } }, 'batch', /dimension 1 is 4, expected 3/],
  ['data length ≠ shape', mlp, { x: { data: new Float32Array(5), shape: [2, 3] } }, 'batch', /input 'x': data has 5 elements but shape \[2, 3\] holds 6/],
  ['a bare typed array of the wrong length', mlp, new Float32Array(4), 'instance', /input 'x': expected 3 elements \(shape \[3\]\), got 4/],
  ['an empty batch', mlp, { x: { data: new Float32Array(0), shape: [0, 3] } }, 'batch', /input 'x': expected at least one row, got an empty batch/],
  ['a string tensor to a float model', mlp, { x: ['a', 'b', 'c'] }, 'instance', /input 'x': expected numbers \(dtype float32\), got a string \("a"\) at element 0/],
  ['numbers to a string model', text, { text: { data: [1], shape: [1] } }, 'batch', /expected strings or bytes \(dtype string\), got number 1/],
  ['a ragged array', mlp, { x: [[1, 2, 3], [1, 2]] }, 'batch', /input 'x': is ragged/],
  ['non-integers to an int64 input', twoInputs, { ids: [[1.5]], mask: [[true]] }, 'batch', /input 'ids': expected integers \(dtype int64\), got number 1.5/],
  ['rows that disagree', twoInputs, { ids: [[1], [2]], mask: [[true]] }, 'batch', /input 'mask': expected 2 rows like the other inputs, got 1/],
  ['a bad shape value', mlp, { x: { data: new Float32Array(3), shape: [1, -3] } }, 'batch', /expected shape as an array of non-negative integers, got \[1,-3\]/],
  ['a bigint shape value (echoed exactly, not a TypeError)', mlp, { x: { data: new Float32Array(3), shape: [1n, 9007199254740993n] } }, 'batch', /expected shape as an array of non-negative integers, got \[1n,9007199254740993n\]/],
  ['predictBatch on a model without a batch dimension', fixed, { x: [[1, 2, 3], [4, 5, 6]] }, 'batch', /has no batch dimension.*predict\(\), not predictBatch\(\)/],
  ['an ambiguous bare array for variable dimensions (rows of any length)', twoInputs, { ids: new BigInt64Array(3), mask: new Uint8Array(3) }, 'batch', /input 'ids': has variable dimensions \[-1, -1\].*pass \{ data, shape \}/],
  ['an object that is not a tensor', mlp, { x: { values: [1, 2, 3] } }, 'instance', /input 'x': expected a tensor \(\{ data, shape \}\), a typed array or a nested array, got an object/],
];

describe('InputValidator.prepare: rejects with INVALID_INPUT naming the input, the expected and the received', () => {
  it.each(rejected)('%s', (_title, signature, inputs, mode, message) => {
    let error: unknown;
    try {
      validator(signature).prepare(inputs, mode);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ModelHostError);
    expect((error as ModelHostError).code).toBe(ErrorCode.INVALID_INPUT);
    expect((error as ModelHostError).message).toMatch(/^model 'm' v1/);
    expect((error as ModelHostError).message).toMatch(message);
  });
});

describe('InputValidator.prepare: aliases (graph tensor names)', () => {
  const aliased: Signature = {
    inputs: [
      { name: 'input_1', aliases: ['input_1:0'], dtype: 'float32', shape: [-1, 2] },
      { name: 'scale', aliases: ['scale:0'], dtype: 'float32', shape: [-1, 1] },
    ],
    outputs: [{ name: 'output_mesh', aliases: ['Identity_2:0', 'Identity_2'], dtype: 'float32', shape: [-1, 2] }],
  };

  it('accepts an input under its name or an alias, keyed by its name', () => {
    const prepared = validator(aliased).prepare({ 'input_1:0': [1, 2], scale: [3] }, 'instance');
    expect(Object.keys(prepared.tensors)).toEqual(['input_1', 'scale']);
    expect(Array.from(prepared.tensors['input_1']!.data as Float32Array)).toEqual([1, 2]);
  });

  it('refuses an input given twice, under its name and an alias', () => {
    expect(() => validator(aliased).prepare({ input_1: [1, 2], 'input_1:0': [1, 2], scale: [3] }, 'instance')).toThrow(
      "model 'm' v1, input 'input_1': is given more than once (as 'input_1' and 'input_1:0'); send it under one name",
    );
  });

  it('lists the aliases when an input is missing', () => {
    expect(() => validator(aliased).prepare({ input: [1, 2], scale: [3] }, 'instance')).toThrow(
      "input 'input_1': is missing (expected 'input_1' (or 'input_1:0') float32[-1, 2], 'scale' (or 'scale:0') float32[-1, 1]); got unknown input 'input'",
    );
  });
});

describe('InputValidator.prepare: one instance with one variable dimension', () => {
  it('takes a bare typed array as a sequence of its length (a token sequence for predict)', () => {
    const prepared = validator(twoInputs).prepare({ ids: new BigInt64Array(5), mask: new Uint8Array(5) }, 'instance');
    expect(prepared.tensors['ids']!.shape).toEqual([1, 5]);
    expect(prepared.tensors['mask']!.shape).toEqual([1, 5]);
  });

  it('infers the variable dimension from the fixed ones, and refuses a length they do not divide', () => {
    const rows: Signature = { inputs: [{ name: 'x', dtype: 'float32', shape: [-1, -1, 3] }], outputs: [{ name: 'y', dtype: 'float32', shape: [-1] }] };
    expect(validator(rows).prepare(new Float32Array(12), 'instance').tensors['x']!.shape).toEqual([1, 4, 3]);
    expect(() => validator(rows).prepare(new Float32Array(10), 'instance')).toThrow(/input 'x': has variable dimensions \[-1, -1, 3\], so a bare typed array is ambiguous/);
  });
});

describe('InputValidator.prepare: inputs keyed by name, read without a Map (issue 17)', () => {
  const refused = (run: () => unknown): string => {
    try {
      run();
    } catch (error) {
      expect(error).toBeInstanceOf(ModelHostError);
      expect((error as ModelHostError).code).toBe(ErrorCode.INVALID_INPUT);
      return (error as ModelHostError).message;
    }
    throw new Error('expected INVALID_INPUT');
  };

  it('uses the caller typed array as is, and gives tensors in signature order whatever the key order', () => {
    const x = new Float32Array([1, 2, 3]);
    expect(validator(mlp).prepare({ x }, 'instance').tensors['x']!.data).toBe(x);
    const mask = Uint8Array.from([1, 1]);
    const ids = BigInt64Array.from([1n, 2n]);
    const prepared = validator(twoInputs).prepare({ mask: { data: mask, shape: [1, 2] }, ids: { data: ids, shape: [1, 2] } }, 'batch');
    expect(Object.keys(prepared.tensors)).toEqual(['ids', 'mask']);
    expect(prepared.tensors['ids']!.data).toBe(ids);
    expect(prepared.tensors['mask']!.data).toBe(mask);
    expect(prepared.rows).toBe(1);
  });

  it('reads own enumerable keys only, as Object.entries does: inherited and non-enumerable ones are not inputs', () => {
    const inherited = Object.create({ x: new Float32Array([1, 2, 3]) }) as object;
    expect(refused(() => validator(mlp).prepare(inherited, 'instance'))).toMatch(/input 'x': is missing/);
    const hidden = Object.defineProperty({}, 'x', { value: new Float32Array([1, 2, 3]), enumerable: false });
    expect(refused(() => validator(mlp).prepare(hidden, 'instance'))).toMatch(/input 'x': is missing/);
  });

  it('refuses an undefined value, an unknown key and a missing input with the same words as before', () => {
    expect(refused(() => validator(mlp).prepare({ x: undefined }, 'instance'))).toMatch(/input 'x': is missing/);
    expect(refused(() => validator(mlp).prepare({ x: new Float32Array(3), z: 1 }, 'instance'))).toMatch(/has no input 'z'/);
    expect(refused(() => validator(twoInputs).prepare({ ids: { data: BigInt64Array.from([1n]), shape: [1, 1] } }, 'batch'))).toMatch(/input 'mask': is missing/);
    expect(refused(() => validator(twoInputs).prepare({ mask: [[true], [false]], ids: [[1, 2]] }, 'batch'))).toMatch(/input 'mask': expected 1 rows like the other inputs, got 2/);
  });

  it('still takes a Map keyed by input name', () => {
    const x = new Float32Array([1, 2, 3]);
    expect(validator(mlp).prepare(new Map([['x', x]]), 'instance').tensors['x']!.data).toBe(x);
  });
});

describe('InputValidator.prepare: declared types and undeclared shapes', () => {
  const image: Signature = {
    inputs: [{ name: 'image', dtype: 'int32', declaredDtype: 'uint8', range: [0, 255], shape: [-1, 3] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: [-1, 3] }],
  };
  const anyShape: Signature = {
    inputs: [{ name: 'x', dtype: 'float32', shape: [], rankUnknown: true }],
    outputs: [{ name: 'y', dtype: 'float32', shape: [], rankUnknown: true }],
  };

  it('an int32 input declared uint8 takes uint8 (a Uint8Array, or values with dtype uint8), widened exactly to Int32Array', () => {
    const bare = validator(image).prepare(Uint8Array.of(0, 128, 255), 'instance').tensors['image']!;
    expect(bare).toEqual({ data: Int32Array.of(0, 128, 255), shape: [1, 3], dtype: 'int32' });
    const listed = validator(image).prepare({ image: { data: [0, 7, 255], shape: [1, 3], dtype: 'uint8' } }, 'batch').tensors['image']!;
    expect(listed).toEqual({ data: Int32Array.of(0, 7, 255), shape: [1, 3], dtype: 'int32' });
    expect(() => validator(image).prepare({ image: { data: [0, 7, 256], shape: [1, 3], dtype: 'uint8' } }, 'batch')).toThrow(/input 'image'.*256/);
    expect(() => validator(image).prepare(Int8Array.of(0, 1, 2), 'instance')).toThrow("model 'm' v1, input 'image': expected dtype int32 (Int32Array) or uint8 (Uint8Array, as the model declares it), got int8 (Int8Array)");
  });

  it('an input of undeclared shape (rankUnknown) takes any shape given with its data, and refuses a bare array as ambiguous', () => {
    const v = validator(anyShape);
    expect(v.batched).toBe(false);
    for (const shape of [[], [4], [2, 2], [1, 2, 2]]) {
      const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
      expect(v.prepare({ x: { data, shape } }, 'instance').tensors['x']!.shape).toEqual(shape);
    }
    expect(v.prepare([[1, 2], [3, 4]], 'instance').tensors['x']!.shape).toEqual([2, 2]);
    expect(() => v.prepare(new Float32Array(4), 'instance')).toThrow("model 'm' v1, input 'x': has no declared shape, so a bare typed array is ambiguous; pass { data, shape }");
  });

  it('refuses a shape of more than 64 dimensions, on an input of undeclared rank as on a declared one, and names only its length', () => {
    // Taken and passed to onnxruntime (which ran 100 000 dimensions of 1), then echoed whole in
    // any refusal naming the request's inputs: a message as long as the request.
    const many = { data: Float32Array.of(1), shape: Array<number>(100_000).fill(1) };
    for (const [signature, mode] of [[anyShape, 'instance'], [mlp, 'batch']] as const) {
      expect(() => validator(signature).prepare({ x: many }, mode)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_INPUT, message: "model 'm' v1, input 'x': expected a shape of at most 64 dimensions, got 100000" }));
    }
    const deepest = Array<number>(64).fill(1);
    expect(validator(anyShape).prepare({ x: { data: Float32Array.of(1), shape: deepest } }, 'instance').tensors['x']!.shape).toEqual(deepest);
  });
});
