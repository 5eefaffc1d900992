/**
 * Review: the listener behind body readers mounted in front of it (express.json/raw/text/urlencoded,
 * a hand-written middleware that consumes the stream), over real sockets, with and without bodies.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import express from 'express';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { describe, expect, it } from 'vitest';
import { ModelHostModule } from '../../../src/adapters/nest/index.js';
import { createExpressRouter } from '../../../src/adapters/express/index.js';
import { ModelHost } from '../../../src/index.js';
import { FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';
import { useServers } from './serve.js';

const body = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] });

/** Sends `text` on a raw connection; resolves to the first complete response (status and body). */
function raw(port: number, text: string): Promise<{ status: number; body: string; all: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete response in 3 s; got ${JSON.stringify(received)}`));
    }, 3000);
    socket.setEncoding('latin1').on('data', (c: string) => {
      received += c;
      const head = received.indexOf('\r\n\r\n');
      if (head < 0) return;
      const length = text.startsWith('HEAD ') ? 0 : Number(/content-length: (\d+)/i.exec(received.slice(0, head))?.[1] ?? 0);
      if (received.length < head + 4 + length) return;
      clearTimeout(timer);
      socket.destroy();
      resolve({ status: Number(received.slice(9, 12)), body: received.slice(head + 4, head + 4 + length), all: received });
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      if (received.indexOf('\r\n\r\n') < 0) resolve({ status: 0, body: '', all: received });
    });
    socket.write(text);
  });
}

const json = express.json();
const urlencoded = express.urlencoded({ extended: false });

const consume: express.RequestHandler = (req, _res, next) => {
  req.on('data', () => {});
  req.on('end', () => next());
};

/** What Express 4's body parsers do with a request they skip (another type, no body): `req.body = req.body || {}`, the stream unread. */
const skipAsExpress4: express.RequestHandler = (req, _res, next) => {
  req.body ??= {};
  next();
};

/** Reads the body's declared length (a signature check, say) and passes the request on at once, before 'end'. */
const consumeUntilLength: express.RequestHandler = (req, _res, next) => {
  const length = Number(req.headers['content-length'] ?? 0);
  if (!(length > 0)) return next();
  let got = 0;
  const onData = (chunk: Buffer) => {
    got += chunk.byteLength;
    if (got < length) return;
    req.off('data', onData);
    next();
  };
  req.on('data', onData);
};

/** Pauses the request while it does something asynchronous (an auth check), then passes it on, still paused. */
const pauseAWhile: express.RequestHandler = (req, _res, next) => {
  req.pause();
  setTimeout(next, 5);
};

/** Looks at the body's first bytes in paused mode ('readable'), puts them back, and passes the request on. */
const peek: express.RequestHandler = (req, _res, next) => {
  const onReadable = () => {
    const chunk = req.read() as Buffer | null;
    req.off('readable', onReadable);
    if (chunk !== null) req.unshift(chunk);
    next();
  };
  if (req.readableEnded || req.complete) return next();
  req.on('readable', onReadable);
};

const readers: [string, express.RequestHandler[]][] = [
  ['a parser that skips the request and sets req.body = {} (Express 4)', [skipAsExpress4]],
  ['nothing', []],
  ['express.json()', [json]],
  ['express.raw({ type: "*/*" })', [express.raw({ type: '*/*' })]],
  ['express.text({ type: "*/*" })', [express.text({ type: '*/*' })]],
  ['express.urlencoded()', [urlencoded]],
  ['a middleware that consumes the stream', [consume]],
  ['a middleware that pauses the stream while it checks something', [pauseAWhile]],
  ['a middleware that reads Content-Length bytes and passes the request on before its end', [consumeUntilLength]],
  ['a middleware that reads the first chunk with "readable" and leaves the rest', [peek]],
];

/** What a bare listener answers an infer request with an empty body. */
const emptyInferAnswer = '400 {"error":"the request body is empty; expected JSON"}';

describe('review: behind body readers', () => {
  const { track } = useServers();

  async function app(mounted: express.RequestHandler[], largeBodyBytes?: number) {
    const host = track(new ModelHost({ runtimes: { fake: fakeRuntime() }, defaults: { batching: false } }));
    await host.load('m', { source: FAKE_SOURCE });
    const app = express();
    for (const m of mounted) app.use(m);
    app.use(createExpressRouter(host, { limits: { bodyTimeoutMs: 60_000, ...(largeBodyBytes === undefined ? {} : { largeBodyBytes }) } }));
    const server = createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    track({ destroy: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))) } as never);
    return (server.address() as AddressInfo).port;
  }

  describe.each(readers)('%s', (_, mounted) => {
    it('GET, HEAD', async () => {
      const port = await app(mounted);
      expect((await raw(port, 'GET /v2/models/m HTTP/1.1\r\nhost: x\r\n\r\n')).status).toBe(200);
      const head = await raw(port, 'HEAD /v2/models/m HTTP/1.1\r\nhost: x\r\n\r\n');
      expect(head.status).toBe(200);
    });

    it.each([
      ['content-length: 0', 'content-length: 0\r\n', ''],
      ['content-length: 00', 'content-length: 00\r\n', ''],
      ['no length', '', ''],
      ['chunked, empty', 'transfer-encoding: chunked\r\n', '0\r\n\r\n'],
    ])('POST /v2/repository/index with %s: served', async (_, headers, payload) => {
      const port = await app(mounted);
      const response = await raw(port, `POST /v2/repository/index HTTP/1.1\r\nhost: x\r\n${headers}\r\n${payload}`);
      // Read by another middleware, a chunked body might have had bytes: refused, as any declared body.
      if (mounted[0] === consume && headers.startsWith('transfer-encoding')) return void expect(response.status).toBe(500);
      expect(response.status, response.all).toBe(200);
      expect(JSON.parse(response.body)).toEqual([expect.objectContaining({ name: 'm' })]);
    });

    it('POST infer with a JSON body sent as application/json, text/plain, a form (curl -d), or no type', async () => {
      const port = await app(mounted);
      for (const type of ['application/json', 'text/plain; charset=utf-8', 'application/x-www-form-urlencoded', undefined]) {
        const response = await raw(port, `POST /v2/models/m/infer HTTP/1.1\r\nhost: x\r\n${type === undefined ? '' : `content-type: ${type}\r\n`}content-length: ${body.length}\r\n\r\n${body}`);
        if (mounted[0] === consume || mounted[0] === consumeUntilLength) {
          expect(response.status).toBe(500);
          expect(JSON.parse(response.body).error).toMatch(/^the request body was read before modelhost received the request, and not left in req.body/);
          continue;
        }
        if (mounted[0] === urlencoded && type === 'application/x-www-form-urlencoded') {
          // Its fields are not the bytes sent (`+` became a space, `%xx` decoded): refused, saying what to change.
          expect(response.status).toBe(500);
          expect(JSON.parse(response.body).error).toMatch(/parsed as application\/x-www-form-urlencoded fields .*send the body with Content-Type: application\/json, or mount modelhost before that parser/);
          continue;
        }
        expect(response.status, `${type}: ${response.all}`).toBe(200);
        expect(JSON.parse(response.body).outputs[0].data).toEqual([3, 5, 7, 9]);
      }
    });

    it('POST infer with an empty body: the same answer as with nothing in front', async () => {
      const port = await app(mounted);
      for (const type of ['application/json', 'text/plain']) {
        const response = await raw(port, `POST /v2/models/m/infer HTTP/1.1\r\nhost: x\r\ncontent-type: ${type}\r\ncontent-length: 0\r\n\r\n`);
        // express.json() makes `{}` of an empty JSON body (body-parser's choice): still a 400, in other words.
        if (mounted[0] === json && type === 'application/json') expect(response.status).toBe(400);
        else expect(`${response.status} ${response.body}`).toBe(emptyInferAnswer);
      }
    });

    it('POST infer with a body past largeBodyBytes (parsed in its own turn)', async () => {
      const port = await app(mounted, 100);
      const padded = body + ' '.repeat(200);
      const response = await raw(port, `POST /v2/models/m/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${padded.length}\r\n\r\n${padded}`);
      if (mounted[0] === consume || mounted[0] === consumeUntilLength) return void expect(response.status).toBe(500);
      expect(response.status, response.all).toBe(200);
      expect(JSON.parse(response.body).outputs[0].data).toEqual([3, 5, 7, 9]);
    });

    it('POST infer chunked', async () => {
      const port = await app(mounted);
      const response = await raw(port, `POST /v2/models/m/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`);
      if (mounted[0] === consume) return void expect(response.status).toBe(500);
      expect(response.status, response.all).toBe(200);
    });
  });
});

describe('review: in a Nest application (its default body parsers on), pipelined', () => {
  const { track } = useServers();

  it('JSON as application/json, text/plain, and a form (curl -d): served, served, refused naming the fix; 200 pipelined on one socket answered in order', async () => {
    const host = track(new ModelHost({ runtimes: { fake: fakeRuntime() }, defaults: { batching: false } }));
    await host.load('m', { source: FAKE_SOURCE });
    class AppModule {}
    Module({ imports: [ModelHostModule.forRoot({ host, http: { controller: { path: 'ml' }, limits: { concurrency: 2 } } })] })(AppModule);
    const app = await NestFactory.create(AppModule, { logger: false, abortOnError: false });
    await app.listen(0, '127.0.0.1');
    track({ destroy: () => app.close() } as never);
    const { port } = app.getHttpServer().address() as AddressInfo;
    const sent = (type: string) => `POST /ml/v2/models/m/infer HTTP/1.1\r\nhost: x\r\ncontent-type: ${type}\r\ncontent-length: ${body.length}\r\n\r\n${body}`;
    const first = await raw(port, sent('application/json'));
    expect(first.status, first.all).toBe(200);
    expect((await raw(port, sent('text/plain;charset=UTF-8'))).status).toBe(200);
    const form = await raw(port, sent('application/x-www-form-urlencoded'));
    expect(form.status).toBe(500);
    expect(JSON.parse(form.body).error).toMatch(/send the body with Content-Type: application\/json/);

    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.setEncoding('latin1').on('data', (c: string) => (received += c));
    let text = '';
    for (let i = 0; i < 200; i++) {
      const b = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [i, 0, 0, 0] }] });
      text += `POST /ml/v2/models/m/infer HTTP/1.1\r\nhost: x\r\ncontent-type: ${i % 2 ? 'application/json' : 'text/plain'}\r\ncontent-length: ${b.length}\r\n\r\n${b}`;
    }
    socket.write(text);
    await expect.poll(() => received.split('HTTP/1.1 ').length - 1, { timeout: 5000 }).toBe(200);
    await expect.poll(() => [...received.matchAll(/"data":\[(\d+),1,1,1\]/g)].length).toBe(200);
    const firsts = [...received.matchAll(/"data":\[(\d+),1,1,1\]/g)].map((m) => Number(m[1]));
    expect(firsts).toEqual(Array.from({ length: 200 }, (_, i) => 2 * i + 1));
    socket.destroy();
  });
});

describe('behind a middleware that read part of the body and passed the request on', () => {
  const { track } = useServers();

  /** Takes the first chunk of the body (a signature check on a prefix, say), stops reading, and passes the request on. */
  const takeFirstChunk: express.RequestHandler = (req, _res, next) => {
    req.once('data', () => {
      req.pause();
      next();
    });
  };

  it.each([
    ['a small body (parsed by the handler)', undefined],
    ['a body past largeBodyBytes (parsed in its own turn)', 16],
  ])('%s: answered 500 naming the mounting mistake, not 400 blaming the client for invalid JSON', async (_, largeBodyBytes) => {
    const host = track(new ModelHost({ runtimes: { fake: fakeRuntime() }, defaults: { batching: false } }));
    await host.load('m', { source: FAKE_SOURCE });
    const app = express();
    app.use(takeFirstChunk);
    app.use(createExpressRouter(host, largeBodyBytes === undefined ? {} : { limits: { largeBodyBytes } }));
    const server = createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    track({ destroy: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))) } as never);
    const { port } = server.address() as AddressInfo;
    // The head and the body's first 10 bytes, then the rest 50 ms later: two chunks, the first taken in front.
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      let received = '';
      socket.setEncoding('latin1').on('data', (c: string) => {
        received += c;
        const head = received.indexOf('\r\n\r\n');
        const length = Number(/content-length: (\d+)/i.exec(received.slice(0, Math.max(head, 0)))?.[1] ?? -1);
        if (head < 0 || received.length < head + 4 + length) return;
        socket.destroy();
        resolve({ status: Number(received.slice(9, 12)), body: received.slice(head + 4, head + 4 + length) });
      });
      socket.on('error', reject);
      socket.write(`POST /v2/models/m/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body.slice(0, 10)}`);
      setTimeout(() => socket.write(body.slice(10)), 50);
    });
    expect(answer.status).toBe(500);
    expect(JSON.parse(answer.body).error).toMatch(/read before modelhost received the request/);
  });

  it('a body that is not JSON, read whole by the listener, is still 400 naming the client’s mistake', async () => {
    const host = track(new ModelHost({ runtimes: { fake: fakeRuntime() }, defaults: { batching: false } }));
    await host.load('m', { source: FAKE_SOURCE });
    const app = express();
    app.use(createExpressRouter(host));
    const server = createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    track({ destroy: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))) } as never);
    const { port } = server.address() as AddressInfo;
    const answer = await raw(port, `POST /v2/models/m/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 9\r\n\r\n{"inputs"`);
    expect(answer.status).toBe(400);
  });
});
