import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ErrorCode, type ModelHostError } from '../../../src/index.js';
import { cancels, ModelTimeline, type Operation, type OperationKind } from '../../../src/registry/model-timeline.js';
import { deferred } from '../../helpers/fake-runtime.js';

const op = (kind: OperationKind, version?: number): Operation => ({ kind, version, automatic: false });

/** The operations named in the table's header and first column. */
const NAMED: Record<string, (v: number | undefined) => Operation> = {
  '`load(v)`': (v) => op('load', v),
  '`load`': (v) => op('load', v),
  '`load()` (policy)': () => op('load'),
  '`deploy(v)`': (v) => op('deploy', v),
  '`deploy`': (v) => op('deploy', v),
  '`promote`': () => op('promote'),
  '`setTraffic`': () => op('traffic'),
  '`rollback`': () => op('rollback'),
  '`unload(m)`': () => op('unload'),
  '`unload(m, v)`': (v) => op('unload', v),
  poll: () => op('poll'),
};

describe('ModelTimeline', () => {
  it('cancels exactly as the table in docs/versions.md says', () => {
    const doc = readFileSync(new URL('../../../docs/versions.md', import.meta.url), 'utf8');
    const lines = doc.split('\n');
    const start = lines.findIndex((line) => line.startsWith('| A ↓'));
    const end = lines.findIndex((line, i) => i > start && !line.startsWith('|'));
    const rows = lines
      .slice(start, end)
      .filter((line) => !line.startsWith('|---'))
      .map((line) => line.split('|').slice(1, -1).map((cell) => cell.trim()));
    const header = rows[0]!.slice(1);
    const body = rows.slice(1);
    expect(body.length).toBe(9);
    let checked = 0;
    for (const [a, ...cells] of body) {
      cells.forEach((cell, i) => {
        const b = header[i]!;
        for (const [va, vb] of [[1, 1], [1, 2]] as const) {
          const earlier = NAMED[a!]!(va);
          const later = NAMED[b]!(vb);
          const expected = cell.startsWith('**cancels A**') && (!cell.includes('if same `v`') || va === vb);
          expect({ a, b, va, vb, cancels: cancels(later, earlier) }).toEqual({ a, b, va, vb, cancels: expected });
          checked++;
        }
      });
    }
    expect(checked).toBe(9 * 8 * 2);
    // The guard's own rollback cancels nothing.
    expect(cancels({ kind: 'rollback', version: 2, automatic: true }, op('deploy', 3))).toBe(false);
  });

  it('runs one model\'s operations in order and different models concurrently; a cancelled queued one answers at once', async () => {
    const timeline = new ModelTimeline();
    const order: string[] = [];
    const hold = deferred();
    const first = timeline.run('m', op('load', 1), async () => {
      await hold.promise;
      order.push('m load');
    });
    const second = timeline.run('m', op('deploy', 2), async () => void order.push('m deploy'));
    await timeline.run('n', op('load', 1), async () => void order.push('n load'));
    expect(order).toEqual(['n load']);
    expect(timeline.pending('m').map((o) => o.kind)).toEqual(['load', 'deploy']);
    const rollback = timeline.run('m', op('rollback'), async (_signal, cancelled) => void order.push(`m rollback (cancelled ${cancelled.map((c) => c.kind)})`));
    await expect(second).rejects.toMatchObject({ code: ErrorCode.CANCELLED });
    hold.resolve(undefined);
    await first;
    await rollback;
    expect(order).toEqual(['n load', 'm load', 'm rollback (cancelled deploy)']);
    expect(timeline.pending('m')).toEqual([]);
  });

  it('a running operation sees its signal abort when a later one cancels it', async () => {
    const timeline = new ModelTimeline();
    const hold = deferred();
    const running = timeline.run('m', op('load', 1), async (signal) => {
      await hold.promise;
      signal.throwIfAborted();
    });
    const unloading = timeline.run('m', op('unload'), async () => 'unloaded');
    hold.resolve(undefined);
    const error = (await running.catch((e: ModelHostError) => e)) as ModelHostError;
    expect(error).toMatchObject({ code: ErrorCode.CANCELLED, message: "model 'm': the load of v1 was cancelled by a later unload" });
    expect(await unloading).toBe('unloaded');
  });
});
