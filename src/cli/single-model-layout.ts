/**
 * How `modelhost serve <dir> --model-name <name>` finds one model in a folder laid out the
 * way KServe's storage initializer leaves `/mnt/models`: the contents of the `storageUri`
 * copied as they are. Three layouts are accepted, tried in this order:
 *
 * - `repository`: `<dir>/<name>/<version>/…`, a model repository that holds the model (as
 *   Triton's runtime expects); served from the repository, with polling and `config.json`;
 * - `versions`: `<dir>/<version>/model.json|model.onnx`, one model's folder (TF Serving's
 *   `--model_base_path`); the newest version serves, with `<dir>/config.json` if there is one;
 * - `files`: `<dir>/model.json|model.onnx`, one version's files; served as version 1.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCode, ModelHostError, type LoadOptions } from 'modelhost';
import { assertModelName, parseVersion } from '../repository/model-name.js';

export type SingleModelLayout =
  | { readonly kind: 'repository' }
  | { readonly kind: 'versions'; readonly version: number; readonly dir: string; readonly config: string | undefined }
  | { readonly kind: 'files'; readonly version: 1; readonly dir: string };

const MODEL_FILES = ['model.json', 'model.onnx'];

/**
 * The layout of `dir` for the model `name`.
 * @throws Error naming the folder and the layouts looked for, when none matches, or when `dir`
 * is a file (a `model.onnx` path: its folder is what to give); and the
 * `INVALID_CONFIG` ModelHostError of `assertModelName` for a name that is not a model name.
 */
export async function findSingleModel(dir: string, name: string): Promise<SingleModelLayout> {
  assertModelName(name);
  if ((await stat(dir)).isFile()) throw new Error(`${dir} is a file: give the folder that holds it (${path.dirname(dir)})`);
  const entries = await readdir(dir, { withFileTypes: true });
  const isFolder = (e: (typeof entries)[number]) => e.isDirectory() || e.isSymbolicLink();
  if (entries.some((e) => e.name === name && isFolder(e)) && (await stat(path.join(dir, name))).isDirectory()) return { kind: 'repository' };
  const versions = entries.flatMap((e) => (isFolder(e) ? (parseVersion(e.name) ?? []) : []));
  if (versions.length > 0) {
    const version = Math.max(...versions);
    const config = entries.some((e) => e.name === 'config.json' && e.isFile()) ? path.join(dir, 'config.json') : undefined;
    return { kind: 'versions', version, dir: path.join(dir, String(version)), config };
  }
  if (entries.some((e) => e.isFile() && MODEL_FILES.includes(e.name))) return { kind: 'files', version: 1, dir };
  throw new Error(`${dir} holds neither a folder '${name}' (a model repository), version folders (1/, 2/, …) nor ${MODEL_FILES.join(' or ')}`);
}

/**
 * What `host.load(name, …)` needs for the layout: nothing for a repository (it loads from
 * there), else the version folder as the source, its number, and the model's `config.json`.
 * @throws ModelHostError `INVALID_CONFIG` when `config.json` cannot be read or parsed.
 */
export async function loadOptionsFor(layout: SingleModelLayout): Promise<LoadOptions> {
  if (layout.kind === 'repository') return {};
  if (layout.kind === 'files' || layout.config === undefined) return { version: layout.version, source: layout.dir };
  let text: string;
  try {
    text = await readFile(layout.config, 'utf8');
  } catch (error) {
    throw new ModelHostError(ErrorCode.INVALID_CONFIG, `config.json could not be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`, { cause: error });
  }
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (error) {
    // JSON.parse's message quotes the file: it stays in `cause`.
    throw new ModelHostError(ErrorCode.INVALID_CONFIG, 'config.json is not valid JSON', { cause: error });
  }
  return { version: layout.version, source: layout.dir, config: config as LoadOptions['config'] };
}
