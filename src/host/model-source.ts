import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode, ModelHostError } from '../errors/index.js';
import type { ModelSource } from '../runtime/index.js';

/** What `load(name, { source })` accepts besides the repository. */
export type SourceInput =
  /** A folder path, or a `file://` or `http(s)://` URL of a version folder. */
  | string
  | URL
  /** The bytes of a `model.onnx`. */
  | Uint8Array
  /** In-memory files keyed by name: `{ 'model.onnx': bytes }` or `{ 'model.json': json, 'group1-shard1of1.bin': bytes }`. */
  | { readonly files: Readonly<Record<string, Uint8Array | string>> };

export async function toModelSource(input: SourceInput, model: string): Promise<ModelSource> {
  if (input instanceof Uint8Array) return { kind: 'memory', files: { 'model.onnx': input } };
  if (typeof input === 'object' && input !== null && !(input instanceof URL)) {
    const files = (input as { files?: unknown }).files;
    if (typeof files !== 'object' || files === null || Array.isArray(files)) {
      throw invalid(model, `source must be a path, a URL, the bytes of a model.onnx or { files }, got ${describe(input)}`);
    }
    for (const [name, content] of Object.entries(files)) {
      if (typeof content !== 'string' && !(content instanceof Uint8Array)) {
        throw invalid(model, `source.files['${name}'] must be a string or a Uint8Array, got ${describe(content)}`);
      }
    }
    return { kind: 'memory', files: files as Record<string, Uint8Array | string> };
  }
  let url: URL | undefined;
  if (input instanceof URL) url = input;
  else if (typeof input === 'string' && /^(file|https?):\/\//i.test(input)) url = new URL(input);
  else if (typeof input !== 'string' || input === '') throw invalid(model, `source must be a path, a URL, the bytes of a model.onnx or { files }, got ${describe(input)}`);
  if (url !== undefined && url.protocol !== 'file:') {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid(model, `source URL must be file:, http: or https:, got ${url.protocol}`);
    return { kind: 'url', url: url.href };
  }
  const dir = path.resolve(url === undefined ? (input as string) : fileURLToPath(url));
  let real: string;
  try {
    if (!(await stat(dir)).isDirectory()) throw new Error('not a folder');
    real = await realpath(dir);
  } catch {
    throw new ModelHostError(ErrorCode.LOAD_FAILED, `source ${dir} is not a readable folder`, { model });
  }
  // No file read from it may lead out of it (root defaults to path).
  return { kind: 'directory', path: real };
}

function invalid(model: string, message: string): ModelHostError {
  return new ModelHostError(ErrorCode.INVALID_INPUT, `load('${model}'): ${message}`, { model });
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? (value.constructor?.name ?? 'an object') : typeof value;
}
