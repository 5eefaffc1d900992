import type { Tensor } from '../tensor/index.js';
import type { RequestSampledEvent } from '../metrics/events.js';
import { copyTensor } from './response-cache.js';

/**
 * The ring's header, Int32 slots before the records: where the writer (the request's thread)
 * and the reader (the sink's worker) are, the samples read so far (mod 2^32), the bytes the
 * reader holds for the disk (its stream's backlog, so `bufferedBytes` counts them too), the
 * samples it read but could not write (its stream failed), and the samples its stream wrote
 * (so a worker that ends before writing what it took out has those counted as lost).
 */
const WRITE = 0;
const READ = 1;
const READ_COUNT = 2;
const READER_PENDING = 3;
const LOST = 4;
const WRITTEN = 5;
const HEADER_BYTES = 32;
/** A record's first u32 when the rest of the ring is too short for the next record: go to 0. */
const WRAP = 0xffffffff;

const FLAG_CACHED = 1;
const FLAG_ID = 2;
const FLAG_INPUTS = 4;
const FLAG_OUTPUTS = 8;
/** A tensor's data: raw little-endian bytes of a typed array, or a list of strings / byte strings (BYTES). */
const DATA_BYTES = 0;
const DATA_LIST = 1;
/**
 * The typed array a tensor's bytes came in, kept so they come back in the same one: read as the
 * dtype's array, data of another (a Uint8Array under `float32`) lost its bytes or changed its
 * numbers, and the line differed from `sampleLine`'s. Anything else comes back as a Uint8Array.
 */
const ARRAYS: readonly ArrayKind[] = [Uint8Array, Float32Array, Float64Array, Uint16Array, Int8Array, Int16Array, Int32Array, Uint32Array, BigInt64Array, BigUint64Array, Uint8ClampedArray];
const ARRAY_KIND = new Map<unknown, number>(ARRAYS.map((array, kind) => [array, kind]));
/** A typed array's constructor, over a part of the ring. */
interface ArrayKind {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): RingArray;
  readonly BYTES_PER_ELEMENT: number;
}
/** The ring's records as one of {@link ARRAYS}. */
type RingArray = ArrayBufferView & { set(source: never, offset: number): void };
const ELEMENT_TEXT = 0;
const ELEMENT_BYTES = 1;

/** Text goes in as UTF-16LE code units, not UTF-8: a lone surrogate (a client's id may hold one) survives, where UTF-8 would turn it into U+FFFD and the line would differ from `sampleLine`'s. */
const TEXT = 'utf16le';
const encodedNames = new Map<string, Buffer>();

/**
 * A single-producer single-consumer ring of sampled requests in a SharedArrayBuffer: the
 * request's thread copies a sample's fields and its tensors' raw bytes in (no JSON, no base64,
 * no message per sample), the sink's worker reads them back as {@link RequestSampledEvent}s.
 * Records are contiguous (a record that does not fit before the end starts again at 0), 8-byte
 * aligned, and one byte short of full is full, so equal indices always mean empty. The
 * indices are published with Atomics, so a record is whole before the other side sees it.
 *
 * Record: u32 length, u32 flags, f64 timestamp, f64 latencyMs, f64 version, f64 rows, the
 * model and id (u32 byte length + UTF-16LE), then inputs and outputs: u32 count and per tensor
 * name, dtype, u32 rank, f64 per dimension, u8 kind, and the data (u8 array kind, u32 byte
 * length, then the bytes from the next multiple of 8; or u32 count + per element u8 kind, u32
 * length, bytes). Tensor bytes are 8-byte aligned so that each side copies or views them as
 * their own array: the writer by one `set` into a view of the whole ring of that array kind (no
 * view made per tensor), the reader ({@link consume}) by views into the ring (no copy).
 */
export class SampleRing {
  readonly buffer: SharedArrayBuffer;
  private readonly header: Int32Array;
  private readonly bytes: Uint8Array;
  /** The same bytes as a Buffer, to write and read UTF-16LE text in place (TextDecoder does not read shared memory). */
  private readonly text: Buffer;
  private readonly view: DataView;
  /** The records' bytes as each array kind ({@link ARRAYS}), made on first use: a tensor's bytes go in by one `set` from the same kind of array. */
  private readonly arrays: RingArray[] = [];
  /** Bytes for records, after the header. */
  readonly capacity: number;

