import { ErrorCode, ModelHostError, parseVersion } from 'modelhost';
import { quoted } from '../../errors/option-checks.js';

/**
 * The one parser of version numbers (`modelhost`'s, the repository's and `setTraffic`'s
 * too) for requests: KServe, TF Serving and admin paths, and admin bodies' "version"
 * strings. Only the canonical decimal form of a positive safe integer names a version:
 * `01`, `0x1`, `1.0`, `+1`, `1e0`, `%31` name none.
 */
export { parseVersion };

/**
 * The `{version}` path parameter, raw as it appeared in the path (never percent-decoded),
 * or undefined when the route has none. Not canonical → 404 VERSION_NOT_FOUND, as for a
 * version that does not exist.
 */
export function versionParam(params: Readonly<Record<string, string>>): number | undefined {
  const raw = params['version'];
  if (raw === undefined) return undefined;
  const version = parseVersion(raw);
  if (version === undefined) {
    throw new ModelHostError(ErrorCode.VERSION_NOT_FOUND, `model '${params['model']}' has no version ${shownVersion(raw)} (versions are positive integers in canonical decimal form)`, {
      model: params['model'],
    });
  }
  return version;
}

/** A version (or label) from a client for an error message: quoted, cut at 40 characters (a path segment may be kilobytes). */
export function shownVersion(raw: string): string {
  return quoted(raw);
}
