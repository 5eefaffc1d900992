import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCode, ModelHostError } from '../errors/index.js';
import type { ModelSource } from './runtime.js';

/** The files that name a model in a folder served over HTTP (tfjs, onnx): probed, since it cannot be listed. */
export const URL_ENTRY_FILES = ['model.json', 'model.onnx'] as const;

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
      case 'url': {
        // An HTTP folder cannot be listed: look for the entry file of each built-in runtime.
        const present = await Promise.all(URL_ENTRY_FILES.map((name) => this.probe(name)));
        return URL_ENTRY_FILES.filter((_, i) => present[i]);
      }
    }
  }

  /** Whether `name` answers 2xx under a URL source: HEAD, or GET where HEAD is not allowed. */
  private async probe(name: string): Promise<boolean> {
    const url = this.urlOf(name);
    const head = await fetch(url, { method: 'HEAD' }).catch(() => undefined);
    if (head === undefined) return false;
    if (head.ok) return true;
    if (head.status !== 405 && head.status !== 501 && head.status !== 403) return false;
    const get = await fetch(url).catch(() => undefined);
    await get?.body?.cancel();
    return get?.ok ?? false;
  }

  private urlOf(relative: string): URL {
    const { source } = this;
    if (source.kind !== 'url') throw new Error('not a URL source');
    return new URL(relative, source.url.endsWith('/') ? source.url : `${source.url}/`);
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
        const url = this.urlOf(relative);
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
