/**
 * `npm run bench`: the micro benchmarks, then the closed-loop load bench, in one process
 * so every number in bench/results/latest.json comes from the same run on the same machine.
 *
 *   npm run bench -- [--quick] [--only mlp-tfjs,mlp-onnx,mobilenet] [--json path] [--mobilenet-64]
 */
import { parseBenchArgs } from './lib/cli.js';
import { cpuShareSince, cpuSnapshot } from './lib/cpu-contention.js';
import { describeMachine, machineInfo } from './lib/machine.js';
import { writeResults } from './lib/results.js';
import { formatLoadReport, runLoadBench } from './load.js';
import { formatMicroReport, runMicroBench } from './micro.js';

const started = performance.now();
const cpuAtStart = cpuSnapshot();
const args = parseBenchArgs();
const machine = machineInfo();
console.log(`machine: ${describeMachine(machine)}`);
console.log(`command: npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}${args.quick ? ' (quick: short cells, noisier)' : ''}\n`);

const micro = await runMicroBench(args);
console.log(`${formatMicroReport(micro)}\n`);

const load = await runLoadBench(args);
console.log(formatLoadReport(load));

const totalMs = performance.now() - started;
const cpu = cpuShareSince(cpuAtStart);
const written = await writeResults({ command: ['npm run bench', ...process.argv.slice(2)].join(' '), machine, micro, load, totalMs, cpu }, { extraPath: args.json });
const others = cpu === undefined ? '' : `; other processes took ${cpu.otherCores.toFixed(2)} cores on average`;
console.log(`\ntotal: ${(totalMs / 1000).toFixed(1)} s (micro ${(micro.wallMs / 1000).toFixed(1)} s, load ${(load.wallMs / 1000).toFixed(1)} s)${others}; results in ${written.join(', ')}`);
