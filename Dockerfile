# syntax=docker/dockerfile:1
#
# modelhost serve in a container: KServe v2 + TF Serving REST on :8080, /metrics, the
# repository mounted at /models (a volume: a PersistentVolumeClaim, or KServe's /mnt/models).
#
#   docker build -t modelhost:0.1.0 .
#   docker run --rm -p 8080:8080 -v "$PWD/models:/models:ro" modelhost:0.1.0
#
# Not built on the machines this project is developed on (they have no container engine):
# test/deploy/dockerfile.test.ts parses it and checks what docs/deployment.md promises.

ARG NODE_VERSION=20.19

# ---- build: compile dist/ with the dev dependencies ----
FROM node:${NODE_VERSION}-bookworm-slim AS build
# onnxruntime-node's install script would download GPU binaries; the CPU build ships in the
# package. (The image's npm 10 does not read package.json's allowScripts.)
ENV ONNXRUNTIME_NODE_INSTALL=skip
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsup.config.ts ./
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies, the runtimes, dist/; no compilers, no dev dependencies ----
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production
# glibc (this Debian base; not Alpine's musl) gives every block of 128 KiB or more its own
# mapping, returned to the system when freed. Its default threshold rises to the largest block
# freed so far, so after a burst of large bodies (a 224x224x3 float32 image is 588 KiB) their
# memory stays in RSS: MobileNetV2's RSS after bursts was 1.03-1.08x of readiness with it,
# up to 1.16x without (docs/configuration.md). Costs an mmap/munmap per large buffer, nothing
# for small ones. An image cannot unset it: give another value (-e, or env: in Kubernetes),
# e.g. 33554432 (the ceiling glibc's own threshold grows to) for close to glibc's default.
ENV MALLOC_MMAP_THRESHOLD_=131072
ENV ONNXRUNTIME_NODE_INSTALL=skip
# The runtimes (onnxruntime-node, @tensorflow/tfjs + wasm backend) and prom-client are optional
# peers of the package: they go one folder above the app, where Node's resolution finds them.
WORKDIR /opt/modelhost
COPY deploy/container/runtimes/package.json deploy/container/runtimes/package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
WORKDIR /opt/modelhost/app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist ./dist

# The official image's unprivileged user (uid 1000); nothing in the image is writable by it.
USER node
# The model repository: mount it read-only (models/<name>/<version>/…, manifest.json).
VOLUME ["/models"]
EXPOSE 8080
# Liveness only: readiness (/v2/health/ready) is the orchestrator's business, and a replica
# that is draining is alive. serve listens once its models are loaded: --start-period covers
# the loading (raise it for models that take longer than 2 minutes to load and warm up).
HEALTHCHECK --interval=10s --timeout=3s --start-period=120s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/v2/health/live').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM starts the drain: stop accepting, finish what is in flight (each request within its
# --timeout, all of it within --drain-timeout), unload, exit 0 (1 if the drain bound cut requests
# off). Kubernetes' terminationGracePeriodSeconds must cover preStop + that.
STOPSIGNAL SIGTERM
# node is PID 1 and handles the signal itself (no shell in between).
ENTRYPOINT ["node", "/opt/modelhost/app/dist/cli.js"]
CMD ["serve", "/models", "--host", "0.0.0.0", "--port", "8080", "--poll", "30000", "--timeout", "10000", "--drain-timeout", "10000", "--log-format", "json"]
