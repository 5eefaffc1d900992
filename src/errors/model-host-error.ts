import type { ErrorCode } from './error-code.js';

// A registry-wide symbol, so `instanceof` holds across duplicate installs of modelhost.
const kModelHostError = Symbol.for('modelhost.error');

export interface ModelHostErrorOptions {
  cause?: unknown;
  model?: string;
  version?: number;
  /** With `QUEUE_FULL`: when a retry is likely to be admitted. */
  retryAfterMs?: number;
}

export class ModelHostError extends Error {
  override readonly name = 'ModelHostError';
  readonly code: ErrorCode;
  readonly model: string | undefined;
  readonly version: number | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(code: ErrorCode, message: string, options: ModelHostErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.model = options.model;
    this.version = options.version;
    this.retryAfterMs = options.retryAfterMs;
  }

  get [kModelHostError](): true {
    return true;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kModelHostError] === true;
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message, model: this.model, version: this.version, retryAfterMs: this.retryAfterMs };
  }
}

export function isModelHostError(value: unknown, code?: ErrorCode): value is ModelHostError {
  return value instanceof ModelHostError && (code === undefined || value.code === code);
}

/**
 * A ModelHostError without a captured stack trace: for refusals at admission (a full queue,
 * a deadline that cannot be met), which under overload are made thousands of times a
 * second and whose stack says nothing the code does not.
 */
export function refusalError(code: ErrorCode, message: string, options: ModelHostErrorOptions = {}): ModelHostError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new ModelHostError(code, message, options);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** Wraps anything thrown into a ModelHostError, keeping the original as `cause`. */
export function toModelHostError(error: unknown, code: ErrorCode, context: { model?: string; version?: number } = {}): ModelHostError {
  if (error instanceof ModelHostError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new ModelHostError(code, message, { cause: error, ...context });
}
