// Type declarations of the Keepsake TypeScript SDK (hand-written: the SDK is
// plain ESM JavaScript, no build step; `npm run typecheck` checks these
// declarations against test/types.ts with tsc).

import type { CertificateVerdict, StatusVerdict, GenesisInput } from "./verify.js";
export type { CertificateVerdict, StatusVerdict, VerifiedCertificate, VerifiedStatus, GenesisInput } from "./verify.js";

/** Lowercase hex of 32 bytes (keys, ids, hashes); input also accepts upper case and a 0x prefix. */
export type Hex32 = string;
/** Lowercase hex of 64 bytes (signatures). */
export type Hex64 = string;
/** A u64 value: a safe integer, or a bigint above 2^53 (random governance nonces). */
export type U64 = number | bigint;
/** 32 bytes: hex or bytes. */
export type Bytes32 = Hex32 | Uint8Array;
/** A public key: a Key, hex or bytes. */
export type PublicKeyInput = Key | Bytes32;

// ---------------------------------------------------------------------------
// Errors

/** ErrorCode::TABLE (crates/rpc/src/error.rs): stable code name -> fixed number. */
export declare const ERROR_CODES: Readonly<Record<ErrorCodeName, number>>;
/** jsonrpsee's own errors (no data.code), named. */
export declare const JSONRPC_CODES: Readonly<Record<JsonRpcCodeName, number>>;
export declare function errorNumber(code: string): number;

export type ErrorCodeName =
  | "TransferForbidden" | "TxTooLarge" | "Malformed" | "BadSignature" | "DuplicateTransaction"
  | "InsufficientGovernanceSignatures" | "UnauthorizedSigner" | "MissingSignature" | "NonceReused"
  | "IssuerAlreadyRegistered" | "UnknownIssuer" | "IssuerStatusUnchanged" | "IssuerSuspended"
  | "ReviewerAlreadyRegistered" | "UnknownReviewer" | "InvalidReviewApproval" | "InvalidMaxSupply"
  | "SeriesAlreadyExists" | "ContentAlreadyRegistered" | "UnknownSeries" | "SupplyExceeded"
  | "DuplicateCertificate" | "UnknownCertificate" | "AlreadyRevoked" | "NotAValidator" | "AlreadyAValidator"
  | "InvalidValidatorChange" | "ValidatorSetUnsafe" | "SetChangePending" | "InvalidGovernance"
  | "ObserverAlreadyRegistered" | "UnknownObserver" | "LicenceExpired" | "LicenceWithdrawn" | "IssuerUnlicensed"
  | "InvalidLicence" | "NoLicenceToWithdraw" | "LicencePolicyUnchanged" | "InvalidSeriesTerms" | "UnknownRecipe"
  | "RecipeMismatch" | "CertificateBurned" | "CertificateRevoked" | "SynthesisAcrossHolders"
  | "SynthesisChangesHolder" | "NotABlindBox" | "BlindBoxClosed" | "BlindBoxNotClosed" | "BlindBoxAlreadyRevealed"
  | "SeedMismatch" | "EntropyMismatch" | "NotFound" | "BatchTooLarge" | "InvalidRange" | "MempoolFull"
  | "StateUnavailable" | "Internal";
export type JsonRpcCodeName =
  | "ParseError" | "InvalidRequest" | "MethodNotFound" | "InvalidParams" | "InternalError"
  | "TooManySubscriptions" | "ResponseTooLarge" | "TooManyCalls";

