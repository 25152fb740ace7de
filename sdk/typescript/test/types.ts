// Type-checked by `npm run typecheck` (tsc, no output): the declarations in
// src/*.d.ts describe the API as a TypeScript user writes against it. Never run.
import {
  KeepsakeClient,
  Key,
  bodies,
  createSeriesBody,
  signTx,
  holderId,
  seriesId,
  certificateId,
  fetchCertificate,
  fetchStatus,
  refreshCertificate,
  readDevKeys,
  readGenesisFile,
  revealEntropy,
  RpcError,
  ERROR_CODES,
  verifier,
  type TxBody,
  type SignedTransaction,
  type Genesis,
} from "@keepsake/sdk";
import { verifyCertificate as rawVerify } from "@keepsake/sdk/verify.js";

export async function tour(home: string): Promise<string> {
  const keys = await readDevKeys(home);
  const issuer: Key = keys.issuer!;
  const genesis: Genesis = await readGenesisFile(`${home}/genesis.json`);
  const client = new KeepsakeClient("http://127.0.0.1:8645", { timeoutMs: 10_000 });
  const chain = await client.chainId();
  const series: TxBody = createSeriesBody(chain, {
    issuer,
    name: "apsaras",
    content_hash: "ab".repeat(32),
    max_supply: 300,
    metadata_uri: "https://museum.example/apsaras.json",
    reviewer: keys.reviewer!,
  });
  await client.send(series, issuer);
  const sid = await seriesId(chain, issuer, "apsaras");
  const holder = await holderId("salt", "alice@example.com");
  const signed: SignedTransaction = await signTx(chain, bodies.mint({ series_id: sid, edition: 1, holder }), [issuer]);
  const id: string = await client.submitTx(signed);
  const [status] = await client.waitForCommit([id]);
  if (status.status === "committed") console.log(status.height, status.leaf_index);
  const cid = await certificateId(chain, sid, 1);
  const { verification, certificate } = await fetchCertificate(client, cid, genesis);
  console.log(verification.record.edition, verification.checkpointHeight);
  const st = await fetchStatus(client, certificate, genesis);
  if (st.verification.status === "revoked") console.log(st.verification.revocation?.reason);
  const fresh = await refreshCertificate(client, genesis, certificate);
  console.log(fresh?.verification.previousHeight);
  const v = await rawVerify(JSON.stringify(certificate), genesis);
  if (!v.ok) console.log(v.code, v.step);
  try {
    await client.send(bodies.transfer({ certificate_id: cid, to: holder }), issuer);
  } catch (e) {
    if (e instanceof RpcError && e.code === "TransferForbidden" && e.number === ERROR_CODES.TransferForbidden) console.log("no resale");
  }
  const entropy: string = await revealEntropy(client, sid);
  const deck = await verifier.drawVariants(chain, verifier.fromHex(sid), verifier.fromHex(entropy), verifier.fromHex(entropy), [{ count: 1 }]);
  console.log(deck?.[0]);
  // @ts-expect-error: a mint needs an edition
  bodies.mint({ series_id: sid, holder });
  // @ts-expect-error: Keys sign, strings do not
  await signTx(chain, series, ["ab"]);
  return id;
}
