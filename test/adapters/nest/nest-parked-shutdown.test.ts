/**
 * `app.close()` of a Nest application whose protocol controller parked a connection: the
 * controller's `beforeApplicationShutdown` resumes it before Nest closes the server, so the
 * request waiting unread on it is read and served, not reset as an idle connection.
 */
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { ModelHostModule } from 'modelhost/nest';
import { nextOrReset, parkWithRequestUnread, steppedHost } from '../http/parked-helpers.js';

describe('parked connections at shutdown behind Nest', () => {
  it('app.close() serves the request waiting on a parked connection instead of closing it as idle', async () => {
    const { host, started, releaseOne } = await steppedHost();
    const metrics = { contentType: 'text/plain', metrics: async () => '' };
    class AppModule {}
    Module({ imports: [ModelHostModule.forRoot({ host, http: { controller: true, metrics, limits: { concurrency: 1 } } })] })(AppModule);
    const app = await NestFactory.create(AppModule, { logger: false, abortOnError: false, bodyParser: false });
    await app.listen(0, '127.0.0.1');
    const url = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    const { a, others } = await parkWithRequestUnread(url, { started, releaseOne });
    try {
      const closed = app.close(); // Node's server.close() closes idle connections, and a parked one looks idle
      const answer = nextOrReset(a);
      await new Promise((r) => setTimeout(r, 100));
      releaseOne(); // 2 answered; 3, then 4, run
      await vi.waitFor(() => expect(started()).toBe(3));
      releaseOne();
      await vi.waitFor(() => expect(started()).toBe(4));
      releaseOne();
      const text = await answer;
      expect(text).not.toBe('reset');
      expect(JSON.parse(text).outputs[0].data).toEqual([9, 9, 9, 9]);
      expect((await Promise.all(others)).map((r) => r.status)).toEqual([200, 200]);
      a.socket.destroy();
      await closed;
    } finally {
      a.socket.destroy();
      await host.close();
    }
  });
});
