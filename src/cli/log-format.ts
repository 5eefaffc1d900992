/**
 * The CLI's log lines: JSON objects (`--log-format json`, for log pipelines) or plain text
 * (`--log-format text`, for people): `<time> <level> <message> key=value …`.
 */
import type { Logger } from 'modelhost';

export type LogFormat = 'json' | 'text';

/** A logger writing one line per call through `write` (which gets the line with its newline). */
export function createLogger(format: LogFormat, write: (line: string) => void): Logger {
  const line = format === 'json' ? jsonLine : textLine;
  const at = (level: string) => (message: string, fields?: Record<string, unknown>) => write(line(level, message, fields));
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

function jsonLine(level: string, message: string, fields: Record<string, unknown> = {}): string {
  return `${JSON.stringify({ time: new Date().toISOString(), level, msg: message, ...fields })}\n`;
}

function textLine(level: string, message: string, fields: Record<string, unknown> = {}): string {
  const pairs = Object.entries(fields)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key}=${textValue(value)}`);
  return `${new Date().toISOString()} ${level.padEnd(5)} ${[message, ...pairs].join(' ')}\n`;
}

/** Strings bare unless they hold spaces or quotes (then JSON-quoted, so a line stays one line); others as JSON. */
function textValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}
