// Errors with the node's stable codes (crates/rpc/src/error.rs ErrorCode::TABLE,
// docs/rpc.md "Errors"). Branch on `e.code` (the name) or `e.number`.

/** ErrorCode::TABLE: stable code name -> fixed number. Never renumbered. */
export const ERROR_CODES = Object.freeze({
  TransferForbidden: 4001,
  TxTooLarge: 4002,
  Malformed: 4003,
  BadSignature: 4004,
  DuplicateTransaction: 4005,
  InsufficientGovernanceSignatures: 4006,
  UnauthorizedSigner: 4007,
  MissingSignature: 4008,
  NonceReused: 4009,
  IssuerAlreadyRegistered: 4010,
  UnknownIssuer: 4011,
  IssuerStatusUnchanged: 4012,
  IssuerSuspended: 4013,
  ReviewerAlreadyRegistered: 4014,
  UnknownReviewer: 4015,
  InvalidReviewApproval: 4016,
  InvalidMaxSupply: 4017,
  SeriesAlreadyExists: 4018,
  ContentAlreadyRegistered: 4019,
  UnknownSeries: 4020,
  SupplyExceeded: 4021,
  DuplicateCertificate: 4022,
  UnknownCertificate: 4023,
  AlreadyRevoked: 4024,
  NotAValidator: 4025,
  AlreadyAValidator: 4026,
  InvalidValidatorChange: 4027,
  ValidatorSetUnsafe: 4028,
  SetChangePending: 4029,
  InvalidGovernance: 4030,
  ObserverAlreadyRegistered: 4031,
  UnknownObserver: 4032,
  LicenceExpired: 4033,
  LicenceWithdrawn: 4034,
  IssuerUnlicensed: 4035,
  InvalidLicence: 4036,
  NoLicenceToWithdraw: 4037,
  LicencePolicyUnchanged: 4038,
  InvalidSeriesTerms: 4039,
  UnknownRecipe: 4040,
  RecipeMismatch: 4041,
  CertificateBurned: 4042,
  CertificateRevoked: 4043,
  SynthesisAcrossHolders: 4044,
  SynthesisChangesHolder: 4045,
  NotABlindBox: 4046,
  BlindBoxClosed: 4047,
  BlindBoxNotClosed: 4048,
  BlindBoxAlreadyRevealed: 4049,
  SeedMismatch: 4050,
  EntropyMismatch: 4051,
  NotFound: 4404,
  BatchTooLarge: 4413,
  InvalidRange: 4416,
  MempoolFull: 4503,
  StateUnavailable: 5000,
  Internal: 5001,
});

/**
 * Errors of the JSON-RPC server itself (jsonrpsee), which carry no data.code
 * (docs/rpc.md): named here so that `e.code` is always a string.
 */
export const JSONRPC_CODES = Object.freeze({
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  TooManySubscriptions: -32006,
  ResponseTooLarge: -32008,
  TooManyCalls: -32010,
});

const NAME_OF = new Map(
  [...Object.entries(ERROR_CODES), ...Object.entries(JSONRPC_CODES)].map(([name, n]) => [n, name]),
);

/** The number of a stable code (5001, Internal, for an unknown one, as ErrorCode::number). */
export function errorNumber(code) {
  return ERROR_CODES[code] ?? JSONRPC_CODES[code] ?? ERROR_CODES.Internal;
}

/** Base class of every error this SDK throws on purpose; `code` is a stable string. */
export class KeepsakeError extends Error {
  constructor(code, message, options) {
    super(message, options);
    this.name = "KeepsakeError";
    this.code = code;
  }
}

/**
 * A JSON-RPC error object from the node: `code` is the stable name
 * ("TransferForbidden"), `number` the fixed number (4001), `data` the raw
 * `data` member. Also used for a transaction the node rejected after admission
 * (TxRejectedError) and for checks the SDK makes before sending (TxTooLarge,
 * BatchTooLarge), with the numbers the node would use.
 */
export class RpcError extends KeepsakeError {
  constructor(code, number, message, { data, method } = {}) {
    super(code, message);
    this.name = "RpcError";
    this.number = number;
    if (data !== undefined) this.data = data;
    if (method !== undefined) this.method = method;
  }

  /** From a JSON-RPC error object `{code, message, data}`. */
  static fromObject(error, method) {
    const number = typeof error?.code === "number" ? error.code : Number(error?.code);
    const stable = error?.data && typeof error.data === "object" ? error.data.code : undefined;
    const code = typeof stable === "string" ? stable : (NAME_OF.get(number) ?? `JsonRpc${number}`);
    const message = typeof error?.message === "string" ? error.message : "error without a message";
    return new RpcError(code, number, `${method ? `${method}: ` : ""}${code} (${number}): ${message}`, {
      data: error?.data,
      method,
    });
  }

  /** From `{code, message}` as submitTxs outcomes and getTxStatus rejections carry it. */
  static fromRejection(rejection, method) {
    const code = String(rejection?.code ?? "Internal");
    const number = errorNumber(code);
    return new RpcError(code, number, `${method ? `${method}: ` : ""}${code} (${number}): ${rejection?.message ?? ""}`, {
      method,
    });
  }
}

/** The node admitted a transaction, then left it out of a block (getTxStatus "rejected"). */
export class TxRejectedError extends RpcError {
  constructor(txId, rejection) {
    const base = RpcError.fromRejection(rejection);
    super(base.code, base.number, `transaction ${txId} rejected: ${base.message}`);
    this.name = "TxRejectedError";
    this.txId = txId;
  }
}

/** HTTP or WebSocket failure (connection refused, HTTP 413, a response over the size limit, ...). */
export class TransportError extends KeepsakeError {
  constructor(message, { status, cause } = {}) {
    super("Transport", message, cause ? { cause } : undefined);
    this.name = "TransportError";
    if (status !== undefined) this.status = status;
  }
}

/** A wait (commit, response) that ran out of time. */
export class TimeoutError extends KeepsakeError {
  constructor(message) {
    super("Timeout", message);
    this.name = "TimeoutError";
  }
}
