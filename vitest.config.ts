import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (file: string) => fileURLToPath(new URL(`./src/${file}`, import.meta.url));

export default defineConfig({
  // Examples import 'modelhost' as users do; in this repository that is the source.
  resolve: {
    alias: [
      { find: /^modelhost$/, replacement: src('index.ts') },
      { find: /^modelhost\/http$/, replacement: src('adapters/http/index.ts') },
      { find: /^modelhost\/express$/, replacement: src('adapters/express/index.ts') },
      { find: /^modelhost\/nest$/, replacement: src('adapters/nest/index.ts') },
      { find: /^modelhost\/prometheus$/, replacement: src('metrics/prometheus.ts') },
      { find: /^modelhost\/otel$/, replacement: src('metrics/opentelemetry.ts') },
      { find: /^modelhost\/grpc$/, replacement: src('adapters/grpc/index.ts') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    // Native runtimes (onnxruntime-node) and tfjs's process-wide backend are safest in child processes.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    typecheck: { enabled: true, include: ['test/**/*.test-d.ts'] },
  },
});
