// Declarations of web/verify.js (the explorer's verifier, which this SDK
// re-exports as `verifier` and as "@keepsake/sdk/verify.js"). Byte values are
// Uint8Array; u64 values inside decoded structures are bigint.

export declare class VerifyError extends Error {
  constructor(code: string, message: string, step?: string);
  readonly code: string;
  readonly step?: string;
}

export interface Step { id: string; label: string; status: "passed" | "failed" | "skipped"; detail: string }

export interface VerifiedRecord {
  series_id: string; series_name: string; edition: number; max_supply: number; holder: string; issuer: string;
  content_hash: string; metadata_uri: string; reviewer: string; height: number; time_ms: number; mint_tx: string;
  synthesized_from: string[]; variant: { index: number; name: string; content_hash: string } | null;
}
export interface VerifiedCertificate {
  ok: true;
  certificateId: string;
  record: VerifiedRecord;
  checkpointHeight: number;
  logSize: number;
  mintLeafIndex: number;
  signedPower: number | string;
  totalPower: number | string;
  setChanges: number;
  previousHeight: number | null;
  recipe: number | null;
  blindBox: null | { reveal: null | { height: number; time_ms: number; tx_id: string; leaf_index: number } };
  genesisHash: string;
  steps: Step[];
}
export interface Failure { ok: false; code: string; message: string; step: string; steps: Step[] }
export type CertificateVerdict = VerifiedCertificate | Failure;
export interface VerifiedStatus {
  ok: true;
  status: "active" | "revoked" | "burned";
  certificateId: string;
  checkpointHeight: number;
  revocation: null | { reason: string; by: "issuer" | "governance"; height: number; time_ms: number; tx_id: string; leaf_index: number };
  burn: null | { into: string; height: number; time_ms: number; tx_id: string; leaf_index: number };
  steps: Step[];
}
export type StatusVerdict = VerifiedStatus | Failure;
export interface LoadedGenesis { __keepsakeGenesis: true; genesis: any; hash: Uint8Array; hashHex: string }
/** A genesis as JSON text, bytes, a plain object, or loadGenesis' result. */
export type GenesisInput = string | Uint8Array | object | LoadedGenesis;

export declare function verifyCertificate(certificateJsonText: string | Uint8Array | ArrayBuffer, genesis: GenesisInput): Promise<CertificateVerdict>;
export declare function verifyStatus(statusJsonText: string | Uint8Array | ArrayBuffer, genesis: GenesisInput, verified: CertificateVerdict): Promise<StatusVerdict>;
export declare function loadGenesis(input: GenesisInput): Promise<LoadedGenesis>;
export declare function parseCheckpoint(value: string | object): { header: any; commit: any };
export declare const STEPS: readonly { id: string; label: string }[];
export declare const STATUS_STEPS: readonly { id: string; label: string }[];
export declare const CERTIFICATE_FORMAT: "keepsake-certificate/v1";
export declare const CERTIFICATE_FILE_MAX: number;

export declare function toHex(bytes: Uint8Array): string;
export declare function fromHex(text: string): Uint8Array;
export declare function concat(...parts: (Uint8Array | number[])[]): Uint8Array;
export declare function bytesEqual(a: Uint8Array, b: Uint8Array): boolean;
export declare function sha256(bytes: Uint8Array): Promise<Uint8Array>;
export declare function sha256js(bytes: Uint8Array | ArrayBuffer | DataView): Uint8Array;
export declare function sha512js(bytes: Uint8Array | ArrayBuffer | DataView): Uint8Array;
export declare const TAG: Readonly<Record<string, string>>;
export declare function domainPreimage(tag: string, chainId: string, bytes: Uint8Array): Uint8Array;
export declare function domainHash(tag: string, chainId: string, bytes: Uint8Array): Promise<Uint8Array>;
export declare function varint(n: number | bigint): Uint8Array;
export declare function pstr(s: string): Uint8Array;

