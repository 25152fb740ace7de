// The certificate verifier and canonical encoder of the explorer, web/verify.js:
// ONE implementation for the page, the node (which serves it) and this SDK.
// In the repository this file re-exports it; `npm pack` (scripts/vendor-verify.mjs,
// prepack) puts web/verify.js itself here, byte for byte, and postpack restores this.
export * from "../../../web/verify.js";
