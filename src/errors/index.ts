export { ErrorCode, ERROR_CODES } from './error-code.js';
export { ModelHostError, isModelHostError, refusalError, toModelHostError } from './model-host-error.js';
export type { ModelHostErrorOptions } from './model-host-error.js';
export { MAX_TIMER_MS, invalidOption, checkInteger, checkNumber, checkBoolean, checkString, checkOneOf, checkFunction, checkObject, closest, quoted, show } from './option-checks.js';
export { causeDetail } from './error-detail.js';
export { isVersionFault } from './version-fault.js';
