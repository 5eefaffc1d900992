import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ErrorCode, ModelHostError } from '../../errors/index.js';
import { hostWorded } from '../../errors/error-detail.js';
import { runTimedOut } from '../../errors/run-timeout.js';
import type { Signature, Tensor } from '../../tensor/index.js';
import type { FromWorker, SerializedError, ToWorker, WorkerMemory, WorkerSetup } from './messages.js';
import { transferables } from './transfer.js';

export interface WorkerInstanceOptions {
  /** A batch that takes longer is considered hung: the worker is terminated and the batch fails. */
  readonly runTimeoutMs: number;
  /** Called once when the worker is gone for a reason other than `dispose` (crash, exit, hang). */
  readonly onLost: (instance: WorkerInstance, reason: string) => void;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: ModelHostError): void;
  timer: NodeJS.Timeout | undefined;
}

/**
 * The main thread's handle of one worker-thread instance: a worker that owns one session of
 * one version. Batches cross as transferables; a crash, an exit or a hang fails what the
 * worker was running and reports the instance lost.
 */
export class WorkerInstance {
  /** Worker threads started and not yet ended, across the process. */
  static live = 0;
  readonly signature: Signature;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private lost = false;
  private disposing = false;

  private constructor(
    private readonly worker: Worker,
    signature: Signature,
    private readonly context: { model: string; version: number },
    private readonly options: WorkerInstanceOptions,
  ) {
    this.signature = signature;
    worker.on('message', this.onMessage);
    worker.on('error', this.onError);
    worker.on('exit', this.onExit);
  }

  private readonly onMessage = (message: FromWorker) => this.receive(message);
  private readonly onError = (error: Error) => this.lose(`the worker crashed: ${error.message}`, false);
  private readonly onExit = (code: number) => this.lose(`the worker exited with code ${code}`);

  /** Starts a worker and resolves once its session is loaded. */
  static start(setup: WorkerSetup, options: WorkerInstanceOptions): Promise<WorkerInstance> {
    const entry = workerEntry(setup);
    const fromSource = import.meta.url.endsWith('.ts');
    // From sources, the worker must not inherit the parent's TypeScript loader flags (see workerEntry).
    const worker = new Worker(entry.url, { workerData: setup, eval: entry.eval, ...(fromSource ? { execArgv: [] } : {}) });
    WorkerInstance.live++;
    worker.once('exit', () => WorkerInstance.live--);
    const context = { model: setup.model, version: setup.version };
    return new Promise((resolve, reject) => {
      // Remove exactly our listeners: removeAllListeners() would also drop the ones Node's
      // Worker uses to keep its message port referenced, and messages would stop arriving.
      const settle = () => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      const fail = (error: ModelHostError) => {
        settle();
        void worker.terminate();
        reject(error);
      };
      const onMessage = (message: FromWorker) => {
        if (message.type === 'loaded') {
          settle();
          resolve(new WorkerInstance(worker, message.signature, context, options));
        } else if (message.type === 'loadFailed') fail(fromWorker(message.error, ErrorCode.LOAD_FAILED, context, 'in a worker thread'));
        else fail(new ModelHostError(ErrorCode.LOAD_FAILED, `worker sent '${message.type}' before loading`, context));
      };
      const onError = (error: Error) => fail(new ModelHostError(ErrorCode.LOAD_FAILED, `the worker thread failed while loading: ${error.message}`, { ...context, cause: error }));
      const onExit = (code: number) => fail(new ModelHostError(ErrorCode.LOAD_FAILED, `the worker thread exited with code ${code} while loading`, context));
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
    });
  }

  get alive(): boolean {
    return !this.lost && !this.disposing;
  }

  /**
   * Runs one batch in the worker. `owned`: the input buffers belong to the caller's batch
   * and may be moved (transferred) rather than copied.
   */
  run(inputs: Record<string, Tensor>, owned: boolean): Promise<Record<string, Tensor>> {
    return this.request({ type: 'run', id: 0, inputs }, transferables(inputs, owned), this.options.runTimeoutMs) as Promise<Record<string, Tensor>>;
  }

  /** The worker's heap and runtime resources; `collect` runs a full GC first. */
  memory(collect = false): Promise<WorkerMemory> {
    return this.request({ type: 'memory', id: 0, collect }, [], this.options.runTimeoutMs) as Promise<WorkerMemory>;
  }

  /** Disposes the session, then ends the thread. */
  async dispose(): Promise<void> {
    if (this.disposing) return;
    this.disposing = true;
    if (!this.lost) {
      try {
        await this.request({ type: 'dispose', id: 0 }, [], 10_000);
      } catch {
        // the thread ends either way
      }
    }
    this.worker.off('message', this.onMessage);
    this.worker.off('error', this.onError);
    this.worker.off('exit', this.onExit);
    await this.worker.terminate();
  }

