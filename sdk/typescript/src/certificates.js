// Certificates and status answers, verified offline against a genesis by
// web/verify.js (the explorer's verifier: the same code, the same verdicts as
// the Rust Certificate::verify). This file only fetches, reads and links.
import {
  verifyCertificate as verifierVerifyCertificate,
  verifyStatus as verifierVerifyStatus,
  loadGenesis,
  parseCheckpoint,
  encodeHeader,
  bytesEqual,
  parseJson,
  stringifyJson,
  CERTIFICATE_FILE_MAX,
  VerifyError,
} from "./verify.js";
import { KeepsakeError } from "./errors.js";
import { readBounded, writeText } from "./files.js";

/** Most bytes of a genesis file (node/src/config.rs GENESIS_FILE_MAX). */
export const GENESIS_FILE_MAX = 1024 * 1024;
export { CERTIFICATE_FILE_MAX };

/** A certificate, status answer or genesis given as text, bytes or an object: its JSON text. */
function asText(value) {
  if (typeof value === "string" || value instanceof Uint8Array || value instanceof ArrayBuffer) return value;
  return stringifyJson(value); // BigInt-exact
}

/** A certificate or status answer as an object (parsed BigInt-exactly when given as text). */
function asObject(value, what) {
  if (typeof value === "string" || value instanceof Uint8Array) {
    const text = typeof value === "string" ? value : Buffer.from(value).toString("utf8");
    if (Buffer.byteLength(text, "utf8") > CERTIFICATE_FILE_MAX) {
      throw new KeepsakeError("TooLarge", `${what} over the limit of ${CERTIFICATE_FILE_MAX} bytes`);
    }
    try {
      return parseJson(text);
    } catch (e) {
      throw new KeepsakeError("Malformed", `${what}: ${e.message}`);
    }
  }
  if (!value || typeof value !== "object") throw new KeepsakeError("Malformed", `${what}: expected JSON`);
  return value;
}

/** Thrown by the *OrThrow helpers: `code` is the verifier's stable code (ProofMismatch, ...). */
export class CertificateVerificationError extends KeepsakeError {
  constructor(result, what = "certificate") {
    super(result.code, `${what} is invalid: ${result.code} at step ${result.step}: ${result.message}`);
    this.name = "CertificateVerificationError";
    this.step = result.step;
    this.result = result;
  }
}

/** Reads a genesis file (at most 1 MiB), checked as Genesis::validate does; returns the plain object. */
export async function readGenesisFile(path) {
  const text = await readBounded(path, GENESIS_FILE_MAX);
  try {
    await loadGenesis(text);
  } catch (e) {
    if (e instanceof VerifyError) throw new KeepsakeError(e.code, `${path}: ${e.message}`);
    throw e;
  }
  return parseJson(text);
}

/** Reads a certificate (or status answer) file as text, at most 4 MiB (CERTIFICATE_FILE_MAX). */
export async function readCertificateFile(path) {
  return readBounded(path, CERTIFICATE_FILE_MAX);
}

/** Writes a certificate or status answer as serde_json's pretty JSON (+ newline), replacing the file atomically. */
export async function writeCertificateFile(path, certificate) {
  await writeText(path, stringifyJson(asObject(certificate, "certificate"), 2) + "\n");
}

/**
 * Verifies a certificate (text, bytes or object) offline against a genesis
 * (text, object, or a path's readGenesisFile result). Never throws for bad
 * input: {ok: true, certificateId, record, checkpointHeight, logSize, ...,
 * steps} or {ok: false, code, message, step, steps}, exactly web/verify.js's
 * verdict (the explorer's, and the Rust verifier's code).
 */
export function verifyCertificate(certificate, genesis) {
  return verifierVerifyCertificate(asText(certificate), genesis);
}

/** verifyCertificate, throwing CertificateVerificationError when invalid. */
export async function verifyCertificateOrThrow(certificate, genesis) {
  const r = await verifyCertificate(certificate, genesis);
  if (!r.ok) throw new CertificateVerificationError(r);
  return r;
}

/** Reads and verifies a certificate file against a genesis file (`keepsake cert verify`). */
export async function verifyCertificateFile(certificatePath, genesisPath) {
  let text;
  let genesis;
  try {
    genesis = await readBounded(genesisPath, GENESIS_FILE_MAX);
    text = await readCertificateFile(certificatePath);
  } catch (e) {
    if (e instanceof KeepsakeError && e.code === "TooLarge") return { ok: false, code: "TooLarge", message: e.message, step: "file", steps: [] };
    throw e;
  }
  return verifyCertificate(text, genesis);
}

/**
 * Verifies a status answer (keepsake_getCertificateStatus) for a certificate
 * verified by verifyCertificate against the same genesis: {ok: true, status:
 * "active" | "revoked" | "burned", revocation, burn, ...} or {ok: false, code, ...}.
 * "active" is the node's word (absence is not proven); a revocation or burn is proven.
 */
