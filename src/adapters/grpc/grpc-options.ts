import { ErrorCode, ModelHostError } from 'modelhost';
import type { HttpRequest } from 'modelhost/http';
import type { TlsFiles } from '../tls/tls-credentials.js';
import { checkObject, checkString } from '../../errors/option-checks.js';

export interface GrpcOptions {
  /**
   * Largest request message, bytes (`grpc.max_receive_message_length`). A larger one is
   * refused by gRPC itself with RESOURCE_EXHAUSTED ("Received message larger than max").
   * Default 32 MiB, as the HTTP body limit.
   */
  readonly maxReceiveMessageBytes?: number;
  /**
   * Largest response message, bytes (`grpc.max_send_message_length`). Outputs past it are
   * refused with RESOURCE_EXHAUSTED naming their size. Default 64 MiB, as the HTTP response
   * bound. Clients have their own receive limit (4 MiB in most gRPC libraries): raise it there
   * for large outputs.
   */
  readonly maxSendMessageBytes?: number;
  /**
   * Deadline of every inference request, ms; a call's own gRPC deadline shortens it.
   * Default: the model's own.
   */
  readonly timeoutMs?: number;
  /**
   * The same hook as the HTTP adapter's `authorize`, so one function guards both: the
   * repository extension (RepositoryIndex, RepositoryModelLoad, RepositoryModelUnload) is
   * refused (PERMISSION_DENIED) without it. It sees the call as an HttpRequest: `method`
   * `POST`, `url` the gRPC path (`/inference.GRPCInferenceService/RepositoryModelLoad`),
   * `headers` the call's metadata (`authorization: Bearer …`). Return true to allow, false
   * or 403 to refuse (PERMISSION_DENIED); throw or return 401 to ask for credentials
   * (UNAUTHENTICATED).
   */
  readonly authorize?: (request: HttpRequest) => boolean | 401 | 403 | Promise<boolean | 401 | 403>;
  /** Most requests of one ModelStreamInfer stream in flight at once; reading pauses past it. Default 64. */
  readonly maxStreamInFlight?: number;
  /** Server name in ServerMetadata. Default `modelhost`. */
  readonly serverName?: string;
}

export interface GrpcServerOptions extends GrpcOptions {
  /**
   * Serve over TLS with these PEM files; with `caFile`, clients must present a certificate
   * it signed (mutual TLS). The files are watched and new ones applied to new connections
   * without a restart, as for HTTPS.
   */
  readonly tls?: TlsFiles & {
    /** How often the files are checked for a change, ms. Default 5000. */
    readonly reloadIntervalMs?: number;
    /** Told when rotated credentials are applied, or refused (the old ones keep serving). */
    readonly onReload?: (event: { readonly applied: true } | { readonly applied: false; readonly error: Error }) => void;
  };
}

export interface ResolvedGrpcOptions {
  readonly maxReceiveMessageBytes: number;
  readonly maxSendMessageBytes: number;
  readonly timeoutMs: number | undefined;
  readonly authorize: GrpcOptions['authorize'];
  readonly maxStreamInFlight: number;
  readonly serverName: string;
}

export const DEFAULT_GRPC_OPTIONS = Object.freeze({
  maxReceiveMessageBytes: 32 * 1024 * 1024,
  maxSendMessageBytes: 64 * 1024 * 1024,
  maxStreamInFlight: 64,
  serverName: 'modelhost',
});

/**
 * Every key of `GrpcOptions`: what `addInferenceService` takes. Anything else is a typo, or an
 * option of the server it does not make (`tls`, `address`), that would silently not hold.
 */
const SERVICE_OPTION_KEYS: readonly string[] = ['maxReceiveMessageBytes', 'maxSendMessageBytes', 'timeoutMs', 'authorize', 'maxStreamInFlight', 'serverName'] satisfies readonly (keyof GrpcOptions)[];

/** `createGrpcServer`'s keys: `GrpcServerOptions` and `address`. */
export const SERVER_OPTION_KEYS: readonly string[] = [...SERVICE_OPTION_KEYS, ...(['tls', 'address'] satisfies readonly (keyof GrpcServerOptions | 'address')[])];

/**
 * `known`: the keys the caller takes (`addInferenceService`'s by default).
 * @throws ModelHostError INVALID_CONFIG: "`maxReceiveMessageBytes` must be an integer ≥ 1, got 0", or an unknown option named
 */
export function resolveGrpcOptions(options: GrpcOptions = {}, known: readonly string[] = SERVICE_OPTION_KEYS): ResolvedGrpcOptions {
  checkObject(options, 'options', known);
  if (options.serverName !== undefined) checkString(options.serverName, 'serverName');
  const timeoutMs = options.timeoutMs;
  if (timeoutMs !== undefined && !(typeof timeoutMs === 'number' && timeoutMs > 0 && Number.isFinite(timeoutMs))) {
    throw new ModelHostError(ErrorCode.INVALID_CONFIG, `\`timeoutMs\` must be a positive number of ms, got ${String(timeoutMs)}`);
  }
  if (options.authorize !== undefined && typeof options.authorize !== 'function') {
    throw new ModelHostError(ErrorCode.INVALID_CONFIG, `\`authorize\` must be a function, got ${typeof options.authorize}`);
  }
  return {
    maxReceiveMessageBytes: positiveInteger(options.maxReceiveMessageBytes, 'maxReceiveMessageBytes', 2 ** 31 - 1) ?? DEFAULT_GRPC_OPTIONS.maxReceiveMessageBytes,
    maxSendMessageBytes: positiveInteger(options.maxSendMessageBytes, 'maxSendMessageBytes', 2 ** 31 - 1) ?? DEFAULT_GRPC_OPTIONS.maxSendMessageBytes,
    maxStreamInFlight: positiveInteger(options.maxStreamInFlight, 'maxStreamInFlight', 1_000_000) ?? DEFAULT_GRPC_OPTIONS.maxStreamInFlight,
    timeoutMs,
    authorize: options.authorize,
    serverName: options.serverName ?? DEFAULT_GRPC_OPTIONS.serverName,
  };
}

function positiveInteger(value: number | undefined, name: string, max: number): number | undefined {
  if (value === undefined || (Number.isSafeInteger(value) && value >= 1 && value <= max)) return value;
  throw new ModelHostError(ErrorCode.INVALID_CONFIG, `\`${name}\` must be an integer in [1, ${max}], got ${String(value)}`);
}
