import type { AdmissionGate } from './admission-gate.js';
import type { HttpOptions } from './http-types.js';

type MetricsSource = NonNullable<HttpOptions['metrics']>;

/**
 * The listener's admission gates as Prometheus gauges, appended to what `metrics` exports
 * when `/metrics` is scraped (read from the gates then: nothing is counted per request):
 *
 * - `modelhost_http_requests_waiting{model}`: inference requests waiting unread for admission
 * - `modelhost_http_requests_in_flight{model}`: admitted requests not yet answered
 * - `modelhost_http_concurrency_limit{model}`: the gate's in-flight limit now (adaptive or fixed)
 *
 * Requests waiting here are not in the host's queue (`modelhost_queue_depth`): under
 * overload this is where the backlog is.
 */
export function withAdmissionMetrics(metrics: MetricsSource, gates: ReadonlyMap<string, AdmissionGate>, prefix = 'modelhost_', beforeScrape?: () => void): MetricsSource {
  return {
    contentType: metrics.contentType,
    async metrics() {
      const text = await metrics.metrics();
      // The listener forgets the idle gates of models no longer served: only loaded models are labels.
      beforeScrape?.();
      const own = admissionFamilies(gates, prefix);
      if (own === '') return text;
      // OpenMetrics ends with `# EOF`: families go before it.
      const eof = /# EOF\n?$/.exec(text);
      if (eof !== null) return `${text.slice(0, eof.index)}${own}${eof[0]}`;
      return `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}${own}`;
    },
  };
}

/** The three gauge families in the text exposition format, or '' before any gate exists. */
export function admissionFamilies(gates: ReadonlyMap<string, AdmissionGate>, prefix = 'modelhost_'): string {
  if (gates.size === 0) return '';
  const families: [string, string, (gate: AdmissionGate) => number][] = [
    ['http_requests_waiting', 'Inference requests waiting unread for admission at the HTTP listener.', (gate) => gate.waiting],
    ['http_requests_in_flight', 'Inference requests admitted by the HTTP listener and not yet answered.', (gate) => gate.inFlight],
    ['http_concurrency_limit', 'In-flight limit of the HTTP listener\'s admission gate (adaptive or fixed).', (gate) => gate.limit],
  ];
  let out = '';
  for (const [name, help, read] of families) {
    out += `# HELP ${prefix}${name} ${help}\n# TYPE ${prefix}${name} gauge\n`;
    for (const [model, gate] of gates) out += `${prefix}${name}{model="${escapeLabel(model)}"} ${read(gate)}\n`;
  }
  return out;
}

/** A label value as the exposition format quotes it: backslash, double quote and newline escaped. */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
