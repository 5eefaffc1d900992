/**
 * Where the KServe CRDs the schema tests validate against are found. No npm package ships
 * them and the repository carries no copy (fetched data lives only in the steering repo's
 * shared/), so they are read from `$MODELHOST_KSERVE_CRDS`, else from `../shared/kserve-crds`
 * beside the clone (where CI gets a copy of shared/). Without them the schema tests skip,
 * saying so; every other KServe test runs.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** KServe's file names (config/crd/full/ in kserve/kserve). */
const FILES = {
  clusterServingRuntimes: 'serving.kserve.io_clusterservingruntimes.yaml',
  inferenceServices: 'serving.kserve.io_inferenceservices.yaml',
} as const;

export type KserveCrdFiles = { readonly [K in keyof typeof FILES]: string } & { readonly dir: string };

/** The reason printed in the name of each schema test that skips. */
export const KSERVE_CRDS_SKIPPED = 'skipped: KServe CRDs not found in ../shared/kserve-crds or $MODELHOST_KSERVE_CRDS';

const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));

/** The candidate folders, in order: `$MODELHOST_KSERVE_CRDS`, then `<repo>/../shared/kserve-crds`. */
export function kserveCrdDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  const fromEnv = env['MODELHOST_KSERVE_CRDS'];
  return [...(fromEnv ? [path.resolve(fromEnv)] : []), path.resolve(repositoryRoot, '..', 'shared', 'kserve-crds')];
}

/** The first candidate folder holding both CRDs, as absolute file paths; undefined when none does. */
export function findKserveCrds(env: NodeJS.ProcessEnv = process.env): KserveCrdFiles | undefined {
  for (const dir of kserveCrdDirs(env)) {
    const files = { dir, clusterServingRuntimes: path.join(dir, FILES.clusterServingRuntimes), inferenceServices: path.join(dir, FILES.inferenceServices) };
    if (existsSync(files.clusterServingRuntimes) && existsSync(files.inferenceServices)) return files;
  }
  return undefined;
}

/**
 * A schema test's name: as given when the CRDs were found, else with the skip reason
 * appended. vitest's default reporter lists no skipped test by name, so the reason is also
 * written to stderr, once per name.
 */
export function needsKserveCrds(crds: KserveCrdFiles | undefined, name: string): string {
  if (crds) return name;
  console.warn(`${name}: ${KSERVE_CRDS_SKIPPED}`);
  return `${name} (${KSERVE_CRDS_SKIPPED})`;
}
