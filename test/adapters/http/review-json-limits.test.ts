import { describe, expect, it } from 'vitest';
import { createHttpHandler } from '../../../src/adapters/http/index.js';
import { ModelHost } from '../../../src/index.js';
import { FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';

const deep = (levels: number, inner: string) => '['.repeat(levels) + inner + ']'.repeat(levels);
const inputWith = (data: string) => `{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":${data}}]}`;

describe('review: the JSON limits walk over the infer route', () => {
  it.each([
    ['nesting 100,000 levels deep', inputWith(deep(100_000, '1')), /nests deeper than 64 levels/],
    ['nesting one past maxDepth', inputWith(deep(62, '1')), /nests deeper than 64 levels/],
    ['objects nested past maxDepth', inputWith('{"a":'.repeat(70) + '1' + '}'.repeat(70)), /nests deeper than 64 levels/],
    ['a number past a double in a mixed array', inputWith('[1,"a",null,true,1e400]'), /too large for a double/],
    ['a number past a double in an array of numbers', inputWith('[1,2,3,1e400]'), /too large for a double/],
    ['an __proto__ key holding a deep value', `{"__proto__":${deep(80, '1')},"inputs":[]}`, /nests deeper than 64 levels/],
    ['more values than maxElements', inputWith(`[${Array(2_000).fill(1).join(',')}]`), /holds more than 1000 values/],
  ])('%s: 400 naming the limit, never a 500 or a stack overflow', async (_, body, message) => {
    const host = new ModelHost({ runtimes: { fake: fakeRuntime() } });
    await host.load('m', { source: FAKE_SOURCE });
    const handle = createHttpHandler(host, { json: { maxElements: 1000 } });
    const response = await handle({ method: 'POST', url: '/v2/models/m/infer', headers: { 'content-type': 'application/json' }, body: Buffer.from(body), signal: new AbortController().signal });
    expect(response?.status).toBe(400);
    expect(String(response?.body)).toMatch(message);
    await host.close();
  });

  it('an integer past 2^53 in an FP32 input is answered as any float (rounded to FP32), never a 500', async () => {
    const host = new ModelHost({ runtimes: { fake: fakeRuntime() } });
    await host.load('m', { source: FAKE_SOURCE });
    const handle = createHttpHandler(host);
    const response = await handle({ method: 'POST', url: '/v2/models/m/infer', headers: {}, body: Buffer.from(inputWith('[9007199254740993,1,2,3]')), signal: new AbortController().signal });
    expect(response?.status).toBe(200);
    expect(JSON.parse(String(response?.body)).outputs[0].data[0]).toBe(Math.fround(9007199254740993) * 2);
    await host.close();
  });
});
