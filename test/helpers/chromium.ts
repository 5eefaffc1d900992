import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rename, rm } from 'node:fs/promises';
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

/**
 * The browser comes from npm: `@sparticuz/chromium` ships a brotli-compressed headless
 * Chromium inside the package (nothing is downloaded at install), so `npm install` then
 * `npm test` is all a fresh machine needs. Browser tests are never skipped: a browser that
 * cannot be unpacked or started fails the test with a message saying why.
 */
const PACKAGE = '@sparticuz/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** The installed version of the package (its exports do not include its package.json). */
function packageVersion(): string {
  const entry = createRequire(import.meta.url).resolve(PACKAGE);
  const root = entry.slice(0, entry.lastIndexOf(`${path.sep}${PACKAGE.replace('/', path.sep)}${path.sep}`) + PACKAGE.length + 1);
  return (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
}

/**
 * Unpacks the package's Chromium once per version into the OS temp directory and returns the
 * path of its executable. Test files run in parallel processes: each unpacks into its own
 * staging directory (the package unpacks into `$TMPDIR`, so a child process with its own
 * TMPDIR does it) and renames it into place; a process that loses the rename uses the winner's.
 */
async function chromiumExecutable(): Promise<string> {
  const target = path.join(tmpdir(), `sparticuz-chromium-${packageVersion()}`);
  const executable = path.join(target, 'chromium');
  if (existsSync(executable)) return executable;
  const staging = await mkdtemp(`${target}.staging-`);
  try {
    const unpack = `import('${PACKAGE}').then((m) => m.default.executablePath()).then((p) => process.stdout.write(p))`;
    const unpacked = execFileSync(process.execPath, ['--input-type=module', '-e', unpack], { env: { ...process.env, TMPDIR: staging }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    if (path.resolve(unpacked) !== path.join(staging, 'chromium')) throw new Error(`${PACKAGE} unpacked to ${unpacked}, expected ${staging}/chromium`);
    await rename(staging, target).catch((error: NodeJS.ErrnoException) => {
      // another test process renamed its copy first: keep that one
      if (!existsSync(executable)) throw error;
    });
  } catch (error) {
    throw new Error(`could not unpack the Chromium of ${PACKAGE} (run npm install): ${(error as Error).message}`, { cause: error });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return executable;
}

/** Launches the Chromium of `@sparticuz/chromium` headless on a fresh profile, or throws saying why. */
export async function launchChromium(userDataDir: string): Promise<BrowserContext> {
  const executablePath = await chromiumExecutable();
  try {
    // A fixed locale: under LANG=C this Chromium reports 'en-US@posix', which Intl refuses.
    return await chromium.launchPersistentContext(userDataDir, { executablePath, headless: true, args: ARGS, timeout: 60_000, locale: 'en-US' });
  } catch (error) {
    throw new Error(`Chromium at ${executablePath} (from ${PACKAGE}) did not start: ${(error as Error).message}`, { cause: error });
  }
}

/** A request listener served on 127.0.0.1 with a headless Chromium on a fresh profile, for a browser test. */
export interface BrowserSession {
  readonly url: string;
  readonly browser: BrowserContext;
  /** Closes the browser, removes its profile, and closes the server and its connections. */
  close(): Promise<void>;
}

export async function openBrowserOn(listener: RequestListener): Promise<BrowserSession> {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const profile = await mkdtemp(path.join(tmpdir(), 'modelhost-chromium-'));
  const closeServer = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  let browser: BrowserContext;
  try {
    browser = await launchChromium(profile);
  } catch (error) {
    await rm(profile, { recursive: true, force: true });
    await closeServer();
    throw error;
  }
  return {
    url,
    browser,
    async close() {
      await browser.close();
      await rm(profile, { recursive: true, force: true });
      await closeServer();
    },
  };
}
