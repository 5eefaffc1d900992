/**
 * Admin routes: change what serves (load, deploy, promote, rollback, traffic, unload). Off
 * unless the server passes `authorize(request)`.
 */
import { ErrorCode, ModelHostError } from 'modelhost';
import { checkKeys } from './body-keys.js';
import { badRequest, json } from './http-errors.js';
import type { RouteContext, RouteHandler } from './http-types.js';
import { parseJson } from './json-body.js';
import { describeRequestValue } from './request-value.js';
import { parseVersion, versionParam } from './version-segment.js';

/** Wraps an admin handler: refused (403) without an `authorize` hook, or when it says no. */
export function admin(handler: RouteHandler, hook: 'authorize' | 'authorizeFeedback' = 'authorize'): RouteHandler {
  return async (context) => {
    const authorize = context.options[hook];
    if (authorize === undefined) throw new ModelHostError(ErrorCode.UNAUTHORIZED, `${hook === 'authorize' ? 'admin routes are' : 'the feedback route is'} disabled: the server did not configure ${hook}(request)`);
    // A hook that throws (a token that does not verify) asks for credentials, as documented.
    const verdict = await Promise.resolve()
      .then(() => authorize(context.request))
      .catch((): 401 => 401);
    const feedback = hook === 'authorizeFeedback';
    if (verdict === 401) return json(401, { error: feedback ? 'the feedback route needs credentials' : 'admin routes need credentials' }, { 'www-authenticate': 'Bearer' });
    if (verdict !== true) throw new ModelHostError(ErrorCode.UNAUTHORIZED, `this request may not use ${feedback ? 'the feedback route' : 'admin routes'}`);
    return handler(context);
  };
}

/** The JSON object body (`{}` when empty), refused (400) when it has a key outside `accepted`. */
function body(context: RouteContext, accepted: readonly string[]): Record<string, unknown> {
  const value = objectBody(context);
  checkKeys(`${context.request.method} ${context.request.url.split('?')[0]}`, value, accepted);
  return value;
}

function objectBody({ request, options }: RouteContext): Record<string, unknown> {
  if (request.parsedBody === undefined && (request.body === undefined || request.body.byteLength === 0)) return {};
  const value = parseJson(request, options);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badRequest('the request body must be a JSON object');
  return value as Record<string, unknown>;
}

function objectOf(name: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badRequest(`"${name}" must be a JSON object, got ${Array.isArray(value) ? 'an array' : describeRequestValue(value, 40)}`);
  return value as Record<string, unknown>;
}

function optionalVersion(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const version = typeof value === 'string' ? parseVersion(value) : typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : undefined;
  if (version !== undefined) return version;
  throw badRequest(`"version" must be a positive integer, got ${describeRequestValue(value)}`);
}

export const loadModel: RouteHandler = admin(async (context) => {
  const b = body(context, ['version', 'parameters']);
  const parameters = objectOf('parameters', b['parameters'] ?? {});
  checkKeys('load "parameters"', parameters, ['version']);
  const inner = parameters['version'];
  if (b['version'] !== undefined && inner !== undefined) throw badRequest('load takes "version" or "parameters.version", not both');
  const result = await context.host.load(context.params['model']!, { version: optionalVersion(b['version'] ?? inner) });
  return json(200, result);
});

export const unloadModel: RouteHandler = admin(async (context) => {
  // KServe's unload takes `parameters.unload_dependents`: there are no dependents (no ensembles), so it changes nothing.
  const b = body(context, ['version', 'parameters']);
  if (b['parameters'] !== undefined) checkKeys('unload "parameters"', objectOf('parameters', b['parameters']), ['unload_dependents']);
  if (context.params['version'] !== undefined && b['version'] !== undefined) throw badRequest('unload takes the version from the path or from the body, not both');
  const version = context.params['version'] === undefined ? optionalVersion(b['version']) : versionParam(context.params);
  await context.host.unload(context.params['model']!, version);
  return json(200, { model: context.params['model'], version: version ?? null, unloaded: true });
});

export const deploy: RouteHandler = admin(async (context) => {
  const b = body(context, ['version', 'canary', 'shadow']);
  const version = optionalVersion(b['version']);
  if (version === undefined) throw badRequest('deploy needs a "version"');
  const { canary, shadow } = b as { canary?: number; shadow?: number };
  return json(200, await context.host.deploy(context.params['model']!, version, { canary, shadow }));
});

export const promote: RouteHandler = admin(async (context) => {
  body(context, []);
  return json(200, await context.host.promote(context.params['model']!));
});

export const rollback: RouteHandler = admin(async (context) => {
  body(context, []);
  return json(200, await context.host.rollback(context.params['model']!));
});

export const setTraffic: RouteHandler = admin(async (context) => {
  const b = objectBody(context);
  const weights = b['weights'];
  // Checked first: `{ "1": 1 }` without the wrapper is the common mistake, and this says how to fix it.
  if (typeof weights !== 'object' || weights === null || Array.isArray(weights)) throw badRequest('traffic needs "weights": { "<version>": <weight> }');
  checkKeys(`${context.request.method} ${context.request.url.split('?')[0]}`, b, ['weights']);
  // Keys are versions from the client: parsed by the one strict parser, kept off any prototype.
  const canonical: Record<number, number> = Object.create(null) as Record<number, number>;
  for (const [key, weight] of Object.entries(weights)) {
    const version = parseVersion(key);
    if (version === undefined) throw badRequest(`traffic "weights" keys are versions in canonical decimal form, got ${JSON.stringify(key)}`);
    canonical[version] = weight as number;
  }
  return json(200, await context.host.setTraffic(context.params['model']!, canonical));
});

/**
 * KServe repository extension: the versions the host knows and their state. A read-only
 * listing (open, like the other metadata routes); `{"ready": true}` keeps the READY ones,
 * as Triton's does.
 */
export const repositoryIndex: RouteHandler = (context) => {
  const b = body(context, ['ready']);
  const ready = b['ready'];
  if (ready !== undefined && typeof ready !== 'boolean') throw badRequest(`"ready" must be true or false, got ${describeRequestValue(ready, 40)}`);
  const entries = context.host
    .status()
    .flatMap((m) => m.versions.map((v) => ({ name: m.name, version: String(v.version), state: v.state === 'ready' ? 'READY' : v.state.toUpperCase(), reason: v.error?.message ?? '' })));
  return json(200, ready === true ? entries.filter((e) => e.state === 'READY') : entries);
};
