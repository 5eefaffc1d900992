/**
 * `modelhost/nest` in real Nest applications (Nest 11, Express 5): forRootAsync with an
 * imported config module, the protocol controller under a prefix next to the app's own
 * routes, a user service that injects the host, and shutdown.
 */
import type { AddressInfo } from 'node:net';
import { Controller, Get, Inject, Injectable, Module, Post, Body, VersioningType, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ModelHost, type Tensor } from 'modelhost';
import { InjectModelHost, MODEL_HOST, MODEL_HOST_HTTP_OPTIONS, ModelHostModule, type HttpOptions } from 'modelhost/nest';
import { collectMetrics } from 'modelhost/prometheus';
import { onnxAffine } from '../../fixtures/onnx-models.js';

// ---- an application as a user would write it (decorators applied as calls: no decorator metadata here) ----

const SETTINGS = 'SETTINGS';
interface Settings {
  readonly threads: number;
  readonly timeoutMs: number;
}

class SettingsModule {}
Module({ providers: [{ provide: SETTINGS, useValue: { threads: 1, timeoutMs: 5_000 } satisfies Settings }], exports: [SETTINGS] })(SettingsModule);

/** A user service: `constructor(@InjectModelHost() host: ModelHost)`. */
class Scaler {
  constructor(readonly host: ModelHost) {}

  async scale(values: number[]): Promise<{ y: number[]; version: number }> {
    const { y } = await this.host.predict('affine', Float32Array.from(values));
    return { y: Array.from((y as Tensor).data as Float32Array), version: this.host.metadata('affine').version };
  }
}
Injectable()(Scaler);
InjectModelHost()(Scaler, undefined, 0);

class ScaleController {
  constructor(private readonly scaler: Scaler) {}

  scale(body: { values: number[] }) {
    return this.scaler.scale(body.values);
  }

  hello() {
    return { hello: 'from the app, under the protocol controller prefix' };
  }

  health() {
    return { ok: true };
  }
}
Controller()(ScaleController);
Inject(Scaler)(ScaleController, undefined, 0);
decorate(ScaleController, 'scale', Post('scale'));
Body()(ScaleController.prototype, 'scale', 0);
decorate(ScaleController, 'hello', Get('ml/hello'));
decorate(ScaleController, 'health', Get('health'));

class FeatureModule {}
Module({ providers: [Scaler], controllers: [ScaleController] })(FeatureModule);

function decorate(target: { prototype: object }, method: string, decorator: MethodDecorator): void {
  decorator(target.prototype, method, Object.getOwnPropertyDescriptor(target.prototype, method)!);
}

// ---- helpers ----

