/**
 * `@InjectModelHost()` as decorator syntax, in an application compiled the way most Nest
 * apps are (`experimentalDecorators`, with and without `emitDecoratorMetadata`), while
 * modelhost itself is built without either. The app's source is type-checked against the
 * real declarations, then transpiled by TypeScript and run against the real Nest.
 */
import { fileURLToPath } from 'node:url';
import * as nestCommon from '@nestjs/common';
import { Test } from '@nestjs/testing';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import * as modelhost from 'modelhost';
import * as modelhostNest from 'modelhost/nest';
import { onnxAffine } from '../../fixtures/onnx-models.js';

const APP = `
import { Controller, Get, Inject, Injectable, Module, type DynamicModule } from '@nestjs/common';
import { ModelHost } from 'modelhost';
import { InjectModelHost, MODEL_HOST, ModelHostModule } from 'modelhost/nest';

@Injectable()
export class Classifier {
  constructor(@InjectModelHost() readonly host: ModelHost) {}

  async classify(values: number[]): Promise<number[]> {
    const { y } = await this.host.predict('affine', Float32Array.from(values));
    return Array.from(y!.data as Float32Array);
  }
}

@Injectable()
export class Auditor {
  @InjectModelHost() host!: ModelHost;
  constructor(@Inject(MODEL_HOST) readonly same: ModelHost, readonly classifier: Classifier) {}
}

@Controller('classify')
export class ClassifyController {
  constructor(@Inject(Classifier) private readonly classifier: Classifier) {}

  @Get()
  classify(): Promise<number[]> {
    return this.classifier.classify([0, 1, 2, 3]);
  }
}

export function appModule(host: ModelHost): DynamicModule {
  @Module({ imports: [ModelHostModule.forRoot({ host })], providers: [Classifier, Auditor], controllers: [ClassifyController] })
  class AppModule {}
  return { module: AppModule };
}
`;

const root = fileURLToPath(new URL('../../..', import.meta.url));
// Not on disk: served to the compiler beside this test, so module resolution is the repository's.
const appFile = fileURLToPath(new URL('./decorated-app.virtual.ts', import.meta.url));

function compilerOptions(extra: ts.CompilerOptions): ts.CompilerOptions {
  const config = ts.getParsedCommandLineOfConfigFile(`${root}/tsconfig.json`, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')); } });
  return { ...config!.options, ...extra };
}

describe('@InjectModelHost() with experimentalDecorators (a typical Nest app)', () => {
  it('type-checks as a parameter and a property decorator under strict', () => {
    const options = compilerOptions({ experimentalDecorators: true, emitDecoratorMetadata: true, noEmit: true });
    const host = ts.createCompilerHost(options);
    const { getSourceFile, fileExists, readFile } = host;
    host.getSourceFile = (file, language, ...rest) => (file === appFile ? ts.createSourceFile(file, APP, language, true) : getSourceFile.call(host, file, language, ...rest));
    host.fileExists = (file) => file === appFile || fileExists.call(host, file);
    host.readFile = (file) => (file === appFile ? APP : readFile.call(host, file));
    const program = ts.createProgram([appFile], options, host);
    const diagnostics = ts.getPreEmitDiagnostics(program, program.getSourceFile(appFile));
    expect(diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))).toEqual([]);
  });

  it.each([true, false])('resolves the module host by its token (emitDecoratorMetadata: %s)', async (emitDecoratorMetadata) => {
    const { outputText } = ts.transpileModule(APP, {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, experimentalDecorators: true, emitDecoratorMetadata, useDefineForClassFields: false },
    });
    const modules: Record<string, unknown> = { '@nestjs/common': nestCommon, modelhost, 'modelhost/nest': modelhostNest };
    const exports: Record<string, unknown> = {};
    new Function('require', 'exports', outputText)((id: string) => modules[id] ?? expect.fail(`unexpected import ${id}`), exports);
    const { appModule, Classifier, Auditor, ClassifyController } = exports as Record<string, new (...args: never[]) => unknown> & { appModule: (host: modelhost.ModelHost) => nestCommon.DynamicModule };

    const host = new modelhost.ModelHost();
    await host.load('affine', { source: onnxAffine() });
    const moduleRef = await Test.createTestingModule({ imports: [appModule(host)] }).compile();
    const classifier = moduleRef.get(Classifier!) as { host: unknown; classify(values: number[]): Promise<number[]> };
    expect(classifier.host).toBe(host);
    const auditor = moduleRef.get(Auditor!) as { host: unknown; same: unknown; classifier: unknown };
    expect(auditor).toMatchObject({ host, same: host });
    // The class-typed parameter resolves from design:paramtypes only when metadata is emitted: Nest's usual rule.
    expect(auditor.classifier).toBe(emitDecoratorMetadata ? classifier : undefined);
    expect(await (moduleRef.get(ClassifyController!) as { classify(): Promise<number[]> }).classify()).toEqual([1, 3, 5, 7]);
    await moduleRef.close();
    await host.close();
  });
});
