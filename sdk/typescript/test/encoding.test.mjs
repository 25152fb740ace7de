// 2. Transaction encoding, offline: the SDK's signed bytes and ids against
// the Rust side's (the worked bytes of docs/protocol.md, and every
// transaction inside the Rust-made golden fixtures, re-built from its fields
// with the SDK's builders and re-signed with the testkit keys: Ed25519 is
// deterministic, so the bytes must be identical). The node test
// (node.test.mjs) checks ids against a running node.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, statSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import {
  Key,
  bodies,
  signTx,
  txId,
  encodeBody,
  signingMessage,
  approveSeries,
  seriesId,
  certificateId,
  seedCommitment,
  keyFileText,
  parseKeyFile,
  readKeyFile,
  writeKeyFile,
  readDevKeys,
  ERROR_CODES,
  RpcError,
  KeepsakeError,
  TxRejectedError,
  errorNumber,
  verifier,
} from "../src/index.js";
import { FIXTURES, REPO, fixture, expected, testkitSeed } from "./helpers.mjs";

const { toHex, fromHex, decodeLogLeaf, encodeSignedTx, parseJson } = verifier;
const ISSUER = Key.fromSeed(testkitSeed(1));

describe("docs/protocol.md worked bytes", () => {
  test("§4.2: the mint of edition 1: body, id, signature and encode(SignedTx)", async () => {
    assert.equal(ISSUER.publicKey, "bbe9753f42d082d0207b1aa38b15dbd9b916458615a6aa0dc7ecc04c105e408d");
    const body = bodies.mint({
      series_id: "7c9c85e2db9f4cbe3d8c4bf982c112e1691193f31e570f2d4e77d7a2bce08101",
      edition: 1,
      holder: "4f85287d9e40073be848dab9a904d7ecc3415a869ac7ac1c8b6cbbf3704b6b38",
    });
    const signed = await signTx("keepsake-test", body, [ISSUER]);
    const bodyHex =
      "057c9c85e2db9f4cbe3d8c4bf982c112e1691193f31e570f2d4e77d7a2bce0810101" +
      "4f85287d9e40073be848dab9a904d7ecc3415a869ac7ac1c8b6cbbf3704b6b38";
    assert.equal(toHex(signed.bodyBytes), bodyHex);
    assert.equal(signed.id, "1ff77002ed2061c7cf7c893efb486d2b36a95582c3b27eeb4007d7aa20a421f7");
    assert.equal(await txId("keepsake-test", body), signed.id);
    const signature =
      "85daa662503678e4a3e8c0f490a0fdcf3163601a5b1d91b56d15e094f823d922" +
      "2ced6da71be62a8b14af0ce0b1782b87eac24a9a2d45c72bbc190e47176f410e";
    assert.deepEqual(signed.tx.signatures, [{ signer: ISSUER.publicKey, signature }]);
    assert.equal(toHex(signed.bytes), bodyHex + "01" + ISSUER.publicKey + signature);
    assert.equal(
      toHex(signingMessage("keepsake-test", body)),
      "0e6b65657073616b652f74782f76310d6b65657073616b652d74657374" + bodyHex,
    );
    assert.equal(signed.kind, "mint");
    assert.deepEqual(signed.tx.body, body);
  });

  test("§4.4: series id and certificate id; §4.1: the ChangeValidators body", async () => {
    const series = await seriesId("keepsake-test", ISSUER, "apsaras");
    assert.equal(series, "7c9c85e2db9f4cbe3d8c4bf982c112e1691193f31e570f2d4e77d7a2bce08101");
    assert.equal(
      await certificateId("keepsake-test", series, 1),
      "6c691de34a32ac7c42b60092d73d12d05279a4180c0e1fdcce04efac3c2d3cf9",
    );
    const change = bodies.changeValidators({
      change: {
        kind: "add",
        validator: { public_key: "01582658eb45dc613f0f085be4a97bf68a0bfbf427e29acb59029e4c99e1bc9b", power: 1, name: "org-4" },
      },
      nonce: 3,
    });
    assert.equal(
      toHex(encodeBody(change)),
      "080001582658eb45dc613f0f085be4a97bf68a0bfbf427e29acb59029e4c99e1bc9b01056f72672d3403",
    );
  });
});

