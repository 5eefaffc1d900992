import { ConversionError } from './conversion-error.js';
import { describeValue } from './element-codec.js';

/** The most dimensions a nested array may have. */
export const MAX_RANK = 64;

/** A regular nested array's shape and element count, found without allocating for it. */
export interface NestedWalk {
  readonly shape: number[];
  readonly elements: number;
}

/**
 * Checks that `value` (a nested array, or a scalar) is regular: the shape read along its first
 * elements holds at every node. The work is bounded by the nodes actually present (a ragged
 * body of 1 KB costs 1 KB of work, whatever shape its first elements claim), so call it
 * before allocating `elements` values. Throws ConversionError naming the first irregular node.
 */
export function walkNested(value: unknown): NestedWalk {
  const shape: number[] = [];
  for (let level = value; Array.isArray(level); level = level[0]) {
    // Also stops an array that contains itself.
    if (shape.length === MAX_RANK) throw new ConversionError(`nests deeper than ${MAX_RANK} levels (the most dimensions a tensor may have here)`);
    shape.push(level.length);
    if (level.length === 0) break;
  }
  let elements = 0;
  const visit = (node: unknown, depth: number): void => {
    if (depth === shape.length) {
      if (Array.isArray(node)) throw new ConversionError(`is ragged: expected a value at depth ${depth}, got an array`);
      elements++;
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[depth]) {
      const got = Array.isArray(node) ? `length ${node.length}` : describeValue(node);
      throw new ConversionError(`is ragged: expected an array of length ${shape[depth]} at depth ${depth}, got ${got}`);
    }
    for (let i = 0; i < node.length; i++) visit(node[i], depth + 1);
  };
  visit(value, 0);
  return { shape, elements };
}
