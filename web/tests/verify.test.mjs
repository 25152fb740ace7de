// Tests of web/verify.js: `node --test web/tests/` (Node.js 20, no packages).
// The golden fixtures of tests/fixtures/certificates/ are produced and checked
// by the Rust code (tests/tests/golden.rs); each verdict here must be exactly
// the Rust verdict.

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";

import {
  verifyCertificate,
  verifyStatus,
  loadGenesis,
  varint,
  pstr,
  toHex,
  fromHex,
  concat,
  sha256,
  sha256js,
  sha512js,
  webCryptoEd25519,
  domainPreimage,
  TAG,
  holderId,
  seriesId,
  certificateId,
  txId,
  blockHash,
  validatorsHash,
  encodeHeader,
  encodeVoteData,
  encodeLogLeaf,
  decodeLogLeaf,
  leafHash,
  nodeHash,
  verifyInclusion,
  verifyConsistency,
  verifySignature,
  isValidPoint,
  _setWebCryptoEd25519,
  VerifyError,
  CERTIFICATE_FILE_MAX,
  applyValidatorChange,
  ChangeRefusal,
  encodeTxBody,
  encodeValidatorChange,
  followTransitions,
  ValidatorSchedule,
  SET_CHANGE_DELAY,
  TRANSITIONS_MAX,
  TOTAL_POWER_MAX,
  drawVariants,
  seedCommitment,
  reviewMessage,
  encodeSeriesTerms,
  checkHolder,
  parseHolderOpening,
} from "../verify.js";

const FIXTURES = new URL("../../tests/fixtures/certificates/", import.meta.url);
const read = (name) => readFileSync(new URL(name, FIXTURES), "utf8");
const expected = JSON.parse(read("expected.json"));

const certVerdict = (r) => (r.ok ? "valid" : r.code);
const utf8 = (text) => new TextEncoder().encode(text);