describe("every transaction of the golden fixtures, rebuilt and re-signed by the SDK", () => {
  const camel = (kind) => kind.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
  const hexify = (v) =>
    v instanceof Uint8Array
      ? toHex(v)
      : Array.isArray(v)
        ? v.map(hexify)
        : v && typeof v === "object"
          ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, hexify(x)]))
          : v;
  const testkit = new Map(Array.from({ length: 256 }, (_, n) => Key.fromSeed(testkitSeed(n))).map((k) => [k.publicKey, k]));

  test("byte for byte, every kind the fixtures carry", async () => {
    const valid = new Set([
      ...expected.certificates.filter((c) => c.verdict === "valid").map((c) => c.file),
      ...expected.statuses.filter((s) => ["active", "revoked", "burned"].includes(s.verdict)).map((s) => s.file),
    ]);
    const kinds = new Map();
    const approvals = { v1: 0, v2: 0 };
    for (const file of valid) {
      const c = parseJson(fixture(file));
      const chain = c.checkpoint.header.chain_id;
      const entries = [c.mint, c.series, c.reveal, c.revocation, c.burn, ...(c.transitions ?? []).map((t) => t.change)];
      for (const e of entries.filter(Boolean)) {
        const leaf = decodeLogLeaf(fromHex(e.leaf), 1 << 16);
        const { kind, ...fields } = leaf.tx.body;
        const signers = leaf.tx.signatures.map((s) => testkit.get(toHex(s.signer)));
        assert.ok(signers.every(Boolean), `${file}: a ${kind} signed by a key outside the testkit`);
        const body = bodies[camel(kind)](hexify(fields));
        assert.equal(Object.keys(body)[0], kind);
        const signed = await signTx(chain, body, signers);
        assert.equal(toHex(signed.bytes), toHex(encodeSignedTx(leaf.tx)), `${file}: ${kind}`);
        assert.equal(signed.id, toHex(await verifier.txId(chain, leaf.tx.bodyBytes)));
        if (kind === "mint" || kind === "synthesize") assert.equal(signed.id, c.record?.mint_tx ?? signed.id);
        // The reviewer's approval, re-signed by the SDK, is the one inside.
        if (kind === "create_series" || kind === "create_series_with_terms") {
          const reviewer = testkit.get(toHex(fields.approval.reviewer));
          const { approval, terms, ...subject } = hexify(fields);
          const again = approveSeries(chain, subject, terms ?? null, reviewer);
          assert.deepEqual(again, approval, `${file}: the approval`);
          approvals[terms ? "v2" : "v1"]++;
        }
        kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      }
    }
    for (const k of ["create_series", "create_series_with_terms", "mint", "revoke", "change_validators", "synthesize", "reveal_blind_box"]) {
      assert.ok(kinds.get(k) > 0, `no ${k} in the fixtures: ${[...kinds.keys()]}`);
    }
    assert.ok(approvals.v1 > 0 && approvals.v2 > 0, JSON.stringify(approvals));
  });

  test("a blind box's seed commitment is the one its fixture's terms carry", async () => {
    const c = parseJson(fixture("life-blind-box.json"));
    const reveal = decodeLogLeaf(fromHex(c.reveal.leaf), 1 << 16).tx.body;
    const series = decodeLogLeaf(fromHex(c.series.leaf), 1 << 16).tx.body;
    assert.equal(await seedCommitment(c.chain_id, reveal.seed), toHex(series.terms.blind_box.seed_commitment));
  });
});

describe("builders refuse what the node would refuse, before signing", () => {
  const K = "11".repeat(32);
  const cases = [
    () => bodies.mint({ series_id: "ab", edition: 1, holder: K }),
    () => bodies.mint({ series_id: K, edition: 2 ** 32, holder: K }),
    () => bodies.mint({ series_id: K, edition: -1, holder: K }),
    () => bodies.mint({ series_id: K, edition: 1.5, holder: K }),
    () => bodies.mint({ series_id: K, holder: K }),
    () => bodies.registerIssuer({ issuer: K, name: "\ud800", nonce: 1 }),
    () => bodies.registerIssuer({ issuer: K, name: "x".repeat(5000), nonce: 1 }),
    () => bodies.registerIssuer({ issuer: K, name: "m", nonce: 2n ** 64n }),
    () => bodies.setIssuerStatus({ issuer: K, status: "frozen" }),
    () => bodies.setLicencePolicy({ required: "yes" }),
    () => bodies.changeValidators({ change: { kind: "promote", public_key: K } }),
    () => bodies.createSeries({ issuer: K, name: "n", content_hash: K, max_supply: 1, metadata_uri: "u", approval: { reviewer: K, signature: K } }),
  ];
  for (const [i, make] of cases.entries()) {
    test(`case ${i}`, () => {
      assert.throws(make, (e) => e instanceof KeepsakeError && e.code === "Malformed");
    });
  }

  test("signTx: raw JSON bodies are read as the node reads them; TxTooLarge over the chain's limit", async () => {
    await assert.rejects(signTx("keepsake-test", { mint: { series_id: K, edition: 1, holder: K, price: 1 } }, [ISSUER]), (e) => e.code === "Malformed");
    await assert.rejects(signTx("Bad Chain", bodies.mint({ series_id: K, edition: 1, holder: K }), [ISSUER]), (e) => e.code === "Malformed");
    await assert.rejects(signTx("c", bodies.mint({ series_id: K, edition: 1, holder: K }), []), (e) => e.code === "MissingSignature");
    const long = bodies.registerIssuer({ issuer: K, name: "n".repeat(4000), nonce: 1 });
    await assert.rejects(signTx("c", long, [ISSUER]), (e) => e instanceof RpcError && e.code === "TxTooLarge" && e.number === 4002);
    assert.equal((await signTx("c", long, [ISSUER], { maxBytes: 8192 })).kind, "register_issuer");
  });

  test("a random governance nonce is a u64 and survives JSON", async () => {
    const body = bodies.registerReviewer({ reviewer: K, name: "r" });
    const nonce = body.register_reviewer.nonce;
    assert.ok(typeof nonce === "number" || typeof nonce === "bigint");
    const signed = await signTx("c", body, [ISSUER]);
    const again = parseJson(verifier.stringifyJson(signed.tx));
    assert.equal(BigInt(again.body.register_reviewer.nonce), BigInt(nonce));
    assert.equal((await signTx("c", again.body, [ISSUER])).id, signed.id);
  });
});

