/**
 * Limits and routing at the edge: body size (413), JSON depth and element count (400),
 * invalid JSON (400), wrong method (405), unknown path (404).
 */
import { request as httpRequest } from 'node:http';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ModelHost } from '../../../src/index.js';
import { FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';
import { get, post, request, serve, type Served } from './serve.js';

/** A POST through node:http, so the body can go chunked (no Content-Length) or with one. */
function rawPost(url: string, chunks: readonly string[], headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
    });
    req.on('error', reject);
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

describe('limits and routing', () => {
  let host: ModelHost;
  let served: Served;
  let url: string;

  beforeAll(async () => {
    host = new ModelHost({ runtimes: { fake: fakeRuntime() } });
    await host.load('m', { source: FAKE_SOURCE });
    served = await serve(host, { bodyLimitBytes: 1024, json: { maxDepth: 5, maxElements: 16 } });
    url = served.url;
  });

  afterAll(async () => {
    await served?.close();
    await host?.close();
  });

  const infer = (data: unknown, shape = [1, 4]) => ({ inputs: [{ name: 'x', shape, datatype: 'FP32', data }] });

  it('a body within the limits is served', async () => {
    expect((await post(`${url}/v2/models/m/infer`, infer([[1, 2, 3, 4]]))).status).toBe(200);
  });

  it('a body refused as it streams in is never handled, even when what arrived before the refusal is a whole request', async () => {
    const predict = vi.spyOn(host, 'predict');
    const predictBatch = vi.spyOn(host, 'predictBatch');
    try {
      const whole = JSON.stringify(infer([[1, 2, 3, 4]]));
      // The first chunk alone is a valid request; the padding after it passes the limit, then the body ends.
      const refused = await rawPost(`${url}/v2/models/m/infer`, [whole, ' '.repeat(2000)], { 'content-type': 'application/json' });
      expect(refused.status).toBe(413);
      await new Promise((resolve) => setTimeout(resolve, 50)); // the drained body's 'end'
      expect(predict).not.toHaveBeenCalled();
      expect(predictBatch).not.toHaveBeenCalled();
    } finally {
      predict.mockRestore();
      predictBatch.mockRestore();
    }
  });

  it('a body over bodyLimitBytes is 413, by its Content-Length or as it streams in', async () => {
    const big = JSON.stringify(infer(Array.from({ length: 400 }, () => 1.5)));
    expect(big.length).toBeGreaterThan(1024);
    const declared = await post(`${url}/v2/models/m/infer`, big);
    expect(declared).toMatchObject({ status: 413, body: { error: 'the request body exceeds 1024 bytes' } });

    // No Content-Length: node:http sends the two writes chunked.
    const chunked = await rawPost(`${url}/v2/models/m/infer`, [big.slice(0, 600), big.slice(600)], { 'content-type': 'application/json' });
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.text)).toEqual({ error: 'the request body exceeds 1024 bytes' });

    // The server is fine afterwards.
    expect((await post(`${url}/v2/models/m/infer`, infer([1, 2, 3, 4]))).status).toBe(200);
  });

  it('JSON nested deeper than json.maxDepth is 400', async () => {
    // { inputs: [ { data: [[[[1]]]] } ] }: the object, inputs, the input, then four arrays → depth 7
    const response = await post(`${url}/v2/models/m/infer`, infer([[[[1, 2, 3, 4]]]], [1, 1, 1, 4]));
    expect(response).toMatchObject({ status: 400, body: { error: 'the JSON body nests deeper than 5 levels' } });
    const tf = await post(`${url}/v1/models/m:predict`, { instances: [[[[[[1]]]]]] });
    expect(tf).toMatchObject({ status: 400, body: { error: 'the JSON body nests deeper than 5 levels' } });
  });

  it('JSON with more values than json.maxElements is 400', async () => {
    const response = await post(`${url}/v2/models/m/infer`, infer(Array.from({ length: 16 }, () => 0), [4, 4]));
    expect(response).toMatchObject({ status: 400, body: { error: 'the JSON body holds more than 16 values' } });
  });

  it('invalid or empty JSON is 400', async () => {
    const invalid = await post(`${url}/v2/models/m/infer`, '{"inputs": [');
    expect(invalid).toMatchObject({ status: 400, body: { error: expect.stringMatching(/^the request body is not valid JSON: /) } });
    // TF Serving's NaN / Infinity tokens are not JSON either.
    const nan = await post(`${url}/v1/models/m:predict`, '{"instances": [[1, NaN, 3, 4]]}');
    expect(nan).toMatchObject({ status: 400, body: { error: expect.stringMatching(/not valid JSON/) } });
    const empty = await request(`${url}/v2/models/m/infer`, { method: 'POST' });
    expect(empty).toMatchObject({ status: 400, body: { error: 'the request body is empty; expected JSON' } });
  });

  it.each([
    ['gzip', gzipSync],
    ['deflate', deflateSync],
    ['br', brotliCompressSync],
    ['x-custom', (b: Buffer) => b],
  ])('a body with Content-Encoding %s is 415 naming the coding (not "not UTF-8"), with Accept-Encoding: identity', async (coding, encode) => {
    for (const path of ['/v2/models/m/infer', '/v1/models/m:predict', '/admin/models/m/rollback']) {
      const response = await request(`${url}${path}`, { body: new Uint8Array(encode(Buffer.from(JSON.stringify(infer([1, 2, 3, 4]))))), headers: { 'content-type': 'application/json', 'content-encoding': coding } });
      expect(response, path).toMatchObject({ status: 415, body: { error: `the request body has Content-Encoding "${coding}", which this server does not decode: send it uncompressed (identity)` } });
      expect(response.headers.get('accept-encoding')).toBe('identity');
    }
  });

  it('Content-Encoding identity (or none) is read as sent; a large encoded body gets the same 415, not a JSON parse error', async () => {
    expect((await request(`${url}/v2/models/m/infer`, { body: JSON.stringify(infer([1, 2, 3, 4])), headers: { 'content-encoding': 'identity' } })).status).toBe(200);
    // Bodies past largeBodyBytes are parsed ahead of routing, one per turn: the coding is checked first there too.
    const eager = await serve(host, { limits: { largeBodyBytes: 10 } });
    try {
      const body = new Uint8Array(gzipSync(Buffer.from(JSON.stringify(infer([1, 2, 3, 4])))));
      const response = await request(`${eager.url}/v2/models/m/infer`, { body, headers: { 'content-encoding': 'gzip, identity' } });
      expect(response).toMatchObject({ status: 415, body: { error: expect.stringMatching(/^the request body has Content-Encoding "gzip", /) } });
    } finally {
      await eager.close();
    }
  });

  it('a body under a transfer coding other than chunked (Transfer-Encoding: gzip, chunked) is 501 naming it, small or large; chunked alone is read', async () => {
    const post = (target: string, headers: Record<string, string>, body: Buffer) =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        // node:http applies the chunking itself when the header names chunked; the gzip is left for the server.
        const req = httpRequest(target, { method: 'POST', headers }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode!, text }));
        });
        req.on('error', reject);
        req.end(body);
      });
    const json = Buffer.from(JSON.stringify(infer([1, 2, 3, 4])));
    const error = 'the request body has Transfer-Encoding "gzip", which this server does not decode: send it with chunked alone or a Content-Length';
    for (const path of ['/v2/models/m/infer', '/v1/models/m:predict']) {
      const refused = await post(`${url}${path}`, { 'content-type': 'application/json', 'transfer-encoding': 'gzip, chunked' }, gzipSync(json));
      expect(refused.status, path).toBe(501);
      expect(JSON.parse(refused.text), path).toEqual({ error });
    }
    expect((await post(`${url}/v2/models/m/infer`, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, json)).status).toBe(200);
    const eager = await serve(host, { limits: { largeBodyBytes: 10 } });
    try {
      const refused = await post(`${eager.url}/v2/models/m/infer`, { 'transfer-encoding': 'GZIP , chunked' }, gzipSync(json));
      expect({ status: refused.status, body: JSON.parse(refused.text) }).toEqual({ status: 501, body: { error } });
    } finally {
      await eager.close();
    }
    // A header of thousands of codings: the answer names the first few, not each (it was 2.5 times the header).
    const many = `${Array.from({ length: 1000 }, (_, i) => `c${i}`).join(',')}, chunked`;
    const flood = await post(`${url}/v2/models/m/infer`, { 'content-type': 'application/json', 'transfer-encoding': many }, json);
    expect({ status: flood.status, body: JSON.parse(flood.text) }).toEqual({
      status: 501,
      body: { error: 'the request body has Transfer-Encoding "c0", "c1", "c2", "c3" and 996 more, which this server does not decode: send it with chunked alone or a Content-Length' },
    });
    const zipped = await post(`${url}/v2/models/m/infer`, { 'content-type': 'application/json', 'content-encoding': Array.from({ length: 1000 }, (_, i) => `c${i}`).join(',') }, json);
    expect({ status: zipped.status, body: JSON.parse(zipped.text) }).toEqual({
      status: 415,
      body: { error: 'the request body has Content-Encoding "c0", "c1", "c2", "c3" and 996 more, which this server does not decode: send it uncompressed (identity)' },
    });
  });

  it.each([
    ['GET', '/v2/models/m/infer', 'POST'],
    ['DELETE', '/v2', 'GET, HEAD'],
    ['POST', '/v2/health/live', 'GET, HEAD'],
    ['PUT', '/v2/models/m', 'GET, HEAD'],
    ['GET', '/v1/models/m:predict', 'POST'],
    ['POST', '/v1/models/m/metadata', 'GET, HEAD'],
    ['GET', '/admin/models/m/load', 'POST'],
    ['POST', '/admin/models/m/traffic', 'PUT'],
    ['PATCH', '/admin/models/m', 'DELETE'],
    ['POST', '/metrics', 'GET, HEAD'],
    ['POST', '/status.json', 'GET, HEAD'],
    ['DELETE', '/', 'GET, HEAD'],
  ])('%s %s is 405 { error } with Allow: %s', async (method, path, allow) => {
    const response = await request(`${url}${path}`, { method });
    expect(response.status).toBe(405);
    expect(response.body).toEqual({ error: `method ${method} is not allowed on ${path}` });
    expect(response.headers.get('allow')).toBe(allow);
  });

  it.each(['/nope', '/v2/models', '/v2/models/m/versions', '/v3', '/v1/models/m:classify', '/v1/models/m:regress', '/admin/models/m/reload', '/v2/models/%2e%2e/ready'])(
    'GET and POST %s are 404 { error }',
    async (path) => {
      for (const method of ['GET', 'POST']) {
        const response = await request(`${url}${path}`, { method });
        expect(response.status, `${method} ${path}`).toBe(404);
        expect(Object.keys(response.body)).toEqual(['error']);
      }
    },
  );

  it("a request target starting with '//' is a path on this server, never a host; none is a 500", async () => {
    const raw = (target: string) =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = httpRequest(url, { path: target }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (c: string) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode!, text }));
        });
        req.on('error', reject).end();
      });
    expect(await raw('//evil.example/v2/health/live')).toMatchObject({ status: 404 });
    expect((await raw('//')).status).toBeLessThan(500);
    expect((await raw('/v2/health/live')).status).toBe(200);
  });

  it('a model name with percent-encoded characters names the same model (%6D is m); one that decodes to no model name is 404', async () => {
    expect((await get(`${url}/v2/models/%6D`)).body.name).toBe('m');
    const inferred = await post(`${url}/v2/models/%6d/infer`, { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] });
    expect(inferred.status, inferred.text).toBe(200);
    expect(inferred.body.model_name).toBe('m');
    for (const path of ['/v2/models/m%2Fx/infer', '/v2/models/%2Em/ready', '/v2/models/m%00/ready', '/v2/models/%E0%A4%A/ready']) {
      const response = await request(`${url}${path}`, { method: path.endsWith('infer') ? 'POST' : 'GET' });
      expect(response.status, path).toBe(404);
    }
  });

  it('a path parameter with broken percent-encoding is 400, not 500', async () => {
    const response = await get(`${url}/v2/models/m/versions/%E0%A4%A/ready`);
    expect(response).toMatchObject({ status: 400, body: { error: expect.stringMatching(/percent-encoding/) } });
  });

  it('HEAD is GET without a body; a query string and a trailing slash do not change the route', async () => {
    const head = await fetch(`${url}/v2/models/m`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    expect((await get(`${url}/v2/models/m?verbose=1`)).body.name).toBe('m');
    expect((await get(`${url}/v2/models/m/`)).body.name).toBe('m');
  });
});
