// 1. The golden certificate fixtures (tests/fixtures/certificates, made and
// checked by the Rust code in tests/tests/golden.rs) through the SDK's API:
// files read with their bounds, certificates given as text, as BigInt-exact
// objects and as bytes, the *OrThrow helpers, status answers, holder openings.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import {
  verifyCertificate,
  verifyCertificateFile,
  verifyCertificateOrThrow,
  verifyStatus,
  readGenesisFile,
  readCertificateFile,
  writeCertificateFile,
  CertificateVerificationError,
  KeepsakeError,
  holderId,
  verifier,
} from "../src/index.js";
import { FIXTURES, fixture, expected } from "./helpers.mjs";

const verdict = (r) => (r.ok ? "valid" : r.code);

describe("golden certificate fixtures through the SDK (expected.json)", () => {
  test("expected.json lists certificates and statuses", () => {
    assert.ok(expected.certificates.length >= 38, `${expected.certificates.length} certificates`);
    assert.ok(expected.statuses.length >= 8, `${expected.statuses.length} statuses`);
  });

  for (const { file, genesis, verdict: want } of expected.certificates) {
    test(`${file} against ${genesis}: ${want}`, async () => {
      // From the files (keepsake cert verify FILE --genesis GENESIS).
      const fromFiles = await verifyCertificateFile(FIXTURES + file, FIXTURES + genesis);
      assert.equal(verdict(fromFiles), want, fromFiles.message);
      // As a BigInt-exact object and as bytes: the same verdict (not for the
      // file that is not JSON at all).
      const text = fixture(file);
      const genesisObject = await readGenesisFile(FIXTURES + genesis);
      let asObject = null;
      try {
        asObject = verifier.parseJson(text);
      } catch {
        assert.equal(want, "Malformed");
      }
      if (asObject) {
        const r = await verifyCertificate(asObject, genesisObject);
        assert.equal(verdict(r), want, `as an object: ${r.message}`);
      }
      const r2 = await verifyCertificate(new TextEncoder().encode(text), genesisObject);
      assert.equal(verdict(r2), want, `as bytes: ${r2.message}`);
      // The throwing form: the error carries the stable code and the step.
      if (want === "valid") {
        const ok = await verifyCertificateOrThrow(text, genesisObject);
        assert.equal(ok.certificateId.length, 64);
        assert.equal(ok.record.holder.length, 64);
      } else {
        await assert.rejects(verifyCertificateOrThrow(text, genesisObject), (e) => {
          assert.ok(e instanceof CertificateVerificationError && e instanceof KeepsakeError);
          assert.equal(e.code, want);
          assert.equal(e.step, fromFiles.step);
          return true;
        });
      }
    });
  }

  for (const { certificate, file, verdict: want } of expected.statuses) {
    test(`status ${file} for ${certificate}: ${want}`, async () => {
      const genesis = await readGenesisFile(FIXTURES + "genesis.json");
      const cert = await verifyCertificateOrThrow(await readCertificateFile(FIXTURES + certificate), genesis);
      const r = await verifyStatus(verifier.parseJson(fixture(file)), genesis, cert);
      assert.equal(r.ok ? r.status : r.code, want, r.message);
    });
  }

  test("the revoked fixture: reason, revoker and height from the proven revocation", async () => {
    const genesis = await readGenesisFile(FIXTURES + "genesis.json");
    const cert = await verifyCertificateOrThrow(fixture("revoked.json"), genesis);
    const st = await verifyStatus(fixture("revoked-status.json"), genesis, cert);
    assert.equal(st.status, "revoked");
    assert.deepEqual([st.revocation.reason, st.revocation.by, st.revocation.height], ["minted in error", "issuer", 4]);
  });

  test("the holder of the golden chain opens with its salt and account (protocol.md §2)", async () => {
    assert.equal(
      await holderId("5f2c9a", "alice@example.com"),
      "4f85287d9e40073be848dab9a904d7ecc3415a869ac7ac1c8b6cbbf3704b6b38",
    );
  });
});

describe("files", () => {
  test("a certificate file over 4 MiB is refused before parsing; writeCertificateFile round-trips", async () => {
    const dir = mkdtempSync(join(tmpdir(), "keepsake-sdk-"));
    try {
      const big = join(dir, "big.json");
      writeFileSync(big, fixture("valid.json").replace(/\n}\n$/, "\n}" + " ".repeat(4 * 1024 * 1024) + "\n"));
      const r = await verifyCertificateFile(big, FIXTURES + "genesis.json");
      assert.equal(r.code, "TooLarge");
      await assert.rejects(readCertificateFile(big), (e) => e.code === "TooLarge");

      const out = join(dir, "copy.json");
      await writeCertificateFile(out, verifier.parseJson(fixture("refreshed.json")));
      assert.equal(readFileSync(out, "utf8"), fixture("refreshed.json").replace(/\n?$/, "\n"));
      assert.ok((await verifyCertificateFile(out, FIXTURES + "genesis.json")).ok);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("an invalid genesis file is refused with InvalidGenesis", async () => {
    const dir = mkdtempSync(join(tmpdir(), "keepsake-sdk-"));
    try {
      const g = JSON.parse(fixture("genesis.json"));
      g.governance_threshold = 0;
      writeFileSync(join(dir, "g.json"), JSON.stringify(g));
      await assert.rejects(readGenesisFile(join(dir, "g.json")), (e) => e.code === "InvalidGenesis");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
