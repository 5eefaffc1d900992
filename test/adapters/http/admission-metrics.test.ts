import { describe, expect, it } from 'vitest';
import { AdmissionGate } from '../../../src/adapters/http/admission-gate.js';
import { admissionFamilies, withAdmissionMetrics } from '../../../src/adapters/http/admission-metrics.js';
import { ModelHost } from '../../../src/index.js';
import { FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';
import { post, useServers } from './serve.js';

describe('admission metrics', () => {
  const gates = new Map([['a"b\\c\nd', new AdmissionGate({ limit: 3, maxWaiting: 10, maxWaitMs: 1000 })]]);

  it('escapes model names as label values', () => {
    expect(admissionFamilies(gates)).toContain('modelhost_http_concurrency_limit{model="a\\"b\\\\c\\nd"} 3\n');
  });

  it('puts its families before the `# EOF` of OpenMetrics text, and after plain text', async () => {
    const open = withAdmissionMetrics({ contentType: 'application/openmetrics-text', metrics: async () => 'x 1\n# EOF\n' }, gates);
    const text = await open.metrics();
    expect(text.startsWith('x 1\n# HELP modelhost_http_requests_waiting')).toBe(true);
    expect(text.endsWith('} 3\n# EOF\n')).toBe(true);
    const plain = withAdmissionMetrics({ contentType: 'text/plain', metrics: async () => 'x 1' }, gates);
    expect(await plain.metrics()).toMatch(/^x 1\n# HELP modelhost_http_requests_waiting .*\n# TYPE modelhost_http_requests_waiting gauge\nmodelhost_http_requests_waiting\{model=".*"\} 0\n/);
  });
});

describe('admission metrics over a listener', () => {
  const { serve } = useServers();

  it('labels only models the host serves: an unloaded model leaves /metrics', async () => {
    const host = new ModelHost({ runtimes: { fake: fakeRuntime() }, defaults: { warmup: false } as never });
    await host.load('gone', { source: FAKE_SOURCE });
    await host.load('kept', { source: FAKE_SOURCE });
    const metrics = { contentType: 'text/plain', metrics: async () => '' };
    const { url } = await serve(host, { metrics, limits: { concurrency: 2 } });
    const body = { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] };
    expect((await post(`${url}/v2/models/gone/infer`, body)).status).toBe(200);
    expect((await post(`${url}/v2/models/kept/infer`, body)).status).toBe(200);
    const scrape = async () => (await (await fetch(`${url}/metrics`)).text());
    expect(await scrape()).toContain('modelhost_http_concurrency_limit{model="gone"} 2');
    await host.unload('gone');
    const text = await scrape();
    expect(text).not.toContain('model="gone"');
    expect(text).toContain('modelhost_http_concurrency_limit{model="kept"} 2');
  });
});
