/**
 * GET /openapi.json: a valid OpenAPI 3.1 document (checked by @apidevtools/swagger-parser)
 * that names exactly the routes the handler serves, and whose schemas hold for real
 * exchanges: every operation it describes is called on a real server over a repository of
 * real ONNX models, and each request body and answer is validated against the document
 * with ajv (JSON Schema 2020-12, the dialect of OpenAPI 3.1).
 */
import SwaggerParser from '@apidevtools/swagger-parser';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAGES, ROUTES } from '../../../src/adapters/http/http-handler.js';
import { ModelHost } from '../../../src/index.js';
import { collectMetrics } from '../../../src/metrics/prometheus.js';
import { onnxAffine, onnxMlp } from '../../fixtures/onnx-models.js';
import { writeVersion } from '../../helpers/repository.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { serve, type Served } from './serve.js';

const tempDir = useTempDirs('all');
const AUTH = { authorization: 'Bearer an-admin-token-for-tests' };
const METHODS = ['get', 'put', 'post', 'delete'] as const;

interface Operation {
  requestBody?: { content: Record<string, { schema: object }> };
  responses: Record<string, { content?: Record<string, { schema: object }> }>;
  security?: unknown[];
}
type Document = { paths: Record<string, Partial<Record<(typeof METHODS)[number], Operation>>> };

/** A concrete path for a template, with the values the exchanges below use. */
function concrete(template: string, values: Record<string, string> = {}): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => values[name] ?? { model: 'affine', version: '1', label: 'default', asset: 'uplot.min.js' }[name]!);
}

