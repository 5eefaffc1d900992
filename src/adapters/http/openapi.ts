/**
 * The OpenAPI 3.1 description of every route `createHttpHandler` serves (KServe v2 / Open
 * Inference Protocol, the KServe repository extension, TF Serving REST, admin, metrics,
 * health, the status page), served at `GET /openapi.json` for Swagger UI, Postman and client
 * generators. test/adapters/http/openapi.test.ts validates it with @apidevtools/swagger-parser,
 * checks it names exactly the routes of the handler, and checks real answers against its
 * schemas with ajv: keep the three in step when a route changes.
 */
import { DTYPES } from 'modelhost';
import type { RouteHandler } from './http-types.js';

type Schema = Record<string, unknown>;

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
/** A request id: 1–128 visible ASCII characters (request-id.ts). */
const REQUEST_ID_SCHEMA: Schema = { type: 'string', pattern: '^[\\x21-\\x7e]{1,128}$' };
const object = (properties: Record<string, Schema>, required: readonly string[] = [], extra: Schema = {}): Schema => ({ type: 'object', properties, required: [...required], ...extra });
const string: Schema = { type: 'string' };
const boolean: Schema = { type: 'boolean' };
const number: Schema = { type: 'number' };
const integer: Schema = { type: 'integer' };
const optionalInteger: Schema = { type: ['integer', 'null'] };

