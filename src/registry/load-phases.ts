/**
 * The phases a version goes through while it loads, timed, for progress displays and the
 * `modelLoaded` event. A phase may come back (an `auto` version that moves to threads
 * compiles twice): its durations add up.
 */
/**
 * - `verifying`: hashing the version's files against its SHA256SUMS
 * - `reading`: listing the version's files, choosing the runtime
 * - `compiling`: the runtime reading the model and building its session(s); worker threads starting
 * - `measuring`: timed warm runs on the calling thread (`instances: auto`)
 * - `warming`: warmup runs on every instance
 */
export type LoadPhase = 'verifying' | 'reading' | 'compiling' | 'measuring' | 'warming';

/** Milliseconds spent in each phase the load went through. */
export type LoadPhaseDurations = Readonly<Partial<Record<LoadPhase, number>>>;

export class LoadPhaseTimer {
  private readonly started = performance.now();
  private current: { phase: LoadPhase; since: number } | undefined;
  private readonly durations: Partial<Record<LoadPhase, number>> = {};

  /** @param onStart told of each phase as it starts, with the ms since the load started. */
  constructor(private readonly onStart: (phase: LoadPhase, elapsedMs: number) => void = () => {}) {}

  /** Ends the current phase and starts `phase`. */
  start(phase: LoadPhase): void {
    const now = this.end();
    this.current = { phase, since: now };
    this.onStart(phase, now - this.started);
  }

  /** Ends the current phase; returns the durations so far. */
  finish(): LoadPhaseDurations {
    this.end();
    this.current = undefined;
    return { ...this.durations };
  }

  private end(): number {
    const now = performance.now();
    if (this.current !== undefined) this.durations[this.current.phase] = (this.durations[this.current.phase] ?? 0) + (now - this.current.since);
    return now;
  }
}
