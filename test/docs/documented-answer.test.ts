import { describe, expect, it } from 'vitest';
import { withPlaceholders } from './documented-answer.js';

describe('the placeholder of documented answers', () => {
  const documented = withPlaceholders({ model_name: 'affine', id: '…', outputs: [{ name: 'y', data: [3, 5] }] });

  it('matches any string where the answer has "…"', () => {
    expect({ model_name: 'affine', id: '6d01f7a9-3d75-41f5-b3b1-180b7ec24fe2', outputs: [{ name: 'y', data: [3, 5] }] }).toEqual(documented);
    expect({ model_name: 'affine', id: '', outputs: [{ name: 'y', data: [3, 5] }] }).toEqual(documented);
  });

  it('does not match a number, null, an object or a missing key', () => {
    for (const id of [42, null, { uuid: 'x' }, ['x']]) expect({ model_name: 'affine', id, outputs: [{ name: 'y', data: [3, 5] }] }).not.toEqual(documented);
    expect({ model_name: 'affine', outputs: [{ name: 'y', data: [3, 5] }] }).not.toEqual(documented);
  });

  it('leaves every other value exact', () => {
    expect({ model_name: 'affine', id: 'a', outputs: [{ name: 'y', data: [3, 6] }] }).not.toEqual(documented);
    expect({ model_name: 'affin', id: 'a', outputs: [{ name: 'y', data: [3, 5] }] }).not.toEqual(documented);
    expect(withPlaceholders('a … b')).toBe('a … b');
  });

  it('matches a prefix when text comes before the "…"', () => {
    const prefixed = withPlaceholders({ id: '3f0c…' });
    expect({ id: '3f0c9e2a' }).toEqual(prefixed);
    expect({ id: '3f0c' }).toEqual(prefixed);
    expect({ id: 'x3f0c9e2a' }).not.toEqual(prefixed);
    expect({ id: 3 }).not.toEqual(prefixed);
    expect({ id: '(.*)…' }).not.toEqual(withPlaceholders({ id: '(.)…' })); // the prefix is text, not a pattern
  });
});
