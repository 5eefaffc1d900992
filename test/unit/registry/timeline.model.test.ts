import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ModelHost, type ModelHostError, type Runtime } from '../../../src/index.js';
import type { Operation } from '../../../src/registry/model-timeline.js';
import { deferred, FAKE_SOURCE } from '../../helpers/fake-runtime.js';
import { versionedRuntime } from '../../helpers/versioned-runtime.js';

/**
 * Model-based test of the control path: random sequences and overlaps of load, deploy
 * (full or canary), promote, setTraffic, rollback, unload (model or version) and requests on two
 * models, on a runtime whose loads take random time and fail for some versions, against a
 * reference model of the documented semantics (docs/versions.md). Loads are held until
 * `Settle`, so every operation issued meanwhile overlaps the ones before it; at `Settle`
 * the host's state, every operation's outcome and every answer must match the reference,
 * and the sessions open must be exactly the versions loaded.
 */

type Outcome = 'ok' | string; // an error code

interface SimModel {
  versions: Map<number, 'ready' | 'failed'>;
  def: number | undefined;
  cand: number | undefined;
  weights: Map<number, number>;
  history: number[];
}

type OpSpec =
  | { kind: 'load'; model: string; version: number }
  | { kind: 'deploy'; model: string; version: number; canary: number | undefined }
  | { kind: 'promote'; model: string }
  | { kind: 'rollback'; model: string }
  | { kind: 'traffic'; model: string; weights: Record<number, number> }
  | { kind: 'unload'; model: string; version: number | undefined };

interface Issued {
  spec: OpSpec;
  operation: Operation;
  /** Cancelled by a later operation (queued: never ran; running: undone). */
  cancelled: boolean;
  /** For a rollback: the version of the first deploy it cancelled. */
  cancelledDeploy: number | undefined;
  expected: Outcome | undefined;
  actual: Promise<Outcome>;
}

interface Lane {
  /** The operation holding the lane (waiting on a held load). */
  running: Issued | undefined;
  queue: Issued[];
}

class Sim {
  readonly models = new Map<string, SimModel>();
  readonly lanes = new Map<string, Lane>();
  readonly issued: Issued[] = [];
  readonly requests: { model: string; allowed: Set<number> | 'missing' | 'maybe-missing'; actual: Promise<number | string> }[] = [];
  constructor(readonly failing: ReadonlyMap<string, ReadonlySet<number>>) {}

  lane(model: string): Lane {
    let lane = this.lanes.get(model);
    if (lane === undefined) this.lanes.set(model, (lane = { running: undefined, queue: [] }));
    return lane;
  }

  /** Whether this operation would call the runtime's load (held until Settle). */
  loads(spec: OpSpec): boolean {
    const m = this.models.get(spec.model);
    if (spec.kind === 'load') return m?.versions.get(spec.version) !== 'ready';
    if (spec.kind === 'deploy') {
      if (m !== undefined && m.def !== undefined && spec.version === m.def && spec.canary !== undefined) return false;
      return m?.versions.get(spec.version) !== 'ready';
    }
    return false;
  }

