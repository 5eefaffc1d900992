/**
 * The entry point of a worker-thread instance: it loads one session of one model version
 * and runs the batches the main thread sends, off the main thread's event loop.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort, workerData } from 'node:worker_threads';
import { causeDetail } from '../../errors/error-detail.js';
import { BUILTIN_RUNTIMES } from '../runtime-registry.js';
import type { Runtime, Session } from '../runtime.js';
import type { FromWorker, RuntimeRef, SerializedError, ToWorker, WorkerSetup } from './messages.js';
import { transferables } from './transfer.js';

const port = parentPort!;
const setup = workerData as WorkerSetup;

function post(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

function serialize(error: unknown): SerializedError {
  if (error instanceof Error) return { message: error.message, name: error.name, code: (error as { code?: string }).code, detail: causeDetail(error) };
  return { message: String(error) };
}

async function resolveRuntime(ref: RuntimeRef): Promise<Runtime> {
  if ('builtin' in ref) {
    const runtime = BUILTIN_RUNTIMES[ref.builtin];
    if (runtime === undefined) throw new Error(`no built-in runtime '${ref.builtin}'`);
    return runtime;
  }
  const mod = (await import(ref.module)) as Record<string, unknown>;
  const runtime = mod[ref.export ?? 'default'] as Runtime | undefined;
  if (typeof runtime?.load !== 'function') throw new Error(`'${ref.module}' has no Runtime export '${ref.export ?? 'default'}'`);
  return runtime;
}

async function main(): Promise<void> {
  let runtime: Runtime;
  let session: Session;
  try {
    runtime = await resolveRuntime(setup.runtime);
    session = await runtime.load(setup.source, { model: setup.model, version: setup.version, settings: setup.settings });
  } catch (error) {
    post({ type: 'loadFailed', error: serialize(error) });
    port.close(); // nothing left to do: the thread exits
    return;
  }
  port.on('message', (message: ToWorker) => {
    switch (message.type) {
      case 'run':
        session.run(message.inputs).then(
          (outputs) => post({ type: 'result', id: message.id, outputs }, transferables(outputs)),
          (error: unknown) => post({ type: 'failed', id: message.id, error: serialize(error) }),
        );
        break;
      case 'memory':
        if (message.collect) collectGarbage();
        post({ type: 'memory', id: message.id, memory: { heapUsed: process.memoryUsage().heapUsed, sessions: 0, ...runtime.memory?.() } });
        break;
      case 'dispose':
        Promise.resolve(session.dispose()).then(
          () => post({ type: 'disposed', id: message.id }),
          () => post({ type: 'disposed', id: message.id }),
        );
        break;
    }
  });
  post({ type: 'loaded', signature: session.signature });
}

/** A full GC on request (leak checks), without starting the process with --expose-gc. */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

void main();