const apps: INestApplication[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

async function start(module: unknown, configure?: (app: INestApplication) => void, options: { bodyParser?: boolean } = {}): Promise<{ app: INestApplication; url: string }> {
  const app = await NestFactory.create(module as never, { logger: false, abortOnError: false, ...options });
  apps.push(app);
  configure?.(app);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return { app, url: `http://127.0.0.1:${port}` };
}

async function call(url: string, init: { method?: string; body?: unknown } = {}): Promise<{ status: number; body: unknown; headers: Headers }> {
  const response = await fetch(url, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: init.body === undefined ? {} : { 'content-type': 'application/json' },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body, headers: response.headers };
}

/** Paths of the Express routes in the order they were registered. */
function routeOrder(app: INestApplication): string[] {
  const router = (app.getHttpAdapter().getInstance() as { router: { stack: { route?: { path: string } }[] } }).router;
  return router.stack.flatMap((layer) => (layer.route === undefined ? [] : [layer.route.path]));
}

describe('ModelHostModule.forRootAsync in a Nest application', () => {
  function appModule(http: HttpOptions = {}) {
    class AppModule {}
    Module({
      imports: [
        ModelHostModule.forRootAsync({
          imports: [SettingsModule],
          inject: [SETTINGS],
          useFactory: (settings: Settings) => ({
            host: { defaults: { instances: { kind: 'thread', count: settings.threads } } },
            load: [{ name: 'affine', source: onnxAffine({ size: 4, scale: 2, bias: 1 }) }],
            http: { timeoutMs: settings.timeoutMs, ...http },
          }),
          controller: { path: 'ml' },
        }),
        FeatureModule,
      ],
    })(AppModule);
    return AppModule;
  }

  it('serves KServe v2 and TF Serving under the prefix, the app routes beside them, and closes the host it created', async () => {
    const { app, url } = await start(appModule());
    const host = app.get<ModelHost>(MODEL_HOST);
    expect(host).toBeInstanceOf(ModelHost);
    expect(host.ready('affine')).toBe(true); // loaded on module init, before listen
    expect(app.get(MODEL_HOST_HTTP_OPTIONS)).toEqual({ timeoutMs: 5_000 });

    // KServe v2 through the protocol controller
    const infer = await call(`${url}/ml/v2/models/affine/infer`, { body: { id: 'r1', inputs: [{ name: 'x', shape: [2, 4], datatype: 'FP32', data: [1, 2, 3, 4, 5, 6, 7, 8] }] } });
    expect(infer.status).toBe(200);
    expect(infer.body).toMatchObject({ model_name: 'affine', model_version: '1', id: 'r1', outputs: [{ name: 'y', datatype: 'FP32', shape: [2, 4], data: [3, 5, 7, 9, 11, 13, 15, 17] }] });
    expect(await call(`${url}/ml/v2/health/ready`)).toMatchObject({ status: 200 });
    expect((await call(`${url}/ml/v2/models/affine`)).body).toMatchObject({ name: 'affine', versions: ['1'], platform: expect.any(String) });
    // TF Serving REST
    expect(await call(`${url}/ml/v1/models/affine:predict`, { body: { instances: [[0, 1, 2, 3]] } })).toMatchObject({ status: 200, body: { predictions: [[1, 3, 5, 7]] } });
    // status page and errors are the protocol layer's
    expect(await call(`${url}/ml/status.json`)).toMatchObject({ status: 200 });
    expect((await call(`${url}/ml`)).status).toBe(200);
    expect(await call(`${url}/ml/v2/models/nope`)).toMatchObject({ status: 404, body: { error: expect.stringContaining('nope') } });
    expect(await call(`${url}/ml/v2/models/affine/infer`, { body: { inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] } })).toMatchObject({ status: 400 });
    // admin routes are off without `authorize`
    expect((await call(`${url}/ml/admin/models/affine/rollback`, { body: {} })).status).toBe(403);

    // The app's own routes: one under the same prefix, registered after the catch-all, still answers.
    const order = routeOrder(app);
    expect(order.indexOf('/ml{/*modelhostPath}')).toBeGreaterThanOrEqual(0);
    expect(order.indexOf('/ml{/*modelhostPath}')).toBeLessThan(order.indexOf('/ml/hello'));
    expect(await call(`${url}/ml/hello`)).toMatchObject({ status: 200, body: { hello: expect.any(String) } });
    expect(await call(`${url}/health`)).toMatchObject({ status: 200, body: { ok: true } });
    // a user controller whose service injects the host
    expect(await call(`${url}/scale`, { body: { values: [1, 2, 3, 4] } })).toMatchObject({ status: 201, body: { y: [3, 5, 7, 9], version: 1 } });
    // Unknown paths, under the prefix or not, get Nest's 404.
    expect(await call(`${url}/ml/nothing/here`)).toMatchObject({ status: 404, body: { statusCode: 404, message: 'Cannot GET /ml/nothing/here' } });
    expect(await call(`${url}/elsewhere`)).toMatchObject({ status: 404, body: { statusCode: 404, message: 'Cannot GET /elsewhere' } });

    // the model runs on a worker thread the host owns
    expect((await host.memory()).workerThreads).toBe(1);
    await app.close();
    apps.length = 0;
    expect(host.live()).toBe(false);
    const memory = await host.memory();
    expect(memory.workerThreads).toBe(0);
    expect(memory.versions).toEqual([]);
    for (const runtime of Object.values(memory.runtimes)) expect(runtime.sessions).toBe(0);
  });

  it("behind Nest's JSON body parser uses what it parsed (and its limit); with bodyParser: false reads the body itself within bodyLimitBytes", async () => {
    const request = { inputs: [{ name: 'x', shape: [250, 4], datatype: 'FP32', data: Array.from({ length: 1000 }, (_, i) => i % 7) }] }; // ≈ 2 kB
    const { url } = await start(appModule(), (app) => (app as INestApplication & { useBodyParser(type: string, options: object): void }).useBodyParser('json', { limit: '1kb' }));
    expect((await call(`${url}/ml/v2/models/affine/infer`, { body: request })).status).toBe(413); // refused by Nest's parser
    expect(await call(`${url}/scale`, { body: { values: [0, 0, 0, 0] } })).toMatchObject({ status: 201 });

    const { url: raw } = await start(appModule(), undefined, { bodyParser: false });
    expect(await call(`${raw}/ml/v2/models/affine/infer`, { body: request })).toMatchObject({ status: 200, body: { outputs: [{ shape: [250, 4] }] } });
    const { url: limited } = await start(appModule({ bodyLimitBytes: 1024 }), undefined, { bodyParser: false });
    expect(await call(`${limited}/ml/v2/models/affine/infer`, { body: request })).toMatchObject({ status: 413, body: { error: 'the request body exceeds 1024 bytes' } });
  });
});

