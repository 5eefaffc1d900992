/**
 * `modelhost serve <repository>`: a standalone server (like `tritonserver --model-repository`)
 * speaking KServe v2 and TF Serving REST, with /metrics and a status page.
 *
 * Optional peers (prom-client, the runtimes) are imported only when used, so the packaged
 * CLI runs in a project that installed nothing but modelhost and one runtime.
 */
import { createServer as createNetServer } from 'node:net';
import { createNodeListener, resumeParkedOnClose } from '../adapters/http/node-listener.js';
import { applyServerLimits, createNodeServer, type NodeServerOptions } from '../adapters/http/node-server.js';
import { holdContinue } from '../adapters/http/expect-continue.js';
import { JSON_MAX_DEPTH_LIMIT, type HttpOptions } from '../adapters/http/http-types.js';
import { JsonlSink, ModelHost, type Logger } from 'modelhost';
import { MAX_TIMER_MS } from '../errors/option-checks.js';
import { ModelRepository } from '../repository/index.js';
import { PACKAGE_VERSION } from '../version.js';
import { createHttpsServer } from '../adapters/tls/https-server.js';
import { readTlsCredentials } from '../adapters/tls/tls-credentials.js';
import { ADMIN_TOKEN_ENV, bearerTokenAuthorizer, readAdminToken } from './admin-token.js';
import { GRPC_FLAGS, startGrpcServer } from './grpc-port.js';
import type { GrpcServer } from '../adapters/grpc/grpc-server.js';
import { LoadProgress } from './load-progress.js';
import { disablePretenuring } from './v8-flags.js';
import { createLogger } from './log-format.js';
import { findSingleModel, loadOptionsFor, type SingleModelLayout } from './single-model-layout.js';
import { describeFlags, integer, list, oneOf, parseCommandLine, positive, switchFlag, text, UsageError, type FlagTable } from './flags.js';

