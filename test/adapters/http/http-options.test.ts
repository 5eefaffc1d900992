/**
 * The HTTP options are checked where they are resolved (`resolveHttpOptions`, which every
 * adapter goes through): a wrong value is INVALID_CONFIG naming the option, what it must be
 * and what it got, never a limit that silently does not hold.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createHttpHandler, createNodeListener, type HttpOptions } from '../../../src/adapters/http/index.js';
import { JSON_MAX_DEPTH_LIMIT, resolveHttpOptions } from '../../../src/adapters/http/http-types.js';
import { ErrorCode, ModelHost, ModelHostError } from '../../../src/index.js';
import { FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));

function refusal(options: HttpOptions): string {
  try {
    resolveHttpOptions(options);
  } catch (error) {
    expect(error).toBeInstanceOf(ModelHostError);
    expect((error as ModelHostError).code).toBe(ErrorCode.INVALID_CONFIG);
    return (error as Error).message;
  }
  return 'accepted';
}

describe('HTTP options', () => {
  it.each([
    [{ json: { maxDepth: Number.NaN } }, '`json.maxDepth` must be an integer from 1 to 1000, got NaN'],
    [{ json: { maxDepth: 0 } }, '`json.maxDepth` must be an integer from 1 to 1000, got 0'],
    [{ json: { maxDepth: -1 } }, '`json.maxDepth` must be an integer from 1 to 1000, got -1'],
    [{ json: { maxDepth: 2.5 } }, '`json.maxDepth` must be an integer from 1 to 1000, got 2.5'],
    [{ json: { maxDepth: 100_000 } }, '`json.maxDepth` must be an integer from 1 to 1000, got 100000'],
    [{ json: { maxDepth: Number.POSITIVE_INFINITY } }, '`json.maxDepth` must be an integer from 1 to 1000, got Infinity'],
    [{ json: { maxDepth: '64' as unknown as number } }, '`json.maxDepth` must be an integer from 1 to 1000, got "64"'],
    [{ json: { maxElements: Number.NaN } }, '`json.maxElements` must be an integer ≥ 1, got NaN'],
    [{ json: { maxElements: 0 } }, '`json.maxElements` must be an integer ≥ 1, got 0'],
    [{ json: { maxElements: -5 } }, '`json.maxElements` must be an integer ≥ 1, got -5'],
    [{ json: { maxElements: 1.5 } }, '`json.maxElements` must be an integer ≥ 1, got 1.5'],
    [{ json: { maxElements: Number.POSITIVE_INFINITY } }, '`json.maxElements` must be an integer ≥ 1, got Infinity'],
    [{ json: { maxdepth: 5 } as unknown as HttpOptions['json'] }, "`json` has an unknown option 'maxdepth' (did you mean 'maxDepth'?); known options: maxDepth, maxElements"],
    [{ json: 64 as unknown as HttpOptions['json'] }, '`json` must be an object, got 64'],
    // The same kind of fault in the options beside it: a NaN body limit was no limit at all.
    [{ bodyLimitBytes: Number.NaN }, '`bodyLimitBytes` must be an integer ≥ 1, got NaN'],
    [{ bodyLimitBytes: 0 }, '`bodyLimitBytes` must be an integer ≥ 1, got 0'],
    [{ bodyLimitBytes: 1.5 }, '`bodyLimitBytes` must be an integer ≥ 1, got 1.5'],
    [{ timeoutMs: 0 }, '`timeoutMs` must be a positive number of ms up to 2147483647, got 0'],
    [{ timeoutMs: Number.NaN }, '`timeoutMs` must be a positive number of ms up to 2147483647, got NaN'],
    [{ timeoutMs: Number.POSITIVE_INFINITY }, '`timeoutMs` must be a positive number of ms up to 2147483647, got Infinity'],
    // A misspelt option was ignored: the admin routes stayed off, the body limit stayed 32 MiB, /metrics stayed 404.
    [{ authorise: () => true } as unknown as HttpOptions, "`options` has an unknown option 'authorise' (did you mean 'authorize'?); known options: bodyLimitBytes, json, maxResponseBytes, timeoutMs, authorize, authorizeFeedback, metrics, statusPage, serverName, limits"],
    [{ bodyLimit: 1024 } as unknown as HttpOptions, "`options` has an unknown option 'bodyLimit'; known options: bodyLimitBytes, json, maxResponseBytes, timeoutMs, authorize, authorizeFeedback, metrics, statusPage, serverName, limits"],
    [{ metric: {} } as unknown as HttpOptions, "`options` has an unknown option 'metric' (did you mean 'metrics'?); known options: bodyLimitBytes, json, maxResponseBytes, timeoutMs, authorize, authorizeFeedback, metrics, statusPage, serverName, limits"],
    // And a value of the wrong kind: a string "false" served the status page, a token string as authorize failed every admin call with 500.
    [{ authorize: 'secret' as unknown as HttpOptions['authorize'] }, '`authorize` must be a function, got "secret"'],
    [{ authorizeFeedback: true as unknown as HttpOptions['authorizeFeedback'] }, '`authorizeFeedback` must be a function, got true'],
    [{ metrics: 'prom' as unknown as HttpOptions['metrics'] }, '`metrics` must be a prom-client Registry ({ metrics(), contentType }), e.g. collectMetrics(host).registry, got "prom"'],
    [{ statusPage: 'false' as unknown as boolean }, '`statusPage` must be true or false, got "false"'],
    [{ serverName: '' }, '`serverName` must be a non-empty string, got ""'],
  ] as [HttpOptions, string][])('%j is refused: %s', (options, message) => {
    expect(refusal(options)).toBe(message);
  });

  it('accepts the bounds of each range', () => {
    expect(resolveHttpOptions({ json: { maxDepth: 1, maxElements: 1 } })).toMatchObject({ maxDepth: 1, maxElements: 1 });
    expect(resolveHttpOptions({ json: { maxDepth: JSON_MAX_DEPTH_LIMIT } }).maxDepth).toBe(1000);
    expect(resolveHttpOptions({})).toMatchObject({ maxDepth: 64, maxElements: 10_000_000, bodyLimitBytes: 32 * 1024 * 1024, timeoutMs: undefined });
  });

  it('every adapter refuses them at construction, not at the first request', async () => {
    const host = new ModelHost({ runtimes: { fake: fakeRuntime() } });
    expect(() => createHttpHandler(host, { json: { maxDepth: 100_000 } })).toThrow('`json.maxDepth` must be an integer from 1 to 1000, got 100000');
    expect(() => createNodeListener(host, { bodyLimitBytes: Number.NaN })).toThrow('`bodyLimitBytes` must be an integer ≥ 1, got NaN');
    expect(() => createNodeListener(host, { authorise: () => true } as never)).toThrow("unknown option 'authorise' (did you mean 'authorize'?)");
    // The listener's own `limits` pass (they are checked by the listener).
    expect(() => createNodeListener(host, { limits: { maxBufferedBytes: 1024 }, statusPage: false, serverName: 'm' })).not.toThrow();
    await host.close();
  });
});

describe('json.maxDepth at its cap', () => {
  const nested = (levels: number) => `${'['.repeat(levels)}1${']'.repeat(levels)}`;
  const int64 = fakeRuntime({
    signature: { inputs: [{ name: 'x', dtype: 'int64', shape: [-1, 2] }], outputs: [{ name: 'y', dtype: 'int64', shape: [-1, 2] }] },
    compute: (inputs) => ({ y: inputs['x']! }),
  });

  async function answer(body: string, url = '/v2/models/m/infer'): Promise<{ status: number | undefined; body: string }> {
    const host = new ModelHost({ runtimes: { fake: int64 } });
    await host.load('m', { source: FAKE_SOURCE });
    const handle = createHttpHandler(host, { json: { maxDepth: JSON_MAX_DEPTH_LIMIT } });
    const response = await handle({ method: 'POST', url, headers: { 'content-type': 'application/json' }, body: Buffer.from(body), signal: new AbortController().signal });
    await host.close();
    return { status: response?.status, body: String(response?.body) };
  }

  // Before: a depth of 1e5 was accepted, and an INT64 model's body nested 5e4 deep got
  // "Maximum call stack size exceeded" from lossless-json (it recurses per level).
  it.each([
    ['KServe data', (levels: number) => `{"inputs":[{"name":"x","shape":[1,2],"datatype":"INT64","data":${nested(levels - 3)}}]}`, '/v2/models/m/infer'],
    ['TF Serving instances', (levels: number) => `{"instances":${nested(levels - 1)}}`, '/v1/models/m:predict'],
    ['TF Serving inputs', (levels: number) => `{"inputs":${nested(levels - 1)}}`, '/v1/models/m:predict'],
    ['objects', (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`, '/v2/models/m/infer'],
  ] as const)('%s nested to the cap: the deepest body allowed reaches validation (400 on its shape), one level more is refused by depth', async (_, body, url) => {
    const atCap = await answer(body(JSON_MAX_DEPTH_LIMIT), url);
    expect(atCap.status).toBe(400);
    expect(atCap.body).not.toMatch(/call stack|JSON body nests deeper/);
    const past = await answer(body(JSON_MAX_DEPTH_LIMIT + 1), url);
    expect(past).toEqual({ status: 400, body: expect.stringContaining('the JSON body nests deeper than 1000 levels') });
  });

  it('holds at the cap with 40% of the default stack (a caller deep in its own frames)', () => {
    // lossless-json (the exact-integer parser) and the limits walk recurse once per level:
    // measured, they reach ~4,700 levels on Node's default stack (984 KiB) and ~1,800 on 400 KiB.
    const script = `
      import { createHttpHandler } from './src/adapters/http/index.ts';
      import { ModelHost } from './src/index.ts';
      import { FAKE_SOURCE, fakeRuntime } from './test/helpers/fake-runtime.ts';
      const runtime = fakeRuntime({ signature: { inputs: [{ name: 'x', dtype: 'int64', shape: [-1, 2] }], outputs: [{ name: 'y', dtype: 'int64', shape: [-1, 2] }] }, compute: (i) => ({ y: i.x }) });
      const host = new ModelHost({ runtimes: { fake: runtime } });
      await host.load('m', { source: FAKE_SOURCE });
      const handle = createHttpHandler(host, { json: { maxDepth: ${JSON_MAX_DEPTH_LIMIT} } });
      const levels = ${JSON_MAX_DEPTH_LIMIT} - 3;
      const body = '{"inputs":[{"name":"x","shape":[1,2],"datatype":"INT64","data":' + '['.repeat(levels) + '1' + ']'.repeat(levels) + '}]}';
      const response = await handle({ method: 'POST', url: '/v2/models/m/infer', headers: {}, body: Buffer.from(body), signal: new AbortController().signal });
      console.log(response.status, String(response.body));
      await host.close();`;
    const run = spawnSync(process.execPath, ['--stack-size=400', '--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(/^400 /);
    expect(run.stdout).not.toMatch(/call stack|JSON body nests deeper/);
  });
});
