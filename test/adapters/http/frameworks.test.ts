/**
 * Mounting the protocol layer in a framework: Express (`createExpressRouter` at a prefix,
 * with or without a body parser in front) through supertest, and `createHttpHandler` used
 * directly the way a Fastify route does (a body the framework already parsed).
 */
import { gzipSync } from 'node:zlib';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import supertest from 'supertest';
import { describe, expect, it } from 'vitest';
import { createExpressErrorHandler, createExpressRouter } from '../../../src/adapters/express/index.js';
import { createHttpHandler } from '../../../src/adapters/http/index.js';
import { ModelHost } from '../../../src/index.js';
import { FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';
import { post, useServers } from './serve.js';

const { track } = useServers();
const INFER = { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] };
const Y = [3, 5, 7, 9];

async function loadedHost() {
  const host = track(new ModelHost({ runtimes: { fake: fakeRuntime() } }));
  await host.load('m', { source: FAKE_SOURCE });
  return host;
}

describe('Express: createExpressRouter(host, options) at a prefix', () => {
  function app(host: ModelHost, { bodyParser }: { bodyParser: boolean }) {
    const a = express();
    if (bodyParser) a.use(express.json());
    a.get('/healthz', (_req, res) => void res.send('ok'));
    a.use('/ml', createExpressRouter(host, { authorize: (req) => req.headers['authorization'] === 'Bearer t', json: { maxDepth: 5 } }));
    a.use((_req, res) => void res.status(404).json({ from: 'the app' }));
    return a;
  }

  it.each([false, true])('serves KServe, TF Serving, admin and status under the prefix (express.json() in front: %s)', async (bodyParser) => {
    const host = await loadedHost();
    const agent = supertest(app(host, { bodyParser }));
    expect((await agent.get('/ml/v2')).body).toMatchObject({ name: 'modelhost' });
    expect((await agent.get('/ml/v2/models/m/ready')).status).toBe(200);
    const infer = await agent.post('/ml/v2/models/m/infer').send(INFER);
    expect(infer.status).toBe(200);
    expect(infer.body.outputs[0].data).toEqual(Y);
    expect((await agent.post('/ml/v1/models/m:predict').send({ instances: [[1, 2, 3, 4]] })).body).toEqual({ predictions: [Y] });
    expect((await agent.post('/ml/admin/models/m/rollback')).status).toBe(403);
    expect((await agent.get('/ml/status.json')).body.models[0].name).toBe('m');
    // JSON limits hold for a body the parser already parsed, too.
    const deep = await agent.post('/ml/v2/models/m/infer').send({ inputs: [{ name: 'x', shape: [1, 1, 1, 4], datatype: 'FP32', data: [[[[1, 2, 3, 4]]]] }] });
    expect(deep).toMatchObject({ status: 400, body: { error: 'the JSON body nests deeper than 5 levels' } });
  });

  it('passes paths it does not serve to the next middleware, and leaves the rest of the app alone', async () => {
    const host = await loadedHost();
    const agent = supertest(app(host, { bodyParser: true }));
    expect((await agent.get('/ml/not-a-route')).body).toEqual({ from: 'the app' });
    expect((await agent.get('/healthz')).text).toBe('ok');
    expect((await agent.get('/v2')).body).toEqual({ from: 'the app' }); // only under the prefix
  });

  it('a gzip body: served when express.json() in front inflated it, 415 naming the coding when the router reads it raw', async () => {
    const host = await loadedHost();
    const gzipped = gzipSync(Buffer.from(JSON.stringify(INFER)));
    // Over a real socket: supertest would serialize a Buffer as JSON under application/json.
    const post = async (bodyParser: boolean) => {
      const server = createServer(app(host, { bodyParser }));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/ml/v2/models/m/infer`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: new Uint8Array(gzipped) });
        return { status: response.status, body: (await response.json()) as { outputs?: { data: unknown }[]; error?: string } };
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    };
    const inflated = await post(true);
    expect(inflated.status, JSON.stringify(inflated.body)).toBe(200);
    expect(inflated.body.outputs![0]!.data).toEqual(Y);
    expect(await post(false)).toMatchObject({ status: 415, body: { error: expect.stringMatching(/Content-Encoding "gzip"/) } });
  });

  it('reads the raw body itself for the binary extension, even behind express.json()', async () => {
    const host = await loadedHost();
    const head = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', parameters: { binary_data_size: 16 } }] }));
    const body = Buffer.concat([head, Buffer.from(new Float32Array([1, 2, 3, 4]).buffer)]);
    const response = await supertest(app(host, { bodyParser: true }))
      .post('/ml/v2/models/m/infer')
      .set('content-type', 'application/octet-stream')
      .set('inference-header-content-length', String(head.byteLength))
      .send(body);
    expect(response.status).toBe(200);
    expect(response.body.outputs[0].data).toEqual(Y);
  });
});

describe('Express: a body parser in front refuses a body', () => {
  function app(host: ModelHost, handler: boolean) {
    const a = express();
    a.use(express.json({ limit: 200 }));
    if (handler) a.use('/ml', createExpressRouter(host), createExpressErrorHandler());
    else a.use('/ml', createExpressRouter(host));
    return a;
  }

  it('createExpressErrorHandler answers malformed and too-large bodies in the protocol JSON, no HTML, no stack', async () => {
    const agent = supertest(app(await loadedHost(), true));
    const malformed = await agent.post('/ml/v2/models/m/infer').set('content-type', 'application/json').send('{"inputs": [');
    expect(malformed.status).toBe(400);
    expect(malformed.headers['content-type']).toMatch(/^application\/json/);
    expect(malformed.body.error).toMatch(/^the request body is not valid JSON: /);
    const large = await agent.post('/ml/v2/models/m/infer').send({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: Array.from({ length: 100 }, () => 1) }] });
    expect(large.status).toBe(413);
    expect(large.body).toEqual({ error: 'the request body is larger than the body parser in front of modelhost allows' });
    expect(large.text).not.toMatch(/at |<html|<pre/i);
    expect((await agent.post('/ml/v2/models/m/infer').send(INFER)).body.outputs[0].data).toEqual(Y);
  });

  it('without it, Express renders its own HTML error page (why the handler exists)', async () => {
    const malformed = await supertest(app(await loadedHost(), false)).post('/ml/v2/models/m/infer').set('content-type', 'application/json').send('{"inputs": [');
    expect(malformed.status).toBe(400);
    expect(malformed.headers['content-type']).toMatch(/^text\/html/);
  });
});

describe('createHttpHandler: the protocol-neutral handler any server can call', () => {
  it('answers a request it serves, undefined for a path it does not, and uses a body a framework already parsed', async () => {
    const host = await loadedHost();
    const handle = createHttpHandler(host, { timeoutMs: 1000 });
    // What a Fastify route does with request.raw and request.body.
    const server = createServer((req, res) => {
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString()));
      req.on('end', () => {
        const controller = new AbortController();
        res.on('close', () => !res.writableFinished && controller.abort());
        void handle({ method: req.method!, url: req.url!, headers: req.headers, body: undefined, parsedBody: raw === '' ? undefined : JSON.parse(raw), signal: controller.signal }).then((response) => {
          if (response === undefined) return void res.writeHead(418).end('not mine');
          res.writeHead(response.status, response.headers).end(response.body);
        });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      expect((await post(`${url}/v2/models/m/infer`, INFER)).body.outputs[0].data).toEqual(Y);
      expect((await fetch(`${url}/elsewhere`)).status).toBe(418);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