  /** Runs an operation to completion on the reference state. */
  apply(op: Issued): Outcome {
    const { spec } = op;
    const name = spec.model;
    switch (spec.kind) {
      case 'load':
        return this.load(name, spec.version);
      case 'deploy': {
        const m = this.models.get(name);
        if (m === undefined || m.def === undefined) return this.load(name, spec.version);
        if (spec.version === m.def && spec.canary !== undefined) return 'INVALID_INPUT';
        if (m.versions.get(spec.version) !== 'ready' && !this.loadVersion(m, name, spec.version)) return 'LOAD_FAILED';
        if (spec.canary === undefined) this.swap(m, spec.version, true);
        else {
          m.cand = spec.version;
          m.weights = new Map([[m.def, 1 - spec.canary], [spec.version, spec.canary]]);
        }
        return 'ok';
      }
      case 'promote': {
        const m = this.models.get(name);
        if (m === undefined) return 'MODEL_NOT_FOUND';
        if (m.cand === undefined) return 'VERSION_NOT_FOUND';
        this.swap(m, m.cand, true);
        return 'ok';
      }
      case 'traffic': {
        const m = this.models.get(name);
        if (m === undefined) return 'MODEL_NOT_FOUND';
        if (Object.keys(spec.weights).some((v) => m.versions.get(Number(v)) !== 'ready')) return 'VERSION_NOT_FOUND';
        m.weights = new Map(Object.entries(spec.weights).filter(([, w]) => w > 0).map(([v, w]) => [Number(v), w]));
        return 'ok';
      }
      case 'rollback': {
        const m = this.models.get(name);
        if (m === undefined) return 'MODEL_NOT_FOUND';
        if (op.cancelledDeploy !== undefined) return m.def === undefined ? 'VERSION_NOT_FOUND' : 'ok';
        if (m.cand !== undefined) {
          m.cand = undefined;
          m.weights = new Map([[m.def!, 1]]);
          return 'ok';
        }
        let target = m.history.pop();
        while (target !== undefined && target === m.def) target = m.history.pop();
        if (target === undefined) return 'VERSION_NOT_FOUND';
        if (m.versions.get(target) !== 'ready') {
          m.history.push(target);
          return 'INVALID_CONFIG'; // past what is loaded it would need a repository
        }
        this.swap(m, target, false);
        return 'ok';
      }
      case 'unload': {
        const m = this.models.get(name);
        if (m === undefined) return 'ok';
        if (spec.version === undefined) {
          this.models.delete(name);
          return 'ok';
        }
        const v = spec.version;
        if (!m.versions.has(v)) return 'VERSION_NOT_FOUND';
        if (m.cand === v) m.cand = undefined;
        if (m.def === v) m.def = undefined;
        if (m.weights.has(v)) {
          m.weights.delete(v);
          if (m.weights.size === 0 && m.def !== undefined) m.weights = new Map([[m.def, 1]]);
        }
        m.versions.delete(v);
        if (m.def === undefined) {
          const ready = [...m.versions].filter(([, s]) => s === 'ready').map(([x]) => x);
          if (ready.length > 0) this.swap(m, Math.max(...ready), false);
        }
        if (m.versions.size === 0) this.models.delete(name);
        return 'ok';
      }
    }
  }

  private load(name: string, version: number): Outcome {
    let m = this.models.get(name);
    if (m === undefined) this.models.set(name, (m = { versions: new Map(), def: undefined, cand: undefined, weights: new Map(), history: [] }));
    if (m.versions.get(version) !== 'ready' && !this.loadVersion(m, name, version)) return 'LOAD_FAILED';
    if (m.def !== version || m.cand !== undefined) this.swap(m, version, true);
    return 'ok';
  }

  private loadVersion(m: SimModel, name: string, version: number): boolean {
    const ok = !this.failing.get(name)!.has(version);
    m.versions.set(version, ok ? 'ready' : 'failed');
    return ok;
  }

  private swap(m: SimModel, version: number, push: boolean): void {
    const previous = m.def;
    m.def = version;
    m.cand = undefined;
    m.weights = new Map([[version, 1]]);
    if (previous !== undefined && previous !== version && push && m.history.at(-1) !== previous) {
      m.history.push(previous);
      if (m.history.length > 20) m.history.shift();
    }
  }

  /** A cancelled running operation: its held load is abandoned, the version it was loading is gone. */
  undo(op: Issued): void {
    const m = this.models.get(op.spec.model);
    if (m === undefined) return;
    if (op.spec.kind === 'load' || op.spec.kind === 'deploy') m.versions.delete(op.spec.version);
    if (m.versions.size === 0) this.models.delete(op.spec.model);
  }

  /** Everything held runs now, in issue order. */
  settle(): void {
    for (const [, lane] of this.lanes) {
      if (lane.running !== undefined) {
        const op = lane.running;
        if (op.cancelled) {
          this.undo(op);
          op.expected = 'CANCELLED';
        } else op.expected = this.apply(op);
      }
      for (const op of lane.queue) op.expected = op.cancelled ? 'CANCELLED' : this.apply(op);
    }
    this.lanes.clear();
  }
}

/** The cancellation column of the table in docs/versions.md, written out again for the reference. */
function cancels(later: Operation, earlier: Operation): boolean {
  if (earlier.kind === 'unload') return false;
  if (later.kind === 'unload' && later.version === undefined) return true;
  if (later.kind === 'unload') return (earlier.kind === 'load' || earlier.kind === 'deploy') && earlier.version === later.version;
  return later.kind === 'rollback' && earlier.kind === 'deploy';
}

