import { ErrorCode, ModelHostError } from '../errors/index.js';
import { onnxRuntime } from './onnx/onnx-runtime.js';
import type { Runtime } from './runtime.js';
import { tfjsRuntime } from './tfjs/tfjs-runtime.js';

export const BUILTIN_RUNTIMES: Readonly<Record<string, Runtime>> = Object.freeze({ tfjs: tfjsRuntime, onnx: onnxRuntime });

/** Runtimes by name: the built-in `tfjs` and `onnx`, plus the host's custom ones. */
export class RuntimeRegistry {
  private readonly runtimes = new Map<string, Runtime>();

  constructor(custom: Readonly<Record<string, Runtime>> = {}) {
    for (const [name, runtime] of Object.entries(BUILTIN_RUNTIMES)) this.runtimes.set(name, runtime);
    for (const [name, runtime] of Object.entries(custom)) {
      if (typeof runtime?.load !== 'function') {
        throw new ModelHostError(ErrorCode.INVALID_CONFIG, `runtimes.${name} must be a Runtime (an object with load()), got ${typeof runtime}`);
      }
      this.runtimes.set(name, runtime);
    }
  }

  has(name: string): boolean {
    return this.runtimes.has(name);
  }

  names(): string[] {
    return [...this.runtimes.keys()];
  }

  get(name: string): Runtime {
    const runtime = this.runtimes.get(name);
    if (runtime === undefined) {
      throw new ModelHostError(ErrorCode.INVALID_CONFIG, `unknown runtime '${name}'; known runtimes: ${this.names().join(', ')}`);
    }
    return runtime;
  }

  /** The runtime that recognizes these files (`model.json` → tfjs, `model.onnx` → onnx). */
  detect(files: readonly string[]): Runtime | undefined {
    for (const runtime of this.runtimes.values()) if (runtime.canLoad?.(files)) return runtime;
    return undefined;
  }

  all(): Runtime[] {
    return [...this.runtimes.values()];
  }
}
