import { existsSync } from 'node:fs';
import { chromium, type BrowserContext } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Launches Debian's Chromium, headless, on a fresh profile, or fails saying what to install: browser tests are never skipped. */
export async function launchChromium(userDataDir: string): Promise<BrowserContext> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: the status page tests need Debian's Chromium (apt-get install -y chromium; .ci/run installs it)`);
  try {
    return await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
  } catch (error) {
    throw new Error(`Chromium at ${CHROMIUM} did not start: ${(error as Error).message}`, { cause: error });
  }
}