interface Real {
  host: ModelHost;
  open: () => number;
  gate: ReturnType<typeof deferred>;
  delays: number[];
}

const code = (p: Promise<unknown>): Promise<Outcome> => p.then(() => 'ok', (e: ModelHostError) => e.code ?? String(e));
const flushTurn = async () => {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
};

function operationOf(spec: OpSpec): Operation {
  const version = spec.kind === 'load' || spec.kind === 'deploy' || spec.kind === 'unload' ? spec.version : undefined;
  return { kind: spec.kind, version, automatic: false };
}

class IssueCommand implements fc.AsyncCommand<Sim, Real> {
  constructor(readonly spec: OpSpec) {}
  check = () => true;
  async run(sim: Sim, real: Real): Promise<void> {
    const { spec } = this;
    const lane = sim.lane(spec.model);
    const pending = lane.running !== undefined || lane.queue.some((q) => !q.cancelled);
    const start = (): Promise<unknown> => {
      const h = real.host;
      switch (spec.kind) {
        case 'load':
          return h.load(spec.model, { version: spec.version, source: FAKE_SOURCE });
        case 'deploy':
          return h.deploy(spec.model, spec.version, { source: FAKE_SOURCE, ...(spec.canary === undefined ? {} : { canary: spec.canary }) });
        case 'promote':
          return h.promote(spec.model);
        case 'rollback':
          return h.rollback(spec.model);
        case 'traffic':
          return h.setTraffic(spec.model, spec.weights);
        case 'unload':
          return h.unload(spec.model, spec.version);
      }
    };
    const op: Issued = { spec, operation: operationOf(spec), cancelled: false, cancelledDeploy: undefined, expected: undefined, actual: code(start()) };
    sim.issued.push(op);
    // An unload of a model neither loaded nor pending is refused at once.
    if (spec.kind === 'unload' && !pending && !sim.models.has(spec.model)) {
      op.expected = 'MODEL_NOT_FOUND';
      await flushTurn();
      return;
    }
    for (const earlier of [lane.running, ...lane.queue]) {
      if (earlier === undefined || earlier.cancelled || !cancels(op.operation, earlier.operation)) continue;
      earlier.cancelled = true;
      if (earlier !== lane.running) earlier.expected = 'CANCELLED'; // queued: answers at once, never runs
      if (op.spec.kind === 'rollback' && earlier.spec.kind === 'deploy') op.cancelledDeploy ??= earlier.spec.version;
    }
    lane.queue = lane.queue.filter((q) => !q.cancelled);
    if (!pending) {
      if (sim.loads(spec)) lane.running = op;
      else op.expected = sim.apply(op);
    } else lane.queue.push(op);
    await flushTurn();
  }
  toString = () => JSON.stringify(this.spec);
}

class PredictCommand implements fc.AsyncCommand<Sim, Real> {
  constructor(readonly model: string) {}
  check = () => true;
  async run(sim: Sim, real: Real): Promise<void> {
    const m = sim.models.get(this.model);
    const holding = sim.lanes.get(this.model)?.running !== undefined;
    let allowed: Set<number> | 'missing' | 'maybe-missing';
    if (m === undefined) allowed = holding ? 'maybe-missing' : 'missing';
    else {
      allowed = new Set([...m.weights.keys()].filter((v) => m.versions.get(v) === 'ready'));
      if (m.def !== undefined && m.versions.get(m.def) === 'ready') allowed.add(m.def);
    }
    const actual = real.host.predict(this.model, [1, 1]).then(
      (out) => (out['y']!.data as Float32Array)[0]!,
      (e: ModelHostError) => e.code,
    );
    sim.requests.push({ model: this.model, allowed, actual });
    await flushTurn();
  }
  toString = () => `predict(${this.model})`;
}

