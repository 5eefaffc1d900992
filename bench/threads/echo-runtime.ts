/**
 * A runtime that computes nothing: input `x` [-1, 64] float32, output `y` [-1, 10] zeros.
 * Served inline and on a thread instance, the difference between the two is the hop alone
 * (structured clone / transfer, postMessage both ways, the worker waking up), with no model
 * time to hide in. It declares `worker`, so modelhost can run it in a worker thread (from
 * these TypeScript sources the worker registers tsx to import it).
 */
import type { Runtime, Session, Tensor } from '../../src/index.js';

/** The file that marks a model folder as an echo model. */
export const ECHO_FILE = 'model.echo';

const INPUTS = 64;
const OUTPUTS = 10;

export const echoRuntime: Runtime = {
  name: 'echo',
  worker: { module: new URL(import.meta.url).href, export: 'echoRuntime' },
  canLoad: (files) => files.includes(ECHO_FILE),
  load(): Promise<Session> {
    return Promise.resolve({
      signature: {
        inputs: [{ name: 'x', dtype: 'float32', shape: [-1, INPUTS] }],
        outputs: [{ name: 'y', dtype: 'float32', shape: [-1, OUTPUTS] }],
      },
      run(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>> {
        const rows = inputs['x']!.shape[0]!;
        return Promise.resolve({ y: { data: new Float32Array(rows * OUTPUTS), shape: [rows, OUTPUTS], dtype: 'float32' } });
      },
      dispose() {},
    });
  },
};

export default echoRuntime;
