/**
 * Slow clients against `modelhost serve` (issue 14's "slow clients" suite, the timing half;
 * the behaviour half is test/adapters/http/slow-clients.test.ts): do normal requests keep
 * their rate and latency, and does memory stay bounded, while thousands of sockets sit idle,
 * slowloris connections trickle their headers, or bodies arrive a few bytes at a time?
 *
 *   npm run build && npm run demo:models
 *   flock /tmp/modelhost-bench.lock npx tsx bench/slow-clients.ts [--seconds 6] [--idle 2000] [--slowloris 200] [--trickle 100] [--rounds 2]
 *
 * Each phase runs the same normal load (8 keep-alive connections, closed loop, the demo
 * mlp-onnx KServe v2 request, our raw-socket client) for `--seconds`: alone, then beside one
 * kind of slow client opened just before it, pair after pair (`--rounds`). Reported per phase: the normal load's req/s,
 * p50 and p99 and their ratio to the phase with no slow clients (same run), how many slow
 * sockets the server closed, and the server's RSS before and after. Timings are this
 * machine's: compare the ratios.
 */
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServe } from './http/serve-process.js';
import { describeMachine, machineInfo } from './lib/machine.js';
import { rawLoad } from './lib/raw-load.js';
import { rssMiB } from './lib/process-rss.js';
import { summarize } from './lib/stats.js';
import { formatCount, formatMs, formatRatio, formatTable } from './lib/table.js';

const REPOSITORY = fileURLToPath(new URL('../examples/quickstart/models', import.meta.url));
const MODEL = 'mlp-onnx';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '6' },
    idle: { type: 'string', default: '2000' },
    slowloris: { type: 'string', default: '200' },
    trickle: { type: 'string', default: '100' },
    rounds: { type: 'string', default: '2' },
  },
});
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);

type SlowKind = 'idle' | 'slowloris' | 'trickle';

/** Sockets that misbehave in one way until `stop()`; counts the ones the server closed. */
interface SlowClients {
  readonly opened: number;
  closedByServer(): number;
  stop(): void;
}

function openSlowClients(url: URL, kind: SlowKind, count: number): SlowClients {
  const sockets: Socket[] = [];
  let closedByServer = 0;
  let stopping = false;
  const timers: NodeJS.Timeout[] = [];
  for (let i = 0; i < count; i++) {
    const socket = connect({ host: url.hostname, port: Number(url.port) });
    sockets.push(socket);
    socket.on('error', () => {});
    socket.on('data', () => {}); // a 408 or 503 is read and dropped
    socket.once('close', () => {
      if (!stopping) closedByServer++;
    });
    if (kind === 'idle') continue;
    socket.once('connect', () => {
      if (kind === 'slowloris') {
        // A request line and then one header byte every 500 ms: the headers never end.
        socket.write(`POST /v2/models/${MODEL}/infer HTTP/1.1\r\nhost: ${url.host}\r\nx-slow: `);
        timers.push(setInterval(() => socket.writable && socket.write('a'), 500));
      } else {
        // Whole headers announcing 1 MiB, then 64 bytes every 200 ms (~320 B/s).
        socket.write(`POST /v2/models/${MODEL}/infer HTTP/1.1\r\nhost: ${url.host}\r\ncontent-type: application/json\r\ncontent-length: 1048576\r\n\r\n`);
        timers.push(setInterval(() => socket.writable && socket.write(' '.repeat(64)), 200));
      }
    });
  }
  return {
    opened: count,
    closedByServer: () => closedByServer,
    stop() {
      stopping = true;
      for (const timer of timers) clearInterval(timer);
      for (const socket of sockets) socket.destroy();
    },
  };
}


const body = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 64], datatype: 'FP32', data: Array.from({ length: 64 }, (_, i) => (i % 7) / 7) }] });

async function main(): Promise<void> {
  process.stderr.write(`${describeMachine(machineInfo())}\n`);
  const serve = await startServe(REPOSITORY, [MODEL]);
  const url = new URL(serve.url);
  const inferUrl = `${serve.url}/v2/models/${MODEL}/infer`;
  const normal = () => rawLoad({ url: inferUrl, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections: 8, seconds });
  try {
    await normal(); // warm-up: JIT, batch shapes, the adaptive limit
    // Each slow phase is paired with a phase alone just before it, and the pairs repeat
    // (`--rounds`): a ratio within a pair is what the slow clients cost, not the machine's drift.
    const kinds: { name: string; kind: SlowKind; count: number }[] = [
      { name: `${values.idle} idle sockets`, kind: 'idle', count: Number(values.idle) },
      { name: `${values.slowloris} slowloris (a header byte per 500 ms)`, kind: 'slowloris', count: Number(values.slowloris) },
      { name: `${values.trickle} trickled 1 MiB bodies (320 B/s)`, kind: 'trickle', count: Number(values.trickle) },
    ];
    const rows: string[][] = [];
    const phase = async (kind?: (typeof kinds)[number]) => {
      const rssBefore = rssMiB(serve.pid);
      const slow = kind === undefined ? undefined : openSlowClients(url, kind.kind, kind.count);
      if (slow !== undefined) await sleep(1500); // every slow socket connected, misbehaving, past the listener's 1 s slow-body mark
      const run = await normal();
      const closed = slow?.closedByServer() ?? 0;
      const rssAfter = rssMiB(serve.pid);
      slow?.stop();
      await sleep(1000); // the server forgets the closed sockets
      const ok = Object.entries(run.statuses).reduce((sum, [status, n]) => (status.startsWith('2') ? sum + n : sum), 0);
      const other = Object.entries(run.statuses).filter(([status]) => !status.startsWith('2'));
      return { rate: ok / run.seconds, latency: summarize(run.latencies), other, closed, opened: slow?.opened ?? 0, rssBefore, rssAfter };
    };
    for (let round = 1; round <= rounds; round++) {
      for (const kind of kinds) {
        const alone = await phase();
        const beside = await phase(kind);
        rows.push([
          `${round}`,
          kind.name,
          `${formatCount(alone.rate)} → ${formatCount(beside.rate)}`,
          formatRatio(beside.rate / alone.rate),
          `${formatMs(alone.latency.p50)} → ${formatMs(beside.latency.p50)}`,
          `${formatMs(alone.latency.p99)} → ${formatMs(beside.latency.p99)}`,
          beside.other.length === 0 ? '–' : beside.other.map(([s, n]) => `${s}: ${n}`).join(', '),
          `${beside.closed} of ${beside.opened}`,
          `${beside.rssBefore.toFixed(0)} → ${beside.rssAfter.toFixed(0)}`,
        ]);
      }
    }
    process.stdout.write(
      `\nSlow clients beside a normal load (8 connections, ${MODEL}, ${seconds} s per phase; ${serve.command})\n\n` +
        formatTable(['round', 'beside the normal load', 'normal req/s, alone → beside', '÷ alone', 'p50 ms', 'p99 ms', 'normal non-2xx', 'slow sockets closed by the server', 'server RSS MiB while beside'], rows) +
        '\n',
    );
  } finally {
    await serve.stop();
  }
}

await main();
