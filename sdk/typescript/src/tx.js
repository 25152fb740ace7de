// Transactions: every TxBody (docs/protocol.md §4.1, docs/rpc.md) built as the
// JSON the node's keepsake_submitTx takes, read back with web/verify.js's
// parseTxBody (the node's serde rules), encoded with its encodeTxBody and
// signed locally. The canonical bytes come from web/verify.js alone.
import { randomBytes } from "node:crypto";
import {
  parseTxBody,
  parseSignedTx,
  encodeTxBody,
  encodeSignedTx,
  domainPreimage,
  reviewMessage,
  TAG,
  toHex,
  txId as verifierTxId,
  seriesId as verifierSeriesId,
  certificateId as verifierCertificateId,
  holderId as verifierHolderId,
  seedCommitment as verifierSeedCommitment,
  VerifyError,
} from "./verify.js";
import { KeepsakeError, RpcError, ERROR_CODES } from "./errors.js";
import { Key, bytes32, fixedBytes, publicKeyHex } from "./keys.js";

/** The default chain limit on encode(SignedTx) (genesis params.tx_bytes_max; ChainParams::default). */
export const TX_BYTES_MAX_DEFAULT = 4096;
/** Longest string the SDK puts in a transaction field (the transaction size bounds it anyway). */
export const STRING_FIELD_MAX_BYTES = 4096;
const U32_MAX = 0xffffffffn;
const U64_MAX = (1n << 64n) - 1n;

const hex32 = (v, what) => toHex(bytes32(v instanceof Key ? v.publicKeyBytes : v, what));
const hex64 = (v, what) => toHex(fixedBytes(v, 64, what));

function uint(v, max, what) {
  let b;
  if (typeof v === "bigint") b = v;
  else if (typeof v === "number" && Number.isInteger(v)) b = BigInt(v);
  else if (typeof v === "string" && /^[0-9]{1,20}$/.test(v)) b = BigInt(v);
  else throw new KeepsakeError("Malformed", `${what}: expected a non-negative integer, got ${typeof v}`);
  if (b < 0n || b > max) throw new KeepsakeError("Malformed", `${what}: ${b} is out of range 0..=${max}`);
  return b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
}
const u32 = (v, what) => uint(v, U32_MAX, what);
const u64 = (v, what) => uint(v, U64_MAX, what);

function text(v, what) {
  if (typeof v !== "string") throw new KeepsakeError("Malformed", `${what}: expected a string`);
  if (!v.isWellFormed()) throw new KeepsakeError("Malformed", `${what}: not valid Unicode (a lone surrogate)`);
  if (Buffer.byteLength(v, "utf8") > STRING_FIELD_MAX_BYTES) {
    throw new KeepsakeError("Malformed", `${what}: over ${STRING_FIELD_MAX_BYTES} bytes`);
  }
  return v;
}

function list(v, what, max) {
  if (!Array.isArray(v)) throw new KeepsakeError("Malformed", `${what}: expected an array`);
  if (v.length > max) throw new KeepsakeError("Malformed", `${what}: ${v.length} items, at most ${max}`);
  return v;
}

/** A random governance nonce (u64), as the CLI draws it. */
export function randomNonce() {
  return new DataView(randomBytes(8).buffer).getBigUint64(0, true);
}

const nonceOf = (o) => u64(o.nonce ?? randomNonce(), "nonce");

function need(o, what) {
  if (!o || typeof o !== "object") throw new KeepsakeError("Malformed", `${what}: expected an object of fields`);
  return o;
}

function seriesTerms(t) {
  need(t, "terms");
  const recipes = list(t.recipes ?? [], "terms.recipes", 64).map((r, i) => ({
    inputs: list(need(r, `terms.recipes[${i}]`).inputs, `terms.recipes[${i}].inputs`, 64).map((x, j) => ({
      series_id: hex32(x.series_id, `terms.recipes[${i}].inputs[${j}].series_id`),
      count: u32(x.count, `terms.recipes[${i}].inputs[${j}].count`),
    })),
  }));
  const b = t.blind_box;
  const blind_box =
    b == null
      ? null
      : {
          variants: list(need(b, "terms.blind_box").variants, "terms.blind_box.variants", 64).map((v, i) => ({
            name: text(v.name, `terms.blind_box.variants[${i}].name`),
            content_hash: hex32(v.content_hash, `terms.blind_box.variants[${i}].content_hash`),
            count: u32(v.count, `terms.blind_box.variants[${i}].count`),
          })),
          seed_commitment: hex32(b.seed_commitment, "terms.blind_box.seed_commitment"),
        };
  return { recipes, blind_box };
}

