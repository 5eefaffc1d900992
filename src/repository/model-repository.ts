import { readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCode, ModelHostError } from '../errors/index.js';
import { displayPath, isInside, readInside, reasonOf } from './confined-path.js';
import { assertModelName, isModelName, parseVersion } from './model-name.js';
import { versionFingerprint } from './version-fingerprint.js';

/**
 * A model repository on local disk (DESIGN §5):
 * `<root>/<model>/config.json`, `<root>/<model>/<version>/model.json|model.onnx`,
 * `<root>/<model>/<version>/SHA256SUMS`. Every path it returns and every file it reads is
 * confined to the root, symlinks included; its messages name paths relative to the root.
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
      .flatMap((e) => ((e.isDirectory() || e.isSymbolicLink()) ? (parseVersion(e.name) ?? []) : []))
      .sort((a, b) => a - b);
  }

  /**
   * Folders of a model that look like versions but are not in canonical form (`01`, `1.0`,
   * `+1`): `listVersions` skips them. For error messages only (a readdir each call).
   */
  async misnamedVersions(name: string): Promise<string[]> {
    const entries = await readdir(await this.modelDir(name), { withFileTypes: true });
    return entries
      .filter((e) => (e.isDirectory() || e.isSymbolicLink()) && /^[+-]?[0-9]/.test(e.name) && parseVersion(e.name) === undefined)
      .map((e) => e.name)
      .sort();
  }

  /** The parsed `config.json` of a model, or undefined when it has none. Validation is the host's. */
  async readConfig(name: string): Promise<unknown> {
    const root = await this.resolvedRoot();
    const file = path.join(await this.modelDir(name), 'config.json');
    let text: string;
    try {
      text = (await readInside(root, file, { model: name, maxBytes: MAX_CONFIG_BYTES })).toString('utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      if (error instanceof ModelHostError) throw error; // LOAD_FAILED: it links out of the repository
      throw new ModelHostError(ErrorCode.INVALID_CONFIG, (error as Error).message, { model: name, cause: error });
    }
    try {
      return JSON.parse(text);
    } catch (error) {
      // V8's message quotes the text: it stays in `cause`, for the logger only.
      throw new ModelHostError(ErrorCode.INVALID_CONFIG, `${displayPath(root, file)} is not valid JSON`, { model: name, cause: error });
    }
  }

  /** The real path of a version folder, confined to the repository. */
  async versionDir(name: string, version: number): Promise<string> {
    const modelDir = await this.modelDir(name);
    const dir = path.join(modelDir, String(version));
    try {
      if (!(await stat(dir)).isDirectory()) throw new Error('not a folder');
    } catch {
      throw new ModelHostError(ErrorCode.VERSION_NOT_FOUND, `model '${name}' has no version ${version} in the repository`, { model: name, version });
    }
    return this.confine(dir, name, version);
  }

  /**
   * A version folder as a runtime source: real paths, and the repository root that no file
   * read from it may lead out of.
   */
  async versionSource(name: string, version: number): Promise<{ readonly kind: 'directory'; readonly path: string; readonly root: string }> {
    const dir = await this.versionDir(name, version);
    return { kind: 'directory', path: dir, root: await this.resolvedRoot() };
  }

  /** A summary of a version folder's files that changes when they do (`version-fingerprint.ts`). */
  async versionFingerprint(name: string, version: number): Promise<string> {
    return versionFingerprint(await this.versionDir(name, version));
  }

  /** The real path of the repository root; every file read from it must stay below. */
  resolvedRoot(): Promise<string> {
    this.realRoot ??= realpath(this.root).catch((error: unknown) => {
      this.realRoot = undefined;
      throw new ModelHostError(ErrorCode.INVALID_CONFIG, `the repository folder ${reasonOf(error)}`, { cause: error });
    });
    return this.realRoot;
  }

  /** A path relative to the root, for messages. */
  display(file: string): string {
    return displayPath(this.root, file);
  }

  private async modelDir(name: string): Promise<string> {
    assertModelName(name);
    const dir = path.join(this.root, name);
    try {
      if (!(await stat(dir)).isDirectory()) throw new Error('not a folder');
    } catch {
      throw new ModelHostError(ErrorCode.MODEL_NOT_FOUND, `no model '${name}' in the repository`, { model: name });
    }
    return this.confine(dir, name);
  }

  private async confine(dir: string, model: string, version?: number): Promise<string> {
    const root = await this.resolvedRoot();
    const real = await realpath(dir);
    if (!isInside(root, real)) {
      throw new ModelHostError(ErrorCode.LOAD_FAILED, `${this.display(dir)} links outside the repository`, {
        model,
        version,
        cause: new Error(`${dir} resolves to ${real}, outside the repository ${root}`),
      });
    }
    return real;
  }
}

/** Largest `config.json` read, bytes: options fit in a few KiB; a huge file is a mistake or an attack. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

