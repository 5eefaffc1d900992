/**
 * A small declarative command-line parser: each flag is one entry of a table (its value's
 * placeholder, help line, default, environment variable and parser), from which come the
 * parsing, the typed result and the usage text. Adding a flag is adding an entry.
 */
import { parseArgs } from 'node:util';

/** A command-line mistake: printed with the usage, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface Flag<T> {
  /** Placeholder of the value in the usage (`<ms>`); absent for a switch (`--help`). */
  readonly value?: string;
  readonly short?: string;
  /** One line, or several joined by `\n`. */
  readonly help: string;
  /** Used when the flag is absent (and `env` is unset); parsed like a given value. */
  readonly default?: string;
  /** Environment variable read when the flag is absent. */
  readonly env?: string;
  /** Parsed but left out of the usage (a flag accepted only to be refused with a reason). */
  readonly hidden?: boolean;
  /**
   * The typed value of the raw text. Throws an Error whose message completes
   * "--<flag> …" (e.g. `must be a port number`); the parser adds the flag and the received text.
   */
  readonly parse: (raw: string) => T;
}

export type FlagTable = Readonly<Record<string, Flag<unknown>>>;

/** The parsed values of a table: each flag's type, or undefined when absent without a default. */
export type FlagValues<F extends FlagTable> = { -readonly [K in keyof F]: F[K] extends Flag<infer T> ? T | undefined : never };

export interface ParsedCommandLine<F extends FlagTable> {
  readonly values: FlagValues<F>;
  readonly positionals: readonly string[];
}

/** A switch: true when given. */
export function switchFlag(help: string, short?: string): Flag<boolean> {
  return { help, short, parse: () => true };
}

/** A decimal integer in [min, max]; `what` completes "must be …" (e.g. `a number of ms ≥ 10`). */
export function integer(what: string, min: number, max = Number.MAX_SAFE_INTEGER): (raw: string) => number {
  return (raw) => {
    const n = /^-?\d+$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new Error(`must be ${what}`);
    return n;
  };
}

/** A decimal number > 0 (`250`, `0.5`), at most `max`. */
export function positive(what: string, max = Number.MAX_VALUE): (raw: string) => number {
  return (raw) => {
    const n = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN;
    if (!(n > 0) || !(n <= max)) throw new Error(`must be ${what}`);
    return n;
  };
}

/** One of a fixed set of words. */
export function oneOf<const W extends string>(words: readonly W[]): (raw: string) => W {
  const list = `${words.slice(0, -1).join(', ')} or ${words.at(-1)}`;
  return (raw) => {
    if (!(words as readonly string[]).includes(raw)) throw new Error(`must be ${list}`);
    return raw as W;
  };
}

/** Comma-separated names, blanks dropped. */
export function list(raw: string): string[] {
  return raw.split(',').map((item) => item.trim()).filter(Boolean);
}

export function text(raw: string): string {
  return raw;
}

/**
 * Parses `argv` against `flags`. Throws UsageError for an unknown flag (suggesting the
 * nearest known one), a flag missing its value, or a value its parser refuses.
 */
export function parseCommandLine<F extends FlagTable>(flags: F, argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ParsedCommandLine<F> {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, flag] of Object.entries(flags)) options[name] = { type: flag.value === undefined ? 'boolean' : 'string', ...(flag.short === undefined ? {} : { short: flag.short }) };
  // Not strict: unknown flags come back as tokens, so they can be reported with a suggestion.
  const { tokens, positionals } = parseArgs({ args: [...argv], options, allowPositionals: true, strict: false, tokens: true });
  const raw = new Map<string, string>();
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    const flag = flags[token.name];
    if (flag === undefined) {
      const suggestion = nearest(token.name, Object.keys(flags).filter((name) => flags[name]!.hidden !== true));
      throw new UsageError(`unknown option '${token.rawName}'${suggestion === undefined ? '' : ` (did you mean --${suggestion}?)`}`);
    }
    if (flag.value === undefined) {
      if (token.value !== undefined) throw new UsageError(`${token.rawName} takes no value, got ${token.value}`);
      raw.set(token.name, '');
    } else {
      if (token.value === undefined) throw new UsageError(`${token.rawName} needs a value ${flag.value}`);
      raw.set(token.name, token.value);
    }
  }
  const values: Record<string, unknown> = {};
  for (const [name, flag] of Object.entries(flags)) {
    const given = raw.get(name) ?? (flag.env === undefined ? undefined : env[flag.env]) ?? flag.default;
    if (given === undefined) continue;
    try {
      values[name] = flag.parse(given);
    } catch (error) {
      throw new UsageError(`--${name} ${(error as Error).message}, got ${given}`);
    }
  }
  return { values: values as FlagValues<F>, positionals };
}

/** The "Options:" block of a usage text. */
export function describeFlags(flags: FlagTable): string {
  const listed = Object.entries(flags).filter(([, flag]) => flag.hidden !== true);
  const rows = listed.map(([name, flag]) => {
    const left = `${flag.short === undefined ? '' : `-${flag.short}, `}--${name}${flag.value === undefined ? '' : ` ${flag.value}`}`;
    const env = flag.env === undefined ? '' : `\n(also read from ${flag.env})`;
    return [left, `${flag.help}${env}`] as const;
  });
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return rows
    .map(([left, help]) => {
      const [first, ...rest] = help.split('\n');
      return [`  ${left.padEnd(width)}${first}`, ...rest.map((line) => `  ${' '.repeat(width)}${line}`)].join('\n');
    })
    .join('\n');
}

/** The closest known name within an edit distance of 2 (3 for long names), if any. */
function nearest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = name.length > 8 ? 4 : 3;
  for (const candidate of known) {
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  // a prefix of a known flag (`--admin` for `--admin-token`) is a likely typo too
  return best ?? known.find((candidate) => name.length >= 3 && candidate.startsWith(name));
}

/** Levenshtein distance. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length]!;
}
