// Keepsake certificate verifier for browsers and Node.js 20: no dependencies,
// no build step. Written from docs/protocol.md and crates/types/src
// (certificate.rs, membership.rs, block.rs, merkle.rs, tx.rs, ids.rs, hash.rs,
// keys.rs, genesis.rs, error.rs). Error codes are the stable codes of error.rs, and the
// checks run in the order of Certificate::verify, so the first failure has the
// same code as the Rust verifier's.
//
// Insecure contexts: browsers expose crypto.subtle only in a secure context
// (https or localhost). When the page is opened over plain http on another
// address (e.g. http://192.168.1.20:8645/), crypto.subtle is undefined; then
// SHA-256 and SHA-512 come from the small FIPS 180-4 implementations below
// (sha256js, sha512js) and Ed25519 from the BigInt verifier, with the same
// verdicts, only slower. WebCrypto is used whenever it is present.
//
// Strictness notes (Rust is the reference):
// - Ed25519: the rule is ZIP-215 (docs/protocol.md §3, docs/signatures.md),
//   the rule of the Rust verifier: A and R decompress as curve25519-dalek does
//   (y is the low 255 bits taken mod p, so y >= p is accepted; x = 0 with the
//   sign bit set is accepted; small-order points are accepted), an undecodable
//   key is BadPublicKey and an undecodable R BadSignature; S < l;
//   k = SHA-512(R || A || M) mod l over the bytes as given; accept iff
//   [8]([S]B - R - [k]A) is the identity. WebCrypto (OpenSSL/BoringSSL) does
//   plain RFC 8032: S < l and the cofactorless equation [S]B = R + [k]A. That
//   equation implies the cofactored one, so WebCrypto's "valid" is taken as is
//   (asked only for canonically encoded keys, which every implementation
//   decodes to the same point); its "invalid", a refused key, a missing
//   Ed25519 or a missing crypto.subtle leave the verdict to the small BigInt
//   cofactored check below, which alone decides what ZIP-215 accepts beyond
//   RFC 8032 (small-order and mixed-order points, non-canonical encodings).
//   The BigInt path is not constant time; it only verifies public data.
//   tests/fixtures/ed25519/vectors.json is the conformance test (web/tests).
// - JSON: serde_json + `deny_unknown_fields` semantics are reproduced by a
//   small parser: unknown, duplicate or missing fields, wrong types, integers
//   that are negative, fractional, exponent-form or out of range, lone
//   surrogates and trailing characters are Malformed; integers are BigInt, so
//   u64 values above 2^53 are exact. (serde also accepts a struct written as a
//   JSON array of its fields in order; so does this parser.)
// - Postcard: leaves are decoded strictly (minimal varints that fit their type,
//   valid UTF-8, 0/1 tags, known variants, no trailing bytes), which is what
//   `decode_canonical` (encode(decode(b)) == b) amounts to for these types.

// ---------------------------------------------------------------------------
// Errors

/** An error with the stable code of crates/types/src/error.rs. */
export class VerifyError extends Error {
  constructor(code, message, step) {
    super(message);
    this.name = "VerifyError";
    this.code = code;
    if (step) this.step = step;
  }
}

const fail = (code, message) => {
  throw new VerifyError(code, message);
};
const mismatch = (field, reason) =>
  fail("CertificateMismatch", `certificate field ${field} does not match: ${reason}`);

// ---------------------------------------------------------------------------
// Bytes and hex

const te = new TextEncoder();
const utf8 = (s) => te.encode(s);

/** Lowercase hex of bytes. */
export function toHex(bytes) {
  let s = "";
  for (const b of bytes) s += (b < 16 ? "0" : "") + b.toString(16);
  return s;
}

/** Bytes of an even-length hex string (either case). Throws on bad input. */
export function fromHex(text) {
  if (typeof text !== "string" || text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) {
    throw new Error("invalid hex");
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.substr(2 * i, 2), 16);
  return out;
}

