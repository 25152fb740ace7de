// The entropy of a blind box's reveal (node/src/cli/tx.rs reveal_entropy,
// docs/blind-boxes.md): the log root just after the box's close.
import { KeepsakeError } from "./errors.js";
import { seedCommitment } from "./tx.js";

/**
 * The entropy for RevealBlindBox: keepsake_getLogRoot at the close's
 * leaf_index + 1, after checking with the node that the series is a closed,
 * unrevealed blind box and (with `seed`) that the seed gives its commitment.
 */
export async function revealEntropy(client, seriesId, seed) {
  const info = await client.getSeries(seriesId);
  const box = info.blind_box;
  if (!box) throw new KeepsakeError("NotABlindBox", `series ${seriesId} (${info.name}) is not a blind box`);
  if (seed !== undefined) {
    const chain = await client.chainId();
    if ((await seedCommitment(chain, seed)) !== String(box.seed_commitment).toLowerCase()) {
      throw new KeepsakeError("SeedMismatch", `this seed is not the seed of series ${seriesId}: its commitment differs from the chain's`);
    }
  }
  if (box.revealed) {
    throw new KeepsakeError("BlindBoxAlreadyRevealed", `series ${seriesId} was already revealed at height ${box.revealed.height}`);
  }
  if (!box.closed) throw new KeepsakeError("BlindBoxNotClosed", `series ${seriesId} is not closed: close its sale first`);
  const size = BigInt(box.closed.leaf_index) + 1n;
  const root = await client.getLogRoot(size <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(size) : size);
  if (BigInt(root.size) !== size) {
    throw new KeepsakeError("InvalidRange", `the node answered the log root at size ${root.size} instead of ${size}`);
  }
  return String(root.root).toLowerCase();
}