/** Every option of `modelhost serve`; the usage text and the parser both come from here. */
const SERVE_FLAGS = {
  port: { value: '<n>', help: 'port to listen on (default 8080; 0 picks a free one)', default: '8080', parse: integer('a port number', 0, 65535) },
  host: { value: '<address>', help: 'address to bind (default 127.0.0.1; 0.0.0.0 for all interfaces)', default: '127.0.0.1', parse: text },
  poll: { value: '<ms>', help: 'rescan the repository every <ms> for new and removed versions', parse: integer(`a number of ms from 10 to ${MAX_TIMER_MS}`, 10, MAX_TIMER_MS) },
  models: { value: '<a,b>', help: 'serve only these models (default: every model in the repository)', parse: list },
  'model-name': {
    value: '<name>',
    help: "serve one model named <name>, as a KServe runtime passes it; <repository>\nmay then be a repository holding <name>/, that model's own folder (1/, 2/,\n…: the newest serves) or one version's files (model.json or model.onnx:\nserved as version 1)",
    env: 'MODEL_NAME',
    parse: text,
  },
  timeout: { value: '<ms>', help: 'deadline of each inference request', parse: positive(`a positive number of ms up to ${MAX_TIMER_MS}`, MAX_TIMER_MS) },
  'admin-token-file': {
    value: '<f>',
    help: `enable admin routes for requests with "Authorization: Bearer <token>",\nthe token read from file <f> (or from ${ADMIN_TOKEN_ENV}; never\na flag value, which would show in ps); at least 16 characters`,
    parse: text,
  },
  // Refused with a message saying why (never listed): a token on the command line shows in ps.
  'admin-token': { value: '<t>', help: '', hidden: true, parse: text },
  'tls-cert': { value: '<f>', help: 'serve HTTPS with this PEM certificate (chain); needs --tls-key', parse: text },
  'tls-key': { value: '<f>', help: 'the PEM private key of --tls-cert', parse: text },
  'tls-ca': { value: '<f>', help: 'require client certificates signed by this PEM CA (mutual TLS)\nCertificate files are reloaded when they change (checked every 5 s).', parse: text },
  ...GRPC_FLAGS,
  'require-checksums': switchFlag('refuse versions without a SHA256SUMS'),
  'exit-on-error': switchFlag("exit 1 when any model fails to load at startup (Triton's --exit-on-error);\nwithout it the others serve, and the server exits 1 only when none loads"),
  'strict-readiness': {
    value: '<bool>',
    help: "true (default, Triton's): /v2/health/ready needs every model to be ready; false: ready\nwhile at least one is, so one broken model does not take the replica out",
    parse: oneOf(['true', 'false']),
  },
  instances: { value: '<kind>', help: 'auto, thread or inline (default auto: measured per model at load)', parse: oneOf(['auto', 'thread', 'inline']) },
  'drain-timeout': {
    value: '<ms>',
    help: 'on shutdown, how long requests in flight may finish (default 30000);\npast it the rest get 503 SHUTTING_DOWN and the exit code is 1',
    parse: integer(`a whole number of ms from 0 to ${MAX_TIMER_MS}`, 0, MAX_TIMER_MS),
  },
  'body-limit': { value: '<bytes>', help: 'largest request body; larger ones get 413 (default 33554432, 32 MiB)', parse: integer('a positive number of bytes', 1) },
  'json-max-depth': { value: '<n>', help: `deepest nesting of a JSON body, 1 to ${JSON_MAX_DEPTH_LIMIT}; deeper ones get 400 (default 64)`, parse: integer(`an integer from 1 to ${JSON_MAX_DEPTH_LIMIT}`, 1, JSON_MAX_DEPTH_LIMIT) },
  'json-max-elements': { value: '<n>', help: 'most values in a JSON body; more get 400 (default 10000000)', parse: integer('a positive integer', 1) },
  'max-response-bytes': { value: '<bytes>', help: 'largest response body; larger ones get 400 naming binary_data_output\n(default 67108864, 64 MiB)', parse: integer('a positive number of bytes', 1) },
  'max-wait': {
    value: '<ms>',
    help: 'refuse (429) a request whose predicted wait for admission or in the\nqueue passes <ms> (limits.maxWaitMs and queue.maxWaitMs; default 5000)',
    parse: integer(`a number of ms from 1 to ${MAX_TIMER_MS}`, 1, MAX_TIMER_MS),
  },
  concurrency: {
    value: '<n>',
    help: "inference requests in flight per model, or 'adaptive' (default: learned\nfrom latency); the next ones wait unread, in arrival order",
    parse: (raw: string) => (raw === 'adaptive' ? ('adaptive' as const) : integer('a positive integer or adaptive', 1)(raw)),
  },
  'max-waiting': { value: '<n>', help: 'inference requests waiting for admission per model; more get 429\nbefore their body is read (default 4096)', parse: integer('a positive integer', 1) },
  'no-park': switchFlag("read every connection at once, even while its model has enough requests\nwaiting (limits.parkConnections: false; by default they wait unread)"),
  'max-connections': { value: '<n>', help: 'most open connections (default 4096)', parse: integer('a positive integer', 1) },
  'max-buffered-bytes': { value: '<n>', help: 'most request-body bytes held at once, all requests (default 134217728)', parse: integer('a positive number of bytes', 1) },
  'headers-timeout': { value: '<ms>', help: "most time to receive a request's headers (default 10000)", parse: integer(`a number of ms from 1 to ${MAX_TIMER_MS}`, 1, MAX_TIMER_MS) },
  'body-timeout': { value: '<ms>', help: "most time to receive a request's body (default 30000)", parse: integer(`a number of ms from 1 to ${MAX_TIMER_MS}`, 1, MAX_TIMER_MS) },
  samples: {
    value: '<file>',
    help: "write the requests that models sample (their `sampling` in config.json) as JSON\nlines to <file>, rotated at 10 MB, 10 files kept (needs rotating-file-stream)",
    parse: text,
  },
  'log-format': {
    value: '<f>',
    help: 'text (default) or json: one JSON object a line, for log shippers',
    env: 'MODELHOST_LOG_FORMAT',
    parse: oneOf(['json', 'text']),
  },
  help: switchFlag('show this help', 'h'),
  version: switchFlag('show the version', 'v'),
} satisfies FlagTable;

