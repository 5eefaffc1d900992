/**
 * The status page's charts in a real browser (headless Chromium through playwright-core):
 * uPlot comes from this server under the page's CSP, every model gets its six charts, and
 * they move when traffic flows. `MODELHOST_SCREENSHOT=docs/images/status-page.png` also
 * saves a screenshot of the loaded page (how docs/observability.md's picture is made).
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelHost } from '../../src/index.js';
import { createNodeListener } from '../../src/adapters/http/index.js';
import { onnxAffine, onnxMlp } from '../fixtures/onnx-models.js';
import { openBrowserOn, type BrowserSession } from '../helpers/chromium.js';
import { FAKE_SOURCE, fakeRuntime } from '../helpers/fake-runtime.js';
import { writeVersion } from '../helpers/repository.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs('all');

// The DOM as the functions below that run in the page use it (this project compiles without lib.dom).
interface PageElement {
  readonly textContent: string | null;
  getAttribute(name: string): string | null;
  toDataURL(): string;
}
declare const document: { querySelector(selector: string): PageElement | null; querySelectorAll(selector: string): PageElement[] };

const CHARTS = ['rps', 'queue', 'compute', 'depth', 'batch', 'errors'];

describe('status page charts (headless Chromium)', () => {
  let host: ModelHost;
  let session: BrowserSession | undefined;
  let url: string;
  let browser: BrowserContext;
  const problems: string[] = [];
  // A model that breaks after it loaded: every run throws, so its error rate and breaker show it.
  let broken = false;

  beforeAll(async () => {
    const repository = await tempDir();
    await writeVersion(repository, 'affine', 1, { 'model.onnx': onnxAffine({ size: 4, scale: 2, bias: 1 }) });
    await writeVersion(repository, 'affine', 2, { 'model.onnx': onnxAffine({ size: 4, scale: 3, bias: 0 }) });
    await writeVersion(repository, 'mlp', 1, { 'model.onnx': onnxMlp({ inputs: 8, hidden: [16], outputs: 3, seed: 2 }) });
    const flaky = fakeRuntime({ failRun: () => (broken ? new Error('the device went away') : undefined) });
    host = new ModelHost({ repository, runtimes: { flaky }, models: { affine: { rollout: { enabled: true } }, flaky: { runtime: 'flaky' } } });
    await host.load('affine', { version: 1 });
    await host.deploy('affine', 2, { canary: 0.3 });
    await host.load('mlp', { version: 1 });
    await host.load('flaky', { source: FAKE_SOURCE });
    broken = true;
    session = await openBrowserOn(createNodeListener(host));
    ({ url, browser } = session);
  });

  afterAll(async () => {
    await session?.close();
    await host?.close();
  });

  async function open(): Promise<Page> {
    const page = await browser.newPage();
    await page.setViewportSize({ width: 1280, height: 900 });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') problems.push(`console ${message.type()}: ${message.text()}`);
    });
    page.on('response', (response) => {
      if (response.status() >= 400) problems.push(`${response.status()} for ${response.url()}`);
    });
    page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()}`));
    expect((await page.goto(`${url}/`))?.status()).toBe(200);
    await page.locator('section[data-model-section="mlp"] figure[data-chart="errors"] canvas').waitFor({ timeout: 15_000 });
    return page;
  }

  /** Closed-loop traffic over HTTP to affine and mlp for `ms`: `workers` callers, each sending its next request when the last is answered. */
  async function traffic(ms: number, workers = 4): Promise<number> {
    let sent = 0;
    const until = Date.now() + ms;
    const body = (model: string, i: number) =>
      model === 'affine'
        ? { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [i, 1, 2, 3] }] }
        : { inputs: [{ name: 'x', shape: [1, 8], datatype: 'FP32', data: [i, 1, 2, 3, 4, 5, 6, 7] }] };
    await Promise.all(
      Array.from({ length: workers }, async (_, w) => {
        while (Date.now() < until) {
          const model = w % 2 === 0 ? 'affine' : 'mlp';
          const response = await fetch(`${url}/v2/models/${model}/infer`, { method: 'POST', body: JSON.stringify(body(model, sent)) });
          expect(response.status).toBe(200);
          await response.arrayBuffer();
          sent++;
        }
      }),
    );
    return sent;
  }

  it('serves uPlot itself, with the right content types, allowed by the page CSP', async () => {
    const page = await fetch(`${url}/`);
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/script-src 'self'/);
    expect(csp).toMatch(/style-src 'self'/);
    expect(csp).toMatch(/connect-src 'self'/);
    const js = await fetch(`${url}/status/uplot.min.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await js.text()).toMatch(/uPlot/);
    const css = await fetch(`${url}/status/uplot.min.css`);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect(await css.text()).toMatch(/\.uplot/);
    expect((await fetch(`${url}/status/other.js`)).status).toBe(404);
    // Nothing on the page comes from another origin.
    expect(await page.text()).not.toMatch(/https?:\/\//);
  });

  it('draws six charts per model and shows the rollout and where each version runs', async () => {
    const page = await open();
    for (const model of ['affine', 'flaky', 'mlp']) {
      const charts = await page.evaluate((m) => [...document.querySelectorAll(`section[data-model-section="${m}"] figure[data-chart]`)].map((f) => f.getAttribute('data-chart')), model);
      expect(charts).toEqual(CHARTS);
      expect(await page.locator(`section[data-model-section="${model}"] figure canvas`).count()).toBe(CHARTS.length);
    }
    const rollout = await page.locator('section[data-model-section="affine"] .rollout').textContent();
    expect(rollout).toMatch(/traffic v2 30% \/ v1 70%|traffic v1 70% \/ v2 30%/);
    expect(rollout).toMatch(/candidate v2/);
    expect(rollout).toMatch(/guard watching v2 vs v1: errors 0% vs 0%/);
    expect(await page.locator('section[data-model-section="mlp"] .rollout').textContent()).toMatch(/traffic v1 100% · guard none/);
    expect(await page.locator('section[data-model-section="affine"] tr[data-version="1"] td.instances').textContent()).toBe('inline');
    expect(await page.locator('section[data-model-section="affine"] tr[data-version="1"] td.breaker').textContent()).toBe('closed');
    // The legend names each version's series.
    expect(await page.locator('section[data-model-section="affine"] figure[data-chart="queue"] .key').textContent()).toBe('v1 p50v1 p99v2 p50v2 p99');
    await page.close();
  });

  it('moves the charts while traffic flows, with no reload', async () => {
    const page = await open();
    const rps = 'section[data-model-section="affine"] figure[data-chart="rps"]';
    const pixels = () => page.evaluate((s) => document.querySelector(`${s} canvas`)!.toDataURL(), rps);
    const before = await pixels();
    const samplesBefore = Number(await page.locator(rps).getAttribute('data-samples'));
    expect(await page.locator(`${rps} .latest`).textContent()).toBe('v1 0.00 · v2 0.00');
    let navigations = 0;
    page.on('framenavigated', () => navigations++);

    const sent = await traffic(2500);
    expect(sent).toBeGreaterThan(0);
    // The broken model fails (500) until its breaker opens, then is refused (503).
    for (let i = 0; i < 12; i++) {
      const response = await fetch(`${url}/v2/models/flaky/infer`, { method: 'POST', body: JSON.stringify({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] }) });
      expect([500, 503]).toContain(response.status);
    }
    const flaky = 'section[data-model-section="flaky"]';
    await page.waitForFunction((s) => document.querySelector(`${s} figure[data-chart="errors"] .latest`)?.textContent === 'v1 100', flaky, { timeout: 15_000 });
    await page.waitForFunction((s) => document.querySelector(`${s} td.breaker`)?.textContent === 'open', flaky, { timeout: 15_000 });
    expect(await page.locator(`${flaky} td.breaker`).getAttribute('class')).toBe('breaker bad');
    // Waits (auto-polling the DOM, no sleep) for a refresh that saw the traffic.
    await page.waitForFunction((s) => /v1 [1-9]|v1 0\.[0-9]*[1-9]/.test(document.querySelector(`${s} .latest`)?.textContent ?? ''), rps, { timeout: 15_000 });
    expect(Number(await page.locator(rps).getAttribute('data-samples'))).toBeGreaterThan(samplesBefore);
    expect(await pixels()).not.toBe(before);
    const compute = await page.locator('section[data-model-section="mlp"] figure[data-chart="compute"] .latest').textContent();
    expect(Number(compute?.replace(/^v1 /, ''))).toBeGreaterThan(0);
    const batch = await page.locator('section[data-model-section="mlp"] figure[data-chart="batch"] .latest').textContent();
    expect(Number(batch?.replace(/^v1 /, ''))).toBeGreaterThanOrEqual(1);
    expect(navigations).toBe(0);

    const screenshot = process.env['MODELHOST_SCREENSHOT'];
    if (screenshot !== undefined) {
      // A few more seconds of traffic so the lines have a shape, then the picture for the docs.
      await traffic(8000, 32);
      await page.waitForTimeout(1500);
      await mkdir(path.dirname(screenshot), { recursive: true });
      await page.screenshot({ path: screenshot, fullPage: true });
    }
    await page.close();
  });

  it('still shows its tables, and says why there are no charts, when the chart library cannot load', async () => {
    const page = await browser.newPage();
    await page.route('**/status/uplot.min.js', (route) => route.abort());
    expect((await page.goto(`${url}/`))?.status()).toBe(200);
    await page.locator('section[data-model-section="mlp"] tr[data-version="1"]').waitFor({ timeout: 15_000 });
    expect(await page.locator('#links').textContent()).toMatch(/charts unavailable/);
    expect(await page.locator('canvas').count()).toBe(0);
    expect(await page.locator('section[data-model-section="mlp"] figure[data-chart="rps"] .latest').textContent()).toMatch(/^v1 \d/);
    await page.close();
  });

  it('logged no script errors or warnings and fetched nothing that failed', () => {
    expect(problems).toEqual([]);
  });
});
