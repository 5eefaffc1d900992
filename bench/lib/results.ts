import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** bench/results/ is gitignored: the committed record of a run is docs/benchmarks.md. */
export const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));

/**
 * Writes `bench/results/latest.json` (unless `latest` is false) and `extraPath` when given;
 * returns the paths written.
 */
export async function writeResults(results: object, { extraPath, latest = true }: { extraPath?: string | undefined; latest?: boolean } = {}): Promise<string[]> {
  // Raw latency samples are large and only needed while merging; NaN becomes null anyway.
  const text = `${JSON.stringify(results, (key, value: unknown) => (key === 'samples' && Array.isArray(value) ? undefined : value), 2)}\n`;
  const targets = [...(latest ? [path.join(RESULTS_DIR, 'latest.json')] : []), ...(extraPath === undefined ? [] : [path.resolve(extraPath)])];
  for (const file of targets) {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, text);
  }
  return targets;
}