describe('OpenAPI description (GET /openapi.json)', () => {
  let host: ModelHost;
  let served: Served;
  let document: Document;
  let dereferenced: Document;
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  const exercised = new Set<string>();

  beforeAll(async () => {
    const repository = await tempDir();
    await writeVersion(repository, 'affine', 1, { 'model.onnx': onnxAffine({ size: 4, scale: 2, bias: 1 }) });
    await writeVersion(repository, 'affine', 2, { 'model.onnx': onnxAffine({ size: 4, scale: 3, bias: 0 }) });
    await writeVersion(repository, 'mlp', 1, { 'model.onnx': onnxMlp({ inputs: 8, hidden: [16], outputs: 3, seed: 2 }) });
    host = new ModelHost({ repository, defaults: { rollout: { enabled: true } }, models: { affine: { feedback: { task: 'regression' } } } });
    await host.load('affine', { version: 1 });
    await host.load('mlp');
    const registry = new Registry();
    collectMetrics(host, { registry });
    served = await serve(host, { metrics: registry, authorize: (request) => request.headers['authorization'] === AUTH.authorization || 401 });
    const response = await fetch(`${served.url}/openapi.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    document = (await response.json()) as Document;
    dereferenced = (await SwaggerParser.dereference(structuredClone(document) as never)) as unknown as Document;
  });

  afterAll(async () => {
    await served?.close();
    await host?.close();
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    expect(document).toMatchObject({ openapi: '3.1.0', info: { title: 'modelhost' } });
    await expect(SwaggerParser.validate(structuredClone(document) as never)).resolves.toBeDefined();
  });

  it('names every route the handler serves, and no other', () => {
    const routes = [...ROUTES, ...PAGES];
    const operations = Object.entries(document.paths).flatMap(([template, item]) => METHODS.filter((m) => item[m] !== undefined).map((m) => ({ method: m.toUpperCase(), template })));
    for (const { method, template } of operations) {
      expect(routes.some((r) => r.method === method && r.pattern.test(concrete(template))), `${method} ${template} is served`).toBe(true);
    }
    for (const r of routes) {
      expect(operations.some((o) => o.method === r.method && r.pattern.test(concrete(o.template))), `${r.method} ${r.pattern} is described`).toBe(true);
    }
    expect(operations).toHaveLength(routes.length);
  });

  /**
   * Sends one request and checks it against the document: the request body against the
   * operation's request schema, the status among its responses, the answer against that
   * response's schema for its content type.
   */
  async function exchange(method: string, template: string, options: { values?: Record<string, string>; body?: unknown; status?: number; headers?: Record<string, string>; schemaRefuses?: boolean } = {}): Promise<unknown> {
    const operation = dereferenced.paths[template]?.[method.toLowerCase() as (typeof METHODS)[number]];
    expect(operation, `${method} ${template} is described`).toBeDefined();
    const where = `${method} ${concrete(template, options.values)}`;
    if (options.body !== undefined) {
      const schema = operation!.requestBody?.content['application/json']?.schema;
      expect(schema, `${where} describes a JSON body`).toBeDefined();
      // A body the document already refuses (schemaRefuses) must be refused by the server too.
      expect(ajv.validate(schema!, options.body), `${where} request: ${ajv.errorsText()}`).toBe(options.schemaRefuses !== true);
    }
    const response = await fetch(`${served.url}${concrete(template, options.values)}`, {
      method,
      headers: { ...(template.startsWith('/admin') || template.startsWith('/v2/repository') ? AUTH : {}), ...options.headers },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const text = await response.text();
    expect(response.status, `${where}: ${text.slice(0, 300)}`).toBe(options.status ?? 200);
    const described = operation!.responses[String(response.status)];
    expect(described, `${where} answers ${response.status}, which the document lists`).toBeDefined();
    const type = (response.headers.get('content-type') ?? '').split(';')[0]!.trim();
    const content = described!.content?.[type];
    expect(content, `${where}: the document lists ${type} for ${response.status}`).toBeDefined();
    exercised.add(`${method} ${template}`);
    if (type !== 'application/json') return text;
    const body = JSON.parse(text) as unknown;
    expect(ajv.validate(content!.schema, body), `${where} response ${JSON.stringify(body).slice(0, 300)}: ${ajv.errorsText()}`).toBe(true);
    return body;
  }

  const x = (n: number) => ({ inputs: [{ name: 'x', shape: [n, 4], datatype: 'FP32', data: Array.from({ length: n * 4 }, (_, i) => i) }] });

  it('describes every real answer: KServe v2', async () => {
    expect(await exchange('GET', '/v2')).toMatchObject({ name: 'modelhost' });
    await exchange('GET', '/v2/health/live');
    await exchange('GET', '/v2/health/ready');
    expect(await exchange('GET', '/v2/models/{model}')).toMatchObject({ name: 'affine', inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 4] }] });
    await exchange('GET', '/v2/models/{model}', { values: { model: 'nope' }, status: 404 });
    await exchange('GET', '/v2/models/{model}/versions/{version}');
    await exchange('GET', '/v2/models/{model}/versions/{version}', { values: { version: '7' }, status: 404 });
    await exchange('GET', '/v2/models/{model}/ready');
    await exchange('GET', '/v2/models/{model}/versions/{version}/ready', { values: { version: '2' }, status: 503 });
    expect(await exchange('POST', '/v2/models/{model}/infer', { body: { id: 'r1', ...x(2) } })).toMatchObject({ model_name: 'affine', model_version: '1', id: 'r1', outputs: [{ name: 'y', shape: [2, 4], datatype: 'FP32' }] });
    expect(await exchange('POST', '/v2/models/{model}/feedback', { body: { id: 'r1', ground_truth: [1, 3] }, headers: AUTH })).toMatchObject({ model_name: 'affine', id: 'r1', matched: true, labels: 2 });
    await exchange('POST', '/v2/models/{model}/feedback', { body: { id: 'r1', ground_truth: 'three' }, headers: AUTH, status: 400, schemaRefuses: true });
    await exchange('POST', '/v2/models/{model}/versions/{version}/infer', { body: { ...x(1), parameters: { binary_data_output: true } } });
    await exchange('POST', '/v2/models/{model}/infer', { body: { inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] }, status: 400 });
    await exchange('POST', '/v2/models/{model}/infer', { values: { model: 'mlp' }, body: { inputs: [{ name: 'x', shape: [1, 8], datatype: 'FP32', data: [1, 2, 3, 4, 5, 6, 7, 8] }], outputs: [{ name: (host.metadata('mlp').outputs[0]!.name) }] } });
  });

  it('describes every real answer: admin, KServe repository and TF Serving', async () => {
    expect(await exchange('POST', '/v2/repository/index')).toEqual(expect.arrayContaining([{ name: 'affine', version: '1', state: 'READY', reason: '' }]));
    // The index is a read-only listing, open like the metadata routes: the document asks for no token.
    expect(document.paths['/v2/repository/index']?.post?.security).toBeUndefined();
    expect(await exchange('POST', '/v2/repository/index', { body: { ready: true }, headers: { authorization: '' } })).toEqual(expect.arrayContaining([{ name: 'affine', version: '1', state: 'READY', reason: '' }]));
    await exchange('POST', '/v2/repository/index', { body: { readdy: true }, status: 400, schemaRefuses: true });
    await exchange('POST', '/admin/models/{model}/deploy', { body: { version: 2, canary: 0.25 } });
    await exchange('GET', '/v1/models/{model}/labels/{label}', { values: { label: 'canary' } });
    await exchange('GET', '/v1/models/{model}/labels/{label}/metadata');
    await exchange('POST', '/v1/models/{model}/labels/{label}:predict', { values: { label: 'canary' }, body: { instances: [[1, 2, 3, 4]] } });
    await exchange('POST', '/v1/models/{model}/labels/{label}:predict', { values: { label: 'nightly' }, body: { instances: [[1, 2, 3, 4]] }, status: 404 });
    expect(await exchange('GET', '/status.json')).toMatchObject({ models: [{ name: 'affine', candidate: 2, guard: { active: true, candidate: 2, baseline: 1 } }, { name: 'mlp' }] });
    await exchange('PUT', '/admin/models/{model}/traffic', { body: { weights: { '1': 0.5, '2': 0.5 } } });
    expect(await exchange('POST', '/admin/models/{model}/promote')).toMatchObject({ model: 'affine', version: 2 });
    expect(await exchange('POST', '/admin/models/{model}/rollback')).toEqual({ model: 'affine', version: 1, from: 2 });
    await exchange('GET', '/v1/models/{model}');
    await exchange('GET', '/v1/models/{model}/versions/{version}');
    await exchange('GET', '/v1/models/{model}/metadata');
    await exchange('GET', '/v1/models/{model}/versions/{version}/metadata');
    expect(await exchange('POST', '/v1/models/{model}:predict', { body: { instances: [[1, 2, 3, 4], [0, 0, 0, 0]] } })).toEqual({ predictions: [[3, 5, 7, 9], [1, 1, 1, 1]] });
    await exchange('POST', '/v1/models/{model}/versions/{version}:predict', { body: { inputs: [[1, 1, 1, 1]] } });
    await exchange('POST', '/v1/models/{model}:predict', { body: { instances: [[1, 2, 3, 4]], inputs: [[1, 2, 3, 4]] }, status: 400, schemaRefuses: true });
    await exchange('DELETE', '/admin/models/{model}/versions/{version}', { values: { model: 'mlp' } });
    await exchange('POST', '/admin/models/{model}/load', { values: { model: 'mlp' }, body: { version: 1 } });
    await exchange('DELETE', '/admin/models/{model}', { values: { model: 'mlp' } });
    await exchange('POST', '/v2/repository/models/{model}/load', { values: { model: 'mlp' }, body: { parameters: { version: '1' } } });
    await exchange('POST', '/v2/repository/models/{model}/unload', { values: { model: 'mlp' }, body: {} });
    await exchange('POST', '/admin/models/{model}/load', { values: { model: 'nope' }, status: 404 });
    await exchange('POST', '/admin/models/{model}/promote', { headers: { authorization: 'Bearer wrong' }, status: 401 });
  });

  it('describes every real answer: operations', async () => {
    expect(await exchange('GET', '/metrics')).toMatch(/modelhost_requests_total/);
    await exchange('GET', '/status.json');
    await exchange('GET', '/openapi.json');
    await exchange('GET', '/');
    await exchange('GET', '/status');
    await exchange('GET', '/status/{asset}');
    await exchange('GET', '/status/{asset}', { values: { asset: 'uplot.min.css' } });
  });

  it('had a real exchange for every operation it describes', () => {
    const operations = Object.entries(document.paths).flatMap(([template, item]) => METHODS.filter((m) => item[m] !== undefined).map((m) => `${m.toUpperCase()} ${template}`));
    expect(operations.filter((o) => !exercised.has(o))).toEqual([]);
  });
});
