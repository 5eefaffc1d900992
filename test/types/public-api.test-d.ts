import { describe, expectTypeOf, it } from 'vitest';
import {
  declaredDatatype,
  type DeclaredDatatype,
  type DType,
  ErrorCode,
  ModelHost,
  ModelHostError,
  type ModelHostEvents,
  type ModelMetadata,
  type ModelStatus,
  type Outputs,
  type ReadinessReport,
  type Runtime,
  type Session,
  type Tensor,
  type TensorSpec,
} from '../../src/index.js';

describe('public types', () => {
  it('predict resolves to outputs keyed by name', () => {
    const host = new ModelHost();
    expectTypeOf(host.predict('m', new Float32Array(1))).toEqualTypeOf<Promise<Outputs>>();
    expectTypeOf<Outputs>().toEqualTypeOf<Record<string, Tensor>>();
    expectTypeOf(host.predictBatch).parameter(2).toEqualTypeOf<
      { version?: number; timeoutMs?: number; priority?: number; signal?: AbortSignal; routingKey?: string; id?: string } | undefined
    >();
  });

  it('status and metadata are typed', () => {
    const host = new ModelHost();
    expectTypeOf(host.status()).toEqualTypeOf<ModelStatus[]>();
    expectTypeOf(host.status('m')).toEqualTypeOf<ModelStatus>();
    expectTypeOf(host.metadata('m')).toEqualTypeOf<ModelMetadata>();
    expectTypeOf(host.readiness()).toEqualTypeOf<ReadinessReport>();
    expectTypeOf<ReadinessReport['models'][string]['reason']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<ModelStatus['reason']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<ModelHostEvents['requestFailed'][0]['blame']>().toEqualTypeOf<'request' | 'model' | undefined>();
    expectTypeOf(host.draining).toBeBoolean();
  });

  it('a tensor spec names the dtype its model declares, and declaredDatatype names it per protocol', () => {
    expectTypeOf<TensorSpec['declaredDtype']>().toEqualTypeOf<DType | undefined>();
    const spec: TensorSpec = { name: 'x', dtype: 'int32', declaredDtype: 'uint8', shape: [-1, 3] };
    expectTypeOf(declaredDatatype(spec)).toEqualTypeOf<DeclaredDatatype>();
    expectTypeOf<DeclaredDatatype>().toEqualTypeOf<{ readonly dtype: DType; readonly kserve: string; readonly tfServing: string }>();
  });

  it('events have one typed payload each', () => {
    const host = new ModelHost();
    host.on('modelLoaded', (event) => {
      expectTypeOf(event.model).toBeString();
      expectTypeOf(event.version).toBeNumber();
      expectTypeOf(event.loadMs).toBeNumber();
      expectTypeOf(event.phases.compiling).toEqualTypeOf<number | undefined>();
    });
    host.on('loadPhaseStarted', (event) => {
      expectTypeOf(event.phase).toEqualTypeOf<'verifying' | 'reading' | 'compiling' | 'measuring' | 'warming'>();
      expectTypeOf(event.elapsedMs).toBeNumber();
    });
    expectTypeOf<ModelHostEvents['versionRolledBack'][0]['automatic']>().toBeBoolean();
    // @ts-expect-error unknown event names are refused
    host.on('modelLoadedd', () => undefined);
  });

  it('errors expose a code union', () => {
    expectTypeOf<ModelHostError['code']>().toEqualTypeOf<ErrorCode>();
    expectTypeOf(ErrorCode.QUEUE_FULL).toEqualTypeOf<'QUEUE_FULL'>();
  });

  it('a custom runtime implements the SPI', () => {
    const runtime: Runtime = {
      name: 'x',
      async load(): Promise<Session> {
        return { signature: { inputs: [], outputs: [] }, run: async (inputs) => inputs, dispose: () => undefined };
      },
    };
    expectTypeOf(runtime.load).returns.toEqualTypeOf<Promise<Session>>();
  });
});
