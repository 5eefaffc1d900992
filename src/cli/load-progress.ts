/**
 * What `modelhost serve` shows while models load, per model and version: the phase it is in
 * (verifying checksums, reading, compiling, measuring, warming up) and the time elapsed.
 *
 * - `live` (stdout is a terminal): a block of lines, one per version, redrawn in place
 *   ten times a second, that ends with each version's load time and its phases. Log lines
 *   written meanwhile go through `log`, above the block, so the two never tear.
 * - otherwise: one log line per phase through the logger (`loading`, with `model`,
 *   `version`, `phase`, `elapsedMs`), in the chosen log format.
 */
import type { LoadPhase, LoadPhaseDurations, Logger, ModelHost } from 'modelhost';

export interface ProgressStream {
  write(text: string): unknown;
  /** Terminal width, when the stream is a terminal. */
  readonly columns?: number;
}

export const PHASE_LABELS: Readonly<Record<LoadPhase, string>> = Object.freeze({
  verifying: 'verifying checksums',
  reading: 'reading',
  compiling: 'compiling',
  measuring: 'measuring',
  warming: 'warming up',
});

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const REDRAW_MS = 100;

interface Row {
  readonly label: string;
  /** performance.now() when the load started (estimated from the first phase event). */
  readonly started: number;
  phase: LoadPhase;
  done?: string;
}

export class LoadProgress {
  private readonly rows = new Map<string, Row>();
  /** Lines of the block on screen now. */
  private drawn = 0;
  private frame = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  private detach: (() => void) | undefined;

  constructor(
    private readonly stream: ProgressStream,
    private readonly options: { readonly live: boolean },
  ) {}

  /** Writes a log line (ending in a newline) above the live block, or straight through. */
  log(line: string): void {
    if (!this.options.live || this.drawn === 0) {
      this.stream.write(line);
      return;
    }
    this.stream.write(this.erase() + line + this.block());
  }

  /** Follows the loads of `host` until `stop()`; `logger` writes the lines when not live. */
  attach(host: ModelHost, logger: Logger): void {
    const started = (e: { model: string; version: number; phase: LoadPhase; elapsedMs: number }) => {
      if (!this.options.live) {
        logger.info('loading', { model: e.model, version: e.version, phase: e.phase, elapsedMs: Math.round(e.elapsedMs) });
        return;
      }
      const key = `${e.model}@${e.version}`;
      const row = this.rows.get(key);
      if (row === undefined || row.done !== undefined) this.rows.set(key, { label: `${e.model} v${e.version}`, started: performance.now() - e.elapsedMs, phase: e.phase });
      else row.phase = e.phase;
      this.start();
      this.redraw();
    };
    const loaded = (e: { model: string; version: number; loadMs: number; phases: LoadPhaseDurations }) => this.finish(e.model, e.version, `✓ loaded in ${duration(e.loadMs)} (${phaseList(e.phases)})`);
    const failed = (e: { model: string; version: number; code: string }) => this.finish(e.model, e.version, `✗ failed (${e.code})`);
    host.on('loadPhaseStarted', started);
    host.on('modelLoaded', loaded);
    host.on('modelLoadFailed', failed);
    this.detach = () => {
      host.off('loadPhaseStarted', started);
      host.off('modelLoaded', loaded);
      host.off('modelLoadFailed', failed);
    };
  }

  /** Stops following; the block stays on screen as it was last drawn, and later log lines go below it. */
  stop(): void {
    this.detach?.();
    this.detach = undefined;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (this.options.live && this.rows.size > 0) this.redraw();
    this.drawn = 0;
    this.rows.clear();
  }

  private finish(model: string, version: number, text: string): void {
    const row = this.rows.get(`${model}@${version}`);
    if (!this.options.live || row === undefined) return;
    row.done = text;
    this.redraw();
  }

  private start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => {
      this.frame++;
      this.redraw();
    }, REDRAW_MS);
    this.timer.unref?.();
  }

  private redraw(): void {
    this.stream.write(this.erase() + this.block());
  }

  /** Moves the cursor up over the block and clears it. */
  private erase(): string {
    if (this.drawn === 0) return '';
    const up = `\x1b[${this.drawn}A`;
    this.drawn = 0;
    return `${up}\r\x1b[J`;
  }

  private block(): string {
    const width = Math.max(...[...this.rows.values()].map((r) => r.label.length), 0);
    const now = performance.now();
    const lines = [...this.rows.values()].map((row) => {
      const status = row.done ?? `${SPINNER[this.frame % SPINNER.length]} ${PHASE_LABELS[row.phase]} ${duration(now - row.started)}`;
      return fit(`  ${row.label.padEnd(width)}  ${status}`, this.stream.columns);
    });
    this.drawn = lines.length;
    return lines.map((l) => `${l}\n`).join('');
  }
}

/** `850 ms`, `1.2 s`, `75 s`. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

function phaseList(phases: LoadPhaseDurations): string {
  return (Object.entries(phases) as [LoadPhase, number][]).map(([phase, ms]) => `${PHASE_LABELS[phase]} ${duration(ms)}`).join(', ');
}

/** One terminal row: a line wider than the terminal would wrap and break the redraw. */
function fit(line: string, columns: number | undefined): string {
  return columns !== undefined && columns > 1 && line.length >= columns ? `${line.slice(0, columns - 2)}…` : line;
}