function subjectFields(o) {
  return {
    issuer: publicKeyHex(o.issuer, "issuer"),
    name: text(o.name, "name"),
    content_hash: hex32(o.content_hash, "content_hash"),
    max_supply: u32(o.max_supply, "max_supply"),
    metadata_uri: text(o.metadata_uri, "metadata_uri"),
  };
}

function approvalOf(a) {
  need(a, "approval");
  return { reviewer: publicKeyHex(a.reviewer, "approval.reviewer"), signature: hex64(a.signature, "approval.signature") };
}

const VALIDATOR_CHANGES = {
  add: (c) => ({
    add: {
      validator: {
        public_key: publicKeyHex(need(c.validator, "validator").public_key, "validator.public_key"),
        power: u64(c.validator.power, "validator.power"),
        name: text(c.validator.name, "validator.name"),
      },
    },
  }),
  remove: (c) => ({ remove: { public_key: publicKeyHex(c.public_key, "public_key") } }),
  set_power: (c) => ({ set_power: { public_key: publicKeyHex(c.public_key, "public_key"), power: u64(c.power, "power") } }),
  rotate_key: (c) => ({
    rotate_key: { old_key: publicKeyHex(c.old_key, "old_key"), new_key: publicKeyHex(c.new_key, "new_key") },
  }),
};

/**
 * Builders of every TxBody, in wire order (0..18). Each takes the fields as
 * docs/rpc.md and docs/protocol.md name them (snake_case); keys may be Key
 * objects, hex or bytes; a governance `nonce` defaults to a random u64. Each
 * returns the externally tagged JSON body, e.g. `{mint: {series_id, edition, holder}}`.
 */
