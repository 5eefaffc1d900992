/**
 * Admin routes (load, deploy, promote, rollback, traffic, unload) and the authorize hook,
 * against a real listening server.
 */
import { describe, expect, it } from 'vitest';
import { ModelHost, type Runtime } from '../../../src/index.js';
import { deferred } from '../../helpers/fake-runtime.js';
import type { HttpOptions, HttpRequest } from '../../../src/adapters/http/index.js';
import { writeVersion } from '../../helpers/repository.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { versionedRuntime } from '../../helpers/versioned-runtime.js';
import { get, post, request, useServers } from './serve.js';

const tempDir = useTempDirs('each');
const { serve } = useServers();
const TOKEN = 's3cret';
/** The bearer-token recipe of docs/http.md. */
const bearer: HttpOptions['authorize'] = (req) => (req.headers['authorization'] === `Bearer ${TOKEN}` ? true : 401);
const AUTH = { authorization: `Bearer ${TOKEN}` };

async function repositoryHost(options: HttpOptions = { authorize: bearer }) {
  const root = await tempDir();
  for (const v of [1, 2, 3]) await writeVersion(root, 'm', v, { 'model.fake': 'fake' });
  // y = x × version: the answer tells which version ran.
  const host = new ModelHost({ repository: root, runtimes: { versioned: versionedRuntime() }, defaults: { rollout: { enabled: false } } });
  return { host, root, ...(await serve(host, options)) };
}

/** Which version answers an unpinned request, as seen over HTTP. */
async function answeredBy(url: string): Promise<number> {
  const { body } = await post(`${url}/v1/models/m:predict`, { instances: [[1, 1]] });
  return body.predictions[0][0];
}