export function concat(...parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function bytesEqual(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const short = (bytes) => {
  const h = toHex(bytes);
  return h.length > 16 ? `${h.slice(0, 8)}…${h.slice(-4)}` : h;
};

// ---------------------------------------------------------------------------
// Hashing (WebCrypto when present, else the FIPS 180-4 code below)

/**
 * WebCrypto's SubtleCrypto, or null. Browsers only expose crypto.subtle in a
 * secure context (https, localhost); on plain http to a LAN address it is
 * undefined and the pure-JS hashes and the BigInt Ed25519 path are used.
 */
function webSubtle() {
  const c = globalThis.crypto;
  return (c && c.subtle) || null;
}

/** Bytes of a BufferSource (what WebCrypto's digest accepts). */
function bufferBytes(data) {
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw new TypeError("expected bytes (an ArrayBuffer or a typed array)");
}

// FIPS 180-4 §4.2.2, §4.2.3, §5.3.3, §5.3.5: the constants are the first 64
// bits of the fractional parts of the cube roots (K) and square roots (H0) of
// the first 80 (8) primes; SHA-256's are the first 32 bits of the same values.
// They are derived here with exact BigInt integer roots, not typed in.
const SHA_CONSTANTS = (() => {
  const primes = [];
  for (let n = 2; primes.length < 80; n++) if (primes.every((p) => n % p !== 0)) primes.push(n);
  // floor(n^(1/k)) by Newton's method from above
  const iroot = (n, k) => {
    const kb = BigInt(k);
    let x = 1n << BigInt(Math.ceil(n.toString(2).length / k));
    for (;;) {
      const y = ((kb - 1n) * x + n / x ** (kb - 1n)) / kb;
      if (y >= x) return x;
      x = y;
    }
  };
  // fractional bits: floor(p^(1/k) * 2^64) mod 2^64, as [high 32, low 32] words
  const frac64 = (p, k) => {
    const v = iroot(BigInt(p) << BigInt(64 * k), k) & 0xffffffffffffffffn;
    return [Number(v >> 32n) | 0, Number(v & 0xffffffffn) | 0];
  };
  const K512 = new Int32Array(160);
  primes.forEach((p, t) => K512.set(frac64(p, 3), 2 * t));
  const H512 = new Int32Array(16);
  primes.slice(0, 8).forEach((p, i) => H512.set(frac64(p, 2), 2 * i));
  const K256 = new Int32Array(64).map((_, t) => K512[2 * t]);
  const H256 = new Int32Array(8).map((_, i) => H512[2 * i]);
  return { K256, H256, K512, H512 };
})();

/** Pads per FIPS 180-4 §5.1: 0x80, zeros, then the bit length big-endian. */
function shaPad(msg, blockSize) {
  const n = msg.length;
  // 9 (SHA-256) or 17 (SHA-512) bytes at least: 0x80 and the 64/128-bit length
  const buf = new Uint8Array(Math.ceil((n + 1 + blockSize / 8) / blockSize) * blockSize);
  buf.set(msg);
  buf[n] = 0x80;
  const dv = new DataView(buf.buffer);
  // bit length n * 8 < 2^56: the low 64 bits suffice, the rest stay zero
  dv.setUint32(buf.length - 8, Math.floor(n / 0x20000000));
  dv.setUint32(buf.length - 4, (n << 3) >>> 0);
  return dv;
}

/** SHA-256 (FIPS 180-4 §6.2) in plain JS; synchronous. */
export function sha256js(data) {
  const { K256: K, H256 } = SHA_CONSTANTS;
  const dv = shaPad(bufferBytes(data), 64);
  const H = Int32Array.from(H256);
  const W = new Int32Array(64);
  const rotr = (x, n) => (x >>> n) | (x << (32 - n));
  for (let off = 0; off < dv.byteLength; off += 64) {
    for (let t = 0; t < 16; t++) W[t] = dv.getInt32(off + 4 * t);
    for (let t = 16; t < 64; t++) {
      const x = W[t - 15];
      const y = W[t - 2];
      const s0 = rotr(x, 7) ^ rotr(x, 18) ^ (x >>> 3);
      const s1 = rotr(y, 17) ^ rotr(y, 19) ^ (y >>> 10);
      W[t] = (s1 + W[t - 7] + s0 + W[t - 16]) | 0;
    }
    let [a, b, c, d, e, f, g, h] = H;
    for (let t = 0; t < 64; t++) {
      const S1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
      const ch = (e & f) ^ (~e & g);
      const T1 = (h + S1 + ch + K[t] + W[t]) | 0;
      const S0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const T2 = (S0 + maj) | 0;
      h = g;
      g = f;
      f = e;
      e = (d + T1) | 0;
      d = c;
      c = b;
      b = a;
      a = (T1 + T2) | 0;
    }
    H[0] += a;
    H[1] += b;
    H[2] += c;
    H[3] += d;
    H[4] += e;
    H[5] += f;
    H[6] += g;
    H[7] += h;
  }
  const out = new Uint8Array(32);
  const ov = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) ov.setInt32(4 * i, H[i]);
  return out;
}

/**
 * SHA-512 (FIPS 180-4 §6.4) in plain JS; synchronous. Each 64-bit word is a
 * pair of 32-bit halves [high, low]; additions carry from the low half (taken
 * unsigned) into the high one.
 */
export function sha512js(data) {
  const { K512: K, H512 } = SHA_CONSTANTS;
  const dv = shaPad(bufferBytes(data), 128);
  const H = Int32Array.from(H512);
  const W = new Int32Array(160);
  const TWO32 = 4294967296;
  for (let off = 0; off < dv.byteLength; off += 128) {
    for (let i = 0; i < 32; i++) W[i] = dv.getInt32(off + 4 * i);
    for (let t = 16; t < 80; t++) {
      // σ0(x) = ROTR^1 ^ ROTR^8 ^ SHR^7 of W[t-15]
      let xh = W[2 * (t - 15)];
      let xl = W[2 * (t - 15) + 1];
      const s0h = ((xh >>> 1) | (xl << 31)) ^ ((xh >>> 8) | (xl << 24)) ^ (xh >>> 7);
      const s0l = ((xl >>> 1) | (xh << 31)) ^ ((xl >>> 8) | (xh << 24)) ^ ((xl >>> 7) | (xh << 25));
      // σ1(x) = ROTR^19 ^ ROTR^61 ^ SHR^6 of W[t-2]
      xh = W[2 * (t - 2)];
      xl = W[2 * (t - 2) + 1];
      const s1h = ((xh >>> 19) | (xl << 13)) ^ ((xl >>> 29) | (xh << 3)) ^ (xh >>> 6);
      const s1l = ((xl >>> 19) | (xh << 13)) ^ ((xh >>> 29) | (xl << 3)) ^ ((xl >>> 6) | (xh << 26));
      const lo = (s1l >>> 0) + (W[2 * (t - 7) + 1] >>> 0) + (s0l >>> 0) + (W[2 * (t - 16) + 1] >>> 0);
      W[2 * t] = s1h + W[2 * (t - 7)] + s0h + W[2 * (t - 16)] + Math.floor(lo / TWO32);
      W[2 * t + 1] = lo;
    }
    let [ah, al, bh, bl, ch, cl, dh, dl, eh, el, fh, fl, gh, gl, hh, hl] = H;
    for (let t = 0; t < 80; t++) {
      // Σ1(e) = ROTR^14 ^ ROTR^18 ^ ROTR^41
      const S1h = ((eh >>> 14) | (el << 18)) ^ ((eh >>> 18) | (el << 14)) ^ ((el >>> 9) | (eh << 23));
      const S1l = ((el >>> 14) | (eh << 18)) ^ ((el >>> 18) | (eh << 14)) ^ ((eh >>> 9) | (el << 23));
      const chh = (eh & fh) ^ (~eh & gh);
      const chl = (el & fl) ^ (~el & gl);
      const t1lo = (hl >>> 0) + (S1l >>> 0) + (chl >>> 0) + (K[2 * t + 1] >>> 0) + (W[2 * t + 1] >>> 0);
      const T1h = (hh + S1h + chh + K[2 * t] + W[2 * t] + Math.floor(t1lo / TWO32)) | 0;
      const T1l = t1lo | 0;
      // Σ0(a) = ROTR^28 ^ ROTR^34 ^ ROTR^39
      const S0h = ((ah >>> 28) | (al << 4)) ^ ((al >>> 2) | (ah << 30)) ^ ((al >>> 7) | (ah << 25));
      const S0l = ((al >>> 28) | (ah << 4)) ^ ((ah >>> 2) | (al << 30)) ^ ((ah >>> 7) | (al << 25));
      const majh = (ah & bh) ^ (ah & ch) ^ (bh & ch);
      const majl = (al & bl) ^ (al & cl) ^ (bl & cl);
      const t2lo = (S0l >>> 0) + (majl >>> 0);
      const T2h = (S0h + majh + Math.floor(t2lo / TWO32)) | 0;
      const T2l = t2lo | 0;
      hh = gh;
      hl = gl;
      gh = fh;
      gl = fl;
      fh = eh;
      fl = el;
      const elo = (dl >>> 0) + (T1l >>> 0);
      eh = (dh + T1h + Math.floor(elo / TWO32)) | 0;
      el = elo | 0;
      dh = ch;
      dl = cl;
      ch = bh;
      cl = bl;
      bh = ah;
      bl = al;
      const alo = (T1l >>> 0) + (T2l >>> 0);
      ah = (T1h + T2h + Math.floor(alo / TWO32)) | 0;
      al = alo | 0;
    }
    const v = [ah, al, bh, bl, ch, cl, dh, dl, eh, el, fh, fl, gh, gl, hh, hl];
    for (let i = 0; i < 16; i += 2) {
      const lo = (H[i + 1] >>> 0) + (v[i + 1] >>> 0);
      H[i] = H[i] + v[i] + Math.floor(lo / TWO32);
      H[i + 1] = lo;
    }
  }
  const out = new Uint8Array(64);
  const ov = new DataView(out.buffer);
  for (let i = 0; i < 16; i++) ov.setInt32(4 * i, H[i]);
  return out;
}

/** SHA-256 of bytes: WebCrypto's digest when available, else sha256js. */
export async function sha256(bytes) {
  const s = webSubtle();
  if (s && typeof s.digest === "function") return new Uint8Array(await s.digest("SHA-256", bytes));
  return sha256js(bytes);
}

/** SHA-512 of bytes: WebCrypto's digest when available, else sha512js. */
async function sha512(bytes) {
  const s = webSubtle();
  if (s && typeof s.digest === "function") return new Uint8Array(await s.digest("SHA-512", bytes));
  return sha512js(bytes);
}

/** Domain tags (hash.rs `tag`). */
export const TAG = Object.freeze({
  TX: "keepsake/tx/v1",
  HEADER: "keepsake/header/v1",
  VOTE: "keepsake/vote/v1",
  PROPOSAL: "keepsake/proposal/v1",
  REVIEW: "keepsake/review/v1",
  REVIEW_TERMS: "keepsake/review/v2",
  BOX_SEED: "keepsake/box-seed/v1",
  BOX_DRAW: "keepsake/box-draw/v1",
  SERIES_ID: "keepsake/series-id/v1",
  CERTIFICATE_ID: "keepsake/certificate-id/v1",
  HOLDER: "keepsake/holder/v1",
  GENESIS: "keepsake/genesis/v1",
  VALIDATORS: "keepsake/validators/v1",
  STATE: "keepsake/state/v1",
});

/** u8(len(tag)) || tag || u8(len(chain_id)) || chain_id || bytes */
export function domainPreimage(tag, chainId, bytes) {
  const t = utf8(tag);
  const c = utf8(chainId);
  if (t.length > 255 || c.length > 255) throw new Error("framed field over 255 bytes");
  return concat([t.length], t, [c.length], c, bytes);
}

export async function domainHash(tag, chainId, bytes) {
  return sha256(domainPreimage(tag, chainId, bytes));
}

// ---------------------------------------------------------------------------
// Postcard encoding (the subset of docs/protocol.md §1)

/** Unsigned LEB128, minimal. Accepts a number or a BigInt. */
export function varint(n) {
  let v = BigInt(n);
  if (v < 0n) throw new Error("negative varint");
  const out = [];
  for (;;) {
    const low = Number(v & 0x7fn);
    v >>= 7n;
    if (v === 0n) {
      out.push(low);
      return Uint8Array.from(out);
    }
    out.push(low | 0x80);
  }
}

/** varint(byte length) || UTF-8 bytes */
export function pstr(s) {
  const b = utf8(s);
  return concat(varint(b.length), b);
}

/** encode(Header): the 11 fields in order (block.rs). */
export function encodeHeader(h) {
  return concat(
    pstr(h.chain_id),
    varint(h.height),
    h.prev_hash,
    varint(h.time_ms),
    h.proposer,
    varint(h.tx_count),
    h.tx_root,
    varint(h.log_size),
    h.log_root,
    h.validators_hash,
    h.state_root,
  );
}

/** encode(VoteData{height, round, kind, block_hash}); kind 0 prevote, 1 precommit; hash null = nil. */
export function encodeVoteData(height, round, kind, blockHash) {
  return concat(
    varint(height),
    varint(round),
    [kind],
    blockHash ? concat([1], blockHash) : Uint8Array.of(0),
  );
}

/** encode(Vec<Validator>) */
export function encodeValidators(validators) {
  return concat(
    varint(validators.length),
    ...validators.map((v) => concat(v.public_key, varint(v.power), pstr(v.name))),
  );
}

/** encode(Genesis) (genesis.rs). */
export function encodeGenesis(g) {
  return concat(
    pstr(g.chain_id),
    varint(g.genesis_time_ms),
    encodeValidators(g.validators),
    varint(g.governors.length),
    ...g.governors,
    varint(g.governance_threshold),
    varint(g.params.max_supply_limit),
    varint(g.params.block_txs_max),
    varint(g.params.tx_bytes_max),
  );
}

/** encode(ReviewSubject{issuer, name, content_hash, max_supply, metadata_uri}) */
export function encodeReviewSubject(s) {
  return concat(s.issuer, pstr(s.name), s.content_hash, varint(s.max_supply), pstr(s.metadata_uri));
}

/** encode(SeriesTerms{recipes, blind_box}) (life.rs). */
export function encodeSeriesTerms(t) {
  const recipe = (rc) =>
    concat(varint(rc.inputs.length), ...rc.inputs.map((i) => concat(i.series_id, varint(i.count))));
  const box = t.blind_box
    ? concat(
        [1],
        varint(t.blind_box.variants.length),
        ...t.blind_box.variants.map((v) => concat(pstr(v.name), v.content_hash, varint(v.count))),
        t.blind_box.seed_commitment,
      )
    : Uint8Array.of(0);
  return concat(varint(t.recipes.length), ...t.recipes.map(recipe), box);
}

/**
 * What a series' reviewer signs: domain_preimage("keepsake/review/v1", chain,
 * encode(subject)) for a plain series, and domain_preimage("keepsake/review/v2",
 * chain, encode((subject, terms))) for one created with terms (tx.rs).
 */
export function reviewMessage(chainId, subject, terms) {
  return terms
    ? domainPreimage(TAG.REVIEW_TERMS, chainId, concat(encodeReviewSubject(subject), encodeSeriesTerms(terms)))
    : domainPreimage(TAG.REVIEW, chainId, encodeReviewSubject(subject));
}

const TX_KINDS = [
  "register_issuer",
  "set_issuer_status",
  "register_reviewer",
  "remove_reviewer",
  "create_series",
  "mint",
  "revoke",
  "transfer",
  "change_validators",
  "set_governance",
  "register_observer",
  "remove_observer",
  "set_issuer_licence",
  "withdraw_issuer_licence",
  "set_licence_policy",
  "create_series_with_terms",
  "synthesize",
  "close_blind_box",
  "reveal_blind_box",
];

/** ValidatorChange variants, in declaration order (membership.rs). */
const CHANGE_KINDS = ["add", "remove", "set_power", "rotate_key"];

/** encode(ValidatorChange) from {kind, ...fields} (the shape readValidatorChange returns). */
export function encodeValidatorChange(c) {
  const index = CHANGE_KINDS.indexOf(c.kind);
  if (index < 0) throw new Error(`unknown validator change ${c.kind}`);
  const head = varint(index);
  switch (c.kind) {
    case "add":
      return concat(head, c.validator.public_key, varint(c.validator.power), pstr(c.validator.name));
    case "remove":
      return concat(head, c.public_key);
    case "set_power":
      return concat(head, c.public_key, varint(c.power));
    case "rotate_key":
      return concat(head, c.old_key, c.new_key);
  }
  throw new Error("unreachable");
}

/** encode(TxBody) from {kind, ...fields} (the shape decodeTxBody returns). */
export function encodeTxBody(b) {
  const index = TX_KINDS.indexOf(b.kind);
  if (index < 0) throw new Error(`unknown transaction kind ${b.kind}`);
  const head = varint(index);
  switch (b.kind) {
    case "register_issuer":
      return concat(head, b.issuer, pstr(b.name), varint(b.nonce));
    case "set_issuer_status":
      return concat(head, b.issuer, varint(b.status === "suspended" ? 1 : 0), varint(b.nonce));
    case "register_reviewer":
      return concat(head, b.reviewer, pstr(b.name), varint(b.nonce));
    case "remove_reviewer":
      return concat(head, b.reviewer, varint(b.nonce));
    case "create_series":
      return concat(
        head,
        encodeReviewSubject(b),
        b.approval.reviewer,
        b.approval.signature,
      );
    case "mint":
      return concat(head, b.series_id, varint(b.edition), b.holder);
    case "revoke":
      return concat(head, b.certificate_id, pstr(b.reason));
    case "transfer":
      return concat(head, b.certificate_id, b.to);
    case "change_validators":
      return concat(head, encodeValidatorChange(b.change), varint(b.nonce));
    case "set_governance":
      return concat(head, varint(b.governors.length), ...b.governors, varint(b.threshold), varint(b.nonce));
    case "register_observer":
      return concat(head, b.observer, pstr(b.name), varint(b.nonce));
    case "remove_observer":
      return concat(head, b.observer, varint(b.nonce));
    case "set_issuer_licence":
      return concat(
        head,
        b.issuer,
        pstr(b.licence.kind),
        pstr(b.licence.number),
        varint(b.licence.valid_until_ms),
        varint(b.nonce),
      );
    case "withdraw_issuer_licence":
      return concat(head, b.issuer, pstr(b.reason), varint(b.nonce));
    case "set_licence_policy":
      return concat(head, [b.required ? 1 : 0], varint(b.nonce));
    case "create_series_with_terms":
      return concat(
        head,
        encodeReviewSubject(b),
        encodeSeriesTerms(b.terms),
        b.approval.reviewer,
        b.approval.signature,
      );
    case "synthesize":
      return concat(
        head,
        b.series_id,
        varint(b.recipe),
        varint(b.inputs.length),
        ...b.inputs,
        varint(b.edition),
        b.holder,
      );
    case "close_blind_box":
      return concat(head, b.series_id);
    case "reveal_blind_box":
      return concat(head, b.series_id, b.seed, b.entropy);
  }
  throw new Error("unreachable");
}

/** encode(SignedTx) */
export function encodeSignedTx(tx) {
  return concat(
    encodeTxBody(tx.body),
    varint(tx.signatures.length),
    ...tx.signatures.map((s) => concat(s.signer, s.signature)),
  );
}

/** encode(LogLeaf{height, time_ms, tx}) */
export function encodeLogLeaf(leaf) {
  return concat(varint(leaf.height), varint(leaf.time_ms), encodeSignedTx(leaf.tx));
}

// ---------------------------------------------------------------------------
// Strict postcard decoding (decode_canonical semantics)

const utf8Strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

class Reader {
  constructor(bytes, what) {
    this.d = bytes;
    this.i = 0;
    this.what = what;
  }
  bad(reason) {
    fail("Malformed", `malformed ${this.what}: ${reason}`);
  }
  raw(n) {
    if (n > BigInt(this.d.length - this.i)) this.bad("unexpected end of input");
    const k = Number(n);
    const out = this.d.subarray(this.i, this.i + k);
    this.i += k;
    return out;
  }
  /** A minimal varint of at most `bits` bits (postcard: 5 bytes for u32, 10 for u64). */
  uint(bits) {
    const maxBytes = Math.ceil(bits / 7);
    let n = 0n;
    for (let k = 0; k < maxBytes; k++) {
      if (this.i >= this.d.length) this.bad("unexpected end of input");
      const b = this.d[this.i++];
      n |= BigInt(b & 0x7f) << BigInt(7 * k);
      if ((b & 0x80) === 0) {
        if (k > 0 && b === 0) this.bad("not the canonical encoding (over-long varint)");
        if (n >> BigInt(bits) !== 0n) this.bad("varint out of range");
        return n;
      }
    }
    this.bad("varint too long");
  }
  u32() {
    return this.uint(32);
  }
  u64() {
    return this.uint(64);
  }
  text() {
    const b = this.raw(this.u64());
    try {
      return utf8Strict.decode(b);
    } catch {
      this.bad("invalid UTF-8");
    }
  }
  b32() {
    return this.raw(32n);
  }
  b64() {
    return this.raw(64n);
  }
  /** A bool: exactly 0 or 1. */
  bool() {
    const b = this.raw(1n)[0];
    if (b > 1) this.bad(`invalid bool ${b}`);
    return b === 1;
  }
  /** A Vec's length, no larger than the bytes left could hold at `min` bytes an item. */
  len(min = 1) {
    const n = this.u64();
    if (n * BigInt(min) > BigInt(this.d.length - this.i)) this.bad("unexpected end of input");
    return Number(n);
  }
}

/** SeriesTerms (life.rs): recipes, then the optional blind box. */
function readSeriesTerms(r) {
  const recipes = [];
  for (let k = r.len(1); k > 0; k--) {
    const inputs = [];
    for (let n = r.len(33); n > 0; n--) inputs.push({ series_id: r.b32(), count: r.u32() });
    recipes.push({ inputs });
  }
  let blind_box = null;
  const tag = r.raw(1n)[0];
  if (tag === 1) {
    const variants = [];
    for (let n = r.len(34); n > 0; n--) variants.push({ name: r.text(), content_hash: r.b32(), count: r.u32() });
    blind_box = { variants, seed_commitment: r.b32() };
  } else if (tag !== 0) {
    r.bad(`invalid Option tag ${tag}`);
  }
  return { recipes, blind_box };
}

function readTxBody(r) {
  const v = r.u32();
  switch (Number(v)) {
    case 0:
      return { kind: "register_issuer", issuer: r.b32(), name: r.text(), nonce: r.u64() };
    case 1: {
      const issuer = r.b32();
      const s = r.u32();
      if (s > 1n) r.bad(`unknown IssuerStatus variant ${s}`);
      return { kind: "set_issuer_status", issuer, status: s === 0n ? "active" : "suspended", nonce: r.u64() };
    }
    case 2:
      return { kind: "register_reviewer", reviewer: r.b32(), name: r.text(), nonce: r.u64() };
    case 3:
      return { kind: "remove_reviewer", reviewer: r.b32(), nonce: r.u64() };
    case 4:
      return {
        kind: "create_series",
        issuer: r.b32(),
        name: r.text(),
        content_hash: r.b32(),
        max_supply: r.u32(),
        metadata_uri: r.text(),
        approval: { reviewer: r.b32(), signature: r.b64() },
      };
    case 5:
      return { kind: "mint", series_id: r.b32(), edition: r.u32(), holder: r.b32() };
    case 6:
      return { kind: "revoke", certificate_id: r.b32(), reason: r.text() };
    case 7:
      return { kind: "transfer", certificate_id: r.b32(), to: r.b32() };
    case 8:
      return { kind: "change_validators", change: readValidatorChange(r), nonce: r.u64() };
    case 9: {
      const n = r.u64();
      const governors = [];
      for (let k = 0n; k < n; k++) governors.push(r.b32()); // each takes 32 bytes: ends with the input
      return { kind: "set_governance", governors, threshold: r.u32(), nonce: r.u64() };
    }
    case 10:
      return { kind: "register_observer", observer: r.b32(), name: r.text(), nonce: r.u64() };
    case 11:
      return { kind: "remove_observer", observer: r.b32(), nonce: r.u64() };
    case 12:
      return {
        kind: "set_issuer_licence",
        issuer: r.b32(),
        licence: { kind: r.text(), number: r.text(), valid_until_ms: r.u64() },
        nonce: r.u64(),
      };
    case 13:
      return { kind: "withdraw_issuer_licence", issuer: r.b32(), reason: r.text(), nonce: r.u64() };
    case 14:
      return { kind: "set_licence_policy", required: r.bool(), nonce: r.u64() };
    case 15:
      return {
        kind: "create_series_with_terms",
        issuer: r.b32(),
        name: r.text(),
        content_hash: r.b32(),
        max_supply: r.u32(),
        metadata_uri: r.text(),
        terms: readSeriesTerms(r),
        approval: { reviewer: r.b32(), signature: r.b64() },
      };
    case 16: {
      const series_id = r.b32();
      const recipe = r.u32();
      const inputs = [];
      for (let n = r.len(32); n > 0; n--) inputs.push(r.b32());
      return { kind: "synthesize", series_id, recipe, inputs, edition: r.u32(), holder: r.b32() };
    }
    case 17:
      return { kind: "close_blind_box", series_id: r.b32() };
    case 18:
      return { kind: "reveal_blind_box", series_id: r.b32(), seed: r.b32(), entropy: r.b32() };
  }
  r.bad(`unknown TxBody variant ${v}`);
}

/** ValidatorChange: variant index (varint), then the variant's fields. */
function readValidatorChange(r) {
  const v = r.u32();
  switch (Number(v)) {
    case 0:
      return { kind: "add", validator: { public_key: r.b32(), power: r.u64(), name: r.text() } };
    case 1:
      return { kind: "remove", public_key: r.b32() };
    case 2:
      return { kind: "set_power", public_key: r.b32(), power: r.u64() };
    case 3:
      return { kind: "rotate_key", old_key: r.b32(), new_key: r.b32() };
  }
  r.bad(`unknown ValidatorChange variant ${v}`);
}

function readSignedTx(r) {
  const start = r.i;
  const body = readTxBody(r);
  const bodyBytes = r.d.slice(start, r.i);
  const n = r.u64();
  const signatures = [];
  for (let k = 0n; k < n; k++) signatures.push({ signer: r.b32(), signature: r.b64() });
  return { body, signatures, bodyBytes };
}

/**
 * decode_canonical::<LogLeaf>: size bound first (TooLarge), then strict
 * decoding (Malformed). `tx.bodyBytes` is encode(body), sliced from the leaf.
 */
export function decodeLogLeaf(bytes, maxLen, what = "log leaf") {
  if (bytes.length > maxLen) {
    fail("TooLarge", `${what} is ${bytes.length} bytes, over the limit of ${maxLen}`);
  }
  const r = new Reader(bytes, what);
  const height = r.u64();
  const time_ms = r.u64();
  const tx = readSignedTx(r);
  if (r.i !== bytes.length) r.bad(`${bytes.length - r.i} trailing bytes`);
  return { height, time_ms, tx };
}

/** Strict decoding of encode(SignedTx) (for tools; same rules as leaves). */
export function decodeSignedTx(bytes, maxLen, what = "transaction") {
  if (bytes.length > maxLen) {
    fail("TooLarge", `${what} is ${bytes.length} bytes, over the limit of ${maxLen}`);
  }
  const r = new Reader(bytes, what);
  const tx = readSignedTx(r);
  if (r.i !== bytes.length) r.bad(`${bytes.length - r.i} trailing bytes`);
  return tx;
}

// ---------------------------------------------------------------------------
// Ids (ids.rs)

export const txId = (chainId, bodyBytes) => domainHash(TAG.TX, chainId, bodyBytes);
export const seriesId = (chainId, issuer, name) =>
  domainHash(TAG.SERIES_ID, chainId, concat(issuer, pstr(name)));
export const certificateId = (chainId, series, edition) =>
  domainHash(TAG.CERTIFICATE_ID, chainId, concat(series, varint(edition)));
export const holderId = (salt, account) => domainHash(TAG.HOLDER, "", concat(pstr(salt), pstr(account)));
export const seedCommitment = (chainId, seed) => domainHash(TAG.BOX_SEED, chainId, seed);
export const blockHash = (header) => domainHash(TAG.HEADER, header.chain_id, encodeHeader(header));
export const validatorsHash = (chainId, validators) =>
  domainHash(TAG.VALIDATORS, chainId, encodeValidators(validators));
export const genesisHash = (g) => domainHash(TAG.GENESIS, g.chain_id, encodeGenesis(g));

/** Largest blind box, in editions (life.rs BLIND_BOX_EDITIONS_MAX). */
export const BLIND_BOX_EDITIONS_MAX = 10000;

/**
 * The draw of a revealed blind box (life.rs draw_variants, docs/protocol.md
 * "The blind-box draw"): for each edition e (1-based), the index of its
 * variant at position e - 1; null when the counts sum over
 * BLIND_BOX_EDITIONS_MAX. `variants` are { count } objects (u32 as BigInt or number).
 */
export async function drawVariants(chainId, seriesIdBytes, seed, entropy, variants) {
  const total = variants.reduce((a, v) => a + BigInt(v.count), 0n);
  if (total > BigInt(BLIND_BOX_EDITIONS_MAX)) return null;
  const deck = [];
  variants.forEach((v, index) => {
    for (let k = 0n; k < BigInt(v.count); k++) deck.push(index);
  });
  const prefix = concat(seriesIdBytes, seed, entropy);
  let block = 0n;
  let words = [];
  const nextWord = async () => {
    if (words.length === 0) {
      const h = await domainHash(TAG.BOX_DRAW, chainId, concat(prefix, varint(block)));
      block += 1n;
      const view = new DataView(h.buffer, h.byteOffset, 32);
      words = [0, 8, 16, 24].map((o) => view.getBigUint64(o, false));
    }
    return words.shift();
  };
  const TWO64 = 1n << 64n;
  for (let i = deck.length - 1; i >= 1; i--) {
    const bound = BigInt(i + 1);
    const rem = TWO64 % bound; // words at or above 2^64 - rem would bias the draw
    let w;
    do w = await nextWord();
    while (rem !== 0n && w >= TWO64 - rem);
    const j = Number(w % bound);
    [deck[i], deck[j]] = [deck[j], deck[i]];
  }
  return deck;
}

/** The `format` of a holder-opening file (what a holder keeps to prove a certificate is theirs). */
export const HOLDER_OPENING_FORMAT = "keepsake-holder-opening/v1";

/**
 * Parses a holder-opening file { format, certificate_id, holder, salt, account }
 * (text or object). Throws VerifyError Malformed on any other shape.
 */
export function parseHolderOpening(input) {
  let o;
  try {
    o = typeof input === "string" ? JSON.parse(input) : input;
  } catch (e) {
    fail("Malformed", `malformed holder opening: ${e.message}`);
  }
  if (!o || typeof o !== "object" || Array.isArray(o)) fail("Malformed", "malformed holder opening: not an object");
  const known = ["format", "certificate_id", "holder", "salt", "account"];
  for (const k of Object.keys(o)) {
    if (!known.includes(k)) fail("Malformed", `malformed holder opening: unknown field \`${k}\``);
  }
  if (o.format !== HOLDER_OPENING_FORMAT) {
    fail("Malformed", `malformed holder opening: format ${JSON.stringify(o.format)}, expected ${JSON.stringify(HOLDER_OPENING_FORMAT)}`);
  }
  for (const k of ["salt", "account"]) {
    if (typeof o[k] !== "string") fail("Malformed", `malformed holder opening: \`${k}\` must be a string`);
  }
  const out = { salt: o.salt, account: o.account, certificate_id: null, holder: null };
  for (const k of ["certificate_id", "holder"]) {
    if (o[k] === undefined || o[k] === null) continue;
    if (typeof o[k] !== "string" || !/^(0x)?[0-9a-fA-F]{64}$/.test(o[k])) {
      fail("Malformed", `malformed holder opening: \`${k}\` must be 64 hex digits`);
    }
    out[k] = fromHex(o[k].replace(/^0x/, ""));
  }
  return out;
}

/**
 * "Is this mine?": whether holder_id(salt, account) is the holder of a
 * verified certificate (the result of verifyCertificate). Computed locally;
 * nothing is sent anywhere. Returns { mine, holder, expected } (hex), or
 * throws VerifyError CertificateMismatch when the certificate was not verified.
 */
export async function checkHolder(verifiedCertificateResult, salt, account) {
  const cert = verifiedCertificateResult;
  if (!cert || !cert.ok || !cert.record) fail("CertificateMismatch", "the certificate was not verified: verify it first");
  if (typeof salt !== "string" || typeof account !== "string") fail("Malformed", "salt and account must be text");
  const holder = toHex(await holderId(salt, account));
  return { mine: holder === cert.record.holder, holder, expected: cert.record.holder };
}

// ---------------------------------------------------------------------------
// RFC 9162 Merkle log (merkle.rs)

export const PROOF_HASHES_MAX = 66;

export const leafHash = (leaf) => sha256(concat([0], leaf));
export const nodeHash = (left, right) => sha256(concat([1], left, right));

const isPow2 = (n) => n > 0n && (n & (n - 1n)) === 0n;

/** RFC 9162 §2.1.3.2. Throws ProofMismatch. Sizes and indices are BigInt. */
export async function verifyInclusion(lh, index, size, proof, root) {
  const bad = (why) => fail("ProofMismatch", `log proof invalid: ${why}`);
  index = BigInt(index);
  size = BigInt(size);
  if (index >= size) bad("leaf index is not below the tree size");
  if (proof.length > PROOF_HASHES_MAX) bad("inclusion proof is too long");
  let fn = index;
  let sn = size - 1n;
  let r = lh;
  for (const p of proof) {
    if (sn === 0n) bad("inclusion proof is longer than the tree is deep");
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(p, r);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) bad("inclusion proof is shorter than the tree is deep");
  if (!bytesEqual(r, root)) bad("inclusion proof does not lead to the log root");
}

/** RFC 9162 §2.1.4.2. Throws ProofMismatch (callers re-code it). */
export async function verifyConsistency(oldSize, newSize, oldRoot, newRoot, proof) {
  const bad = (why) => fail("ProofMismatch", `log proof invalid: ${why}`);
  oldSize = BigInt(oldSize);
  newSize = BigInt(newSize);
  if (oldSize > newSize) bad("old tree is larger than the new tree");
  if (proof.length > PROOF_HASHES_MAX) bad("consistency proof is too long");
  if (oldSize === newSize) {
    if (proof.length !== 0) bad("consistency proof between equal sizes must be empty");
    if (!bytesEqual(oldRoot, newRoot)) bad("equal sizes but different roots");
    return;
  }
  if (oldSize === 0n) {
    if (proof.length !== 0) bad("consistency proof from the empty tree must be empty");
    return;
  }
  if (proof.length === 0) bad("consistency proof is empty");
  const path = isPow2(oldSize) ? [oldRoot, ...proof] : [...proof];
  let fn = oldSize - 1n;
  let sn = newSize - 1n;
  while ((fn & 1n) === 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0n) bad("consistency proof is longer than needed");
    if ((fn & 1n) === 1n || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) bad("consistency proof is shorter than needed");
  if (!bytesEqual(fr, oldRoot)) bad("consistency proof does not reproduce the old root");
  if (!bytesEqual(sr, newRoot)) bad("consistency proof does not reproduce the new root");
}

// ---------------------------------------------------------------------------
// Ed25519 (curve arithmetic for the ZIP-215 check and the key checks)

const P = (1n << 255n) - 19n;
const L = (1n << 252n) + 27742317777372353535851937790883648493n;
const md = (a) => {
  const r = a % P;
  return r < 0n ? r + P : r;
};
function powMod(b, e) {
  let r = 1n;
  b = md(b);
  while (e > 0n) {
    if (e & 1n) r = (r * b) % P;
    b = (b * b) % P;
    e >>= 1n;
  }
  return r;
}
const inv = (a) => powMod(a, P - 2n);
const D = md(-121665n * inv(121666n));
const D2 = md(2n * D);
const SQRT_M1 = powMod(2n, (P - 1n) / 4n);

const bytesToIntLE = (b) => {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]);
  return n;
};
const intToBytesLE = (n, len) => {
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
};