  /** A new ring of `capacity` bytes (rounded down to a multiple of 8), or the reader's view of one made elsewhere. */
  constructor(capacityOrBuffer: number | SharedArrayBuffer) {
    this.buffer = typeof capacityOrBuffer === 'number' ? new SharedArrayBuffer(HEADER_BYTES + (Math.floor(capacityOrBuffer / 8) * 8)) : capacityOrBuffer;
    this.capacity = this.buffer.byteLength - HEADER_BYTES;
    this.header = new Int32Array(this.buffer, 0, HEADER_BYTES / 4);
    this.bytes = new Uint8Array(this.buffer, HEADER_BYTES, this.capacity);
    this.text = Buffer.from(this.buffer, HEADER_BYTES, this.capacity);
    this.view = new DataView(this.buffer, HEADER_BYTES, this.capacity);
  }

  /** Bytes of records written and not yet read. */
  get usedBytes(): number {
    const write = Atomics.load(this.header, WRITE);
    const read = Atomics.load(this.header, READ);
    return write >= read ? write - read : this.capacity - read + write;
  }

  /** Bytes the reader holds for the disk, as it last said ({@link setReaderPending}). */
  get readerPending(): number {
    return Atomics.load(this.header, READER_PENDING);
  }

  setReaderPending(bytes: number): void {
    Atomics.store(this.header, READER_PENDING, Math.min(bytes, 0x7fffffff));
  }

  /** Samples the reader has taken out, mod 2^32 (the writer's count minus this is what the ring holds). */
  get readCount(): number {
    return Atomics.load(this.header, READ_COUNT) >>> 0;
  }

  /** Samples the reader took out and could not write (its stream failed). */
  get lost(): number {
    return Atomics.load(this.header, LOST);
  }

  addLost(samples: number): void {
    Atomics.add(this.header, LOST, samples);
  }

  /** Samples the reader's stream has written (mod 2^32). */
  get written(): number {
    return Atomics.load(this.header, WRITTEN) >>> 0;
  }

  addWritten(samples: number): void {
    Atomics.add(this.header, WRITTEN, samples);
  }

  /**
   * Copies a sample in. Returns false, having written nothing, when it does not fit in the
   * free space (the caller counts a drop) or its tensors hold something a record cannot.
   */
  write(event: RequestSampledEvent): boolean {
    const size = recordBound(event);
    if (size === -1) return false;
    const at = this.reserve(size);
    if (at === -1) return false;
    const view = this.view;
    let p = at + 8;
    view.setFloat64(p, event.timestamp, true);
    view.setFloat64(p + 8, event.latencyMs, true);
    view.setFloat64(p + 16, event.version, true);
    view.setFloat64(p + 24, event.rows, true);
    p = this.writeName(p + 32, event.model);
    let flags = event.cached ? FLAG_CACHED : 0;
    if (event.id !== undefined) {
      flags |= FLAG_ID;
      p = this.writeText(p, event.id);
    }
    if (event.inputs !== undefined) {
      flags |= FLAG_INPUTS;
      p = this.writeTensors(p, event.inputs);
    }
    if (event.outputs !== undefined) {
      flags |= FLAG_OUTPUTS;
      p = this.writeTensors(p, event.outputs);
    }
    const length = align8(p - at);
    view.setUint32(at, length, true);
    view.setUint32(at + 4, flags, true);
    // Published last: the reader sees the record only once it is whole.
    Atomics.store(this.header, WRITE, at + length === this.capacity ? 0 : at + length);
    return true;
  }

  /** The next sample, or undefined when the ring is empty. Its tensors are copies (the ring's space is released). */
  read(): RequestSampledEvent | undefined {
    return this.consume(copied);
  }

