import { realpath } from 'node:fs/promises';
import { ErrorCode, isModelHostError, ModelHostError } from '../errors/index.js';
import { readInside, reasonOf } from './confined-path.js';
import { isModelName, isVersion, parseVersion } from './model-name.js';

/** The rollout a repository pins for one model (`manifest.json` at the repository root). */
export interface ManifestEntry {
  /** The version that serves by default. */
  readonly default?: number;
  /** A candidate taking a share of unpinned traffic. */
  readonly canary?: { readonly version: number; readonly weight: number };
  /** Arbitrary traffic weights by version (instead of default/canary). */
  readonly weights?: Readonly<Record<number, number>>;
}

export interface Manifest {
  readonly models: Readonly<Record<string, ManifestEntry>>;
}

export const MANIFEST_FILE = 'manifest.json';

/** Largest `manifest.json` read, bytes: a fleet's pins fit in a few KiB; a huge file is a mistake or an attack. */
export const MAX_MANIFEST_BYTES = 1024 * 1024;

/**
 * Reads and validates `manifest.json`; undefined when the repository has none. Every replica
 * that polls the same repository applies the same manifest, so a fleet converges on one
 * rollout.
 */
export async function readManifest(root: string): Promise<Manifest | undefined> {
  let text: string;
  try {
    text = (await readInside(await realpath(root), MANIFEST_FILE, { maxBytes: MAX_MANIFEST_BYTES })).toString('utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    // A manifest that links out of the repository is refused like any other file.
    const said = isModelHostError(error) || (error as NodeJS.ErrnoException).code === 'EFBIG';
    throw new ModelHostError(ErrorCode.INVALID_CONFIG, said ? (error as Error).message : `${MANIFEST_FILE} ${reasonOf(error)}`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    // V8's message quotes the text: it stays in `cause`, for the logger only.
    throw new ModelHostError(ErrorCode.INVALID_CONFIG, `${MANIFEST_FILE} is not valid JSON`, { cause: error });
  }
  return validateManifest(json);
}

export function validateManifest(json: unknown): Manifest {
  if (typeof json !== 'object' || json === null || typeof (json as { models?: unknown }).models !== 'object' || (json as { models: unknown }).models === null) {
    throw invalid(`${MANIFEST_FILE} must be { "models": { "<name>": { "default"?, "canary"?, "weights"? } } }`);
  }
  // Looked up by model name: without a prototype, a model named `constructor` is not pinned by Object's.
  const models: Record<string, ManifestEntry> = Object.create(null) as Record<string, ManifestEntry>;
  for (const [name, raw] of Object.entries((json as { models: Record<string, unknown> }).models)) {
    if (!isModelName(name)) throw invalid(`${MANIFEST_FILE}: models has a key that is not a valid model name`, JSON.stringify(name));
    if (typeof raw !== 'object' || raw === null) throw invalid(`${MANIFEST_FILE}: models.${name} must be an object`);
    const entry = raw as Record<string, unknown>;
    for (const key of Object.keys(entry)) if (!['default', 'canary', 'weights'].includes(key)) throw invalid(`${MANIFEST_FILE}: models.${name} has an unknown key; known: default, canary, weights`, JSON.stringify(key));
    if (entry['default'] !== undefined && !isVersion(entry['default'])) throw invalid(`${MANIFEST_FILE}: models.${name}.default must be a positive integer`, JSON.stringify(entry['default']));
    const canary = entry['canary'] as { version?: unknown; weight?: unknown } | undefined;
    if (canary !== undefined) {
      if (!isVersion(canary?.version) || typeof canary.weight !== 'number' || !(canary.weight > 0 && canary.weight < 1)) {
        throw invalid(`${MANIFEST_FILE}: models.${name}.canary must be { "version": <positive integer>, "weight": <between 0 and 1> }`, JSON.stringify(canary));
      }
      if (entry['default'] === undefined) throw invalid(`${MANIFEST_FILE}: models.${name}.canary needs a default to split traffic with`);
    }
    const weights = entry['weights'] as Record<string, unknown> | undefined;
    if (weights !== undefined) {
      if (typeof weights !== 'object' || weights === null) throw invalid(`${MANIFEST_FILE}: models.${name}.weights must be { "<version>": <weight> }`);
      for (const [version, weight] of Object.entries(weights)) {
        if (parseVersion(version) === undefined || typeof weight !== 'number' || !(weight >= 0)) {
          throw invalid(`${MANIFEST_FILE}: models.${name}.weights must map versions (canonical decimal: "2", not "02") to weights ≥ 0`, `${JSON.stringify(version)}: ${JSON.stringify(weight)}`);
        }
      }
    }
    models[name] = entry as ManifestEntry;
  }
  return { models };
}

/**
 * A refusal that says which field is wrong and what it must be, not what the file holds: it
 * reaches `status()` (and so status.json). What was found travels as the cause, for the log.
 */
function invalid(message: string, found?: string): ModelHostError {
  return new ModelHostError(ErrorCode.INVALID_CONFIG, message, found === undefined ? {} : { cause: new Error(`${message}, got ${found.slice(0, 200)}`) });
}
