/**
 * Review (session 11): a hostile KServe body `id` or `x-request-id` header is refused or
 * replaced, never echoed into a header or a log line as it came (header or log injection).
 */
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ModelHost } from '../../../src/index.js';
import { FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';
import { post, useServers } from './serve.js';

const { serve, track } = useServers();
const VALID = /^[\x21-\x7e]{1,128}$/;

function recordingLogger() {
  const logged: { message: string; fields: Record<string, unknown> }[] = [];
  const record = (message: string, fields?: unknown) => logged.push({ message, fields: (fields ?? {}) as Record<string, unknown> });
  return { logged, logger: { debug: record, info: record, warn: record, error: record } };
}

async function served() {
  const { logged, logger } = recordingLogger();
  const host = track(new ModelHost({ runtimes: { fake: fakeRuntime() }, logger, defaults: { warmup: false } }));
  await host.load('m', { source: FAKE_SOURCE });
  return { logged, ...(await serve(host)) };
}

const body = (id: unknown) => ({ id, inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] });

/** Raw bytes of an HTTP exchange (one request, connection closed by the server). */
function exchange(url: string, raw: Buffer): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => socket.end(raw));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', reject);
  });
}

describe('a hostile KServe body id', () => {
  const refused: [string, unknown][] = [
    ['very long', 'a'.repeat(100_000)],
    ['129 characters', 'a'.repeat(129)],
    ['CR LF and a header', 'x\r\nset-cookie: stolen=1'],
    ['a NUL', 'a\u0000b'],
    ['a line separator', 'a\u2028b'],
    ['a space', 'a b'],
    ['non-ASCII', 'é'],
    ['empty', ''],
    ['a number', 42],
    ['null', null],
    ['an object', { toString: 'x' }],
    ['an array', ['id']],
    ['a boolean', true],
  ];
  for (const [label, id] of refused) {
    it(`${label}: 400 naming "id", an x-request-id that is a valid header value, a message with no raw control character`, async () => {
      const { url, logged } = await served();
      const answer = await post(`${url}/v2/models/m/infer`, body(id));
      expect(answer.status).toBe(400);
      expect(answer.body.error).toMatch(/^"id" must be 1–128 visible ASCII characters \(no spaces\), got /);
      expect(answer.body.error.length).toBeLessThan(200); // the id is cut short in the message
      expect(answer.body.error).not.toMatch(/[\u0000-\u001f\u2028\u2029]/);
      expect(answer.headers.get('x-request-id')).toMatch(VALID);
      expect(answer.headers.get('set-cookie')).toBeNull();
      for (const line of logged) if (typeof line.fields['requestId'] === 'string') expect(line.fields['requestId']).toMatch(VALID);
    });
  }

  it('"</script>" is visible ASCII: a valid id, echoed in the JSON answer and the header as it is', async () => {
    const { url } = await served();
    const answer = await post(`${url}/v2/models/m/infer`, body('</script>'));
    expect(answer.status).toBe(200);
    expect(answer.body.id).toBe('</script>');
    expect(answer.headers.get('x-request-id')).toBe('</script>');
    expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
  });
});

describe('a hostile x-request-id header is replaced by a new id, never echoed', () => {
  for (const [label, value] of [
    ['a space', Buffer.from('a b')],
    ['129 characters', Buffer.from('a'.repeat(129))],
    ['a latin-1 byte', Buffer.from([0x61, 0xe9])],
    ['a tab inside', Buffer.from('a\tb')],
  ] as const) {
    it(label, async () => {
      const { url } = await served();
      const json = JSON.stringify(body('ok-id')).replace('"ok-id"', '"ignored-then"').replace(/"id":"ignored-then",/, '');
      const raw = Buffer.concat([
        Buffer.from(`POST /v2/models/m/infer HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(json)}\r\nx-request-id: `),
        value,
        Buffer.from(`\r\n\r\n${json}`),
      ]);
      const received = await exchange(url, raw);
      expect(received).toMatch(/^HTTP\/1\.1 200 /);
      const header = /\r\nx-request-id: ([^\r\n]*)\r\n/i.exec(received)?.[1];
      expect(header).toMatch(VALID);
      expect(header).not.toBe(value.toString('latin1'));
    });
  }
});
