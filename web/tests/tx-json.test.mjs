// Tests of the transaction JSON reader (parseTxBody, parseSignedTx) and the
// lossless JSON helpers (parseJson, stringifyJson) of web/verify.js, used by
// the TypeScript SDK (sdk/typescript) to build transactions:
// `node --test web/tests/`.

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import {
  parseTxBody,
  parseSignedTx,
  parseJson,
  stringifyJson,
  encodeTxBody,
  encodeSignedTx,
  decodeSignedTx,
  decodeLogLeaf,
  loadGenesis,
  toHex,
  fromHex,
  VerifyError,
} from "../verify.js";

const FIXTURES = new URL("../../tests/fixtures/certificates/", import.meta.url);
const read = (name) => readFileSync(new URL(name, FIXTURES), "utf8");

const K = (n) => n.toString(16).padStart(2, "0").repeat(32);
const S = (n) => n.toString(16).padStart(2, "0").repeat(64);

/** One body of every kind, in JSON, as docs/rpc.md and the serde derives name the fields. */
const BODIES = [
  { register_issuer: { issuer: K(1), name: "Museum", nonce: 1 } },
  { set_issuer_status: { issuer: K(1), status: "suspended", nonce: 2 } },
  { register_reviewer: { reviewer: K(2), name: "Review board", nonce: 3 } },
  { remove_reviewer: { reviewer: K(2), nonce: 4 } },
  {
    create_series: {
      issuer: K(1),
      name: "apsaras",
      content_hash: K(3),
      max_supply: 300,
      metadata_uri: "https://example.org/a.json",
      approval: { reviewer: K(2), signature: S(4) },
    },
  },
  { mint: { series_id: K(5), edition: 7, holder: K(6) } },
  { revoke: { certificate_id: K(7), reason: "minted in error" } },
  { transfer: { certificate_id: K(7), to: K(8) } },
  { change_validators: { change: { add: { validator: { public_key: K(9), power: 1, name: "org-4" } } }, nonce: 5 } },
  { change_validators: { change: { remove: { public_key: K(9) } }, nonce: 6 } },
  { change_validators: { change: { set_power: { public_key: K(9), power: 3 } }, nonce: 7 } },
  { change_validators: { change: { rotate_key: { old_key: K(9), new_key: K(10) } }, nonce: 8 } },
  { set_governance: { governors: [K(11), K(12)], threshold: 2, nonce: 9 } },
  { register_observer: { observer: K(13), name: "Notary", nonce: 10 } },
  { remove_observer: { observer: K(13), nonce: 11 } },
  {
    set_issuer_licence: {
      issuer: K(1),
      licence: { kind: "网络文化经营许可证", number: "A-1", valid_until_ms: 1893456000000 },
      nonce: 12,
    },
  },
  { withdraw_issuer_licence: { issuer: K(1), reason: "expired", nonce: 13 } },
  { set_licence_policy: { required: true, nonce: 18446744073709551615n } },
  {
    create_series_with_terms: {
      issuer: K(1),
      name: "relic",
      content_hash: K(14),
      max_supply: 10,
      metadata_uri: "u",
      terms: { recipes: [{ inputs: [{ series_id: K(5), count: 3 }] }], blind_box: null },
      approval: { reviewer: K(2), signature: S(15) },
    },
  },
  {
    create_series_with_terms: {
      issuer: K(1),
      name: "box",
      content_hash: K(16),
      max_supply: 3,
      metadata_uri: "u",
      terms: {
        recipes: [],
        blind_box: {
          variants: [
            { name: "gold", content_hash: K(17), count: 1 },
            { name: "plain", content_hash: K(18), count: 2 },
          ],
          seed_commitment: K(19),
        },
      },
      approval: { reviewer: K(2), signature: S(20) },
    },
  },
  { synthesize: { series_id: K(21), recipe: 0, inputs: [K(22), K(23)], edition: 3, holder: K(6) } },
  { close_blind_box: { series_id: K(21) } },
  { reveal_blind_box: { series_id: K(21), seed: K(24), entropy: K(25) } },
];

