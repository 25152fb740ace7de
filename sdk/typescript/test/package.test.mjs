// The package: one verifier (src/verify.js re-exports web/verify.js), a
// self-contained `npm pack` (the prepack hook puts web/verify.js itself into
// the tarball), and the hand-written declarations type-check.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { SHIM_TEXT } from "../scripts/vendor-verify.mjs";
import * as sdk from "../src/index.js";
import * as web from "../../../web/verify.js";
import { REPO, FIXTURES } from "./helpers.mjs";

const PKG = fileURLToPath(new URL("../", import.meta.url));

describe("one verifier", () => {
  test("src/verify.js is the re-export of web/verify.js, and the SDK's verifier is that very module", () => {
    assert.equal(readFileSync(join(PKG, "src/verify.js"), "utf8"), SHIM_TEXT);
    // The same function objects: one module instance, not a copy.
    assert.equal(sdk.verifier.verifyCertificate, web.verifyCertificate);
    assert.equal(sdk.verifier.encodeTxBody, web.encodeTxBody);
    assert.deepEqual(Object.keys(sdk.verifier).sort(), Object.keys(web).sort());
  });

  test("no SDK source names a path outside the repository's web/verify.js", () => {
    for (const f of readdirSync(join(PKG, "src"))) {
      const text = readFileSync(join(PKG, "src", f), "utf8");
      for (const [, spec] of text.matchAll(/from\s+"([^"]+)"/g)) {
        assert.ok(!spec.startsWith("..") || spec === "../../../web/verify.js", `${f} imports ${spec}`);
      }
    }
  });
});

describe("npm pack", () => {
  test("the tarball carries web/verify.js byte for byte and works outside the repository", () => {
    // Pack a copy laid out as in the repository, so that this tree's
    // src/verify.js is never rewritten while other tests import it.
    const work = mkdtempSync(join(tmpdir(), "keepsake-sdk-pack-"));
    try {
      const copy = join(work, "repo/sdk/typescript");
      mkdirSync(join(work, "repo/web"), { recursive: true });
      cpSync(join(REPO, "web/verify.js"), join(work, "repo/web/verify.js"));
      for (const f of ["package.json", "README.md", "src", "scripts"]) cpSync(join(PKG, f), join(copy, f), { recursive: true });
      const out = execFileSync("npm", ["pack", "--json", "--pack-destination", work], {
        cwd: copy,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
      });
      const [info] = JSON.parse(out.slice(out.indexOf("[")));
      const files = info.files.map((f) => f.path).sort();
      assert.ok(files.includes("src/verify.js") && files.includes("src/index.d.ts") && files.includes("README.md"), files.join(" "));
      assert.ok(!files.some((f) => f.startsWith("test/") || f.startsWith("node_modules/")), files.join(" "));
      // postpack put the shim back.
      assert.equal(readFileSync(join(copy, "src/verify.js"), "utf8"), SHIM_TEXT);

      // Installed elsewhere (no web/ beside it), with its one dependency.
      const app = join(work, "app");
      mkdirSync(join(app, "node_modules/@keepsake/sdk"), { recursive: true });
      execFileSync("tar", ["-xzf", join(work, info.filename), "-C", join(app, "node_modules/@keepsake/sdk"), "--strip-components=1"]);
      assert.deepEqual(
        readFileSync(join(app, "node_modules/@keepsake/sdk/src/verify.js")),
        readFileSync(join(REPO, "web/verify.js")),
      );
      symlinkSync(join(PKG, "node_modules/ws"), join(app, "node_modules/ws"));
      writeFileSync(
        join(app, "check.mjs"),
        `import { verifyCertificateFile, Key, KeepsakeClient } from "@keepsake/sdk";
         import { readFileSync } from "node:fs";
         const [cert, genesis] = process.argv.slice(2);
         const r = await verifyCertificateFile(cert, genesis);
         console.log(JSON.stringify({ ok: r.ok, key: Key.generate().publicKey.length, client: typeof KeepsakeClient }));`,
      );
      const result = execFileSync(process.execPath, ["check.mjs", join(FIXTURES, "valid.json"), join(FIXTURES, "genesis.json")], {
        cwd: app,
        encoding: "utf8",
      });
      assert.deepEqual(JSON.parse(result), { ok: true, key: 64, client: "function" });
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});

describe("types", () => {
  const tsc = join(PKG, "node_modules/typescript/bin/tsc");
  test("src/*.d.ts type-check against test/types.ts (tsc --noEmit)", { skip: existsSync(tsc) ? false : "typescript not installed (npm ci)" }, () => {
    execFileSync(process.execPath, [tsc, "-p", join(PKG, "tsconfig.json")], { encoding: "utf8", stdio: "pipe" });
  });
});
