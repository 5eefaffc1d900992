export type { Runtime, Session, ModelSource, RuntimeLoadOptions, RuntimeMemory, WorkerEntry } from './runtime.js';
export { RuntimeRegistry, BUILTIN_RUNTIMES } from './runtime-registry.js';
export { ModelFiles } from './model-files.js';
export { tfjsRuntime, tfjsBackendInUse } from './tfjs/tfjs-runtime.js';
export type { TfjsSettings } from './tfjs/tfjs-runtime.js';
export { onnxRuntime } from './onnx/onnx-runtime.js';
export type { OnnxSettings } from './onnx/onnx-runtime.js';
