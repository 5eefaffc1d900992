import { ErrorCode, ModelHostError } from '../errors/index.js';
import type { InputValidator } from '../tensor/input-validator.js';
import type { Signature } from '../tensor/index.js';
import type { ResolvedMonitoring } from './monitoring-options.js';

/**
 * Checks the monitoring options that name parts of a model against the loaded signature, at
 * load: an output `feedback` cannot read, or a `drift.reference` row the model would refuse,
 * did nothing but quietly (no prediction remembered; a reference captured from live rows).
 * @throws ModelHostError INVALID_CONFIG naming the key, the expected and the received.
 */
export function checkMonitoringFits(monitoring: ResolvedMonitoring, signature: Signature, validator: InputValidator, context: { model: string; version: number }): void {
  const where = `model '${context.model}' v${context.version}`;
  const output = monitoring.feedback?.output;
  if (output !== undefined) {
    // Outputs are keyed by their names in an answer, never by an alias (`Identity:0` for `Identity`).
    const spec = signature.outputs.find((s) => s.name === output);
    const names = signature.outputs.map((s) => `'${s.name}'`).join(', ');
    if (spec === undefined) {
      const aliased = signature.outputs.find((s) => s.aliases?.includes(output));
      const hint = aliased === undefined ? '' : ` ('${output}' is another name of '${aliased.name}': use that one, the name answers carry)`;
      throw new ModelHostError(ErrorCode.INVALID_CONFIG, `${where}: \`feedback.output\` must be one of the model's outputs (${names}), got '${output}'${hint}`, context);
    }
    if (spec.dtype === 'string') throw new ModelHostError(ErrorCode.INVALID_CONFIG, `${where}: \`feedback.output\` must be a numeric output (predictions are numbers), got '${spec.name}' of strings`, context);
  }
  const reference = monitoring.drift.enabled ? monitoring.drift.reference : undefined;
  reference?.forEach((row, i) => {
    try {
      validator.prepare(row, 'instance');
    } catch (error) {
      throw new ModelHostError(ErrorCode.INVALID_CONFIG, `${where}: \`drift.reference[${i}]\` does not fit the model's inputs: ${(error as Error).message}`, { ...context, cause: error });
    }
  });
}