describe("key files (node/src/keyfile.rs)", () => {
  test("written as the node writes them, mode 0600, never over an existing file; read back", async () => {
    const dir = mkdtempSync(join(tmpdir(), "keepsake-sdk-"));
    try {
      const key = Key.generate();
      const path = join(dir, "keys", "issuer.json");
      await writeKeyFile(path, key);
      assert.equal(statSync(path).mode & 0o777, 0o600);
      assert.equal(
        readFileSync(path, "utf8"),
        `{\n  "public_key": "${key.publicKey}",\n  "secret_key": "${key.exportSeed()}"\n}`,
      );
      assert.equal((await readKeyFile(path)).publicKey, key.publicKey);
      await assert.rejects(writeKeyFile(path, key), (e) => e.code === "AlreadyExists");
      assert.equal((await readDevKeys(dir)).issuer.publicKey, key.publicKey);
      // Secrets stay out of JSON and logs.
      assert.equal(JSON.stringify(key), `{"public_key":"${key.publicKey}"}`);
      assert.ok(!String(key).includes(key.exportSeed()));

      const text = keyFileText(key);
      assert.throws(() => parseKeyFile(text.replace(key.publicKey, ISSUER.publicKey)), (e) => e.code === "KeyMismatch");
      assert.throws(() => parseKeyFile(text.replace("{", '{"extra": 1,')), (e) => e.code === "Malformed");
      assert.throws(() => parseKeyFile('{"public_key": "00"}'), (e) => e.code === "Malformed");
      assert.throws(() => parseKeyFile("not json"), (e) => e.code === "Malformed");
      // Upper case and 0x, as parse_hex reads them.
      assert.equal(parseKeyFile(text.replace(`"${key.exportSeed()}"`, `"0x${key.exportSeed().toUpperCase()}"`)).publicKey, key.publicKey);
      const big = join(dir, "big.json");
      writeFileSync(big, text + " ".repeat(5000));
      await assert.rejects(readKeyFile(big), (e) => e.code === "TooLarge");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("errors", () => {
  test("ERROR_CODES is crates/rpc/src/error.rs ErrorCode::TABLE, entry for entry", () => {
    const rust = readFileSync(join(REPO, "crates/rpc/src/error.rs"), "utf8");
    const table = rust.slice(rust.indexOf("TABLE"), rust.indexOf("];", rust.indexOf("TABLE")));
    const entries = [...table.matchAll(/\("(\w+)",\s*(\d+)\)/g)].map(([, c, n]) => [c, Number(n)]);
    assert.ok(entries.length >= 57, `${entries.length} entries`);
    assert.deepEqual(Object.entries(ERROR_CODES), entries);
  });

  test("RpcError from the node's error objects and rejections", () => {
    const e = RpcError.fromObject(
      { code: 4001, message: "transfers are forbidden", data: { code: "TransferForbidden" } },
      "keepsake_submitTx",
    );
    assert.deepEqual([e.code, e.number, e.method], ["TransferForbidden", 4001, "keepsake_submitTx"]);
    assert.ok(e instanceof KeepsakeError && e instanceof Error);
    assert.equal(RpcError.fromObject({ code: -32602, message: "invalid hex", data: "bad" }).code, "InvalidParams");
    assert.equal(RpcError.fromObject({ code: -1, message: "?" }).code, "JsonRpc-1");
    const r = new TxRejectedError("ab".repeat(32), { code: "DuplicateCertificate", message: "edition 7 is minted" });
    assert.deepEqual([r.code, r.number, r.txId.length], ["DuplicateCertificate", 4022, 64]);
    assert.equal(errorNumber("NoSuchCode"), 5001);
  });
});
