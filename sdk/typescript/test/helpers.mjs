// Shared by the tests: paths of the repository's fixtures.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const REPO = fileURLToPath(new URL("../../../", import.meta.url));
export const FIXTURES = fileURLToPath(new URL("../../../tests/fixtures/certificates/", import.meta.url));
export const fixture = (name) => readFileSync(FIXTURES + name, "utf8");
export const expected = JSON.parse(fixture("expected.json"));

/** Key n of crates/ledger/src/testkit.rs: seed n || 00 x 30 || 6b. */
export function testkitSeed(n) {
  const seed = new Uint8Array(32);
  seed[0] = n;
  seed[31] = 0x6b;
  return seed;
}
