import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ModelHost } from '../../../src/index.js';
import { deferred, FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';
import { useServers } from './serve.js';

const body = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] });

/** Sends the headers and one byte, the rest of the body `afterMs` later; resolves to the status line's code. */
function trickled(port: number, afterMs: number): { status: Promise<number>; socket: Socket } {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  socket.write(`POST /v2/models/m/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body.slice(0, 1)}`);
  setTimeout(() => socket.write(body.slice(1)), afterMs);
  const status = new Promise<number>((resolve) => {
    let text = '';
    socket.setEncoding('utf8').on('data', (c: string) => {
      text += c;
      const match = /^HTTP\/1\.1 (\d+)/.exec(text);
      if (match !== null) resolve(Number(match[1]));
    });
    socket.once('close', () => resolve(0));
  });
  return { status, socket };
}

describe('review: bodies that trickle past the slow-body mark are still bounded by the host queue', () => {
  const { serve } = useServers();

  it('20 trickled requests through a gate of 1 slot: the model queue holds at most queue.maxSize of them, and every one is answered (200 or 429)', async () => {
    const gate = deferred();
    let held = false;
    const runtime = fakeRuntime({ runGate: () => (held ? gate.promise : Promise.resolve()) });
    const host = new ModelHost({ runtimes: { fake: runtime }, defaults: { batching: false, queue: { maxSize: 3 } } });
    await host.load('m', { source: FAKE_SOURCE });
    held = true;
    const { url } = await serve(host, { limits: { concurrency: 1, maxWaitingRequests: 100, maxWaitMs: 5000 } });
    const port = Number(new URL(url).port);
    const clients = Array.from({ length: 20 }, () => trickled(port, 100));
    try {
      await new Promise((r) => setTimeout(r, 400));
      // Running or queued in the model: one running, at most maxSize queued.
      const version = host.stats('m').versions[1]!;
      expect(version.queueDepth).toBeLessThanOrEqual(3);
      expect(version.pending).toBeLessThanOrEqual(4);
      gate.resolve();
      // Every request is answered: 200, or 429 when the model's queue was full as its body
      // ended. How many of each depends on timers (the requests still waiting unread at the
      // gate are admitted one at a time and served once the run is released), so only the
      // bound above and the outcome's kind are asserted.
      const statuses = await Promise.all(clients.map((c) => c.status));
      expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
    } finally {
      for (const c of clients) c.socket.destroy();
    }
  });
});
