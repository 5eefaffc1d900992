import { createRequire } from 'node:module';
import path from 'node:path';
import { ErrorCode, ModelHostError } from '../../errors/index.js';
import { importPeer } from '../optional-peer.js';
import type * as tfjs from '@tensorflow/tfjs';

export type Tfjs = typeof tfjs;

/** `auto` picks `node` (tfjs-node) when installed, else `wasm`, else `cpu`. */
export type TfjsBackendName = 'auto' | 'node' | 'wasm' | 'cpu';
export const TFJS_BACKENDS: readonly TfjsBackendName[] = ['auto', 'node', 'wasm', 'cpu'];

export interface TfjsEngine {
  readonly tf: Tfjs;
  /** The backend in use: `node`, `wasm` or `cpu`. */
  readonly backend: Exclude<TfjsBackendName, 'auto'>;
}

// tfjs has one active backend per process (per worker thread), so the choice is made once.
let engine: Promise<TfjsEngine> | undefined;

/** Loads tfjs with the requested backend, or returns the engine already chosen in this thread. */
export async function useTfjs(requested: TfjsBackendName = 'auto'): Promise<TfjsEngine> {
  if (engine === undefined) {
    const pending = initialize(requested);
    engine = pending;
    pending.catch(() => {
      if (engine === pending) engine = undefined; // let a corrected config try again
    });
  }
  const active = await engine;
  if (requested !== 'auto' && active.backend !== requested) {
    throw new ModelHostError(
      ErrorCode.INVALID_CONFIG,
      `tfjs.backend '${requested}' was requested, but this process already runs tfjs on '${active.backend}' (tfjs has one backend per thread); use one backend for every tfjs model, or 'auto'`,
    );
  }
  return active;
}

async function initialize(requested: TfjsBackendName): Promise<TfjsEngine> {
  if (requested === 'node' || requested === 'auto') {
    try {
      const tf = unwrap(await importPeer<Tfjs>('@tensorflow/tfjs-node', "tfjs.backend 'node'"), 'setBackend');
      await tf.ready();
      return { tf, backend: 'node' };
    } catch (error) {
      if (requested === 'node') throw error;
    }
  }
  const tf = unwrap(await importPeer<Tfjs>('@tensorflow/tfjs', 'The tfjs runtime', '@tensorflow/tfjs @tensorflow/tfjs-backend-wasm'), 'setBackend');
  if (requested === 'wasm' || requested === 'auto') {
    try {
      const wasm = await importPeer<{ setWasmPaths(prefix: string): void }>('@tensorflow/tfjs-backend-wasm', "tfjs.backend 'wasm'");
      unwrap(wasm, 'setWasmPaths').setWasmPaths(wasmDirectory());
      if (await tf.setBackend('wasm')) {
        await tf.ready();
        return { tf, backend: 'wasm' };
      }
      throw new ModelHostError(ErrorCode.UNSUPPORTED_MODEL, 'the tfjs wasm backend failed to initialize');
    } catch (error) {
      if (requested === 'wasm') throw error;
    }
  }
  if (!(await tf.setBackend('cpu'))) throw new ModelHostError(ErrorCode.UNSUPPORTED_MODEL, 'the tfjs cpu backend failed to initialize');
  await tf.ready();
  return { tf, backend: 'cpu' };
}

/** The folder holding the `.wasm` binaries, resolved from where the package is installed. */
function wasmDirectory(): string {
  const require = createRequire(import.meta.url);
  return `${path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'))}${path.sep}`;
}

// CommonJS packages imported from ESM may arrive as `{ default: module }`.
function unwrap<T extends object>(mod: T, member: string): T {
  if (member in mod) return mod;
  return ((mod as { default?: T }).default ?? mod) as T;
}