/** Every error the SDK throws on purpose: `code` is a stable string. */
export declare class KeepsakeError extends Error {
  constructor(code: string, message: string, options?: ErrorOptions);
  readonly code: string;
}
/** A JSON-RPC error from the node (or a local check with the node's code): branch on `code` or `number`. */
export declare class RpcError extends KeepsakeError {
  constructor(code: string, number: number, message: string, extra?: { data?: unknown; method?: string });
  readonly code: ErrorCodeName | JsonRpcCodeName | (string & {});
  readonly number: number;
  readonly data?: unknown;
  readonly method?: string;
  static fromObject(error: { code: number; message: string; data?: unknown }, method?: string): RpcError;
  static fromRejection(rejection: Rejection, method?: string): RpcError;
}
/** An admitted transaction the node then left out of a block (getTxStatus "rejected"). */
export declare class TxRejectedError extends RpcError {
  constructor(txId: Hex32, rejection: Rejection);
  readonly txId: Hex32;
}
export declare class TransportError extends KeepsakeError {
  readonly code: "Transport";
  readonly status?: number;
}
export declare class TimeoutError extends KeepsakeError {
  readonly code: "Timeout";
}

// ---------------------------------------------------------------------------
// Keys and key files

/** An Ed25519 key pair (RFC 8032 seed inside; toJSON/inspect show the public key only). */
export declare class Key {
  constructor(seed: Bytes32);
  static fromSeed(seed: Bytes32): Key;
  static generate(): Key;
  readonly publicKey: Hex32;
  readonly publicKeyBytes: Uint8Array;
  sign(message: Uint8Array): Uint8Array;
  /** The 32-byte secret seed, hex. */
  exportSeed(): string;
  toJSON(): { public_key: Hex32 };
}
export declare const KEY_FILE_MAX: number;
export declare function keyFileText(key: Key): string;
export declare function parseKeyFile(text: string, where?: string): Key;
export declare function readKeyFile(path: string): Promise<Key>;
export declare function writeKeyFile(path: string, key: Key): Promise<void>;
/** HOME/keys/{governor,issuer,reviewer,validator}.json as `keepsake dev` writes them. */
export declare function readDevKeys(home: string): Promise<{ governor?: Key; issuer?: Key; reviewer?: Key; validator?: Key }>;
export declare function publicKeyHex(value: PublicKeyInput, what?: string): Hex32;

// ---------------------------------------------------------------------------
// Transaction bodies (the JSON keepsake_submitTx takes; docs/rpc.md)

export interface ReviewApproval { reviewer: Hex32; signature: Hex64 }
export interface Licence { kind: string; number: string; valid_until_ms: U64 }
export interface RecipeInput { series_id: Hex32; count: number }
export interface Recipe { inputs: RecipeInput[] }
export interface BoxVariant { name: string; content_hash: Hex32; count: number }
export interface BlindBoxTerms { variants: BoxVariant[]; seed_commitment: Hex32 }
export interface SeriesTerms { recipes: Recipe[]; blind_box: BlindBoxTerms | null }
export interface Validator { public_key: Hex32; power: U64; name: string }
export type ValidatorChange =
  | { add: { validator: Validator } }
  | { remove: { public_key: Hex32 } }
  | { set_power: { public_key: Hex32; power: U64 } }
  | { rotate_key: { old_key: Hex32; new_key: Hex32 } };
interface SeriesFields { issuer: Hex32; name: string; content_hash: Hex32; max_supply: number; metadata_uri: string }

/** TxBody, externally tagged, variants 0..18 in wire order. */
export type TxBody =
  | { register_issuer: { issuer: Hex32; name: string; nonce: U64 } }
  | { set_issuer_status: { issuer: Hex32; status: "active" | "suspended"; nonce: U64 } }
  | { register_reviewer: { reviewer: Hex32; name: string; nonce: U64 } }
  | { remove_reviewer: { reviewer: Hex32; nonce: U64 } }
  | { create_series: SeriesFields & { approval: ReviewApproval } }
  | { mint: { series_id: Hex32; edition: number; holder: Hex32 } }
  | { revoke: { certificate_id: Hex32; reason: string } }
  | { transfer: { certificate_id: Hex32; to: Hex32 } }
  | { change_validators: { change: ValidatorChange; nonce: U64 } }
  | { set_governance: { governors: Hex32[]; threshold: number; nonce: U64 } }
  | { register_observer: { observer: Hex32; name: string; nonce: U64 } }
  | { remove_observer: { observer: Hex32; nonce: U64 } }
  | { set_issuer_licence: { issuer: Hex32; licence: Licence; nonce: U64 } }
  | { withdraw_issuer_licence: { issuer: Hex32; reason: string; nonce: U64 } }
  | { set_licence_policy: { required: boolean; nonce: U64 } }
  | { create_series_with_terms: SeriesFields & { terms: SeriesTerms; approval: ReviewApproval } }
  | { synthesize: { series_id: Hex32; recipe: number; inputs: Hex32[]; edition: number; holder: Hex32 } }
  | { close_blind_box: { series_id: Hex32 } }
  | { reveal_blind_box: { series_id: Hex32; seed: Hex32; entropy: Hex32 } };