/**
 * Point decompression as curve25519-dalek does it: y is the low 255 bits
 * (taken mod p), x the root of the right parity (x = 0 with the sign bit set is
 * accepted). Returns an extended point [X, Y, Z, T] or null.
 */
export function decompressPoint(bytes) {
  const yRaw = bytesToIntLE(bytes) & ((1n << 255n) - 1n);
  const y = md(yRaw);
  const sign = BigInt(bytes[31] >> 7);
  const u = md(y * y - 1n);
  const v = md(D * y * y + 1n);
  // x = u v^3 (u v^7)^((p-5)/8)
  const v3 = (v * v * v) % P;
  const v7 = (v3 * v3 * v) % P;
  let x = (((u * v3) % P) * powMod(u * v7, (P - 5n) / 8n)) % P;
  const vxx = (v * x * x) % P;
  if (vxx !== u) {
    if (vxx === md(-u)) x = (x * SQRT_M1) % P;
    else return null;
  }
  if ((x & 1n) !== sign) x = md(-x);
  return [x, y, 1n, (x * y) % P];
}

function pointAdd(p1, p2) {
  const [X1, Y1, Z1, T1] = p1;
  const [X2, Y2, Z2, T2] = p2;
  const A = md((Y1 - X1) * (Y2 - X2));
  const B = md((Y1 + X1) * (Y2 + X2));
  const C = md(T1 * D2 * T2);
  const Dd = md(Z1 * 2n * Z2);
  const E = B - A;
  const F = Dd - C;
  const G = Dd + C;
  const H = B + A;
  return [md(E * F), md(G * H), md(F * G), md(E * H)];
}
const IDENTITY = [0n, 1n, 1n, 0n];
const isIdentity = (p) => md(p[0]) === 0n && md(p[1] - p[2]) === 0n;
const negate = (p) => [md(-p[0]), p[1], p[2], md(-p[3])];

