import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { RequestSampledEvent } from '../metrics/events.js';
import { closest, show } from '../errors/option-checks.js';
import { importPeer } from '../runtime/optional-peer.js';
import { openRotatingFile, type RotatingFile } from './rotating-file.js';
import { borrowsSamples } from './sample-listeners.js';
import { sampleLine } from './sample-line.js';
import { SINK_WORKER_ENTRY, SinkThread } from './sink-thread.js';

export { sampleLine } from './sample-line.js';

/** Where `requestSampled` events go as JSON lines, and how the files rotate. */
export interface JsonlSinkOptions {
  /** The file written, e.g. `./samples/requests.jsonl`; rotated files get a time-and-index prefix beside it. */
  readonly path?: string;
  /** Rotate when the file reaches this size (rotating-file-stream syntax: `10M`, `512K`). Default `10M`. */
  readonly size?: string;
  /** Rotate on this interval too (`1d`, `1h`), if given. */
  readonly interval?: string;
  /** Rotated files kept; older ones are removed. Default 10. */
  readonly maxFiles?: number;
  /** Gzip rotated files. Default false. */
  readonly compress?: boolean;
  /** Bytes allowed to wait for the disk; past it samples are dropped and counted, never queued. Default 8 MiB. */
  readonly maxBufferBytes?: number;
  /**
   * How tensor data is written: `base64` — the raw little-endian bytes (`"b64"`), exact and
   * ~50× cheaper to write than decimal; `numbers` — a JSON array (`"data"`), readable, but
   * printing a float costs ~0.3 µs. Default `base64`.
   */
  readonly tensorEncoding?: 'base64' | 'numbers';
  /** Only these models' samples. Default all. */
  readonly models?: readonly string[];
  /** Write here instead of rotating files (tests, a pipe to a collector); written on the request's thread. */
  readonly stream?: Writable;
  /**
   * Build the lines and write the file in a worker thread (with `path`): the request's thread
   * only copies each sample's fields and tensor bytes into a shared ring of `maxBufferBytes`.
   * Default true with `path`; `false` builds and writes them on the request's thread, as a
   * `stream` always is (a Writable cannot cross threads).
   */
  readonly thread?: boolean;
  /**
   * How long `close()` waits for the worker to write what it holds, ms (with a worker). Past
   * it (a disk that does not answer) the worker is stopped, `error` says so, and every sample
   * it had not written is counted in `dropped`. Default 5000.
   */
  readonly closeTimeoutMs?: number;
  /**
   * Called once, when the sink first fails (its file: a full disk, its directory removed; or its
   * worker died), with the error `error` then holds: from then on every sample is dropped (and
   * counted in `dropped`), so log it or alert on it. A throwing callback is ignored.
   */
  readonly onError?: (error: Error) => void;
}

/**
 * Lines are written to the stream at most this long after they were sampled, ms. A write per
 * sample cost ~10 µs at low rates (a Writable's machinery and a turn of the loop per line);
 * gathering them is what pino's sonic-boom does with `minLength`.
 */
const FLUSH_MS = 100;
/** ... or as soon as this many bytes wait (at most half of `maxBufferBytes`). */
const FLUSH_BYTES = 64 * 1024;
/** Lines are encoded into chunks of this size (a larger line gets a chunk of its own size). */
const CHUNK_BYTES = 16 * 1024;

const SINK_OPTION_KEYS: readonly string[] = ['path', 'size', 'interval', 'maxFiles', 'compress', 'maxBufferBytes', 'tensorEncoding', 'models', 'stream', 'thread', 'closeTimeoutMs', 'onError'] satisfies readonly (keyof JsonlSinkOptions)[];

/** The part of ModelHost a sink needs. */
interface SampleSource {
  on(event: 'requestSampled', listener: (event: RequestSampledEvent) => void): unknown;
  off(event: 'requestSampled', listener: (event: RequestSampledEvent) => void): unknown;
}

/**
 * A ready sink for sampled payloads: one JSON object per line, written to a rotating file
 * (the `rotating-file-stream` package, an optional peer imported when a sink opens). With a
 * `path` the lines are built and written in a worker thread: the request's thread copies each
 * sample into a shared ring ({@link SinkThread}); `thread: false` or a `stream` builds them
 * here. Writing never blocks a request and never grows memory without bound: while
 * `maxBufferBytes` wait for the disk (the ring is full), new samples are dropped and counted
 * in `dropped`. Lines are written every 100 ms (sooner past 64 KiB, or half the ring);
 * `close()` writes the rest, and a process that ends without `close()` still writes them
 * before it exits. A worker that dies, or a file that fails, sets `error`; the sink then
 * drops everything, and never fails a request.
 *
 * ```ts
 * const sink = await JsonlSink.open(host, { path: './samples/requests.jsonl', size: '10M', maxFiles: 5 });
 * // ... later
 * await sink.close();
 * ```
 */