export const bodies = Object.freeze({
  registerIssuer: (o) => ({
    register_issuer: { issuer: publicKeyHex(need(o, "register_issuer").issuer, "issuer"), name: text(o.name, "name"), nonce: nonceOf(o) },
  }),
  setIssuerStatus: (o) => {
    if (need(o, "set_issuer_status").status !== "active" && o.status !== "suspended") {
      throw new KeepsakeError("Malformed", `status: "active" or "suspended", got ${JSON.stringify(o.status)}`);
    }
    return { set_issuer_status: { issuer: publicKeyHex(o.issuer, "issuer"), status: o.status, nonce: nonceOf(o) } };
  },
  registerReviewer: (o) => ({
    register_reviewer: {
      reviewer: publicKeyHex(need(o, "register_reviewer").reviewer, "reviewer"),
      name: text(o.name, "name"),
      nonce: nonceOf(o),
    },
  }),
  removeReviewer: (o) => ({
    remove_reviewer: { reviewer: publicKeyHex(need(o, "remove_reviewer").reviewer, "reviewer"), nonce: nonceOf(o) },
  }),
  /** A series creation: `create_series` without `terms`, `create_series_with_terms` with them (ReviewSubject::into_body). */
  createSeries: (o) => {
    need(o, "create_series");
    const subject = subjectFields(o);
    const approval = approvalOf(o.approval);
    return o.terms == null
      ? { create_series: { ...subject, approval } }
      : { create_series_with_terms: { ...subject, terms: seriesTerms(o.terms), approval } };
  },
  mint: (o) => ({
    mint: {
      series_id: hex32(need(o, "mint").series_id, "series_id"),
      edition: u32(o.edition, "edition"),
      holder: hex32(o.holder, "holder"),
    },
  }),
  revoke: (o) => ({
    revoke: { certificate_id: hex32(need(o, "revoke").certificate_id, "certificate_id"), reason: text(o.reason, "reason") },
  }),
  /** Never valid: every node refuses it with TransferForbidden (4001). Exists so you can see the refusal. */
  transfer: (o) => ({
    transfer: { certificate_id: hex32(need(o, "transfer").certificate_id, "certificate_id"), to: hex32(o.to, "to") },
  }),
  /** `change`: {kind: "add", validator: {public_key, power, name}} | {kind: "remove", public_key} | {kind: "set_power", public_key, power} | {kind: "rotate_key", old_key, new_key}. */
  changeValidators: (o) => {
    const c = need(need(o, "change_validators").change, "change");
    const make = VALIDATOR_CHANGES[c.kind];
    if (!make) throw new KeepsakeError("Malformed", `change.kind: one of ${Object.keys(VALIDATOR_CHANGES).join(", ")}`);
    return { change_validators: { change: make(c), nonce: nonceOf(o) } };
  },
  setGovernance: (o) => ({
    set_governance: {
      governors: list(need(o, "set_governance").governors, "governors", 32).map((g, i) => publicKeyHex(g, `governors[${i}]`)),
      threshold: u32(o.threshold, "threshold"),
      nonce: nonceOf(o),
    },
  }),
  registerObserver: (o) => ({
    register_observer: {
      observer: publicKeyHex(need(o, "register_observer").observer, "observer"),
      name: text(o.name, "name"),
      nonce: nonceOf(o),
    },
  }),
  removeObserver: (o) => ({
    remove_observer: { observer: publicKeyHex(need(o, "remove_observer").observer, "observer"), nonce: nonceOf(o) },
  }),
  /** `licence`: {kind, number, valid_until_ms} (in force while block time <= valid_until_ms). */
  setIssuerLicence: (o) => {
    const l = need(need(o, "set_issuer_licence").licence, "licence");
    return {
      set_issuer_licence: {
        issuer: publicKeyHex(o.issuer, "issuer"),
        licence: {
          kind: text(l.kind, "licence.kind"),
          number: text(l.number, "licence.number"),
          valid_until_ms: u64(l.valid_until_ms, "licence.valid_until_ms"),
        },
        nonce: nonceOf(o),
      },
    };
  },
  withdrawIssuerLicence: (o) => ({
    withdraw_issuer_licence: {
      issuer: publicKeyHex(need(o, "withdraw_issuer_licence").issuer, "issuer"),
      reason: text(o.reason, "reason"),
      nonce: nonceOf(o),
    },
  }),
  setLicencePolicy: (o) => {
    if (typeof need(o, "set_licence_policy").required !== "boolean") {
      throw new KeepsakeError("Malformed", "required: expected a boolean");
    }
    return { set_licence_policy: { required: o.required, nonce: nonceOf(o) } };
  },
  /** Always with terms (even empty ones); createSeries picks the kind from whether terms are given. */
  createSeriesWithTerms: (o) => {
    need(o, "create_series_with_terms");
    return {
      create_series_with_terms: { ...subjectFields(o), terms: seriesTerms(o.terms ?? {}), approval: approvalOf(o.approval) },
    };
  },
  synthesize: (o) => ({
    synthesize: {
      series_id: hex32(need(o, "synthesize").series_id, "series_id"),
      recipe: u32(o.recipe ?? 0, "recipe"),
      inputs: list(o.inputs, "inputs", 1024).map((c, i) => hex32(c, `inputs[${i}]`)),
      edition: u32(o.edition, "edition"),
      holder: hex32(o.holder, "holder"),
    },
  }),
  closeBlindBox: (o) => ({ close_blind_box: { series_id: hex32(need(o, "close_blind_box").series_id, "series_id") } }),
  revealBlindBox: (o) => ({
    reveal_blind_box: {
      series_id: hex32(need(o, "reveal_blind_box").series_id, "series_id"),
      seed: hex32(o.seed, "seed"),
      entropy: hex32(o.entropy, "entropy"),
    },
  }),
});

/** The body's kind ("mint", ...): its one key. */
export function bodyKind(body) {
  const keys = body && typeof body === "object" ? Object.keys(body) : [];
  if (keys.length !== 1) throw new KeepsakeError("Malformed", "a body is an object with exactly one key, its kind");
  return keys[0];
}

/** parseTxBody with the SDK's error type. */
function shapeOf(body) {
  try {
    return parseTxBody(body);
  } catch (e) {
    if (e instanceof VerifyError) throw new KeepsakeError(e.code, e.message);
    throw e;
  }
}

/** encode(TxBody), the canonical bytes (docs/protocol.md §4.1), of a JSON body. */
export function encodeBody(body) {
  return encodeTxBody(shapeOf(body));
}

/** The transaction id of a body on `chainId`: domain_hash("keepsake/tx/v1", chain, encode(body)), hex. */
export async function txId(chainId, body) {
  return toHex(await verifierTxId(chainId, encodeBody(body)));
}

/** What each signer signs: domain_preimage("keepsake/tx/v1", chain, encode(body)). */
export function signingMessage(chainId, body) {
  return domainPreimage(TAG.TX, chainId, encodeBody(body));
}

