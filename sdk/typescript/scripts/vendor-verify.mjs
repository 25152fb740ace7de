// npm pack hooks: make the packed package self-contained without a second copy
// of the verifier in the repository.
//
//   vendor   (prepack)  src/verify.js := web/verify.js, byte for byte
//   restore  (postpack) src/verify.js := the one-line re-export of ../../../web/verify.js
//
// In the repository src/verify.js is always the re-export (a test checks it),
// so the SDK, the explorer and the node serve one file.
import { readFileSync, writeFileSync } from "node:fs";

const SHIM = new URL("../src/verify.js", import.meta.url);
const WEB = new URL("../../../web/verify.js", import.meta.url);

export const SHIM_TEXT = `// The certificate verifier and canonical encoder of the explorer, web/verify.js:
// ONE implementation for the page, the node (which serves it) and this SDK.
// In the repository this file re-exports it; \`npm pack\` (scripts/vendor-verify.mjs,
// prepack) puts web/verify.js itself here, byte for byte, and postpack restores this.
export * from "../../../web/verify.js";
`;

const mode = process.argv[2];
if (import.meta.url === `file://${process.argv[1]}`) {
  if (mode === "vendor") {
    const current = readFileSync(SHIM, "utf8");
    if (current !== SHIM_TEXT) {
      console.error("src/verify.js is not the re-export shim (a previous pack was interrupted?); run `node scripts/vendor-verify.mjs restore` first");
      process.exit(1);
    }
    let web;
    try {
      web = readFileSync(WEB);
    } catch {
      console.error("web/verify.js not found: pack from inside the Keepsake repository (sdk/typescript)");
      process.exit(1);
    }
    writeFileSync(SHIM, web);
  } else if (mode === "restore") {
    writeFileSync(SHIM, SHIM_TEXT);
  } else {
    console.error("usage: node scripts/vendor-verify.mjs vendor|restore");
    process.exit(2);
  }
}
