import { describe, expect, it } from 'vitest';
import { AdmissionGate } from '../../../src/adapters/http/admission-gate.js';
import { admissionFamilies, withAdmissionMetrics } from '../../../src/adapters/http/admission-metrics.js';

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
