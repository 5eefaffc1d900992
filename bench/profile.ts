/**
 * Writes the MLP (onnx) into a temporary repository and runs bench/profile/inproc.mjs on the
 * built package with the Node flags given (profile files land in the current directory):
 *
 *   npm run build && flock /tmp/modelhost-bench.lock npx tsx bench/profile.ts [node flags…] -- <mode> [seconds] [callers]
 *   e.g. npx tsx bench/profile.ts --cpu-prof --cpu-prof-interval=50 -- c 3
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { assertFreshBuild, REPO_ROOT } from './lib/fresh-build.js';
import { writeRepository } from './load/models.js';

assertFreshBuild(path.join(REPO_ROOT, 'dist', 'index.js'), 'bench/profile.ts profiles the built package');
const args = process.argv.slice(2);
const split = args.indexOf('--');
const nodeFlags = split < 0 ? [] : args.slice(0, split);
const rest = split < 0 ? args : args.slice(split + 1);
const root = await mkdtemp(path.join(tmpdir(), 'modelhost-profile-'));
try {
  await writeRepository(root, ['mlp-onnx']);
  const result = spawnSync(process.execPath, [...nodeFlags, path.join(REPO_ROOT, 'bench/profile/inproc.mjs'), root, ...rest], { stdio: 'inherit' });
  process.exitCode = result.status ?? 1;
} finally {
  await rm(root, { recursive: true, force: true });
}
