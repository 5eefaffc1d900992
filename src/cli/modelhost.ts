/**
 * `modelhost serve <repository>`: a standalone server (like `tritonserver --model-repository`)
 * speaking KServe v2 and TF Serving REST, with /metrics and a status page.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createNodeListener } from '../adapters/http/node-listener.js';
import { applyServerLimits, createNodeServer } from '../adapters/http/node-server.js';
import type { HttpOptions } from '../adapters/http/http-types.js';
import { ModelHost } from 'modelhost';
import { ModelRepository } from '../repository/index.js';
import { createHttpsServer } from '../adapters/tls/https-server.js';
import { readTlsCredentials } from '../adapters/tls/tls-credentials.js';
import { ADMIN_TOKEN_ENV, bearerTokenAuthorizer, readAdminToken } from './admin-token.js';
import { LoadProgress } from './load-progress.js';
import { createLogger, type LogFormat } from './log-format.js';
import { findSingleModel, loadOptionsFor, type SingleModelLayout } from './single-model-layout.js';

const HELP = `Usage: modelhost serve <repository> [options]

Serves every model of a model repository (models/<name>/<version>/model.json|model.onnx)
over HTTP: KServe v2 / Open Inference Protocol (/v2/...), TF Serving REST (/v1/...),
Prometheus metrics (/metrics, when prom-client is installed) and a status page (/).

Options:
  --port <n>            port to listen on (default 8080; 0 picks a free one)
  --host <address>      address to bind (default 127.0.0.1; 0.0.0.0 for all interfaces)
  --poll <ms>           rescan the repository every <ms> for new and removed versions
  --models <a,b>        serve only these models (default: every model in the repository)
  --model-name <name>   serve one model named <name> (also read from MODEL_NAME, as a KServe
                        runtime passes it): <repository> may then be a repository holding
                        <name>/, that model's own folder (1/, 2/, …: the newest serves) or
                        one version's files (model.json or model.onnx: served as version 1)
  --timeout <ms>        deadline of each inference request
  --admin-token-file <f>  enable admin routes for requests with "Authorization: Bearer <token>",
                        the token read from file <f> (or from MODELHOST_ADMIN_TOKEN; never
                        a flag value, which would show in ps); at least 16 characters
  --tls-cert <f>        serve HTTPS with this PEM certificate (chain); needs --tls-key
  --tls-key <f>         the PEM private key of --tls-cert
  --tls-ca <f>          require client certificates signed by this PEM CA (mutual TLS)
                        Certificate files are reloaded when they change (checked every 5 s).
  --require-checksums   refuse versions without a SHA256SUMS
  --instances <kind>    auto, thread or inline (default auto: measured per model at load)
  --drain-timeout <ms>  on shutdown, how long requests in flight may finish (default 30000);
                        past it the rest get 503 SHUTTING_DOWN and the exit code is 1
  --max-wait <ms>       refuse (429) a request whose predicted queue wait passes <ms>
                        (queue.maxWaitMs of every model; default 5000)
  --max-connections <n> most open connections (default 4096)
  --max-buffered-bytes <n>  most request-body bytes held at once, all requests (default 134217728)
  --headers-timeout <ms>    most time to receive a request's headers (default 10000)
  --body-timeout <ms>       most time to receive a request's body (default 30000)
  --log-format <f>      json or text (default: text on a terminal, json otherwise)
  -h, --help            show this help
  -v, --version         show the version

Logs go to stdout, one line each. While models load, a terminal shows each version's
phase (verifying checksums, reading, compiling, measuring, warming up) and elapsed time,
redrawn in place; otherwise each phase is a "loading" log line. SIGTERM or SIGINT stops accepting connections, lets
requests in flight finish (within --drain-timeout), unloads the models and exits.
`;

function version(): string {
  // dist/cli.js sits one level below package.json; src/cli/modelhost.ts two.
  for (const relative of ['../package.json', '../../package.json']) {
    try {
      return (JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as { version: string }).version;
    } catch {
      // try the next
    }
  }
  return '0.0.0-dev';
}

function fail(message: string): never {
  process.stderr.write(`modelhost: ${message}\n\n${HELP}`);
  process.exit(2);
}

export async function main(argv: readonly string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        port: { type: 'string', default: '8080' },
        host: { type: 'string', default: '127.0.0.1' },
        poll: { type: 'string' },
        models: { type: 'string' },
        'model-name': { type: 'string' },
        timeout: { type: 'string' },
        'admin-token': { type: 'string' },
        'admin-token-file': { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        'tls-ca': { type: 'string' },
        'require-checksums': { type: 'boolean' },
        instances: { type: 'string' },
        'drain-timeout': { type: 'string' },
        'max-wait': { type: 'string' },
        'max-connections': { type: 'string' },
        'max-buffered-bytes': { type: 'string' },
        'headers-timeout': { type: 'string' },
        'body-timeout': { type: 'string' },
        'log-format': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (error) {
    fail((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return void process.stdout.write(HELP);
  if (values.version) return void process.stdout.write(`${version()}\n`);
  const [command, root] = positionals;
  if (command !== 'serve') fail(command === undefined ? 'missing command' : `unknown command '${command}'`);
  if (root === undefined) fail('missing <repository>');
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port must be a port number, got ${values.port}`);
  const pollIntervalMs = values.poll === undefined ? undefined : Number(values.poll);
  if (pollIntervalMs !== undefined && !(Number.isInteger(pollIntervalMs) && pollIntervalMs >= 10)) fail(`--poll must be a number of ms ≥ 10, got ${values.poll}`);
  const timeoutMs = values.timeout === undefined ? undefined : Number(values.timeout);
  if (timeoutMs !== undefined && !(timeoutMs > 0)) fail(`--timeout must be a positive number of ms, got ${values.timeout}`);
  if (values.instances !== undefined && !['auto', 'thread', 'inline'].includes(values.instances)) fail(`--instances must be auto, thread or inline, got ${values.instances}`);
  const drainTimeoutMs = values['drain-timeout'] === undefined ? undefined : Number(values['drain-timeout']);
  if (drainTimeoutMs !== undefined && !(Number.isInteger(drainTimeoutMs) && drainTimeoutMs >= 0)) fail(`--drain-timeout must be a whole number of ms ≥ 0, got ${values['drain-timeout']}`);
  if (values['log-format'] !== undefined && !['json', 'text'].includes(values['log-format'])) fail(`--log-format must be json or text, got ${values['log-format']}`);
  if (values['admin-token'] !== undefined) fail(`--admin-token is not accepted: a token on the command line shows in ps; use --admin-token-file or ${ADMIN_TOKEN_ENV}`);
  if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) fail('--tls-cert and --tls-key go together');
  if (values['tls-ca'] !== undefined && values['tls-cert'] === undefined) fail('--tls-ca needs --tls-cert and --tls-key');
  let token: string | undefined;
  try {
    token = readAdminToken(values['admin-token-file']);
  } catch (error) {
    fail((error as Error).message);
  }
  const tls = values['tls-cert'] === undefined ? undefined : { certFile: values['tls-cert'], keyFile: values['tls-key']!, caFile: values['tls-ca'] };
  // Unusable TLS files fail now, not after every model has loaded.
  if (tls !== undefined) await readTlsCredentials(tls).catch((error: unknown) => fail((error as Error).message));
  const modelName = values['model-name'] ?? process.env['MODEL_NAME'];
  if (modelName !== undefined && values.models !== undefined) fail('--models and --model-name (or MODEL_NAME) cannot be used together');
  const single: SingleModelLayout | undefined = modelName === undefined ? undefined : await findSingleModel(root, modelName).catch((error: unknown) => fail((error as Error).message));

  const positive = (flag: 'max-wait' | 'max-connections' | 'max-buffered-bytes' | 'headers-timeout' | 'body-timeout'): number | undefined => {
    const raw = values[flag];
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!(Number.isInteger(n) && n >= 1)) fail(`--${flag} must be an integer ≥ 1, got ${raw}`);
    return n;
  };
  const maxWaitMs = positive('max-wait');
  const limits = {
    maxConnections: positive('max-connections'),
    maxBufferedBytes: positive('max-buffered-bytes'),
    headersTimeoutMs: positive('headers-timeout'),
    bodyTimeoutMs: positive('body-timeout'),
  };

  // A terminal gets the live load progress and text; a pipe gets JSON lines unless told otherwise.
  const live = process.stdout.isTTY === true;
  const progress = new LoadProgress(process.stdout, { live });
  const logger = createLogger((values['log-format'] as LogFormat | undefined) ?? (live ? 'text' : 'json'), (line) => progress.log(line));
  const defaults = {
    ...(values.instances === undefined ? {} : { instances: { kind: values.instances as 'auto' | 'thread' | 'inline' } }),
    ...(maxWaitMs === undefined ? {} : { queue: { maxWaitMs } }),
  };
  const host = new ModelHost({
    // One model's folder or files load as a source: nothing to poll, checksums still apply.
    repository: { root, pollIntervalMs: single === undefined || single.kind === 'repository' ? pollIntervalMs : undefined, requireChecksums: values['require-checksums'] === true },
    logger,
    ...(drainTimeoutMs === undefined ? {} : { drainTimeoutMs }),
    defaults,
  });
  host.on('error', (e) => logger.error('background failure', { model: e.model, version: e.version, error: e.error.message }));

  const names =
    modelName !== undefined
      ? [modelName]
      : (values.models?.split(',').map((m) => m.trim()).filter(Boolean) ?? (await new ModelRepository(root).listModels().catch((error: unknown) => fail(`${root}: ${(error as Error).message}`))));
  progress.attach(host, logger);
  for (const name of names) {
    try {
      await host.load(name, single === undefined ? {} : await loadOptionsFor(single));
    } catch (error) {
      logger.error('model not served', { model: name, error: (error as Error).message });
    }
  }
  progress.stop();

  let metrics: HttpOptions['metrics'];
  try {
    const { collectMetrics } = await import('../metrics/prometheus.js');
    metrics = collectMetrics(host).registry;
  } catch {
    logger.info('prom-client is not installed: /metrics is off');
  }
  const authorize = token === undefined ? undefined : bearerTokenAuthorizer(token);

  const httpOptions = { timeoutMs, metrics, authorize, limits };
  const server = tls === undefined
    ? createNodeServer(host, httpOptions)
    : applyServerLimits(
        await createHttpsServer(createNodeListener(host, httpOptions), {
          ...tls,
          onReload: (e) => (e.applied ? logger.info('TLS certificate reloaded', tls) : logger.warn('TLS certificate files changed but are not usable; the previous ones keep serving', { ...tls, error: e.error.message })),
        }).catch((error: unknown) => fail((error as Error).message)),
        limits,
      );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, values.host, resolve);
  });
  const address = server.address();
  const actualPort = typeof address === 'object' && address !== null ? address.port : port;
  logger.info('listening', { url: `${tls === undefined ? 'http' : 'https'}://${values.host}:${actualPort}`, models: host.status().map((m) => m.name), admin: token !== undefined, mutualTls: tls?.caFile !== undefined });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      logger.warn('second signal: exiting now', { signal });
      await host.destroy();
      process.exit(1);
    }
    stopping = true;
    logger.info('shutting down: no new connections, finishing requests in flight', { signal });
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    await host.close(); // drains queued and running requests, then unloads
    // Keep-alive connections of the requests that were in flight turn idle once their
    // responses are written: close them then (not before, not after keepAliveTimeout).
    const sweep = setInterval(() => server.closeIdleConnections(), 25);
    const cutoff = setTimeout(() => server.closeAllConnections(), 10_000);
    await closed;
    clearInterval(sweep);
    clearTimeout(cutoff);
    logger.info('stopped', { drainTimedOut: host.drainTimedOut });
    process.exit(host.drainTimedOut ? 1 : 0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

// Run when executed (the package's bin, or `tsx src/cli/modelhost.ts`), not when imported.
const invoked = process.argv[1];
if (invoked !== undefined && /modelhost(\.[cm]?[jt]s)?$|cli\.[cm]?js$/.test(invoked)) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`modelhost: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1);
  });
}