describe('admin routes', () => {
  it('DELETE /admin/models/{m} during its first load (POST .../load) cancels the load: 200, the load 499 CANCELLED, the model ends unloaded', async () => {
    const root = await tempDir();
    await writeVersion(root, 'm', 1, { 'model.fake': 'fake' });
    const gate = deferred();
    const inner = versionedRuntime();
    const held: Runtime = { name: 'versioned', canLoad: inner.canLoad, load: async (source, options) => (await gate.promise, inner.load(source, options)) };
    const host = new ModelHost({ repository: root, runtimes: { versioned: held } });
    const reached = deferred();
    const unload = host.unload.bind(host);
    host.unload = (name, version) => (reached.resolve(undefined), unload(name, version));
    const { url } = await serve(host, { authorize: bearer });
    const loading = post(`${url}/admin/models/m/load`, undefined, AUTH);
    await expect.poll(() => host.status().length).toBe(1);
    const unloading = request(`${url}/admin/models/m`, { method: 'DELETE', headers: AUTH });
    await reached.promise; // the unload reached the host while the load is held
    gate.resolve(undefined);
    expect(await unloading).toMatchObject({ status: 200, body: { model: 'm', unloaded: true } });
    const loaded = await loading;
    expect(loaded.status).toBe(499);
    expect(loaded.headers.get('x-modelhost-error-code')).toBe('CANCELLED');
    expect(host.status()).toEqual([]);
    expect((await get(`${url}/v2/models/m/ready`)).status).toBe(404);
    expect(inner.open).toBe(0);
  });

  it('POST /admin/models/{m}/load loads the newest version, or { "version": n }', async () => {
    const { host, url } = await repositoryHost();
    expect(await post(`${url}/admin/models/m/load`, undefined, AUTH)).toMatchObject({ status: 200, body: { model: 'm', version: 3, versions: [3] } });
    expect(await post(`${url}/admin/models/m/load`, { version: 1 }, AUTH)).toMatchObject({ status: 200, body: { model: 'm', version: 1, versions: [1] } });
    expect(await post(`${url}/admin/models/m/load`, { version: '2' }, AUTH)).toMatchObject({ status: 200, body: { model: 'm', version: 2 } });
    expect(host.status('m').versions.map((v) => v.version)).toEqual([3, 2, 1]);
    expect(await answeredBy(url)).toBe(2);
  });

  it('POST .../deploy { version, canary } routes a share to the candidate; promote makes it the default; rollback returns', async () => {
    const { host, url } = await repositoryHost();
    await host.load('m', { version: 1 });
    const deployed = await post(`${url}/admin/models/m/deploy`, { version: 2, canary: 0.25 }, AUTH);
    expect(deployed).toMatchObject({ status: 200, body: { model: 'm', version: 1, candidate: 2, traffic: { 1: 0.75, 2: 0.25 } } });
    expect(host.status('m').candidate).toBe(2);

    const promoted = await post(`${url}/admin/models/m/promote`, undefined, AUTH);
    expect(promoted).toMatchObject({ status: 200, body: { model: 'm', version: 2, traffic: { 2: 1 } } });
    expect(promoted.body).not.toHaveProperty('candidate'); // undefined: left out of the JSON
    expect(await answeredBy(url)).toBe(2);

    expect(await post(`${url}/admin/models/m/rollback`, undefined, AUTH)).toMatchObject({ status: 200, body: { model: 'm', version: 1, from: 2 } });
    expect(await answeredBy(url)).toBe(1);

    // A full swap: no canary share.
    expect(await post(`${url}/admin/models/m/deploy`, { version: 3 }, AUTH)).toMatchObject({ status: 200, body: { version: 3, traffic: { 3: 1 } } });
    expect(await answeredBy(url)).toBe(3);
  });

  it('PUT .../traffic { weights } splits unpinned traffic', async () => {
    const { host, url } = await repositoryHost();
    await host.load('m', { version: 1 });
    await host.load('m', { version: 2 });
    const { status, body } = await request(`${url}/admin/models/m/traffic`, { method: 'PUT', body: { weights: { 1: 0.5, 2: 0.5 } }, headers: AUTH });
    expect(status).toBe(200);
    expect(body).toMatchObject({ model: 'm', traffic: { 1: 0.5, 2: 0.5 } });
    const answers = new Set<number>();
    for (let i = 0; i < 4; i++) answers.add(await answeredBy(url)); // smooth weighted round-robin: exact shares
    expect([...answers].sort()).toEqual([1, 2]);
  });

  it('DELETE /admin/models/{m}/versions/{v} unloads one version, DELETE /admin/models/{m} all of them', async () => {
    const { host, url } = await repositoryHost();
    await host.load('m', { version: 1 });
    await host.load('m', { version: 2 });
    expect(await request(`${url}/admin/models/m/versions/1`, { method: 'DELETE', headers: AUTH })).toMatchObject({ status: 200, body: { model: 'm', version: 1, unloaded: true } });
    expect(host.status('m').versions.map((v) => [v.version, v.state])).toEqual([[2, 'ready']]);
    expect(await request(`${url}/admin/models/m`, { method: 'DELETE', headers: AUTH })).toMatchObject({ status: 200, body: { model: 'm', version: null, unloaded: true } });
    expect(host.ready('m')).toBe(false);
    expect(await request(`${url}/admin/models/m/versions/1`, { method: 'DELETE', headers: AUTH })).toMatchObject({ status: 404 });
  });

  it.each([
    ['deploy without a version', 'POST', '/admin/models/m/deploy', { canary: 0.1 }, /deploy needs a "version"/],
    ['a version that is not a positive integer', 'POST', '/admin/models/m/load', { version: 'latest' }, /"version" must be a positive integer, got "latest"/],
    ['version 0', 'POST', '/admin/models/m/deploy', { version: 0 }, /"version" must be a positive integer, got 0/],
    ['traffic without weights', 'PUT', '/admin/models/m/traffic', { '1': 1 }, /traffic needs "weights"/],
    ['a body that is not an object', 'POST', '/admin/models/m/load', [1], /must be a JSON object/],
    ['a canary share out of range', 'POST', '/admin/models/m/deploy', { version: 2, canary: 1.5 }, /canary/],
  ])('%s is 400 { error }', async (_title, method, path, body, message) => {
    const { host, url } = await repositoryHost();
    await host.load('m', { version: 1 });
    const response = await request(`${url}${path}`, { method, body, headers: AUTH });
    expect(response.status).toBe(400);
    expect(response.body).toEqual({ error: expect.stringMatching(message) });
  });
});

