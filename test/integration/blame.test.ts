import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, ModelHost, type BreakerStateChangedEvent, type ModelHostError, type RequestFailedEvent } from '../../src/index.js';
import { sileroVadPath } from '../fixtures/third-party.js';
import { randomFloats, writeConfig, writeVersion } from '../helpers/repository.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs('all');
let root: string;

const chunk = (samples: number) => ({
  input: { data: randomFloats(samples, 7).map((v) => v * 0.3), shape: [1, samples] },
  sr: { data: [16000], shape: [] },
  h: { data: new Float32Array(128), shape: [2, 1, 64] },
  c: { data: new Float32Array(128), shape: [2, 1, 64] },
});

/**
 * The field report: Silero VAD requests with 0 audio samples make onnxruntime throw (500).
 * Ten of them used to open the version's breaker, and every client got 503 CIRCUIT_OPEN.
 */
describe('one client cannot open the breaker for everyone (Silero VAD, real onnxruntime)', () => {
  beforeAll(async () => {
    root = await tempDir();
    await writeVersion(root, 'vad', 1, { 'model.onnx': readFileSync(sileroVadPath()) });
    await writeConfig(root, 'vad', {
      warmup: { inputs: { input: { shape: [1, 512] }, sr: { data: [16000], shape: [] }, h: { shape: [2, 1, 64] }, c: { shape: [2, 1, 64] } } },
      instances: { kind: 'inline' },
    });
  });

  let host: ModelHost | undefined;
  afterAll(async () => {
    await host?.close();
  });

  for (const warmedByTraffic of [true, false]) {
    it(`10 requests with 0 audio samples fail as their own (INVALID_INPUT, 400), the breaker stays closed, others are served${warmedByTraffic ? '' : ' (no request served before: the warmup set is the probe)'}`, async () => {
      host = new ModelHost({ repository: root });
      const opened: BreakerStateChangedEvent[] = [];
      const failed: RequestFailedEvent[] = [];
      host.on('breakerStateChanged', (e) => opened.push(e));
      host.on('requestFailed', (e) => failed.push(e));
      await host.load('vad');
      if (warmedByTraffic) expect((await host.predict('vad', chunk(512)))['output']!.shape).toEqual([1, 1]);
      for (let i = 0; i < 10; i++) {
        const error = (await host.predict('vad', chunk(0)).catch((e: ModelHostError) => e)) as ModelHostError;
        expect(error).toMatchObject({ code: ErrorCode.INVALID_INPUT, message: expect.stringMatching(/^model 'vad' v1: the runtime rejected this request's inputs \(input: float32 \[1, 0\], sr: int64 \[\], h: float32 \[2, 1, 64\], c: float32 \[2, 1, 64\]\) \(blamed on the request: it fails again on its own/) });
        expect((error.cause as Error).message).not.toBe('');
      }
      expect(failed.map((f) => f.blame)).toEqual(Array(10).fill('request'));
      expect(opened).toEqual([]);
      expect(host.status('vad').versions[0]!.breaker).toBe('closed');
      // Another client, right after.
      expect((await host.predict('vad', chunk(512)))['output']!.shape).toEqual([1, 1]);
      await host.close();
      host = undefined;
    });
  }
});
