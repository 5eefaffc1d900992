/**
 * The quickstart: `npm start`.
 *
 * Materializes a small model repository on first run (MobileNetV2 from nsfwjs, Silero VAD,
 * and a small MLP as both tfjs and ONNX), loads every model, prints its metadata and one
 * prediction.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelHost, type Outputs } from 'modelhost';
import { materializeDemoRepository } from '../../scripts/demo-repository.js';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), 'models');
const { created } = await materializeDemoRepository(root);
console.log(`${created ? 'wrote' : 'using'} the demo model repository in ${path.relative(process.cwd(), root) || '.'}\n`);

const host = new ModelHost({ repository: root });
host.on('warning', (w) => console.warn(`warning: ${w.message}`));

const examples: Record<string, () => Promise<Outputs>> = {
  // A 224x224 RGB image with values in [0, 1]: here a smooth gradient.
  mobilenet: () => host.predict('mobilenet', Float32Array.from({ length: 224 * 224 * 3 }, (_, i) => (i % 672) / 672)),
  // 32 ms of audio at 16 kHz (a 440 Hz tone) and the recurrent state, which starts at zero.
  vad: () =>
    host.predict('vad', {
      input: { data: Float32Array.from({ length: 512 }, (_, i) => 0.5 * Math.sin((2 * Math.PI * 440 * i) / 16000)), shape: [1, 512] },
      sr: { data: [16000], shape: [] },
      h: { data: new Float32Array(128), shape: [2, 1, 64] },
      c: { data: new Float32Array(128), shape: [2, 1, 64] },
    }),
  mlp: () => host.predict('mlp', Float32Array.from({ length: 64 }, (_, i) => Math.sin(i))),
  'mlp-onnx': () => host.predict('mlp-onnx', Float32Array.from({ length: 64 }, (_, i) => Math.sin(i))),
};

for (const [name, predict] of Object.entries(examples)) {
  const started = performance.now();
  const { version } = await host.load(name);
  const meta = host.metadata(name);
  console.log(`${name} v${version} (${meta.runtime}, loaded and warmed up in ${Math.round(performance.now() - started)} ms)`);
  for (const spec of meta.inputs) console.log(`  input  ${spec.name}: ${spec.dtype}[${spec.shape.join(', ')}]`);
  for (const spec of meta.outputs) console.log(`  output ${spec.name}: ${spec.dtype}[${spec.shape.join(', ')}]`);
  const outputs = await predict();
  for (const [output, tensor] of Object.entries(outputs)) {
    const values = Array.from(tensor.data as Float32Array).slice(0, 5).map((v) => Number(v).toFixed(4));
    console.log(`  → ${output} [${tensor.shape.join(', ')}]: ${values.join(', ')}${tensor.data.length > 5 ? ', …' : ''}`);
  }
  console.log();
}

await host.close();
