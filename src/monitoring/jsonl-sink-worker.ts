/**
 * The JSON-lines sink's worker thread: reads samples from the shared ring, builds their lines
 * (`sampleLine`, the same text as the in-thread sink) and writes them to the rotating file.
 * Woken by the sink (at most every 100 ms, at half full, and to close), never per sample.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { RequestSampledEvent } from '../metrics/events.js';
import { openRotatingFile, rotationBytes } from './rotating-file.js';
import { sampleLine } from './sample-line.js';
import { SampleRing } from './sample-ring.js';
import type { SinkWorkerData, ToSinkWorker } from './sink-thread.js';

/**
 * Lines are gathered into writes of about this many bytes (less with a small ring: what the
 * worker holds for the disk counts against `maxBufferBytes`). A write of 64 KiB cost the file's
 * threads (libuv's pool) about twice the CPU per sample of a 1 MiB one, at 6,400 samples/s.
 */
const WRITE_BYTES = 1024 * 1024;

async function main(): Promise<void> {
  const setup = workerData as SinkWorkerData;
  const ring = new SampleRing(setup.buffer);
  const rfs = (await import('rotating-file-stream')) as typeof import('rotating-file-stream');
  // The directory is made (or refused) here, so open() rejects with the reason (see makeDir).
  const stream = await openRotatingFile(rfs, setup);
  let failed = false;
  stream.on('error', (error: Error) => {
    if (failed) return;
    failed = true;
    parentPort!.postMessage({ type: 'error', message: error.message });
  });
  const pending = () => ring.setReaderPending(stream.writableLength);
  const toLine = (sample: RequestSampledEvent) => sampleLine(sample, setup.encoding);
  // The file rotates after the write that takes it past `size`: writes of at most half of it
  // keep a file within 1.5 × `size` plus a line (1 MiB writes made a 4K file 1 MiB).
  const rotateAt = rotationBytes(setup.size) ?? Number.POSITIVE_INFINITY;
  const writeBytes = Math.max(1, Math.min(Math.max(16 * 1024, Math.min(WRITE_BYTES, Math.floor(ring.capacity / 8))), Math.floor(rotateAt / 2)));
  let draining = false;
  let closing = false;

  /** Reads the ring out into the stream, stopping while the stream is backed up (the ring then fills, and the sink drops). */
  const drain = async (): Promise<void> => {
    if (draining) return;
    draining = true;
    try {
      for (;;) {
        let text = '';
        let lines = 0;
        // Counted as waiting for the disk from before a sample leaves the ring until the stream
        // holds its line: else the sink could read nothing waiting meanwhile, and a process
        // ending without close() would stop this worker with those lines unwritten.
        ring.setReaderPending(stream.writableLength + 1);
        // Each line is built from the sample where it lies in the ring (no copy of its tensors).
        for (let line = ring.consume(toLine); line !== undefined; line = text.length < writeBytes ? ring.consume(toLine) : undefined) {
          text += line;
          lines++;
        }
        if (lines === 0) {
          pending();
          break;
        }
        if (failed || stream.destroyed) {
          ring.addLost(lines);
          continue;
        }
        // A write the stream fails (a file that cannot be opened fails the writes it holds) loses its lines: counted, not written.
        const more = stream.write(text, (error) => {
          if (error) ring.addLost(lines);
          else ring.addWritten(lines);
          pending();
        });
        pending();
        if (!more) await new Promise<void>((resolve) => {
          const done = () => {
            stream.off('drain', done);
            stream.off('error', done);
            resolve();
          };
          stream.on('drain', done);
          stream.on('error', done);
        });
        pending();
      }
    } finally {
      draining = false;
    }
    if (closing) await close();
  };

  const close = async (): Promise<void> => {
    if (!stream.destroyed && !stream.writableEnded) {
      const finished = new Promise<void>((resolve) => {
        stream.once('finish', resolve);
        stream.once('error', () => resolve());
        stream.once('close', resolve);
      });
      stream.end();
      await finished;
    }
    pending();
    process.exit(0);
  };

  parentPort!.on('message', (message: ToSinkWorker) => {
    if (message === 'close') closing = true;
    void drain();
  });
  parentPort!.postMessage({ type: 'ready' });
}

void main().catch((error: unknown) => {
  parentPort!.postMessage({ type: 'error', message: error instanceof Error ? error.message : String(error) });
  process.exit(1);
});