function scalarMult(k, p) {
  let r = IDENTITY;
  let q = p;
  while (k > 0n) {
    if (k & 1n) r = pointAdd(r, q);
    q = pointAdd(q, q);
    k >>= 1n;
  }
  return r;
}

/** [8]P == identity */
export function isSmallOrder(p) {
  let q = p;
  for (let i = 0; i < 3; i++) q = pointAdd(q, q);
  return isIdentity(q);
}

const BASE = (() => {
  const y = md(4n * inv(5n));
  return decompressPoint(intToBytesLE(y, 32));
})();

/** PublicKey::is_valid_point: decompresses and is not of small order. */
export function isValidPoint(key) {
  const p = decompressPoint(key);
  return p !== null && !isSmallOrder(p);
}

/** A canonical encoding: y < p, and no sign bit on x = 0 (what every decoder reads alike). */
const isCanonicalPoint = (bytes, p) =>
  (bytesToIntLE(bytes) & ((1n << 255n) - 1n)) < P && !(p[0] === 0n && bytes[31] >> 7 === 1);

/** ZIP-215 equation in BigInt: [8]([S]B - R - [k]A) == identity, k = SHA-512(R || A || M) mod l. */
async function cofactoredHolds(A, R, keyBytes, msg, sig) {
  const k = bytesToIntLE(await sha512(concat(sig.subarray(0, 32), keyBytes, msg))) % L;
  const s = bytesToIntLE(sig.subarray(32));
  const q = pointAdd(pointAdd(scalarMult(s, BASE), negate(R)), scalarMult(k, negate(A)));
  return isSmallOrder(q);
}

// RFC 8032 §7.1 TEST 1 (empty message): probes WebCrypto Ed25519 once.
const PROBE_KEY = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
const PROBE_SIG =
  "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";
let webEd25519 = null; // a Promise<boolean> once probed (only while crypto.subtle exists)

/** crypto.subtle if it has what Ed25519 verification needs, else null. */
function webSubtleEd25519() {
  const s = webSubtle();
  return s && typeof s.importKey === "function" && typeof s.verify === "function" ? s : null;
}

async function probeWebEd25519(s) {
  try {
    const key = await s.importKey("raw", fromHex(PROBE_KEY), { name: "Ed25519" }, false, ["verify"]);
    return (await s.verify({ name: "Ed25519" }, key, fromHex(PROBE_SIG), new Uint8Array(0))) === true;
  } catch {
    return false;
  }
}

/**
 * Whether WebCrypto Ed25519 is asked first (its "valid" is final, else BigInt):
 * false without crypto.subtle (insecure context) or when it lacks Ed25519.
 */
export function webCryptoEd25519() {
  if (webEd25519 !== null) return webEd25519;
  const s = webSubtleEd25519();
  if (!s) return Promise.resolve(false); // not cached: only a missing crypto.subtle
  webEd25519 = probeWebEd25519(s);
  return webEd25519;
}

/** Forces the BigInt path (false) or re-enables auto-detection (undefined); for tests. */
export function _setWebCryptoEd25519(enabled) {
  webEd25519 = enabled === false ? Promise.resolve(false) : null;
}

async function webcryptoVerify(keyBytes, msg, sig) {
  if (!(await webCryptoEd25519())) return null;
  const s = webSubtleEd25519();
  if (!s) return null; // crypto.subtle went away after the probe: BigInt
  try {
    const key = await s.importKey("raw", keyBytes, { name: "Ed25519" }, false, ["verify"]);
    return await s.verify({ name: "Ed25519" }, key, sig, msg);
  } catch {
    return null; // this key refused by WebCrypto: the BigInt path decides
  }
}

/**
 * PublicKey::verify_message: the ZIP-215 rule (docs/protocol.md §3). Throws
 * BadPublicKey (the key does not decompress) or BadSignature; `what` names
 * the signed object.
 */
export async function verifySignature(keyBytes, msg, sig, what = "message") {
  const A = keyBytes.length === 32 ? decompressPoint(keyBytes) : null;
  if (!A) fail("BadPublicKey", `invalid ed25519 public key ${toHex(keyBytes)}`);
  const badSig = () => fail("BadSignature", `bad signature by ${toHex(keyBytes)} on ${what}`);
  if (sig.length !== 64) badSig();
  if (bytesToIntLE(sig.subarray(32)) >= L) badSig();
  const R = decompressPoint(sig.subarray(0, 32));
  if (!R) badSig();
  // WebCrypto's "valid" means S < l and [S]B = R + [k]A, hence [8]([S]B - R - [k]A) = O.
  if (isCanonicalPoint(keyBytes, A) && (await webcryptoVerify(keyBytes, msg, sig)) === true) return;
  if (!(await cofactoredHolds(A, R, keyBytes, msg, sig))) badSig();
}

// ---------------------------------------------------------------------------
// Strict JSON (serde_json + deny_unknown_fields)

const MAX_DEPTH = 128;

class JsonReader {
  constructor(text) {
    this.s = text;
    this.i = 0;
    this.depth = 0;
  }
  err(msg) {
    // Line/column like serde_json, for humans.
    const before = this.s.slice(0, this.i);
    const line = before.split("\n").length;
    const col = this.i - before.lastIndexOf("\n");
    throw new JsonError(`${msg} at line ${line} column ${col}`);
  }
  ws() {
    for (;;) {
      const c = this.s.charCodeAt(this.i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) this.i++;
      else return;
    }
  }
  value() {
    this.ws();
    const c = this.s[this.i];
    if (c === undefined) this.err("EOF while parsing a value");
    if (c === "{") return this.object();
    if (c === "[") return this.array();
    if (c === '"') return { t: "str", v: this.string(), at: this.i };
    if (c === "-" || (c >= "0" && c <= "9")) return this.number();
    for (const [word, node] of [
      ["true", { t: "bool", v: true }],
      ["false", { t: "bool", v: false }],
      ["null", { t: "null" }],
    ]) {
      if (this.s.startsWith(word, this.i)) {
        this.i += word.length;
        return node;
      }
    }
    this.err("expected value");
  }
  nest() {
    if (++this.depth > MAX_DEPTH) this.err("recursion limit exceeded");
  }
  object() {
    this.nest();
    this.i++;
    const entries = [];
    this.ws();
    if (this.s[this.i] === "}") {
      this.i++;
      this.depth--;
      return { t: "obj", entries };
    }
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') this.err("key must be a string");
      const key = this.string();
      this.ws();
      if (this.s[this.i] !== ":") this.err("expected `:`");
      this.i++;
      entries.push([key, this.value()]);
      this.ws();
      const c = this.s[this.i++];
      if (c === ",") continue;
      if (c === "}") break;
      this.i--;
      this.err(c === undefined ? "EOF while parsing an object" : "expected `,` or `}`");
    }
    this.depth--;
    return { t: "obj", entries };
  }
  array() {
    this.nest();
    this.i++;
    const items = [];
    this.ws();
    if (this.s[this.i] === "]") {
      this.i++;
      this.depth--;
      return { t: "arr", items };
    }
    for (;;) {
      items.push(this.value());
      this.ws();
      const c = this.s[this.i++];
      if (c === ",") continue;
      if (c === "]") break;
      this.i--;
      this.err(c === undefined ? "EOF while parsing a list" : "expected `,` or `]`");
    }
    this.depth--;
    return { t: "arr", items };
  }
  hex4() {
    const h = this.s.slice(this.i, this.i + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) this.err("invalid escape");
    this.i += 4;
    return parseInt(h, 16);
  }
  string() {
    this.i++; // opening quote
    let out = "";
    let start = this.i;
    for (;;) {
      const c = this.s.charCodeAt(this.i);
      if (Number.isNaN(c)) this.err("EOF while parsing a string");
      if (c === 0x22) {
        out += this.s.slice(start, this.i);
        this.i++;
        return out;
      }
      if (c < 0x20) this.err("control character (\\u0000-\\u001F) found while parsing a string");
      if (c >= 0xd800 && c <= 0xdfff) {
        // Raw text: only a well-formed pair can come from UTF-8.
        const d = this.s.charCodeAt(this.i + 1);
        if (c > 0xdbff || !(d >= 0xdc00 && d <= 0xdfff)) this.err("invalid unicode code point");
        this.i += 2;
        continue;
      }
      if (c !== 0x5c) {
        this.i++;
        continue;
      }
      out += this.s.slice(start, this.i);
      this.i++;
      const e = this.s[this.i++];
      const simple = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };
      if (e in simple) out += simple[e];
      else if (e === "u") {
        const u = this.hex4();
        if (u >= 0xdc00 && u <= 0xdfff) this.err("lone trailing surrogate in hex escape");
        if (u >= 0xd800 && u <= 0xdbff) {
          if (this.s[this.i] !== "\\" || this.s[this.i + 1] !== "u") {
            this.err("lone leading surrogate in hex escape");
          }
          this.i += 2;
          const lo = this.hex4();
          if (!(lo >= 0xdc00 && lo <= 0xdfff)) this.err("lone leading surrogate in hex escape");
          out += String.fromCharCode(u, lo);
        } else out += String.fromCharCode(u);
      } else {
        this.i--;
        this.err("invalid escape");
      }
      start = this.i;
    }
  }
  number() {
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(this.s.slice(this.i, this.i + 1100));
    if (!m) this.err("invalid number");
    // serde_json refuses a leading zero followed by a digit.
    const after = this.s[this.i + m[0].length];
    if (m[1] === "0" && after >= "0" && after <= "9") this.err("invalid number");
    if ((!m[2] && after === ".") || (!m[3] && (after === "e" || after === "E"))) this.err("invalid number");
    this.i += m[0].length;
    const integer = !m[0].startsWith("-") && !m[2] && !m[3];
    return { t: "num", raw: m[0], integer };
  }
}

class JsonError extends Error {}

/** Parses JSON into a tree that keeps duplicate keys and exact number text. */
function parseJsonTree(text) {
  const r = new JsonReader(text);
  const v = r.value();
  r.ws();
  if (r.i !== text.length) r.err("trailing characters");
  return v;
}

// Schema types.
const U64 = { k: "uint", bits: 64n, name: "u64" };
const U32 = { k: "uint", bits: 32n, name: "u32" };
const STR = { k: "str" };
// A chain id: 1 to 64 bytes of [a-z0-9-], checked when decoded, as Rust's `ChainId`
// (docs/protocol.md §2): a file carrying another is Malformed, not WrongChain.
const CHAIN_ID = { k: "chainid" };
const CHAIN_ID_MAX_LEN = 64;
const H32 = (name) => ({ k: "fixed", n: 32, name });
const SIG = { k: "fixed", n: 64, name: "Signature" };
const HEXBYTES = { k: "hexbytes" };
const vec = (of) => ({ k: "vec", of });
const opt = (of) => ({ k: "opt", of });
// fields: [name, type, default?]; `default` true: #[serde(default)] (missing -> null).
const struct = (name, fields) => ({ k: "struct", name, fields });

const describe = (node) =>
  ({ obj: "map", arr: "sequence", str: "string", num: "number", bool: "boolean", null: "null" })[node.t];

