/**
 * Requests an attacker (or a careless client) sends, found by attacking `modelhost serve`:
 * each answered the same way whatever the model, exactly or with a 4xx saying why.
 */
import { connect, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createHttpHandler, createNodeServer, type NodeServerOptions } from '../../../src/adapters/http/index.js';
import { ModelHost, type DType } from '../../../src/index.js';
import { FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';

/** An identity model on [-1, 2] of `dtype`: INT64 bodies are parsed digit for digit (lossless-json), FP32 ones by JSON.parse. */
async function identity(dtype: DType) {
  const runtime = fakeRuntime({
    signature: { inputs: [{ name: 'x', dtype, shape: [-1, 2] }], outputs: [{ name: 'y', dtype, shape: [-1, 2] }] },
    compute: (inputs) => ({ y: inputs['x']! }),
  });
  const host = new ModelHost({ runtimes: { fake: runtime } });
  await host.load('m', { source: FAKE_SOURCE });
  const handle = createHttpHandler(host);
  const post = async (url: string, body: string) => {
    const response = await handle({ method: 'POST', url, headers: { 'content-type': 'application/json' }, body: Buffer.from(body), signal: new AbortController().signal });
    return { status: response?.status, body: JSON.parse(String(response?.body)) as Record<string, unknown> };
  };
  return { host, post };
}

describe('a key given twice in one object', () => {
  // JSON.parse (and express.json(), Python's json, Go's encoding/json) keep the last; the
  // exact-integer parser refused the body as "not valid JSON": the same request was answered
  // 200 or 400 depending on the model's datatypes.
  it.each([
    ['an input\'s "name"', '/v2/models/m/infer', '{"inputs":[{"name":"z","name":"x","shape":[1,2],"datatype":"@","data":[1,2]}]}', { outputs: [{ name: 'y', data: [1, 2] }] }],
    ['"inputs"', '/v2/models/m/infer', '{"inputs":[{"name":"z","shape":[1,2],"datatype":"@","data":[5,6]}],"inputs":[{"name":"x","shape":[1,2],"datatype":"@","data":[3,4]}]}', { outputs: [{ name: 'y', data: [3, 4] }] }],
    ['TF Serving "instances"', '/v1/models/m:predict', '{"instances":[[1,2]],"instances":[[7,8]]}', { predictions: [[7, 8]] }],
  ])('%s: the last one counts, for an FP32 model and an INT64 model alike', async (_, url, body, expected) => {
    for (const [dtype, datatype] of [['float32', 'FP32'], ['int64', 'INT64']] as const) {
      const { host, post } = await identity(dtype);
      const answer = await post(url, body.replaceAll('"@"', `"${datatype}"`));
      expect({ dtype, ...answer }).toMatchObject({ dtype, status: 200, body: expected });
      await host.close();
    }
  });
});

/** Writes `head` on a new connection; `then(socket, received)` may write more as answers arrive. Resolves with all received once the server closes, or after `ms`. */
function exchange(port: number, head: string, then?: (socket: ReturnType<typeof connect>, received: string) => void, ms = 2000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    const timer = setTimeout(() => socket.destroy(), ms);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      then?.(socket, received);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(received);
    });
    socket.write(head);
  });
}

describe('Expect: 100-continue on createNodeServer (and serve)', () => {
  const body = '{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}';

  async function served(options: NodeServerOptions = {}) {
    const host = new ModelHost({ runtimes: { fake: fakeRuntime() } });
    await host.load('m', { source: FAKE_SOURCE });
    const server = createNodeServer(host, options);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return {
      port,
      close: async () => {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
        await host.close();
      },
    };
  }

  it('a body over bodyLimitBytes is refused (413) without inviting it with 100 Continue first', async () => {
    const { port, close } = await served({ bodyLimitBytes: 1024 });
    const received = await exchange(port, `POST /v2/models/m/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\nExpect: 100-continue\r\n\r\n`);
    expect(received).toMatch(/^HTTP\/1\.1 413 /);
    expect(received).not.toContain('100 Continue');
    await close();
  });

  it('a body the server will read gets 100 Continue, then its answer', async () => {
    const { port, close } = await served();
    let sent = false;
    const received = await exchange(
      port,
      `POST /v2/models/m/infer HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`,
      (socket, text) => {
        if (!sent && text.includes('100 Continue\r\n\r\n')) {
          sent = true;
          socket.write(body);
        }
      },
    );
    expect(received).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK/);
    expect(received).toContain('"data":[3,5,7,9]');
    await close();
  });
});

