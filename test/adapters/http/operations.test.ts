/** `GET /metrics`, `GET /status.json` and the HTML status page, against a real listening server. */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { snapshot } from '../../../src/adapters/http/index.js';
import { ModelHost } from '../../../src/index.js';
import { collectMetrics } from '../../../src/metrics/prometheus.js';
import { FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';
import { get, post, useServers } from './serve.js';

const { serve } = useServers();
const INFER = { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] };

async function loadedHost() {
  const host = new ModelHost({ runtimes: { fake: fakeRuntime() } });
  await host.load('m', { source: FAKE_SOURCE });
  return host;
}

describe('GET /metrics', () => {
  it('serves the Prometheus text of collectMetrics(host).registry with its content type', async () => {
    const host = await loadedHost();
    const { registry, stop } = collectMetrics(host, { registry: new Registry() });
    const { url } = await serve(host, { metrics: registry });
    await post(`${url}/v2/models/m/infer`, INFER);
    await post(`${url}/v2/models/m/infer`, { inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [1, 2] }] }); // 400: never reaches a version
    await post(`${url}/v1/models/m:predict`, { instances: [[1, 2, 3, 4], [5, 6, 7, 8]] });
    const response = await fetch(`${url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(registry.contentType);
    const text = await response.text();
    expect(text).toContain('# TYPE modelhost_requests_total counter');
    expect(text).toContain('modelhost_requests_total{model="m",version="1",code="OK"} 2');
    expect(text).toContain('modelhost_model_ready{model="m"} 1');
    stop();
  });

  it('is 404 { error } without the metrics option', async () => {
    const { url } = await serve(await loadedHost());
    expect(await get(`${url}/metrics`)).toMatchObject({ status: 404, body: { error: expect.stringMatching(/collectMetrics\(host\)\.registry/) } });
  });
});

describe('status', () => {
  it('GET /status.json is the snapshot of models, versions, traffic, breakers and the 1 m window, never cached', async () => {
    const host = await loadedHost();
    const { url } = await serve(host);
    for (let i = 0; i < 3; i++) await post(`${url}/v2/models/m/infer`, INFER);
    const { status, body, headers } = await get(`${url}/status.json`);
    expect(status).toBe(200);
    expect(headers.get('cache-control')).toBe('no-store');
    expect(body).toEqual({
      live: true,
      ready: true,
      models: [
        {
          name: 'm',
          ready: true,
          defaultVersion: 1,
          versions: [
            {
              version: 1,
              state: 'ready',
              runtime: 'fake',
              instances: { kind: 'inline', count: 1 },
              traffic: 1,
              breaker: 'closed',
              requestsPerSecond: expect.any(Number),
              p99Ms: expect.any(Number),
              queueMs: { p50: expect.any(Number), p99: expect.any(Number) },
              computeMs: { p50: expect.any(Number), p99: expect.any(Number) },
              meanBatchSize: 1,
              requests: 3,
              errors: 0,
              versionErrors: 0,
              errorRate: 0,
              queueDepth: 0,
            },
          ],
        },
      ],
    });
    expect(body).toEqual(JSON.parse(JSON.stringify(snapshot(host))));
  });

  it("errorRate counts only the version's failures (the rollout guard's rule), never a client's bad input", async () => {
    // Once `broken`, the runtime fails every input: the version's fault (an input that fails alone would be the request's).
    let broken = false;
    const host = new ModelHost({ runtimes: { fake: fakeRuntime({ failRun: () => (broken ? new Error('kaboom') : undefined) }) }, defaults: { batching: false } });
    await host.load('m', { source: FAKE_SOURCE });
    const { url } = await serve(host);
    for (let i = 0; i < 4; i++) expect((await post(`${url}/v2/models/m/infer`, { inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] })).status).toBe(400);
    for (let i = 0; i < 3; i++) expect((await post(`${url}/v2/models/m/infer`, INFER)).status).toBe(200);
    broken = true;
    expect((await post(`${url}/v2/models/m/infer`, INFER)).status).toBe(500);
    const version = (await get(`${url}/status.json`)).body.models[0].versions[0];
    expect(version).toMatchObject({ requests: 8, errors: 5, versionErrors: 1, errorRate: 1 / 8 });
    expect(host.stats('m').versions[1]!.windows['1m']).toMatchObject({ errors: 5, versionErrors: 1, errorsByCode: { INVALID_INPUT: 4, INFERENCE_FAILED: 1 } });
    await host.close();
  });

  it('GET / and GET /status serve a self-contained HTML page that reads status.json', async () => {
    const { url } = await serve(await loadedHost());
    for (const path of ['/', '/status']) {
      const response = await fetch(`${url}${path}`);
      expect(response.status, path).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(response.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
      const html = await response.text();
      expect(html).toMatch(/^<!doctype html>/);
      expect(html).toContain('<title>modelhost status</title>');
      expect(html).toContain("fetch(base + '/status.json'"); // beside the page, under any prefix (status-page-prefix.test.ts)
      expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href="(?!data:)/); // no CDN (the icon is an empty data: URL)
      expect(html).not.toMatch(/https?:\/\//); // nothing from another origin: uPlot comes from this server, beside the page
      expect(html).toContain("base + '/status/uplot.min.js'");
    }
  });

  it('statusPage: false turns the HTML page off (404), /status.json stays', async () => {
    const { url } = await serve(await loadedHost(), { statusPage: false });
    expect((await get(`${url}/`)).status).toBe(404);
    expect((await get(`${url}/status`)).status).toBe(404);
    expect((await get(`${url}/status.json`)).status).toBe(200);
  });
});