  /**
   * Takes the next sample out and hands it to `use`, its tensors' data viewing the ring's bytes
   * (no copy, no ArrayBuffer per tensor): valid only during the call, since the space is
   * released once `use` returns (or throws). Undefined, without calling `use`, when the ring is empty.
   */
  consume<T>(use: (sample: RequestSampledEvent) => T): T | undefined {
    const write = Atomics.load(this.header, WRITE);
    let at = Atomics.load(this.header, READ);
    if (at === write) return undefined;
    const view = this.view;
    if (view.getUint32(at, true) === WRAP) {
      at = 0;
      if (at === write) {
        Atomics.store(this.header, READ, 0);
        return undefined;
      }
    }
    const length = view.getUint32(at, true);
    const flags = view.getUint32(at + 4, true);
    try {
      const cursor = { p: at + 40 };
      const model = this.readText(cursor);
      const id = flags & FLAG_ID ? this.readText(cursor) : undefined;
      const inputs = flags & FLAG_INPUTS ? this.readTensors(cursor) : undefined;
      const outputs = flags & FLAG_OUTPUTS ? this.readTensors(cursor) : undefined;
      return use({
        model,
        version: view.getFloat64(at + 24, true),
        timestamp: view.getFloat64(at + 8, true),
        id,
        inputs,
        outputs,
        rows: view.getFloat64(at + 32, true),
        latencyMs: view.getFloat64(at + 16, true),
        cached: (flags & FLAG_CACHED) !== 0,
      });
    } finally {
      Atomics.store(this.header, READ, at + length === this.capacity ? 0 : at + length);
      Atomics.add(this.header, READ_COUNT, 1);
    }
  }

  /** Where a record of `size` bytes (a multiple of 8) goes, writing a wrap mark if it goes to 0; -1 when it does not fit. */
  private reserve(size: number): number {
    const write = Atomics.load(this.header, WRITE);
    const read = Atomics.load(this.header, READ);
    // Strictly less: the write index never catches up with the read index (that would read as empty).
    if (write >= read) {
      if (size < this.capacity - write || (size === this.capacity - write && read > 0)) return write;
      if (size < read) {
        this.view.setUint32(write, WRAP, true);
        return 0;
      }
      return -1;
    }
    return size < read - write ? write : -1;
  }

  private writeText(p: number, text: string): number {
    const written = text.length === 0 ? 0 : this.text.write(text, p + 4, TEXT);
    this.view.setUint32(p, written, true);
    return p + 4 + written;
  }

  /** Model and tensor names and dtypes: a handful per host, encoded once each. */
  private writeName(p: number, name: string): number {
    let encoded = encodedNames.get(name);
    if (encoded === undefined) {
      if (encodedNames.size >= 1024) encodedNames.clear();
      encoded = Buffer.from(name, TEXT);
      encodedNames.set(name, encoded);
    }
    this.view.setUint32(p, encoded.length, true);
    this.bytes.set(encoded, p + 4);
    return p + 4 + encoded.length;
  }

  private readText(cursor: { p: number }): string {
    const length = this.view.getUint32(cursor.p, true);
    const start = cursor.p + 4;
    cursor.p = start + length;
    return this.text.toString(TEXT, start, start + length);
  }

  private writeTensors(p: number, tensors: Readonly<Record<string, Tensor>>): number {
    const view = this.view;
    const countAt = p;
    let count = 0;
    p += 4;
    for (const name in tensors) {
      const t = tensors[name]!;
      count++;
      p = this.writeName(p, name);
      p = this.writeName(p, t.dtype);
      view.setUint32(p, t.shape.length, true);
      p += 4;
      for (const d of t.shape) {
        view.setFloat64(p, d, true);
        p += 8;
      }
      const data = t.data;
      if (Array.isArray(data)) {
        view.setUint8(p, DATA_LIST);
        view.setUint32(p + 1, data.length, true);
        p += 5;
        for (const element of data as readonly (string | Uint8Array)[]) {
          if (typeof element === 'string') {
            view.setUint8(p, ELEMENT_TEXT);
            p = this.writeText(p + 1, element);
          } else {
            view.setUint8(p, ELEMENT_BYTES);
            view.setUint32(p + 1, element.byteLength, true);
            this.bytes.set(element, p + 5);
            p += 5 + element.byteLength;
          }
        }
      } else {
        const source = data as ArrayBufferView;
        const kind = ARRAY_KIND.get(source.constructor);
        view.setUint8(p, DATA_BYTES);
        view.setUint8(p + 1, kind ?? 0);
        view.setUint32(p + 2, source.byteLength, true);
        p = align8(p + 6);
        if (kind === undefined) this.bytes.set(new Uint8Array(source.buffer, source.byteOffset, source.byteLength), p);
        else this.arrayOf(kind).set(source as never, p / ARRAYS[kind]!.BYTES_PER_ELEMENT);
        p += source.byteLength;
      }
    }
    view.setUint32(countAt, count, true);
    return p;
  }

