/**
 * `POST /v2/models/{m}/feedback` — a modelhost extension to the Open Inference Protocol: a
 * late label for a request served earlier, joined by its id for live accuracy / MAE. Behind
 * `authorizeFeedback` (default: the admin `authorize` hook); off without one.
 *
 * Body: `{ "id": "<request id>", "ground_truth": 3 }` (one label per row for a batch request).
 */
import { admin } from './admin.js';
import { checkKeys } from './body-keys.js';
import { badRequest, json } from './http-errors.js';
import type { RouteHandler } from './http-types.js';
import { parseJson } from './json-body.js';
import { isRequestId, requestIdProblem } from './request-id.js';

export const feedback: RouteHandler = admin(async (context) => {
  const { host, params, request, options } = context;
  const model = params['model']!;
  const body = parseJson(request, options);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('the feedback request must be a JSON object with "id" and "ground_truth"');
  checkKeys(`POST /v2/models/${model}/feedback`, body as Record<string, unknown>, ['id', 'ground_truth']);
  const { id, ground_truth: groundTruth } = body as { id?: unknown; ground_truth?: unknown };
  if (!isRequestId(id)) throw badRequest(`${requestIdProblem('"id"', id)}: the request id a response carried`);
  if (groundTruth === undefined) throw badRequest('"ground_truth" is missing: a class index or a value, or an array of one per row');
  const result = host.feedback(model, id, groundTruth);
  return json(200, {
    model_name: model,
    id,
    matched: result.matched,
    ...(result.version === undefined ? {} : { model_version: String(result.version) }),
    labels: result.labels,
    ...(result.correct === undefined ? {} : { correct: result.correct }),
    ...(result.absoluteError === undefined ? {} : { absolute_error: result.absoluteError }),
  });
}, 'authorizeFeedback');
