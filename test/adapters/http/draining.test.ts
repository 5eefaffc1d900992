import { Agent, createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { createExpressRouter } from '../../../src/adapters/express/index.js';
import { ModelHost } from '../../../src/index.js';
import { deferred, FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';
import { useServers } from './serve.js';

interface Answer {
  status: number;
  connection: string | undefined;
  code: string | undefined;
  body: unknown;
}

/** One request on a keep-alive agent (like a load balancer's pooled connection). */
function send(agent: Agent, url: string, method: string, body?: unknown): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, agent, headers: { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        const json = res.headers['content-type']?.startsWith('application/json') === true;
        resolve({ status: res.statusCode!, connection: res.headers.connection, code: res.headers['x-modelhost-error-code'] as string | undefined, body: text && json ? JSON.parse(text) : text || undefined });
      });
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const infer = { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] };

describe('draining', () => {
  const { serve } = useServers();

  it('while draining every new request gets 503 SHUTTING_DOWN with Connection: close, never 404 or MODEL_NOT_READY', async () => {
    const gate = deferred();
    const runtime = fakeRuntime({ runGate: () => (runtime.runs > 1 ? gate.promise : Promise.resolve()) });
    const host = new ModelHost({ runtimes: { fake: runtime }, defaults: { batching: false } });
    await host.load('m', { source: FAKE_SOURCE });
    const { url } = await serve(host);
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    const inFlight = send(agent, `${url}/v2/models/m/infer`, 'POST', infer);
    await expect.poll(() => runtime.runs).toBe(2);
    const closing = host.close();
    const answers = await Promise.all([
      send(agent, `${url}/v2/models/m/infer`, 'POST', infer),
      send(agent, `${url}/v2/models/m`, 'GET'),
      send(agent, `${url}/v2/models/m/ready`, 'GET'),
      send(agent, `${url}/v1/models/m:predict`, 'POST', { instances: [[1, 2, 3, 4]] }),
      send(agent, `${url}/v1/models/m`, 'GET'),
    ]);
    for (const answer of answers) expect(answer).toMatchObject({ status: 503, connection: 'close', code: 'SHUTTING_DOWN' });
    expect(await send(agent, `${url}/v2/health/ready`, 'GET')).toMatchObject({ status: 503, connection: 'close', body: { ready: false, reason: 'the host is shutting down' } });
    gate.resolve();
    // In flight before the drain: finishes, and closes its connection (as Go's Shutdown does),
    // so the client sends nothing more on a connection the server is about to close.
    expect(await inFlight).toMatchObject({ status: 200, connection: 'close' });
    await closing;
    expect(host.drainTimedOut).toBe(false);
    agent.destroy();
  });

  it('the drain is bounded: past drainTimeoutMs what is left is refused with 503 and drainTimedOut is set', async () => {
    const never = deferred();
    const runtime = fakeRuntime({ runGate: () => (runtime.runs > 1 ? never.promise : Promise.resolve()) });
    const host = new ModelHost({ runtimes: { fake: runtime }, defaults: { batching: false }, drainTimeoutMs: 50 });
    await host.load('m', { source: FAKE_SOURCE });
    const { url } = await serve(host);
    const agent = new Agent({ keepAlive: true });
    const stuck = send(agent, `${url}/v2/models/m/infer`, 'POST', infer);
    await expect.poll(() => runtime.runs).toBe(2);
    await host.close();
    expect(host.drainTimedOut).toBe(true);
    expect(await stuck).toMatchObject({ status: 503, code: 'SHUTTING_DOWN', connection: 'close' });
    never.resolve();
    agent.destroy();
  });

  it('a request whose admission wait expires during the drain is refused with Connection: close', async () => {
    const gate = deferred();
    const runtime = fakeRuntime({ runGate: () => (runtime.runs > 1 ? gate.promise : Promise.resolve()) });
    const host = new ModelHost({ runtimes: { fake: runtime }, defaults: { batching: false } });
    await host.load('m', { source: FAKE_SOURCE });
    const { url } = await serve(host, { limits: { concurrency: 1, maxWaitMs: 100 } });
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    const inFlight = send(agent, `${url}/v2/models/m/infer`, 'POST', infer);
    await expect.poll(() => runtime.runs).toBe(2);
    const waiting = send(agent, `${url}/v2/models/m/infer`, 'POST', infer); // waits for the one slot
    await new Promise((r) => setTimeout(r, 20));
    const closing = host.close();
    const refused = await waiting.finally(() => gate.resolve());
    expect(refused.status).toBeGreaterThanOrEqual(400);
    expect(refused.connection).toBe('close');
    expect(await inFlight).toMatchObject({ status: 200, connection: 'close' });
    await closing;
    agent.destroy();
  });

  it("Express: the answers Express or the app gives after the router's next() carry Connection: close too", async () => {
    const gate = deferred();
    const runtime = fakeRuntime({ runGate: () => (runtime.runs > 1 ? gate.promise : Promise.resolve()) });
    const host = new ModelHost({ runtimes: { fake: runtime }, defaults: { batching: false } });
    await host.load('m', { source: FAKE_SOURCE });
    const app = express();
    app.use('/ml', createExpressRouter(host));
    app.get('/ml/custom', (_req, res) => void res.json({ from: 'the app' }));
    app.get('/ml/boom', () => {
      throw new Error('a route of the app failed');
    });
    const server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    try {
      // Before the drain these keep their connection: the header is the drain's, not the router's.
      expect(await send(agent, `${url}/ml/not-a-route`, 'GET')).toMatchObject({ status: 404, connection: 'keep-alive' });
      const inFlight = send(agent, `${url}/ml/v2/models/m/infer`, 'POST', infer);
      await expect.poll(() => runtime.runs).toBe(2);
      const closing = host.close();
      expect(await send(agent, `${url}/ml/v2/models/m/infer`, 'POST', infer)).toMatchObject({ status: 503, connection: 'close', code: 'SHUTTING_DOWN' });
      expect(await send(agent, `${url}/ml/not-a-route`, 'GET')).toMatchObject({ status: 404, connection: 'close' }); // Express's own 404
      expect(await send(agent, `${url}/ml/boom`, 'GET')).toMatchObject({ status: 500, connection: 'close' }); // Express's default error page
      expect(await send(agent, `${url}/ml/custom`, 'GET')).toMatchObject({ status: 200, connection: 'close', body: { from: 'the app' } });
      gate.resolve();
      expect(await inFlight).toMatchObject({ status: 200, connection: 'close' });
      await closing;
    } finally {
      gate.resolve();
      agent.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
