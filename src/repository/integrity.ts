import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCode, isModelHostError, ModelHostError } from '../errors/index.js';
import { displayPath, readInside, reasonOf, resolveInside, safeName } from './confined-path.js';

export const CHECKSUM_FILE = 'SHA256SUMS';

export interface IntegrityResult {
  /** Whether a SHA256SUMS file was found and every file of the version was listed and matched. */
  readonly verified: boolean;
  readonly files: number;
  /** When verified: the SHA-256 (hex) of each file by `/`-separated name, to check reads against. */
  readonly checksums?: ReadonlyMap<string, string>;
}

export interface IntegrityOptions {
  /** The folder no file may lead out of (a real path): the repository root. Default: the version folder. */
  readonly root?: string;
  /** Refuse a version without `SHA256SUMS` instead of loading it unverified. Default false. */
  readonly required?: boolean;
  readonly model?: string;
  readonly version?: number;
}

/** A version folder holding more files than this is refused rather than walked. */
const MAX_FILES = 10_000;
const MAX_DEPTH = 16;
/** Largest `SHA256SUMS` read, bytes: MAX_FILES lines of a hash and a name of a few hundred characters. */
const MAX_SUMS_BYTES = 4 * 1024 * 1024;

/**
 * Verifies a version folder (a real path) against its `SHA256SUMS` (the `sha256sum` format:
 * `<64 hex>  <file>` per line, `*` before the name allowed). When the file is present,
 * every file of the version (subfolders included, `SHA256SUMS` itself excepted) must be
 * listed and match, and every listed file must exist: a shard the list forgot cannot be
 * swapped. Without it there is nothing to verify, unless `required`.
 *
 * @throws ModelHostError `INTEGRITY_FAILED` naming the file (relative to the root), never its contents
 * @throws ModelHostError `LOAD_FAILED` when a file links out of the root
 */
export async function verifyIntegrity(dir: string, options: IntegrityOptions = {}): Promise<IntegrityResult> {
  const root = options.root ?? dir;
  const context = { model: options.model, version: options.version };
  const shownDir = displayPath(root, dir);
  const sumsFile = path.join(dir, CHECKSUM_FILE);
  let text: string;
  try {
    text = (await readInside(root, sumsFile, { ...context, maxBytes: MAX_SUMS_BYTES })).toString('utf8');
  } catch (error) {
    if (isModelHostError(error)) throw error;
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      if (options.required) throw fail(`${shownDir} has no ${CHECKSUM_FILE}, and checksums are required (requireChecksums)`, context);
      return { verified: false, files: 0 };
    }
    throw fail((error as Error).message, context, error);
  }
  const entries = parseChecksums(text, context);
  let present: Map<string, string>;
  try {
    present = await listFiles(root, dir, context);
  } catch (error) {
    if (isModelHostError(error)) throw error;
    throw fail(`${shownDir} ${reasonOf(error)}`, context, error);
  }
  const listed = new Map<string, string>();
  for (const { hash, file, line } of entries) {
    const name = path.posix.normalize(file.replaceAll('\\', '/'));
    const shown = safeName(name) === undefined ? `the file on line ${line}` : `'${name}'`;
    if (!present.has(name)) throw fail(`${CHECKSUM_FILE} of ${shownDir} lists ${shown}, which is not a file of the version`, context, new Error(`line ${line} names ${JSON.stringify(file)}`));
    if (listed.has(name)) throw fail(`${CHECKSUM_FILE} of ${shownDir} lists ${shown} twice`, context);
    listed.set(name, hash);
  }
  for (const name of present.keys()) {
    if (!listed.has(name)) throw fail(`${displayPath(root, path.join(dir, name))} is not listed in ${CHECKSUM_FILE}: every file of a version with one must be`, context);
  }
  for (const [name, hash] of listed) {
    const file = path.join(dir, name);
    let actual: string;
    try {
      actual = await sha256File(present.get(name)!);
    } catch (error) {
      throw fail(`${displayPath(root, file)} ${reasonOf(error)}`, context, error);
    }
    if (actual !== hash) throw fail(`${displayPath(root, file)} does not match its SHA-256 in ${CHECKSUM_FILE}`, context, new Error(`SHA-256 ${actual}, expected ${hash}`));
  }
  return { verified: true, files: listed.size, checksums: listed };
}

/** Lines of a `SHA256SUMS` file. A malformed line is refused by number, never quoted. */
export function parseChecksums(text: string, context: { model?: string; version?: number } = {}): { hash: string; file: string; line: number }[] {
  const entries: { hash: string; file: string; line: number }[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(line);
    if (match === null) throw fail(`${CHECKSUM_FILE} line ${i + 1} is not '<sha256>  <file>'`, context);
    entries.push({ hash: match[1]!.toLowerCase(), file: match[2]!, line: i + 1 });
  }
  return entries;
}

export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('error', reject)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/**
 * The files of a version folder: relative name (`/`-separated) → real path. Symlinks are
 * followed only inside the root; a link out fails the load.
 */
async function listFiles(root: string, dir: string, context: { model?: string; version?: number }): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const walk = async (folder: string, prefix: string, depth: number): Promise<void> => {
    if (depth > MAX_DEPTH) throw fail(`${displayPath(root, folder)} is nested more than ${MAX_DEPTH} folders deep`, context);
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      const name = prefix + entry.name;
      if (name === CHECKSUM_FILE) continue;
      const file = path.join(folder, entry.name);
      let kind = entry.isDirectory() ? 'folder' : entry.isFile() ? 'file' : 'other';
      if (entry.isSymbolicLink()) kind = (await lstat(await resolveInside(root, file, { ...context, kind: 'any' }))).isDirectory() ? 'folder' : 'file';
      if (kind === 'folder') {
        await walk(file, `${name}/`, depth + 1);
      } else {
        // Regular files only: a FIFO or device would never finish hashing.
        files.set(name, await resolveInside(root, file, context));
        if (files.size > MAX_FILES) throw fail(`${displayPath(root, dir)} holds more than ${MAX_FILES} files`, context);
      }
    }
  };
  await walk(dir, '', 0);
  return files;
}

function fail(message: string, context: { model?: string; version?: number }, cause?: unknown): ModelHostError {
  const where = context.model === undefined ? '' : `model '${context.model}'${context.version === undefined ? '' : ` v${context.version}`}: `;
  return new ModelHostError(ErrorCode.INTEGRITY_FAILED, `${where}${message}`, { ...context, cause });
}
