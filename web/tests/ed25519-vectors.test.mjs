// The Ed25519 conformance vectors of tests/fixtures/ed25519/vectors.json
// (verdicts computed by ed25519-zebra, see its "about"): verifySignature must
// return the `zip215` verdict of every vector, with WebCrypto Ed25519 (when
// Node has it) and on the BigInt path alone. The Rust verifier runs the same
// file. `node --test web/tests/`.

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import { verifySignature, decompressPoint, isValidPoint, fromHex, _setWebCryptoEd25519, webCryptoEd25519, VerifyError } from "../verify.js";

const FILE = new URL("../../tests/fixtures/ed25519/vectors.json", import.meta.url);
const { about, vectors } = JSON.parse(readFileSync(FILE, "utf8"));

/** null if accepted, else the error code. */
async function verdict(v) {
  try {
    await verifySignature(fromHex(v.public_key), fromHex(v.message), fromHex(v.signature), "vector");
    return null;
  } catch (e) {
    if (!(e instanceof VerifyError)) throw e;
    return e.code;
  }
}

describe("ed25519 conformance vectors (ZIP-215)", () => {
  test("the file has its schema and every category", () => {
    assert.equal(typeof about, "string");
    const names = new Set();
    for (const v of vectors) {
      assert.deepEqual(Object.keys(v).sort(), ["message", "name", "public_key", "signature", "source", "zip215"]);
      assert.equal(typeof v.name, "string");
      assert.equal(typeof v.source, "string");
      assert.equal(typeof v.zip215, "boolean");
      assert.match(v.message, /^([0-9a-f]{2})*$/);
      assert.match(v.public_key, /^[0-9a-f]{64}$/);
      assert.match(v.signature, /^[0-9a-f]{128}$/);
      assert.ok(!names.has(v.name), `duplicate name ${v.name}`);
      names.add(v.name);
    }
    const count = (prefix) => vectors.filter((v) => v.name.startsWith(prefix)).length;
    assert.equal(count("speccheck-"), 12);
    assert.equal(count("small-order-"), 14 * 14);
    assert.equal(count("rfc8032-test"), 5);
    // The paper's "Zcash ZIP-215" column: cases 0-5 valid, 6-8 invalid, 9-11 valid.
    const spec = vectors.filter((v) => v.name.startsWith("speccheck-")).map((v) => (v.zip215 ? "V" : "X"));
    assert.equal(spec.join(""), "VVVVVVXXXVVV");
  });

  for (const path of ["webcrypto", "bigint"]) {
    test(`every vector gets its zip215 verdict (${path})`, async (t) => {
      if (path === "bigint") _setWebCryptoEd25519(false);
      else if (!(await webCryptoEd25519())) t.diagnostic("this Node has no WebCrypto Ed25519: BigInt path only");
      try {
        const wrong = [];
        for (const v of vectors) {
          const got = await verdict(v);
          // An undecodable key is BadPublicKey; every other rejection is BadSignature.
          const code = decompressPoint(fromHex(v.public_key)) ? "BadSignature" : "BadPublicKey";
          const want = v.zip215 ? null : code;
          if (got !== want) wrong.push(`${v.name}: got ${got ?? "valid"}, want ${want ?? "valid"}`);
        }
        assert.deepEqual(wrong, []);
      } finally {
        _setWebCryptoEd25519(undefined);
      }
    });
  }

  test("small-order keys verify under ZIP-215 but never pass isValidPoint (state keys)", () => {
    for (const v of vectors.filter((x) => x.name.startsWith("small-order-"))) {
      assert.equal(isValidPoint(fromHex(v.public_key)), false, v.name);
    }
    const honest = vectors.find((v) => v.name === "honest");
    assert.equal(isValidPoint(fromHex(honest.public_key)), true);
    // A mixed-order key is not of small order: isValidPoint admits it, as dalek's is_small_order does.
    const mixed = vectors.find((v) => v.name === "mixed-order-key");
    assert.equal(isValidPoint(fromHex(mixed.public_key)), true);
  });
});
