/**
 * The app's own feature: a service that injects the ModelHost and a controller with
 * `POST /classify`. Decorators are applied as calls (see README.md for the same code with
 * decorator syntax).
 */
import { Body, Controller, HttpException, Inject, Injectable, Logger, Post } from '@nestjs/common';
import { isModelHostError, type ModelHost } from 'modelhost';
import { statusFor } from 'modelhost/http';
import { InjectModelHost } from 'modelhost/nest';

/** The demo repository's MLP (64 features → 10 logits), as ONNX. */
export const MODEL = 'mlp-onnx';

export interface Classification {
  readonly model: string;
  readonly version: number;
  readonly label: number;
  readonly probabilities: number[];
}

export class ClassifierService {
  private readonly logger = new Logger(ClassifierService.name);

  constructor(private readonly host: ModelHost) {
    host.on('modelLoaded', (e) => this.logger.log(`${e.model} v${e.version} loaded and warmed up in ${Math.round(e.loadMs)} ms`));
    host.on('modelUnloaded', (e) => this.logger.log(`${e.model} v${e.version} unloaded`));
  }

  async classify(features: unknown): Promise<Classification> {
    if (!Array.isArray(features) || !features.every((v) => typeof v === 'number')) {
      throw new HttpException({ statusCode: 400, message: '"features" must be an array of 64 numbers' }, 400);
    }
    try {
      const { logits } = await this.host.predict(MODEL, Float32Array.from(features), { timeoutMs: 1000 });
      const scores = Array.from(logits!.data as Float32Array);
      const max = Math.max(...scores);
      const exp = scores.map((s) => Math.exp(s - max));
      const sum = exp.reduce((a, b) => a + b, 0);
      const probabilities = exp.map((e) => e / sum);
      return { model: MODEL, version: this.host.metadata(MODEL).version, label: probabilities.indexOf(Math.max(...probabilities)), probabilities };
    } catch (error) {
      // INVALID_INPUT → 400, QUEUE_FULL → 429, DEADLINE_EXCEEDED → 504, … (the HTTP layer's table)
      if (isModelHostError(error)) throw new HttpException({ statusCode: statusFor(error.code), code: error.code, message: error.message }, statusFor(error.code));
      throw error;
    }
  }
}
Injectable()(ClassifierService);
InjectModelHost()(ClassifierService, undefined, 0); // constructor(@InjectModelHost() host: ModelHost)

export class ClassifyController {
  constructor(private readonly classifier: ClassifierService) {}

  classify(body: { features?: unknown }): Promise<Classification> {
    return this.classifier.classify(body?.features);
  }
}
Controller()(ClassifyController);
Inject(ClassifierService)(ClassifyController, undefined, 0); // constructor(private readonly classifier: ClassifierService)
Post('classify')(ClassifyController.prototype, 'classify', Object.getOwnPropertyDescriptor(ClassifyController.prototype, 'classify')!); // @Post('classify')
Body()(ClassifyController.prototype, 'classify', 0); // classify(@Body() body)
