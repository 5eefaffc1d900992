import { ErrorCode, ModelHostError, show } from '../errors/index.js';

/**
 * Model names become folder names and URL path segments: letters, digits, `_`, `-` and `.`,
 * starting with a letter or digit, at most 128 characters. `..`, slashes and NUL cannot pass.
 */
export const MODEL_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function isModelName(value: unknown): value is string {
  return typeof value === 'string' && MODEL_NAME_PATTERN.test(value) && !value.includes('..');
}

export function assertModelName(value: unknown): asserts value is string {
  if (!isModelName(value)) {
    const got = typeof value === 'string' ? JSON.stringify(value) : typeof value;
    throw new ModelHostError(
      ErrorCode.INVALID_INPUT,
      `model name must be letters, digits, '_', '-' or '.' (starting with a letter or digit, no '..', at most 128 characters), got ${got}`,
    );
  }
}

/** Canonical decimal: no sign, no leading zero, no exponent, no fraction, no space, at most 16 digits. */
const CANONICAL_VERSION = /^[1-9][0-9]{0,15}$/;

/**
 * The one parser of versions written as text: version folders, `manifest.json` and
 * `setTraffic` weight keys, and every protocol's paths and bodies. Only the canonical
 * decimal form of a positive safe integer names a version (`01`, `0x1`, `1.0`, `+1`, `1e0`,
 * ` 1` name none), so two spellings never reach one version. Undefined for anything else.
 */
export function parseVersion(text: string): number | undefined {
  if (typeof text !== 'string' || !CANONICAL_VERSION.test(text)) return undefined;
  const version = Number(text);
  return Number.isSafeInteger(version) ? version : undefined;
}

/** Versions are positive integers (the TF Serving / Triton convention). */
export function isVersion(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1;
}

export function assertVersion(value: unknown, model?: string): asserts value is number {
  if (!isVersion(value)) {
    throw new ModelHostError(ErrorCode.INVALID_INPUT, `version must be a positive integer, got ${Object.is(value, -0) ? '-0' : typeof value === 'number' ? value : show(value)}`, { model });
  }
}
