/**
 * Writes the MLP (onnx) into a temporary repository and runs bench/profile/inproc.mjs on the
 * built package with the Node flags given (profile files land in the current directory):
 *
 *   npm run build && flock /tmp/modelhost-bench.lock npx tsx bench/profile.ts [node flags…] -- <mode> [seconds] [callers]
 *   e.g. npx tsx bench/profile.ts --cpu-prof --cpu-prof-interval=50 -- c 3
 *
 * or bench/profile/compare.mjs, two builds in one process (a before/after on a shared machine):
 *
 *   npx tsx bench/profile.ts -- compare cb 2 -- /tmp/base/dist
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { assertFreshBuild, REPO_ROOT } from './lib/fresh-build.js';
import { writeRepository } from './load/models.js';

assertFreshBuild(path.join(REPO_ROOT, 'dist', 'index.js'), 'bench/profile.ts profiles the built package');
const argv = process.argv.slice(2);
const split = argv.indexOf('--');
const nodeFlags = split < 0 ? [] : argv.slice(0, split);
const rest = split < 0 ? argv : argv.slice(split + 1);

/** `compare <cb|ca> [seconds] [callers] -- <other dist>` → compare.mjs's positional arguments. */
function compareArgs(words: string[]): string[] {
  const at = words.indexOf('--');
  const other = at < 0 ? undefined : words[at + 1];
  if (other === undefined) throw new Error('usage: bench/profile.ts -- compare <cb|ca> [seconds] [callers] -- <other dist dir>');
  const [mode = 'cb', seconds = '1', callers = ''] = words.slice(0, at);
  return [mode, seconds, callers, other];
}
const root = await mkdtemp(path.join(tmpdir(), 'modelhost-profile-'));
try {
  await writeRepository(root, ['mlp-onnx']);
  // `compare` runs two builds in one process (bench/profile/compare.mjs); any other mode, inproc.mjs.
  const script = rest[0] === 'compare' ? 'compare.mjs' : 'inproc.mjs';
  const args = rest[0] === 'compare' ? compareArgs(rest.slice(1)) : rest;
  const result = spawnSync(process.execPath, [...nodeFlags, path.join(REPO_ROOT, 'bench/profile', script), root, ...args], { stdio: 'inherit' });
  process.exitCode = result.status ?? 1;
} finally {
  await rm(root, { recursive: true, force: true });
}
