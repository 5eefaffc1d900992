/**
 * A Markdown table padded to align in a terminal, so the same text reads well in stdout
 * and pastes into docs/benchmarks.md. Columns whose cells look numeric align right.
 */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => /^[-+–]?[\d.,]*\d[\d.,]*\s*(×|%|ms|ns)?\*?$|^–$|^n\/a$/.test(r[i] ?? '')));
  const cell = (text: string, i: number) => (numeric[i] ? text.padStart(widths[i]!) : text.padEnd(widths[i]!));
  const line = (cells: readonly string[]) => `| ${headers.map((_, i) => cell(cells[i] ?? '', i)).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (numeric[i] ? `${'-'.repeat(w + 1)}:` : `${'-'.repeat(w + 2)}`)).join('|')}|`;
  return [line(headers), rule, ...rows.map(line)].join('\n');
}

/** Shown where a value does not exist (no batches seen, cell not run). */
export const NONE = '–';

/** 12,345 — thousands separators make throughput columns scannable. */
export function formatCount(value: number): string {
  if (!Number.isFinite(value)) return NONE;
  return Math.round(value).toLocaleString('en-US');
}

/** Milliseconds with three significant digits (0.0612, 1.23, 45.6, 1,234). */
export function formatMs(value: number): string {
  if (!Number.isFinite(value)) return NONE;
  if (Math.abs(value) >= 1000) return formatCount(value);
  return value === 0 ? '0' : value.toPrecision(3).replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '');
}

export function formatRatio(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(2)}×` : NONE;
}

export function formatNs(value: number): string {
  return Number.isFinite(value) ? `${value < 100 ? value.toFixed(1) : formatCount(value)} ns` : NONE;
}
