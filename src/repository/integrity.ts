import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCode, ModelHostError } from '../errors/index.js';

export const CHECKSUM_FILE = 'SHA256SUMS';

export interface IntegrityResult {
  /** Whether a SHA256SUMS file was found and every file it lists matched. */
  readonly verified: boolean;
  readonly files: number;
}

/**
 * Verifies a version folder against its `SHA256SUMS` (the `sha256sum` format:
 * `<64 hex>  <file>` per line, `*` before the name allowed). Without the file there is
 * nothing to verify. Any mismatch, missing or unlisted-but-malformed entry fails the load.
 */
export async function verifyIntegrity(dir: string, context: { model?: string; version?: number } = {}): Promise<IntegrityResult> {
  let text: string;
  try {
    text = await readFile(path.join(dir, CHECKSUM_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { verified: false, files: 0 };
    throw fail(`${CHECKSUM_FILE} could not be read: ${(error as Error).message}`, context, error);
  }
  const entries = parseChecksums(text, context);
  for (const { hash, file } of entries) {
    const target = path.resolve(dir, file);
    if (!target.startsWith(dir + path.sep)) throw fail(`${CHECKSUM_FILE} lists '${file}', which lies outside the version folder`, context);
    let actual: string;
    try {
      actual = await sha256File(target);
    } catch (error) {
      throw fail(`${CHECKSUM_FILE} lists '${file}', which could not be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, context, error);
    }
    if (actual !== hash) throw fail(`'${file}' has SHA-256 ${actual}, but ${CHECKSUM_FILE} expects ${hash}`, context);
  }
  return { verified: true, files: entries.length };
}

export function parseChecksums(text: string, context: { model?: string; version?: number } = {}): { hash: string; file: string }[] {
  const entries: { hash: string; file: string }[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(line);
    if (match === null) throw fail(`${CHECKSUM_FILE} line ${i + 1} is not '<sha256>  <file>': ${JSON.stringify(line.slice(0, 80))}`, context);
    entries.push({ hash: match[1]!.toLowerCase(), file: match[2]! });
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

function fail(message: string, context: { model?: string; version?: number }, cause?: unknown): ModelHostError {
  const where = context.model === undefined ? '' : `model '${context.model}'${context.version === undefined ? '' : ` v${context.version}`}: `;
  return new ModelHostError(ErrorCode.INTEGRITY_FAILED, `${where}${message}`, { ...context, cause });
}
