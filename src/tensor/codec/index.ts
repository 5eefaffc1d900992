export { ConversionError } from './conversion-error.js';
export { decodeBase64, encodeBase64 } from './base64.js';
export { float16Bits, float16Value, FLOAT16_MAX } from './float16.js';
export { allocate, elementWriter, jsonElementText, bytesAsText, bytesOf, sameBytes, describeValue, invalidBool, type BytesElement, type ElementWriter } from './element-codec.js';
export { fromRawBytes, toRawBytes, rawByteLength } from './raw-bytes.js';
export { walkNested, type NestedWalk } from './nested.js';