describe('model names in paths', () => {
  // The router had a looser rule of its own than the repository's (no length bound, `..`
  // allowed): a 5,000-character name reached the host and came back twice in its message.
  it.each([
    ['129 characters', 'a'.repeat(129)],
    ["'..' inside", 'mlp..x'],
    ['a percent-encoded 129 characters', '%61'.repeat(129)],
  ])('a name no model can have (%s) is not a route: it never reaches the host', async (_, name) => {
    const { host } = await identity('float32');
    const handle = createHttpHandler(host);
    for (const [method, url] of [['GET', `/v2/models/${name}/ready`], ['POST', `/v2/models/${name}/infer`], ['POST', `/v1/models/${name}:predict`]]) {
      const response = await handle({ method: method!, url: url!, headers: {}, body: Buffer.from('{}'), signal: new AbortController().signal });
      expect(response, url).toBeUndefined(); // the listener answers 404 "no route", the path named once
    }
    await host.close();
  });

  it('a name of 128 characters is a model name: 404 MODEL_NOT_FOUND from the host', async () => {
    const { host } = await identity('float32');
    const handle = createHttpHandler(host);
    const response = await handle({ method: 'GET', url: `/v2/models/${'a'.repeat(128)}/ready`, headers: {}, body: undefined, signal: new AbortController().signal });
    expect(response).toMatchObject({ status: 404, headers: { 'x-modelhost-error-code': 'MODEL_NOT_FOUND' } });
    await host.close();
  });
});

describe("parameters of extensions modelhost does not serve", () => {
  // They were accepted and ignored over HTTP (the gRPC service refused classification and
  // sequences): a client asking for Triton's classification got raw scores back where it
  // expected "score:index:label" strings, one pointing an output at shared memory got the
  // data in JSON while it read its region, a sequence's requests were served as unrelated.
  it.each([
    ['classification on an output', { outputs: [{ name: 'y', parameters: { classification: 2 } }] }, "output 'y': parameters.classification asks for the classification extension, which this server does not implement"],
    ['shared memory on an output', { outputs: [{ name: 'y', parameters: { shared_memory_region: 'r', shared_memory_byte_size: 8 } }] }, "output 'y': parameters.shared_memory_region asks for the shared-memory extension, which this server does not implement"],
    ['shared memory on an input', { inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', parameters: { shared_memory_region: 'r', shared_memory_byte_size: 8 } }] }, "input 'x': parameters.shared_memory_region asks for the shared-memory extension, which this server does not implement"],
    ['a sequence id on the request', { parameters: { sequence_id: 7, sequence_start: true } }, 'the request: parameters.sequence_id asks for the sequence batching extension, which this server does not implement'],
  ])('%s is refused (400) naming it, never answered with something else', async (_, extra, message) => {
    const { host, post } = await identity('float32');
    const body = { inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [1, 2] }], ...extra };
    expect(await post('/v2/models/m/infer', JSON.stringify(body))).toEqual({ status: 400, body: { error: message } });
    await host.close();
  });

  it('other parameters are still accepted and ignored, as the protocol allows', async () => {
    const { host, post } = await identity('float32');
    const body = { inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [1, 2], parameters: { content_type: 'np' } }], outputs: [{ name: 'y', parameters: { mine: 1 } }], parameters: { priority: 1 } };
    expect(await post('/v2/models/m/infer', JSON.stringify(body))).toMatchObject({ status: 200, body: { outputs: [{ name: 'y', data: [1, 2] }] } });
    await host.close();
  });
});

describe('Inference-Header-Content-Length', () => {
  const body = Buffer.from('{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[1,2]}]}');
  it.each([
    ['-1', 'Inference-Header-Content-Length must be a decimal number of bytes, got "-1"'],
    ['1e3', 'Inference-Header-Content-Length must be a decimal number of bytes, got "1e3"'],
    ['0x10', 'Inference-Header-Content-Length must be a decimal number of bytes, got "0x10"'],
    ['', 'Inference-Header-Content-Length must be a decimal number of bytes, got ""'],
    ['9999', `Inference-Header-Content-Length 9999 does not fit a body of ${body.byteLength} bytes`],
  ])('%j: 400 saying what is wrong with it', async (value, message) => {
    const { host } = await identity('float32');
    const handle = createHttpHandler(host);
    const response = await handle({ method: 'POST', url: '/v2/models/m/infer', headers: { 'inference-header-content-length': value }, body, signal: new AbortController().signal });
    expect({ status: response?.status, body: JSON.parse(String(response?.body)) }).toEqual({ status: 400, body: { error: message } });
    await host.close();
  });
});

describe('many number inputs in one body (the one-pass read of KServe JSON numbers)', () => {
  // Each `data` array was looked up in the list of all of them (Array.includes/indexOf, three
  // times): time quadratic in the count of inputs. 200,000 one-value inputs (a 12 MB body,
  // within the default bodyLimitBytes and json.maxElements) held the thread about a minute;
  // read linearly it is well under a second. Not a timing assertion: the test's timeout only
  // separates linear from quadratic, two orders of magnitude apart.
  it('200,000 FP32 inputs are answered (400, unknown inputs) without a pass per input over all of them', { timeout: 30_000 }, async () => {
    const { host, post } = await identity('float32');
    const inputs = Array.from({ length: 200_000 }, (_, i) => ({ name: `x${i}`, datatype: 'FP32', shape: [1], data: [i] }));
    const answer = await post('/v2/models/m/infer', JSON.stringify({ inputs }));
    expect(answer.status).toBe(400);
    expect(String(answer.body['error'])).toMatch(/input 'x': is missing .* got unknown inputs 'x0', 'x1'/);
    await host.close();
  });
});
