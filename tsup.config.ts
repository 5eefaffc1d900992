import { defineConfig } from 'tsup';

export default defineConfig({
  // The worker-thread entry is its own file: thread instances start it beside index.js.
  entry: {
    index: 'src/index.ts',
    prometheus: 'src/metrics/prometheus.ts',
    otel: 'src/metrics/opentelemetry.ts',
    'instance-worker': 'src/runtime/worker/instance-worker.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  platform: 'node',
  // import.meta.url in the CommonJS build (used to find the tfjs wasm binaries).
  shims: true,
  splitting: false,
  treeshake: true,
});