export function verifyStatus(answer, genesis, verifiedCertificate) {
  return verifierVerifyStatus(asText(answer), genesis, verifiedCertificate);
}

/**
 * Fetches a certificate and verifies it offline against `genesis` (obtained
 * out of band, not from the node being checked). Returns {certificate,
 * revocation, burn, verification}; throws CertificateVerificationError when
 * the node's certificate does not verify.
 */
export async function fetchCertificate(client, certificateId, genesis) {
  const answer = await client.getCertificate(certificateId);
  const verification = await verifyCertificate(answer.certificate, genesis);
  if (!verification.ok) throw new CertificateVerificationError(verification, "the node's certificate");
  if (verification.certificateId !== String(certificateId).replace(/^0x/, "").toLowerCase()) {
    throw new KeepsakeError("CertificateMismatch", `the node answered certificate ${verification.certificateId}`);
  }
  return { certificate: answer.certificate, revocation: answer.revocation ?? null, burn: answer.burn ?? null, verification };
}

/**
 * Asks the node for a certificate's status and verifies the answer offline
 * (`keepsake cert status`). `certificate` is verified first. Returns
 * {answer, verification}; throws CertificateVerificationError when either fails.
 */
export async function fetchStatus(client, certificate, genesis) {
  const cert = await verifyCertificateOrThrow(certificate, genesis);
  const answer = await client.getCertificateStatus(cert.certificateId);
  const verification = await verifyStatus(answer, genesis, cert);
  if (!verification.ok) throw new CertificateVerificationError(verification, "the node's status answer");
  return { answer, verification };
}

const headerBytes = (h) => encodeHeader(parseCheckpoint({ header: h, commit: DUMMY_COMMIT }).header);
const DUMMY_COMMIT = { height: 0, round: 0, block_hash: "00".repeat(32), signatures: [] };

/**
 * Re-anchors a certificate to the node's latest checkpoint, linked to its
 * old checkpoint by the node's consistency proof (`keepsake cert refresh`,
 * node/src/cli/cert.rs refresh_certificate + link_refreshed): the old
 * certificate must verify; the node must still show the old checkpoint's
 * header unchanged; its validator-set changes must extend the old ones; the
 * result must verify (older checkpoint included) with the same record.
 * Returns {certificate, verification}, or null when already current.
 */
export async function refreshCertificate(client, genesis, oldCertificate) {
  const old = asObject(oldCertificate, "certificate");
  const oldVerified = await verifyCertificate(old, genesis);
  if (!oldVerified.ok) throw new CertificateVerificationError(oldVerified, "the certificate to refresh");
  const fresh = (await client.getCertificate(old.certificate_id)).certificate;
  const oldH = Number(old.checkpoint.header.height);
  const newH = Number(fresh.checkpoint.header.height);
  if (newH <= oldH) return null;
  const link = await client.getConsistencyProof(oldH, newH);
  if (String(fresh.certificate_id).toLowerCase() !== String(old.certificate_id).toLowerCase()) {
    throw new KeepsakeError("CertificateMismatch", `the node answered with another certificate (${fresh.certificate_id})`);
  }
  const sameHeader = (a, b) => {
    try {
      return bytesEqual(headerBytes(a), headerBytes(b));
    } catch {
      return false;
    }
  };
  if (!sameHeader(link.old.header, old.checkpoint.header)) {
    throw new KeepsakeError(
      "Rewritten",
      `the node now shows another header at height ${oldH} than the one the certificate was checked at: ` +
        "the chain was rewritten (or the node is lying); keep the old certificate as evidence",
    );
  }
  if (!sameHeader(link.new.header, fresh.checkpoint.header)) {
    throw new KeepsakeError("Inconsistent", `the node answered two different headers at height ${newH}; retry`);
  }
  const changes = (c) => (c.transitions ?? []).map((t) => `${t.change.leaf_index}:${String(t.change.leaf).toLowerCase()}`);
  const before = changes(old);
  const now = changes(fresh);
  if (before.length > now.length || before.some((x, i) => x !== now[i])) {
    throw new KeepsakeError(
      "Rewritten",
      `the node's validator-set changes (${now.length} of them) do not extend the ${before.length} the certificate proved: ` +
        "the node shows another history; keep the old certificate as evidence",
    );
  }
  const refreshed = { ...fresh, previous: { checkpoint: old.checkpoint, consistency: link.proof } };
  const verification = await verifyCertificate(refreshed, genesis);
  if (!verification.ok) throw new CertificateVerificationError(verification, "the refreshed certificate");
  if (stringifyJson(verification.record) !== stringifyJson(oldVerified.record)) {
    throw new KeepsakeError("CertificateMismatch", "the node's record of this certificate differs from the old certificate's record");
  }
  return { certificate: refreshed, verification };
}
