/**
 * Review of issue 19 (session 11): a gRPC inference is named by one id a client can send
 * feedback with, as over HTTP. Before the fix a request without `id` ('' in proto3) was
 * answered `id: ''` and served without an id, so its prediction could never get a label; an
 * error carried no id at all.
 */
import { describe, expect, it } from 'vitest';
import { ModelHost } from '../../../src/index.js';
import { FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';
import { call, failure, grpc, useGrpc } from './client.js';

const { start } = useGrpc('each');
const REQUEST = { model_name: 'm', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], contents: { fp32_contents: [1, 0, 0, 0] } }] };

async function started() {
  const logged: { message: string; fields: Record<string, unknown> }[] = [];
  const record = (message: string, fields?: unknown) => logged.push({ message, fields: (fields ?? {}) as Record<string, unknown> });
  const logger = { debug: record, info: record, warn: record, error: record };
  const runtime = fakeRuntime({ failRun: (inputs) => ((inputs['x']!.data as Float32Array).includes(13) ? new Error('run failed') : undefined) });
  const host = new ModelHost({ runtimes: { fake: runtime }, logger, defaults: { warmup: false }, models: { m: { feedback: { task: 'regression' } } } });
  await host.load('m', { source: FAKE_SOURCE });
  return { host, logged, ...(await start(host)) };
}

describe('gRPC request ids', () => {
  it('a request without id is answered with a new one, and feedback joins a label with it', async () => {
    const { host, client } = await started();
    const response = await call(client, 'ModelInfer', REQUEST);
    expect(response.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(host.feedback('m', response.id, 3)).toMatchObject({ matched: true, absoluteError: 0 });
  });

  it('the call\'s x-request-id metadata names it when the message has no id; the message\'s id wins over it', async () => {
    const { host, client } = await started();
    const metadata = new grpc.Metadata();
    metadata.set('x-request-id', 'meta-1');
    expect((await call(client, 'ModelInfer', REQUEST, { metadata })).id).toBe('meta-1');
    expect((await call(client, 'ModelInfer', { ...REQUEST, id: 'msg-1' }, { metadata })).id).toBe('msg-1');
    expect(host.feedback('m', 'meta-1', 3).matched).toBe(true);
    expect(host.feedback('m', 'msg-1', 3).matched).toBe(true);
  });

  it('an error carries the id in its x-request-id trailer, and the log line about it names the same id', async () => {
    const { client, logged } = await started();
    await call(client, 'ModelInfer', REQUEST); // a success: the failure below is the model's
    const named = await failure(call(client, 'ModelInfer', { ...REQUEST, id: 'fails-1', inputs: [{ ...REQUEST.inputs[0]!, contents: { fp32_contents: [13, 13, 13, 13] } }] }));
    expect(named.metadata.get('x-request-id')).toEqual(['fails-1']);
    expect(logged.find((l) => l.message === 'inference failed' || l.message === 'input rejected by the runtime')?.fields['requestId']).toBe('fails-1');
    const unnamed = await failure(call(client, 'ModelInfer', { ...REQUEST, model_name: 'nope' }));
    expect(unnamed.metadata.get('x-request-id')[0]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('ModelStreamInfer: each answer (a success or an error) carries its request\'s id, a new one when it had none (not the stream\'s metadata id, which would name them all alike)', async () => {
    const { client } = await started();
    const metadata = new grpc.Metadata();
    metadata.set('x-request-id', 'the-stream');
    const stream = client.ModelStreamInfer(metadata);
    const answers: any[] = [];
    const ended = new Promise<void>((resolve, reject) => {
      stream.on('data', (r: any) => answers.push(r));
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    stream.write(REQUEST);
    stream.write({ ...REQUEST, model_name: 'nope' });
    stream.end();
    await ended;
    expect(answers).toHaveLength(2);
    for (const answer of answers) expect(answer.infer_response.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(answers[0].infer_response.id).not.toBe(answers[1].infer_response.id);
  });
});
