import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { encodeBase64 } from '../tensor/index.js';
import { float16Value } from '../tensor/codec/float16.js';
import type { Tensor } from '../tensor/index.js';
import type { RequestSampledEvent } from '../metrics/events.js';
import { importPeer } from '../runtime/optional-peer.js';

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
  /** Write here instead of rotating files (tests, a pipe to a collector). */
  readonly stream?: Writable;
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

/** The part of ModelHost a sink needs. */
interface SampleSource {
  on(event: 'requestSampled', listener: (event: RequestSampledEvent) => void): unknown;
  off(event: 'requestSampled', listener: (event: RequestSampledEvent) => void): unknown;
}

/**
 * A ready sink for sampled payloads: one JSON object per line, written to a rotating file
 * (the `rotating-file-stream` package, an optional peer imported when a sink opens). Writing
 * never blocks a request and never grows memory without bound: while more than
 * `maxBufferBytes` wait for the disk, new samples are dropped and counted in `dropped`.
 * Lines are gathered and written every 100 ms (sooner past 64 KiB); `close()` writes the rest,
 * and a process that ends without `close()` still writes them before it exits.
 *
 * ```ts
 * const sink = await JsonlSink.open(host, { path: './samples/requests.jsonl', size: '10M', maxFiles: 5 });
 * // ... later
 * await sink.close();
 * ```
 */
export class JsonlSink {
  /** Samples accepted (written, or waiting for the next flush). */
  written = 0;
  /** Samples dropped because the buffer was full (or the stream failed). */
  dropped = 0;
  /** The first write error, if the stream failed (the sink then drops everything). */
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
  private flushImmediate: ReturnType<typeof setImmediate> | undefined;
  /** Pending bytes that flush at the next turn rather than waiting for the timer: below the drop bound, so a burst is written before it is dropped. */
  private readonly flushBytes: number;
  private readonly listener = (event: RequestSampledEvent): void => this.write(event);

  private constructor(
    private readonly host: SampleSource,
    private readonly stream: Writable,
    private readonly maxBufferBytes: number,
    private readonly models: ReadonlySet<string> | undefined,
    private readonly encoding: 'base64' | 'numbers',
  ) {
    stream.on('error', (error: Error) => {
      this.error ??= error;
    });
    this.flushBytes = Math.min(FLUSH_BYTES, Math.ceil(maxBufferBytes / 2));
    host.on('requestSampled', this.listener);
  }

  /**
   * Subscribes a sink to a host's `requestSampled` events.
   * @throws ModelHostError UNSUPPORTED_MODEL when `rotating-file-stream` is not installed (and no `stream` is given).
   */
  static async open(host: SampleSource, options: JsonlSinkOptions): Promise<JsonlSink> {
    const maxBufferBytes = options.maxBufferBytes ?? 8 * 1024 * 1024;
    if (!(Number.isInteger(maxBufferBytes) && maxBufferBytes > 0)) throw new TypeError(`maxBufferBytes must be an integer ≥ 1, got ${String(maxBufferBytes)}`);
    let stream = options.stream;
    if (stream === undefined) {
      if (typeof options.path !== 'string' || options.path.length === 0) throw new TypeError('JsonlSink needs a `path` (or a `stream`)');
      const rfs = await importPeer<typeof import('rotating-file-stream')>('rotating-file-stream', 'The JSON-lines sample sink');
      const { dirname, basename } = await import('node:path');
      stream = rfs.createStream(basename(options.path), {
        path: dirname(options.path),
        size: (options.size ?? '10M') as `${number}M`,
        ...(options.interval === undefined ? {} : { interval: options.interval as `${number}d` }),
        maxFiles: options.maxFiles ?? 10,
        compress: options.compress === true ? 'gzip' : false,
      });
    }
    const encoding = options.tensorEncoding ?? 'base64';
    if (encoding !== 'base64' && encoding !== 'numbers') throw new TypeError(`tensorEncoding must be 'base64' or 'numbers', got ${String(encoding)}`);
    return new JsonlSink(host, stream, maxBufferBytes, options.models === undefined ? undefined : new Set(options.models), encoding);
  }

  /** Bytes waiting for the disk now. */
  get bufferedBytes(): number {
    return this.stream.writableLength + this.pendingBytes;
  }

