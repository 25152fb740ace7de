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
  verifyStrict,
  isValidPoint,
  _setWebCryptoEd25519,
  VerifyError,
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
    const big = text.replace('jade.json"', `${"x".repeat(256 * 1024)}"`);
    assert.equal((await verifyCertificate(big, genesis())).code, "TooLarge");
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
    await verifyStrict(ISSUER, msg, fromHex(MINT_SIG), "transaction");
    _setWebCryptoEd25519(false);
    try {
      await verifyStrict(ISSUER, msg, fromHex(MINT_SIG), "transaction");
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
      verifyStrict(ISSUER, domainPreimage(TAG.TX, "keepsake-other", body), fromHex(MINT_SIG)),
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

describe("strict ed25519", () => {
  const KEY = fromHex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  const SIG = fromHex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
  );
  const EMPTY = new Uint8Array(0);
  const L = (1n << 252n) + 27742317777372353535851937790883648493n;

  for (const path of ["webcrypto", "bigint"]) {
    test(`RFC 8032 test 1 and the strict rules (${path})`, async () => {
      if (path === "bigint") _setWebCryptoEd25519(false);
      try {
        await verifyStrict(KEY, EMPTY, SIG);
        await rejectsWith(verifyStrict(KEY, new Uint8Array([0]), SIG), "BadSignature");
        // S + l: the same point equation, but S is not canonical.
        let s = 0n;
        for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(SIG[i]);
        s += L;
        const malleable = SIG.slice();
        for (let i = 32; i < 64; i++) {
          malleable[i] = Number(s & 0xffn);
          s >>= 8n;
        }
        await rejectsWith(verifyStrict(KEY, EMPTY, malleable), "BadSignature");
        // y = 2 is not on the curve: BadPublicKey, as keys.rs tests.
        const notOnCurve = new Uint8Array(32);
        notOnCurve[0] = 2;
        await rejectsWith(verifyStrict(notOnCurve, EMPTY, new Uint8Array(64)), "BadPublicKey");
        assert.equal(isValidPoint(notOnCurve), false);
        // The identity key (small order) is refused even with a "signature" that satisfies the equation.
        const identity = new Uint8Array(32);
        identity[0] = 1;
        assert.equal(isValidPoint(identity), false);
        const sig = new Uint8Array(64);
        sig.set(identity, 0); // R = identity, S = 0: [0]B - [k]O == O
        await rejectsWith(verifyStrict(identity, EMPTY, sig), "BadSignature");
        // R with its sign bit flipped (another point) is refused.
        const rFlipped = SIG.slice();
        rFlipped[31] ^= 0x80;
        await rejectsWith(verifyStrict(KEY, EMPTY, rFlipped), "BadSignature");
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
