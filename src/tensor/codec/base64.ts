import { ConversionError } from './conversion-error.js';

/**
 * RFC 4648 §4 base64: the standard alphabet, padded to a multiple of 4, and the unused bits
 * of the last group zero (so every byte string has exactly one encoding). Node's
 * `Buffer.from(text, 'base64')` skips characters it does not know and accepts the URL-safe
 * alphabet and missing padding, so the text is checked before it is decoded.
 */
const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$/;

/** Decodes strict base64; throws ConversionError saying what is wrong. */
export function decodeBase64(text: string): Uint8Array {
  if (!STRICT_BASE64.test(text)) throw new ConversionError(`is not strict base64 (${base64Problem(text)})`);
  const buffer = Buffer.from(text, 'base64');
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

function base64Problem(text: string): string {
  const bad = /[^A-Za-z0-9+/=]/.exec(text);
  if (bad !== null) {
    const hint = bad[0] === '-' || bad[0] === '_' ? '; the URL-safe alphabet is not accepted' : '';
    return `character ${JSON.stringify(bad[0])} at ${bad.index} is not in the standard alphabet${hint}`;
  }
  if (text.length % 4 !== 0) return `length ${text.length} is not a multiple of 4: padding with '=' is required`;
  if (/=[^=]/.test(text) || /={3,}$/.test(text)) return `'=' may only pad the end`;
  return 'the bits after the last byte are not zero';
}
