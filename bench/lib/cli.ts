import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export interface BenchArgs {
  /** Short cells for a CI smoke run; the numbers are noisier. */
  readonly quick: boolean;
  /** Load-bench models to run (default: all). */
  readonly only: readonly string[] | undefined;
  /** Also write the results JSON here (bench/results/latest.json is always written). */
  readonly json: string | undefined;
  /** Add the 64-caller MobileNetV2 cells (minutes on 2 cores, so off by default). */
  readonly mobilenet64: boolean;
}

const USAGE = 'options: --quick, --only mlp-tfjs,mlp-onnx,tiny-tfjs,mobilenet, --json <path>, --mobilenet-64 (env: BENCH_QUICK=1, BENCH_ONLY, BENCH_JSON)';

/** One parser for every bench entry point, so `npm run bench -- <flags>` reaches all of them. */
export function parseBenchArgs(argv: readonly string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): BenchArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        quick: { type: 'boolean' },
        only: { type: 'string' },
        json: { type: 'string' },
        'mobilenet-64': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${USAGE}`);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const only = values.only ?? env['BENCH_ONLY'];
  return {
    quick: values.quick ?? isTruthy(env['BENCH_QUICK']),
    only: only === undefined || only.trim() === '' ? undefined : only.split(',').map((s) => s.trim()).filter(Boolean),
    json: values.json ?? env['BENCH_JSON'],
    mobilenet64: values['mobilenet-64'] ?? isTruthy(env['BENCH_MOBILENET_64']),
  };
}

/** Whether the module at `moduleUrl` is the script node (or tsx) was started with. */
export function isMain(moduleUrl: string): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}

function isTruthy(value: string | undefined): boolean {
  return value !== undefined && value !== '' && value !== '0' && value.toLowerCase() !== 'false';
}