const HELP = `Usage: modelhost serve <repository> [options]

Serves every model of a model repository (models/<name>/<version>/model.json|model.onnx)
over HTTP: KServe v2 / Open Inference Protocol (/v2/...), TF Serving REST (/v1/...),
Prometheus metrics (/metrics, when prom-client is installed) and a status page (/).

Options:
${describeFlags(SERVE_FLAGS)}

Logs go to stdout, one line each: plain text by default, JSON lines with
--log-format json. While models load, a terminal shows each version's phase (verifying
checksums, reading, compiling, measuring, warming up) and elapsed time, redrawn in
place; otherwise each phase is a "loading" log line. SIGTERM or SIGINT (also while
models load) stops accepting connections, lets requests in flight finish (within
--drain-timeout; connections still open then are cut), unloads the models and exits 0
(1 when the drain timed out); a second signal during that drain (the same one repeated
within 250 ms counts once) cancels what is left (host.destroy()), writes what
--samples still holds (1 s at most) and exits 1.
`;

/** A repeat of the first signal within this many ms is the same signal delivered twice, not a second one. */
const SIGNAL_REPEAT_MS = 250;
/** After a second signal, how long --samples may take to write what it holds (~100 ms of samples) before the exit. */
const SECOND_SIGNAL_SINK_MS = 1000;

function fail(message: string): never {
  process.stderr.write(`modelhost: ${message}\n\n${HELP}`);
  process.exit(2);
}

/**
 * Fails before any model loads (loading can take minutes) when the port is taken or the host
 * is not an address of this machine; port 0 still checks the host.
 */
async function checkPortFree(port: number, host: string, label = 'port'): Promise<void> {
  const probe = createNetServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen({ port, host, exclusive: true }, resolve);
  }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOTFOUND' || error.code === 'EAI_AGAIN' || error.code === 'EADDRNOTAVAIL') {
      throw new UsageError(`--host ${host} is not an address of this machine (${error.code})`);
    }
    const why = error.code === 'EADDRINUSE' ? 'is already in use' : `cannot be bound (${error.code ?? error.message})`;
    throw new UsageError(`${label} ${port} on ${host} ${why}`);
  });
  await new Promise<void>((resolve) => probe.close(() => resolve()));
}

/** The models to serve: `--models` (each must exist in the repository), else every model found. */
async function modelsToServe(root: string, wanted: readonly string[] | undefined): Promise<string[]> {
  const found = await new ModelRepository(root).listModels().catch((error: unknown) => {
    throw new UsageError(`${root}: ${(error as Error).message}`);
  });
  if (wanted === undefined) return found;
  const missing = wanted.filter((name) => !found.includes(name));
  if (missing.length > 0) {
    const names = missing.map((name) => `'${name}'`).join(', ');
    throw new UsageError(`--models names ${names}, not in the repository; models found: ${found.length === 0 ? '(none)' : found.join(', ')}`);
  }
  return [...wanted];
}

/** `/metrics` when prom-client is installed; any other import failure is a real error. */
async function prometheusRegistry(host: ModelHost, logger: Logger, sink: JsonlSink | undefined): Promise<HttpOptions['metrics']> {
  try {
    const { collectMetrics } = await import('modelhost/prometheus');
    // --samples' drops show as modelhost_samples_dropped_total{sink="samples"}.
    return collectMetrics(host, sink === undefined ? {} : { sinks: { samples: sink } }).registry;
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && /prom-client/.test((error as Error).message);
    if (!missing) throw error;
    logger.info('prom-client is not installed: /metrics is off');
    return undefined;
  }
}

