/**
 * The phases a version goes through while it loads, timed, for progress displays and the
 * `modelLoaded` event. A phase may come back (an `auto` version that moves to threads
 * compiles twice): its durations add up.
 */
export type LoadPhase = 'verifying' | 'reading' | 'compiling' | 'measuring' | 'warming';

/** What each phase means, in the order a load goes through them. */
export const LOAD_PHASES: Readonly<Record<LoadPhase, string>> = Object.freeze({
  verifying: 'verifying checksums (SHA256SUMS)',
  reading: 'reading the version’s files, choosing the runtime',
  compiling: 'the runtime reading and compiling the model into sessions (worker threads started)',
  measuring: 'timing warm runs on the calling thread (instances: auto)',
  warming: 'warmup runs on every instance',
});

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