describe('admin routes are refused without a yes from authorize', () => {
  const ROUTES: [string, string][] = [
    ['POST', '/admin/models/m/load'],
    ['POST', '/admin/models/m/deploy'],
    ['POST', '/admin/models/m/promote'],
    ['POST', '/admin/models/m/rollback'],
    ['PUT', '/admin/models/m/traffic'],
    ['DELETE', '/admin/models/m'],
    ['DELETE', '/admin/models/m/versions/1'],
    ['POST', '/v2/repository/models/m/load'],
    ['POST', '/v2/repository/models/m/unload'],
  ];

  it('without an authorize hook: 403 on every admin route, and nothing changes', async () => {
    const { host, url } = await repositoryHost({});
    await host.load('m', { version: 1 });
    for (const [method, path] of ROUTES) {
      const response = await request(`${url}${path}`, { method, body: { version: 2, weights: { 1: 1 } } });
      expect(response.status, `${method} ${path}`).toBe(403);
      expect(response.body).toEqual({ error: 'admin routes are disabled: the server did not configure authorize(request)' });
      expect(response.headers.get('x-modelhost-error-code')).toBe('UNAUTHORIZED');
    }
    expect(host.status('m').versions.map((v) => v.version)).toEqual([1]);
  });

  it('authorize returning false: 403', async () => {
    const seen: HttpRequest[] = [];
    const { host, url } = await repositoryHost({ authorize: (req) => (seen.push(req), false) });
    await host.load('m', { version: 1 });
    for (const [method, path] of ROUTES) {
      expect(await request(`${url}${path}`, { method, body: { version: 2 } }), `${method} ${path}`).toMatchObject({ status: 403, body: { error: 'this request may not use admin routes' } });
    }
    // The hook sees the request as the protocol layer does.
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/admin/models/m/load', headers: expect.objectContaining({ host: expect.any(String) }) });
    expect(seen[0]!.signal).toBeInstanceOf(AbortSignal);
    expect(host.status('m').versions.map((v) => v.version)).toEqual([1]);
  });

  it('authorize returning 401: 401 with WWW-Authenticate; the right bearer token passes', async () => {
    const { host, url } = await repositoryHost({ authorize: bearer });
    for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: `Basic ${TOKEN}` }] as Record<string, string>[]) {
      const response = await post(`${url}/admin/models/m/load`, { version: 1 }, headers);
      expect(response).toMatchObject({ status: 401, body: { error: 'admin routes need credentials' } });
      expect(response.headers.get('www-authenticate')).toBe('Bearer');
    }
    expect(host.status()).toEqual([]);
    expect((await post(`${url}/admin/models/m/load`, { version: 1 }, AUTH)).status).toBe(200);
  });

  it('an async authorize works; one that throws asks for credentials (401), never a 500 or a stack trace', async () => {
    const { url } = await repositoryHost({
      authorize: async (req) => {
        if (req.headers['authorization'] === undefined) throw new Error('jwt malformed at verify (/srv/auth.js:12:7)');
        return req.headers['authorization'] === `Bearer ${TOKEN}`;
      },
    });
    const thrown = await post(`${url}/admin/models/m/load`, { version: 1 });
    expect(thrown).toMatchObject({ status: 401, body: { error: 'admin routes need credentials' } });
    expect(thrown.headers.get('www-authenticate')).toBe('Bearer');
    expect(thrown.text).not.toMatch(/jwt|auth\.js/);
    expect((await post(`${url}/admin/models/m/load`, { version: 1 }, { authorization: 'Bearer nope' })).status).toBe(403);
    expect((await post(`${url}/admin/models/m/load`, { version: 1 }, AUTH)).status).toBe(200);
  });

  it('read-only routes never ask authorize', async () => {
    let asked = 0;
    const { host, url } = await repositoryHost({ authorize: () => (asked++, false) });
    await host.load('m', { version: 1 });
    for (const path of ['/v2', '/v2/models/m', '/v1/models/m', '/status.json', '/']) expect((await get(`${url}${path}`)).status, path).toBe(200);
    expect((await post(`${url}/v2/repository/index`)).status).toBe(200);
    expect(asked).toBe(0);
  });
});