  private arrayOf(kind: number): RingArray {
    let array = this.arrays[kind];
    if (array === undefined) {
      const Kind = ARRAYS[kind]!;
      array = new Kind(this.buffer, HEADER_BYTES, Math.floor(this.capacity / Kind.BYTES_PER_ELEMENT));
      this.arrays[kind] = array;
    }
    return array;
  }

  /** The tensors of a record, their data viewing the ring (see {@link consume}). */
  private readTensors(cursor: { p: number }): Record<string, Tensor> {
    const view = this.view;
    const tensors: Record<string, Tensor> = {};
    const count = view.getUint32(cursor.p, true);
    cursor.p += 4;
    for (let i = 0; i < count; i++) {
      const name = this.readText(cursor);
      const dtype = this.readText(cursor);
      const rank = view.getUint32(cursor.p, true);
      cursor.p += 4;
      const shape: number[] = [];
      for (let d = 0; d < rank; d++) shape.push(view.getFloat64(cursor.p + d * 8, true));
      cursor.p += rank * 8;
      const kind = view.getUint8(cursor.p);
      let data: Tensor['data'];
      if (kind === DATA_LIST) {
        const length = view.getUint32(cursor.p + 1, true);
        cursor.p += 5;
        const list: (string | Uint8Array)[] = [];
        for (let e = 0; e < length; e++) {
          const elementKind = view.getUint8(cursor.p);
          cursor.p += 1;
          if (elementKind === ELEMENT_TEXT) list.push(this.readText(cursor));
          else {
            const n = view.getUint32(cursor.p, true);
            list.push(this.bytes.subarray(cursor.p + 4, cursor.p + 4 + n));
            cursor.p += 4 + n;
          }
        }
        data = list;
      } else {
        // Viewed as the array it came in, where it lies (8-byte aligned).
        const array = ARRAYS[view.getUint8(cursor.p + 1)] ?? Uint8Array;
        const length = view.getUint32(cursor.p + 2, true);
        cursor.p = align8(cursor.p + 6);
        data = new array(this.buffer, HEADER_BYTES + cursor.p, length / array.BYTES_PER_ELEMENT) as unknown as Tensor['data'];
        cursor.p += length;
      }
      tensors[name] = { data, shape, dtype: dtype as Tensor['dtype'] };
    }
    return tensors;
  }
}

/** Bytes a sample's record may take (2 per UTF-16 unit of text), a multiple of 8; -1 if a tensor's data is neither a typed array nor a list. */
function recordBound(event: RequestSampledEvent): number {
  let size = 40 + 4 + event.model.length * 2;
  if (event.id !== undefined) size += 4 + event.id.length * 2;
  if (event.inputs !== undefined) size += tensorsBound(event.inputs);
  if (event.outputs !== undefined) size += tensorsBound(event.outputs);
  return Number.isNaN(size) ? -1 : align8(size);
}

function tensorsBound(tensors: Readonly<Record<string, Tensor>>): number {
  let size = 4;
  for (const name in tensors) {
    const t = tensors[name]!;
    // + 7: the data's alignment to 8.
    size += 4 + name.length * 2 + 4 + t.dtype.length * 2 + 4 + t.shape.length * 8 + 6 + 7;
    const data = t.data;
    if (Array.isArray(data)) {
      for (const element of data as readonly (string | Uint8Array)[]) size += 5 + (typeof element === 'string' ? element.length * 2 : element.byteLength);
    } else if (ArrayBuffer.isView(data)) size += data.byteLength;
    else return Number.NaN;
  }
  return size;
}

/** A sample read out of the ring, its tensors copied out of it (they outlive the record). */
function copied(sample: RequestSampledEvent): RequestSampledEvent {
  return { ...sample, inputs: copiedTensors(sample.inputs), outputs: copiedTensors(sample.outputs) };
}

function copiedTensors(tensors: Record<string, Tensor> | undefined): Record<string, Tensor> | undefined {
  if (tensors === undefined) return undefined;
  const copy: Record<string, Tensor> = {};
  for (const name in tensors) copy[name] = copyTensor(tensors[name]!);
  return copy;
}

function align8(n: number): number {
  return (n + 7) & ~7;
}