describe("parseTxBody / parseSignedTx", () => {
  test("every kind reads, encodes with its variant index, and decodes back to the same bytes", () => {
    const kinds = new Set();
    for (const json of BODIES) {
      const [kind] = Object.keys(json);
      kinds.add(kind);
      const tx = parseSignedTx({ body: json, signatures: [{ signer: K(1), signature: S(2) }] });
      assert.equal(tx.body.kind, kind);
      const bytes = encodeSignedTx(tx);
      const back = decodeSignedTx(bytes, 1 << 16);
      assert.equal(toHex(encodeSignedTx(back)), toHex(bytes), kind);
      assert.equal(toHex(back.bodyBytes), toHex(encodeTxBody(parseTxBody(json))), kind);
      // Text and object inputs read alike.
      assert.equal(toHex(encodeTxBody(parseTxBody(stringifyJson(json)))), toHex(back.bodyBytes), kind);
    }
    assert.equal(kinds.size, 19, "all 19 TxBody variants");
  });

  test("docs/protocol.md §4.1 and §4.2: the ChangeValidators and Mint bodies", () => {
    const change = parseTxBody(
      '{"change_validators": {"change": {"add": {"validator": {"public_key": ' +
        '"01582658eb45dc613f0f085be4a97bf68a0bfbf427e29acb59029e4c99e1bc9b", "power": 1, "name": "org-4"}}}, "nonce": 3}}',
    );
    assert.equal(
      toHex(encodeTxBody(change)),
      "080001582658eb45dc613f0f085be4a97bf68a0bfbf427e29acb59029e4c99e1bc9b01056f72672d3403",
    );
    const mint = parseTxBody({
      mint: {
        series_id: "0x7C9C85E2DB9F4CBE3D8C4BF982C112E1691193F31E570F2D4E77D7A2BCE08101",
        edition: 1,
        holder: "4f85287d9e40073be848dab9a904d7ecc3415a869ac7ac1c8b6cbbf3704b6b38",
      },
    });
    assert.equal(
      toHex(encodeTxBody(mint)),
      "057c9c85e2db9f4cbe3d8c4bf982c112e1691193f31e570f2d4e77d7a2bce0810101" +
        "4f85287d9e40073be848dab9a904d7ecc3415a869ac7ac1c8b6cbbf3704b6b38",
    );
  });

  test("every transaction of the golden fixtures reads back from its own JSON", () => {
    // Leaves of the Rust-made fixtures, decoded, written as JSON and read
    // again, encode to the very bytes of the leaf.
    const toJson = (v) => {
      if (v instanceof Uint8Array) return toHex(v);
      if (Array.isArray(v)) return v.map(toJson);
      if (v && typeof v === "object") {
        const { kind, ...rest } = v;
        const fields = Object.fromEntries(Object.entries(rest).map(([k, x]) => [k, toJson(x)]));
        // A TxBody or ValidatorChange variant (a Licence's `kind` is a plain string field).
        return typeof kind === "string" && !("number" in rest) ? { [kind]: fields } : { ...fields, ...(kind === undefined ? {} : { kind }) };
      }
      return v;
    };
    let seen = 0;
    for (const file of readdirJson()) {
      let c;
      try {
        c = JSON.parse(read(file));
      } catch {
        continue; // malformed.json
      }
      const entries = [c.mint, c.series, c.reveal, c.revocation, c.burn, ...(c.transitions || []).map((t) => t.change)];
      for (const e of entries.filter(Boolean)) {
        let leaf;
        try {
          leaf = decodeLogLeaf(fromHex(e.leaf), 1 << 16);
        } catch {
          continue; // a deliberately broken leaf
        }
        const { bodyBytes, ...tx } = leaf.tx;
        const again = parseSignedTx(toJson(tx));
        assert.equal(toHex(encodeTxBody(again.body)), toHex(bodyBytes), `${file}: ${leaf.tx.body.kind}`);
        seen++;
      }
    }
    assert.ok(seen > 50, `${seen} leaves`);
  });

  test("refused as serde refuses them (Malformed)", () => {
    const bad = [
      { mint: { series_id: K(5), edition: 7, holder: K(6), price: 1 } },
      { mint: { series_id: K(5), edition: 7 } },
      { mint: { series_id: "ab", edition: 7, holder: K(6) } },
      { mint: { series_id: K(5), edition: 4294967296, holder: K(6) } },
      { mint: { series_id: K(5), edition: -1, holder: K(6) } },
      { mint: { series_id: K(5), edition: 1.5, holder: K(6) } },
      { sell: { certificate_id: K(7) } },
      { mint: { series_id: K(5), edition: 7, holder: K(6) }, revoke: { certificate_id: K(7), reason: "" } },
      "mint",
      { set_issuer_status: { issuer: K(1), status: "frozen", nonce: 1 } },
      { set_licence_policy: { required: 1, nonce: 1 } },
      { set_licence_policy: { required: true, nonce: 18446744073709551616n } },
      { change_validators: { change: { add: { validator: { public_key: K(9), power: 1 } } }, nonce: 5 } },
      { create_series: { ...BODIES[4].create_series, approval: { reviewer: K(2), signature: K(4) } } },
    ];
    for (const json of bad) {
      assert.throws(
        () => parseTxBody(json),
        (e) => e instanceof VerifyError && e.code === "Malformed",
        stringifyJson(json),
      );
    }
    assert.throws(() => parseSignedTx({ body: BODIES[5] }), (e) => e.code === "Malformed");
    assert.throws(() => parseSignedTx({ body: BODIES[5], signatures: [], extra: 1 }), (e) => e.code === "Malformed");
  });
});