export type TxKind = TxBody extends infer B ? (B extends Record<infer K, unknown> ? K : never) : never;

export interface TxSignature { signer: Hex32; signature: Hex64 }
/** SignedTx JSON (keepsake_submitTx's parameter). */
export interface SignedTxJson { body: TxBody; signatures: TxSignature[] }

/** Input terms: ids as hex or bytes, counts as numbers. */
export interface SeriesTermsInput {
  recipes?: { inputs: { series_id: Bytes32; count: number }[] }[];
  blind_box?: { variants: { name: string; content_hash: Bytes32; count: number }[]; seed_commitment: Bytes32 } | null;
}
export interface SeriesInput {
  issuer: PublicKeyInput;
  name: string;
  content_hash: Bytes32;
  max_supply: number;
  metadata_uri: string;
}
type Nonce = { nonce?: U64 };
export type ValidatorChangeInput =
  | { kind: "add"; validator: { public_key: PublicKeyInput; power: U64; name: string } }
  | { kind: "remove"; public_key: PublicKeyInput }
  | { kind: "set_power"; public_key: PublicKeyInput; power: U64 }
  | { kind: "rotate_key"; old_key: PublicKeyInput; new_key: PublicKeyInput };

/** Builders of every body (a governance nonce defaults to a random u64). */
export declare const bodies: {
  registerIssuer(o: { issuer: PublicKeyInput; name: string } & Nonce): Extract<TxBody, { register_issuer: unknown }>;
  setIssuerStatus(o: { issuer: PublicKeyInput; status: "active" | "suspended" } & Nonce): Extract<TxBody, { set_issuer_status: unknown }>;
  registerReviewer(o: { reviewer: PublicKeyInput; name: string } & Nonce): Extract<TxBody, { register_reviewer: unknown }>;
  removeReviewer(o: { reviewer: PublicKeyInput } & Nonce): Extract<TxBody, { remove_reviewer: unknown }>;
  /** create_series without terms, create_series_with_terms with them. */
  createSeries(o: SeriesInput & { terms?: SeriesTermsInput | null; approval: { reviewer: PublicKeyInput; signature: Hex64 | Uint8Array } }): Extract<TxBody, { create_series: unknown } | { create_series_with_terms: unknown }>;
  mint(o: { series_id: Bytes32; edition: number; holder: Bytes32 }): Extract<TxBody, { mint: unknown }>;
  revoke(o: { certificate_id: Bytes32; reason: string }): Extract<TxBody, { revoke: unknown }>;
  /** Never valid: TransferForbidden (4001). */
  transfer(o: { certificate_id: Bytes32; to: Bytes32 }): Extract<TxBody, { transfer: unknown }>;
  changeValidators(o: { change: ValidatorChangeInput } & Nonce): Extract<TxBody, { change_validators: unknown }>;
  setGovernance(o: { governors: PublicKeyInput[]; threshold: number } & Nonce): Extract<TxBody, { set_governance: unknown }>;
  registerObserver(o: { observer: PublicKeyInput; name: string } & Nonce): Extract<TxBody, { register_observer: unknown }>;
  removeObserver(o: { observer: PublicKeyInput } & Nonce): Extract<TxBody, { remove_observer: unknown }>;
  setIssuerLicence(o: { issuer: PublicKeyInput; licence: { kind: string; number: string; valid_until_ms: U64 } } & Nonce): Extract<TxBody, { set_issuer_licence: unknown }>;
  withdrawIssuerLicence(o: { issuer: PublicKeyInput; reason: string } & Nonce): Extract<TxBody, { withdraw_issuer_licence: unknown }>;
  setLicencePolicy(o: { required: boolean } & Nonce): Extract<TxBody, { set_licence_policy: unknown }>;
  createSeriesWithTerms(o: SeriesInput & { terms?: SeriesTermsInput; approval: { reviewer: PublicKeyInput; signature: Hex64 | Uint8Array } }): Extract<TxBody, { create_series_with_terms: unknown }>;
  synthesize(o: { series_id: Bytes32; recipe?: number; inputs: Bytes32[]; edition: number; holder: Bytes32 }): Extract<TxBody, { synthesize: unknown }>;
  closeBlindBox(o: { series_id: Bytes32 }): Extract<TxBody, { close_blind_box: unknown }>;
  revealBlindBox(o: { series_id: Bytes32; seed: Bytes32; entropy: Bytes32 }): Extract<TxBody, { reveal_blind_box: unknown }>;
};