export class JsonlSink {
  private accepted = 0;
  private refused = 0;
  /** The first write error, if the stream failed or the worker died (the sink then drops everything). */
  error: Error | undefined;
  private closed = false;
  /**
   * Lines waiting for the next flush, already UTF-8 in chunks (one stream write per
   * {@link FLUSH_MS} or {@link FLUSH_BYTES}, not one per sample): encoding each line into a chunk
   * as it comes costs ~0.4 µs against ~1.1 µs for joining the strings and encoding them at flush.
   */
  private chunks: Buffer[] = [];
  private chunk: Buffer | undefined;
  private chunkUsed = 0;
  private pendingLines = 0;
  private pendingBytes = 0;
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  /**
   * Pending bytes that flush at once rather than waiting for the timer: below the drop bound, so
   * a burst is written before it is dropped. At once, not at the next turn of the event loop: a
   * caller whose requests settle without a turn (awaited in a loop) made one write of megabytes,
   * and the file passed `size` by that much.
   */
  private readonly flushBytes: number;
  /** Borrows each sample: its tensors are copied into the ring or encoded into the line during the call, so the host makes no copies of the outputs for it. */
  private readonly listener = borrowsSamples((event: RequestSampledEvent): void => this.write(event));

  private constructor(
    private readonly host: SampleSource,
    private readonly stream: Writable | undefined,
    private readonly thread: SinkThread | undefined,
    private readonly maxBufferBytes: number,
    private readonly models: ReadonlySet<string> | undefined,
    private readonly encoding: 'base64' | 'numbers',
    private readonly onError: ((error: Error) => void) | undefined,
  ) {
    stream?.on('error', (error: Error) => this.fail(error));
    this.flushBytes = Math.min(FLUSH_BYTES, Math.ceil(maxBufferBytes / 2));
    host.on('requestSampled', this.listener);
  }

  /**
   * Subscribes a sink to a host's `requestSampled` events.
   * @throws ModelHostError UNSUPPORTED_MODEL when `rotating-file-stream` is not installed (and no `stream` is given).
   * @throws TypeError for a bad option; Error when the worker cannot start or open the file.
   */
  static async open(host: SampleSource, options: JsonlSinkOptions): Promise<JsonlSink> {
    if (typeof options !== 'object' || options === null) throw new TypeError(`JsonlSink options must be an object, got ${String(options)}`);
    // A misspelt key (`maxFile`, `model`) would silently keep the default (every model's samples).
    for (const key of Object.keys(options)) {
      if (!SINK_OPTION_KEYS.includes(key)) {
        const hint = closest(key, SINK_OPTION_KEYS);
        throw new TypeError(`JsonlSink: unknown option '${key}'${hint === undefined ? '' : ` (did you mean '${hint}'?)`}; known options: ${SINK_OPTION_KEYS.join(', ')}`);
      }
    }
    const maxBufferBytes = options.maxBufferBytes ?? 8 * 1024 * 1024;
    if (!(Number.isInteger(maxBufferBytes) && maxBufferBytes > 0)) throw new TypeError(`maxBufferBytes must be an integer ≥ 1, got ${String(maxBufferBytes)}`);
    const encoding = options.tensorEncoding ?? 'base64';
    if (encoding !== 'base64' && encoding !== 'numbers') throw new TypeError(`tensorEncoding must be 'base64' or 'numbers', got ${String(encoding)}`);
    if (options.thread !== undefined && typeof options.thread !== 'boolean') throw new TypeError(`thread must be a boolean, got ${String(options.thread)}`);
    if (options.thread === true && options.stream !== undefined) throw new TypeError('JsonlSink: `thread: true` needs a `path` (a `stream` cannot cross to a worker thread)');
    if (options.onError !== undefined && typeof options.onError !== 'function') throw new TypeError(`JsonlSink: onError must be a function, got ${show(options.onError)}`);
    const closeTimeoutMs = options.closeTimeoutMs ?? 5000;
    if (!(Number.isInteger(closeTimeoutMs) && closeTimeoutMs >= 0)) throw new TypeError(`closeTimeoutMs must be an integer ≥ 0, got ${String(closeTimeoutMs)}`);
    // A string is iterable too: models: 'fraud' would sample the models named f, r, a, u and d.
    if (options.models !== undefined && !(Array.isArray(options.models) && options.models.every((m) => typeof m === 'string'))) {
      throw new TypeError(`JsonlSink: models must be an array of model names, got ${show(options.models)}`);
    }
    const models = options.models === undefined ? undefined : new Set(options.models);
    let stream = options.stream;
    if (stream === undefined) {
      if (typeof options.path !== 'string' || options.path.length === 0) throw new TypeError('JsonlSink needs a `path` (or a `stream`)');
      const rfs = await importPeer<typeof import('rotating-file-stream')>('rotating-file-stream', 'The JSON-lines sample sink');
      const file: RotatingFile = { path: options.path, size: options.size ?? '10M', interval: options.interval, maxFiles: options.maxFiles ?? 10, compress: options.compress === true };
      if (options.thread !== false) {
        let sink: JsonlSink | undefined;
        const thread = await SinkThread.start({ ...file, encoding }, maxBufferBytes, (error) => sink?.fail(error), { closeTimeoutMs, entry: (options as { [SINK_WORKER_ENTRY]?: URL })[SINK_WORKER_ENTRY] });
        sink = new JsonlSink(host, undefined, thread, maxBufferBytes, models, encoding, options.onError);
        return sink;
      }
      stream = await openRotatingFile(rfs, file);
    }
    return new JsonlSink(host, stream, undefined, maxBufferBytes, models, encoding, options.onError);
  }

