import { readFileSync } from 'node:fs';

declare const __MODELHOST_VERSION__: string | undefined;

/**
 * The package version. The build sets it at compile time; run from the sources (`npm start`
 * through tsx, vitest) it is read from the package.json beside `src/`.
 */
export const PACKAGE_VERSION: string = typeof __MODELHOST_VERSION__ === 'string' ? __MODELHOST_VERSION__ : sourceVersion();

function sourceVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0-dev';
  }
}
