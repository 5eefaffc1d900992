import type { DynamicModule } from '@nestjs/common';
import { describe, expectTypeOf, it } from 'vitest';
import { ModelHost } from 'modelhost';
import { InjectModelHost, MODEL_HOST, ModelHostModule, type ModelHostModuleOptions } from 'modelhost/nest';

describe('modelhost/nest types', () => {
  it('forRoot takes a host or its options, and forRootAsync a factory of them', () => {
    expectTypeOf(ModelHostModule.forRoot({ host: new ModelHost(), close: true })).toEqualTypeOf<DynamicModule>();
    expectTypeOf(ModelHostModule.forRoot).toBeCallableWith({ host: { repository: './models' }, load: ['a', { name: 'b', version: 2 }], http: { timeoutMs: 100, limits: { concurrency: 8, parkConnections: false }, controller: { path: 'ml' } }, global: false });
    expectTypeOf(ModelHostModule.forRootAsync).toBeCallableWith({ inject: ['CONFIG'], useFactory: async (root: string) => ({ host: { repository: root } }), controller: true });
    expectTypeOf<ModelHostModuleOptions['host']>().toEqualTypeOf<ModelHost | import('modelhost').ModelHostOptions>();
    // `controller` and `global` shape the module: given to forRootAsync, not returned by its factory
    // @ts-expect-error `http.controller` from the factory
    ModelHostModule.forRootAsync({ useFactory: () => ({ host: {}, http: { controller: true } }) });
    // @ts-expect-error `global` from the factory
    ModelHostModule.forRootAsync({ useFactory: async () => ({ host: {}, global: false }) });
  });

  it('InjectModelHost() decorates a parameter or a property; MODEL_HOST is a unique symbol', () => {
    expectTypeOf(InjectModelHost()).toEqualTypeOf<PropertyDecorator & ParameterDecorator>();
    expectTypeOf(MODEL_HOST).toBeSymbol();
  });
});
