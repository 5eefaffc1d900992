import { Agent, request as httpRequest } from 'node:http';
import { describe, expect, it } from 'vitest';
import { ModelHost } from '../../../src/index.js';
import { deferred, FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';
import { useServers } from './serve.js';

function send(agent: Agent, url: string, body: unknown): Promise<{ status: number; connection: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

const infer = { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] };

describe('review: every answer while draining closes its connection', () => {
  const { serve } = useServers();

  it('a request whose admission wait expires during the drain is refused with Connection: close', async () => {
    const gate = deferred();
    const runtime = fakeRuntime({ runGate: () => (runtime.runs > 1 ? gate.promise : Promise.resolve()) });
    const host = new ModelHost({ runtimes: { fake: runtime }, defaults: { batching: false } });
    await host.load('m', { source: FAKE_SOURCE });
    const { url } = await serve(host, { limits: { concurrency: 1, maxWaitMs: 100 } });
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    const inFlight = send(agent, `${url}/v2/models/m/infer`, infer);
    await expect.poll(() => runtime.runs).toBe(2);
    const waiting = send(agent, `${url}/v2/models/m/infer`, infer); // waits for the one slot
    await new Promise((r) => setTimeout(r, 20));
    const closing = host.close();
    const refused = await waiting.finally(() => gate.resolve());
    expect(refused.status).toBeGreaterThanOrEqual(400);
    expect(refused.connection).toBe('close');
    expect(await inFlight).toMatchObject({ status: 200, connection: 'close' });
    await closing;
    agent.destroy();
  });
});
