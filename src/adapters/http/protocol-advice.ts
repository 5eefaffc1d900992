/**
 * The host's messages advise in-process callers (`call host.load('m') first`); a client of
 * the HTTP or gRPC protocols cannot call that. This rewrites such advice into what a client
 * of that protocol can do: list what the server serves, or ask an admin to load the model
 * from the server's model repository.
 */
import { ErrorCode, type ModelHostError } from 'modelhost';

const IN_PROCESS_LOAD_ADVICE = /; call host\.load\('[^]*'\) first$/;

export type Protocol = 'http' | 'grpc';

/** The error's message with in-process advice replaced by the protocol's own. */
export function messageFor(error: ModelHostError, protocol: Protocol): string {
  if (error.code !== ErrorCode.MODEL_NOT_FOUND || error.model === undefined || !IN_PROCESS_LOAD_ADVICE.test(error.message)) return error.message;
  const advice =
    protocol === 'http'
      ? `POST /v2/repository/index lists the models this server has; an admin loads one from the server's model repository (POST /v2/repository/models/${error.model}/load)`
      : `RepositoryIndex lists the models this server has; an admin loads one from the server's model repository (RepositoryModelLoad)`;
  return error.message.replace(IN_PROCESS_LOAD_ADVICE, `; ${advice}`);
}