  /** Unsubscribes, then flushes what is buffered and closes the stream (the file). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.host.off('requestSampled', this.listener);
    this.flush();
    if (this.stream.destroyed || this.stream.writableFinished) return;
    const finished = once(this.stream, 'finish').catch(() => undefined);
    this.stream.end();
    await finished;
  }

  private write(event: RequestSampledEvent): void {
    if (this.models !== undefined && !this.models.has(event.model)) return;
    // Decided before serializing: a full buffer costs a comparison, not a JSON.stringify.
    if (this.closed || this.error !== undefined || this.bufferedBytes >= this.maxBufferBytes) {
      this.dropped++;
      return;
    }
    const line = sampleLine(event, this.encoding);
    // At most 3 bytes per UTF-16 unit: a line that may not fit starts a new chunk.
    if (this.chunk === undefined || this.chunk.length - this.chunkUsed < line.length * 3) this.newChunk(line.length * 3);
    const bytes = this.chunk!.write(line, this.chunkUsed, 'utf8');
    this.chunkUsed += bytes;
    this.pendingBytes += bytes;
    this.pendingLines++;
    this.written++;
    if (this.pendingBytes >= this.flushBytes) {
      this.flushImmediate ??= setImmediate(() => this.flush());
    } else if (this.flushTimer === undefined) {
      // Not unref'd: a process that ends without close() still writes its last lines (the
      // timer holds the loop at most FLUSH_MS, and only while lines wait).
      this.flushTimer = setTimeout(() => this.flush(), FLUSH_MS);
    }
  }

  private flush(): void {
    clearTimeout(this.flushTimer);
    clearImmediate(this.flushImmediate);
    this.flushTimer = undefined;
    this.flushImmediate = undefined;
    if (this.pendingLines === 0) return;
    this.closeChunk();
    const chunks = this.chunks;
    const lines = this.pendingLines;
    this.chunks = [];
    this.pendingLines = 0;
    this.pendingBytes = 0;
    if (this.stream.destroyed || this.stream.writableEnded || this.error !== undefined) {
      // The stream failed since these were accepted: they are lost, so count them as such.
      this.written -= lines;
      this.dropped += lines;
      return;
    }
    this.stream.write(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
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

/**
 * One sample as a JSON line. Tensors are `{ datatype, shape, b64 }` (raw little-endian bytes;
 * strings and BYTES as a JSON array, BYTES elements base64) or, with `numbers`, `{ datatype,
 * shape, data }` (int64 as strings, float16 as numbers, non-finite floats as null).
 */
export function sampleLine(event: RequestSampledEvent, encoding: 'base64' | 'numbers' = 'base64'): string {
  // Written by hand rather than JSON.stringify of an object: a third of a sample's cost went
  // there. The text is the same (test/unit/monitoring/sample-line.property.test.ts holds it to it).
  let line = `{"timestamp":"${isoTime(event.timestamp)}","model":${quoted(event.model)},"version":${event.version}`;
  if (event.id !== undefined) line += `,"id":${JSON.stringify(event.id)}`;
  line += `,"rows":${event.rows},"latency_ms":${jsonNumber(Math.round(event.latencyMs * 1000) / 1000)},"cached":${event.cached}`;
  if (event.inputs !== undefined) line += `,"inputs":${tensorsJson(event.inputs, encoding)}`;
  if (event.outputs !== undefined) line += `,"outputs":${tensorsJson(event.outputs, encoding)}`;
  return line + '}\n';
}

/** JSON text of a number, as JSON.stringify writes it (non-finite as null). */
function jsonNumber(x: number): string {
  return Number.isFinite(x) ? String(x) : 'null';
}

/** Model and tensor names as JSON strings, quoted once each (a handful per host). */
const quotedNames = new Map<string, string>();
function quoted(name: string): string {
  let text = quotedNames.get(name);
  if (text === undefined) {
    if (quotedNames.size >= 1024) quotedNames.clear();
    text = JSON.stringify(name);
    quotedNames.set(name, text);
  }
  return text;
}

let lastSecond = Number.NaN;
let secondPrefix = '';

/**
 * `new Date(ms).toISOString()`, with the text up to the seconds made once per second: at low
 * sampling rates every sample has its own millisecond, and a `toISOString` each (~0.35 µs).
 */
function isoTime(ms: number): string {
  const second = Math.floor(ms / 1000);
  // Fractions, and years outside 1970–9999 (toISOString writes ±YYYYYY past 9999): left to toISOString.
  if (!(Number.isInteger(ms) && ms >= 0 && ms < 253402300800000)) return new Date(ms).toISOString();
  if (second !== lastSecond) {
    lastSecond = second;
    secondPrefix = new Date(second * 1000).toISOString().slice(0, 20); // 'YYYY-MM-DDTHH:MM:SS.'
  }
  const milli = ms - second * 1000;
  return `${secondPrefix}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
}

/** Tensors as JSON text; with `numbers`, joined by hand (`String(x)` per element beats `JSON.stringify` of the array). */
function tensorsJson(tensors: Readonly<Record<string, Tensor>>, encoding: 'base64' | 'numbers'): string {
  let text = '{';
  for (const name in tensors) {
    const t = tensors[name]!;
    // dtypes are bare identifiers and shapes integers: no escaping to do.
    const head = `${text.length > 1 ? ',' : ''}${quoted(name)}:{"datatype":"${t.dtype}","shape":[${t.shape.join(',')}]`;
    if (encoding === 'base64' && !Array.isArray(t.data)) {
      const view = t.data as ArrayBufferView;
      text += `${head},"b64":"${Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString('base64')}"}`;
      continue;
    }
    let data: string;
    if (Array.isArray(t.data)) data = JSON.stringify((t.data as readonly (string | Uint8Array)[]).map((s) => (typeof s === 'string' ? s : encodeBase64(s))));
    else if (t.data instanceof BigInt64Array || t.data instanceof BigUint64Array) data = JSON.stringify(Array.from(t.data as BigInt64Array, (v) => v.toString()));
    else data = numbersJson(t.data as ArrayLike<number>, t.dtype === 'float16');
    text += `${head},"data":${data}}`;
  }
  return text + '}';
}

function numbersJson(values: ArrayLike<number>, half: boolean): string {
  let text = '[';
  for (let i = 0; i < values.length; i++) {
    const x = half ? float16Value(values[i]!) : values[i]!;
    if (i > 0) text += ',';
    text += Number.isFinite(x) ? String(x) : 'null';
  }
  return text + ']';
}
