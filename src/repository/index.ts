export { ModelRepository } from './model-repository.js';
export { verifyIntegrity, parseChecksums, sha256File, CHECKSUM_FILE } from './integrity.js';
export type { IntegrityResult } from './integrity.js';
export { validateVersionPolicy, selectVersions, DEFAULT_VERSION_POLICY } from './version-policy.js';
export type { VersionPolicy } from './version-policy.js';
export { MODEL_NAME_PATTERN, isModelName, assertModelName, isVersion, assertVersion, parseVersion } from './model-name.js';
export { readManifest, validateManifest, MANIFEST_FILE } from './manifest.js';
export type { Manifest, ManifestEntry } from './manifest.js';
