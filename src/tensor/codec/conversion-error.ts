/**
 * Why a value could not become tensor data (or tensor data a wire value). The message is a
 * phrase about the value (`is not strict base64 (...)`); callers prefix the input's name and
 * turn it into an INVALID_INPUT ModelHostError.
 */
export class ConversionError extends Error {
  override readonly name = 'ConversionError';
}