/**
 * Signs `body` on `chainId` with every key of `signers` (in order), locally.
 * Returns {chainId, kind, id, tx, bodyBytes, bytes}: `tx` is the SignedTx JSON
 * for keepsake_submitTx, `bytes` encode(SignedTx) (checked against
 * `maxBytes`, the genesis' tx_bytes_max: TxTooLarge), `id` the transaction id.
 */
export async function signTx(chainId, body, signers, { maxBytes = TX_BYTES_MAX_DEFAULT } = {}) {
  if (typeof chainId !== "string" || !/^[a-z0-9-]{1,64}$/.test(chainId)) {
    throw new KeepsakeError("Malformed", `chain id ${JSON.stringify(chainId)}: 1 to 64 characters of [a-z0-9-]`);
  }
  const keys = Array.isArray(signers) ? signers : [signers];
  if (keys.length === 0) throw new KeepsakeError("MissingSignature", "a transaction needs at least one signer");
  if (!keys.every((k) => k instanceof Key)) throw new KeepsakeError("Malformed", "signers must be Key objects");
  const shape = shapeOf(body);
  const bodyBytes = encodeTxBody(shape);
  const message = domainPreimage(TAG.TX, chainId, bodyBytes);
  const signatures = keys.map((k) => ({ signer: k.publicKey, signature: toHex(k.sign(message)) }));
  const tx = { body, signatures };
  const bytes = encodeSignedTx(parseSignedTx(tx));
  if (bytes.length > maxBytes) {
    throw new RpcError(
      "TxTooLarge",
      ERROR_CODES.TxTooLarge,
      `the ${shape.kind} transaction is ${bytes.length} bytes encoded, over the chain's limit of ${maxBytes}`,
    );
  }
  return Object.freeze({
    chainId,
    kind: shape.kind,
    id: toHex(await verifierTxId(chainId, bodyBytes)),
    tx,
    bodyBytes,
    bytes,
  });
}

/** The subject a reviewer approves (ReviewSubject), from a series' fields. */
export function reviewSubject(o) {
  return subjectFields(need(o, "subject"));
}

/**
 * A reviewer's approval of a series (docs/protocol.md §4.3): over
 * keepsake/review/v1 and the subject for a plain series, over
 * keepsake/review/v2 and (subject, terms) when `terms` are given.
 * Returns {reviewer, signature} (hex).
 */
export function approveSeries(chainId, series, terms, reviewer) {
  if (!(reviewer instanceof Key)) throw new KeepsakeError("Malformed", "reviewer must be a Key");
  const placeholder = { reviewer: reviewer.publicKey, signature: "00".repeat(64) };
  const shape = shapeOf(bodies.createSeries({ ...series, terms: terms ?? null, approval: placeholder }));
  const message = reviewMessage(chainId, shape, shape.kind === "create_series_with_terms" ? shape.terms : null);
  return { reviewer: reviewer.publicKey, signature: toHex(reviewer.sign(message)) };
}

/**
 * The series-creating body with the reviewer's approval signed locally:
 * `create_series`, or `create_series_with_terms` when `terms` are given
 * (recipes, a blind box).
 */
export function createSeriesBody(chainId, { terms, reviewer, ...series }) {
  const approval = approveSeries(chainId, series, terms, reviewer);
  return bodies.createSeries({ ...series, terms: terms ?? null, approval });
}

/** holder_id(salt, account) (docs/protocol.md §2), hex. */
export async function holderId(salt, account) {
  return toHex(await verifierHolderId(text(salt, "salt"), text(account, "account")));
}

/** series_id(chain, issuer, name), hex. */
export async function seriesId(chainId, issuer, name) {
  return toHex(await verifierSeriesId(chainId, bytes32(publicKeyHex(issuer, "issuer"), "issuer"), text(name, "name")));
}

/** certificate_id(chain, series_id, edition), hex. */
export async function certificateId(chainId, series, edition) {
  return toHex(await verifierCertificateId(chainId, bytes32(series, "series_id"), BigInt(u32(edition, "edition"))));
}

/** A new blind-box seed (32 random bytes, hex): keep it secret until the reveal. */
export function newBlindBoxSeed() {
  return toHex(new Uint8Array(randomBytes(32)));
}

/** seed_commitment(chain, seed) = domain_hash("keepsake/box-seed/v1", chain, seed), hex. */
export async function seedCommitment(chainId, seed) {
  return toHex(await verifierSeedCommitment(chainId, bytes32(seed, "seed")));
}
