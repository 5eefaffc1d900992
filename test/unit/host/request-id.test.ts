/**
 * The one request-id rule, and the id the host makes for a request nobody named: the last one
 * made is accepted by one comparison (the HTTP adapter names a request, then hands the same id
 * to `predict`), and nothing else is accepted that the rule refuses.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isRequestId, newRequestId, requestIdProblem } from '../../../src/index.js';

afterEach(() => vi.restoreAllMocks());

describe('request ids', () => {
  it('a new id is a UUID the rule accepts, different each time', () => {
    const ids = Array.from({ length: 100 }, () => newRequestId());
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(ids).size).toBe(100);
    for (const id of ids) expect(isRequestId(id)).toBe(true);
  });

  it('ids across refills of the random pool (128 at a time) are distinct v4 UUIDs, every random digit in use', () => {
    const ids = Array.from({ length: 1000 }, () => newRequestId());
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-([89ab])[0-9a-f]{3}-[0-9a-f]{12}$/;
    for (const id of ids) expect(id).toMatch(uuid);
    expect(new Set(ids).size).toBe(1000);
    // The variant digit takes its four values and the random digits all sixteen: no byte is fixed or shifted.
    expect(new Set(ids.map((id) => uuid.exec(id)![1])).size).toBe(4);
    for (const at of [0, 7, 15, 24, 35]) expect(new Set(ids.map((id) => id[at])).size).toBe(16);
  });

  it('the last id made is accepted without reading it again; any other id is read', () => {
    const id = newRequestId();
    const test = vi.spyOn(RegExp.prototype, 'test');
    expect(isRequestId(id)).toBe(true);
    expect(test).not.toHaveBeenCalled();
    expect(isRequestId('client-id-1')).toBe(true);
    expect(test).toHaveBeenCalledTimes(1);
  });

  it('after an id is made, the rule still refuses what it refused (nothing rides on the remembered id)', () => {
    newRequestId();
    for (const bad of [undefined, null, '', ' ', 'a b', 'é', 'x'.repeat(129), 42, {}, ['a']]) expect(isRequestId(bad)).toBe(false);
    expect(isRequestId('x'.repeat(128))).toBe(true);
  });

  it('nothing that only looks like the remembered id passes: a String object, an object whose toString or valueOf gives it, an array holding it (the session-7 review)', () => {
    const id = newRequestId();
    const lookalikes: unknown[] = [new String(id), Object(id), { toString: () => id }, { valueOf: () => id }, [id], { [Symbol.toPrimitive]: () => id }];
    for (const value of lookalikes) expect(isRequestId(value)).toBe(false);
    expect(isRequestId(`${id}`)).toBe(true);
  });
});

describe('a refused id is described', () => {
  it('with its length, in the right number', () => {
    expect(requestIdProblem('id', ' ')).toBe('id must be 1–128 visible ASCII characters (no spaces), got " " (1 character)');
    expect(requestIdProblem('id', 'a b')).toContain('(3 characters)');
  });
});
