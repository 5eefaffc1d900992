import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('examples/monitoring', () => {
  it('samples into a file, detects the shift only after it, follows accuracy down, answers a repeat from the cache', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'examples/monitoring/index.ts'], { cwd: root, encoding: 'utf8' });
    const lines = stdout.split('\n');
    const shift = lines.findIndex((l) => l.startsWith('before the shift'));
    expect(lines[shift]).toBe('before the shift: accuracy 1.000, drift events so far: none expected');
    // No drift over the stable windows; the inputs' drift after the shift, naming the features.
    expect(lines.slice(0, shift).filter((l) => l.startsWith('driftDetected'))).toEqual([]);
    expect(lines.slice(shift).some((l) => /^driftDetected: inputs of mlp-onnx v1, score \d+\.\d\d, drifted: x\[0\], x\[1\], x\[2\], … \(64 features\)$/.test(l))).toBe(true);
    const after = Number(/after the shift: accuracy (\d\.\d{3})/.exec(stdout)![1]);
    expect(after).toBeLessThan(1);
    expect(after).toBeGreaterThan(0.6);
    const stats = /sampled (\d+) of 6003 requests; input windows compared (\d+), drifted (\d+); cache hits 1, misses 6002/.exec(stdout)!;
    expect(stats).not.toBeNull();
    const sampled = Number(stats[1]);
    // About a quarter of 6003 (rate 0.25): 1500 ± 5 standard deviations.
    expect(Math.abs(sampled - 1500.75)).toBeLessThan(5 * Math.sqrt(6003 * 0.25 * 0.75));
    expect(Number(stats[3])).toBeGreaterThanOrEqual(1);
    expect(stdout).toContain(`${sampled} sampled requests written to mlp-onnx.jsonl (0 dropped); the first: {"timestamp":"`);
  });
});
