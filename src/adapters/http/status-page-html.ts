/**
 * The markup and script of the status page. The script polls `status.json` every second and
 * keeps the last five minutes of samples per model in the browser (a ring of 300; the
 * server keeps no history), drawn with uPlot, which it loads from `<prefix>/status/uplot.min.js`.
 * It runs as a string in the browser, so it is written in plain ES2020 with no imports.
 */
export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>modelhost status</title>
<link rel="icon" href="data:,">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem; color: #222; }
  h1 { font-size: 1.3rem; } h2 { font-size: 1.1rem; margin: 1.8rem 0 .4rem; }
  table { border-collapse: collapse; min-width: 40rem; }
  th, td { text-align: left; padding: .3rem .8rem; border-bottom: 1px solid #ddd; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .ok { color: #17803d; } .bad { color: #b42318; } .warn { color: #b54708; }
  .badge { display: inline-block; padding: 0 .45rem; border-radius: .6rem; font-size: 12px; border: 1px solid currentColor; }
  #meta, .rollout { color: #555; }
  .rollout b { color: #222; font-weight: 600; }
  .charts { display: flex; flex-wrap: wrap; gap: .6rem 1.2rem; margin-top: .4rem; }
  figure.chart { margin: 0; width: 320px; }
  figcaption { font-size: 12px; color: #444; display: flex; justify-content: space-between; gap: .5rem; }
  figcaption .latest { font-variant-numeric: tabular-nums; color: #222; }
  .key { font-size: 11px; color: #444; display: flex; flex-wrap: wrap; gap: 0 .7rem; justify-content: center; }
  .key i { display: inline-block; width: 14px; margin-right: .25rem; vertical-align: middle; border-top: 2px solid; }
  .key i.dashed { border-top-style: dashed; }
</style>
</head>
<body>
<h1>modelhost <span id="health"></span></h1>
<p id="meta">loading…</p>
<p id="links"><a id="status-json">status.json</a></p>
<div id="models"></div>
<script>
const HISTORY = 300; // samples kept per model: five minutes at one per second
const COLORS = ['#2563eb', '#d97706', '#059669', '#dc2626', '#7c3aed', '#0891b2'];
// One chart per metric; each version is a series (p99 dashed beside p50).
const CHARTS = [
  { key: 'rps', title: 'requests/s (1 m)', series: [['rps', '']] },
  { key: 'queue', title: 'queue wait ms p50 / p99', series: [['queueP50', 'p50'], ['queueP99', 'p99']] },
  { key: 'compute', title: 'compute ms p50 / p99', series: [['computeP50', 'p50'], ['computeP99', 'p99']] },
  { key: 'depth', title: 'queue depth (rows)', series: [['depth', '']] },
  { key: 'batch', title: 'batch size (mean rows)', series: [['batch', '']] },
  { key: 'errors', title: 'error rate % (1 m)', series: [['errorPct', '']] },
];
const escape = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const runsOn = (i) => (i === undefined || i === null ? '–' : i.kind === 'inline' ? 'inline' : i.count + (i.count === 1 ? ' thread' : ' threads'));
const stateClass = (s) => (s === 'ready' ? 'ok' : s === 'failed' ? 'bad' : 'warn');
const breakerClass = (b) => (b === 'open' ? 'bad' : b === 'halfOpen' || b === 'half-open' ? 'warn' : 'ok');
const pct = (x) => Math.round(x * 1000) / 10 + '%';
const fixed = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

// status.json sits beside the page: <prefix>/status.json whether this is <prefix>, <prefix>/ or <prefix>/status.
let base = location.pathname;
while (base.endsWith('/')) base = base.slice(0, -1);
if (base.endsWith('/status')) base = base.slice(0, -'/status'.length);
for (const [id, file] of [['status-json', '/status.json'], ['metrics', '/metrics']]) {
  const link = document.getElementById(id);
  if (link) link.setAttribute('href', base + file);
}

/** Loads the vendored uPlot from this server; resolves false when it cannot (the tables still work). */
function loadChartLibrary() {
  const css = document.createElement('link');
  css.rel = 'stylesheet';
  css.href = base + '/status/uplot.min.css';
  document.head.append(css);
  return new Promise((resolve) => {
    const script = document.createElement('script');
    script.src = base + '/status/uplot.min.js';
    script.onload = () => resolve(typeof uPlot === 'function');
    script.onerror = () => resolve(false);
    document.head.append(script);
  });
}

const models = new Map(); // name → { section, samples, plots, charted }

function sample(v) {
  return {
    rps: v.requestsPerSecond, queueP50: v.queueMs.p50, queueP99: v.queueMs.p99, computeP50: v.computeMs.p50, computeP99: v.computeMs.p99,
    depth: v.queueDepth, batch: v.meanBatchSize, errorPct: v.errorRate * 100,
  };
}

function rolloutText(m) {
  const split = m.versions.filter((v) => v.traffic > 0).map((v) => 'v' + v.version + ' ' + pct(v.traffic)).join(' / ');
  const parts = ['<b>traffic</b> ' + escape(split || '–')];
  if (m.candidate) parts.push('<b>candidate</b> v' + escape(m.candidate));
  if (m.shadow) parts.push('<b>shadow</b> v' + escape(m.shadow.version) + ' (' + pct(m.shadow.fraction) + ' mirrored)');
  const g = m.guard;
  let guard = '<span class="badge">none</span>';
  if (g) {
    const numbers = 'v' + g.candidate + ' vs v' + (g.baseline ?? '–') + ': errors ' + pct(g.candidateErrorRate) + ' vs ' + pct(g.baselineErrorRate) +
      ', p99 ' + fixed(g.candidateP99Ms) + ' vs ' + fixed(g.baselineP99Ms) + ' ms, ' + g.candidateRequests + ' requests';
    guard = (g.active ? '<span class="badge warn">watching</span> ' : '<span class="badge ok">passed</span> ') + escape(numbers);
  }
  parts.push('<b>guard</b> <span class="guard">' + guard + '</span>');
  return parts.join(' · ');
}

function table(m) {
  return '<table><thead><tr><th>version</th><th>state</th><th>runtime</th><th>runs on</th><th>traffic</th><th>breaker</th><th>req/s (1m)</th><th>p99 ms (1m)</th><th>requests</th><th>errors</th><th>queue</th></tr></thead><tbody>' +
    m.versions.map((v) => '<tr data-version="' + v.version + '">' +
      '<td>v' + v.version + '</td><td class="' + stateClass(v.state) + '" title="' + escape(v.error ?? v.stalled) + '">' + escape(v.state) + '</td><td>' + escape(v.runtime) + '</td><td class="instances">' + escape(runsOn(v.instances)) + '</td>' +
      '<td class="num">' + Math.round(v.traffic * 100) + '%</td><td class="breaker ' + breakerClass(v.breaker) + '">' + escape(v.breaker ?? '–') + '</td>' +
      '<td class="num">' + v.requestsPerSecond.toFixed(1) + '</td><td class="num">' + v.p99Ms.toFixed(2) + '</td>' +
      '<td class="num requests">' + v.requests + '</td><td class="num">' + v.errors + '</td><td class="num">' + v.queueDepth + '</td></tr>').join('') +
    '</tbody></table>';
}

function section(m) {
  const el = document.createElement('section');
  el.dataset.modelSection = m.name;
  el.innerHTML = '<h2 data-model="' + escape(m.name) + '"></h2><table></table><p class="rollout"></p><div class="charts">' +
    CHARTS.map((c) => '<figure class="chart" data-chart="' + c.key + '" data-samples="0"><figcaption><span>' + escape(c.title) + '</span><span class="latest"></span></figcaption><div class="plot"></div><div class="key"></div></figure>').join('') + '</div>';
  return el;
}

/** (Re)creates a model's plots when the set of charted versions changed. */
function buildPlots(entry, versions) {
  for (const plot of entry.plots.values()) plot.destroy();
  entry.plots.clear();
  entry.charted = versions.join(',');
  for (const chart of CHARTS) {
    const series = [{}];
    versions.forEach((version, i) => {
      for (const [, label] of chart.series) {
        series.push({ label: 'v' + version + (label ? ' ' + label : ''), stroke: COLORS[i % COLORS.length], width: 1.5, dash: label === 'p99' ? [4, 3] : undefined, points: { show: false } });
      }
    });
    const figure = entry.section.querySelector('figure[data-chart="' + chart.key + '"]');
    // Our own key: uPlot's legend is a table that does not wrap in a small chart.
    figure.querySelector('.key').innerHTML = series.slice(1).map((s) => '<span><i' + (s.dash ? ' class="dashed"' : '') + ' style="color:' + s.stroke + '"></i>' + escape(s.label) + '</span>').join('');
    const target = figure.querySelector('.plot');
    const options = {
      width: 320, height: 130, series, legend: { show: false },
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(max ?? 0, 1) * 1.1] } },
      axes: [{ size: 28, space: 70, font: '10px system-ui' }, { size: 44, font: '10px system-ui' }],
      cursor: { drag: { x: false, y: false } },
    };
    entry.plots.set(chart.key, new uPlot(options, chartData(entry, versions, chart), target));
  }
}

function chartData(entry, versions, chart) {
  const data = [entry.samples.map((s) => s.t)];
  for (const version of versions) for (const [field] of chart.series) data.push(entry.samples.map((s) => (s.versions[version] ? s.versions[version][field] : null)));
  return data;
}

function updateCharts(entry, m) {
  const versions = m.versions.filter((v) => v.state !== 'failed' && v.state !== 'unloaded').map((v) => v.version).sort((a, b) => a - b);
  if (charting && entry.charted !== versions.join(',')) buildPlots(entry, versions);
  const last = entry.samples[entry.samples.length - 1];
  for (const chart of CHARTS) {
    const figure = entry.section.querySelector('figure[data-chart="' + chart.key + '"]');
    figure.dataset.samples = String(entry.samples.length);
    const field = chart.series[chart.series.length - 1][0];
    figure.querySelector('.latest').textContent = versions.map((v) => 'v' + v + ' ' + fixed(last.versions[v] ? last.versions[v][field] : 0)).join(' · ');
    const plot = entry.plots.get(chart.key);
    if (plot) plot.setData(chartData(entry, versions, chart));
  }
}

function render(data) {
  document.getElementById('health').innerHTML = data.ready ? '<span class="ok">ready</span>' : '<span class="bad">not ready</span>';
  document.getElementById('meta').textContent = data.models.length + ' model(s) · updated ' + new Date().toLocaleTimeString();
  const now = Date.now() / 1000;
  const container = document.getElementById('models');
  for (const [name, entry] of models) {
    if (data.models.some((m) => m.name === name)) continue;
    for (const plot of entry.plots.values()) plot.destroy();
    entry.section.remove();
    models.delete(name);
  }
  for (const m of data.models) {
    let entry = models.get(m.name);
    if (!entry) {
      entry = { section: section(m), samples: [], plots: new Map(), charted: undefined };
      models.set(m.name, entry);
    }
    container.append(entry.section); // keeps the server's order
    entry.section.querySelector('h2').innerHTML = escape(m.name) + ' <small>default v' + escape(m.defaultVersion ?? '–') + (m.candidate ? ' · candidate v' + escape(m.candidate) : '') + '</small>';
    entry.section.querySelector('table').outerHTML = table(m);
    entry.section.querySelector('.rollout').innerHTML = rolloutText(m);
    const versions = {};
    for (const v of m.versions) versions[v.version] = sample(v);
    entry.samples.push({ t: now, versions });
    if (entry.samples.length > HISTORY) entry.samples.shift();
    updateCharts(entry, m);
  }
}

let charting = false;
async function refresh() {
  try {
    const response = await fetch(base + '/status.json', { cache: 'no-store' });
    render(await response.json());
  } catch (error) {
    document.getElementById('meta').textContent = 'cannot reach the server: ' + error.message;
  }
}
loadChartLibrary().then((loaded) => {
  charting = loaded;
  if (!loaded) document.getElementById('links').append(' · charts unavailable (uplot.min.js did not load)');
  refresh();
  setInterval(refresh, 1000);
});
</script>
</body>
</html>
`;