export declare function bodyKind(body: TxBody): TxKind;
/** encode(TxBody): the canonical bytes (docs/protocol.md §4.1). */
export declare function encodeBody(body: TxBody): Uint8Array;
export declare function txId(chainId: string, body: TxBody): Promise<Hex32>;
/** domain_preimage("keepsake/tx/v1", chain, encode(body)): what each signer signs. */
export declare function signingMessage(chainId: string, body: TxBody): Uint8Array;

export interface SignedTransaction {
  readonly chainId: string;
  readonly kind: TxKind;
  readonly id: Hex32;
  readonly tx: SignedTxJson;
  readonly bodyBytes: Uint8Array;
  /** encode(SignedTx) */
  readonly bytes: Uint8Array;
}
/** Signs locally; TxTooLarge (RpcError 4002) when encode(SignedTx) exceeds maxBytes (default 4096). */
export declare function signTx(chainId: string, body: TxBody, signers: Key | Key[], options?: { maxBytes?: number }): Promise<SignedTransaction>;
export declare function reviewSubject(o: SeriesInput): SeriesFields;
/** The reviewer's approval: keepsake/review/v1 over the subject, or v2 over (subject, terms) when terms are given. */
export declare function approveSeries(chainId: string, series: SeriesInput, terms: SeriesTermsInput | null | undefined, reviewer: Key): ReviewApproval;
export declare function createSeriesBody(
  chainId: string,
  o: SeriesInput & { terms?: SeriesTermsInput | null; reviewer: Key },
): Extract<TxBody, { create_series: unknown } | { create_series_with_terms: unknown }>;
export declare function holderId(salt: string, account: string): Promise<Hex32>;
export declare function seriesId(chainId: string, issuer: PublicKeyInput, name: string): Promise<Hex32>;
export declare function certificateId(chainId: string, seriesId: Bytes32, edition: number): Promise<Hex32>;
export declare function newBlindBoxSeed(): Hex32;
export declare function seedCommitment(chainId: string, seed: Bytes32): Promise<Hex32>;
export declare function randomNonce(): bigint;
export declare const TX_BYTES_MAX_DEFAULT: number;

// ---------------------------------------------------------------------------
// The node's JSON-RPC (crates/rpc/src/types.rs shapes; integers above 2^53 arrive as bigint)

export interface Rejection { code: string; message: string }
export type TxStatus =
  | { status: "committed"; height: number; index: number; leaf_index: number }
  | { status: "pending" }
  | { status: "rejected"; error: Rejection }
  | { status: "unknown" };
