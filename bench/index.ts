/**
 * `npm run bench`: the micro benchmarks, then the closed-loop load bench, in one process
 * so every number in bench/results/latest.json comes from the same run on the same machine;
 * with `--threads` (or BENCH_THREADS=1) the worker-thread instances bench after them
 * (about 1.5 minutes more, so off by default).
 *
 *   npm run bench -- [--quick] [--only mlp-tfjs,mlp-onnx,tiny-tfjs,mobilenet] [--json path] [--mobilenet-64] [--threads [--wait-quiet]]
 */
import { parseBenchArgs } from './lib/cli.js';
import { cpuShareSince, cpuSnapshot } from './lib/cpu-contention.js';
import { describeMachine, machineInfo } from './lib/machine.js';
import { writeResults } from './lib/results.js';
import { formatLoadReport, runLoadBench } from './load.js';
import { formatMicroReport, runMicroBench } from './micro.js';
import { formatThreadsReport, runThreadsBench, threadsFlags, writeThreadsResults } from './threads.js';

const started = performance.now();
const cpuAtStart = cpuSnapshot();
// --threads (this entry point's) and --wait-quiet (the threads bench's) are taken out; the rest are the shared bench flags.
const { waitQuiet, rest: argv } = threadsFlags(process.argv.slice(2));
const withThreads = argv.includes('--threads') || ['1', 'true'].includes((process.env['BENCH_THREADS'] ?? '').toLowerCase());
const args = parseBenchArgs(argv.filter((a) => a !== '--threads'));
const machine = machineInfo();
console.log(`machine: ${describeMachine(machine)}`);
console.log(`command: npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}${args.quick ? ' (quick: short cells, noisier)' : ''}\n`);

const micro = await runMicroBench(args);
console.log(`${formatMicroReport(micro)}\n`);

const load = await runLoadBench(args);
console.log(formatLoadReport(load));

const threads = withThreads ? await runThreadsBench(args, { waitQuiet }) : undefined;
if (threads !== undefined) console.log(`\n${formatThreadsReport(threads)}`);

const totalMs = performance.now() - started;
const cpu = cpuShareSince(cpuAtStart);
const command = ['npm run bench', ...process.argv.slice(2)].join(' ');
const written = await writeResults({ command, machine, micro, load, ...(threads === undefined ? {} : { threads }), totalMs, cpu }, { extraPath: args.json });
if (threads !== undefined) written.push(...(await writeThreadsResults({ command, machine, threads }, undefined)));
const others = cpu === undefined ? '' : `; other processes took ${cpu.otherCores.toFixed(2)} cores on average`;
const threadsTime = threads === undefined ? '' : `, threads ${(threads.wallMs / 1000).toFixed(1)} s`;
console.log(`\ntotal: ${(totalMs / 1000).toFixed(1)} s (micro ${(micro.wallMs / 1000).toFixed(1)} s, load ${(load.wallMs / 1000).toFixed(1)} s${threadsTime})${others}; results in ${written.join(', ')}`);
