/**
 * modelhost as users run it: the built package (`dist/index.js`, from `npm run build`),
 * not the sources through tsx. tsx's keepNames transform wraps every closure a request
 * creates in a `__name` call, which made a one-caller request on a no-work runtime cost
 * ~5.8 µs from source against ~3.1 µs built (bench/host-cost.ts, same run). Values come
 * from `dist/`, types from the sources they were built from. Refuses a `dist/` older than
 * `src/`.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as Source from '../../src/index.js';
import { assertFreshBuild, REPO_ROOT } from './fresh-build.js';

const BUILT = path.join(REPO_ROOT, 'dist', 'index.js');
assertFreshBuild(BUILT, 'the in-process benches measure the built package, as users run it');
const built = (await import(pathToFileURL(BUILT).href)) as typeof Source;

export const ModelHost = built.ModelHost;
export type ModelHost = Source.ModelHost;
export const JsonlSink = built.JsonlSink;
export type JsonlSink = Source.JsonlSink;
export const ErrorCode = built.ErrorCode;
export type ErrorCode = Source.ErrorCode;
export const isModelHostError = built.isModelHostError;
export const onnxRuntime = built.onnxRuntime;
export const tfjsRuntime = built.tfjsRuntime;
export type { BatchCompletedEvent, ModelHostOptions, ModelOptions, Runtime, Tensor } from '../../src/index.js';