/** Decoded/encodable shapes: {kind, ...fields}, bytes as Uint8Array, integers as bigint. */
export type TxBodyShape = { kind: string; [field: string]: any };
export interface SignedTxShape { body: TxBodyShape; signatures: { signer: Uint8Array; signature: Uint8Array }[] }
export declare function encodeHeader(h: any): Uint8Array;
export declare function encodeVoteData(height: bigint, round: bigint, kind: number, blockHash: Uint8Array | null): Uint8Array;
export declare function encodeValidators(validators: any[]): Uint8Array;
export declare function encodeGenesis(g: any): Uint8Array;
export declare function encodeReviewSubject(s: any): Uint8Array;
export declare function encodeSeriesTerms(t: any): Uint8Array;
export declare function reviewMessage(chainId: string, subject: any, terms: any | null): Uint8Array;
export declare function encodeValidatorChange(c: any): Uint8Array;
export declare function encodeTxBody(b: TxBodyShape): Uint8Array;
export declare function encodeSignedTx(tx: SignedTxShape): Uint8Array;
export declare function encodeLogLeaf(leaf: { height: bigint; time_ms: bigint; tx: SignedTxShape }): Uint8Array;
export declare function decodeLogLeaf(bytes: Uint8Array, maxLen: number, what?: string): { height: bigint; time_ms: bigint; tx: SignedTxShape & { bodyBytes: Uint8Array } };
export declare function decodeSignedTx(bytes: Uint8Array, maxLen: number, what?: string): SignedTxShape & { bodyBytes: Uint8Array };
/** A TxBody / SignedTx in JSON, read as the node's serde reads it; throws VerifyError Malformed. */
export declare function parseTxBody(input: string | object): TxBodyShape;
export declare function parseSignedTx(input: string | object): SignedTxShape;
/** JSON.parse with integers beyond 2^53 as bigint. */
export declare function parseJson(text: string | Uint8Array): any;
/** JSON.stringify writing bigint exactly. */
export declare function stringifyJson(value: unknown, indent?: number | string): string;

export declare function txId(chainId: string, bodyBytes: Uint8Array): Promise<Uint8Array>;
export declare function seriesId(chainId: string, issuer: Uint8Array, name: string): Promise<Uint8Array>;
export declare function certificateId(chainId: string, series: Uint8Array, edition: number | bigint): Promise<Uint8Array>;
export declare function holderId(salt: string, account: string): Promise<Uint8Array>;
export declare function seedCommitment(chainId: string, seed: Uint8Array): Promise<Uint8Array>;
export declare function blockHash(header: any): Promise<Uint8Array>;
export declare function validatorsHash(chainId: string, validators: any[]): Promise<Uint8Array>;
export declare function genesisHash(g: any): Promise<Uint8Array>;
export declare const BLIND_BOX_EDITIONS_MAX: number;
/** The blind-box draw: the variant index of each edition (position edition - 1), or null when the counts do not fit. */
export declare function drawVariants(
  chainId: string,
  seriesId: Uint8Array,
  seed: Uint8Array,
  entropy: Uint8Array,
  variants: { count: number | bigint }[],
): Promise<number[] | null>;
export declare const HOLDER_OPENING_FORMAT: "keepsake-holder-opening/v1";
export declare function parseHolderOpening(input: string | object): { salt: string; account: string; certificate_id: Uint8Array | null; holder: Uint8Array | null };
/** Whether (salt, account) opens the holder commitment of a verified certificate. */
export declare function checkHolder(verified: CertificateVerdict, salt: string, account: string): Promise<{ mine: boolean; holder: string; expected: string }>;

export declare const PROOF_HASHES_MAX: number;
export declare function leafHash(leaf: Uint8Array): Promise<Uint8Array>;
export declare function nodeHash(left: Uint8Array, right: Uint8Array): Promise<Uint8Array>;
export declare function verifyInclusion(leafHash: Uint8Array, index: bigint, size: bigint, proof: Uint8Array[], root: Uint8Array): Promise<void>;
export declare function verifyConsistency(oldSize: bigint, newSize: bigint, oldRoot: Uint8Array, newRoot: Uint8Array, proof: Uint8Array[]): Promise<void>;
export declare function decompressPoint(bytes: Uint8Array): unknown;
export declare function isSmallOrder(point: unknown): boolean;
export declare function isValidPoint(key: Uint8Array): boolean;
export declare function webCryptoEd25519(): Promise<boolean>;
export declare function _setWebCryptoEd25519(enabled: boolean | undefined): void;
/** ZIP-215 verification (docs/protocol.md §3); throws BadSignature / BadPublicKey. */
export declare function verifySignature(key: Uint8Array, msg: Uint8Array, sig: Uint8Array, what?: string): Promise<void>;
export declare function verifyCommit(header: any, commit: any, validators: any[]): Promise<{ signedPower: bigint; total: bigint; needed: bigint; blockHash: Uint8Array; signers: string[] }>;
export declare const SET_CHANGE_DELAY: bigint;
export declare const TRANSITIONS_MAX: number;
export declare const VALIDATORS_MAX: number;
export declare const TOTAL_POWER_MAX: bigint;
export declare class ChangeRefusal extends Error {
  readonly kind: string;
}
export declare function applyValidatorChange(validators: any[], change: any): any[];
export declare function describeValidatorChange(change: any): string;
export declare class ValidatorSchedule {
  constructor(genesis: any);
  sets: { fromHeight: bigint; validators: any[] }[];
  changes: { height: bigint; fromHeight: bigint; description: string }[];
  at(height: bigint | number): any[];
  latest(): { fromHeight: bigint; validators: any[] };
}
export declare function followTransitions(genesis: any, transitions: any[]): Promise<ValidatorSchedule>;