describe('a host built in the factory and handed over with close: true', () => {
  it('serves /metrics from a registry over that host, and is closed on shutdown', async () => {
    let built: ModelHost | undefined;
    class AppModule {}
    Module({
      imports: [
        ModelHostModule.forRootAsync({
          useFactory: () => {
            built = new ModelHost();
            return { host: built, close: true, load: [{ name: 'affine', source: onnxAffine() }], http: { metrics: collectMetrics(built).registry } };
          },
          controller: { path: 'ml' },
        }),
      ],
    })(AppModule);
    const { app, url } = await start(AppModule);
    expect(app.get(MODEL_HOST)).toBe(built);
    await call(`${url}/ml/v2/models/affine/infer`, { body: { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [0, 0, 0, 0] }] } });
    const metrics = await call(`${url}/ml/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/modelhost_\w+\{[^}]*model="affine"/);
    await app.close();
    apps.length = 0;
    expect(built!.live()).toBe(false);
  });
});

describe('ModelHostModule.forRoot with a host instance', () => {
  it('provides that instance to @InjectModelHost() (parameter and property) and leaves it open on shutdown', async () => {
    const host = new ModelHost();
    await host.load('affine', { source: onnxAffine() });

    class ByProperty {
      host!: ModelHost;
    }
    Injectable()(ByProperty);
    InjectModelHost()(ByProperty.prototype, 'host');

    class AppModule {}
    Module({ imports: [ModelHostModule.forRoot({ host, http: { controller: true } })], providers: [Scaler, ByProperty] })(AppModule);
    const { app, url } = await start(AppModule, (a) => a.setGlobalPrefix('api'));
    expect(app.get(MODEL_HOST)).toBe(host);
    expect(app.get(Scaler).host).toBe(host);
    expect(app.get(ByProperty).host).toBe(host);
    // at the root (under the global prefix): the URLs of a bare modelhost server
    expect(await call(`${url}/api/v2/health/live`)).toMatchObject({ status: 200, body: { live: true } });
    expect(await call(`${url}/api/v2/models/affine/infer`, { body: { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [0, 0, 0, 0] }] } })).toMatchObject({
      status: 200,
      body: { outputs: [{ data: [1, 1, 1, 1] }] },
    });
    expect((await call(`${url}/api/status`)).headers.get('content-type')).toMatch(/text\/html/);
    expect(await call(`${url}/v2/health/live`)).toMatchObject({ status: 404 });

    await app.close();
    apps.length = 0;
    expect(host.live()).toBe(true); // the caller's host: the caller closes it
    expect(await host.predict('affine', new Float32Array(4))).toMatchObject({ y: { shape: [4] } });
    await host.close();
  });

  it('closes a given instance with close: true', async () => {
    const host = new ModelHost();
    class AppModule {}
    Module({ imports: [ModelHostModule.forRoot({ host, close: true, load: [{ name: 'affine', source: onnxAffine() }] })] })(AppModule);
    const { app } = await start(AppModule);
    expect(host.ready('affine')).toBe(true);
    await app.close();
    apps.length = 0;
    expect(host.live()).toBe(false);
  });

  it('is version-neutral under URI versioning, and does not mount a controller unless asked', async () => {
    const host = new ModelHost();
    await host.load('affine', { source: onnxAffine() });
    class Versioned {}
    Module({ imports: [ModelHostModule.forRoot({ host, http: { controller: { path: '/ml/' } } }), FeatureModule] })(Versioned);
    const { url } = await start(Versioned, (app) => app.enableVersioning({ type: VersioningType.URI, defaultVersion: '1' }));
    expect(await call(`${url}/ml/v2/health/live`)).toMatchObject({ status: 200 });
    expect(await call(`${url}/v1/health`)).toMatchObject({ status: 200, body: { ok: true } });

    class NoController {}
    Module({ imports: [ModelHostModule.forRoot({ host, global: false })] })(NoController);
    const { app, url: plain } = await start(NoController);
    expect(routeOrder(app)).toEqual([]);
    expect(await call(`${plain}/v2/health/live`)).toMatchObject({ status: 404 });
    await Promise.all(apps.splice(0).map((a) => a.close()));
    expect(host.live()).toBe(true);
    await host.close();
  });
});

describe('where the protocol controller is mounted', () => {
  it('under a prefix with route parameters, and at the root behind the routes the app declared first', async () => {
    const host = new ModelHost();
    await host.load('affine', { source: onnxAffine() });
    class Tenanted {}
    Module({ imports: [ModelHostModule.forRoot({ host, http: { controller: { path: 'tenants/:tenant/ml' } } })] })(Tenanted);
    const { url } = await start(Tenanted);
    expect(await call(`${url}/tenants/acme/ml/v2/health/live`)).toMatchObject({ status: 200, body: { live: true } });
    expect(await call(`${url}/tenants/acme/ml/v2/models/affine`)).toMatchObject({ status: 200, body: { name: 'affine' } });

    class Home {
      home() {
        return 'the app home page';
      }
    }
    Controller()(Home);
    decorate(Home, 'home', Get());
    class AtRoot {}
    Module({ imports: [ModelHostModule.forRoot({ host, http: { controller: true } })], controllers: [Home] })(AtRoot);
    const { url: rootUrl } = await start(AtRoot);
    expect(await call(`${rootUrl}/`)).toMatchObject({ status: 200, body: 'the app home page' });
    expect((await call(`${rootUrl}/status`)).headers.get('content-type')).toMatch(/text\/html/);
    expect(await call(`${rootUrl}/v2/models/affine/ready`)).toMatchObject({ status: 200 });
    expect(await call(`${rootUrl}/v1/models/affine`)).toMatchObject({ status: 200, body: { model_version_status: [{ version: '1', state: 'AVAILABLE' }] } });
    await Promise.all(apps.splice(0).map((a) => a.close()));
    await host.close();
  });
});

describe('with @nestjs/testing', () => {
  it('a testing module can override MODEL_HOST: services get the override, `load` goes to it, the created host is closed', async () => {
    const stub = {
      load: vi.fn(async (model: string) => ({ model, version: 7, versions: [7] })),
      predict: vi.fn(async () => ({ y: { data: new Float32Array([42]), shape: [1], dtype: 'float32' } })),
      metadata: vi.fn(() => ({ version: 7 })),
      close: vi.fn(async () => undefined),
    };
    const moduleRef = await Test.createTestingModule({ imports: [ModelHostModule.forRoot({ host: {}, load: ['affine'] })], providers: [Scaler] })
      .overrideProvider(MODEL_HOST)
      .useValue(stub)
      .compile();
    await moduleRef.init();
    expect(stub.load).toHaveBeenCalledWith('affine');
    expect(await moduleRef.get(Scaler).scale([1])).toEqual({ y: [42], version: 7 });
    const created = moduleRef.get<{ host: ModelHost }>(Symbol.for('modelhost.nest.MODEL_HOST_HANDLE')).host;
    expect(created).not.toBe(stub);
    await moduleRef.close();
    expect(stub.close).not.toHaveBeenCalled();
    expect(created.live()).toBe(false);
  });
});

describe('startup and options', () => {
  it('a model that fails to load fails the startup and closes the host the module created', async () => {
    class AppModule {}
    Module({ imports: [ModelHostModule.forRoot({ host: {}, load: ['affine-from-nowhere'] })] })(AppModule);
    const app = await NestFactory.create(AppModule, { logger: false, abortOnError: false });
    const host = app.get<ModelHost>(MODEL_HOST);
    await expect(app.init()).rejects.toMatchObject({ name: 'ModelHostError', model: 'affine-from-nowhere' });
    expect(host.live()).toBe(false);
  });

  it('checks options eagerly with the path of the bad one', () => {
    expect(() => ModelHostModule.forRoot(undefined as never)).toThrow(/`ModelHostModule.forRoot\(options\)` must be an object, got undefined/);
    expect(() => ModelHostModule.forRoot({} as never)).toThrow(/`ModelHostModule.forRoot\(options\).host` must be a ModelHost or ModelHostOptions/);
    expect(() => ModelHostModule.forRoot({ host: {}, load: ['a', 7 as never] })).toThrow(/`ModelHostModule.forRoot\(options\).load\[1\]` must be a model name or \{ name, ...LoadOptions \}, got 7/);
    expect(() => ModelHostModule.forRoot({ host: {}, http: { controller: 'ml' as never } })).toThrow(/`ModelHostModule.forRoot\(options\).http.controller` must be true, false or \{ path \}/);
    expect(() => ModelHostModule.forRootAsync({} as never)).toThrow(/`ModelHostModule.forRootAsync\(options\).useFactory` must be a function/);
    expect(() => ModelHostModule.forRootAsync({ useFactory: () => ({ host: {} }), global: 'yes' as never })).toThrow(/`ModelHostModule.forRootAsync\(options\).global` must be true or false/);
    // A misspelt key was ignored: the application started with nothing loaded, or no controller.
    expect(() => ModelHostModule.forRoot({ host: {}, laod: ['a'] } as never)).toThrow("`ModelHostModule.forRoot(options)` has an unknown option 'laod' (did you mean 'load'?); known options: host, load, http, close, global");
    expect(() => ModelHostModule.forRootAsync({ useFactory: () => ({ host: {} }), controler: true } as never)).toThrow("`ModelHostModule.forRootAsync(options)` has an unknown option 'controler' (did you mean 'controller'?)");
  });

  it('forRootAsync refuses a controller (or global) from useFactory: the module is declared before it runs', async () => {
    class AppModule {}
    Module({ imports: [ModelHostModule.forRootAsync({ useFactory: async () => ({ host: {}, http: { controller: true } }) as never })] })(AppModule);
    await expect(NestFactory.create(AppModule, { logger: false, abortOnError: false })).rejects.toMatchObject({
      code: 'INVALID_CONFIG',
      message: expect.stringMatching(/useFactory\(\).http.controller` must be absent \(.*pass `controller` to forRootAsync\)/),
    });
  });
});