class SettleCommand implements fc.AsyncCommand<Sim, Real> {
  check = () => true;
  async run(sim: Sim, real: Real): Promise<void> {
    sim.settle();
    real.gate.resolve(undefined);
    for (const op of sim.issued) expect({ op: op.spec, outcome: await op.actual }).toEqual({ op: op.spec, outcome: op.expected });
    for (const r of sim.requests) {
      const got = await r.actual;
      if (r.allowed === 'missing') expect(got).toBe('MODEL_NOT_FOUND');
      else if (r.allowed === 'maybe-missing') expect(['MODEL_NOT_FOUND', 'MODEL_NOT_READY']).toContain(got);
      else if (r.allowed.size === 0) expect(got).toBe('MODEL_NOT_READY');
      else expect([...r.allowed]).toContain(got); // answered by a version serving when it was admitted
    }
    sim.issued.length = 0;
    sim.requests.length = 0;
    real.gate = deferred();
    // The host's state is the reference's.
    const status = Object.fromEntries(real.host.status().map((s) => [s.name, s]));
    expect(Object.keys(status).sort()).toEqual([...sim.models.keys()].sort());
    let ready = 0;
    for (const [name, m] of sim.models) {
      const s = status[name]!;
      const total = [...m.weights.values()].reduce((a, b) => a + b, 0);
      const traffic = Object.fromEntries([...m.weights].map(([v, w]) => [v, w / total]));
      expect({ name, def: s.defaultVersion, cand: s.candidate, versions: s.versions.map((v) => [v.version, v.state]) }).toEqual({
        name,
        def: m.def,
        cand: m.cand,
        versions: [...m.versions].sort((a, b) => b[0] - a[0]),
      });
      for (const [v, share] of Object.entries(traffic)) expect(s.traffic[Number(v)] ?? 0).toBeCloseTo(share, 9);
      ready += [...m.versions.values()].filter((state) => state === 'ready').length;
    }
    expect(real.open()).toBe(ready); // one session per ready version, none left behind
  }
  toString = () => 'settle';
}

const MODELS = ['m', 'n'];
const model = fc.constantFrom(...MODELS);
const version = fc.integer({ min: 1, max: 4 });
const commands = fc.commands(
  [
    fc.record({ model, version }).map(({ model, version }) => new IssueCommand({ kind: 'load', model, version })),
    fc.record({ model, version, canary: fc.option(fc.constantFrom(0.25, 0.5), { nil: undefined }) }).map((s) => new IssueCommand({ kind: 'deploy', ...s })),
    model.map((m) => new IssueCommand({ kind: 'promote', model: m })),
    model.map((m) => new IssueCommand({ kind: 'rollback', model: m })),
    fc
      .record({ model, a: version, b: version, share: fc.constantFrom(0.3, 0.5) })
      .map(({ model, a, b, share }) => new IssueCommand({ kind: 'traffic', model, weights: a === b ? { [a]: 1 } : { [a]: share, [b]: 1 - share } })),
    fc.record({ model, version: fc.option(version, { nil: undefined }) }).map((s) => new IssueCommand({ kind: 'unload', ...s })),
    model.map((m) => new PredictCommand(m)),
    fc.constant(new SettleCommand()),
  ],
  { maxCommands: 30 },
);

describe('control path against a reference model (fast-check asyncModelRun)', () => {
  it('after quiescence the state, every outcome and every answer match the reference; no session is left', async () => {
    await fc.assert(
      fc.asyncProperty(
        commands,
        fc.record({ m: fc.subarray([1, 2, 3, 4], { maxLength: 2 }), n: fc.subarray([1, 2, 3, 4], { maxLength: 2 }) }),
        fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 8 }),
        async (cmds, failing, delays) => {
          const runtime = versionedRuntime();
          const failingSets = new Map(Object.entries(failing).map(([k, v]) => [k, new Set(v)]));
          let loads = 0;
          const real: Real = { host: undefined as unknown as ModelHost, open: () => runtime.open, gate: deferred(), delays };
          // Loads wait for the test's gate, then take a random time, then fail for the model's failing versions.
          const held: Runtime = {
            name: 'versioned',
            canLoad: runtime.canLoad,
            async load(source, options) {
              await real.gate.promise;
              await new Promise((resolve) => setTimeout(resolve, delays[loads++ % delays.length]));
              if (failingSets.get(options.model)!.has(options.version)) throw new Error(`v${options.version} is corrupt`);
              return runtime.load(source, options);
            },
          };
          real.host = new ModelHost({ runtimes: { versioned: held }, defaults: { rollout: { enabled: false }, retainVersions: 20, batching: false } });
          const sim = new Sim(failingSets);
          try {
            await fc.asyncModelRun(() => ({ model: sim, real }), [...cmds, new SettleCommand()]);
          } finally {
            real.gate.resolve(undefined);
            await real.host.close();
          }
          expect(runtime.open).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  }, 120_000);
});