function convert(node, type, path) {
  const bad = (why) => {
    throw new JsonError(`${path || "value"}: ${why}`);
  };
  switch (type.k) {
    case "uint": {
      if (node.t !== "num") bad(`invalid type: ${describe(node)}, expected ${type.name}`);
      if (!node.integer) bad(`invalid value: ${node.raw}, expected ${type.name}`);
      const v = BigInt(node.raw);
      if (v >> type.bits !== 0n) bad(`invalid value: ${node.raw}, expected ${type.name}`);
      return v;
    }
    case "str":
      if (node.t !== "str") bad(`invalid type: ${describe(node)}, expected a string`);
      return node.v;
    case "chainid": {
      if (node.t !== "str") bad(`invalid type: ${describe(node)}, expected a chain id`);
      const len = utf8(node.v).length;
      const quoted = JSON.stringify([...node.v].slice(0, 16).join("")) + ([...node.v].length > 16 ? "..." : "");
      if (len === 0) bad(`chain id ${quoted} is empty`);
      if (len > CHAIN_ID_MAX_LEN) bad(`chain id ${quoted} is ${len} bytes, over the limit of ${CHAIN_ID_MAX_LEN}`);
      const at = [...node.v].findIndex((c) => !/^[a-z0-9-]$/.test(c));
      if (at >= 0) bad(`chain id ${quoted} has a character outside [a-z0-9-]`);
      return node.v;
    }
    case "fixed": {
      if (node.t !== "str") bad(`invalid type: ${describe(node)}, expected a string`);
      const digits = node.v.startsWith("0x") ? node.v.slice(2) : node.v;
      const len = utf8(digits).length;
      if (len !== 2 * type.n) bad(`invalid hex for ${type.name}: expected ${2 * type.n} hex digits, got ${len}`);
      try {
        return fromHex(digits);
      } catch {
        bad(`invalid hex for ${type.name}: invalid character`);
      }
      break;
    }
    case "hexbytes": {
      if (node.t !== "str") bad(`invalid type: ${describe(node)}, expected a string`);
      const digits = node.v.startsWith("0x") ? node.v.slice(2) : node.v;
      try {
        return fromHex(digits);
      } catch {
        bad("invalid hex bytes");
      }
      break;
    }
    case "bool":
      if (node.t !== "bool") bad(`invalid type: ${describe(node)}, expected a boolean`);
      return node.v;
    case "enum": {
      // serde's externally tagged enum: "unit_variant", or {"variant": {fields}}.
      // A unit variant reads as its name, a struct variant as {kind, ...fields}
      // (the shape encodeTxBody and encodeValidatorChange take).
      const names = type.variants.map(([t]) => `\`${t}\``).join(", ");
      const find = (tag) => {
        const v = type.variants.find(([t]) => t === tag);
        if (!v) bad(`unknown variant \`${tag}\`, expected one of ${names}`);
        return v;
      };
      if (node.t === "str") {
        if (find(node.v)[1]) bad(`invalid type: unit variant, expected struct variant ${type.name}::${node.v}`);
        return node.v;
      }
      if (node.t !== "obj" || node.entries.length !== 1) {
        bad(`invalid type: ${describe(node)}, expected enum ${type.name} (an object with exactly one variant key)`);
      }
      const [tag, value] = node.entries[0];
      const [, fields] = find(tag);
      if (!fields) {
        if (value.t !== "null") bad(`invalid type: ${describe(value)}, expected unit variant ${type.name}::${tag}`);
        return tag;
      }
      return { kind: tag, ...convert(value, fields, path ? `${path}.${tag}` : tag) };
    }
    case "vec":
      if (node.t !== "arr") bad(`invalid type: ${describe(node)}, expected a sequence`);
      return node.items.map((item, i) => convert(item, type.of, `${path}[${i}]`));
    case "opt":
      return node.t === "null" ? null : convert(node, type.of, path);
    case "struct": {
      const out = {};
      const prefix = path ? `${path}.` : "";
      if (node.t === "arr") {
        // serde's visit_seq: fields in order; only #[serde(default)] fields may be missing.
        type.fields.forEach(([name, ft, dflt], i) => {
          if (i < node.items.length) out[name] = convert(node.items[i], ft, prefix + name);
          else if (dflt) out[name] = null;
          else bad(`invalid length ${node.items.length}, expected struct ${type.name} with ${type.fields.length} elements`);
        });
        if (node.items.length > type.fields.length) bad("trailing characters");
        return out;
      }
      if (node.t !== "obj") bad(`invalid type: ${describe(node)}, expected struct ${type.name}`);
      const byName = new Map(type.fields.map((f) => [f[0], f]));
      const seen = new Set();
      for (const [key, value] of node.entries) {
        const f = byName.get(key);
        if (!f) {
          bad(`unknown field \`${key}\`, expected one of ${type.fields.map((x) => `\`${x[0]}\``).join(", ")}`);
        }
        if (seen.has(key)) bad(`duplicate field \`${key}\``);
        seen.add(key);
        out[key] = convert(value, f[1], prefix + key);
      }
      for (const [name, ft, dflt] of type.fields) {
        if (seen.has(name)) continue;
        // serde: a missing Option field is None; #[serde(default)] gives the default.
        if (dflt || ft.k === "opt") out[name] = null;
        else bad(`missing field \`${name}\``);
      }
      return out;
    }
  }
  throw new Error("unreachable");
}

const HEADER = struct("Header", [
  ["chain_id", CHAIN_ID],
  ["height", U64],
  ["prev_hash", H32("BlockHash")],
  ["time_ms", U64],
  ["proposer", H32("PublicKey")],
  ["tx_count", U32],
  ["tx_root", H32("Hash32")],
  ["log_size", U64],
  ["log_root", H32("Hash32")],
  ["validators_hash", H32("Hash32")],
  ["state_root", H32("Hash32")],
]);
const COMMIT = struct("Commit", [
  ["height", U64],
  ["round", U32],
  ["block_hash", H32("BlockHash")],
  ["signatures", vec(struct("CommitSignature", [["validator", H32("PublicKey")], ["signature", SIG]]))],
]);
const CHECKPOINT = struct("Checkpoint", [
  ["header", HEADER],
  ["commit", COMMIT],
]);
const LOG_ENTRY = struct("LogEntryProof", [
  ["leaf_index", U64],
  ["leaf", HEXBYTES],
  ["proof", vec(H32("Hash32"))],
]);
const RECORD = struct("CertificateRecord", [
  ["series_id", H32("SeriesId")],
  ["series_name", STR],
  ["edition", U32],
  ["max_supply", U32],
  ["holder", H32("HolderId")],
  ["issuer", H32("PublicKey")],
  ["content_hash", H32("ContentHash")],
  ["metadata_uri", STR],
  ["reviewer", H32("PublicKey")],
  ["height", U64],
  ["time_ms", U64],
  ["mint_tx", H32("TxId")],
  // #[serde(default)]: a minted certificate has none (missing is empty).
  ["synthesized_from", vec(H32("CertificateId")), true],
  // #[serde(default)]: only a revealed blind box has one.
  ["variant", opt(struct("VariantRecord", [["index", U32], ["name", STR], ["content_hash", H32("ContentHash")]])), true],
]);
const TRANSITION = struct("SetTransition", [
  ["change", LOG_ENTRY],
  ["checkpoint", CHECKPOINT],
]);
const CERTIFICATE = struct("Certificate", [
  ["format", STR],
  ["chain_id", CHAIN_ID],
  ["certificate_id", H32("CertificateId")],
  ["record", RECORD],
  ["mint", LOG_ENTRY],
  ["series", LOG_ENTRY],
  ["checkpoint", CHECKPOINT],
  // #[serde(default)]: missing is empty (certificates from before set changes have none).
  ["transitions", vec(TRANSITION), true],
  [
    "previous",
    opt(struct("CheckpointLink", [["checkpoint", CHECKPOINT], ["consistency", vec(H32("Hash32"))]])),
    true,
  ],
  // #[serde(default)]: a revealed blind box's RevealBlindBox entry.
  ["reveal", opt(LOG_ENTRY), true],
]);
const STATUS = struct("CertificateStatus", [
  ["certificate_id", H32("CertificateId")],
  ["checkpoint", CHECKPOINT],
  ["transitions", vec(TRANSITION), true],
  ["revocation", opt(LOG_ENTRY)],
  // #[serde(default)]: the Synthesize entry that burned the certificate.
  ["burn", opt(LOG_ENTRY), true],
]);
const GENESIS = struct("Genesis", [
  ["chain_id", STR],
  ["genesis_time_ms", U64],
  ["validators", vec(struct("Validator", [["public_key", H32("PublicKey")], ["power", U64], ["name", STR]]))],
  ["governors", vec(H32("PublicKey"))],
  ["governance_threshold", U32],
  ["params", struct("ChainParams", [["max_supply_limit", U32], ["block_txs_max", U32], ["tx_bytes_max", U32]])],
]);

function parseTyped(text, type) {
  return convert(parseJsonTree(text), type, "");
}

// Transactions in JSON (tx.rs, life.rs, membership.rs serde shapes), for
// clients that build them (the TypeScript SDK): read exactly as the node's
// serde reads keepsake_submitTx's parameter, into the shape encodeTxBody takes.
const BOOL = { k: "bool" };
const KEY = H32("PublicKey");
const enumOf = (name, variants) => ({ k: "enum", name, variants });
const VALIDATOR = struct("Validator", [["public_key", KEY], ["power", U64], ["name", STR]]);
const APPROVAL = struct("ReviewApproval", [["reviewer", KEY], ["signature", SIG]]);
const SERIES_TERMS = struct("SeriesTerms", [
  ["recipes", vec(struct("Recipe", [["inputs", vec(struct("RecipeInput", [["series_id", H32("SeriesId")], ["count", U32]]))]]))],
  [
    "blind_box",
    opt(
      struct("BlindBoxTerms", [
        ["variants", vec(struct("BoxVariant", [["name", STR], ["content_hash", H32("ContentHash")], ["count", U32]]))],
        ["seed_commitment", H32("Hash32")],
      ]),
    ),
  ],
]);
const VALIDATOR_CHANGE = enumOf("ValidatorChange", [
  ["add", struct("Add", [["validator", VALIDATOR]])],
  ["remove", struct("Remove", [["public_key", KEY]])],
  ["set_power", struct("SetPower", [["public_key", KEY], ["power", U64]])],
  ["rotate_key", struct("RotateKey", [["old_key", KEY], ["new_key", KEY]])],
]);
const SUBJECT_FIELDS = [
  ["issuer", KEY],
  ["name", STR],
  ["content_hash", H32("ContentHash")],
  ["max_supply", U32],
  ["metadata_uri", STR],
];
/** The fields of each TxBody variant, in TX_KINDS order (the wire order). */
const TX_BODY_FIELDS = {
  register_issuer: [["issuer", KEY], ["name", STR], ["nonce", U64]],
  set_issuer_status: [["issuer", KEY], ["status", enumOf("IssuerStatus", [["active", null], ["suspended", null]])], ["nonce", U64]],
  register_reviewer: [["reviewer", KEY], ["name", STR], ["nonce", U64]],
  remove_reviewer: [["reviewer", KEY], ["nonce", U64]],
  create_series: [...SUBJECT_FIELDS, ["approval", APPROVAL]],
  mint: [["series_id", H32("SeriesId")], ["edition", U32], ["holder", H32("HolderId")]],
  revoke: [["certificate_id", H32("CertificateId")], ["reason", STR]],
  transfer: [["certificate_id", H32("CertificateId")], ["to", H32("HolderId")]],
  change_validators: [["change", VALIDATOR_CHANGE], ["nonce", U64]],
  set_governance: [["governors", vec(KEY)], ["threshold", U32], ["nonce", U64]],
  register_observer: [["observer", KEY], ["name", STR], ["nonce", U64]],
  remove_observer: [["observer", KEY], ["nonce", U64]],
  set_issuer_licence: [
    ["issuer", KEY],
    ["licence", struct("Licence", [["kind", STR], ["number", STR], ["valid_until_ms", U64]])],
    ["nonce", U64],
  ],
  withdraw_issuer_licence: [["issuer", KEY], ["reason", STR], ["nonce", U64]],
  set_licence_policy: [["required", BOOL], ["nonce", U64]],
  create_series_with_terms: [...SUBJECT_FIELDS, ["terms", SERIES_TERMS], ["approval", APPROVAL]],
  synthesize: [
    ["series_id", H32("SeriesId")],
    ["recipe", U32],
    ["inputs", vec(H32("CertificateId"))],
    ["edition", U32],
    ["holder", H32("HolderId")],
  ],
  close_blind_box: [["series_id", H32("SeriesId")]],
  reveal_blind_box: [["series_id", H32("SeriesId")], ["seed", H32("Hash32")], ["entropy", H32("Hash32")]],
};
const TX_BODY = enumOf(
  "TxBody",
  TX_KINDS.map((kind) => [kind, struct(kind, TX_BODY_FIELDS[kind])]),
);
const SIGNED_TX = struct("SignedTx", [
  ["body", TX_BODY],
  ["signatures", vec(struct("TxSignature", [["signer", KEY], ["signature", SIG]]))],
]);

/** JSON text of a value given as text, bytes or a plain object (BigInt written exactly). */
function jsonText(input, what) {
  return typeof input === "string" || input instanceof Uint8Array || input instanceof ArrayBuffer
    ? toText(input, what)
    : stringifyJson(input);
}

/**
 * A transaction body in JSON (`{"mint": {...}}`, text or object), read as the
 * node reads it (unknown fields and variants, bad hex, out-of-range integers
 * refused), into the shape encodeTxBody takes. Throws Malformed.
 */
export function parseTxBody(input) {
  try {
    return parseTyped(jsonText(input, "transaction body"), TX_BODY);
  } catch (e) {
    if (e instanceof JsonError) fail("Malformed", `malformed transaction body: ${e.message}`);
    throw e;
  }
}

/** A SignedTx in JSON (`{"body", "signatures"}`), read as parseTxBody reads a body; for encodeSignedTx. */
export function parseSignedTx(input) {
  try {
    return parseTyped(jsonText(input, "transaction"), SIGNED_TX);
  } catch (e) {
    if (e instanceof JsonError) fail("Malformed", `malformed transaction: ${e.message}`);
    throw e;
  }
}

/**
 * JSON.parse for node answers and files, on this module's reader: integers
 * outside Number's safe range become BigInt (random u64 governance nonces,
 * powers), so nothing is rounded; a duplicate key keeps the last value, as
 * JSON.parse does. Throws SyntaxError.
 */
export function parseJson(text) {
  let tree;
  try {
    tree = parseJsonTree(toText(text, "JSON"));
  } catch (e) {
    if (e instanceof JsonError) throw new SyntaxError(e.message);
    throw e;
  }
  const plain = (node) => {
    switch (node.t) {
      case "obj": {
        const out = {};
        for (const [k, v] of node.entries) {
          Object.defineProperty(out, k, { value: plain(v), enumerable: true, writable: true, configurable: true });
        }
        return out;
      }
      case "arr":
        return node.items.map(plain);
      case "num": {
        const n = Number(node.raw);
        return /^-?[0-9]+$/.test(node.raw) && !Number.isSafeInteger(n) ? BigInt(node.raw) : n;
      }
      case "null":
        return null;
      default:
        return node.v;
    }
  };
  return plain(tree);
}

/**
 * JSON.stringify that writes BigInt values as exact integers (what serde
 * reads as u64). `indent` as JSON.stringify's `space` (2: serde_json's pretty
 * form). undefined and functions are left out of objects (null in arrays).
 */
export function stringifyJson(value, indent) {
  const pad = typeof indent === "number" ? " ".repeat(Math.min(10, indent)) : (indent || "").slice(0, 10);
  const nl = pad ? "\n" : "";
  const colon = pad ? ": " : ":";
  const open = new Set();
  const write = (v, at) => {
    if (v !== null && typeof v === "object" && typeof v.toJSON === "function") v = v.toJSON();
    switch (typeof v) {
      case "bigint":
        return v.toString();
      case "number":
        return Number.isFinite(v) ? String(v) : "null";
      case "boolean":
        return String(v);
      case "string":
        return JSON.stringify(v);
      case "object":
        break;
      default:
        return undefined;
    }
    if (v === null) return "null";
    if (open.has(v)) throw new TypeError("cannot write a circular structure as JSON");
    open.add(v);
    const inner = at + pad;
    const items = Array.isArray(v)
      ? v.map((x) => inner + (write(x, inner) ?? "null"))
      : Object.keys(v).flatMap((k) => {
          const s = write(v[k], inner);
          return s === undefined ? [] : [`${inner}${JSON.stringify(k)}${colon}${s}`];
        });
    open.delete(v);
    const [l, r] = Array.isArray(v) ? ["[", "]"] : ["{", "}"];
    return items.length ? `${l}${nl}${items.join("," + nl)}${nl}${at}${r}` : l + r;
  };
  return write(value, "");
}