export interface BlockSummary { height: number; hash: Hex32; time_ms: number; tx_count: number; log_size: number; log_root: Hex32 }
export interface Header {
  chain_id: string; height: number; prev_hash: Hex32; time_ms: number; proposer: Hex32; tx_count: number;
  tx_root: Hex32; log_size: number; log_root: Hex32; validators_hash: Hex32; state_root: Hex32;
}
export interface Commit { height: number; round: number; block_hash: Hex32; signatures: { validator: Hex32; signature: Hex64 }[] }
export interface Checkpoint { header: Header; commit: Commit }
export interface LogEntryProof { leaf_index: number; leaf: string; proof: Hex32[] }
export interface SetTransition { change: LogEntryProof; checkpoint: Checkpoint }
/** The certificate file (docs/protocol.md §7.1). */
export interface Certificate {
  format: "keepsake-certificate/v1";
  chain_id: string;
  certificate_id: Hex32;
  record: {
    series_id: Hex32; series_name: string; edition: number; max_supply: number; holder: Hex32; issuer: Hex32;
    content_hash: Hex32; metadata_uri: string; reviewer: Hex32; height: number; time_ms: number; mint_tx: Hex32;
    synthesized_from?: Hex32[]; variant?: { index: number; name: string; content_hash: Hex32 } | null;
  };
  mint: LogEntryProof;
  series: LogEntryProof;
  checkpoint: Checkpoint;
  transitions?: SetTransition[];
  reveal?: LogEntryProof | null;
  previous?: { checkpoint: Checkpoint; consistency: Hex32[] } | null;
}
export interface CertificateStatusAnswer {
  certificate_id: Hex32; checkpoint: Checkpoint; transitions?: SetTransition[];
  revocation: LogEntryProof | null; burn?: LogEntryProof | null;
}
export interface RevocationInfo { reason: string; by: "issuer" | "governance"; tx_id: Hex32; leaf_index: number; height: number }
export interface BurnInfo { into: Hex32; tx_id: Hex32; leaf_index: number; height: number }
export interface CertificateResponse { certificate: Certificate; revocation: RevocationInfo | null; burn?: BurnInfo | null }
export interface ConsistencyResponse { old: Checkpoint; new: Checkpoint; proof: Hex32[] }
export interface LogRootInfo { size: number; root: Hex32 }
export interface Genesis {
  chain_id: string; genesis_time_ms: number; validators: Validator[]; governors: Hex32[]; governance_threshold: number;
  params: { max_supply_limit: number; block_txs_max: number; tx_bytes_max: number };
}
/** Answers not modelled in detail (docs/rpc.md): plain JSON. */
export type Json = any;
export interface SubmitOutcome { tx_id: Hex32; error: RpcError | null }
export interface Subscription { readonly id: number | string | null; readonly error: TransportError | null; close(): Promise<void> }

export declare const LIMITS: Readonly<{ requestBytes: number; responseBytes: number; batchTxs: number; batchCalls: number; wsMessageBytes: number }>;