export async function main(argv: readonly string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseCommandLine(SERVE_FLAGS, argv);
  } catch (error) {
    if (error instanceof UsageError) fail(error.message);
    throw error;
  }
  const { values, positionals } = parsed;
  if (values.help) return void process.stdout.write(HELP);
  if (values.version) return void process.stdout.write(`${PACKAGE_VERSION}\n`);
  const [command, root] = positionals;
  if (command !== 'serve') fail(command === undefined ? 'missing command' : `unknown command '${command}'`);
  // Before anything is allocated per request: see v8-flags.ts.
  disablePretenuring();
  if (root === undefined) fail('missing <repository>');
  const port = values.port ?? 8080;
  const address = values.host ?? '127.0.0.1';
  if (values['admin-token'] !== undefined) fail(`--admin-token is not accepted: a token on the command line shows in ps; use --admin-token-file or ${ADMIN_TOKEN_ENV}`);
  if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) fail('--tls-cert and --tls-key go together');
  if (values['tls-ca'] !== undefined && values['tls-cert'] === undefined) fail('--tls-ca needs --tls-cert and --tls-key');
  const grpcPort = values['grpc-port'];
  if (values.models !== undefined && values.models.length === 0) fail('--models needs at least one name');
  const twice = values.models?.filter((name, i, all) => all.indexOf(name) !== i);
  if (twice !== undefined && twice.length > 0) fail(`--models names ${[...new Set(twice)].map((name) => `'${name}'`).join(', ')} more than once`);
  let token: string | undefined;
  try {
    token = readAdminToken(values['admin-token-file']);
  } catch (error) {
    fail((error as Error).message);
  }
  const tls = values['tls-cert'] === undefined ? undefined : { certFile: values['tls-cert'], keyFile: values['tls-key']!, caFile: values['tls-ca'] };

  const modelName = values['model-name'];
  if (modelName !== undefined && values.models !== undefined) fail('--models and --model-name (or MODEL_NAME) cannot be used together');

  // Everything that can be checked before the models load (which can take minutes) is.
  let names: string[];
  let single: SingleModelLayout | undefined;
  try {
    if (tls !== undefined) await readTlsCredentials(tls).catch((error: unknown) => Promise.reject(new UsageError((error as Error).message)));
    await checkPortFree(port, address);
    if (grpcPort !== undefined && grpcPort !== 0) await checkPortFree(grpcPort, address, '--grpc-port');
    if (modelName !== undefined) {
      single = await findSingleModel(root, modelName).catch((error: unknown) => Promise.reject(new UsageError((error as Error).message)));
      names = [modelName];
    } else {
      names = await modelsToServe(root, values.models);
    }
  } catch (error) {
    if (error instanceof UsageError) fail(error.message);
    throw error;
  }

  const maxWaitMs = values['max-wait'];
  const limits = {
    maxConnections: values['max-connections'],
    maxBufferedBytes: values['max-buffered-bytes'],
    headersTimeoutMs: values['headers-timeout'],
    bodyTimeoutMs: values['body-timeout'],
    concurrency: values.concurrency,
    maxWaitingRequests: values['max-waiting'],
    maxWaitMs,
    ...(values['no-park'] === true ? { parkConnections: false } : {}),
  };

  // Text lines by default everywhere (JSON only when asked); a terminal also gets the live load progress.
  const live = process.stdout.isTTY === true;
  const progress = new LoadProgress(process.stdout, { live });
  const logger = createLogger(values['log-format'] ?? 'text', (line) => progress.log(line));
  const defaults = {
    ...(values.instances === undefined ? {} : { instances: { kind: values.instances } }),
    ...(maxWaitMs === undefined ? {} : { queue: { maxWaitMs } }),
  };
  const host = new ModelHost({
    // One model's folder or files load as a source: nothing to poll, checksums still apply.
    repository: { root, pollIntervalMs: single === undefined || single.kind === 'repository' ? values.poll : undefined, requireChecksums: values['require-checksums'] === true },
    logger,
    ...(values['drain-timeout'] === undefined ? {} : { drainTimeoutMs: values['drain-timeout'] }),
    ...(values['strict-readiness'] === undefined ? {} : { readiness: { strict: values['strict-readiness'] === 'true' } }),
    defaults,
  });
  host.on('error', (e) => logger.error('background failure', { model: e.model, version: e.version, error: e.error.message }));
  progress.attach(host, logger);
  // Opened before any model loads: a path that cannot be written fails now, not minutes later.
  let sink: JsonlSink | undefined;
  if (values.samples !== undefined) {
    // A file that fails while serving (a full disk, its directory removed) drops every sample
    // from then on: said when it happens, not only in the shutdown's counts.
    const onError = (error: Error) => logger.error('samples failing: every sample is dropped from now on', { path: values.samples, error: error.message });
    sink = await JsonlSink.open(host, { path: values.samples, onError }).catch((error: unknown) => fail(`--samples ${values.samples}: ${(error as Error).message}`));
  }
  /**
   * Writes every sample the sink accepted, and says how many were written and dropped. Once:
   * the drain and a second signal share it. `withinMs` bounds the wait (a second signal exits
   * now, but not before the last ~100 ms of samples, which the sink still holds, are written).
   */
  let sinkClosed: Promise<void> | undefined;
  const closeSink = async (withinMs?: number) => {
    if (sink === undefined) return;
    sinkClosed ??= sink.close().then(() => {
      const counts = { written: sink!.written, dropped: sink!.dropped };
      if (sink!.error === undefined) logger.info('samples closed', { path: values.samples, ...counts });
      else logger.warn('samples closed after a failure', { path: values.samples, ...counts, error: sink!.error.message });
    });
    if (withinMs === undefined) return sinkClosed;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(resolve, withinMs, 'late')));
    if ((await Promise.race([sinkClosed, late])) === 'late') logger.warn('samples not all written: exiting before the disk took them', { path: values.samples, waitedMs: withinMs });
    clearTimeout(timer);
  };

  // The signal handlers come before loading: a signal while models load stops the loading
  // (host.close()) and exits 0 rather than dying by the signal's default action.
  const drainMs = values['drain-timeout'] ?? 30_000;
  let server: ReturnType<typeof createNodeServer> | undefined;
  let grpcServer: GrpcServer | undefined;
  let stopping = false;
  const stop = async (signal: string) => {
    logger.info('shutting down: no new connections, finishing requests in flight', { signal });
    progress.stop();
    const listening = server;
    const closed = listening === undefined ? Promise.resolve() : new Promise<void>((resolve) => listening.close(() => resolve()));
    const grpcClosed = grpcServer?.close(drainMs);
    const deadline = Date.now() + drainMs;
    await host.close(); // drains queued and running requests, then unloads
    await closeSink(); // the last requests' samples too
    // Keep-alive connections of the requests that were in flight turn idle once their
    // responses are written: close them then. A connection still open at the drain bound
    // (a client holding a half-sent request) is cut, and the drain counts as timed out;
    // past a drain that timed out in the host, a short grace lets the 503s be written.
    let cut = false;
    const sweep = setInterval(() => listening?.closeIdleConnections(), 25);
    const cutoff = setTimeout(
      () => {
        cut = true;
        listening?.closeAllConnections();
      },
      Math.max(deadline - Date.now(), host.drainTimedOut ? 1000 : 0),
    );
    await closed;
    await grpcClosed;
    clearInterval(sweep);
    clearTimeout(cutoff);
    const drainTimedOut = host.drainTimedOut || cut;
    logger.info('stopped', { drainTimedOut });
    process.exit(drainTimedOut ? 1 : 0);
  };
  // Listeners stay installed for both signals: a second one of either kind, during the drain,
  // must reach this code rather than Node's default handler (which kills the process).
  let first: { readonly signal: NodeJS.Signals; readonly at: number } | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (!stopping) {
      stopping = true;
      first = { signal, at: performance.now() };
      void stop(signal);
      return;
    }
    // One Ctrl-C can arrive twice: to the whole process group, and again from a supervisor
    // that relays it (tsx, under `npm start`, relays it 30 ms later when the server's loop was
    // too busy to acknowledge). That is not a second request to exit now.
    if (signal === first?.signal && performance.now() - first.at < SIGNAL_REPEAT_MS) {
      logger.info('the same signal again at once: taken as one (send it again to exit now)', { signal });
      return;
    }
    logger.warn('second signal: exiting now', { signal });
    void host
      .destroy()
      .then(() => closeSink(SECOND_SIGNAL_SINK_MS))
      .finally(() => process.exit(1));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  const ready: string[] = [];
  const failed: string[] = [];
  for (const name of names) {
    if (stopping) return; // stop() exits once the host is closed
    try {
      await host.load(name, single === undefined ? {} : await loadOptionsFor(single));
      ready.push(name);
    } catch (error) {
      if (stopping) return;
      failed.push(name);
      logger.error('model not served', { model: name, error: (error as Error).message });
    }
  }
  progress.stop();
  if (stopping) return;
  // Serving nothing (or less than asked, with --exit-on-error) would look alive to an
  // orchestrator while it can never answer: exit, so the failure is seen and restarted.
  if (failed.length > 0 && (ready.length === 0 || values['exit-on-error'] === true)) {
    logger.error(ready.length === 0 ? 'no model could be loaded: exiting' : 'a model failed to load and --exit-on-error is set: exiting', { models: ready, failed });
    await host.close();
    await closeSink();
    process.exit(1);
  }

  const metrics = await prometheusRegistry(host, logger, sink);
  const authorize = token === undefined ? undefined : bearerTokenAuthorizer(token);
  const json = values['json-max-depth'] === undefined && values['json-max-elements'] === undefined ? undefined : { maxDepth: values['json-max-depth'], maxElements: values['json-max-elements'] };

  const httpOptions: NodeServerOptions = { timeoutMs: values.timeout, bodyLimitBytes: values['body-limit'], json, maxResponseBytes: values['max-response-bytes'], metrics, authorize, limits };
  const created =
    tls === undefined
      ? createNodeServer(host, httpOptions)
      : await (async () => {
          const listener = createNodeListener(host, httpOptions);
          const secure = await createHttpsServer(listener, {
            ...tls,
            onReload: (e) => (e.applied ? logger.info('TLS certificate reloaded', tls) : logger.warn('TLS certificate files changed but are not usable; the previous ones keep serving', { ...tls, error: e.error.message })),
          }).catch((error: unknown) => fail((error as Error).message));
          // close() reads the requests waiting on parked connections before it closes idle ones.
          return resumeParkedOnClose(holdContinue(applyServerLimits(secure, limits)), listener);
        })();
  if (stopping) return;
  await new Promise<void>((resolve, reject) => {
    created.once('error', reject);
    created.listen(port, address, resolve);
  });
  server = created;
  const bound = created.address();
  const actualPort = typeof bound === 'object' && bound !== null ? bound.port : port;
  if (stopping) return void created.close();
  grpcServer =
    grpcPort === undefined ? undefined : await startGrpcServer(host, { port: grpcPort, address, tls, authorize, timeoutMs: values.timeout, logger }).catch((error: unknown) => fail(`gRPC: ${(error as Error).message}`));
  if (stopping) return void grpcServer?.close(0);
  logger.info('listening', { url: `${tls === undefined ? 'http' : 'https'}://${address}:${actualPort}`, models: ready, failed, admin: token !== undefined, mutualTls: tls?.caFile !== undefined });
}

// Run when executed (the package's bin, or `tsx src/cli/modelhost.ts`), not when imported.
const invoked = process.argv[1];
if (invoked !== undefined && /modelhost(\.[cm]?[jt]s)?$|cli\.[cm]?js$/.test(invoked)) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`modelhost: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1);
  });
}
