/**
 * The status page in a real browser: Debian's Chromium, headless, driven by playwright-core.
 * It must render the models, versions and states from the server, and keep them current
 * (it polls `status.json` every second) while requests come in.
 */
import { appendFile } from 'node:fs/promises';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelHost } from '../../src/index.js';
import { createNodeListener } from '../../src/adapters/http/index.js';
import { onnxAffine, onnxMlp } from '../fixtures/onnx-models.js';
import { openBrowserOn, type BrowserSession } from '../helpers/chromium.js';
import { writeConfig, writeVersion } from '../helpers/repository.js';
import { collectMetrics } from '../../src/metrics/prometheus.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs('all');

// The DOM as the functions below that run in the page use it (this project compiles without lib.dom).
interface PageElement {
  readonly textContent: string | null;
  querySelectorAll(selector: string): Iterable<PageElement>;
}
declare const document: { querySelector(selector: string): PageElement | null };

describe('status page (headless Chromium)', () => {
  let host: ModelHost;
  let session: BrowserSession | undefined;
  let url: string;
  let browser: BrowserContext;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    const repository = await tempDir();
    await writeVersion(repository, 'affine', 1, { 'model.onnx': onnxAffine({ size: 4, scale: 2, bias: 1 }) });
    await writeVersion(repository, 'affine', 2, { 'model.onnx': onnxAffine({ size: 4, scale: 3, bias: 0 }) });
    // mlp runs on two worker threads, affine (auto, tiny) inline: the page says where each runs.
    await writeConfig(repository, 'mlp', { instances: { kind: 'thread', count: 2 } });
    await writeVersion(repository, 'mlp', 3, { 'model.onnx': onnxMlp({ inputs: 8, hidden: [16], outputs: 3, seed: 2 }) });
    // mlp v4 fails its checksum: the page shows it as failed next to v3, which keeps serving.
    const broken = await writeVersion(repository, 'mlp', 4, { 'model.onnx': onnxMlp({ inputs: 8, hidden: [16], outputs: 3, seed: 3 }) });
    await appendFile(path.join(broken, 'model.onnx'), Buffer.from([0]));

    host = new ModelHost({ repository });
    await host.load('affine', { version: 1 });
    await host.deploy('affine', 2, { canary: 0.25 });
    await host.load('mlp', { version: 3 });
    await expect(host.load('mlp', { version: 4 })).rejects.toThrow();

    session = await openBrowserOn(createNodeListener(host, { metrics: collectMetrics(host).registry }));
    ({ url, browser } = session);
  });

  afterAll(async () => {
    await session?.close();
    await host?.close();
  });

  async function open(pathname: string): Promise<Page> {
    const page = await browser.newPage();
    page.on('pageerror', (error) => pageErrors.push(`${pathname}: ${error.message}`));
    // The page has no favicon: Chromium's request for /favicon.ico gets a 404, which is fine.
    const favicon = (u: string) => new URL(u).pathname === '/favicon.ico';
    page.on('console', (message) => {
      if (message.type() === 'error' && !favicon(message.location().url || url)) pageErrors.push(`${pathname}: console: ${message.text()} (${message.location().url})`);
    });
    page.on('response', (response) => {
      if (response.status() >= 400 && !favicon(response.url())) pageErrors.push(`${pathname}: ${response.status()} for ${response.url()}`);
    });
    const response = await page.goto(`${url}${pathname}`);
    expect(response?.status()).toBe(200);
    expect(await page.title()).toBe('modelhost status');
    // The first render comes from a fetch of status.json after load.
    await page.locator('h2[data-model]').first().waitFor();
    return page;
  }

  /** The text of each cell of a version's row, by column header. */
  async function versionRow(page: Page, model: string, version: number): Promise<Record<string, string>> {
    return page.evaluate(
      ([m, v]) => {
        const table = document.querySelector(`h2[data-model="${m}"] + table`);
        const headers = [...(table?.querySelectorAll('th') ?? [])].map((th) => th.textContent ?? '');
        const cells = [...(table?.querySelectorAll(`tr[data-version="${v}"] td`) ?? [])].map((td) => td.textContent ?? '');
        return Object.fromEntries(headers.map((h, i) => [h, cells[i] ?? '']));
      },
      [model, version] as const,
    );
  }

  it('renders every model with its versions, states, runtime and traffic', async () => {
    const page = await open('/');
    expect(await page.locator('#health').textContent()).toBe('ready');
    expect(await page.locator('#meta').textContent()).toMatch(/^2 model\(s\) · updated /);
    expect(await page.locator('h2[data-model]').allTextContents()).toEqual(['affine default v1 · candidate v2', 'mlp default v3']);

    expect(await versionRow(page, 'affine', 1)).toMatchObject({ version: 'v1', state: 'ready', runtime: 'onnx', 'runs on': 'inline', traffic: '75%', breaker: 'closed', requests: '0', errors: '0', queue: '0' });
    expect(await versionRow(page, 'affine', 2)).toMatchObject({ version: 'v2', state: 'ready', runtime: 'onnx', traffic: '25%', requests: '0' });
    expect(await versionRow(page, 'mlp', 3)).toMatchObject({ version: 'v3', state: 'ready', runtime: 'onnx', 'runs on': '2 threads', traffic: '100%' });
    expect(await versionRow(page, 'mlp', 4)).toMatchObject({ version: 'v4', state: 'failed', 'runs on': '–', traffic: '0%' });

    // States are coloured, and a failed version says why on hover.
    const failed = page.locator('h2[data-model="mlp"] + table tr[data-version="4"] td:nth-child(2)');
    expect(await failed.getAttribute('class')).toBe('bad');
    expect(await failed.getAttribute('title')).toMatch(/\S/);
    expect(await page.locator('h2[data-model="mlp"] + table tr[data-version="3"] td:nth-child(2)').getAttribute('class')).toBe('ok');
    await page.close();
  });

  it('links /status.json and /metrics, and both answer', async () => {
    const page = await open('/');
    expect(await page.locator('#links a').evaluateAll((links) => links.map((a) => [(a as unknown as PageElement).textContent, (a as unknown as { getAttribute(n: string): string }).getAttribute('href')]))).toEqual([
      ['metrics', '/metrics'],
      ['status.json', '/status.json'],
    ]);
    await page.click('#links a#metrics');
    expect(await page.locator('body').textContent()).toContain('modelhost_requests_total');
    await page.goBack();
    await page.click('#links a#status-json');
    expect(JSON.parse((await page.locator('body').textContent()) ?? '')).toMatchObject({ live: true, models: expect.any(Array) });
    await page.close();
  });

  it('updates itself from status.json as requests come in, with no reload', async () => {
    const page = await open('/status');
    const requestsCell = 'h2[data-model="affine"] + table tr[data-version="1"] td.requests';
    expect(await page.locator(requestsCell).textContent()).toBe('0');
    let navigations = 0;
    page.on('framenavigated', () => navigations++);

    // Predictions over HTTP, pinned to v1 so the count to wait for is exact.
    const sent = 7;
    for (let i = 0; i < sent; i++) {
      const response = await fetch(`${url}/v2/models/affine/versions/1/infer`, {
        method: 'POST',
        body: JSON.stringify({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [i, 1, 2, 3] }] }),
      });
      expect(response.status).toBe(200);
    }
    // Polls the DOM until the page's own refresh shows the count (auto-waiting, no sleep).
    await page.waitForFunction(([selector, expected]) => document.querySelector(selector)?.textContent === expected, [requestsCell, String(sent)] as const, { timeout: 15_000 });
    const row = await versionRow(page, 'affine', 1);
    expect(Number(row['req/s (1m)'])).toBeGreaterThan(0);
    expect(Number(row['p99 ms (1m)'])).toBeGreaterThan(0);
    expect(row['errors']).toBe('0');

    // An unload shows up the same way: the model disappears from the page.
    await host.unload('mlp');
    await page.waitForFunction(() => document.querySelector('h2[data-model="mlp"]') === null, undefined, { timeout: 15_000 });
    expect(await page.locator('#meta').textContent()).toMatch(/^1 model\(s\)/);
    expect(navigations).toBe(0);
    await page.close();
  });

  it('logged no script errors and fetched nothing that failed', () => {
    expect(pageErrors).toEqual([]);
  });
});
