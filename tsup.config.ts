import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { defineConfig, type Options } from 'tsup';

const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };

const shared: Options = {
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  target: 'node20',
  platform: 'node',
  // import.meta.url in the CommonJS build (used to find the tfjs wasm binaries and the worker).
  shims: true,
  splitting: false,
  treeshake: true,
  define: { __MODELHOST_VERSION__: JSON.stringify(version) },
  // Adapters and exporters use the public API from 'modelhost' itself (a self-reference at
  // run time), so they share the one ModelHost of dist/index instead of bundling a copy.
  external: ['modelhost'],
};

/**
 * The status page's charting library (uPlot, a devDependency) goes into dist/vendor/, beside
 * the bundles that serve it (src/adapters/http/chart-assets.ts): bundled with the package,
 * nothing added to what `npm install modelhost` installs, no CDN.
 */
function vendorChartLibrary(): void {
  mkdirSync('dist/vendor', { recursive: true });
  for (const file of ['uPlot.iife.min.js', 'uPlot.min.css']) copyFileSync(`node_modules/uplot/dist/${file}`, `dist/vendor/${file}`);
  copyFileSync('node_modules/uplot/LICENSE', 'dist/vendor/uPlot.LICENSE');
}

export default defineConfig([
  {
    ...shared,
    clean: true,
    onSuccess: async () => vendorChartLibrary(),
    entry: {
      index: 'src/index.ts',
      http: 'src/adapters/http/index.ts',
      express: 'src/adapters/express/index.ts',
      nest: 'src/adapters/nest/index.ts',
      prometheus: 'src/metrics/prometheus.ts',
      otel: 'src/metrics/opentelemetry.ts',
      grpc: 'src/adapters/grpc/index.ts',
      // Thread instances start this file beside index.js.
      'instance-worker': 'src/runtime/worker/instance-worker.ts',
      // The JSON-lines sink's worker (src/monitoring/sink-thread.ts starts it beside index.js).
      'jsonl-sink-worker': 'src/monitoring/jsonl-sink-worker.ts',
    },
  },
  {
    ...shared,
    entry: { cli: 'src/cli/modelhost.ts' },
    format: ['esm'],
    dts: false,
    banner: { js: '#!/usr/bin/env node' },
  },
]);