  private request(message: ToWorker, transfer: ArrayBuffer[], timeoutMs: number): Promise<unknown> {
    if (this.lost) return Promise.reject(this.failure('the worker thread is gone'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              this.lose(`no answer within ${timeoutMs} ms (instances.runTimeoutMs): the worker was terminated`, true, true);
              void this.worker.terminate();
            }, timeoutMs)
          : undefined;
      this.pending.set(id, { resolve, reject, timer });
      this.worker.postMessage({ ...message, id }, transfer);
    });
  }

  private receive(message: FromWorker): void {
    if (message.type === 'loaded' || message.type === 'loadFailed') return;
    const pending = this.pending.get(message.id);
    if (pending === undefined) return;
    this.pending.delete(message.id);
    if (pending.timer !== undefined) clearTimeout(pending.timer);
    switch (message.type) {
      case 'result':
        pending.resolve(message.outputs);
        break;
      case 'memory':
        pending.resolve(message.memory);
        break;
      case 'disposed':
        pending.resolve(undefined);
        break;
      case 'failed':
        pending.reject(fromWorker(message.error, ErrorCode.INFERENCE_FAILED, this.context, 'in a worker thread'));
        break;
    }
  }

  /** The worker is gone: fail what it was doing, once, and report it unless we ended it. */
  private lose(reason: string, hostWords = true, timedOut = false): void {
    if (this.lost) return;
    this.lost = true;
    const error = hostWords ? this.failure(reason) : new ModelHostError(ErrorCode.INFERENCE_FAILED, `model '${this.context.model}' v${this.context.version}: ${reason}`, this.context);
    if (timedOut) runTimedOut(error);
    for (const pending of this.pending.values()) {
      if (pending.timer !== undefined) clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.pending.clear();
    if (!this.disposing) this.options.onLost(this, reason);
  }

  private failure(reason: string): ModelHostError {
    return hostWorded(new ModelHostError(ErrorCode.INFERENCE_FAILED, `model '${this.context.model}' v${this.context.version}: ${reason}`, this.context));
  }
}

function fromWorker(error: SerializedError, fallback: ErrorCode, context: { model: string; version: number }, where: string): ModelHostError {
  const code = (Object.values(ErrorCode) as string[]).includes(error.code ?? '') ? (error.code as ErrorCode) : fallback;
  // The cause chain crossed the thread as text: rebuilt as one cause, so the host's log still gets it.
  const cause = error.detail === undefined ? undefined : new Error(error.detail.join(' ← '));
  return new ModelHostError(code, `${error.message} (${where})`, { ...context, cause });
}

/**
 * The worker script beside this module: `instance-worker.js` in the built package.
 *
 * Run from TypeScript sources (this repository's tests and benches), the worker is bundled
 * once per process with esbuild into node_modules/.cache, because registering a TypeScript
 * loader in every worker costs a quarter of a second; tsx is registered only for a custom
 * runtime that is itself a `.ts` module.
 */
function workerEntry(setup: WorkerSetup): { url: URL | string; eval: boolean } {
  if (!import.meta.url.endsWith('.ts')) return { url: new URL('./instance-worker.js', import.meta.url), eval: false };
  const bundle = pathToFileURL(devBundle()).href;
  const module = 'module' in setup.runtime ? setup.runtime.module : '';
  if (!/\.[cm]?ts$/.test(module)) return { url: new URL(bundle), eval: false };
  const require = createRequire(import.meta.url);
  // require.resolve finds tsx's CommonJS build of its API; the ESM one sits beside it.
  const tsx = pathToFileURL(require.resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  return { url: `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(bundle)}); });`, eval: true };
}

let bundled: string | undefined;

function devBundle(): string {
  if (bundled !== undefined) return bundled;
  const require = createRequire(import.meta.url);
  const esbuild = require('esbuild') as { buildSync(options: Record<string, unknown>): { outputFiles: { text: string }[] } };
  const { outputFiles } = esbuild.buildSync({
    entryPoints: [fileURLToPath(new URL('./instance-worker.ts', import.meta.url))],
    write: false,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'error',
  });
  const code = outputFiles[0]!.text;
  // Named by content: processes share it, and an edit of the sources makes a new one.
  const hash = createHash('sha256').update(code).digest('hex').slice(0, 16);
  const dir = fileURLToPath(new URL('../../../node_modules/.cache/modelhost/', import.meta.url));
  const file = path.join(dir, `instance-worker-${hash}.mjs`);
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    const temporary = `${file}.${process.pid}`;
    writeFileSync(temporary, code);
    renameSync(temporary, file);
  }
  bundled = file;
  return file;
}
