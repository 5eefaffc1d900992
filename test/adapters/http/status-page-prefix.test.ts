/**
 * The status page mounted under a prefix (Express at `/ml`, as examples/express-server and
 * examples/nest-app do), in headless Chromium: it must find its `status.json` whether the
 * page was opened as `/ml`, `/ml/` or `/ml/status`, and its charting library beside it.
 */
import express from 'express';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExpressRouter } from '../../../src/adapters/express/index.js';
import { ModelHost } from '../../../src/index.js';
import { openBrowserOn, type BrowserSession } from '../../helpers/chromium.js';
import { FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';

describe('status page under a prefix (headless Chromium)', () => {
  let host: ModelHost;
  let session: BrowserSession | undefined;
  let url: string;
  let browser: BrowserContext;

  beforeAll(async () => {
    host = new ModelHost({ runtimes: { fake: fakeRuntime() } });
    await host.load('m', { source: FAKE_SOURCE });
    const app = express();
    app.use('/ml', createExpressRouter(host));
    session = await openBrowserOn(app);
    ({ url, browser } = session);
  });

  afterAll(async () => {
    await session?.close();
    await host?.close();
  });

  it.each(['/ml', '/ml/', '/ml/status', '/ml/status/'])('opened as %s, it fetches /ml/status.json and renders the models', async (pathname) => {
    const page = await browser.newPage();
    const fetched: string[] = [];
    const assets: string[] = [];
    page.on('request', (request) => {
      if (request.url().endsWith('status.json')) fetched.push(new URL(request.url()).pathname);
    });
    page.on('response', (response) => {
      if (/uplot/.test(response.url())) assets.push(`${new URL(response.url()).pathname} ${response.status()} ${response.headers()['content-type']}`);
    });
    expect((await page.goto(`${url}${pathname}`))?.status()).toBe(200);
    await page.locator('h2[data-model="m"]').waitFor({ timeout: 15_000 });
    expect(await page.locator('#health').textContent()).toBe('ready');
    expect(new Set(fetched)).toEqual(new Set(['/ml/status.json']));
    // The charting library comes from under the prefix too, and draws.
    await page.locator('figure[data-chart="rps"] canvas').waitFor({ timeout: 15_000 });
    expect(assets.sort()).toEqual(['/ml/status/uplot.min.css 200 text/css; charset=utf-8', '/ml/status/uplot.min.js 200 text/javascript; charset=utf-8']);
    await page.close();
  });
});