const utf8Len = (s) => utf8(s).length;

function toText(input, what) {
  if (typeof input === "string") {
    if (typeof input.isWellFormed === "function" && !input.isWellFormed()) {
      throw new JsonError(`${what} is not valid UTF-8 text`);
    }
    return input;
  }
  const bytes = input instanceof ArrayBuffer ? new Uint8Array(input) : input;
  if (bytes instanceof Uint8Array) {
    try {
      return utf8Strict.decode(bytes);
    } catch {
      throw new JsonError(`${what} is not valid UTF-8`);
    }
  }
  throw new JsonError(`${what} must be text`);
}

// ---------------------------------------------------------------------------
// Genesis (genesis.rs)

export const CERTIFICATE_FORMAT = "keepsake-certificate/v1";
/** Largest certificate file, in bytes (certificate.rs: room for hundreds of set transitions). */
export const CERTIFICATE_FILE_MAX = 4 * 1024 * 1024;

function validateGenesis(g) {
  const bad = (m) => fail("InvalidGenesis", `invalid genesis: ${m}`);
  if (!/^[a-z0-9-]{1,64}$/.test(g.chain_id)) {
    bad(`chain id ${JSON.stringify(g.chain_id)} must be 1 to 64 characters of [a-z0-9-]`);
  }
  if (g.validators.length === 0 || g.validators.length > 100) {
    bad(`needs 1 to 100 validators, has ${g.validators.length}`);
  }
  const keys = new Set();
  let total = 0n;
  for (const v of g.validators) {
    const k = toHex(v.public_key);
    if (keys.has(k)) bad(`validator ${k} listed twice`);
    keys.add(k);
    if (!isValidPoint(v.public_key)) bad(`validator key ${k} is not a valid ed25519 key`);
    if (v.power === 0n) bad(`validator ${k} has zero power`);
    total += v.power;
  }
  if (total > 1n << 60n) bad(`total voting power ${total} exceeds ${1n << 60n}`);
  if (g.governors.length === 0 || g.governors.length > 32) {
    bad(`needs 1 to 32 governors, has ${g.governors.length}`);
  }
  if (new Set(g.governors.map(toHex)).size !== g.governors.length) bad("a governor is listed twice");
  for (const gov of g.governors) {
    if (!isValidPoint(gov)) bad(`governor key ${toHex(gov)} is not a valid ed25519 key`);
  }
  const k = g.governance_threshold;
  if (k === 0n || k > BigInt(g.governors.length)) {
    bad(`governance threshold ${k} must be between 1 and the number of governors (${g.governors.length})`);
  }
  const p = g.params;
  if (p.max_supply_limit === 0n || p.block_txs_max === 0n || p.tx_bytes_max < 256n) {
    bad("params: max_supply_limit and block_txs_max must be > 0, tx_bytes_max >= 256");
  }
}

const genesisCache = new WeakMap();

/**
 * Genesis::from_json + validate. Accepts the JSON text (string or bytes), a
 * plain object (e.g. from JSON.parse or an RPC answer) or the result of an
 * earlier call. Returns {genesis, hash, hashHex}; throws InvalidGenesis.
 */
export async function loadGenesis(input) {
  if (input && typeof input === "object" && input.__keepsakeGenesis) return input;
  if (input && typeof input === "object" && genesisCache.has(input)) return genesisCache.get(input);
  let text;
  try {
    if (typeof input === "string" || input instanceof Uint8Array || input instanceof ArrayBuffer) {
      text = toText(input, "genesis");
    } else if (input && typeof input === "object") {
      text = stringifyJson(input); // BigInt powers (above 2^53) written exactly
    } else {
      throw new JsonError("no genesis given");
    }
  } catch (e) {
    fail("InvalidGenesis", `invalid genesis: ${e.message}`);
  }
  let genesis;
  try {
    genesis = parseTyped(text, GENESIS);
  } catch (e) {
    if (e instanceof JsonError) fail("InvalidGenesis", `invalid genesis: ${e.message}`);
    throw e;
  }
  validateGenesis(genesis);
  const hash = await genesisHash(genesis);
  const loaded = { __keepsakeGenesis: true, genesis, hash, hashHex: toHex(hash) };
  if (input && typeof input === "object") genesisCache.set(input, loaded);
  return loaded;
}

// ---------------------------------------------------------------------------
// Checkpoints (Commit::verify, verify_checkpoint)

const totalPower = (validators) => validators.reduce((a, v) => a + v.power, 0n);
const U64_MAX = (1n << 64n) - 1n;

/**
 * Commit::verify(header, validators): returns {signedPower, total, needed,
 * blockHash, signers}. Throws the first failure, in the Rust order.
 */
export async function verifyCommit(header, commit, validators) {
  if (commit.height !== header.height) {
    fail("CommitHeightMismatch", `commit height mismatch: expected ${header.height}, got ${commit.height}`);
  }
  const expected = await blockHash(header);
  if (!bytesEqual(commit.block_hash, expected)) {
    fail("CommitBlockMismatch", `commit is for block ${toHex(commit.block_hash)}, expected ${toHex(expected)}`);
  }
  const vsHash = await validatorsHash(header.chain_id, validators);
  if (!bytesEqual(header.validators_hash, vsHash)) {
    fail(
      "ValidatorSetMismatch",
      `header validator set hash ${toHex(header.validators_hash)} does not match the expected set ${toHex(vsHash)}`,
    );
  }
  const message = domainPreimage(
    TAG.VOTE,
    header.chain_id,
    encodeVoteData(commit.height, commit.round, 1, commit.block_hash),
  );
  const seen = new Set();
  let power = 0n;
  const signers = [];
  for (const s of commit.signatures) {
    const hex = toHex(s.validator);
    const v = validators.find((x) => bytesEqual(x.public_key, s.validator));
    if (!v) fail("UnknownValidator", `commit signed by ${hex}, which is not a validator`);
    if (seen.has(hex)) fail("DuplicateCommitSignature", `validator ${hex} signed the commit twice`);
    seen.add(hex);
    await verifySignature(s.validator, message, s.signature, "commit precommit");
    power += v.power;
    if (power > U64_MAX) power = U64_MAX;
    signers.push(v.name);
  }
  const total = totalPower(validators);
  const needed = (total * 2n) / 3n + 1n;
  if (power < needed) {
    fail(
      "InsufficientPower",
      `commit carries voting power ${power}, needs at least ${needed} (more than 2/3 of ${total})`,
    );
  }
  return { signedPower: power, total, needed, blockHash: expected, signers };
}

const wrongChain = (expected, got) =>
  fail("WrongChain", `wrong chain: expected ${JSON.stringify(expected)}, got ${JSON.stringify(got)}`);

/**
 * verify_checkpoint: the checkpoint's chain, then its commit under the set
 * `schedule` says governs its height.
 */
async function verifyCheckpoint(genesis, schedule, checkpoint) {
  if (checkpoint.header.chain_id !== genesis.chain_id) wrongChain(genesis.chain_id, checkpoint.header.chain_id);
  return verifyCommit(checkpoint.header, checkpoint.commit, schedule.at(checkpoint.header.height));
}

// ---------------------------------------------------------------------------
// Validator-set changes (membership.rs)

/** A change committed at height h governs blocks from h + SET_CHANGE_DELAY. */
export const SET_CHANGE_DELAY = 2n;
/** Most set transitions a certificate or status answer may carry. */
export const TRANSITIONS_MAX = 1024;
/** genesis.rs VALIDATORS_MAX, TOTAL_POWER_MAX. */
export const VALIDATORS_MAX = 100;
export const TOTAL_POWER_MAX = 1n << 60n;

/** Why applyValidatorChange refused a change (ChangeRefusal): `kind` and the Rust message. */
export class ChangeRefusal extends Error {
  constructor(kind, message) {
    super(message);
    this.name = "ChangeRefusal";
    this.kind = kind;
  }
}

const quorumPower = (validators) => (totalPower(validators) * 2n) / 3n + 1n;

/**
 * ValidatorSet::apply: the set (a new array; validators are
 * {public_key, power, name}) after `change`, or throws a ChangeRefusal. The
 * rules and their order are the Rust ones: the keys named exist (or not, for
 * a new key, which must also be a valid point); powers are positive and
 * change; at most VALIDATORS_MAX validators and TOTAL_POWER_MAX power; the
 * set is not empty and the validators it keeps unchanged hold a quorum of it.
 */
export function applyValidatorChange(validators, change) {
  const refuse = (kind, message) => {
    throw new ChangeRefusal(kind, message);
  };
  const position = (key) => {
    const i = validators.findIndex((v) => bytesEqual(v.public_key, key));
    if (i < 0) refuse("NotAValidator", `${toHex(key)} is not a validator`);
    return i;
  };
  const freshKey = (key) => {
    if (validators.some((v) => bytesEqual(v.public_key, key))) {
      refuse("AlreadyAValidator", `${toHex(key)} is already a validator`);
    }
    if (!isValidPoint(key)) refuse("Invalid", `${toHex(key)} is not a valid ed25519 key`);
  };
  const next = validators.map((v) => ({ ...v }));
  let newcomer = null; // the key the change brings in (its node may not be running yet)
  switch (change.kind) {
    case "add": {
      const v = change.validator;
      freshKey(v.public_key);
      if (v.power === 0n) refuse("Invalid", "a validator needs a power above 0");
      if (validators.length >= VALIDATORS_MAX) {
        refuse("Invalid", `the set already has the most validators allowed (${VALIDATORS_MAX})`);
      }
      next.push({ public_key: v.public_key, power: v.power, name: v.name });
      newcomer = v.public_key;
      break;
    }
    case "remove":
      next.splice(position(change.public_key), 1);
      break;
    case "set_power": {
      const i = position(change.public_key);
      if (change.power === 0n) refuse("Invalid", "a power of 0 is not a removal: use the remove change");
      if (next[i].power === change.power) {
        refuse("Invalid", `${toHex(change.public_key)} already has power ${change.power}`);
      }
      next[i].power = change.power;
      break;
    }
    case "rotate_key": {
      const i = position(change.old_key);
      freshKey(change.new_key);
      next[i].public_key = change.new_key;
      newcomer = change.new_key;
      break;
    }
    default:
      throw new Error(`unknown validator change ${change.kind}`);
  }
  if (next.length === 0) refuse("Unsafe", "the set would have no validator left");
  // Rust sums with checked_add (u64): an overflow is over TOTAL_POWER_MAX too.
  const total = totalPower(next);
  if (total > TOTAL_POWER_MAX) refuse("Invalid", `the total voting power would exceed ${TOTAL_POWER_MAX}`);
  const kept = next.reduce((a, v) => (newcomer && bytesEqual(v.public_key, newcomer) ? a : a + v.power), 0n);
  const needed = quorumPower(next);
  if (kept < needed) {
    refuse(
      "Unsafe",
      `the validators already running would hold ${kept} of ${total} power, short of the quorum of ` +
        `${needed}: the chain would stop until the new key's node runs (add power in smaller steps)`,
    );
  }
  return next;
}

/** ValidatorChange::describe, with shortened keys (for the page). */
export function describeValidatorChange(c) {
  switch (c.kind) {
    case "add":
      return `add ${c.validator.name} (${short(c.validator.public_key)}) with power ${c.validator.power}`;
    case "remove":
      return `remove ${short(c.public_key)}`;
    case "set_power":
      return `set the power of ${short(c.public_key)} to ${c.power}`;
    case "rotate_key":
      return `rotate ${short(c.old_key)} to ${short(c.new_key)}`;
  }
  return c.kind;
}

/**
 * ValidatorSchedule: the validator sets of the chain as far as followed,
 * `sets` ascending by `fromHeight` (BigInt), the genesis set from height 1.
 */
export class ValidatorSchedule {
  constructor(genesis) {
    this.sets = [{ fromHeight: 1n, validators: genesis.validators }];
    this.changes = []; // {height, fromHeight, description}, one per transition followed
  }
  /** The set governing `height`. */
  at(height) {
    height = BigInt(height);
    let i = 0;
    while (i + 1 < this.sets.length && this.sets[i + 1].fromHeight <= height) i++;
    return this.sets[i].validators;
  }
  latest() {
    return this.sets[this.sets.length - 1];
  }
}

const badTransition = (index, reason) =>
  fail("InvalidTransition", `validator-set transition ${index} is invalid: ${reason}`);

/**
 * ValidatorSchedule::follow(genesis, transitions): each transition proven to
 * the set before it, in the Rust order of checks. Throws the first failure
 * (TooLarge for too many, WrongChain, InvalidTransition).
 */
