import { describe, expect, it } from 'vitest';
import { ErrorCode, ModelHost, type ModelHostError, type RequestFailedEvent } from '../../../src/index.js';
import { FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';

describe('refusals are counted', () => {
  it('every request that named a loaded model is counted with its code: INVALID_INPUT, bad options, unknown version', async () => {
    const host = new ModelHost({ runtimes: { fake: fakeRuntime() } });
    const failed: RequestFailedEvent[] = [];
    host.on('requestFailed', (e) => failed.push(e));
    await host.load('m', { source: FAKE_SOURCE });
    const code = (p: Promise<unknown>) => p.then(() => 'ok', (e: ModelHostError) => e.code);
    expect(await code(host.predict('m', [1, 2]))).toBe(ErrorCode.INVALID_INPUT); // wrong shape
    expect(await code(host.predict('m', { y: [1, 2, 3, 4] }))).toBe(ErrorCode.INVALID_INPUT); // wrong input name
    expect(await code(host.predict('m', [1, 2, 3, 4], { priority: 0.5 }))).toBe(ErrorCode.INVALID_INPUT);
    expect(await code(host.predict('m', [1, 2, 3, 4], { version: 9 }))).toBe(ErrorCode.VERSION_NOT_FOUND);
    expect(await code(host.predict('unknown', [1, 2, 3, 4]))).toBe(ErrorCode.MODEL_NOT_FOUND); // not counted per name: names are data
    expect(await code(host.predict('m', [1, 2, 3, 4]))).toBe('ok');

    expect(failed.map((e) => [e.model, e.version, e.code])).toEqual([
      ['m', 1, 'INVALID_INPUT'],
      ['m', 1, 'INVALID_INPUT'],
      ['m', 1, 'INVALID_INPUT'],
      ['m', 1, 'VERSION_NOT_FOUND'],
    ]);
    const window = host.stats('m').versions[1]!.windows['1m'];
    expect(window).toMatchObject({ requests: 5, errors: 4, errorsByCode: { INVALID_INPUT: 3, VERSION_NOT_FOUND: 1 } });
    // Refusals never count against the model: its breaker stays closed.
    expect(host.status('m').versions[0]!.breaker).toBe('closed');
    await host.close();
  });
});
