import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCode, ModelHostError } from '../errors/index.js';
import { displayPath, readInside } from '../repository/confined-path.js';
import type { ModelSource } from './runtime.js';

/**
 * Reads the files of a model source, whatever its kind. File names are relative to the
 * source and may not leave it: a weights manifest naming `../../etc/passwd` is refused, and
 * so is a `model.onnx` or a shard that is a symlink leading out of the repository.
 * Errors say which file failed, relative to the repository, never what it holds.
 */
export class ModelFiles {
  constructor(readonly source: ModelSource) {}

  /** File names at the top of the source. */
  async list(): Promise<string[]> {
    const { source } = this;
    switch (source.kind) {
      case 'directory':
        return (await readdir(source.path, { withFileTypes: true })).filter((e) => e.isFile() || e.isSymbolicLink()).map((e) => e.name);
      case 'memory':
        return Object.keys(source.files);
      case 'url':
        return []; // an HTTP source cannot be listed; runtimes probe the files they expect
    }
  }

  /**
   * The bytes of one file.
   *
   * @throws ModelHostError `LOAD_FAILED` naming the file (relative to the repository) and why
   */
  async read(name: string): Promise<Uint8Array> {
    const relative = confine(name);
    const { source } = this;
    switch (source.kind) {
      case 'directory': {
        let bytes: Uint8Array;
        try {
          bytes = await readInside(source.root ?? source.path, path.join(source.path, relative), { rootName: source.root === undefined ? "the model's folder" : 'the repository' });
        } catch (error) {
          if (error instanceof ModelHostError) throw error;
          throw new ModelHostError(ErrorCode.LOAD_FAILED, (error as Error).message, { cause: error });
        }
        if (source.checksums !== undefined) this.checkSum(relative, bytes, source.checksums);
        return bytes;
      }
      case 'memory': {
        const file = source.files[relative];
        if (file === undefined) throw new ModelHostError(ErrorCode.LOAD_FAILED, `the in-memory model has no file '${relative}'`);
        return typeof file === 'string' ? new TextEncoder().encode(file) : file;
      }
      case 'url': {
        const url = new URL(relative, source.url.endsWith('/') ? source.url : `${source.url}/`);
        let response: Response;
        try {
          response = await fetch(url);
        } catch (error) {
          throw new ModelHostError(ErrorCode.LOAD_FAILED, `GET ${url.href} failed`, { cause: error });
        }
        if (!response.ok) throw new ModelHostError(ErrorCode.LOAD_FAILED, `GET ${url.href} answered ${response.status}`);
        return new Uint8Array(await response.arrayBuffer());
      }
    }
  }

  /** The bytes read must be the bytes SHA256SUMS vouched for, not a later rewrite. */
  private checkSum(name: string, bytes: Uint8Array, checksums: ReadonlyMap<string, string>): void {
    const expected = checksums.get(name);
    if (expected === undefined) throw new ModelHostError(ErrorCode.INTEGRITY_FAILED, `${this.display(name)} is not listed in SHA256SUMS`);
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== expected) {
      throw new ModelHostError(ErrorCode.INTEGRITY_FAILED, `${this.display(name)} changed after it was verified: it no longer matches its SHA-256 in SHA256SUMS`, {
        cause: new Error(`SHA-256 ${actual}, expected ${expected}`),
      });
    }
  }

  async readText(name: string): Promise<string> {
    return new TextDecoder().decode(await this.read(name));
  }

  async exists(name: string): Promise<boolean> {
    const { source } = this;
    if (source.kind === 'memory') return Object.hasOwn(source.files, confine(name));
    if (source.kind === 'directory') return (await this.list()).includes(name);
    try {
      await this.read(name);
      return true;
    } catch {
      return false;
    }
  }

  /** How messages name a file of this source: relative to the repository (`mlp/1/model.onnx`), never absolute. */
  display(name: string): string {
    const { source } = this;
    if (source.kind === 'directory') return displayPath(source.root ?? source.path, path.join(source.path, name));
    if (source.kind === 'url') return new URL(name, source.url.endsWith('/') ? source.url : `${source.url}/`).href;
    return name;
  }

  /** How messages name the source: `mlp/1`, the model folder, a URL, or the in-memory model. */
  describe(): string {
    const { source } = this;
    if (source.kind === 'directory') {
      const shown = displayPath(source.root ?? source.path, source.path);
      return shown === '.' ? 'the model folder' : shown;
    }
    return source.kind === 'url' ? source.url : 'the in-memory model';
  }
}

/** Normalizes a relative file name and refuses any that escapes its source. */
export function confine(name: string): string {
  const normalized = path.posix.normalize(name.replaceAll('\\', '/'));
  if (normalized.startsWith('../') || normalized === '..' || path.posix.isAbsolute(normalized) || normalized.includes('\0')) {
    // Not repeated: the name may be an absolute path of the host's.
    throw new ModelHostError(ErrorCode.LOAD_FAILED, `a model file name lies outside the model's folder`, { cause: new Error(`model file name ${JSON.stringify(name)}`) });
  }
  return normalized;
}
