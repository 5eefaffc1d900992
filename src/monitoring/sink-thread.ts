import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { RequestSampledEvent } from '../metrics/events.js';
import type { RotatingFile } from './rotating-file.js';
import { SampleRing } from './sample-ring.js';

/** What the worker starts with (`workerData`). */
export interface SinkWorkerData extends RotatingFile {
  readonly buffer: SharedArrayBuffer;
  readonly encoding: 'base64' | 'numbers';
}

/** `'drain'`: samples wait in the ring; `'close'`: write them all, end the file and exit. */
export type ToSinkWorker = 'drain' | 'close';
type FromSinkWorker = { type: 'ready' } | { type: 'error'; message: string };

/** The worker is woken this long after a sample at most (ms), or at once past half the ring. */
const WAKE_MS = 100;
/** Wake-ups without progress after which the timer stops holding the process. */
const STALLED_WAKES = 10;

/**
 * The request's thread's side of the sink's worker: samples go into a shared ring
 * ({@link SampleRing}, a copy of their fields and tensor bytes), and the worker builds the
 * lines and writes the file. Woken by a message at most every {@link WAKE_MS} or when the
 * ring is half full, never per sample. The worker is unref'd (it never keeps the process
 * alive); a timer does while samples wait for the disk, so a process that ends without
 * `close()` still writes them.
 */
export class SinkThread {
  /** Sink workers started and not yet ended, across the process. */
  static live = 0;
  /** Samples put into the ring (mod 2^32, as the ring's read count). */
  private accepted = 0;
  private wakeTimer: ReturnType<typeof setTimeout> | undefined;
  private woken = false;
  /** Wake-ups in a row in which the bytes waiting did not change (a stuck disk stops holding the process after a second). */
  private stalled = 0;
  private lastBuffered = 0;
  private exited = false;
  /** The worker ended after writing everything it took (a close that finished), not by a crash or a timeout. */
  private finished = false;
  private closing = false;
  private closeTimedOut = false;
  private readonly exit: Promise<void>;

  private constructor(
    private readonly worker: Worker,
    private readonly ring: SampleRing,
    /** Called with why the sink can no longer write (a stream error, or the worker gone). */
    onFailure: (error: Error) => void,
    private readonly closeTimeoutMs: number,
  ) {
    worker.on('message', (message: FromSinkWorker) => {
      if (message.type === 'error') onFailure(new Error(message.message));
    });
    worker.on('error', (error: Error) => onFailure(new Error(`the JSON-lines sink's worker failed: ${error.message}`)));
    this.exit = new Promise((resolve) => {
      worker.once('exit', (code) => {
        this.exited = true;
        this.finished = this.closing && code === 0 && !this.closeTimedOut;
        clearTimeout(this.wakeTimer);
        if (this.closeTimedOut) onFailure(new Error(`the JSON-lines sink's worker did not finish writing within closeTimeoutMs (${this.closeTimeoutMs} ms), so it was stopped`));
        else if (!this.finished) onFailure(new Error(`the JSON-lines sink's worker exited with code ${code}`));
        resolve();
      });
    });
    // Last: the listeners above would hold the process again (Node refs a worker's port as listeners are added).
    worker.unref();
  }

  /**
   * Starts the worker and resolves once it has opened the file.
   * @throws Error when the worker cannot start or open the file.
   */
  static async start(data: Omit<SinkWorkerData, 'buffer'>, ringBytes: number, onFailure: (error: Error) => void, options: SinkThreadOptions): Promise<SinkThread> {
    const ring = new SampleRing(ringBytes);
    const entry = workerEntry(options.entry);
    const worker = new Worker(entry.url, { workerData: { ...data, buffer: ring.buffer } satisfies SinkWorkerData, eval: entry.eval, ...(entry.eval ? { execArgv: [] } : {}) });
    SinkThread.live++;
    worker.once('exit', () => SinkThread.live--);
    await new Promise<void>((resolve, reject) => {
      const onMessage = (message: FromSinkWorker) => {
        settle();
        if (message.type === 'ready') resolve();
        else {
          void worker.terminate();
          reject(new Error(message.message));
        }
      };
      const onError = (error: Error) => {
        settle();
        reject(error);
      };
      const onExit = (code: number) => {
        settle();
        reject(new Error(`the JSON-lines sink's worker exited with code ${code} while starting`));
      };
      const settle = () => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
    });
    return new SinkThread(worker, ring, onFailure, options.closeTimeoutMs);
  }

