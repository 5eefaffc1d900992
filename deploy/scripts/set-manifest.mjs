#!/usr/bin/env node
// Usage: set-manifest.mjs <manifest.json> <model> <version> [canary weight]
// Rewrites the model's entry of a modelhost repository manifest: with a weight, the new
// version becomes the canary beside the current default; without one, the new default.
// The file is replaced whole (written beside, then renamed), never edited in place.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';

const [file, model, versionText, weightText] = process.argv.slice(2);
if (file === undefined || model === undefined || versionText === undefined) {
  console.error('usage: set-manifest.mjs <manifest.json> <model> <version> [canary weight]');
  process.exit(2);
}
const version = Number(versionText);
if (!/^[1-9][0-9]{0,15}$/.test(versionText)) throw new Error(`version must be a positive integer, got ${versionText}`);
const manifest = JSON.parse(readFileSync(file, 'utf8'));
manifest.models ??= {};
const current = manifest.models[model] ?? {};
if (weightText === undefined || weightText === '') {
  manifest.models[model] = { default: version };
} else {
  const weight = Number(weightText);
  if (!(weight > 0 && weight < 1)) throw new Error(`canary weight must be between 0 and 1, got ${weightText}`);
  if (current.default === undefined) throw new Error(`model '${model}' has no default in ${file} to put a canary beside: publish it without a weight first`);
  if (version <= current.default) throw new Error(`version ${version} is not newer than the default ${current.default}`);
  manifest.models[model] = { default: current.default, canary: { version, weight } };
}
writeFileSync(`${file}.tmp`, `${JSON.stringify(manifest, null, 2)}\n`);
renameSync(`${file}.tmp`, file);
console.log(JSON.stringify(manifest.models[model]));