/** Expects `promise` to reject with a VerifyError of `code`. */
async function rejectsWith(promise, code) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof VerifyError, `not a VerifyError: ${e}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

// ---------------------------------------------------------------------------

describe("golden fixtures (expected.json)", () => {
  for (const { file, genesis, verdict } of expected.certificates) {
    test(`certificate ${file} against ${genesis} is ${verdict}`, async () => {
      const r = await verifyCertificate(read(file), JSON.parse(read(genesis)));
      assert.equal(certVerdict(r), verdict, r.message);
      assert.deepEqual(
        r.steps.map((s) => s.id),
        ["file", "chain", "checkpoint", "consistency", "inclusion", "record"],
      );
      if (r.ok) {
        assert.ok(r.steps.every((s) => s.status === "passed" || (s.id === "consistency" && s.status === "skipped")));
        assert.equal(r.steps.find((s) => s.id === "consistency").status, r.previousHeight === null ? "skipped" : "passed");
      } else {
        assert.equal(r.steps.filter((s) => s.status === "failed").length, 1);
        assert.equal(r.steps.find((s) => s.status === "failed").id, r.step);
      }
    });
  }

  for (const { certificate, file, verdict } of expected.statuses) {
    test(`status ${file} for ${certificate} is ${verdict}`, async () => {
      const genesis = read("genesis.json");
      const cert = await verifyCertificate(read(certificate), genesis);
      assert.ok(cert.ok, cert.message);
      const r = await verifyStatus(read(file), genesis, cert);
      assert.equal(r.ok ? r.status : r.code, verdict, r.message);
    });
  }

  test("the failing step of each tampered fixture", async () => {
    const genesis = read("genesis.json");
    const steps = {
      "tampered-record.json": "record",
      "tampered-holder.json": "record",
      "tampered-proof.json": "inclusion",
      "tampered-leaf.json": "inclusion",
      "tampered-header.json": "checkpoint",
      "tampered-signature.json": "checkpoint",
      "too-few-signatures.json": "checkpoint",
      "wrong-chain.json": "chain",
      "malformed.json": "file",
      "tampered-consistency.json": "consistency",
    };
    for (const [file, step] of Object.entries(steps)) {
      const r = await verifyCertificate(read(file), genesis);
      assert.equal(r.step, step, file);
    }
  });

  test("the revocation of the revoked fixture", async () => {
    const genesis = read("genesis.json");
    const cert = await verifyCertificate(read("revoked.json"), genesis);
    const r = await verifyStatus(read("revoked-status.json"), genesis, cert);
    assert.equal(r.status, "revoked");
    assert.equal(r.revocation.reason, "minted in error");
    assert.equal(r.revocation.by, "issuer");
    assert.equal(r.revocation.height, 4);
    const active = await verifyStatus(read("active-status.json"), genesis, await verifyCertificate(read("valid.json"), genesis));
    assert.equal(active.revocation, null);
    assert.equal(active.checkpointHeight, 5);
  });

  test("every certificate fixture gets the same verdict with the BigInt ed25519 path", async () => {
    _setWebCryptoEd25519(false);
    try {
      for (const { file, genesis, verdict } of expected.certificates) {
        const r = await verifyCertificate(read(file), read(genesis));
        assert.equal(certVerdict(r), verdict, `${file}: ${r.message}`);
      }
    } finally {
      _setWebCryptoEd25519(undefined);
    }
  });
});

// ---------------------------------------------------------------------------
// Insecure context: no crypto.subtle, so the pure-JS SHA-2 and the BigInt
// Ed25519 path must give exactly the Rust verdicts.

/**
 * Runs `fn` with globalThis.crypto replaced by `replacement` (Node 20 defines
 * it as a configurable getter on globalThis), then puts the original back.
 */
async function withCrypto(replacement, fn) {
  const saved = Object.getOwnPropertyDescriptor(globalThis, "crypto");
  Object.defineProperty(globalThis, "crypto", { value: replacement, configurable: true, writable: true });
  _setWebCryptoEd25519(undefined); // detect afresh, as a page loaded over plain http would
  try {
    return await fn();
  } finally {
    Object.defineProperty(globalThis, "crypto", saved);
    _setWebCryptoEd25519(undefined);
  }
}

// A browser's insecure context has crypto (getRandomValues) without subtle;
// also check with no crypto object at all.
const NO_SUBTLE = {
  "no globalThis.crypto": undefined,
  "crypto without subtle": { getRandomValues: (a) => a },
};

describe("without crypto.subtle (plain http on a LAN address)", () => {
  for (const [name, replacement] of Object.entries(NO_SUBTLE)) {
    test(`every certificate and status fixture gets its expected verdict (${name})`, async () => {
      await withCrypto(replacement, async () => {
        assert.equal(globalThis.crypto?.subtle, undefined);
        assert.equal(await webCryptoEd25519(), false);
        const seen = { certificates: 0, statuses: 0 };
        for (const { file, genesis, verdict } of expected.certificates) {
          const r = await verifyCertificate(read(file), JSON.parse(read(genesis)));
          assert.equal(certVerdict(r), verdict, `${file} against ${genesis}: ${r.message}`);
          seen.certificates++;
        }
        for (const { certificate, file, verdict } of expected.statuses) {
          const genesis = read("genesis.json");
          const cert = await verifyCertificate(read(certificate), genesis);
          assert.ok(cert.ok, cert.message);
          const r = await verifyStatus(read(file), genesis, cert);
          assert.equal(r.ok ? r.status : r.code, verdict, `${file} for ${certificate}: ${r.message}`);
          seen.statuses++;
        }
        assert.deepEqual(seen, { certificates: expected.certificates.length, statuses: expected.statuses.length });
        assert.ok(seen.certificates > 0 && seen.statuses > 0);
        // the hash used by the verifier is the pure-JS one here
        assert.deepEqual(await sha256(utf8("abc")), sha256js(utf8("abc")));
      });
      // and WebCrypto is back afterwards
      assert.equal(typeof globalThis.crypto.subtle.digest, "function");
    });
  }
});

describe("pure-JS SHA-256 and SHA-512 (FIPS 180-4)", () => {
  const A448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  // FIPS 180-4 examples (NIST CSRC "Examples with Intermediate Values") and the NIST short-message vectors.
  const SHA256_VECTORS = [
    ["abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"],
    ["", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"],
    [A448, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"],
  ];
  const SHA512_VECTORS = [
    [
      "abc",
      "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
    ],
    [
      "",
      "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
    ],
    [
      A448,
      "204a8fc6dda82f0a0ced7beb8e08a41657c16ef468b228a8279be331a703c33596fd15c13b1b07f9aa1d3bea57789ca031ad85c7a71dd70354ec631238ca3445",
    ],
  ];

  test("NIST vectors: abc, empty, 448-bit message", () => {
    for (const [msg, digest] of SHA256_VECTORS) assert.equal(toHex(sha256js(utf8(msg))), digest, `SHA-256 ${JSON.stringify(msg)}`);
    for (const [msg, digest] of SHA512_VECTORS) assert.equal(toHex(sha512js(utf8(msg))), digest, `SHA-512 ${JSON.stringify(msg)}`);
  });

  test("NIST vector: SHA-256 of one million 'a'", () => {
    assert.equal(
      toHex(sha256js(new Uint8Array(1_000_000).fill(0x61))),
      "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
    );
  });

  test("same as node:crypto createHash for every length 0..300", () => {
    // deterministic pseudo-random bytes (xorshift32), so a failure is reproducible
    let x = 0x9e3779b9;
    const next = () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return x & 0xff;
    };
    for (let n = 0; n <= 300; n++) {
      const msg = Uint8Array.from({ length: n }, next);
      assert.equal(toHex(sha256js(msg)), createHash("sha256").update(msg).digest("hex"), `SHA-256, ${n} bytes`);
      assert.equal(toHex(sha512js(msg)), createHash("sha512").update(msg).digest("hex"), `SHA-512, ${n} bytes`);
    }
  });

  test("accepts what WebCrypto's digest accepts (subarrays, ArrayBuffer, DataView)", async () => {
    const all = utf8(`xx${A448}yy`);
    const sub = all.subarray(2, 2 + A448.length);
    const buf = sub.slice().buffer;
    for (const input of [sub, buf, new DataView(buf)]) {
      assert.equal(toHex(sha256js(input)), SHA256_VECTORS[2][1]);
      assert.equal(toHex(sha512js(input)), SHA512_VECTORS[2][1]);
      assert.equal(toHex(await sha256(input)), SHA256_VECTORS[2][1]); // WebCrypto here
    }
    assert.throws(() => sha256js([1, 2, 3]), TypeError);
  });
});

// ---------------------------------------------------------------------------

describe("tampering", () => {
  const genesis = () => read("genesis.json");
  const valid = () => JSON.parse(read("valid.json"));

  test("a chain id outside the rule is Malformed at step file, as in Rust (ChainId)", async () => {
    const cases = [
      ["a".repeat(300), /300 bytes, over the limit of 64/],
      ["a".repeat(65), /65 bytes, over the limit of 64/],
      ["", /is empty/],
      ["Keepsake-Test", /outside \[a-z0-9-\]/],
    ];
    for (const [chainId, why] of cases) {
      for (const where of ["certificate", "header"]) {
        const c = valid();
        if (where === "certificate") c.chain_id = chainId;
        else c.checkpoint.header.chain_id = chainId;
        const r = await verifyCertificate(JSON.stringify(c), genesis());
        assert.equal(r.code, "Malformed", `${where}: ${r.message}`);
        assert.equal(r.step, "file", where);
        assert.match(r.message, why, where);
      }
    }
    // A valid but foreign chain id is a verdict, not a decoding error.
    const c = valid();
    c.chain_id = "another-chain";
    assert.equal((await verifyCertificate(JSON.stringify(c), genesis())).code, "WrongChain");
  });

  test("a changed record field fails at step record", async () => {
    for (const [field, value] of [
      ["series_name", "jade2"],
      ["metadata_uri", "https://example.org/other.json"],
      ["max_supply", 9],
      ["time_ms", 1700000003001],
      ["mint_tx", "00".repeat(32)],
      ["content_hash", "11".repeat(32)],
    ]) {
      const c = valid();
      c.record[field] = value;
      const r = await verifyCertificate(JSON.stringify(c), genesis());
      assert.equal(r.ok, false, field);
      assert.equal(r.code, "CertificateMismatch", field);
      assert.equal(r.step, "record", field);
      assert.match(r.message, new RegExp(`record\\.${field}`), field);
      const steps = Object.fromEntries(r.steps.map((s) => [s.id, s.status]));
      assert.deepEqual(steps, {
        file: "passed",
        chain: "passed",
        checkpoint: "passed",
        consistency: "skipped",
        inclusion: "passed",
        record: "failed",
      });
    }
  });

  test("a commit cut to 2 signatures fails at step checkpoint with InsufficientPower", async () => {
    const c = valid();
    c.checkpoint.commit.signatures = c.checkpoint.commit.signatures.slice(0, 2);
    const r = await verifyCertificate(JSON.stringify(c), genesis());
    assert.equal(r.code, "InsufficientPower");
    assert.equal(r.step, "checkpoint");
    assert.equal(r.steps.find((s) => s.id === "checkpoint").status, "failed");
    assert.equal(r.steps.find((s) => s.id === "record").status, "skipped");
  });

  test("commit errors in the Rust order", async () => {
    const sigs = valid().checkpoint.commit.signatures;
    const cases = [
      ["CommitHeightMismatch", (c) => (c.checkpoint.commit.height += 1)],
      ["DuplicateCommitSignature", (c) => (c.checkpoint.commit.signatures[2] = sigs[0])],
      ["UnknownValidator", (c) => (c.checkpoint.commit.signatures[0].validator = c.record.issuer)],
      ["InsufficientPower", (c) => (c.checkpoint.commit.signatures = [])],
    ];
    for (const [code, mutate] of cases) {
      const c = valid();
      mutate(c);
      const r = await verifyCertificate(JSON.stringify(c), genesis());
      assert.equal(r.code, code);
      assert.equal(r.step, "checkpoint");
    }
  });

  test("the file: unknown, duplicate, missing fields, types, size", async () => {
    const text = read("valid.json");
    const malformed = [
      text.replace('"format"', '"price": 1,\n"format"'),
      text.replace('"edition": 2,', '"edition": 2, "edition": 2,'),
      text.replace('"series_name": "jade",', ""),
      text.replace('"edition": 2', '"edition": 2.0'),
      text.replace('"edition": 2', '"edition": -2'),
      text.replace('"edition": 2', '"edition": 4294967298'),
      text.replace('"height": 3', '"height": 18446744073709551616'),
      text.replace('"edition": 2', '"edition": "2"'),
      text.replace('"series_name": "jade"', '"series_name": "\\ud800jade"'),
      text.replace('"record": {', '"record": {"extra": null,'),
      text.replace('"checkpoint": {', '"previous": {"consistency": []},\n"checkpoint": {'),
      text + "x",
      "\ufeff" + text,
      text.replace("keepsake-certificate/v1", "keepsake-certificate/v2"),
      text.replace(/"leaf": "03/, '"leaf": "3'),
      text.replace('"holder": "63', '"holder": "6'),
    ];
    for (const t of malformed) {
      const r = await verifyCertificate(t, genesis());
      assert.equal(r.code, "Malformed", t.slice(0, 40));
      assert.equal(r.step, "file");
    }
    // The limit is CERTIFICATE_FILE_MAX = 4 MiB (room for the set transitions), counted in UTF-8 bytes.
    assert.equal(CERTIFICATE_FILE_MAX, 4 * 1024 * 1024);
    const pad = (n) => text.replace(/\n}\n$/, "\n}" + " ".repeat(n) + "\n");
    const atLimit = pad(CERTIFICATE_FILE_MAX - utf8(text).length);
    assert.equal(utf8(atLimit).length, CERTIFICATE_FILE_MAX);
    assert.ok((await verifyCertificate(atLimit, genesis())).ok, "a file of exactly 4 MiB is read");
    const big = pad(CERTIFICATE_FILE_MAX - utf8(text).length + 1);
    const r = await verifyCertificate(big, genesis());
    assert.equal(r.code, "TooLarge");
    assert.equal(r.step, "file");
  });

  test("accepted like serde: 0x prefix, upper case hex, previous null, u64 above 2^53", async () => {
    const c = valid();
    c.record.holder = "0x" + c.record.holder.toUpperCase();
    c.previous = null;
    assert.ok((await verifyCertificate(JSON.stringify(c), genesis())).ok);
    // A time above 2^53 is parsed exactly, and reported as a mismatch (not a parse error).
    const text = read("valid.json").replace('"time_ms": 1700000003000', '"time_ms": 18446744073709551615');
    const r = await verifyCertificate(text, genesis());
    assert.equal(r.code, "CertificateMismatch");
    assert.match(r.message, /record says 18446744073709551615, log says 1700000003000/);
    // Bytes in, too.
    assert.ok((await verifyCertificate(new TextEncoder().encode(read("valid.json")), genesis())).ok);
  });

  test("a bad genesis is InvalidGenesis", async () => {
    const g = JSON.parse(read("genesis.json"));
    g.governance_threshold = 4;
    const r = await verifyCertificate(read("valid.json"), g);
    assert.equal(r.code, "InvalidGenesis");
    const g2 = JSON.parse(read("genesis.json"));
    g2.validators[0].public_key = "01" + "00".repeat(31); // the identity: small order
    assert.equal((await verifyCertificate(read("valid.json"), g2)).code, "InvalidGenesis");
    const g3 = JSON.parse(read("genesis.json"));
    g3.surprise = 1;
    assert.equal((await verifyCertificate(read("valid.json"), g3)).code, "InvalidGenesis");
  });
});

// ---------------------------------------------------------------------------
// Synthetic checkpoints signed with the deterministic test keys (testkit.rs:
// key n has seed n || 00×30 || 6b; validators are keys 100..103), to reach
// checks no golden fixture reaches.

const seedOf = (n) => {
  const s = new Uint8Array(32);
  s[0] = n;
  s[31] = 0x6b;
  return s;
};
const PKCS8_ED25519 = fromHex("302e020100300506032b657004220420");

async function keypair(n) {
  const key = await crypto.subtle.importKey("pkcs8", concat(PKCS8_ED25519, seedOf(n)), { name: "Ed25519" }, true, ["sign"]);
  const jwk = await crypto.subtle.exportKey("jwk", key);
  const pub = new Uint8Array(Buffer.from(jwk.x, "base64url"));
  return { pub, sign: async (msg) => new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, key, msg)) };
}

/** MTH over leaf hashes (RFC 6962 §2.1, written naively). */
async function mth(hashes) {
  if (hashes.length === 0) return sha256(new Uint8Array(0));
  if (hashes.length === 1) return hashes[0];
  let k = 1;
  while (k * 2 < hashes.length) k *= 2;
  return nodeHash(await mth(hashes.slice(0, k)), await mth(hashes.slice(k)));
}
/** RFC 6962 PATH(m, D[n]) */
async function path(m, hashes) {
  if (hashes.length <= 1) return [];
  let k = 1;
  while (k * 2 < hashes.length) k *= 2;
  if (m < k) return [...(await path(m, hashes.slice(0, k))), await mth(hashes.slice(k))];
  return [...(await path(m - k, hashes.slice(k))), await mth(hashes.slice(0, k))];
}
/** RFC 6962 PROOF(m, D[n]) */
async function consistency(m, hashes) {
  const sub = async (m, d, complete) => {
    if (m === d.length) return complete ? [] : [await mth(d)];
    let k = 1;
    while (k * 2 < d.length) k *= 2;
    if (m <= k) return [...(await sub(m, d.slice(0, k), complete)), await mth(d.slice(k))];
    return [...(await sub(m - k, d.slice(k), false)), await mth(d.slice(0, k))];
  };
  return m === 0 || m === hashes.length ? [] : sub(m, hashes, true);
}

/** A checkpoint at `height` over `leaves` (bytes), signed by validators `signers`. */
async function checkpointOver(leaves, height, signers = [100, 101, 102, 103]) {
  const genesis = JSON.parse(read("genesis.json"));
  const hashes = await Promise.all(leaves.map(leafHash));
  const header = {
    chain_id: "keepsake-test",
    height: BigInt(height),
    prev_hash: new Uint8Array(32).fill(7),
    time_ms: 1700000000000n + BigInt(height) * 1000n,
    proposer: fromHex(genesis.validators[0].public_key),
    tx_count: 0n,
    tx_root: await sha256(new Uint8Array(0)),
    log_size: BigInt(leaves.length),
    log_root: await mth(hashes),
    validators_hash: fromHex("1437c0e03646d9ad2bfa43b2ccb3c32539fa798c0d63b8c33d660ab1c0df64ca"),
    state_root: new Uint8Array(32).fill(9),
  };
  const hash = await blockHash(header);
  const msg = domainPreimage(TAG.VOTE, "keepsake-test", encodeVoteData(height, 0, 1, hash));
  const signatures = [];
  for (const n of signers) {
    const k = await keypair(n);
    signatures.push({ validator: toHex(k.pub), signature: toHex(await k.sign(msg)) });
  }
  const json = {
    header: Object.fromEntries(
      Object.entries(header).map(([k, v]) => [k, v instanceof Uint8Array ? toHex(v) : typeof v === "bigint" ? Number(v) : v]),
    ),
    commit: { height, round: 0, block_hash: toHex(hash), signatures },
  };
  return { json, hashes };
}

/** The valid fixture re-anchored to a synthetic log (optionally with altered leaves). */
async function reanchored({ mintLeaf, seriesLeaf, seriesAt = 0, mintAt = 1, height = 9 } = {}) {
  const c = JSON.parse(read("valid.json"));
  const leaves = [new Uint8Array([1]), new Uint8Array([2]), new Uint8Array([3])];
  leaves[seriesAt] = seriesLeaf ?? fromHex(c.series.leaf);
  leaves[mintAt] = mintLeaf ?? fromHex(c.mint.leaf);
  const { json, hashes } = await checkpointOver(leaves, height);
  c.checkpoint = json;
  c.series = { leaf_index: seriesAt, leaf: toHex(leaves[seriesAt]), proof: (await path(seriesAt, hashes)).map(toHex) };
  c.mint = { leaf_index: mintAt, leaf: toHex(leaves[mintAt]), proof: (await path(mintAt, hashes)).map(toHex) };
  return JSON.stringify(c);
}

describe("synthetic checkpoints (test keys)", () => {
  test("the testkit seeds give the genesis validators", async () => {
    const genesis = JSON.parse(read("genesis.json"));
    for (let i = 0; i < 4; i++) assert.equal(toHex((await keypair(100 + i)).pub), genesis.validators[i].public_key);
    assert.equal(toHex((await keypair(1)).pub), "bbe9753f42d082d0207b1aa38b15dbd9b916458615a6aa0dc7ecc04c105e408d");
  });

  test("the fixture's leaves re-anchored to a new signed checkpoint verify", async () => {
    const r = await verifyCertificate(await reanchored(), read("genesis.json"));
    assert.ok(r.ok, r.message);
    assert.equal(r.checkpointHeight, 9);
    assert.equal(r.logSize, 3);
  });

  test("leaf decoding runs after the mint inclusion proof and before the series proof", async () => {
    const valid = JSON.parse(read("valid.json"));
    const mint = fromHex(valid.mint.leaf);
    // Over-long varint for the height (03 -> 83 00): decodes in postcard, but is not canonical.
    const overlong = concat([0x83, 0x00], mint.subarray(1));
    let r = await verifyCertificate(await reanchored({ mintLeaf: overlong }), read("genesis.json"));
    assert.equal(r.code, "Malformed");
    assert.equal(r.step, "record");
    assert.equal(r.steps.find((s) => s.id === "inclusion").status, "passed");
    // Trailing byte.
    r = await verifyCertificate(await reanchored({ mintLeaf: concat(mint, [0]) }), read("genesis.json"));
    assert.equal(r.code, "Malformed");
    // Too large: tx_bytes_max + 64 = 4160.
    r = await verifyCertificate(await reanchored({ mintLeaf: new Uint8Array(4161) }), read("genesis.json"));
    assert.equal(r.code, "TooLarge");
    // A malformed mint leaf is reported before a wrong series proof (Rust order).
    const c = JSON.parse(await reanchored({ mintLeaf: overlong }));
    c.series.proof[0] = "00".repeat(32);
    r = await verifyCertificate(JSON.stringify(c), read("genesis.json"));
    assert.equal(r.code, "Malformed");
    assert.equal(r.step, "record");
    assert.equal(r.steps.find((s) => s.id === "inclusion").status, "failed");
    // With a good mint leaf, the wrong series proof is the failure.
    const c2 = JSON.parse(await reanchored());
    c2.series.proof[0] = "00".repeat(32);
    r = await verifyCertificate(JSON.stringify(c2), read("genesis.json"));
    assert.equal(r.code, "ProofMismatch");
    assert.equal(r.step, "inclusion");
  });

  test("a series leaf not signed by its issuer is a mismatch before its signatures are checked", async () => {
    // Rust order (protocol.md §7.2 steps 18-19): replace the series creation's one signature
    // (the leaf's last 96 bytes: signer, signature) with the reviewer's key and a bad signature.
    // Both are wrong; the issuer check comes first.
    const valid = JSON.parse(read("valid.json"));
    const series = fromHex(valid.series.leaf);
    const reviewer = (await keypair(2)).pub;
    const forged = concat(series.subarray(0, series.length - 96), reviewer, new Uint8Array(64).fill(1));
    const r = await verifyCertificate(await reanchored({ seriesLeaf: forged }), read("genesis.json"));
    assert.equal(r.code, "CertificateMismatch", r.message);
    assert.match(r.message, /series creation is not signed by its issuer/);
  });

  test("leaf above the checkpoint, series after the mint, swapped leaves", async () => {
    let r = await verifyCertificate(await reanchored({ height: 2 }), read("genesis.json"));
    assert.equal(r.code, "CertificateMismatch");
    assert.match(r.message, /mint/);
    r = await verifyCertificate(await reanchored({ seriesAt: 2, mintAt: 1 }), read("genesis.json"));
    assert.equal(r.code, "CertificateMismatch");
    assert.match(r.message, /series\.leaf_index/);
    const valid = JSON.parse(read("valid.json"));
    r = await verifyCertificate(
      await reanchored({ mintLeaf: fromHex(valid.series.leaf), seriesLeaf: fromHex(valid.mint.leaf) }),
      read("genesis.json"),
    );
    assert.equal(r.code, "CertificateMismatch");
    assert.match(r.message, /mint\.leaf/);
  });

  test("a refreshed certificate whose older checkpoint is not older, or lacks the mint", async () => {
    const refreshed = JSON.parse(read("refreshed.json"));
    const c = JSON.parse(read("refreshed.json"));
    c.previous.checkpoint = refreshed.checkpoint;
    c.previous.consistency = [];
    let r = await verifyCertificate(JSON.stringify(c), read("genesis.json"));
    assert.equal(r.code, "CertificateMismatch");
    assert.equal(r.step, "consistency");
    // An older checkpoint of 3 leaves (the first three of a synthetic log) that lacks leaf index 4.
    const leaves = [1, 2, 3, 4, 5, 6, 7].map((i) => new Uint8Array([i]));
    const old = await checkpointOver(leaves.slice(0, 3), 2);
    const neu = await checkpointOver(leaves, 6);
    const d = JSON.parse(read("valid.json"));
    d.checkpoint = neu.json;
    d.previous = { checkpoint: old.json, consistency: (await consistency(3, neu.hashes)).map(toHex) };
    r = await verifyCertificate(JSON.stringify(d), read("genesis.json"));
    assert.equal(r.code, "CertificateMismatch", r.message);
    assert.match(r.message, /previous\.checkpoint/);
    // The older checkpoint must itself carry a quorum.
    const weak = await checkpointOver(leaves.slice(0, 5), 2, [100, 101]);
    d.previous = { checkpoint: weak.json, consistency: (await consistency(5, neu.hashes)).map(toHex) };
    r = await verifyCertificate(JSON.stringify(d), read("genesis.json"));
    assert.equal(r.code, "InsufficientPower");
    assert.equal(r.step, "consistency");
  });
});

// ---------------------------------------------------------------------------

describe("protocol.md vectors", () => {
  test("§1 varints", () => {
    const vectors = [
      [1, "01"],
      [127, "7f"],
      [128, "8001"],
      [300, "ac02"],
      [4096, "8020"],
      [10000, "904e"],
      [2 ** 32 - 1, "ffffffff0f"],
      [1_700_000_000_000, "80d095ffbc31"],
      [0, "00"],
      [(1n << 64n) - 1n, "ffffffffffffffffff01"],
    ];
    for (const [n, hex] of vectors) assert.equal(toHex(varint(n)), hex, String(n));
  });

  test("§2 holder id preimage and value", async () => {
    const pre = domainPreimage(TAG.HOLDER, "", concat(pstr("5f2c9a"), pstr("alice@example.com")));
    assert.equal(
      toHex(pre),
      "126b65657073616b652f686f6c6465722f7631000635663263396111616c696365406578616d706c652e636f6d",
    );
    assert.equal(toHex(await holderId("5f2c9a", "alice@example.com")), "4f85287d9e40073be848dab9a904d7ecc3415a869ac7ac1c8b6cbbf3704b6b38");
  });

  const ISSUER = fromHex("bbe9753f42d082d0207b1aa38b15dbd9b916458615a6aa0dc7ecc04c105e408d");
  const SERIES = "7c9c85e2db9f4cbe3d8c4bf982c112e1691193f31e570f2d4e77d7a2bce08101";
  const HOLDER = "4f85287d9e40073be848dab9a904d7ecc3415a869ac7ac1c8b6cbbf3704b6b38";
  const MINT_SIG =
    "85daa662503678e4a3e8c0f490a0fdcf3163601a5b1d91b56d15e094f823d922" +
    "2ced6da71be62a8b14af0ce0b1782b87eac24a9a2d45c72bbc190e47176f410e";

  test("§4.4 series id and certificate id, §9", async () => {
    assert.equal(toHex(await seriesId("keepsake-test", ISSUER, "apsaras")), SERIES);
    assert.equal(
      toHex(await certificateId("keepsake-test", fromHex(SERIES), 1)),
      "6c691de34a32ac7c42b60092d73d12d05279a4180c0e1fdcce04efac3c2d3cf9",
    );
  });

  test("§4.2 mint body, tx id, signature; §5.1 leaf; §9 leaf hash", async () => {
    const body = fromHex("05" + SERIES + "01" + HOLDER);
    assert.equal(body.length, 66);
    assert.equal(toHex(await txId("keepsake-test", body)), "1ff77002ed2061c7cf7c893efb486d2b36a95582c3b27eeb4007d7aa20a421f7");
    const msg = domainPreimage(TAG.TX, "keepsake-test", body);
    assert.equal(toHex(msg), "0e6b65657073616b652f74782f7631" + "0d6b65657073616b652d74657374" + toHex(body));
    await verifySignature(ISSUER, msg, fromHex(MINT_SIG), "transaction");
    _setWebCryptoEd25519(false);
    try {
      await verifySignature(ISSUER, msg, fromHex(MINT_SIG), "transaction");
    } finally {
      _setWebCryptoEd25519(undefined);
    }
    const leaf = concat(varint(3), varint(1700000102000), body, [1], ISSUER, fromHex(MINT_SIG));
    assert.equal(toHex(leaf.subarray(0, 7)), "03f0ec9bffbc31");
    assert.equal(toHex(await leafHash(leaf)), "04fdc14207a198434f10a81c4ae93600dd58cb8d8dff4c5a8b295ba71d38c63e");
    // Strict decoding and re-encoding give the same bytes.
    const decoded = decodeLogLeaf(leaf, 4160);
    assert.equal(decoded.tx.body.kind, "mint");
    assert.equal(decoded.tx.body.edition, 1n);
    assert.equal(toHex(encodeLogLeaf(decoded)), toHex(leaf));
    assert.equal(toHex(decoded.tx.bodyBytes), toHex(body));
    // A signature over another chain does not verify.
    await rejectsWith(
      verifySignature(ISSUER, domainPreimage(TAG.TX, "keepsake-other", body), fromHex(MINT_SIG)),
      "BadSignature",
    );
  });

  test("§4.5 block 3 header and hash; §4.6 precommit encoding", async () => {
    const header = {
      chain_id: "keepsake-test",
      height: 3n,
      prev_hash: fromHex("9b837f504254104bd9a54a071fa63d84e6db766cf0d6d3b64ea1c28f411486be"),
      time_ms: 1700000102000n,
      proposer: fromHex("21047a2f7d9ddc43c3d29af38c0bdedc180099906139c8c56fc0519fdac6a534"),
      tx_count: 2n,
      tx_root: fromHex("88afdaf75f6cd907b3802e26ef3005d7c4376c7c810af4e54a7fd7ce2f12963f"),
      log_size: 5n,
      log_root: fromHex("16f8c857d1dc95337b8efd2e0091562b61ddaef116b4631dd3afb18c18fca3bb"),
      validators_hash: fromHex("1437c0e03646d9ad2bfa43b2ccb3c32539fa798c0d63b8c33d660ab1c0df64ca"),
      state_root: fromHex("43fec5c63b32bcb96c72e8df6eec864056efb45cb0133542158dc468865fb46d"),
    };
    assert.equal(encodeHeader(header).length, 215);
    const hash = await blockHash(header);
    assert.equal(toHex(hash), "19bb7e9c13935fdcf998e5e3faffca0c9e58a718a2bd6f8c8f0e7c74b62d9f96");
    assert.equal(toHex(encodeVoteData(3, 1, 1, hash)), "03010101" + toHex(hash));
    assert.equal(toHex(encodeVoteData(3, 0, 0, null)), "030000" + "00");
  });

  test("§4.7 validators hash, §4.8 genesis hash (test genesis)", async () => {
    const g = await loadGenesis(read("genesis.json"));
    assert.equal(
      toHex(await validatorsHash("keepsake-test", g.genesis.validators)),
      "1437c0e03646d9ad2bfa43b2ccb3c32539fa798c0d63b8c33d660ab1c0df64ca",
    );
    assert.equal(g.hashHex, "ea633fbd89031a85def6edc2ef551f5833a87e7b5cee18e71338d6265e6a799c");
  });

  test("§5.2 empty root", async () => {
    assert.equal(toHex(await sha256(new Uint8Array(0))), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  });
});

// ---------------------------------------------------------------------------

describe("RFC 9162 proofs", () => {
  // The leaves of the RFC 6962 reference tests and the published roots of their prefixes.
  const LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"].map(fromHex);
  const ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
  ];

  test("reference roots", async () => {
    const hashes = await Promise.all(LEAVES.map(leafHash));
    for (let n = 1; n <= 8; n++) assert.equal(toHex(await mth(hashes.slice(0, n))), ROOTS[n - 1]);
  });

  test("every inclusion and consistency proof up to 17 leaves verifies; altered ones fail", async () => {
    const leaves = Array.from({ length: 17 }, (_, i) => new TextEncoder().encode(`leaf-${i}`));
    const hashes = await Promise.all(leaves.map(leafHash));
    const roots = [];
    for (let n = 0; n <= 17; n++) roots.push(await mth(hashes.slice(0, n)));
    for (let n = 1; n <= 17; n++) {
      for (let i = 0; i < n; i++) {
        const p = await path(i, hashes.slice(0, n));
        await verifyInclusion(hashes[i], i, n, p, roots[n]);
        await rejectsWith(verifyInclusion(hashes[i], i, n, p, roots[n - 1]), "ProofMismatch");
        await rejectsWith(verifyInclusion(hashes[i], n, n, p, roots[n]), "ProofMismatch");
        if (p.length) {
          const bad = p.map((x) => x.slice());
          bad[p.length - 1][0] ^= 1;
          await rejectsWith(verifyInclusion(hashes[i], i, n, bad, roots[n]), "ProofMismatch");
          await rejectsWith(verifyInclusion(hashes[i], i, n, p.slice(1), roots[n]), "ProofMismatch");
        }
        await rejectsWith(verifyInclusion(hashes[i], i, n, [...p, roots[0]], roots[n]), "ProofMismatch");
      }
      for (let m = 0; m <= n; m++) {
        const p = await consistency(m, hashes.slice(0, n));
        await verifyConsistency(m, n, roots[m], roots[n], p);
        if (p.length) {
          const bad = p.map((x) => x.slice());
          bad[0][0] ^= 1;
          await rejectsWith(verifyConsistency(m, n, roots[m], roots[n], bad), "ProofMismatch");
          await rejectsWith(verifyConsistency(m, n, roots[m], roots[n], p.slice(0, -1)), "ProofMismatch");
        }
        if (m > 0 && m < n) await rejectsWith(verifyConsistency(m, n, roots[m], roots[n - 1], p), "ProofMismatch");
      }
    }
    await rejectsWith(verifyConsistency(3, 2, roots[3], roots[2], []), "ProofMismatch");
    await rejectsWith(verifyInclusion(hashes[0], 0, 1, new Array(67).fill(hashes[0]), roots[1]), "ProofMismatch");
  });
});

// ---------------------------------------------------------------------------

describe("ed25519 (ZIP-215)", () => {
  const KEY = fromHex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  const SIG = fromHex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
  );
  const EMPTY = new Uint8Array(0);
  const L = (1n << 252n) + 27742317777372353535851937790883648493n;

  for (const path of ["webcrypto", "bigint"]) {
    test(`RFC 8032 test 1 and the ZIP-215 rules (${path})`, async () => {
      if (path === "bigint") _setWebCryptoEd25519(false);
      try {
        await verifySignature(KEY, EMPTY, SIG);
        await rejectsWith(verifySignature(KEY, new Uint8Array([0]), SIG), "BadSignature");
        // S + l: the same point equation, but S is not canonical.
        let s = 0n;
        for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(SIG[i]);
        s += L;
        const malleable = SIG.slice();
        for (let i = 32; i < 64; i++) {
          malleable[i] = Number(s & 0xffn);
          s >>= 8n;
        }
        await rejectsWith(verifySignature(KEY, EMPTY, malleable), "BadSignature");
        // y = 2 is not on the curve: BadPublicKey, as keys.rs tests.
        const notOnCurve = new Uint8Array(32);
        notOnCurve[0] = 2;
        await rejectsWith(verifySignature(notOnCurve, EMPTY, new Uint8Array(64)), "BadPublicKey");
        assert.equal(isValidPoint(notOnCurve), false);
        // ... and as R: BadSignature.
        const badR = SIG.slice();
        badR.set(notOnCurve, 0);
        await rejectsWith(verifySignature(KEY, EMPTY, badR), "BadSignature");
        // The identity key (small order) verifies R = identity, S = 0 for any message under
        // ZIP-215, but never passes isValidPoint, so it cannot enter the state or the genesis.
        const identity = new Uint8Array(32);
        identity[0] = 1;
        assert.equal(isValidPoint(identity), false);
        const sig = new Uint8Array(64);
        sig.set(identity, 0); // R = identity, S = 0: [8]([0]B - O - [k]O) == O
        await verifySignature(identity, EMPTY, sig);
        await verifySignature(identity, new Uint8Array([1, 2, 3]), sig);
        // R with its sign bit flipped (another point) is refused.
        const rFlipped = SIG.slice();
        rFlipped[31] ^= 0x80;
        await rejectsWith(verifySignature(KEY, EMPTY, rFlipped), "BadSignature");
        assert.equal(isValidPoint(KEY), true);
      } finally {
        _setWebCryptoEd25519(undefined);
      }
    });
  }
});

// The explorer computes certificate ids itself (series page, activity links):
// certificateId must give the id the Rust code put in the golden certificate.
test("certificateId matches the fixture valid.json (edition 2)", async () => {
  const cert = JSON.parse(read("valid.json"));
  assert.equal(cert.record.edition, 2);
  assert.equal(
    toHex(await certificateId("keepsake-test", fromHex(cert.record.series_id), cert.record.edition)),
    cert.certificate_id,
  );
});

// ---------------------------------------------------------------------------
// Validator-set changes (membership.rs): the new bodies, ValidatorSet::apply,
// and every check of ValidatorSchedule::follow, on the golden fixtures of the
// second chain (set-*.json) and on synthetic transitions signed with the
// test keys (keys 104 and 120 join; see golden.rs `generate_set_changes`).

const CHAIN = "keepsake-test";
const genesisValidators = () =>
  JSON.parse(read("genesis.json")).validators.map((v) => ({
    public_key: fromHex(v.public_key),
    power: BigInt(v.power),
    name: v.name,
  }));
const pub = async (n) => (await keypair(n)).pub;

/** A log leaf carrying `body` at `height` (signatures are not checked by the schedule). */
const leafOf = (body, height, signatures = []) =>
  encodeLogLeaf({ height: BigInt(height), time_ms: 1700000000000n + BigInt(height) * 1000n, tx: { body, signatures } });

const changeBody = (change, nonce = 3n) => ({ kind: "change_validators", change, nonce });

/**
 * A checkpoint at `height` over `leaves`, its header naming `validators`
 * (default: the genesis set), signed by the test keys `signers`; and the
 * entry proving leaf `at` against it.
 */
async function signedCheckpoint({ leaves, height, signers, validators, chain = CHAIN, at = leaves.length - 1 }) {
  const hashes = await Promise.all(leaves.map(leafHash));
  const header = {
    chain_id: chain,
    height: BigInt(height),
    prev_hash: new Uint8Array(32).fill(7),
    time_ms: 1700000000000n + BigInt(height) * 1000n,
    proposer: (validators ?? genesisValidators())[0].public_key,
    tx_count: 0n,
    tx_root: await sha256(new Uint8Array(0)),
    log_size: BigInt(leaves.length),
    log_root: await mth(hashes),
    validators_hash: await validatorsHash(CHAIN, validators ?? genesisValidators()),
    state_root: new Uint8Array(32).fill(9),
  };
  const hash = await blockHash(header);
  const msg = domainPreimage(TAG.VOTE, chain, encodeVoteData(height, 0, 1, hash));
  const signatures = [];
  for (const n of signers) {
    const k = await keypair(n);
    signatures.push({ validator: toHex(k.pub), signature: toHex(await k.sign(msg)) });
  }
  const json = (v) => (v instanceof Uint8Array ? toHex(v) : typeof v === "bigint" ? Number(v) : v);
  const checkpoint = {
    header: Object.fromEntries(Object.entries(header).map(([k, v]) => [k, json(v)])),
    commit: { height, round: 0, block_hash: toHex(hash), signatures },
  };
  const change = { leaf_index: at, leaf: toHex(leaves[at]), proof: (await path(at, hashes)).map(toHex) };
  return { change, checkpoint };
}

/** The change adding key 104 as org-4, committed at height 4, proven at height `cp` by the genesis set. */
async function addFifth({ cp = 4, signers = [100, 101, 102, 103], power = 1n } = {}) {
  const body = changeBody({ kind: "add", validator: { public_key: await pub(104), power, name: "org-4" } });
  return signedCheckpoint({ leaves: [new Uint8Array([1]), leafOf(body, 4)], height: cp, signers });
}

/** valid.json (checkpoint at height 5, genesis set) carrying `transitions`; its verdict. */
async function withTransitions(transitions, file = "valid.json") {
  const c = JSON.parse(read(file));
  c.transitions = transitions;
  return verifyCertificate(JSON.stringify(c), read("genesis.json"));
}

function expectTransitionError(r, index, pattern) {
  assert.equal(r.code, "InvalidTransition", r.message);
  assert.equal(r.step, "checkpoint");
  assert.match(r.message, new RegExp(`^validator-set transition ${index} is invalid: `));
  assert.match(r.message, pattern);
}

describe("validator-set changes", () => {
  test("the four new bodies: bytes, strict decoding, re-encoding", async () => {
    const k104 = await pub(104);
    const k120 = await pub(120);
    const cases = [
      [changeBody({ kind: "add", validator: { public_key: k104, power: 1n, name: "org-4" } }), `0800${toHex(k104)}01056f72672d3403`],
      [changeBody({ kind: "remove", public_key: k104 }), `0801${toHex(k104)}03`],
      [changeBody({ kind: "set_power", public_key: k104, power: 300n }), `0802${toHex(k104)}ac0203`],
      [changeBody({ kind: "rotate_key", old_key: k104, new_key: k120 }), `0803${toHex(k104)}${toHex(k120)}03`],
      [{ kind: "set_governance", governors: [k104, k120], threshold: 2n, nonce: 6n }, `0902${toHex(k104)}${toHex(k120)}0206`],
      [{ kind: "register_observer", observer: k120, name: "regulator", nonce: 7n }, `0a${toHex(k120)}09726567756c61746f7207`],
      [{ kind: "remove_observer", observer: k120, nonce: 8n }, `0b${toHex(k120)}08`],
    ];
    for (const [body, hex] of cases) {
      assert.equal(toHex(encodeTxBody(body)), hex, body.kind);
      const leaf = leafOf(body, 4);
      const decoded = decodeLogLeaf(leaf, 4160);
      assert.deepEqual(decoded.tx.body, body, body.kind);
      assert.equal(toHex(decoded.tx.bodyBytes), hex);
      assert.equal(toHex(encodeLogLeaf(decoded)), toHex(leaf));
    }
    // Unknown variants, truncation, non-minimal varints: Malformed.
    const bad = [
      `0804${toHex(k104)}03`, // ValidatorChange variant 4
      "0c00", // TxBody variant 12
      `0902${toHex(k104)}0206`, // two governors announced, one given
      `0802${toHex(k104)}810003`, // power 1 as a two-byte varint
      `0a${toHex(k120)}01ff07`, // observer name not UTF-8
    ];
    for (const hex of bad) {
      const leaf = concat([4], varint(1700000004000n), fromHex(hex), [0]);
      assert.throws(() => decodeLogLeaf(leaf, 4160), (e) => e.code === "Malformed", hex);
    }
  });

  test("the fixture's change leaves decode to the changes of the second chain", async () => {
    const c = JSON.parse(read("set-after-removal.json"));
    const changes = c.transitions.map((t) => decodeLogLeaf(fromHex(t.change.leaf), 4160).tx.body);
    assert.deepEqual(
      changes.map((b) => [b.kind, b.change.kind]),
      [["change_validators", "add"], ["change_validators", "rotate_key"], ["change_validators", "remove"]],
    );
    assert.equal(toHex(changes[0].change.validator.public_key), toHex(await pub(104)));
    assert.equal(toHex(changes[1].change.new_key), toHex(await pub(120)));
    assert.equal(toHex(changes[2].change.public_key), toHex(await pub(103)));
    assert.deepEqual(c.transitions.map((t) => t.checkpoint.header.height), [4, 6, 10]);
  });

  test("ValidatorSet::apply: each change does what it says", async () => {
    const s = genesisValidators();
    const added = applyValidatorChange(s, { kind: "add", validator: { public_key: await pub(50), power: 1n, name: "e" } });
    assert.equal(added.length, 5);
    assert.equal(toHex(added[4].public_key), toHex(await pub(50)));
    assert.equal(s.length, 4, "the set applied to is not changed");
    const removed = applyValidatorChange(s, { kind: "remove", public_key: s[1].public_key });
    assert.deepEqual(removed.map((v) => v.name), ["org-0", "org-2", "org-3"]);
    const powered = applyValidatorChange(s, { kind: "set_power", public_key: s[0].public_key, power: 2n });
    assert.equal(powered[0].power, 2n);
    assert.equal(s[0].power, 1n);
    const rotated = applyValidatorChange(s, { kind: "rotate_key", old_key: s[2].public_key, new_key: await pub(60) });
    assert.equal(toHex(rotated[2].public_key), toHex(await pub(60)));
    assert.equal(rotated[2].name, "org-2");
  });

  test("ValidatorSet::apply: each refusal, as in membership.rs", async () => {
    const s = genesisValidators();
    const k = (i) => s[i].public_key;
    const stranger = await pub(99);
    const v = async (n, power) => ({ public_key: await pub(n), power, name: "x" });
    const cases = [
      [{ kind: "remove", public_key: stranger }, "NotAValidator"],
      [{ kind: "set_power", public_key: stranger, power: 3n }, "NotAValidator"],
      [{ kind: "rotate_key", old_key: stranger, new_key: await pub(70) }, "NotAValidator"],
      [{ kind: "add", validator: { ...s[0] } }, "AlreadyAValidator"],
      [{ kind: "rotate_key", old_key: k(0), new_key: k(1) }, "AlreadyAValidator"],
      [{ kind: "add", validator: await v(70, 0n) }, "Invalid"],
      [{ kind: "set_power", public_key: k(0), power: 1n }, "Invalid"],
      [{ kind: "set_power", public_key: k(0), power: 0n }, "Invalid"],
      [{ kind: "set_power", public_key: k(0), power: TOTAL_POWER_MAX }, "Invalid"],
      [{ kind: "add", validator: { public_key: new Uint8Array(32), power: 1n, name: "x" } }, "Invalid"],
      [{ kind: "add", validator: { public_key: fromHex("01" + "00".repeat(31)), power: 1n, name: "x" } }, "Invalid"],
      // 4 running validators hold 4 of 6: not more than 2/3.
      [{ kind: "add", validator: await v(70, 2n) }, "Unsafe"],
    ];
    for (const [change, kind] of cases) {
      assert.throws(
        () => applyValidatorChange(s, change),
        (e) => e instanceof ChangeRefusal && e.kind === kind,
        `${change.kind}: expected ${kind}`,
      );
    }
    // The most validators: a 100th may join, a 101st may not.
    const many = [];
    for (let i = 0; i < 99; i++) many.push({ public_key: await pub(130 + i), power: 1n, name: `v${i}` });
    const hundred = applyValidatorChange(many, { kind: "add", validator: await v(70, 1n) });
    assert.equal(hundred.length, 100);
    const hundredFirst = await v(71, 1n);
    assert.throws(() => applyValidatorChange(hundred, { kind: "add", validator: hundredFirst }), /most validators allowed \(100\)/);
    // A lone validator can be neither removed nor rotated away.
    const one = s.slice(0, 1);
    assert.throws(() => applyValidatorChange(one, { kind: "remove", public_key: k(0) }), (e) => e.kind === "Unsafe");
    assert.throws(
      () => applyValidatorChange(one, { kind: "rotate_key", old_key: k(0), new_key: stranger }),
      (e) => e.kind === "Unsafe",
    );
  });

  test("the schedule answers by height", () => {
    const g = { validators: genesisValidators() };
    const sch = new ValidatorSchedule(g);
    const later = genesisValidators().slice(0, 3);
    sch.sets.push({ fromHeight: 10n, validators: later });
    assert.equal(sch.at(0), g.validators);
    assert.equal(sch.at(9), g.validators);
    assert.equal(sch.at(10), later);
    assert.equal(sch.at((1n << 64n) - 1n), later);
    assert.equal(SET_CHANGE_DELAY, 2n);
    assert.equal(TRANSITIONS_MAX, 1024);
  });

  test("a valid certificate after set changes reports them", async () => {
    const r = await verifyCertificate(read("set-changes-valid.json"), read("genesis.json"));
    assert.ok(r.ok, r.message);
    assert.equal(r.setChanges, 2);
    assert.equal(r.checkpointHeight, 9);
    // A quorum of the five precommits (4), as the node serves them.
    assert.deepEqual([r.signedPower, r.totalPower], [4, 5]);
    assert.match(r.steps.find((s) => s.id === "checkpoint").detail, /after 2 validator-set changes.*block 4: add org-4.*block 6: rotate/);
    const removal = await verifyCertificate(read("set-after-removal.json"), read("genesis.json"));
    assert.deepEqual([removal.setChanges, removal.signedPower, removal.totalPower], [3, 3, 4]);
    const refreshed = await verifyCertificate(read("set-changes-refreshed.json"), read("genesis.json"));
    assert.equal(refreshed.previousHeight, 3, "the older checkpoint is checked under the genesis set");
    const before = await verifyCertificate(read("set-issued-before.json"), read("genesis.json"));
    assert.deepEqual([before.ok, before.setChanges], [true, 0]);
  });

  test("a refreshed certificate's older checkpoint is verified with the schedule", async () => {
    // The older checkpoint replaced by the one at height 6 (signed by the set
    // after the first change): its quorum verifies under the schedule (under
    // the genesis set it would be ValidatorSetMismatch); the consistency proof,
    // made from height 3's log, then fails.
    const c = JSON.parse(read("set-changes-refreshed.json"));
    c.previous.checkpoint = JSON.parse(read("set-changes-valid.json")).transitions[1].checkpoint;
    let r = await verifyCertificate(JSON.stringify(c), read("genesis.json"));
    assert.equal(r.code, "ConsistencyMismatch", r.message);
    assert.equal(r.step, "consistency");
    // Without the transitions, the current checkpoint already fails.
    const d = JSON.parse(read("set-changes-refreshed.json"));
    d.transitions = [];
    r = await verifyCertificate(JSON.stringify(d), read("genesis.json"));
    assert.equal(r.code, "ValidatorSetMismatch");
    assert.equal(r.step, "checkpoint");
  });

  test("every check of ValidatorSchedule::follow, in the Rust order", async () => {
    // Followed, but taking effect after the certificate's checkpoint (height 5).
    const t0 = await addFifth();
    expectTransitionError(await withTransitions([t0]), 0, /it takes effect at height 6, after the checkpoint at height 5$/);
    // Signed by too little of the set before the change.
    expectTransitionError(
      await withTransitions([await addFifth({ signers: [100, 101] })]),
      0,
      /checkpoint at height 4: commit carries voting power 2, needs at least 3/,
    );
    // Signed by the set after the change (key 104 is no validator yet).
    expectTransitionError(
      await withTransitions([await addFifth({ signers: [100, 101, 102, 104] })]),
      0,
      new RegExp(`checkpoint at height 4: commit signed by ${toHex(await pub(104))}, which is not a validator`),
    );
    // Its checkpoint after the change took effect, though signed by the old set.
    expectTransitionError(await withTransitions([await addFifth({ cp: 6 })]), 0, /its checkpoint \(height 6\) is after the change took effect \(height 6\)/);
    // A change the set refuses.
    expectTransitionError(await withTransitions([await addFifth({ power: 2n })]), 0, /the change is refused: .*short of the quorum of 5/);
    const remove = changeBody({ kind: "remove", public_key: await pub(99) });
    const refused = await signedCheckpoint({ leaves: [leafOf(remove, 4)], height: 4, signers: [100, 101, 102] });
    expectTransitionError(await withTransitions([refused]), 0, new RegExp(`the change is refused: ${toHex(await pub(99))} is not a validator`));
    // Not a change: the mint of valid.json, proven against a checkpoint.
    const mintLeaf = fromHex(JSON.parse(read("valid.json")).mint.leaf);
    const notChange = await signedCheckpoint({ leaves: [mintLeaf], height: 4, signers: [100, 101, 102] });
    expectTransitionError(await withTransitions([notChange]), 0, /its entry is a mint transaction, not a validator-set change/);
    // The entry's proof and bytes.
    const forged = structuredClone(t0);
    forged.change.proof[0] = "00".repeat(32);
    expectTransitionError(await withTransitions([forged]), 0, /log proof invalid: transition change: /);
    const overlong = leafOf(changeBody({ kind: "remove", public_key: await pub(103) }), 4);
    const malformed = await signedCheckpoint({ leaves: [concat([0x84, 0x00], overlong.subarray(1))], height: 4, signers: [100, 101, 102] });
    expectTransitionError(await withTransitions([malformed]), 0, /malformed transition change/);
    const above = await signedCheckpoint({ leaves: [leafOf(remove, 5)], height: 4, signers: [100, 101, 102] });
    expectTransitionError(await withTransitions([above]), 0, /leaf height 5 is above the checkpoint height 4/);

    // The set after the first change: the genesis four and key 104.
    const s1 = applyValidatorChange(genesisValidators(), {
      kind: "add",
      validator: { public_key: await pub(104), power: 1n, name: "org-4" },
    });
    const rotate = changeBody({ kind: "rotate_key", old_key: await pub(101), new_key: await pub(120) }, 4n);
    const byS1 = (leaves, height) => signedCheckpoint({ leaves, height, signers: [100, 101, 102, 104], validators: s1 });
    // Two transitions followed; the second takes effect at 8, after the checkpoint at 5.
    const t1 = await byS1([new Uint8Array([1]), leafOf(rotate, 6)], 6);
    expectTransitionError(await withTransitions([t0, t1]), 1, /it takes effect at height 8, after the checkpoint at height 5$/);
    // The same transition twice: the second's checkpoint predates the set it needs.
    expectTransitionError(await withTransitions([t0, t0]), 1, /its checkpoint is at height 4, before the previous set took effect at 6/);
    // The second change logged before the first took effect.
    const early = await byS1([leafOf(rotate, 5)], 6);
    expectTransitionError(await withTransitions([t0, early]), 1, /the change is at height 5, before the previous set took effect at 6/);
    // Out of order: the rotation first, under the genesis set.
    expectTransitionError(await withTransitions([t1, t0]), 0, /checkpoint at height 6: header validator set hash/);
    // A transition of another chain.
    const foreign = await signedCheckpoint({ leaves: [leafOf(remove, 4)], height: 4, signers: [100, 101, 102], chain: "keepsake-other" });
    const r = await withTransitions([foreign]);
    assert.equal(r.code, "WrongChain");
    assert.equal(r.step, "checkpoint");
  });

  test("at most TRANSITIONS_MAX transitions, counted after the chain check", async () => {
    const t0 = await addFifth();
    const many = Array.from({ length: TRANSITIONS_MAX + 1 }, () => t0);
    let r = await withTransitions(many);
    assert.equal(r.code, "TooLarge", r.message);
    assert.equal(r.step, "checkpoint");
    const c = JSON.parse(read("valid.json"));
    c.transitions = many;
    c.chain_id = "keepsake-other";
    r = await verifyCertificate(JSON.stringify(c), read("genesis.json"));
    assert.equal(r.code, "WrongChain");
    // The same list in a status answer.
    const st = JSON.parse(read("active-status.json"));
    st.transitions = many;
    const cert = await verifyCertificate(read("valid.json"), read("genesis.json"));
    assert.equal((await verifyStatus(JSON.stringify(st), read("genesis.json"), cert)).code, "TooLarge");
  });

  test("transitions in the file: absent, empty, null, unknown fields", async () => {
    const text = read("valid.json");
    assert.ok((await verifyCertificate(text.replace('"format"', '"transitions": [],\n"format"'), read("genesis.json"))).ok);
    for (const t of [
      text.replace('"format"', '"transitions": null,\n"format"'),
      text.replace('"format"', '"transitions": [{"change": null}],\n"format"'),
      read("set-changes-valid.json").replace('"change": {', '"extra": 1, "change": {'),
    ]) {
      const r = await verifyCertificate(t, read("genesis.json"));
      assert.equal(r.code, "Malformed", r.message);
      assert.equal(r.step, "file");
    }
  });

  test("status answers after set changes: the revoker's shape, the transitions", async () => {
    const genesis = read("genesis.json");
    const cert = await verifyCertificate(read("set-revoked.json"), genesis);
    assert.ok(cert.ok, cert.message);
    const r = await verifyStatus(read("set-revoked-status.json"), genesis, cert);
    assert.equal(r.status, "revoked", r.message);
    // Revoked by a governor the genesis does not list (governance changed at height 11).
    assert.deepEqual([r.revocation.by, r.revocation.reason, r.revocation.height], ["governance", "licence withdrawn", 12]);
    assert.match(r.steps.find((s) => s.id === "checkpoint").detail, /after 3 validator-set changes/);
    // Without its transitions the answer's checkpoint is not the genesis set's.
    const st = JSON.parse(read("set-revoked-status.json"));
    st.transitions = [];
    assert.equal((await verifyStatus(JSON.stringify(st), genesis, cert)).code, "ValidatorSetMismatch");
    // The issuer together with a governor: refused (the issuer revokes alone).
    const issuer = await keypair(1);
    const governor = await keypair(10);
    const revokeBody = concat([6], fromHex(JSON.parse(read("set-revoked.json")).certificate_id), pstr("both"));
    const msg = domainPreimage(TAG.TX, CHAIN, revokeBody);
    const sigs = [];
    for (const k of [governor, issuer]) sigs.push(concat(k.pub, await k.sign(msg)));
    const leaf = concat(varint(12), varint(1700000012000n), revokeBody, varint(2), ...sigs);
    const revokedCert = JSON.parse(read("set-revoked.json"));
    const leaves = Array.from({ length: revokedCert.mint.leaf_index + 1 }, (_, i) => new Uint8Array([i]));
    leaves.push(leaf);
    const cp = await signedCheckpoint({ leaves, height: 13, signers: [100, 101, 102, 103] });
    const answer = { certificate_id: revokedCert.certificate_id, checkpoint: cp.checkpoint, revocation: cp.change };
    let v = await verifyStatus(JSON.stringify(answer), genesis, cert);
    assert.equal(v.code, "CertificateMismatch", v.message);
    assert.match(v.message, /revocation\.leaf.*the issuer revokes alone/);
    // Any signers without the issuer: governance (the quorum vouches for the ledger's check).
    const govOnly = concat(varint(12), varint(1700000012000n), revokeBody, varint(1), sigs[0]);
    leaves[leaves.length - 1] = govOnly;
    const cp2 = await signedCheckpoint({ leaves, height: 13, signers: [100, 101, 102, 103] });
    v = await verifyStatus(JSON.stringify({ ...answer, checkpoint: cp2.checkpoint, revocation: cp2.change }), genesis, cert);
    assert.equal(v.status, "revoked", v.message);
    assert.equal(v.revocation.by, "governance");
  });
});

// ---------------------------------------------------------------------------
// The collectible's life without resale (issue 16): synthesis, blind boxes, burns.

describe("synthesis, blind boxes and burns", () => {
  const genesis = () => read("genesis.json");
  const leafOf = (file, entry) => decodeLogLeaf(fromHex(JSON.parse(read(file))[entry].leaf), 1 << 20);
  const b32 = (x) => new Uint8Array(32).fill(x);

  test("the draw equals Rust's pinned draw (life.rs the_draw_is_pinned)", async () => {
    const deck = await drawVariants("c", b32(1), b32(2), b32(3), [{ count: 2 }, { count: 3 }, { count: 5 }]);
    assert.deepEqual(deck, [1, 0, 0, 1, 2, 2, 1, 2, 2, 2]);
    // A permutation of the counts, and it depends on the chain.
    const other = await drawVariants("d", b32(1), b32(2), b32(3), [{ count: 2 }, { count: 3 }, { count: 5 }]);
    assert.deepEqual([...other].sort(), [0, 0, 1, 1, 1, 2, 2, 2, 2, 2]);
    assert.notDeepEqual(other, deck);
    assert.equal(await drawVariants("c", b32(1), b32(2), b32(3), [{ count: 10000 }, { count: 1 }]), null);
  });

  test("every new transaction body decodes and re-encodes to its exact bytes", async () => {
    // Bodies logged by the golden chain (encoded by Rust).
    const seen = new Set();
    for (const [file, entry] of [
      ["life-synthesized.json", "mint"],
      ["life-synthesized.json", "series"],
      ["life-blind-box.json", "series"],
      ["life-blind-box.json", "reveal"],
      ["life-burned-status.json", "burn"],
    ]) {
      const leaf = leafOf(file, entry);
      seen.add(leaf.tx.body.kind);
      assert.deepEqual(encodeTxBody(leaf.tx.body), leaf.tx.bodyBytes, `${file} ${entry}`);
    }
    assert.deepEqual([...seen].sort(), ["create_series_with_terms", "reveal_blind_box", "synthesize"]);
    // The others, by the postcard rules (docs/protocol.md): variant index, then the fields in order.
    const issuer = b32(0xaa);
    const cases = [
      [
        { kind: "set_issuer_licence", issuer, licence: { kind: "ICP", number: "A-1", valid_until_ms: 300n }, nonce: 7n },
        concat([12], issuer, [3], utf8("ICP"), [3], utf8("A-1"), [0xac, 0x02], [7]),
      ],
      [{ kind: "withdraw_issuer_licence", issuer, reason: "x", nonce: 1n }, concat([13], issuer, [1], utf8("x"), [1])],
      [{ kind: "set_licence_policy", required: true, nonce: 128n }, Uint8Array.of(14, 1, 0x80, 0x01)],
      [{ kind: "close_blind_box", series_id: b32(5) }, concat([17], b32(5))],
    ];
    for (const [body, bytes] of cases) {
      assert.deepEqual(encodeTxBody(body), bytes, body.kind);
      const leaf = concat([1], [2], bytes, [0]);
      const back = decodeLogLeaf(leaf, 1 << 20).tx.body;
      assert.deepEqual(encodeTxBody(back), bytes, body.kind);
      assert.equal(back.kind, body.kind);
    }
    // A bool is 0 or 1.
    assert.throws(() => decodeLogLeaf(Uint8Array.of(1, 2, 14, 2, 0, 0), 1 << 20), (e) => e.code === "Malformed");
  });

  test("the reviewer of a series with terms signs review v2 over (subject, terms)", async () => {
    const leaf = leafOf("life-blind-box.json", "series");
    const s = leaf.tx.body;
    assert.equal(s.kind, "create_series_with_terms");
    await verifySignature(s.approval.reviewer, reviewMessage(CHAIN, s, s.terms), s.approval.signature, "review");
    // The v1 message (without the terms) is not what was signed.
    await rejectsWith(
      verifySignature(s.approval.reviewer, reviewMessage(CHAIN, s, null), s.approval.signature, "review"),
      "BadSignature",
    );
    assert.ok(encodeSeriesTerms(s.terms).length > 0);
  });

  test("a synthesized certificate shows what it burned and its recipe", async () => {
    const r = await verifyCertificate(read("life-synthesized.json"), genesis());
    assert.ok(r.ok, r.message);
    assert.equal(r.recipe, 0);
    assert.equal(r.record.synthesized_from.length, 2);
    assert.deepEqual(r.record.synthesized_from, JSON.parse(read("life-synthesized.json")).record.synthesized_from);
    assert.equal(r.blindBox, null);
    assert.match(r.steps.find((x) => x.id === "record").detail, /synthesized by recipe 0 from 2 burned/);
  });

  test("a burned certificate's status proves the burn into the synthesized certificate", async () => {
    const cert = await verifyCertificate(read("life-burned.json"), genesis());
    const st = await verifyStatus(read("life-burned-status.json"), genesis(), cert);
    assert.equal(st.status, "burned", st.message);
    const output = JSON.parse(read("life-synthesized.json"));
    assert.equal(st.burn.into, output.certificate_id);
    assert.equal(st.burn.tx_id, output.record.mint_tx);
    assert.equal(st.burn.height, output.record.height);
    assert.equal(st.steps.find((x) => x.id === "burn").status, "passed");
  });

  test("a revealed blind box carries the drawn variant; an unrevealed one none", async () => {
    const r = await verifyCertificate(read("life-blind-box.json"), genesis());
    assert.ok(r.ok, r.message);
    assert.ok(r.blindBox.reveal);
    const c = JSON.parse(read("life-blind-box.json"));
    const reveal = leafOf("life-blind-box.json", "reveal").tx.body;
    const terms = leafOf("life-blind-box.json", "series").tx.body.terms.blind_box;
    assert.deepEqual(await seedCommitment(CHAIN, reveal.seed), terms.seed_commitment);
    const deck = await drawVariants(CHAIN, reveal.series_id, reveal.seed, reveal.entropy, terms.variants);
    assert.equal(r.record.variant.index, deck[c.record.edition - 1]);
    assert.equal(r.record.variant.name, terms.variants[deck[c.record.edition - 1]].name);
    const u = await verifyCertificate(read("life-blind-box-unrevealed.json"), genesis());
    assert.ok(u.ok, u.message);
    assert.deepEqual(u.blindBox, { reveal: null });
    assert.equal(u.record.variant, null);
    assert.match(u.steps.find((x) => x.id === "record").detail, /not yet revealed/);
  });

  test("each hostile life fixture fails on its precise field", async () => {
    for (const [file, field] of [
      ["life-tampered-synthesized-from.json", "record.synthesized_from"],
      ["life-variant-not-drawn.json", "record.variant.index"],
      ["life-variant-without-reveal.json", "record.variant"],
      ["life-reveal-other-series.json", "reveal.series_id"],
      ["life-reveal-wrong-seed.json", "reveal.seed"],
    ]) {
      const r = await verifyCertificate(read(file), genesis());
      assert.equal(r.code, "CertificateMismatch", file);
      assert.equal(r.step, "record", file);
      assert.ok(r.message.startsWith(`certificate field ${field} does not match`), `${file}: ${r.message}`);
    }
    const kept = await verifyCertificate(read("life-kept.json"), genesis());
    const st = await verifyStatus(read("life-burn-not-listed-status.json"), genesis(), kept);
    assert.equal(st.code, "CertificateMismatch");
    assert.equal(st.step, "burn");
    assert.ok(st.message.startsWith("certificate field burn.inputs does not match"), st.message);
  });

  test("a variant on a plain series, a reveal on a plain series, an unknown recipe", async () => {
    const plain = JSON.parse(read("life-kept.json"));
    const box = JSON.parse(read("life-blind-box.json"));
    let r = await verifyCertificate(JSON.stringify({ ...plain, reveal: box.reveal }), genesis());
    assert.ok(r.message.startsWith("certificate field reveal does not match"), r.message);
    r = await verifyCertificate(JSON.stringify({ ...plain, record: { ...plain.record, variant: box.record.variant } }), genesis());
    assert.ok(r.message.startsWith("certificate field record.variant does not match"), r.message);
    // A minted certificate claiming to be synthesized.
    r = await verifyCertificate(
      JSON.stringify({ ...plain, record: { ...plain.record, synthesized_from: [plain.certificate_id] } }),
      genesis(),
    );
    assert.ok(r.message.startsWith("certificate field record.synthesized_from does not match"), r.message);
  });

  test("Is this mine? compares holder_id(salt, account) with the verified holder, locally", async () => {
    const r = await verifyCertificate(read("life-blind-box.json"), genesis());
    assert.ok(r.ok, r.message);
    const yes = await checkHolder(r, "c0ffee", "alice@example.com");
    assert.equal(yes.mine, true);
    assert.equal(yes.holder, r.record.holder);
    assert.equal(yes.holder, toHex(await holderId("c0ffee", "alice@example.com")));
    assert.equal((await checkHolder(r, "c0ffee", "bob@example.com")).mine, false);
    assert.equal((await checkHolder(r, "c0ffef", "alice@example.com")).mine, false);
    await rejectsWith(checkHolder({ ok: false }, "c0ffee", "alice@example.com"), "CertificateMismatch");
    const opening = {
      format: "keepsake-holder-opening/v1",
      certificate_id: r.certificateId,
      holder: r.record.holder,
      salt: "c0ffee",
      account: "alice@example.com",
    };
    const o = parseHolderOpening(JSON.stringify(opening));
    assert.equal(o.salt, "c0ffee");
    assert.equal(toHex(o.certificate_id), r.certificateId);
    for (const bad of [
      { ...opening, format: "keepsake-holder-opening/v2" },
      { ...opening, extra: 1 },
      { ...opening, salt: 5 },
      { ...opening, holder: "zz" },
    ]) {
      assert.throws(() => parseHolderOpening(JSON.stringify(bad)), (e) => e.code === "Malformed", JSON.stringify(bad));
    }
    assert.throws(() => parseHolderOpening("{"), (e) => e.code === "Malformed");
  });
});
