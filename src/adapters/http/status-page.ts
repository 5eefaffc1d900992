/**
 * A small self-contained status page (no framework, no CDN): models, versions, states,
 * where each version runs, traffic, breakers, request rate and p99, refreshed every second
 * from `/status.json`, with links to `/status.json` and (when served) `/metrics`.
 */
import type { ModelHost } from 'modelhost';
import { json } from './http-errors.js';
import type { RouteHandler } from './http-types.js';

export interface StatusSnapshot {
  readonly live: boolean;
  readonly ready: boolean;
  readonly models: readonly {
    readonly name: string;
    readonly ready: boolean;
    readonly defaultVersion: number | undefined;
    readonly candidate: number | undefined;
    readonly versions: readonly {
      readonly version: number;
      readonly state: string;
      readonly runtime: string | undefined;
      /** Where its batches run: `inline` on the event loop's thread, or `count` worker threads; undefined until loaded. */
      readonly instances: { readonly kind: 'inline' | 'thread'; readonly count: number } | undefined;
      readonly traffic: number;
      readonly breaker: string | undefined;
      readonly requestsPerSecond: number;
      readonly p99Ms: number;
      readonly requests: number;
      readonly errors: number;
      readonly queueDepth: number;
      readonly error: string | undefined;
    }[];
  }[];
}

export function snapshot(host: ModelHost): StatusSnapshot {
  const stats = host.stats();
  return {
    live: host.live(),
    ready: host.ready(),
    models: host.status().map((m) => ({
      name: m.name,
      ready: m.ready,
      defaultVersion: m.defaultVersion,
      candidate: m.candidate,
      versions: m.versions.map((v) => {
        const w = stats[m.name]?.versions[v.version]?.windows['1m'];
        return {
          version: v.version,
          state: v.state,
          runtime: v.runtime,
          instances: v.instances === undefined ? undefined : { kind: v.instances.kind, count: v.instances.count },
          traffic: m.traffic[v.version] ?? 0,
          breaker: v.breaker,
          requestsPerSecond: w?.requestsPerSecond ?? 0,
          p99Ms: w?.latencyMs.total.p99 ?? 0,
          requests: w?.requests ?? 0,
          errors: w?.errors ?? 0,
          queueDepth: v.queueDepth,
          error: v.error?.message,
        };
      }),
    })),
  };
}

export const statusJson: RouteHandler = ({ host }) => json(200, snapshot(host), { 'cache-control': 'no-store' });

export const statusPage: RouteHandler = ({ options }) => ({
  status: 200,
  headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-security-policy': "default-src 'self'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'" },
  // The /metrics link only where /metrics is served.
  body: options.metrics === undefined ? PAGE : PAGE.replace('<a id="status-json"', '<a id="metrics">metrics</a> · <a id="status-json"'),
});

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>modelhost status</title>
<link rel="icon" href="data:,">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem; color: #222; }
  h1 { font-size: 1.3rem; } h2 { font-size: 1.1rem; margin-top: 1.5rem; }
  table { border-collapse: collapse; min-width: 40rem; }
  th, td { text-align: left; padding: .3rem .8rem; border-bottom: 1px solid #ddd; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .ok { color: #17803d; } .bad { color: #b42318; } .warn { color: #b54708; }
  #meta { color: #666; }
</style>
</head>
<body>
<h1>modelhost <span id="health"></span></h1>
<p id="meta">loading…</p>
<p id="links"><a id="status-json">status.json</a></p>
<div id="models"></div>
<script>
const escape = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const runsOn = (i) => (i === undefined || i === null ? '–' : i.kind === 'inline' ? 'inline' : i.count + (i.count === 1 ? ' thread' : ' threads'));
const stateClass = (s) => (s === 'ready' ? 'ok' : s === 'failed' ? 'bad' : 'warn');
function render(data) {
  document.getElementById('health').innerHTML = data.ready ? '<span class="ok">ready</span>' : '<span class="bad">not ready</span>';
  document.getElementById('meta').textContent = data.models.length + ' model(s) · updated ' + new Date().toLocaleTimeString();
  document.getElementById('models').innerHTML = data.models.map((m) => (
    '<h2 data-model="' + escape(m.name) + '">' + escape(m.name) + ' <small>default v' + escape(m.defaultVersion ?? '–') + (m.candidate ? ' · candidate v' + escape(m.candidate) : '') + '</small></h2>' +
    '<table><thead><tr><th>version</th><th>state</th><th>runtime</th><th>runs on</th><th>traffic</th><th>breaker</th><th>req/s (1m)</th><th>p99 ms (1m)</th><th>requests</th><th>errors</th><th>queue</th></tr></thead><tbody>' +
    m.versions.map((v) => '<tr data-version="' + v.version + '">' +
      '<td>v' + v.version + '</td><td class="' + stateClass(v.state) + '" title="' + escape(v.error) + '">' + escape(v.state) + '</td><td>' + escape(v.runtime) + '</td><td class="instances">' + escape(runsOn(v.instances)) + '</td>' +
      '<td class="num">' + Math.round(v.traffic * 100) + '%</td><td class="' + (v.breaker === 'open' ? 'bad' : 'ok') + '">' + escape(v.breaker ?? '–') + '</td>' +
      '<td class="num">' + v.requestsPerSecond.toFixed(1) + '</td><td class="num">' + v.p99Ms.toFixed(2) + '</td>' +
      '<td class="num requests">' + v.requests + '</td><td class="num">' + v.errors + '</td><td class="num">' + v.queueDepth + '</td></tr>').join('') +
    '</tbody></table>')).join('');
}
// status.json sits beside the page: <prefix>/status.json whether this is <prefix>, <prefix>/ or <prefix>/status.
let base = location.pathname;
while (base.endsWith('/')) base = base.slice(0, -1);
if (base.endsWith('/status')) base = base.slice(0, -'/status'.length);
for (const [id, file] of [['status-json', '/status.json'], ['metrics', '/metrics']]) {
  const link = document.getElementById(id);
  if (link) link.setAttribute('href', base + file);
}
async function refresh() {
  try {
    const response = await fetch(base + '/status.json', { cache: 'no-store' });
    render(await response.json());
  } catch (error) {
    document.getElementById('meta').textContent = 'cannot reach the server: ' + error.message;
  }
}
refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
`;