const PARAMETERS = {
  model: { name: 'model', in: 'path', required: true, description: 'The model name (letters, digits, `_`, `.`, `-`).', schema: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$' } },
  version: { name: 'version', in: 'path', required: true, description: 'A version: a positive integer in canonical decimal form (`1`, not `01` or `1.0`).', schema: { type: 'string', pattern: '^[1-9][0-9]*$' } },
  label: { name: 'label', in: 'path', required: true, description: '`default` (or `stable`): the default version; `canary`: the candidate; any other label is 404.', schema: { type: 'string' } },
  asset: { name: 'asset', in: 'path', required: true, schema: { type: 'string', enum: ['uplot.min.js', 'uplot.min.css'] } },
} as const;

/** The client's name for an inference request (docs/http.md): echoed on every answer, and what feedback names. */
const REQUEST_ID_PARAMETER = {
  name: 'x-request-id',
  in: 'header',
  required: false,
  description: 'Names the request when it is a request id (1–128 visible ASCII characters; else a new UUID does). A KServe body `id` wins over it.',
  schema: REQUEST_ID_SCHEMA,
};
/** Every answer of an inference route, success or error, names its request. */
const REQUEST_ID_HEADERS = { 'x-request-id': { description: 'The request id: the KServe body `id`, else the request\'s `x-request-id` header, else a new UUID. `POST /v2/models/{model}/feedback` takes it.', schema: REQUEST_ID_SCHEMA } };

const jsonContent = (schema: Schema) => ({ 'application/json': { schema } });
const ok = (description: string, schema: Schema) => ({ description, content: jsonContent(schema) });
const error = (name: string) => ({ $ref: `#/components/responses/${name}` });

/** The error answers every model route can give (docs/errors.md has the codes). */
const MODEL_ERRORS = { '400': error('BadRequest'), '404': error('NotFound'), '500': error('ServerError'), '503': error('Unavailable') };
const INFER_ERRORS = { ...MODEL_ERRORS, '413': error('TooLarge'), '415': error('UnsupportedEncoding'), '501': error('UnsupportedTransferCoding'), '429': error('QueueFull'), '499': error('Cancelled'), '504': error('DeadlineExceeded') };
const ADMIN_ERRORS = { ...MODEL_ERRORS, '401': error('Unauthorized'), '415': error('UnsupportedEncoding'), '501': error('UnsupportedTransferCoding'), '403': error('Forbidden'), '422': error('Unprocessable') };

const inferBinary = {
  'application/octet-stream': {
    schema: {
      type: 'string',
      format: 'binary',
      description: 'Binary tensor data extension: the JSON header (its length in the `Inference-Header-Content-Length` header) followed by the raw bytes of the tensors whose `parameters.binary_data_size` it names.',
    },
  },
};


function kserveModel(versioned: boolean) {
  const parameters = versioned ? [PARAMETERS.model, PARAMETERS.version] : [PARAMETERS.model];
  const which = versioned ? 'this version' : 'the default version';
  return {
    metadata: {
      get: { tags: ['KServe v2'], operationId: versioned ? 'kserveVersionMetadata' : 'kserveModelMetadata', summary: `Inputs and outputs of ${which}`, parameters, responses: { '200': ok('Model metadata', ref('KServeModelMetadata')), ...MODEL_ERRORS } },
    },
    ready: {
      get: {
        tags: ['KServe v2'],
        operationId: versioned ? 'kserveVersionReady' : 'kserveModelReady',
        summary: `Whether ${which} is ready`,
        parameters,
        responses: { '200': ok('Ready', ref('KServeModelReady')), '404': error('NotFound'), '503': ok('Known but not ready', ref('KServeModelReady')) },
      },
    },
    infer: {
      post: {
        tags: ['KServe v2'],
        operationId: versioned ? 'kserveVersionInfer' : 'kserveModelInfer',
        summary: `Run ${which}`,
        description: 'Shapes include the batch dimension. Data is row-major, flat or nested; BYTES as strings (UTF-8) or `{"b64": …}`; INT64/UINT64 with every digit; FP16 rounded half to even.',
        parameters: [...parameters, REQUEST_ID_PARAMETER],
        requestBody: { required: true, content: { ...jsonContent(ref('KServeInferRequest')), ...inferBinary } },
        responses: { '200': { description: 'Outputs', headers: REQUEST_ID_HEADERS, content: { ...jsonContent(ref('KServeInferResponse')), ...inferBinary } }, ...INFER_ERRORS },
      },
    },
  };
}

function tfModel(kind: 'model' | 'version' | 'label') {
  const parameters = kind === 'model' ? [PARAMETERS.model] : [PARAMETERS.model, kind === 'version' ? PARAMETERS.version : PARAMETERS.label];
  const suffix = kind === 'model' ? 'Model' : kind === 'version' ? 'Version' : 'Label';
  return {
    status: { get: { tags: ['TF Serving'], operationId: `tfserving${suffix}Status`, summary: 'Version states', parameters, responses: { '200': ok('Status', ref('TfModelStatus')), ...MODEL_ERRORS } } },
    metadata: { get: { tags: ['TF Serving'], operationId: `tfserving${suffix}Metadata`, summary: 'The serving_default signature', parameters, responses: { '200': ok('Metadata', ref('TfModelMetadata')), ...MODEL_ERRORS } } },
    predict: {
      post: {
        tags: ['TF Serving'],
        operationId: `tfserving${suffix}Predict`,
        summary: 'Predict (row `instances` or columnar `inputs` format)',
        parameters: [...parameters, REQUEST_ID_PARAMETER],
        requestBody: { required: true, content: jsonContent(ref('TfPredictRequest')) },
        responses: { '200': { ...ok('Predictions', ref('TfPredictResponse')), headers: REQUEST_ID_HEADERS }, ...INFER_ERRORS },
      },
    },
  };
}

const admin = (operationId: string, summary: string, response: Schema, requestBody?: Schema, parameters: readonly unknown[] = [PARAMETERS.model]) => ({
  tags: ['Admin'],
  operationId,
  summary,
  description: 'Off unless the server passes `authorize(request)` (`modelhost serve --admin-token-file`): 403 without it.',
  security: [{ adminToken: [] }],
  parameters,
  ...(requestBody === undefined ? {} : { requestBody: { required: false, content: jsonContent(requestBody) } }),
  responses: { '200': ok('Done', response), ...ADMIN_ERRORS },
});

const v2 = kserveModel(false);
const v2Version = kserveModel(true);
const tf = tfModel('model');
const tfVersion = tfModel('version');
const tfLabel = tfModel('label');
const versionInBody = { oneOf: [{ type: 'integer', minimum: 1 }, { type: 'string', pattern: '^[1-9][0-9]*$' }] };

const TENSOR_DATA: Schema = { description: 'Row-major values, flat or nested arrays; `{"b64": "…"}` for BYTES.', type: 'array' };
const KSERVE_DATATYPE: Schema = { type: 'string', enum: [...new Set(Object.values(DTYPES).map((d) => d.kserve))] };
const SHAPE: Schema = { type: 'array', items: { type: 'integer', minimum: -1 } };
const TF_TENSOR_INFO = object({ dtype: string, tensor_shape: object({ dim: { type: 'array', items: object({ size: string, name: string }, ['size']) }, unknown_rank: boolean }), name: string }, ['dtype', 'tensor_shape', 'name']);
const LATENCY = object({ p50: number, p99: number }, ['p50', 'p99']);

/** The document (deeply frozen: it is served as it is here). */
export const OPENAPI_DOCUMENT = deepFreeze({
  openapi: '3.1.0',
  info: {
    title: 'modelhost',
    version: '1',
    description:
      'In-process model serving: the KServe v2 / Open Inference Protocol and TF Serving REST APIs, admin routes, Prometheus metrics, health and a status page. Paths are relative to where the handler is mounted (`/` for `modelhost serve`, `/ml` in examples/express-server). Errors are `{"error": "…"}` with the status of docs/errors.md.',
    license: { name: 'MIT', identifier: 'MIT' },
  },
  servers: [{ url: '.', description: 'where this document was served from' }],
  tags: [
    { name: 'KServe v2', description: 'Open Inference Protocol REST (https://kserve.github.io/website/latest/modelserving/data_plane/v2_protocol/)' },
    { name: 'KServe repository', description: 'The KServe model repository extension (admin)' },
    { name: 'TF Serving', description: 'TensorFlow Serving REST (https://www.tensorflow.org/tfx/serving/api_rest)' },
    { name: 'Admin', description: 'Change what serves: load, deploy, promote, rollback, traffic, unload' },
    { name: 'Operations', description: 'Metrics, status, this document' },
  ],
  paths: {
    '/v2': { get: { tags: ['KServe v2'], operationId: 'kserveServerMetadata', summary: 'Server name, version and extensions', responses: { '200': ok('Server metadata', ref('KServeServerMetadata')) } } },
    '/v2/health/live': {
      get: { tags: ['KServe v2'], operationId: 'kserveServerLive', summary: 'Liveness: answers fast under any load', responses: { '200': ok('Live', object({ live: boolean }, ['live'])), '503': ok('Not live', object({ live: boolean }, ['live'])) } },
    },
    '/v2/health/ready': {
      get: {
        tags: ['KServe v2'],
        operationId: 'kserveServerReady',
        summary: 'Readiness: what this host was asked to serve can be served',
        responses: { '200': ok('Ready', object({ ready: boolean }, ['ready'])), '503': ok('Not ready', object({ ready: boolean }, ['ready'])) },
      },
    },
    '/v2/models/{model}': v2.metadata,
    '/v2/models/{model}/ready': v2.ready,
    '/v2/models/{model}/infer': v2.infer,
    '/v2/models/{model}/feedback': {
      post: {
        ...admin('modelhostFeedback', 'A label for a request served earlier (modelhost extension): live accuracy / MAE per version', ref('FeedbackResult'), ref('FeedbackRequest')),
        tags: ['modelhost extensions'],
        description: 'Not part of the Open Inference Protocol. Joins `ground_truth` to the prediction served under `id` (the response `id` / `x-request-id`). Off unless the server passes `authorizeFeedback(request)` or `authorize(request)`: 403 without them. The model needs the `feedback` option (docs/monitoring.md).',
        requestBody: { required: true, content: jsonContent(ref('FeedbackRequest')) },
      },
    },
    '/v2/models/{model}/versions/{version}': v2Version.metadata,
    '/v2/models/{model}/versions/{version}/ready': v2Version.ready,
    '/v2/models/{model}/versions/{version}/infer': v2Version.infer,
    '/v2/repository/index': {
      post: {
        tags: ['KServe repository'],
        operationId: 'kserveRepositoryIndex',
        summary: 'Every version the host knows and its state',
        description: 'A read-only listing, open like the metadata routes (load and unload are the admin part of the extension). `{"ready": true}` keeps the `READY` versions; any other key is 400.',
        requestBody: { required: false, content: jsonContent(object({ ready: boolean }, [], { additionalProperties: false })) },
        responses: { '200': ok('The versions', { type: 'array', items: ref('RepositoryIndexEntry') }), '400': error('BadRequest'), '415': error('UnsupportedEncoding'), '501': error('UnsupportedTransferCoding') },
      },
    },
    '/v2/repository/models/{model}/load': { post: { ...admin('kserveRepositoryLoad', 'Load a model (the newest version, or `parameters.version`)', ref('LoadResult'), ref('LoadRequest')), tags: ['KServe repository'] } },
    '/v2/repository/models/{model}/unload': { post: { ...admin('kserveRepositoryUnload', 'Unload a model (or `version`)', ref('UnloadResult'), object({ version: versionInBody, parameters: object({ unload_dependents: { type: 'boolean' } }, [], { additionalProperties: false }) }, [], { additionalProperties: false })), tags: ['KServe repository'] } },
    '/v1/models/{model}': tf.status,
    '/v1/models/{model}/metadata': tf.metadata,
    '/v1/models/{model}:predict': tf.predict,
    '/v1/models/{model}/versions/{version}': tfVersion.status,
    '/v1/models/{model}/versions/{version}/metadata': tfVersion.metadata,
    '/v1/models/{model}/versions/{version}:predict': tfVersion.predict,
    '/v1/models/{model}/labels/{label}': tfLabel.status,
    '/v1/models/{model}/labels/{label}/metadata': tfLabel.metadata,
    '/v1/models/{model}/labels/{label}:predict': tfLabel.predict,
    '/admin/models/{model}/load': { post: admin('adminLoad', 'Load a model (the newest version, or `version`)', ref('LoadResult'), ref('LoadRequest')) },
    '/admin/models/{model}/deploy': { post: admin('adminDeploy', 'Load, warm and route a version: a full swap, or a `canary`/`shadow` share', ref('RolloutResult'), ref('DeployRequest')) },
    '/admin/models/{model}/promote': { post: admin('adminPromote', 'The candidate becomes the default', ref('RolloutResult')) },
    '/admin/models/{model}/rollback': { post: admin('adminRollback', 'Back to the previous default, instantly', ref('RollbackResult')) },
    '/admin/models/{model}/traffic': { put: admin('adminTraffic', 'Split unpinned traffic between versions', ref('RolloutResult'), ref('TrafficRequest')) },
    '/admin/models/{model}': { delete: admin('adminUnload', 'Unload every version of a model', ref('UnloadResult'), object({ version: versionInBody })) },
    '/admin/models/{model}/versions/{version}': { delete: admin('adminUnloadVersion', 'Unload one version', ref('UnloadResult'), undefined, [PARAMETERS.model, PARAMETERS.version]) },
    '/metrics': {
      get: {
        tags: ['Operations'],
        operationId: 'metrics',
        summary: 'Prometheus metrics (text exposition format)',
        responses: { '200': { description: 'Metrics', content: { 'text/plain': { schema: string } } }, '404': error('NotFound') },
      },
    },
    '/status.json': { get: { tags: ['Operations'], operationId: 'status', summary: 'What the status page shows: models, versions, rollout, the last minute of traffic', responses: { '200': ok('Status', ref('StatusSnapshot')) } } },
    '/openapi.json': { get: { tags: ['Operations'], operationId: 'openapi', summary: 'This document', responses: { '200': ok('OpenAPI 3.1', { type: 'object' }) } } },
    '/': { get: { tags: ['Operations'], operationId: 'statusPage', summary: 'The status page (HTML; off with `statusPage: false`)', responses: { '200': { description: 'HTML', content: { 'text/html': { schema: string } } } } } },
    '/status': { get: { tags: ['Operations'], operationId: 'statusPageAlias', summary: 'The status page, as `/`', responses: { '200': { description: 'HTML', content: { 'text/html': { schema: string } } } } } },
    '/status/{asset}': {
      get: {
        tags: ['Operations'],
        operationId: 'statusPageAsset',
        summary: "The status page's charting library (uPlot, bundled)",
        parameters: [PARAMETERS.asset],
        responses: { '200': { description: 'The file', content: { 'text/javascript': { schema: string }, 'text/css': { schema: string } } }, '404': error('NotFound') },
      },
    },
  },
  components: {
    securitySchemes: { adminToken: { type: 'http', scheme: 'bearer', description: '`modelhost serve --admin-token-file`; with the library, whatever `authorize(request)` checks.' } },
    responses: {
      BadRequest: { description: 'INVALID_INPUT (the message names the input, the expected and the received)', content: jsonContent(ref('Error')) },
      Unauthorized: { description: 'UNAUTHORIZED: credentials needed', content: jsonContent(ref('Error')) },
      Forbidden: { description: 'UNAUTHORIZED: admin routes off, or this request may not use them', content: jsonContent(ref('Error')) },
      NotFound: { description: 'MODEL_NOT_FOUND / VERSION_NOT_FOUND', content: jsonContent(ref('Error')) },
      TooLarge: { description: 'The body is over the size limit', content: jsonContent(ref('Error')) },
      UnsupportedTransferCoding: { description: 'The body has a `Transfer-Encoding` other than `chunked` (`gzip, chunked`): bodies are read as sent, never decoded (RFC 9112 §6.1)', content: jsonContent(ref('Error')) },
      UnsupportedEncoding: { description: 'The body has a `Content-Encoding` other than `identity` (gzip, deflate…): bodies are read as sent, never inflated', headers: { 'Accept-Encoding': { schema: { type: 'string', const: 'identity' } } }, content: jsonContent(ref('Error')) },
      Unprocessable: { description: 'LOAD_FAILED / INTEGRITY_FAILED / UNSUPPORTED_MODEL on an admin load', content: jsonContent(ref('Error')) },
      QueueFull: { description: 'QUEUE_FULL, with `Retry-After`', headers: { 'Retry-After': { schema: integer } }, content: jsonContent(ref('Error')) },
      Cancelled: { description: 'CANCELLED: the client went away', content: jsonContent(ref('Error')) },
      ServerError: { description: 'INFERENCE_FAILED / LOAD_FAILED', content: jsonContent(ref('Error')) },
      Unavailable: { description: 'MODEL_NOT_READY / CIRCUIT_OPEN / SHUTTING_DOWN', content: jsonContent(ref('Error')) },
      DeadlineExceeded: { description: 'DEADLINE_EXCEEDED', content: jsonContent(ref('Error')) },
    },
    schemas: {
      Error: object({ error: string }, ['error']),
      KServeServerMetadata: object({ name: string, version: string, extensions: { type: 'array', items: string } }, ['name', 'version', 'extensions']),
      KServeModelReady: object({ name: string, ready: boolean }, ['name', 'ready']),
      KServeTensorMetadata: object({ name: string, datatype: KSERVE_DATATYPE, shape: SHAPE }, ['name', 'datatype', 'shape'], { additionalProperties: false }),
      KServeModelMetadata: object(
        { name: string, versions: { type: 'array', items: string }, platform: string, inputs: { type: 'array', items: ref('KServeTensorMetadata') }, outputs: { type: 'array', items: ref('KServeTensorMetadata') } },
        ['name', 'versions', 'platform', 'inputs', 'outputs'],
      ),
      KServeInferInput: object(
        { name: string, shape: { type: 'array', items: { type: 'integer', minimum: 0 } }, datatype: KSERVE_DATATYPE, parameters: object({ binary_data_size: { type: 'integer', minimum: 0 } }), data: TENSOR_DATA },
        ['name', 'shape', 'datatype'],
      ),
      KServeInferRequest: object(
        {
          id: REQUEST_ID_SCHEMA,
          parameters: object({ binary_data_output: boolean }),
          inputs: { type: 'array', minItems: 1, items: ref('KServeInferInput') },
          outputs: { type: 'array', items: object({ name: string, parameters: object({ binary_data: boolean }) }, ['name']) },
        },
        ['inputs'],
      ),
      KServeInferOutput: object({ name: string, shape: SHAPE, datatype: KSERVE_DATATYPE, parameters: object({ binary_data_size: integer }), data: { type: 'array' } }, ['name', 'shape', 'datatype']),
      FeedbackRequest: object(
        { id: { ...REQUEST_ID_SCHEMA, description: 'The request id a response carried (`id`, `x-request-id`).' }, ground_truth: { description: 'A class index or a value, or an array of one per row.', oneOf: [number, { type: 'array', items: number }] } },
        ['id', 'ground_truth'],
        { additionalProperties: false },
      ),
      FeedbackResult: object(
        { model_name: string, id: string, matched: boolean, model_version: string, labels: integer, correct: integer, absolute_error: number },
        ['model_name', 'id', 'matched', 'labels'],
      ),
      KServeInferResponse: object({ model_name: string, model_version: string, id: string, outputs: { type: 'array', items: ref('KServeInferOutput') } }, ['model_name', 'outputs']),
      RepositoryIndexEntry: object({ name: string, version: string, state: string, reason: string }, ['name', 'version', 'state', 'reason']),
      TfModelStatus: object(
        {
          model_version_status: {
            type: 'array',
            items: object(
              { version: string, state: { type: 'string', enum: ['LOADING', 'AVAILABLE', 'UNLOADING', 'END', 'UNKNOWN'] }, status: object({ error_code: string, error_message: string }, ['error_code', 'error_message']) },
              ['version', 'state', 'status'],
            ),
          },
        },
        ['model_version_status'],
      ),
      TfModelMetadata: object(
        {
          model_spec: object({ name: string, signature_name: string, version: string }, ['name', 'version']),
          metadata: object(
            {
              signature_def: object(
                {
                  signature_def: object(
                    {
                      serving_default: object(
                        { inputs: { type: 'object', additionalProperties: TF_TENSOR_INFO }, outputs: { type: 'object', additionalProperties: TF_TENSOR_INFO }, method_name: string },
                        ['inputs', 'outputs', 'method_name'],
                      ),
                    },
                    ['serving_default'],
                  ),
                },
                ['signature_def'],
              ),
            },
            ['signature_def'],
          ),
        },
        ['model_spec', 'metadata'],
      ),
      TfPredictRequest: {
        type: 'object',
        description: 'Exactly one of `instances` (row format: one entry per example) or `inputs` (columnar format, with the batch dimension).',
        properties: { signature_name: { type: 'string', enum: ['', 'serving_default'], description: 'Every model has one signature, `serving_default` (empty means it too); another name is 400.' }, instances: { type: 'array', minItems: 1 }, inputs: {} },
        additionalProperties: false,
        oneOf: [{ required: ['instances'] }, { required: ['inputs'] }],
      },
      TfPredictResponse: { type: 'object', properties: { predictions: { type: 'array' }, outputs: {} }, oneOf: [{ required: ['predictions'] }, { required: ['outputs'] }] },
      LoadRequest: object({ version: versionInBody, parameters: object({ version: versionInBody }, [], { additionalProperties: false }) }, [], { additionalProperties: false }),
      LoadResult: object({ model: string, version: integer, versions: { type: 'array', items: integer } }, ['model', 'version', 'versions']),
      UnloadResult: object({ model: string, version: optionalInteger, unloaded: { const: true } }, ['model', 'version', 'unloaded']),
      DeployRequest: object({ version: versionInBody, canary: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 }, shadow: { type: 'number', minimum: 0, maximum: 1 } }, ['version'], { additionalProperties: false }),
      TrafficRequest: object({ weights: { type: 'object', propertyNames: { pattern: '^[1-9][0-9]*$' }, additionalProperties: { type: 'number', minimum: 0 } } }, ['weights'], { additionalProperties: false }),
      Traffic: { type: 'object', description: 'Share of unpinned traffic per version (sums to 1).', propertyNames: { pattern: '^[1-9][0-9]*$' }, additionalProperties: number },
      RolloutResult: object({ model: string, version: integer, candidate: integer, traffic: ref('Traffic') }, ['model', 'version', 'traffic']),
      RollbackResult: object({ model: string, version: integer, from: integer }, ['model', 'version', 'from']),
      StatusSnapshot: object(
        {
          live: boolean,
          ready: boolean,
          models: {
            type: 'array',
            items: object(
              {
                name: string,
                ready: boolean,
                defaultVersion: integer,
                candidate: integer,
                shadow: object({ version: integer, fraction: number }, ['version', 'fraction']),
                guard: object(
                  { active: boolean, candidate: integer, baseline: integer, candidateRequests: integer, candidateErrorRate: number, baselineErrorRate: number, candidateP99Ms: number, baselineP99Ms: number },
                  ['active', 'candidate', 'candidateRequests', 'candidateErrorRate', 'baselineErrorRate', 'candidateP99Ms', 'baselineP99Ms'],
                ),
                versions: {
                  type: 'array',
                  items: object(
                    {
                      version: integer,
                      state: { type: 'string', enum: ['loading', 'warming', 'ready', 'draining', 'unloaded', 'failed'] },
                      runtime: string,
                      instances: object({ kind: { type: 'string', enum: ['inline', 'thread'] }, count: integer }, ['kind', 'count']),
                      traffic: number,
                      breaker: { type: 'string', enum: ['closed', 'open', 'halfOpen'] },
                      requestsPerSecond: number,
                      p99Ms: number,
                      queueMs: LATENCY,
                      computeMs: LATENCY,
                      meanBatchSize: number,
                      requests: integer,
                      errors: { ...integer, description: 'Every failed request in the last minute, whoever is at fault.' },
                      versionErrors: { ...integer, description: "Failures that are the version's (runtime failures, deadlines while it ran, an open breaker), not the caller's." },
                      errorRate: { type: 'number', minimum: 0, maximum: 1, description: 'versionErrors ÷ requests: bad input from a client does not raise it.' },
                      queueDepth: integer,
                      error: string,
                      stalled: { ...string, description: 'Why a ready version cannot answer now: its runs stopped returning (instances.runTimeoutMs); meanwhile it is not ready.' },
                    },
                    ['version', 'state', 'traffic', 'requestsPerSecond', 'p99Ms', 'queueMs', 'computeMs', 'meanBatchSize', 'requests', 'errors', 'versionErrors', 'errorRate', 'queueDepth'],
                  ),
                },
              },
              ['name', 'ready', 'versions'],
            ),
          },
        },
        ['live', 'ready', 'models'],
      ),
    },
  },
});

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

// The document is the same for every request: serialized once.
let serialized: string | undefined;

export const openApiDocument: RouteHandler = () => {
  serialized ??= JSON.stringify(OPENAPI_DOCUMENT);
  return { status: 200, headers: { 'content-type': 'application/json', 'cache-control': 'public, max-age=300' }, body: serialized };
};

