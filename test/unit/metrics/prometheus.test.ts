import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ModelHost, type ModelHostError } from '../../../src/index.js';
import { collectMetrics } from '../../../src/metrics/prometheus.js';
import { FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';

describe('modelhost/prometheus', () => {
  it('exposes the request mix as Prometheus series (real prom-client)', async () => {
    const runtime = fakeRuntime({ failRun: (inputs) => ((inputs['x']!.data as Float32Array)[0] === 13 ? new Error('bad row') : undefined) });
    const host = new ModelHost({ runtimes: { fake: runtime }, defaults: { batching: false, queue: { maxSize: 1000 } } });
    const registry = new Registry();
    const { stop } = collectMetrics(host, { registry, buckets: { batchSize: [1, 4, 16] } });
    await host.load('m', { source: FAKE_SOURCE });
    await Promise.all(Array.from({ length: 5 }, () => host.predict('m', [1, 2, 3, 4])));
    await host.predict('m', [13, 0, 0, 0]).catch((e: ModelHostError) => e); // the runtime refuses it alone: INVALID_INPUT
    await host.predict('m', [1, 2]).catch((e: ModelHostError) => e); // INVALID_INPUT: refused before the queue, still counted
    const text = await registry.metrics();

    expect(text).toContain('# TYPE modelhost_requests_total counter');
    expect(text).toContain('modelhost_requests_total{model="m",version="1",code="OK"} 5');
    expect(text).toContain('modelhost_requests_total{model="m",version="1",code="INVALID_INPUT"} 2');
    expect(text).not.toContain('code="INFERENCE_FAILED"');
    expect(text).toContain('# TYPE modelhost_request_duration_seconds histogram');
    expect(text).toMatch(/modelhost_request_duration_seconds_bucket\{model="m",version="1",le="\+Inf"\} 7/);
    expect(text).toMatch(/modelhost_request_duration_seconds_count\{model="m",version="1"\} 7/);
    expect(text).toMatch(/modelhost_queue_duration_seconds_count\{model="m",version="1"\} 5/);
    expect(text).toMatch(/modelhost_inference_duration_seconds_count\{model="m",version="1"\} 6/);
    expect(text).toContain('modelhost_batch_size_bucket{model="m",version="1",le="1"} 6');
    expect(text).toContain('modelhost_batch_size_bucket{model="m",version="1",le="16"} 6');
    expect(text).toContain('modelhost_queue_depth{model="m",version="1"} 0');
    expect(text).toContain('modelhost_breaker_state{model="m",version="1"} 0');
    expect(text).toContain('modelhost_model_ready{model="m"} 1');
    expect(text).toContain('modelhost_version_traffic_ratio{model="m",version="1"} 1');
    expect(text).toContain('modelhost_model_loads_total{model="m",result="success"} 1');
    // cardinality: only model, version, code (and le) as labels; never a request id
    for (const line of text.split('\n').filter((l) => l.startsWith('modelhost_'))) {
      const labels = [...(line.match(/\{(.*)\}/)?.[1] ?? '').matchAll(/(\w+)=/g)].map((m) => m[1]);
      for (const label of labels) expect(['model', 'version', 'code', 'le', 'result', 'automatic']).toContain(label);
    }
    stop();
    expect(await registry.metrics()).not.toContain('modelhost_');
    await host.close();
  });

  it('counts rollbacks, honours a prefix, and refuses bad buckets', async () => {
    const registry = new Registry();
    const host = new ModelHost({ runtimes: { fake: fakeRuntime() } });
    collectMetrics(host, { registry, prefix: 'svc_' });
    await host.load('m', { source: FAKE_SOURCE, version: 1 });
    await host.load('m', { source: FAKE_SOURCE, version: 2 });
    await host.rollback('m');
    const text = await registry.metrics();
    expect(text).toContain('svc_rollbacks_total{model="m",automatic="false"} 1');
    expect(text).toContain('svc_model_loads_total{model="m",result="success"} 2');
    expect(() => collectMetrics(host, { registry: new Registry(), buckets: { requestSeconds: [1, 0.5] } })).toThrow("`buckets.requestSeconds` must be increasing finite numbers, got [1,0.5]");
    // Misspelt keys were ignored: the metrics went out unprefixed, or with the default buckets.
    expect(() => collectMetrics(host, { registry: new Registry(), prefx: 'svc_' } as never)).toThrow("`options` has an unknown option 'prefx' (did you mean 'prefix'?); known options: registry, prefix, buckets");
    expect(() => collectMetrics(host, { registry: new Registry(), buckets: { requestSecond: [1] } } as never)).toThrow("`buckets` has an unknown option 'requestSecond' (did you mean 'requestSeconds'?)");
    expect(() => collectMetrics(host, { registry: new Registry(), prefix: 7 } as never)).toThrow('`prefix` must be a non-empty string, got 7');
    await host.close();
  });
});