export declare class KeepsakeClient {
  constructor(url?: string, options?: { timeoutMs?: number; maxResponseBytes?: number });
  readonly url: string;
  call<T = Json>(method: string, params?: unknown[] | Record<string, unknown>): Promise<T>;
  batch(calls: [method: string, params?: unknown[]][]): Promise<({ result: Json; error?: undefined } | { error: KeepsakeError; result?: undefined })[]>;
  health(): Promise<{ height: number; last_commit_ms_ago: number; peers: number; status: "ok" | "halted" | "stale"; reason?: string; httpStatus: number }>;
  getGenesis(): Promise<Genesis>;
  chainId(): Promise<string>;
  status(): Promise<Json>;
  getTxStatus(txId: Hex32): Promise<TxStatus>;
  getCertificate(certificateId: Hex32): Promise<CertificateResponse>;
  getCertificateStatus(certificateId: Hex32): Promise<CertificateStatusAnswer>;
  getEvidence(limit?: number): Promise<Json[]>;
  getSeries(seriesId: Hex32): Promise<Json>;
  listSeries(after?: Hex32 | null, limit?: number): Promise<Json[]>;
  listIssuers(after?: Hex32 | null, limit?: number): Promise<Json[]>;
  recentTransactions(limit?: number): Promise<{ height: number; time_ms: number; tx_id: Hex32; body: TxBody }[]>;
  getIssuer(issuer: Hex32): Promise<Json>;
  getLogRoot(size: U64): Promise<LogRootInfo>;
  getBlock(height: U64): Promise<Json>;
  getBlockByHash(hash: Hex32): Promise<Json>;
  getConsistencyProof(oldHeight: U64, newHeight: U64): Promise<ConsistencyResponse>;
  getValidatorSets(height?: U64 | null, proofs?: boolean | null): Promise<Json>;
  /** keepsake_submitTx; checks the node's id against the local one. */
  submitTx(tx: SignedTransaction | SignedTxJson): Promise<Hex32>;
  /** keepsake_submitTxs (at most 10,000). */
  submitTxs(txs: (SignedTransaction | SignedTxJson)[]): Promise<SubmitOutcome[]>;
  /** signTx for this node's chain and tx_bytes_max. */
  sign(body: TxBody, signers: Key | Key[]): Promise<SignedTransaction>;
  send(body: TxBody, signers: Key | Key[], options?: { wait?: boolean; timeoutMs?: number }): Promise<{ id: Hex32; kind: TxKind; tx: SignedTxJson; status: TxStatus }>;
  sendBatch(
    items: { body: TxBody; signers: Key | Key[] }[],
    options?: { wait?: boolean; timeoutMs?: number },
  ): Promise<{ id: Hex32; kind: TxKind; error: RpcError | null; status: TxStatus | null }[]>;
  waitForCommit(txIds: Hex32 | Hex32[], options?: { timeoutMs?: number; throwOnRejected?: boolean }): Promise<TxStatus[]>;
  subscribeBlocks(onBlock: (block: BlockSummary) => void, options?: { timeoutMs?: number }): Promise<Subscription>;
}

// ---------------------------------------------------------------------------
// Certificates (verified by web/verify.js)

export declare const CERTIFICATE_FILE_MAX: number;
export declare const GENESIS_FILE_MAX: number;
export declare class CertificateVerificationError extends KeepsakeError {
  readonly step: string;
  readonly result: CertificateVerdict | StatusVerdict;
}
export type CertificateInput = string | Uint8Array | Certificate;
export declare function readGenesisFile(path: string): Promise<Genesis>;
export declare function readCertificateFile(path: string): Promise<string>;
export declare function writeCertificateFile(path: string, certificate: CertificateInput): Promise<void>;
export declare function verifyCertificate(certificate: CertificateInput, genesis: GenesisInput): Promise<CertificateVerdict>;
export declare function verifyCertificateOrThrow(
  certificate: CertificateInput,
  genesis: GenesisInput,
): Promise<Extract<CertificateVerdict, { ok: true }>>;
export declare function verifyCertificateFile(certificatePath: string, genesisPath: string): Promise<CertificateVerdict>;
export declare function verifyStatus(
  answer: string | Uint8Array | CertificateStatusAnswer,
  genesis: GenesisInput,
  verifiedCertificate: CertificateVerdict,
): Promise<StatusVerdict>;
export declare function fetchCertificate(
  client: KeepsakeClient,
  certificateId: Hex32,
  genesis: GenesisInput,
): Promise<{ certificate: Certificate; revocation: RevocationInfo | null; burn: BurnInfo | null; verification: Extract<CertificateVerdict, { ok: true }> }>;
export declare function fetchStatus(
  client: KeepsakeClient,
  certificate: CertificateInput,
  genesis: GenesisInput,
): Promise<{ answer: CertificateStatusAnswer; verification: Extract<StatusVerdict, { ok: true }> }>;
export declare function refreshCertificate(
  client: KeepsakeClient,
  genesis: GenesisInput,
  certificate: CertificateInput,
): Promise<{ certificate: Certificate; verification: Extract<CertificateVerdict, { ok: true }> } | null>;

/** keepsake_getLogRoot at the close's leaf_index + 1, after checking the box is closed (and the seed, if given). */
export declare function revealEntropy(client: KeepsakeClient, seriesId: Hex32, seed?: Bytes32): Promise<Hex32>;

/** web/verify.js itself. */
export * as verifier from "./verify.js";
