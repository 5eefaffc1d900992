/**
 * The gRPC service's options are checked where they are resolved (`resolveGrpcOptions`, which
 * `addInferenceService` and `createGrpcServer` go through), as the HTTP adapters' are: a key
 * the service does not take is INVALID_CONFIG naming it, never an option that silently does
 * not hold.
 */
import { describe, expect, it } from 'vitest';
import { resolveGrpcOptions, SERVER_OPTION_KEYS, type GrpcOptions } from '../../../src/adapters/grpc/grpc-options.js';
import { ErrorCode, ModelHostError } from '../../../src/index.js';

function refusal(options: GrpcOptions): string {
  try {
    resolveGrpcOptions(options);
  } catch (error) {
    expect(error).toBeInstanceOf(ModelHostError);
    expect((error as ModelHostError).code).toBe(ErrorCode.INVALID_CONFIG);
    return (error as Error).message;
  }
  return 'accepted';
}

// addInferenceService's keys (resolveGrpcOptions' default); createGrpcServer adds tls and address.
const KNOWN = 'known options: maxReceiveMessageBytes, maxSendMessageBytes, timeoutMs, authorize, maxStreamInFlight, serverName';

describe('gRPC options', () => {
  it.each([
    // Misspelt, each was ignored: the repository rpcs stayed refused, the message bound stayed 32 MiB.
    [{ authorise: () => true }, `\`options\` has an unknown option 'authorise' (did you mean 'authorize'?); ${KNOWN}`],
    [{ maxReceiveMessageSize: 1024 }, `\`options\` has an unknown option 'maxReceiveMessageSize'; ${KNOWN}`],
    [{ serverName: 7 }, '`serverName` must be a non-empty string, got 7'],
    [{ maxStreamInFlight: 0 }, '`maxStreamInFlight` must be an integer in [1, 1000000], got 0'],
  ] as [GrpcOptions, string][])('%j is refused: %s', (options, message) => {
    expect(refusal(options)).toBe(message);
  });

  it('takes every option of createGrpcServer', () => {
    expect(
      resolveGrpcOptions({ maxReceiveMessageBytes: 1, maxSendMessageBytes: 1, timeoutMs: 5, authorize: () => true, maxStreamInFlight: 1, serverName: 's', tls: undefined, address: '127.0.0.1' } as GrpcOptions, SERVER_OPTION_KEYS),
    ).toMatchObject({ maxReceiveMessageBytes: 1, maxSendMessageBytes: 1, timeoutMs: 5, maxStreamInFlight: 1, serverName: 's' });
  });
});
