// Keepsake TypeScript SDK: keys, transactions built and signed locally, the
// node's JSON-RPC, and offline verification by web/verify.js (the explorer's
// verifier, the one implementation). See README.md.
export {
  ERROR_CODES,
  JSONRPC_CODES,
  errorNumber,
  KeepsakeError,
  RpcError,
  TxRejectedError,
  TransportError,
  TimeoutError,
} from "./errors.js";
export { Key, KEY_FILE_MAX, keyFileText, parseKeyFile, readKeyFile, writeKeyFile, readDevKeys, publicKeyHex } from "./keys.js";
export {
  bodies,
  bodyKind,
  encodeBody,
  txId,
  signingMessage,
  signTx,
  reviewSubject,
  approveSeries,
  createSeriesBody,
  holderId,
  seriesId,
  certificateId,
  newBlindBoxSeed,
  seedCommitment,
  randomNonce,
  TX_BYTES_MAX_DEFAULT,
} from "./tx.js";
export { KeepsakeClient, LIMITS } from "./client.js";
export {
  verifyCertificate,
  verifyCertificateOrThrow,
  verifyCertificateFile,
  verifyStatus,
  fetchCertificate,
  fetchStatus,
  refreshCertificate,
  readGenesisFile,
  readCertificateFile,
  writeCertificateFile,
  CertificateVerificationError,
  CERTIFICATE_FILE_MAX,
  GENESIS_FILE_MAX,
} from "./certificates.js";
export { revealEntropy } from "./blind-box.js";

/** web/verify.js itself (drawVariants, checkHolder, parseHolderOpening, verifyInclusion, ...). */
export * as verifier from "./verify.js";
