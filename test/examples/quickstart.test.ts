import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('examples/quickstart (npm start)', () => {
  it('materializes the demo repository, loads every model and prints a prediction for each', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'examples/quickstart/index.ts'], { cwd: root, encoding: 'utf8' });
    for (const model of ['mobilenet v1 (tfjs', 'vad v1 (onnx', 'mlp v1 (tfjs', 'mlp-onnx v1 (onnx']) expect(stdout).toContain(model);
    expect(stdout).toMatch(/→ dense_3 \[5\]: (\d\.\d{4}, ){4}\d\.\d{4}/);
    expect(stdout).toMatch(/→ output \[1, 1\]: \d\.\d{4}/);
    expect(stdout.match(/→ logits \[10\]: .*/g)).toHaveLength(2);
    // the tfjs and the ONNX MLP hold the same weights, so they print the same logits
    const [tfjsLogits, onnxLogits] = stdout.match(/→ logits \[10\]: .*/g)!;
    expect(tfjsLogits).toBe(onnxLogits);
  });
});
