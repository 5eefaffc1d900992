/**
 * Validates objects against a CustomResourceDefinition's openAPIV3Schema with ajv, the way
 * `kubectl apply --validate=strict` (and kubeconform's -strict) would: a field the schema
 * does not declare is an error, not silently pruned.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';

// ajv-formats is CommonJS with a default export; under NodeNext it arrives wrapped.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as unknown as (ajv: Ajv, formats: string[]) => Ajv;

interface Crd {
  kind: string;
  spec: {
    group: string;
    names: { kind: string };
    versions: { name: string; served: boolean; schema: { openAPIV3Schema: object } }[];
  };
}

export interface CrdValidator {
  /** The kind and the served `apiVersion`s (group/version) of the definition. */
  readonly kind: string;
  readonly apiVersions: readonly string[];
  /** ajv's errors as `path message` lines; empty when the object is valid. */
  validate(object: { apiVersion?: unknown; kind?: unknown }): string[];
}

/** Closes every object schema that lists its properties and does not preserve unknown fields. */
function strict(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(strict);
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) out[key] = key === 'properties' ? Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, strict(v)])) : strict(value);
  if (out['properties'] !== undefined && out['additionalProperties'] === undefined && out['x-kubernetes-preserve-unknown-fields'] !== true) out['additionalProperties'] = false;
  return out;
}

function readCrd(file: string): Crd {
  const crd = parse(readFileSync(file, 'utf8')) as Crd;
  if (crd.kind !== 'CustomResourceDefinition') throw new Error(`${file} is not a CustomResourceDefinition`);
  return crd;
}

function compile(schema: object): ValidateFunction {
  // OpenAPI's numeric formats and Kubernetes' x- keywords are annotations here, not checks.
  const ajv = new Ajv({ allErrors: true, strict: false, formats: { int32: true, int64: true, float: true, double: true, byte: true } });
  addFormats(ajv, ['date-time', 'date', 'uri']);
  return ajv.compile(strict(schema) as object);
}

const describeErrors = (check: ValidateFunction) =>
  (check.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}${e.params && 'additionalProperty' in e.params ? `: ${String(e.params['additionalProperty'])}` : ''}`);

/**
 * A strict validator for one property of a served version's schema, by path (for example
 * `['spec', 'predictor']`): ajv's errors as `path message` lines, empty when valid.
 */
export function crdPropertyValidator(file: string, version: string, path: readonly string[]): (value: unknown) => string[] {
  const crd = readCrd(file);
  let schema = crd.spec.versions.find((v) => v.name === version)?.schema.openAPIV3Schema as { properties?: Record<string, object> } | undefined;
  for (const key of path) schema = schema?.properties?.[key] as typeof schema;
  if (schema === undefined) throw new Error(`${file} ${version} has no property ${path.join('.')}`);
  const check = compile(schema);
  return (value) => (check(value) ? [] : describeErrors(check));
}

export function crdValidator(file: string): CrdValidator {
  const crd = readCrd(file);
  const byApiVersion = new Map<string, ValidateFunction>();
  for (const version of crd.spec.versions.filter((v) => v.served)) byApiVersion.set(`${crd.spec.group}/${version.name}`, compile(version.schema.openAPIV3Schema));
  return {
    kind: crd.spec.names.kind,
    apiVersions: [...byApiVersion.keys()],
    validate(object) {
      if (object.kind !== crd.spec.names.kind) return [`kind must be ${crd.spec.names.kind}, got ${String(object.kind)}`];
      const check = byApiVersion.get(String(object.apiVersion));
      if (check === undefined) return [`apiVersion must be one of ${[...byApiVersion.keys()].join(', ')}, got ${String(object.apiVersion)}`];
      return check(object) ? [] : describeErrors(check);
    },
  };
}
