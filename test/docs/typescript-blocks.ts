/**
 * The ```ts blocks of README.md and docs/*.md, read the same way by the test that type-checks
 * them (typescript-examples.test.ts) and the one that runs them (run-typescript-examples.test.ts).
 *
 * A block's first line may opt out, with a reason:
 *   // not checked: <reason>   neither type-checked nor run (not code: a shape listing, a missing dependency)
 *   // not run: <reason>       type-checked against the public API, but not executed here
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../..', import.meta.url));

const NOT_CHECKED = /^\s*\/\/\s*not checked:(.*)$/;
const NOT_RUN = /^\s*\/\/\s*not run:(.*)$/;

export interface TsBlock {
  /** `docs/guide.md:42`: the file and the fence's line. */
  readonly where: string;
  readonly code: string;
  /** Why the block is not checked (nor run), when it opts out. */
  readonly notChecked?: string;
  /** Why the block is type-checked but not run, when it opts out of running. */
  readonly notRun?: string;
}

export function tsBlocks(file: string): TsBlock[] {
  const relative = path.relative(root, file);
  const lines = readFileSync(file, 'utf8').split('\n');
  const blocks: TsBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^```(ts|typescript)\s*$/.exec(lines[i]!);
    if (!fence) continue;
    const line = i + 1;
    const body: string[] = [];
    for (i++; i < lines.length && !lines[i]!.startsWith('```'); i++) body.push(lines[i]!);
    const notChecked = NOT_CHECKED.exec(body[0] ?? '');
    const notRun = NOT_RUN.exec(body[0] ?? '');
    blocks.push({
      where: `${relative}:${line}`,
      code: body.join('\n'),
      ...(notChecked ? { notChecked: notChecked[1]!.trim() } : {}),
      ...(notRun ? { notRun: notRun[1]!.trim() } : {}),
    });
  }
  return blocks;
}

export const markdownFiles = [
  path.join(root, 'README.md'),
  ...readdirSync(path.join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => path.join(root, 'docs', name)),
];