  /** Bytes waiting for the disk: in the ring, and in the worker's stream. */
  get bufferedBytes(): number {
    return this.ring.usedBytes + this.ring.readerPending;
  }

  /**
   * Samples accepted and never written: those the worker's file failed, and, once the worker
   * ended any other way than a finished close (it died, or was stopped at `closeTimeoutMs`),
   * every one it had not written, whether still in the ring or already taken out for the file.
   */
  get lost(): number {
    if (this.exited && !this.finished) return (this.accepted - this.ring.written) >>> 0;
    return this.ring.lost;
  }

  /** Copies a sample into the ring; false (nothing kept) when it does not fit or the worker is gone. */
  write(event: RequestSampledEvent): boolean {
    if (this.exited || this.closing || !this.ring.write(event)) return false;
    this.accepted = (this.accepted + 1) >>> 0;
    if (!this.woken && this.ring.usedBytes * 2 >= this.ring.capacity) this.wake();
    // Not unref'd: a process that ends without close() still writes its last samples (the
    // timer holds the loop at most WAKE_MS at a time, and only while bytes wait).
    else this.wakeTimer ??= setTimeout(this.onWakeTimer, WAKE_MS);
    return true;
  }

  /**
   * Writes every sample accepted, ends the file and the worker; a worker still writing after
   * `closeTimeoutMs` (a disk that does not answer) is stopped, and what it had not written is
   * counted as lost.
   */
  async close(): Promise<void> {
    if (this.closing) return this.exit;
    this.closing = true;
    clearTimeout(this.wakeTimer);
    if (!this.exited) {
      // Held while it writes the rest: an unref'd worker would let the loop end with close() pending.
      this.worker.ref();
      this.worker.postMessage('close' satisfies ToSinkWorker);
      const timer = setTimeout(() => {
        this.closeTimedOut = true;
        void this.worker.terminate();
      }, this.closeTimeoutMs);
      await this.exit;
      clearTimeout(timer);
    }
    await this.exit;
  }

  private readonly onWakeTimer = (): void => {
    this.wakeTimer = undefined;
    this.wake();
    // Still waiting for the disk: look again (and hold the process) until written, or stuck.
    const buffered = this.bufferedBytes;
    this.stalled = buffered === this.lastBuffered ? this.stalled + 1 : 0;
    this.lastBuffered = buffered;
    if (!this.exited && buffered > 0 && this.stalled < STALLED_WAKES) this.wakeTimer = setTimeout(this.onWakeTimer, WAKE_MS);
  };

  private wake(): void {
    if (this.exited) return;
    this.woken = true;
    this.worker.postMessage('drain' satisfies ToSinkWorker);
    // Once per turn at most: the next sample past half full wakes it again after this one.
    queueMicrotask(() => (this.woken = false));
  }
}

/** Internal, for tests: a `JsonlSink.open` option under this key runs that module as the worker (one whose disk never answers). */
export const SINK_WORKER_ENTRY = Symbol('modelhost.sinkWorkerEntry');

/** How a sink's worker is run. */
export interface SinkThreadOptions {
  /** How long `close()` waits for the worker to write the rest before it stops it, ms. */
  readonly closeTimeoutMs: number;
  /** The worker's module instead of jsonl-sink-worker (tests: a worker whose disk never answers). */
  readonly entry?: URL;
}

/** The worker's file: beside the bundle when built, the TypeScript source (through tsx) in tests. */
function workerEntry(entry?: URL): { url: URL | string; eval: boolean } {
  if (entry === undefined && !import.meta.url.endsWith('.ts')) return { url: new URL('./jsonl-sink-worker.js', import.meta.url), eval: false };
  const source = entry ?? new URL('./jsonl-sink-worker.ts', import.meta.url);
  if (!/\.m?ts$/.test(source.pathname)) return { url: source, eval: false };
  const require = createRequire(import.meta.url);
  const tsx = pathToFileURL(require.resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  return { url: `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(source.href)}); });`, eval: true };
}
