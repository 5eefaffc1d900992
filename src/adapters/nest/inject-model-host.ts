import { Inject } from '@nestjs/common';
import { MODEL_HOST } from './tokens.js';

/**
 * `@Inject(MODEL_HOST)`: injects the module's `ModelHost` into a constructor parameter or
 * a property.
 *
 * ```ts
 * // with "experimentalDecorators" in your tsconfig:
 * @Injectable()
 * class Classifier {
 *   constructor(@InjectModelHost() private readonly host: ModelHost) {}
 * }
 * // without (TypeScript's standard decorators have no parameter decorators), as a call:
 * InjectModelHost()(Classifier, undefined, 0);    // constructor parameter 0
 * InjectModelHost()(Classifier.prototype, 'host'); // property `host`
 * ```
 *
 * The token is explicit, so it needs no `emitDecoratorMetadata`.
 */
export function InjectModelHost(): PropertyDecorator & ParameterDecorator {
  return Inject(MODEL_HOST);
}
