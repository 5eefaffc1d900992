import { ErrorCode, ModelHostError } from '../../errors/index.js';
import type { ModelFiles } from '../model-files.js';
import type * as tfjs from '@tensorflow/tfjs';

type ModelArtifacts = tfjs.io.ModelArtifacts;
type WeightsManifestEntry = tfjs.io.WeightsManifestEntry;

export type TfjsModelFormat = 'layers' | 'graph';

interface ModelJson {
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  modelTopology?: Record<string, unknown>;
  weightsManifest?: Array<{ paths: string[]; weights: WeightsManifestEntry[] }>;
  signature?: unknown;
  userDefinedMetadata?: Record<string, object>;
  modelInitializer?: unknown;
  initializerSignature?: unknown;
  trainingConfig?: unknown;
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2, complex64: 8 };

/**
 * Reads `model.json` and its weight shards into tfjs ModelArtifacts, checking what tfjs
 * would otherwise report cryptically (or not at all): unparsable JSON, a missing or
 * truncated shard, a shard path outside the model's folder.
 */
export async function readTfjsArtifacts(files: ModelFiles): Promise<{ artifacts: ModelArtifacts; format: TfjsModelFormat }> {
  const text = await files.readText('model.json');
  let json: ModelJson;
  try {
    json = JSON.parse(text) as ModelJson;
  } catch (error) {
    // V8's message quotes the text: it stays in `cause`, for the logger only.
    throw new ModelHostError(ErrorCode.LOAD_FAILED, `${files.display('model.json')} is not valid JSON`, { cause: error });
  }
  if (typeof json !== 'object' || json === null || typeof json.modelTopology !== 'object' || json.modelTopology === null) {
    throw new ModelHostError(ErrorCode.LOAD_FAILED, `${files.display('model.json')} has no modelTopology: expected a tfjs layers or graph model`);
  }
  const manifest = json.weightsManifest ?? [];
  if (!Array.isArray(manifest)) throw new ModelHostError(ErrorCode.LOAD_FAILED, `${files.display('model.json')}: weightsManifest must be an array`);

  const weightSpecs: WeightsManifestEntry[] = [];
  const shards: Uint8Array[] = [];
  for (const group of manifest) {
    weightSpecs.push(...group.weights);
    for (const shardPath of group.paths) {
      if (typeof shardPath !== 'string') throw new ModelHostError(ErrorCode.LOAD_FAILED, `${files.display('model.json')}: weightsManifest paths must be strings`);
      // ModelFiles refuses paths and links out of the repository and names the shard relative to it.
      shards.push(await files.read(shardPath));
    }
  }
  const weightData = concatBytes(shards);
  const expected = expectedWeightBytes(weightSpecs);
  if (expected !== undefined && expected !== weightData.byteLength) {
    throw new ModelHostError(
      ErrorCode.LOAD_FAILED,
      `weight shards of ${files.describe()} hold ${weightData.byteLength} bytes, but model.json describes ${expected} (a shard is truncated or missing)`,
    );
  }
  const format = json.format === 'graph-model' || (json.format === undefined && 'node' in json.modelTopology) ? 'graph' : 'layers';
  const artifacts: ModelArtifacts = {
    modelTopology: json.modelTopology as ModelArtifacts['modelTopology'],
    weightSpecs,
    weightData,
    format: json.format,
    generatedBy: json.generatedBy,
    convertedBy: json.convertedBy ?? null,
    ...(json.signature === undefined ? {} : { signature: json.signature as object }),
    ...(json.userDefinedMetadata === undefined ? {} : { userDefinedMetadata: json.userDefinedMetadata }),
    ...(json.modelInitializer === undefined ? {} : { modelInitializer: json.modelInitializer as object }),
    ...(json.initializerSignature === undefined ? {} : { initializerSignature: json.initializerSignature as object }),
    ...(json.trainingConfig === undefined ? {} : { trainingConfig: json.trainingConfig as ModelArtifacts['trainingConfig'] }),
  };
  return { artifacts, format };
}

function concatBytes(parts: Uint8Array[]): ArrayBuffer {
  const total = parts.reduce((n, p) => n + p.byteLength, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out.buffer;
}

/** Bytes the manifest promises, or undefined where it cannot say (string weights). */
function expectedWeightBytes(specs: readonly WeightsManifestEntry[]): number | undefined {
  let total = 0;
  for (const spec of specs) {
    const dtype = spec.quantization?.dtype ?? spec.dtype;
    const bytes = BYTES[dtype];
    if (bytes === undefined) return undefined;
    total += spec.shape.reduce((a, b) => a * b, 1) * bytes;
  }
  return total;
}