describe('admin bodies: a key the route does not accept is a 400, never ignored', () => {
  it('deploy {"version":2,"canari":0.5} is refused (no full swap), names the key, suggests "canary", lists the accepted keys', async () => {
    const { host, url } = await repositoryHost();
    await host.load('m', { version: 1 });
    const res = await post(`${url}/admin/models/m/deploy`, { version: 2, canari: 0.5 }, AUTH);
    expect(res.status).toBe(400);
    expect(res.headers.get('x-modelhost-error-code')).toBe('INVALID_INPUT');
    expect(res.body.error).toBe('POST /admin/models/m/deploy: unknown key "canari" (did you mean "canary"?); accepted keys: "version", "canary", "shadow"');
    expect(host.status('m').versions.map((v) => v.version)).toEqual([1]);
    expect(await answeredBy(url)).toBe(1);
  });

  it('integers past 2^53 in an admin body are echoed with every digit (a version, a traffic weight), never a 500', async () => {
    const { host, url } = await repositoryHost();
    await host.load('m', { version: 1 });
    const send = (method: string, path: string, body: string) => request(`${url}${path}`, { method, body, headers: { ...AUTH, 'content-type': 'application/json' } });
    expect(await send('POST', '/admin/models/m/deploy', '{"version":9007199254740993}')).toMatchObject({ status: 400, body: { error: '"version" must be a positive integer, got 9007199254740993' } });
    expect(await send('POST', '/admin/models/m/load', '{"parameters":{"version":18446744073709551617}}')).toMatchObject({ status: 400, body: { error: '"version" must be a positive integer, got 18446744073709551617' } });
    expect(await send('PUT', '/admin/models/m/traffic', '{"weights":{"1":9007199254740993}}')).toMatchObject({ status: 400, body: { error: expect.stringContaining('got 9007199254740993n') } });
    expect(await send('POST', '/v2/repository/index', '{"ready":9007199254740993}')).toMatchObject({ status: 400, body: { error: '"ready" must be true or false, got 9007199254740993' } });
  });

  it('load {"verison":1} and {"parameters":{"verison":1}} are refused; version and parameters.version together are refused', async () => {
    const { host, url } = await repositoryHost();
    const typo = await post(`${url}/admin/models/m/load`, { verison: 1 }, AUTH);
    expect(typo.status).toBe(400);
    expect(typo.body.error).toMatch(/unknown key "verison" \(did you mean "version"\?\)/);
    expect((await post(`${url}/admin/models/m/load`, { parameters: { verison: 1 } }, AUTH)).status).toBe(400);
    expect((await post(`${url}/v2/repository/models/m/load`, { parameters: { version: 1 }, extra: true }, AUTH)).status).toBe(400);
    const both = await post(`${url}/admin/models/m/load`, { version: 1, parameters: { version: 2 } }, AUTH);
    expect(both.status).toBe(400);
    expect(both.body.error).toMatch(/"version" or "parameters.version", not both/);
    expect(host.status()).toEqual([]);
  });

  it('deploy {"canary":0.5,"shadow":0.5} with a version applies both (the library takes both: a canary share that is also mirrored); unknown keys on traffic, unload, promote, rollback are refused', async () => {
    const { host, url } = await repositoryHost();
    await host.load('m', { version: 1 });
    const both = await post(`${url}/admin/models/m/deploy`, { version: 2, canary: 0.5, shadow: 0.5 }, AUTH);
    expect(both).toMatchObject({ status: 200, body: { candidate: 2, traffic: { 1: 0.5, 2: 0.5 } } });
    expect((await post(`${url}/admin/models/m/promote`, { force: true }, AUTH)).status).toBe(400);
    expect((await post(`${url}/admin/models/m/rollback`, { to: 1 }, AUTH)).status).toBe(400);
    expect((await request(`${url}/admin/models/m/traffic`, { method: 'PUT', headers: { ...AUTH, 'content-type': 'application/json' }, body: JSON.stringify({ weights: { 1: 1 }, wieghts: {} }) })).status).toBe(400);
    expect((await post(`${url}/v2/repository/models/m/unload`, { version: 2, all: true }, AUTH)).status).toBe(400);
    expect(host.status('m').candidate).toBe(2);
  });

  it('an inherited key is not an accepted one: {"__proto__": ...} as an own key is refused', async () => {
    const { url } = await repositoryHost();
    const res = await request(`${url}/admin/models/m/load`, { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body: '{"__proto__":{"version":1}}' });
    expect(res.status).toBe(400);
  });
});

describe('unload: a path version and a body version together are a contradiction', () => {
  it('DELETE /admin/models/m/versions/2 {"version":3} is 400 and unloads nothing', async () => {
    const { host, url } = await repositoryHost();
    await host.load('m', { version: 2 });
    const res = await request(`${url}/admin/models/m/versions/2`, { method: 'DELETE', headers: AUTH, body: { version: 3 } });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(/from the path or from the body, not both/);
    expect(host.status('m').versions.map((v) => v.version)).toEqual([2]);
  });
});