export async function followTransitions(genesis, transitions) {
  if (transitions.length > TRANSITIONS_MAX) {
    fail("TooLarge", `set transitions is ${transitions.length} bytes, over the limit of ${TRANSITIONS_MAX}`);
  }
  const schedule = new ValidatorSchedule(genesis);
  const leafMax = Number(genesis.params.tx_bytes_max) + 64;
  for (const [index, t] of transitions.entries()) {
    const bad = (reason) => badTransition(index, reason);
    const header = t.checkpoint.header;
    if (header.chain_id !== genesis.chain_id) wrongChain(genesis.chain_id, header.chain_id);
    const latest = schedule.latest();
    // The change comes after the previous one took effect (rule T29): the set before it is the latest.
    if (header.height < latest.fromHeight) {
      bad(`its checkpoint is at height ${header.height}, before the previous set took effect at ${latest.fromHeight}`);
    }
    // Signed by a quorum of the set in force before the change.
    try {
      await verifyCommit(header, t.checkpoint.commit, latest.validators);
    } catch (e) {
      if (e instanceof VerifyError) bad(`checkpoint at height ${header.height}: ${e.message}`);
      throw e;
    }
    let leaf;
    try {
      await entryInclusion(t.change, header, "transition change");
      leaf = entryDecode(t.change, header, "transition change", leafMax);
    } catch (e) {
      if (e instanceof VerifyError) bad(e.message);
      throw e;
    }
    const body = leaf.tx.body;
    if (body.kind !== "change_validators") {
      bad(`its entry is a ${body.kind} transaction, not a validator-set change`);
    }
    if (leaf.height < latest.fromHeight) {
      bad(`the change is at height ${leaf.height}, before the previous set took effect at ${latest.fromHeight}`);
    }
    // The checkpoint must be one the old set signs: before the change takes effect.
    const fromHeight = leaf.height + SET_CHANGE_DELAY;
    if (header.height >= fromHeight) {
      bad(`its checkpoint (height ${header.height}) is after the change took effect (height ${fromHeight})`);
    }
    let validators;
    try {
      validators = applyValidatorChange(latest.validators, body.change);
    } catch (e) {
      if (e instanceof ChangeRefusal) bad(`the change is refused: ${e.message}`);
      throw e;
    }
    schedule.sets.push({ fromHeight, validators });
    schedule.changes.push({ height: leaf.height, fromHeight, description: describeValidatorChange(body.change) });
  }
  return schedule;
}

/**
 * schedule_at_checkpoint: the set that signs `checkpoint`, refusing
 * transitions that take effect after it (they cannot have been proven by then).
 */
function scheduleAtCheckpoint(schedule, checkpoint, transitions) {
  const latest = schedule.latest();
  const height = checkpoint.header.height;
  if (transitions > 0 && latest.fromHeight > height) {
    badTransition(
      transitions - 1,
      `it takes effect at height ${latest.fromHeight}, after the checkpoint at height ${height}`,
    );
  }
  return schedule.at(height);
}

// ---------------------------------------------------------------------------
// Certificates (Certificate::verify)

/** The steps shown by the page, in order. */
export const STEPS = Object.freeze([
  { id: "file", label: "Certificate file" },
  { id: "chain", label: "Chain" },
  { id: "checkpoint", label: "Checkpoint signed by a quorum" },
  { id: "consistency", label: "Link to the previous checkpoint" },
  { id: "inclusion", label: "Entries included in the log" },
  { id: "record", label: "Record matches the log" },
]);

class Steps {
  constructor(defs) {
    this.list = defs.map((d) => ({ id: d.id, label: d.label, status: "skipped", detail: "" }));
  }
  get(id) {
    return this.list.find((s) => s.id === id);
  }
  notReached() {
    for (const s of this.list) if (s.status === "skipped" && !s.detail) s.detail = "not checked: verification stopped earlier";
  }
  set(id, status, detail) {
    const s = this.get(id);
    s.status = status;
    s.detail = detail;
  }
}

const num = (b) => (b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b.toString());

function recordOut(r) {
  return {
    series_id: toHex(r.series_id),
    series_name: r.series_name,
    edition: num(r.edition),
    max_supply: num(r.max_supply),
    holder: toHex(r.holder),
    issuer: toHex(r.issuer),
    content_hash: toHex(r.content_hash),
    metadata_uri: r.metadata_uri,
    reviewer: toHex(r.reviewer),
    height: num(r.height),
    time_ms: num(r.time_ms),
    mint_tx: toHex(r.mint_tx),
    synthesized_from: r.synthesized_from.map(toHex),
    variant: r.variant
      ? { index: num(r.variant.index), name: r.variant.name, content_hash: toHex(r.variant.content_hash) }
      : null,
  };
}

const dbg = (v) => (v instanceof Uint8Array ? toHex(v) : typeof v === "string" ? JSON.stringify(v) : String(v));

function expectEq(field, logValue, recordValue) {
  const same =
    logValue instanceof Uint8Array ? bytesEqual(logValue, recordValue) : logValue === recordValue;
  if (!same) mismatch(field, `record says ${dbg(recordValue)}, log says ${dbg(logValue)}`);
}

async function entryInclusion(entry, header, field) {
  try {
    await verifyInclusion(await leafHash(entry.leaf), entry.leaf_index, header.log_size, entry.proof, header.log_root);
  } catch (e) {
    if (e instanceof VerifyError) throw new VerifyError(e.code, `log proof invalid: ${field}: ${e.message.replace(/^log proof invalid: /, "")}`);
    throw e;
  }
}

function entryDecode(entry, header, field, leafMax) {
  const leaf = decodeLogLeaf(entry.leaf, leafMax, field);
  if (leaf.height > header.height) {
    mismatch(field, `leaf height ${leaf.height} is above the checkpoint height ${header.height}`);
  }
  return leaf;
}

async function settle(promise) {
  try {
    return { value: await promise };
  } catch (e) {
    if (e instanceof VerifyError) return { error: e };
    throw e;
  }
}

/**
 * Verifies a certificate file against a genesis (text, plain object or the
 * result of loadGenesis). Never throws for bad input: returns
 * { ok: true, certificateId, record, checkpointHeight, logSize, mintLeafIndex,
 *   signedPower, totalPower, previousHeight, steps }
 * or { ok: false, code, message, step, steps }.
 */
export async function verifyCertificate(certificateJsonText, genesisObject) {
  const steps = new Steps(STEPS);
  let current = "file";
  const failed = (e, step = current) => {
    steps.set(step, "failed", e.message);
    steps.notReached();
    return { ok: false, code: e.code, message: e.message, step, steps: steps.list };
  };
  try {
    // Trust anchor first: without a valid genesis nothing can be checked.
    let g;
    try {
      g = await loadGenesis(genesisObject);
    } catch (e) {
      if (e instanceof VerifyError) return failed(e, "chain");
      throw e;
    }
    const genesis = g.genesis;
    const chain = genesis.chain_id;

    // 1. The file: size, JSON shape (unknown fields refused), format.
    let cert;
    {
      let text;
      try {
        text = toText(certificateJsonText, "certificate file");
      } catch (e) {
        fail("Malformed", `malformed certificate file: ${e.message}`);
      }
      const len = utf8Len(text);
      if (len > CERTIFICATE_FILE_MAX) {
        fail("TooLarge", `certificate file is ${len} bytes, over the limit of ${CERTIFICATE_FILE_MAX}`);
      }
      try {
        cert = parseTyped(text, CERTIFICATE);
        cert.transitions ??= []; // #[serde(default)]: absent is empty
        cert.record.synthesized_from ??= [];
      } catch (e) {
        if (e instanceof JsonError) fail("Malformed", `malformed certificate file: ${e.message}`);
        throw e;
      }
      if (cert.format !== CERTIFICATE_FORMAT) {
        fail(
          "Malformed",
          `malformed certificate: unsupported format ${JSON.stringify(cert.format)}, expected ${JSON.stringify(CERTIFICATE_FORMAT)}`,
        );
      }
      steps.set("file", "passed", `${CERTIFICATE_FORMAT}, ${len} bytes`);
    }

    // 2. The chain.
    current = "chain";
    for (const got of [cert.chain_id, cert.checkpoint.header.chain_id]) {
      if (got !== chain) {
        fail("WrongChain", `wrong chain: expected ${JSON.stringify(chain)}, got ${JSON.stringify(got)}`);
      }
    }
    steps.set("chain", "passed", `${chain} (genesis ${g.hashHex})`);

    // 3. The validator sets from genesis to the checkpoint, each change proven
    // by the set before it; then the checkpoint: header hash, validator set,
    // quorum of precommits.
    current = "checkpoint";
    const header = cert.checkpoint.header;
    const schedule = await followTransitions(genesis, cert.transitions);
    const validators = scheduleAtCheckpoint(schedule, cert.checkpoint, cert.transitions.length);
    const commit = await verifyCommit(header, cert.checkpoint.commit, validators);
    const setNote = schedule.changes.length
      ? `validator set is the one in force after ${schedule.changes.length} validator-set ` +
        `change${schedule.changes.length === 1 ? "" : "s"} followed from the genesis, each signed by the set before it ` +
        `(${schedule.changes.map((c) => `block ${c.height}: ${c.description}`).join("; ")})`
      : "validator set matches the genesis";
    steps.set(
      "checkpoint",
      "passed",
      `block ${header.height} (${short(commit.blockHash)}), ${setNote}, ` +
        `${cert.checkpoint.commit.signatures.length} valid precommits, power ${commit.signedPower} of ` +
        `${commit.total} (needs ${commit.needed})`,
    );

    // 4. A refreshed certificate: the older checkpoint and the log growing from it.
    current = "consistency";
    const link = cert.previous;
    if (link) {
      await verifyCheckpoint(genesis, schedule, link.checkpoint);
      const [old, neu] = [link.checkpoint.header, header];
      if (old.height >= neu.height) {
        mismatch("previous.checkpoint", `height ${old.height} is not below the checkpoint height ${neu.height}`);
      }
      try {
        await verifyConsistency(old.log_size, neu.log_size, old.log_root, neu.log_root, link.consistency);
      } catch (e) {
        if (!(e instanceof VerifyError)) throw e;
        fail(
          "ConsistencyMismatch",
          `log at height ${neu.height} is not consistent with the log at height ${old.height}: ` +
            e.message.replace(/^log proof invalid: /, ""),
        );
      }
      if (cert.mint.leaf_index >= old.log_size) {
        mismatch("previous.checkpoint", "the older checkpoint's log does not contain the mint");
      }
      steps.set(
        "consistency",
        "passed",
        `block ${old.height} (log size ${old.log_size}) is a prefix of block ${neu.height} (log size ${neu.log_size})`,
      );
    } else {
      steps.set("consistency", "skipped", "not a refreshed certificate");
    }

    // 5./6. Both entries in the checkpoint's log, decoded, in the Rust order:
    // mint inclusion, mint leaf, series inclusion, series leaf.
    current = "inclusion";
    const leafMax = Number(genesis.params.tx_bytes_max) + 64;
    await entryInclusion(cert.mint, header, "mint");
    const seriesIncl = await settle(entryInclusion(cert.series, header, "series"));
    const inclusionDetail =
      `mint at index ${cert.mint.leaf_index} and series at index ${cert.series.leaf_index} ` +
      `lead to the log root ${short(header.log_root)} (size ${header.log_size})`;
    let mintLeaf;
    try {
      mintLeaf = entryDecode(cert.mint, header, "mint", leafMax);
    } catch (e) {
      if (!(e instanceof VerifyError)) throw e;
      // Rust stops at the mint leaf; still show what the series proof says.
      if (seriesIncl.error) steps.set("inclusion", "failed", seriesIncl.error.message);
      else steps.set("inclusion", "passed", inclusionDetail);
      return failed(e, "record");
    }
    if (seriesIncl.error) throw seriesIncl.error;
    steps.set("inclusion", "passed", inclusionDetail);

    current = "record";
    const seriesLeaf = entryDecode(cert.series, header, "series", leafMax);
    if (cert.series.leaf_index >= cert.mint.leaf_index) {
      mismatch("series.leaf_index", "the series must be logged before the mint");
    }

    // The mint entry (a synthesis mints its output as a mint would).
    const r = cert.record;
    const m = mintLeaf.tx.body;
    if (m.kind !== "mint" && m.kind !== "synthesize") mismatch("mint.leaf", `is a ${m.kind} transaction, not a mint`);
    expectEq("record.series_id", m.series_id, r.series_id);
    expectEq("record.edition", m.edition, r.edition);
    expectEq("record.holder", m.holder, r.holder);
    const burned = m.kind === "synthesize" ? m.inputs : [];
    if (burned.length !== r.synthesized_from.length || burned.some((id, i) => !bytesEqual(id, r.synthesized_from[i]))) {
      mismatch(
        "record.synthesized_from",
        `record says [${r.synthesized_from.map(toHex).join(", ")}], log says [${burned.map(toHex).join(", ")}]`,
      );
    }
    expectEq("record.height", mintLeaf.height, r.height);
    expectEq("record.time_ms", mintLeaf.time_ms, r.time_ms);
    expectEq("record.mint_tx", await txId(chain, mintLeaf.tx.bodyBytes), r.mint_tx);
    expectEq("certificate_id", await certificateId(chain, m.series_id, m.edition), cert.certificate_id);
    const mintMsg = domainPreimage(TAG.TX, chain, mintLeaf.tx.bodyBytes);
    for (const s of mintLeaf.tx.signatures) await verifySignature(s.signer, mintMsg, s.signature, "transaction");
    if (!mintLeaf.tx.signatures.some((s) => bytesEqual(s.signer, r.issuer))) {
      mismatch("record.issuer", "the mint is not signed by the record's issuer");
    }

    // The series entry (a plain series, or one created with terms).
    const s = seriesLeaf.tx.body;
    if (s.kind !== "create_series" && s.kind !== "create_series_with_terms") {
      mismatch("series.leaf", `is a ${s.kind} transaction, not a series creation`);
    }
    expectEq("record.issuer", s.issuer, r.issuer);
    expectEq("record.series_name", s.name, r.series_name);
    expectEq("record.series_id", await seriesId(chain, s.issuer, s.name), r.series_id);
    expectEq("record.content_hash", s.content_hash, r.content_hash);
    expectEq("record.max_supply", s.max_supply, r.max_supply);
    expectEq("record.metadata_uri", s.metadata_uri, r.metadata_uri);
    expectEq("record.reviewer", s.approval.reviewer, r.reviewer);
    if (r.edition === 0n || r.edition > r.max_supply) {
      mismatch("record.edition", `edition ${r.edition} outside 1..=${r.max_supply}`);
    }
    // Rust order (certificate.rs, protocol.md §7.2 steps 18-19): the issuer
    // among the signers first, then the signatures.
    if (!seriesLeaf.tx.signatures.some((x) => bytesEqual(x.signer, s.issuer))) {
      mismatch("series.leaf", "the series creation is not signed by its issuer");
    }
    const seriesMsg = domainPreimage(TAG.TX, chain, seriesLeaf.tx.bodyBytes);
    for (const x of seriesLeaf.tx.signatures) await verifySignature(x.signer, seriesMsg, x.signature, "transaction");
    const terms = s.kind === "create_series_with_terms" ? s.terms : null;
    await verifySignature(s.approval.reviewer, reviewMessage(chain, s, terms), s.approval.signature, "review approval");

    // A synthesized certificate's recipe, a blind box's reveal and variant.
    if (m.kind === "synthesize") {
      const recipes = terms ? terms.recipes.length : 0;
      if (m.recipe >= BigInt(recipes)) {
        mismatch("mint.recipe", `the synthesis names recipe ${m.recipe}, the series declares ${recipes} recipes`);
      }
    }
    const blindBox = await checkBlindBox(chain, terms ? terms.blind_box : null, cert, header, leafMax);
    let life = "";
    if (m.kind === "synthesize") life += `; synthesized by recipe ${m.recipe} from ${burned.length} burned certificates`;
    if (blindBox && !blindBox.reveal) life += "; blind box not yet revealed";
    if (blindBox && blindBox.reveal) {
      life += `; blind-box variant ${JSON.stringify(r.variant.name)} drawn at the reveal (block ${blindBox.reveal.height})`;
    }
    steps.set(
      "record",
      "passed",
      `${r.series_name} #${r.edition} of ${r.max_supply}: every field matches the mint (block ${r.height}) ` +
        `and the series creation; issuer and reviewer signatures valid${life}`,
    );

    const result = {
      ok: true,
      certificateId: toHex(cert.certificate_id),
      record: recordOut(r),
      checkpointHeight: num(header.height),
      logSize: num(header.log_size),
      mintLeafIndex: num(cert.mint.leaf_index),
      signedPower: num(commit.signedPower),
      totalPower: num(commit.total),
      setChanges: schedule.changes.length,
      previousHeight: link ? num(link.checkpoint.header.height) : null,
      recipe: m.kind === "synthesize" ? num(m.recipe) : null,
      blindBox,
      genesisHash: g.hashHex,
      steps: steps.list,
    };
    // Exact values for verifyStatus (not enumerable: the result stays JSON-serialisable).
    Object.defineProperty(result, "_exact", {
      value: {
        certificateId: cert.certificate_id,
        issuer: r.issuer,
        holder: r.holder,
        mintLeafIndex: cert.mint.leaf_index,
      },
    });
    return result;
  } catch (e) {
    if (e instanceof VerifyError) return failed(e, e.step || current);
    throw e;
  }
}

