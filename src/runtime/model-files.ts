import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCode, ModelHostError } from '../errors/index.js';
import type { ModelSource } from './runtime.js';

/**
 * Reads the files of a model source, whatever its kind. File names are relative to the
 * source and may not leave it: a weights manifest naming `../../etc/passwd` is refused.
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

  async read(name: string): Promise<Uint8Array> {
    const relative = confine(name);
    const { source } = this;
    switch (source.kind) {
      case 'directory':
        return readFile(path.join(source.path, relative));
      case 'memory': {
        const file = source.files[relative];
        if (file === undefined) throw Object.assign(new Error(`no file '${relative}' in the in-memory model`), { code: 'ENOENT' });
        return typeof file === 'string' ? new TextEncoder().encode(file) : file;
      }
      case 'url': {
        const url = new URL(relative, source.url.endsWith('/') ? source.url : `${source.url}/`);
        const response = await fetch(url);
        if (!response.ok) throw Object.assign(new Error(`GET ${url.href} answered ${response.status}`), { code: response.status === 404 ? 'ENOENT' : 'EHTTP' });
        return new Uint8Array(await response.arrayBuffer());
      }
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

  describe(): string {
    const { source } = this;
    return source.kind === 'directory' ? source.path : source.kind === 'url' ? source.url : 'in-memory model';
  }
}

/** Normalizes a relative file name and refuses any that escapes its source. */
export function confine(name: string): string {
  const normalized = path.posix.normalize(name.replaceAll('\\', '/'));
  if (normalized.startsWith('../') || normalized === '..' || path.posix.isAbsolute(normalized) || normalized.includes('\0')) {
    throw new ModelHostError(ErrorCode.LOAD_FAILED, `model file '${name}' lies outside the model's folder`);
  }
  return normalized;
}
