/**
 * The charting library of the status page, uPlot (MIT, ~50 kB, canvas, no dependencies),
 * served by modelhost itself so the page works offline and under `script-src 'self'`.
 *
 * uPlot is a devDependency: the build copies its built files into `dist/vendor/` (see
 * tsup.config.ts), beside the bundle that serves them; running from the sources, they are
 * read from node_modules. Nothing is added to what `npm install modelhost` installs.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { json } from './http-errors.js';
import type { HttpResponse, RouteHandler } from './http-types.js';

/** The files the page asks for, by the name in its URL (`<prefix>/status/<name>`). */
export const CHART_ASSETS: Readonly<Record<string, { readonly file: string; readonly contentType: string }>> = Object.freeze({
  'uplot.min.js': { file: 'uPlot.iife.min.js', contentType: 'text/javascript; charset=utf-8' },
  'uplot.min.css': { file: 'uPlot.min.css', contentType: 'text/css; charset=utf-8' },
});

const cache = new Map<string, string | undefined>();

/** A vendored file's text: from `./vendor/` beside this bundle, else from node_modules; undefined when neither has it. */
function read(file: string): string | undefined {
  if (cache.has(file)) return cache.get(file);
  let text: string | undefined;
  try {
    text = readFileSync(new URL(`./vendor/${file}`, import.meta.url), 'utf8');
  } catch {
    try {
      text = readFileSync(createRequire(import.meta.url).resolve(`uplot/dist/${file}`), 'utf8');
    } catch {
      text = undefined;
    }
  }
  cache.set(file, text);
  return text;
}

export const chartAsset: RouteHandler = ({ params }): HttpResponse => {
  const asset = Object.hasOwn(CHART_ASSETS, params['asset'] ?? '') ? CHART_ASSETS[params['asset']!] : undefined;
  if (asset === undefined) return json(404, { error: `no status page asset named '${params['asset']}'` });
  const body = read(asset.file);
  // A build that did not copy the vendored files: the page still shows its tables.
  if (body === undefined) return json(404, { error: `${asset.file} is not bundled with this build of modelhost` });
  return {
    status: 200,
    headers: { 'content-type': asset.contentType, 'cache-control': 'public, max-age=3600', 'x-content-type-options': 'nosniff' },
    body,
  };
};