  /** Samples accepted (written, or waiting in the buffer or the ring); less those the worker lost if it died or its file failed. */
  get written(): number {
    return this.accepted - (this.thread?.lost ?? 0);
  }

  /** Samples dropped because the buffer (the ring) was full, or the stream failed, or the worker died. */
  get dropped(): number {
    return this.refused + (this.thread?.lost ?? 0);
  }

  /** Bytes waiting for the disk now: in-thread, lines not yet flushed plus the stream's backlog; with a worker, the ring's records plus the worker stream's backlog. */
  get bufferedBytes(): number {
    if (this.thread !== undefined) return this.thread.bufferedBytes;
    return this.stream!.writableLength + this.pendingBytes;
  }

  /** Unsubscribes, then writes what is buffered and closes the stream (the file); with a worker, waits for it to end. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.host.off('requestSampled', this.listener);
    if (this.thread !== undefined) return this.thread.close();
    this.flush();
    const stream = this.stream!;
    if (stream.destroyed || stream.writableFinished) return;
    const finished = once(stream, 'finish').catch(() => undefined);
    stream.end();
    await finished;
  }

  /** The sink's first failure: kept in `error`, told to `onError` once. */
  private fail(error: Error): void {
    if (this.error !== undefined) return;
    this.error = error;
    try {
      this.onError?.(error);
    } catch {
      // A throwing callback must not turn a failed file into a crash.
    }
  }

  private write(event: RequestSampledEvent): void {
    if (this.models !== undefined && !this.models.has(event.model)) return;
    // Decided before serializing: a full buffer costs a comparison, not a JSON.stringify.
    if (this.closed || this.error !== undefined || this.bufferedBytes >= this.maxBufferBytes) {
      this.refused++;
      return;
    }
    if (this.thread !== undefined) {
      if (this.thread.write(event)) this.accepted++;
      else this.refused++;
      return;
    }
    const line = sampleLine(event, this.encoding);
    // At most 3 bytes per UTF-16 unit: a line that may not fit starts a new chunk.
    if (this.chunk === undefined || this.chunk.length - this.chunkUsed < line.length * 3) this.newChunk(line.length * 3);
    const bytes = this.chunk!.write(line, this.chunkUsed, 'utf8');
    this.chunkUsed += bytes;
    this.pendingBytes += bytes;
    this.pendingLines++;
    this.accepted++;
    if (this.pendingBytes >= this.flushBytes) {
      this.flush();
    } else if (this.flushTimer === undefined) {
      // Not unref'd: a process that ends without close() still writes its last lines (the
      // timer holds the loop at most FLUSH_MS, and only while lines wait).
      this.flushTimer = setTimeout(() => this.flush(), FLUSH_MS);
    }
  }

  private flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.pendingLines === 0) return;
    this.closeChunk();
    const chunks = this.chunks;
    const lines = this.pendingLines;
    this.chunks = [];
    this.pendingLines = 0;
    this.pendingBytes = 0;
    const stream = this.stream!;
    if (stream.destroyed || stream.writableEnded || this.error !== undefined) {
      // The stream failed since these were accepted: they are lost, so count them as such.
      this.accepted -= lines;
      this.refused += lines;
      return;
    }
    stream.write(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), (error) => {
      // The stream failed them (a file that cannot be opened fails the writes it holds): lost, not written.
      if (!error) return;
      this.accepted -= lines;
      this.refused += lines;
    });
  }

  /** The chunk being filled joins the ones to write; the next line starts a fresh one (the stream keeps what it was given). */
  private closeChunk(): void {
    if (this.chunk !== undefined && this.chunkUsed > 0) this.chunks.push(this.chunk.subarray(0, this.chunkUsed));
    this.chunk = undefined;
    this.chunkUsed = 0;
  }

  private newChunk(atLeast: number): void {
    this.closeChunk();
    this.chunk = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, atLeast));
  }
}
