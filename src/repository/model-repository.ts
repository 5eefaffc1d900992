import { open, readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCode, ModelHostError } from '../errors/index.js';
import { assertModelName, isModelName } from './model-name.js';

const VERSION_FOLDER = /^[1-9][0-9]{0,15}$/;

/**
 * A model repository on local disk (DESIGN §5):
 * `<root>/<model>/config.json`, `<root>/<model>/<version>/model.json|model.onnx`,
 * `<root>/<model>/<version>/SHA256SUMS`. Every path it returns is confined to the root,
 * symlinks included.
 */
export class ModelRepository {
  readonly root: string;
  private realRoot: Promise<string> | undefined;

  constructor(root: string) {
    if (typeof root !== 'string' || root === '') {
      throw new ModelHostError(ErrorCode.INVALID_CONFIG, `repository must be a folder path, got ${JSON.stringify(root)}`);
    }
    this.root = path.resolve(root);
  }

  /** Names of the model folders in the repository. */
  async listModels(): Promise<string[]> {
    const entries = await readdir(await this.resolvedRoot(), { withFileTypes: true });
    return entries.filter((e) => (e.isDirectory() || e.isSymbolicLink()) && isModelName(e.name)).map((e) => e.name).sort();
  }

  /** Whether the repository has a folder for this model. */
  async hasModel(name: string): Promise<boolean> {
    assertModelName(name);
    try {
      return (await stat(path.join(this.root, name))).isDirectory();
    } catch {
      return false;
    }
  }

  /** Versions of a model on disk (positive integer folder names), ascending. */
  async listVersions(name: string): Promise<number[]> {
    const dir = await this.modelDir(name);
    const entries = await readdir(dir, { withFileTypes: true });
    return entries
      .filter((e) => (e.isDirectory() || e.isSymbolicLink()) && VERSION_FOLDER.test(e.name))
      .map((e) => Number(e.name))
      .filter(Number.isSafeInteger)
      .sort((a, b) => a - b);
  }

  /** The parsed `config.json` of a model, or undefined when it has none. Validation is the host's. */
  async readConfig(name: string): Promise<unknown> {
    const file = path.join(await this.modelDir(name), 'config.json');
    let text: string;
    try {
      const bytes = await readAtMost(file, MAX_CONFIG_BYTES + 1);
      if (bytes === undefined) return undefined;
      if (bytes.byteLength > MAX_CONFIG_BYTES) {
        throw new ModelHostError(ErrorCode.INVALID_CONFIG, `${this.display(file)} is larger than ${MAX_CONFIG_BYTES} bytes, the limit of a config.json`, { model: name });
      }
      text = bytes.toString('utf8');
    } catch (error) {
      if (error instanceof ModelHostError) throw error;
      throw new ModelHostError(ErrorCode.INVALID_CONFIG, `${this.display(file)} could not be read: ${(error as Error).message}`, { model: name, cause: error });
    }
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new ModelHostError(ErrorCode.INVALID_CONFIG, `${this.display(file)} is not valid JSON: ${(error as Error).message}`, { model: name, cause: error });
    }
  }

  /** The real path of a version folder, confined to the repository. */
  async versionDir(name: string, version: number): Promise<string> {
    const modelDir = await this.modelDir(name);
    const dir = path.join(modelDir, String(version));
    try {
      if (!(await stat(dir)).isDirectory()) throw new Error('not a folder');
    } catch {
      throw new ModelHostError(ErrorCode.VERSION_NOT_FOUND, `model '${name}' has no version ${version} in ${this.root}`, { model: name, version });
    }
    return this.confine(dir, name, version);
  }

  /** A path relative to the root, for messages. */
  display(file: string): string {
    return path.relative(process.cwd(), file) || '.';
  }

  private async modelDir(name: string): Promise<string> {
    assertModelName(name);
    const dir = path.join(this.root, name);
    try {
      if (!(await stat(dir)).isDirectory()) throw new Error('not a folder');
    } catch {
      throw new ModelHostError(ErrorCode.MODEL_NOT_FOUND, `no model '${name}' in the repository ${this.root}`, { model: name });
    }
    return this.confine(dir, name);
  }

  private async confine(dir: string, model: string, version?: number): Promise<string> {
    const root = await this.resolvedRoot();
    const real = await realpath(dir);
    if (real !== root && !real.startsWith(root + path.sep)) {
      throw new ModelHostError(ErrorCode.LOAD_FAILED, `${this.display(dir)} resolves to ${real}, outside the repository ${root}`, { model, version });
    }
    return real;
  }

  private resolvedRoot(): Promise<string> {
    this.realRoot ??= realpath(this.root).catch((error: unknown) => {
      this.realRoot = undefined;
      throw new ModelHostError(ErrorCode.INVALID_CONFIG, `repository ${this.root} cannot be read: ${(error as Error).message}`, { cause: error });
    });
    return this.realRoot;
  }
}

/** Largest `config.json` read, bytes: options fit in a few KiB; a huge file is a mistake or an attack. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/** Up to `limit` bytes of a file (whatever its size, or if it grows while read); undefined when it does not exist. */
async function readAtMost(file: string, limit: number): Promise<Buffer | undefined> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    // Sized by the file, so the common few-KiB config costs a few KiB; one more byte tells "larger".
    const buffer = Buffer.alloc(Math.min(limit, (await handle.stat()).size + 1));
    let length = 0;
    while (length < buffer.byteLength) {
      const { bytesRead } = await handle.read(buffer, length, buffer.byteLength - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    return buffer.subarray(0, length);
  } finally {
    await handle.close();
  }
}