/**
 * The blind-box part of a certificate (life_proof.rs check_blind_box), in
 * the same order: a plain series carries neither reveal nor variant; an
 * unrevealed box no variant; a reveal is a reveal_blind_box entry of the
 * checkpoint's log, of this series, after the mint, whose seed matches the
 * reviewed commitment, signed by the issuer; and the variant is the drawn one.
 * Returns null (not a blind box) or { reveal: null | { height, time_ms, tx_id, leaf_index } }.
 */
async function checkBlindBox(chain, terms, cert, header, leafMax) {
  const r = cert.record;
  const entry = cert.reveal;
  if (!terms) {
    if (entry) mismatch("reveal", "the series is not a blind box");
    if (r.variant) mismatch("record.variant", "the series is not a blind box");
    return null;
  }
  if (!entry) {
    if (r.variant) mismatch("record.variant", "a variant without the reveal that draws it (the box is not revealed)");
    return { reveal: null };
  }
  await entryInclusion(entry, header, "reveal");
  const leaf = entryDecode(entry, header, "reveal", leafMax);
  const b = leaf.tx.body;
  if (b.kind !== "reveal_blind_box") mismatch("reveal.leaf", `is a ${b.kind} transaction, not a blind-box reveal`);
  if (!bytesEqual(b.series_id, r.series_id)) {
    mismatch("reveal.series_id", `the reveal is of series ${toHex(b.series_id)}, not ${toHex(r.series_id)}`);
  }
  if (entry.leaf_index <= cert.mint.leaf_index) mismatch("reveal.leaf_index", "the reveal is logged before the mint");
  const commitment = await seedCommitment(chain, b.seed);
  if (!bytesEqual(commitment, terms.seed_commitment)) {
    mismatch("reveal.seed", `its commitment ${toHex(commitment)} is not the series' ${toHex(terms.seed_commitment)}`);
  }
  const msg = domainPreimage(TAG.TX, chain, leaf.tx.bodyBytes);
  for (const x of leaf.tx.signatures) await verifySignature(x.signer, msg, x.signature, "transaction");
  if (!leaf.tx.signatures.some((x) => bytesEqual(x.signer, r.issuer))) {
    mismatch("reveal.leaf", "the reveal is not signed by the series' issuer");
  }
  const deck = await drawVariants(chain, b.series_id, b.seed, b.entropy, terms.variants);
  const drawn = deck && r.edition >= 1n ? deck[Number(r.edition - 1n)] : undefined;
  if (drawn === undefined) mismatch("record.edition", `the draw has no edition ${r.edition}`);
  const variant = terms.variants[drawn];
  if (!r.variant) {
    mismatch("record.variant", `missing: the reveal draws variant ${drawn} (${JSON.stringify(variant.name)}) for this edition`);
  }
  if (r.variant.index !== BigInt(drawn)) {
    mismatch("record.variant.index", `record says ${r.variant.index}, the draw gives ${drawn}`);
  }
  if (r.variant.name !== variant.name) {
    mismatch("record.variant.name", `record says ${JSON.stringify(r.variant.name)}, the terms say ${JSON.stringify(variant.name)}`);
  }
  if (!bytesEqual(r.variant.content_hash, variant.content_hash)) {
    mismatch(
      "record.variant.content_hash",
      `record says ${toHex(r.variant.content_hash)}, the terms say ${toHex(variant.content_hash)}`,
    );
  }
  return {
    reveal: {
      height: num(leaf.height),
      time_ms: num(leaf.time_ms),
      tx_id: toHex(await txId(chain, leaf.tx.bodyBytes)),
      leaf_index: num(entry.leaf_index),
    },
  };
}

// ---------------------------------------------------------------------------
// Status answers (CertificateStatus::verify)

export const STATUS_STEPS = Object.freeze([
  { id: "file", label: "Answer file" },
  { id: "certificate", label: "About this certificate" },
  { id: "checkpoint", label: "Checkpoint signed by a quorum" },
  { id: "revocation", label: "Revocation" },
  { id: "burn", label: "Burned by a synthesis" },
]);

/**
 * Verifies a node's status answer (keepsake_getCertificateStatus) for a
 * certificate already verified by verifyCertificate against the same genesis.
 * Returns { ok: true, status: "revoked" | "burned" | "active", certificateId,
 * checkpointHeight, revocation, burn, steps } or { ok: false, code, message, step, steps }.
 * "active" is the node's word: the checkpoint is genuine, the absence of a
 * revocation or a burn is not proven.
 */
export async function verifyStatus(statusJsonText, genesisObject, verifiedCertificateResult) {
  const steps = new Steps(STATUS_STEPS);
  let current = "file";
  const failed = (e, step = current) => {
    steps.set(step, "failed", e.message);
    steps.notReached();
    return { ok: false, code: e.code, message: e.message, step, steps: steps.list };
  };
  try {
    const cert = verifiedCertificateResult;
    if (!cert || !cert.ok || !cert._exact) {
      fail("CertificateMismatch", "the certificate was not verified: verify it first");
    }
    let g;
    try {
      g = await loadGenesis(genesisObject);
    } catch (e) {
      if (e instanceof VerifyError) return failed(e, "checkpoint");
      throw e;
    }
    const genesis = g.genesis;
    const chain = genesis.chain_id;
    let st;
    try {
      st = parseTyped(toText(statusJsonText, "status answer"), STATUS);
      st.transitions ??= [];
    } catch (e) {
      if (e instanceof JsonError) fail("Malformed", `malformed certificate status: ${e.message}`);
      throw e;
    }
    steps.set(
      "file",
      "passed",
      `the node says: ${st.revocation ? "revoked" : st.burn ? "burned" : "active"}${st.revocation && st.burn ? " and burned" : ""}`,
    );

    current = "certificate";
    if (!bytesEqual(st.certificate_id, cert._exact.certificateId)) {
      mismatch(
        "certificate_id",
        `the answer is about ${toHex(st.certificate_id)}, not ${toHex(cert._exact.certificateId)}`,
      );
    }
    steps.set("certificate", "passed", toHex(st.certificate_id));

    current = "checkpoint";
    const schedule = await followTransitions(genesis, st.transitions);
    scheduleAtCheckpoint(schedule, st.checkpoint, st.transitions.length);
    const cp = await verifyCheckpoint(genesis, schedule, st.checkpoint);
    const header = st.checkpoint.header;
    // As CertificateStatus::verify: an answer whose log does not contain the mint is stale.
    if (header.log_size <= cert._exact.mintLeafIndex) {
      mismatch(
        "checkpoint",
        `the answer's log (${header.log_size} entries) does not contain the mint (entry ${cert._exact.mintLeafIndex})`,
      );
    }
    const after = schedule.changes.length ? `, after ${schedule.changes.length} validator-set changes` : "";
    steps.set("checkpoint", "passed", `block ${header.height}, power ${cp.signedPower} of ${cp.total}${after}`);

    const leafMax = Number(genesis.params.tx_bytes_max) + 64;
    current = "revocation";
    let revocation = null;
    const entry = st.revocation;
    if (!entry) {
      steps.set(
        "revocation",
        "skipped",
        `none shown: not revoked at block ${header.height} on the node's word (absence is not proven)`,
      );
    } else {
      await entryInclusion(entry, header, "revocation");
      const leaf = entryDecode(entry, header, "revocation", leafMax);
      const b = leaf.tx.body;
      if (b.kind !== "revoke") mismatch("revocation.leaf", `is a ${b.kind} transaction, not a revocation`);
      expectEq("revocation.certificate_id", b.certificate_id, st.certificate_id);
      if (entry.leaf_index <= cert._exact.mintLeafIndex) {
        mismatch("revocation.leaf_index", "the revocation is logged before the mint");
      }
      const msg = domainPreimage(TAG.TX, chain, leaf.tx.bodyBytes);
      for (const s of leaf.tx.signatures) await verifySignature(s.signer, msg, s.signature, "transaction");
      // T7/T8 (Revoke): the issuer alone, or k distinct governors and nobody
      // else. The governors in force change by governance (SetGovernance) and
      // are ledger state, not visible offline: that a governance revocation had
      // its k governors is the ledger's check, vouched for by the quorum that
      // signed the checkpoint. Checked here, as in Rust, is the shape: the issuer
      // alone, or signers without the issuer.
      const issuer = toHex(cert._exact.issuer);
      const signers = leaf.tx.signatures.map((s) => toHex(s.signer));
      let by;
      if (signers.length === 1 && signers[0] === issuer) {
        by = "issuer";
      } else if (signers.includes(issuer)) {
        mismatch("revocation.leaf", "signed by the issuer together with others: the issuer revokes alone");
      } else {
        by = "governance";
      }
      revocation = {
        reason: b.reason,
        by,
        height: num(leaf.height),
        time_ms: num(leaf.time_ms),
        tx_id: toHex(await txId(chain, leaf.tx.bodyBytes)),
        leaf_index: num(entry.leaf_index),
      };
      steps.set(
        "revocation",
        "passed",
        `revoked at block ${revocation.height} by the ${by}: ${JSON.stringify(b.reason)}`,
      );
    }

    // The burn (life_proof.rs check_burn): a synthesis entry of the answer's
    // log listing this certificate, after its mint, to its holder (T44),
    // signed by the issuer (T7/T8).
    current = "burn";
    let burn = null;
    if (!st.burn) {
      steps.set("burn", "skipped", `none shown: not burned at block ${header.height} on the node's word`);
    } else {
      const e = st.burn;
      await entryInclusion(e, header, "burn");
      const leaf = entryDecode(e, header, "burn", leafMax);
      const b = leaf.tx.body;
      if (b.kind !== "synthesize") mismatch("burn.leaf", `is a ${b.kind} transaction, not a synthesis`);
      if (!b.inputs.some((id) => bytesEqual(id, st.certificate_id))) {
        mismatch("burn.inputs", `the synthesis burns ${b.inputs.length} certificates, not ${toHex(st.certificate_id)}`);
      }
      if (e.leaf_index <= cert._exact.mintLeafIndex) mismatch("burn.leaf_index", "the burn is logged before the mint");
      if (!bytesEqual(b.holder, cert._exact.holder)) {
        mismatch(
          "burn.holder",
          `the synthesis is for holder ${toHex(b.holder)}, the certificate's is ${toHex(cert._exact.holder)}`,
        );
      }
      const msg = domainPreimage(TAG.TX, chain, leaf.tx.bodyBytes);
      for (const x of leaf.tx.signatures) await verifySignature(x.signer, msg, x.signature, "transaction");
      if (!leaf.tx.signatures.some((x) => bytesEqual(x.signer, cert._exact.issuer))) {
        mismatch("burn.leaf", "the synthesis is not signed by the certificate's issuer");
      }
      burn = {
        into: toHex(await certificateId(chain, b.series_id, b.edition)),
        height: num(leaf.height),
        time_ms: num(leaf.time_ms),
        tx_id: toHex(await txId(chain, leaf.tx.bodyBytes)),
        leaf_index: num(e.leaf_index),
      };
      steps.set("burn", "passed", `burned at block ${burn.height} into certificate ${burn.into}`);
    }
    return {
      ok: true,
      status: revocation ? "revoked" : burn ? "burned" : "active",
      certificateId: toHex(st.certificate_id),
      checkpointHeight: num(header.height),
      revocation,
      burn,
      steps: steps.list,
    };
  } catch (e) {
    if (e instanceof VerifyError) return failed(e, current);
    throw e;
  }
}

/** Parses a header/commit JSON object of an RPC answer (tools, the page). */
export function parseCheckpoint(value) {
  return parseTyped(typeof value === "string" ? value : JSON.stringify(value), CHECKPOINT);
}
