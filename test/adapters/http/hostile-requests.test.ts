/**
 * Requests an attacker (or a careless client) sends, found by attacking `modelhost serve`:
 * each answered the same way whatever the model, exactly or with a 4xx saying why.
 */
import { describe, expect, it } from 'vitest';
import { createHttpHandler } from '../../../src/adapters/http/index.js';
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