describe("parseJson / stringifyJson", () => {
  test("u64 above 2^53 survive a round trip exactly", () => {
    const text = '{"nonce":18446744073709551615,"small":42,"neg":-7,"f":1.5,"s":"\\u00e9\\"","a":[true,null]}';
    const v = parseJson(text);
    assert.equal(v.nonce, 18446744073709551615n);
    assert.equal(v.small, 42);
    assert.equal(stringifyJson(v), text.replace("\\u00e9", "é"));
    assert.equal(stringifyJson({ a: [1, { b: 2n }], c: {}, d: [] }, 2), JSON.stringify({ a: [1, { b: 2 }], c: {}, d: [] }, null, 2));
    assert.equal(stringifyJson({ u: undefined, f: () => 1, x: [undefined] }), '{"x":[null]}');
  });

  test("bad JSON is a SyntaxError; __proto__ is an own key", () => {
    for (const t of ["{", '{"a":1,}', "01", "[1] x", '"\\ud800"']) assert.throws(() => parseJson(t), SyntaxError, t);
    const v = parseJson('{"__proto__": {"x": 1}}');
    assert.equal(Object.getPrototypeOf(v), Object.prototype);
    assert.deepEqual(Object.keys(v), ["__proto__"]);
  });

  test("loadGenesis reads a genesis object with a power above 2^53 exactly", async () => {
    const g = parseJson(read("genesis.json"));
    const plain = await loadGenesis(read("genesis.json"));
    assert.equal((await loadGenesis(g)).hashHex, plain.hashHex);
    const g2 = parseJson(read("genesis.json")); // loadGenesis caches by object: a fresh one
    g2.validators[0].power = 2n ** 55n + 1n;
    const big = await loadGenesis(g2);
    assert.equal(big.genesis.validators[0].power, 2n ** 55n + 1n);
  });
});

function readdirJson() {
  const expected = JSON.parse(read("expected.json"));
  return [...new Set([...expected.certificates.map((c) => c.file), ...expected.statuses.map((s) => s.file)])];
}
