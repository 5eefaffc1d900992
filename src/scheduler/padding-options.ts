import { checkInteger, checkNumber, checkObject, checkString, invalidOption } from '../errors/index.js';

/** How one input of variable length is padded so requests of different lengths share a batch. */
export interface PaddedInputOptions {
  /** The axis whose size varies per request (≥ 1: axis 0 is the batch). Default 1. */
  axis?: number;
  /** The value padded positions hold. Default 0. */
  value?: number;
  /** The longest length accepted (and so the longest padded batch); longer requests fail with INVALID_INPUT. */
  maxLength: number;
}

/** An output sliced back to each request's own length. */
export interface PaddedOutputOptions {
  /** The axis that follows the padded length (e.g. 1 for `[batch, tokens, hidden]`). */
  axis: number;
}

/**
 * Variable-length batching (TF Serving's `pad_variable_length_inputs`): requests whose
 * padded inputs differ only in length along `axis` share a batch, padded to the longest.
 */
export interface PaddingOptions {
  /** Inputs padded, by name. Every padded input of one request must have the same length. */
  inputs: Record<string, PaddedInputOptions>;
  /**
   * An input the host fills, shaped `[rows, length]`: 1 at a request's own positions, 0 at
   * padding (an attention mask). Clients do not send it.
   */
  mask?: string;
  /** Outputs sliced back to each request's length, by name; the others are returned as the model computes them. */
  outputs?: Record<string, PaddedOutputOptions>;
  /**
   * Most of a batch's elements that may be padding, 0..1: a request that would push the
   * batch past it waits for the next batch. Default 0.5.
   */
  maxWaste?: number;
}

export const DEFAULT_MAX_WASTE = 0.5;

/** Validates `padding` as written; names are checked against the model's signature at load. */
export function validatePaddingOptions(value: unknown, path: string): PaddingOptions {
  const padding = checkObject(value, path, ['inputs', 'mask', 'outputs', 'maxWaste']);
  const inputs = checkObject(padding['inputs'], `${path}.inputs`, keysOf(padding['inputs']));
  if (Object.keys(inputs).length === 0) throw invalidOption(`${path}.inputs`, 'at least one padded input', inputs);
  for (const [name, spec] of Object.entries(inputs)) {
    const input = checkObject(spec, `${path}.inputs.${name}`, ['axis', 'value', 'maxLength']);
    if (input['axis'] !== undefined) checkInteger(input['axis'], `${path}.inputs.${name}.axis`, 1, 32);
    if (input['value'] !== undefined) checkNumber(input['value'], `${path}.inputs.${name}.value`, Number.NEGATIVE_INFINITY);
    checkInteger(input['maxLength'], `${path}.inputs.${name}.maxLength`, 1);
  }
  if (padding['mask'] !== undefined) checkString(padding['mask'], `${path}.mask`);
  if (padding['outputs'] !== undefined) {
    const outputs = checkObject(padding['outputs'], `${path}.outputs`, keysOf(padding['outputs']));
    for (const [name, spec] of Object.entries(outputs)) {
      const output = checkObject(spec, `${path}.outputs.${name}`, ['axis']);
      checkInteger(output['axis'], `${path}.outputs.${name}.axis`, 1, 32);
    }
  }
  if (padding['maxWaste'] !== undefined) checkNumber(padding['maxWaste'], `${path}.maxWaste`, 0, 1);
  return padding as unknown as PaddingOptions;
}

/** Any key is allowed in a map keyed by tensor name. */
function keysOf(value: unknown): string[] {
  return typeof value === 'object' && value !== null ? Object.keys(value) : [];
}
