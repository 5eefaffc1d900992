/**
 * A fleet: three `modelhost serve` replicas polling one repository, behind a client that
 * spreads requests across them (round robin, as a Service would) and retries a request once
 * on another replica when the first refused it without working on it: a 503, a refused
 * connection, or a kept-alive connection closed before any answer (see `load`).
 *
 * - A rollout written under load (the version first, checksums last, then manifest.json)
 *   reaches every replica within one poll interval (plus the poll itself), and no request
 *   fails while it does.
 * - SIGTERM to one replica under load: it drains and exits 0, and the client sees no error
 *   its one retry does not absorb.
 */
import { rename, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { onnxAffine } from '../fixtures/onnx-models.js';
import { writeVersion } from '../helpers/repository.js';
import { startServe, type ServeProcess } from '../helpers/serve-process.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs('each');
const POLL_MS = 1000;
/** y = scale·x + 1 with a scale per version, so every answer says which version computed it. */
const SCALE: Record<number, number> = { 1: 2, 2: 3 };
const INPUT = [1, 2, 3, 4];

interface FleetState {
  readonly defaultVersion: number | undefined;
  readonly candidate: number | undefined;
  /** Versions with a share of traffic, and the share. */
  readonly traffic: Record<string, number>;
}

/** One HTTP exchange: a status, or the error code of a request that got no answer. */
interface Try {
  readonly replica: number;
  readonly result: number | string;
  /** The version whose answer came back (from the output values). */
  readonly version?: number;
  /** Sent on a kept-alive connection that had carried an earlier request. */
  readonly reusedSocket: boolean;
}

interface Outcome {
  readonly ok: boolean;
  readonly tries: readonly Try[];
  /** When the first try was sent (performance.now(), ms). */
  readonly sentAt: number;
}

async function writeManifest(root: string, models: object): Promise<void> {
  // Written beside, then renamed over: a replica never reads half a manifest.
  const temp = path.join(root, '.manifest.json.tmp');
  await writeFile(temp, JSON.stringify({ models }));
  await rename(temp, path.join(root, 'manifest.json'));
}

async function stateOf(replica: ServeProcess): Promise<FleetState> {
  const status = (await (await fetch(`${replica.url}/status.json`)).json()) as { models: { name: string; defaultVersion?: number; candidate?: number; versions: { version: number; traffic: number }[] }[] };
  const model = status.models.find((m) => m.name === 'affine')!;
  const traffic = Object.fromEntries(model.versions.filter((v) => v.traffic > 0).map((v) => [String(v.version), Math.round(v.traffic * 1000) / 1000]));
  return { defaultVersion: model.defaultVersion, candidate: model.candidate, traffic };
}

/** Resolves with the ms each replica took to report `wanted`, polling their status every 20 ms. */
async function convergence(fleet: readonly ServeProcess[], wanted: FleetState, since: number, limitMs: number): Promise<number[]> {
  return Promise.all(
    fleet.map(async (replica, i) => {
      for (;;) {
        const state = await stateOf(replica);
        const elapsed = performance.now() - since;
        if (JSON.stringify(state) === JSON.stringify(wanted)) return Math.round(elapsed);
        if (elapsed > limitMs) throw new Error(`replica ${i} still reports ${JSON.stringify(state)} ${Math.round(elapsed)} ms after the manifest changed; wanted ${JSON.stringify(wanted)}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }),
  );
}

/**
 * Closed-loop load over the fleet until stopped: `concurrency` callers, round robin. A request
 * the replica refused without working on it is retried once, on the next replica: answered 503,
 * connection refused, or reset on a reused keep-alive connection before any answer (the
 * keep-alive race Node's http.Agent documentation tells clients to retry, `req.reusedSocket`).
 *
 * `withdraw(replica)` is what Kubernetes does when a pod starts terminating: its endpoint is
 * removed, so no new connection goes to it, while connections already open keep carrying
 * requests (kube-proxy only routes new connections).
 */
function load(fleet: readonly ServeProcess[], concurrency: number) {
  const agents = fleet.map(() => new Agent({ keepAlive: true }));
  const outcomes: Outcome[] = [];
  let next = 0;
  let running = true;
  const withdrawn = new Set<number>();
  /** Whether the replica can take a request: in the endpoints, or a kept-alive connection to it is free. */
  const reachable = (replica: number) => !withdrawn.has(replica) || Object.values(agents[replica]!.freeSockets).some((free) => (free?.length ?? 0) > 0);

  const send = (replica: number) =>
    new Promise<Try>((resolve) => {
      const req = request(`${fleet[replica]!.url}/v2/models/affine/infer`, { method: 'POST', agent: agents[replica], headers: { 'content-type': 'application/json' } }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          if (res.statusCode !== 200) return resolve({ replica, result: res.statusCode ?? 0, reusedSocket: req.reusedSocket });
          const body = JSON.parse(text) as { model_version?: string; outputs: { data: number[] }[] };
          // The answer says which version computed it (model_version is left out while traffic is split).
          const data = JSON.stringify(body.outputs[0]!.data);
          const version = Number(Object.keys(SCALE).find((v) => data === JSON.stringify(INPUT.map((x) => SCALE[Number(v)]! * x + 1))));
          const consistent = Number.isInteger(version) && (body.model_version === undefined || body.model_version === String(version));
          resolve({ replica, result: consistent ? 200 : `wrong answer ${text}`, version, reusedSocket: req.reusedSocket });
        });
        res.on('error', (error: NodeJS.ErrnoException) => resolve({ replica, result: error.code ?? error.message, reusedSocket: req.reusedSocket }));
      });
      req.on('error', (error: NodeJS.ErrnoException) => resolve({ replica, result: error.code ?? error.message, reusedSocket: req.reusedSocket }));
      req.end(JSON.stringify({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: INPUT }] }));
    });

  const caller = async () => {
    while (running) {
      let replica = next++ % fleet.length;
      while (!reachable(replica)) replica = next++ % fleet.length;
      const sentAt = performance.now();
      const tries = [await send(replica)];
      if (isRefusal(tries[0]!)) {
        let other = (replica + 1) % fleet.length;
        while (withdrawn.has(other)) other = (other + 1) % fleet.length;
        tries.push(await send(other));
      }
      outcomes.push({ ok: tries.at(-1)!.result === 200, tries, sentAt });
    }
  };
  const callers = Array.from({ length: concurrency }, caller);
  return {
    outcomes,
    withdraw: (replica: number) => void withdrawn.add(replica),
    async stop(): Promise<Outcome[]> {
      running = false;
      await Promise.all(callers);
      for (const agent of agents) agent.destroy();
      return outcomes;
    },
  };
}

/** A try the replica did not work on, so sending it elsewhere is safe. */
function isRefusal({ result, reusedSocket }: Try): boolean {
  return result === 503 || result === 'ECONNREFUSED' || (result === 'ECONNRESET' && reusedSocket);
}

const tally = (outcomes: readonly Outcome[], key: (o: Outcome) => string | number | undefined) => {
  const counts: Record<string, number> = {};
  for (const o of outcomes) counts[String(key(o))] = (counts[String(key(o))] ?? 0) + 1;
  return counts;
};

describe('a fleet of three replicas on one repository', () => {
  let fleet: ServeProcess[] = [];
  afterEach(() => {
    for (const replica of fleet) replica.kill();
    fleet = [];
  });

  async function startFleet(root: string): Promise<ServeProcess[]> {
    fleet = await Promise.all([0, 1, 2].map(() => startServe(['serve', root, '--port', '0', '--poll', String(POLL_MS), '--timeout', '5000'])));
    return fleet;
  }

  it('converges on a rollout written under load within one poll interval, and no request fails', async () => {
    const root = await tempDir();
    await writeVersion(root, 'affine', 1, { 'model.onnx': onnxAffine({ scale: SCALE[1], bias: 1 }) });
    await writeManifest(root, { affine: { default: 1 } });
    await startFleet(root);
    for (const replica of fleet) expect(await stateOf(replica)).toEqual({ defaultVersion: 1, candidate: undefined, traffic: { 1: 1 } });

    const traffic = load(fleet, 12);
    await new Promise((resolve) => setTimeout(resolve, 300));
    // 1. the version, checksums last: pinned by the manifest to v1, the fleet does not serve it yet
    await writeVersion(root, 'affine', 2, { 'model.onnx': onnxAffine({ scale: SCALE[2], bias: 1 }) });
    // 2. a canary: 30% to v2
    let since = performance.now();
    await writeManifest(root, { affine: { default: 1, canary: { version: 2, weight: 0.3 } } });
    const toCanary = await convergence(fleet, { defaultVersion: 1, candidate: 2, traffic: { 1: 0.7, 2: 0.3 } }, since, 4 * POLL_MS);
    const duringCanary = traffic.outcomes.length;
    await new Promise((resolve) => setTimeout(resolve, 500));
    const canaryAnswers = traffic.outcomes.slice(duringCanary);
    // 3. promote: v2 is the default everywhere
    since = performance.now();
    await writeManifest(root, { affine: { default: 2 } });
    const toPromoted = await convergence(fleet, { defaultVersion: 2, candidate: undefined, traffic: { 2: 1 } }, since, 4 * POLL_MS);
    // Requests sent from now on: one sent before, routed to v1 while its replica had not yet
    // switched, may be answered after this (a busy machine's batch outlasting the poll).
    const promotedAt = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const outcomes = await traffic.stop();
    console.info(`fleet rollout: ${outcomes.length} requests; ms per replica to the canary ${toCanary.join(', ')}, to the promotion ${toPromoted.join(', ')} (poll every ${POLL_MS} ms)`);

    expect(tally(outcomes, (o) => o.tries.at(-1)!.result)).toEqual({ 200: outcomes.length });
    expect(outcomes.every((o) => o.tries.length === 1)).toBe(true);
    expect(outcomes.length).toBeGreaterThan(100);
    // Each replica applied each change within one interval plus the poll's own work (loading
    // and warming v2 for the canary): here 2 × the interval. The measured times are in the message.
    expect(Math.max(...toCanary, ...toPromoted), `ms per replica to the canary: ${toCanary.join(', ')}; to the promotion: ${toPromoted.join(', ')}`).toBeLessThanOrEqual(2 * POLL_MS);
    // during the canary both versions answered; after the promotion only v2
    expect(new Set(canaryAnswers.map((o) => o.tries[0]!.version))).toEqual(new Set([1, 2]));
    expect(new Set(outcomes.filter((o) => o.sentAt > promotedAt).map((o) => o.tries[0]!.version))).toEqual(new Set([2]));
  });

  it('SIGTERM to one replica under load: it drains and exits 0, and one retry absorbs every refusal', async () => {
    const root = await tempDir();
    await writeVersion(root, 'affine', 1, { 'model.onnx': onnxAffine({ scale: SCALE[1], bias: 1 }) });
    await startFleet(root);

    const traffic = load(fleet, 12);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const atSigterm = traffic.outcomes.length;
    // Kubernetes sends SIGTERM and removes the endpoint at the same time (preStop delays
    // the signal, not modelled here: the signal lands while connections are still in use).
    traffic.withdraw(0);
    fleet[0]!.child.kill('SIGTERM');
    const exit = await fleet[0]!.exited;
    await new Promise((resolve) => setTimeout(resolve, 500));
    const outcomes = await traffic.stop();

    expect(exit).toEqual({ code: 0, signal: null });
    expect(fleet[0]!.logs().at(-1)).toMatchObject({ msg: 'stopped' });
    const failed = outcomes.filter((o) => !o.ok);
    // While it drains, the stopping replica answers every new request 503 SHUTTING_DOWN with
    // Connection: close (never a 404), which the client retries: nothing fails.
    expect({ failed: failed.length, results: tally(failed, (o) => o.tries.map((t) => `${t.replica}:${t.result}`).join(' then ')) }).toEqual({ failed: 0, results: {} });
    // what the one retry absorbed: refusals by the replica going away, and nothing else
    const retried = outcomes.filter((o) => o.tries.length === 2);
    for (const { tries } of retried) expect({ replica: tries[0]!.replica, refused: isRefusal(tries[0]!) }).toEqual({ replica: 0, refused: true });
    console.info(`fleet SIGTERM: ${outcomes.length} requests, ${retried.length} retried (${JSON.stringify(tally(retried, (o) => String(o.tries[0]!.result)))})`);
    // the load went on past the signal, on the two replicas left
    expect(outcomes.length - atSigterm).toBeGreaterThan(50);
  });
});
