// 3. Against a real node: `keepsake dev` in a temporary home, on a port the
// OS picks (`--rpc 127.0.0.1:0`; the node prints the bound address on its
// first stdout line), killed at the end. Binary: $KEEPSAKE_BIN, default
// <repo>/target/release/keepsake. Without it the suite is skipped, unless
// KEEPSAKE_SDK_TESTS=1 (CI), which makes a missing binary a failure.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

import {
  KeepsakeClient,
  Key,
  bodies,
  createSeriesBody,
  readDevKeys,
  readGenesisFile,
  holderId,
  seriesId,
  certificateId,
  txId,
  signTx,
  fetchCertificate,
  fetchStatus,
  refreshCertificate,
  verifyCertificate,
  revealEntropy,
  newBlindBoxSeed,
  seedCommitment,
  RpcError,
  verifier,
} from "../src/index.js";
import { REPO } from "./helpers.mjs";

const BIN = process.env.KEEPSAKE_BIN || join(REPO, "target/release/keepsake");
const REQUIRED = process.env.KEEPSAKE_SDK_TESTS === "1";
const present = existsSync(BIN);
if (!present && REQUIRED) {
  throw new Error(`KEEPSAKE_SDK_TESTS=1 but the keepsake binary is missing: ${BIN} (cargo build --release -p keepsake, or set KEEPSAKE_BIN)`);
}
const skip = present ? false : `no keepsake binary at ${BIN} (build it or set KEEPSAKE_BIN; KEEPSAKE_SDK_TESTS=1 makes this a failure)`;
if (skip) console.log(`# skipping the node tests: ${skip}`);

/** Starts `keepsake dev` in `home`; resolves with {child, url} once GET /health answers ok. */
async function startDev(home) {
  const child = spawn(BIN, ["dev", "--home", home, "--rpc", "127.0.0.1:0"], { stdio: ["ignore", "pipe", "pipe"] });
  const log = [];
  child.stderr.on("data", (d) => log.push(d.toString()) && log.length > 200 && log.shift());
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const url = await Promise.race([
    new Promise((resolve) => {
      createInterface({ input: child.stdout }).once("line", (line) => resolve(line.replace(/^rpc: /, "").trim()));
    }),
    exited.then(({ code, signal }) => {
      throw new Error(`keepsake dev exited (${code ?? signal}) before serving:\n${log.join("")}`);
    }),
    new Promise((_, reject) => setTimeout(() => reject(new Error(`keepsake dev did not start in 20 s:\n${log.join("")}`)), 20_000).unref()),
  ]);
  const client = new KeepsakeClient(url, { timeoutMs: 20_000 });
  for (let i = 0; ; i++) {
    try {
      if ((await client.health()).status === "ok") break;
    } catch {
      // not yet
    }
    if (i > 200) throw new Error(`GET ${url}/health never answered ok:\n${log.join("")}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, url, exited, log };
}

describe("against a real node (keepsake dev)", { skip, concurrency: false }, () => {
  let home;
  let node;
  let client;
  let keys;
  let genesis;
  let chain;
  const holder = {};
  const ids = {};
  const sent = new Map(); // tx id -> kind, for the cross-check with the node's JSON

  /** Signs, submits, waits; records the id; checks it against the locally computed one. */
  const send = async (body, signers) => {
    const local = await txId(chain, body);
    const r = await client.send(body, signers);
    assert.equal(r.id, local);
    assert.equal(r.status.status, "committed");
    sent.set(r.id, r.kind);
    return r;
  };

  before(async () => {
    home = mkdtempSync(join(tmpdir(), "keepsake-sdk-node-"));
    node = await startDev(home);
    client = new KeepsakeClient(node.url, { timeoutMs: 20_000 });
    keys = await readDevKeys(home);
    // The trust anchor comes from the home directory (out of band), not from the node...
    genesis = await readGenesisFile(join(home, "genesis.json"));
    chain = genesis.chain_id;
    // ...and the node we talk to must be the one we started.
    assert.deepEqual(await client.getGenesis(), genesis);
    holder.alice = await holderId("5f2c9a", "alice@example.com");
    holder.bob = await holderId("5f2c9a", "bob@example.com");
  });

  after(async () => {
    if (node) {
      node.child.kill("SIGTERM");
      const t = setTimeout(() => node.child.kill("SIGKILL"), 5000);
      await node.exited;
      clearTimeout(t);
    }
    if (home) rmSync(home, { recursive: true, force: true });
  });

  test("the dev keys are the genesis' governor and a block subscription delivers blocks", async () => {
    assert.deepEqual(Object.keys(keys).sort(), ["governor", "issuer", "reviewer", "validator"]);
    assert.deepEqual(genesis.governors, [keys.governor.publicKey]);
    const blocks = [];
    let seen;
    const got = new Promise((r) => (seen = r));
    const sub = await client.subscribeBlocks((b) => {
      blocks.push(b);
      seen();
    });
    await got;
    await sub.close();
    assert.ok(blocks[0].height >= 1 && blocks[0].hash.length === 64, JSON.stringify(blocks[0]));
  });

  test("governance registers the issuer and the reviewer; licence set, then required (bodies 0, 2, 12, 14)", async () => {
    await send(bodies.registerIssuer({ issuer: keys.issuer, name: "Dunhuang Museum" }), [keys.governor]);
    await send(bodies.registerReviewer({ reviewer: keys.reviewer, name: "Review board" }), [keys.governor]);
    const until = Date.now() + 365 * 24 * 3600 * 1000;
    await send(
      bodies.setIssuerLicence({ issuer: keys.issuer, licence: { kind: "ICP", number: "京ICP证-0001", valid_until_ms: until } }),
      [keys.governor],
    );
    await send(bodies.setLicencePolicy({ required: true }), [keys.governor]);
    const issuer = await client.getIssuer(keys.issuer.publicKey);
    assert.equal(issuer.name, "Dunhuang Museum");
    // A governance action signed by the issuer is refused at admission with its rule's code.
    await assert.rejects(
      client.send(bodies.registerReviewer({ reviewer: Key.generate(), name: "x" }), [keys.issuer]),
      (e) => e instanceof RpcError && e.code === "UnauthorizedSigner" && e.number === 4007,
    );
  });

  test("a reviewed series (review/v1); a single mint waited for by subscription; a batch of mints", async () => {
    const body = createSeriesBody(chain, {
      issuer: keys.issuer,
      name: "apsaras",
      content_hash: await sha("artwork:apsaras"),
      max_supply: 20,
      metadata_uri: "https://museum.example/apsaras.json",
      reviewer: keys.reviewer,
    });
    assert.ok("create_series" in body);
    await send(body, [keys.issuer]);
    ids.apsaras = await seriesId(chain, keys.issuer, "apsaras");
    assert.equal((await client.getSeries(ids.apsaras)).name, "apsaras");

    // Single: submitted, then waited for through keepsake_subscribeBlocks.
    const one = await client.sign(bodies.mint({ series_id: ids.apsaras, edition: 1, holder: holder.alice }), keys.issuer);
    assert.equal(await client.submitTx(one), one.id);
    const [st] = await client.waitForCommit(one.id);
    assert.equal(st.status, "committed");
    sent.set(one.id, "mint");

    // Batch: editions 2..6 in one keepsake_submitTxs, plus a transfer refused alone.
    const c1 = await certificateId(chain, ids.apsaras, 1);
    const items = [2, 3, 4, 5, 6].map((edition) => ({
      body: bodies.mint({ series_id: ids.apsaras, edition, holder: edition <= 4 ? holder.alice : holder.bob }),
      signers: [keys.issuer],
    }));
    items.splice(2, 0, { body: bodies.transfer({ certificate_id: c1, to: holder.bob }), signers: [keys.issuer] });
    const results = await client.sendBatch(items);
    assert.equal(results.length, 6);
    assert.equal(results[2].error.code, "TransferForbidden");
    assert.equal(results[2].error.number, 4001);
    for (const r of results.filter((x) => !x.error)) {
      assert.equal(r.status.status, "committed");
      sent.set(r.id, r.kind);
    }
    assert.equal((await client.getSeries(ids.apsaras)).minted, 6);
  });

  test("fetch a certificate and verify it offline against the genesis file", async () => {
    const c1 = await certificateId(chain, ids.apsaras, 1);
    const got = await fetchCertificate(client, c1, genesis);
    assert.equal(got.verification.ok, true);
    assert.equal(got.verification.certificateId, c1);
    assert.equal(got.verification.record.holder, holder.alice);
    assert.equal(got.verification.record.issuer, keys.issuer.publicKey);
    assert.equal(got.verification.record.reviewer, keys.reviewer.publicKey);
    assert.equal(got.revocation, null);
    // The holder opens the commitment with the platform's salt and the account.
    assert.equal((await verifier.checkHolder(got.verification, "5f2c9a", "alice@example.com")).mine, true);
    assert.equal((await verifier.checkHolder(got.verification, "5f2c9a", "bob@example.com")).mine, false);
    // A certificate from another chain's genesis is not valid here.
    const other = { ...genesis, chain_id: "another-chain" };
    assert.equal((await verifyCertificate(got.certificate, other)).code, "WrongChain");
    ids.cert1 = got.certificate;
  });

  test("a transfer is refused with TransferForbidden (4001)", async () => {
    const c1 = await certificateId(chain, ids.apsaras, 1);
    await assert.rejects(client.send(bodies.transfer({ certificate_id: c1, to: holder.bob }), [keys.issuer]), (e) => {
      assert.ok(e instanceof RpcError);
      assert.equal(e.code, "TransferForbidden");
      assert.equal(e.number, 4001);
      assert.equal(e.data.code, "TransferForbidden");
      return true;
    });
  });

  test("revoke (body 6); the status answer is verified offline: revoked, and active for another", async () => {
    const c2 = await certificateId(chain, ids.apsaras, 2);
    await send(bodies.revoke({ certificate_id: c2, reason: "minted in error" }), [keys.issuer]);
    const cert2 = (await client.getCertificate(c2)).certificate;
    const { verification } = await fetchStatus(client, cert2, genesis);
    assert.equal(verification.status, "revoked");
    assert.equal(verification.revocation.reason, "minted in error");
    assert.equal(verification.revocation.by, "issuer");
    const active = await fetchStatus(client, ids.cert1, genesis);
    assert.equal(active.verification.status, "active");
    // Revoking twice: AlreadyRevoked (4024).
    await assert.rejects(client.send(bodies.revoke({ certificate_id: c2, reason: "again" }), [keys.issuer]), (e) => e.code === "AlreadyRevoked" && e.number === 4024);
  });

  test("licence withdrawn (body 13): minting refused with LicenceWithdrawn; renewed", async () => {
    await send(bodies.withdrawIssuerLicence({ issuer: keys.issuer, reason: "audit pending" }), [keys.governor]);
    await assert.rejects(
      client.send(bodies.mint({ series_id: ids.apsaras, edition: 7, holder: holder.alice }), [keys.issuer]),
      (e) => e instanceof RpcError && e.code === "LicenceWithdrawn" && e.number === 4034,
    );
    await send(
      bodies.setIssuerLicence({ issuer: keys.issuer, licence: { kind: "ICP", number: "京ICP证-0002", valid_until_ms: Date.now() + 86_400_000 } }),
      [keys.governor],
    );
  });

  test("a series with a recipe (body 15, review/v2) and a synthesis burning two certificates (body 16)", async () => {
    const terms = { recipes: [{ inputs: [{ series_id: ids.apsaras, count: 2 }] }], blind_box: null };
    const body = createSeriesBody(chain, {
      issuer: keys.issuer,
      name: "relic",
      content_hash: await sha("artwork:relic"),
      max_supply: 5,
      metadata_uri: "https://museum.example/relic.json",
      terms,
      reviewer: keys.reviewer,
    });
    assert.ok("create_series_with_terms" in body);
    await send(body, [keys.issuer]);
    ids.relic = await seriesId(chain, keys.issuer, "relic");
    const inputs = [await certificateId(chain, ids.apsaras, 3), await certificateId(chain, ids.apsaras, 4)];
    await send(bodies.synthesize({ series_id: ids.relic, recipe: 0, inputs, edition: 1, holder: holder.alice }), [keys.issuer]);

    const relic1 = await certificateId(chain, ids.relic, 1);
    const got = await fetchCertificate(client, relic1, genesis);
    assert.deepEqual(got.verification.record.synthesized_from, inputs);
    assert.equal(got.verification.recipe, 0);
    // The burned input's status answer proves the burn.
    const burned = await client.getCertificate(inputs[0]);
    assert.equal(burned.burn.into, relic1);
    const { verification } = await fetchStatus(client, burned.certificate, genesis);
    assert.equal(verification.status, "burned");
    assert.equal(verification.burn.into, relic1);
  });

  test("a blind box: created (terms with a seed commitment), minted, closed, revealed (bodies 15, 17, 18)", async () => {
    const seed = newBlindBoxSeed();
    const variants = [
      { name: "gold", content_hash: await sha("box:gold"), count: 1 },
      { name: "plain", content_hash: await sha("box:plain"), count: 3 },
    ];
    const body = createSeriesBody(chain, {
      issuer: keys.issuer,
      name: "mystery",
      content_hash: await sha("box:cover"),
      max_supply: 4,
      metadata_uri: "https://museum.example/mystery.json",
      terms: { recipes: [], blind_box: { variants, seed_commitment: await seedCommitment(chain, seed) } },
      reviewer: keys.reviewer,
    });
    await send(body, [keys.issuer]);
    ids.box = await seriesId(chain, keys.issuer, "mystery");
    const minted = await client.sendBatch(
      [1, 2, 3].map((edition) => ({ body: bodies.mint({ series_id: ids.box, edition, holder: holder.bob }), signers: keys.issuer })),
    );
    assert.ok(minted.every((m) => m.error === null && m.status.status === "committed"));
    minted.forEach((m) => sent.set(m.id, m.kind));
    const close = await send(bodies.closeBlindBox({ series_id: ids.box }), [keys.issuer]);
    // Nothing is minted into a closed box.
    await assert.rejects(
      client.send(bodies.mint({ series_id: ids.box, edition: 4, holder: holder.bob }), [keys.issuer]),
      (e) => e.code === "BlindBoxClosed" && e.number === 4047,
    );
    // The entropy: the log root just after the close (its leaf_index + 1).
    const entropy = await revealEntropy(client, ids.box, seed);
    const root = await client.getLogRoot(close.status.leaf_index + 1);
    assert.equal(entropy, root.root);
    await assert.rejects(revealEntropy(client, ids.box, newBlindBoxSeed()), (e) => e.code === "SeedMismatch");
    await send(bodies.revealBlindBox({ series_id: ids.box, seed, entropy }), [keys.issuer]);

    const draw = await verifier.drawVariants(chain, verifier.fromHex(ids.box), verifier.fromHex(seed), verifier.fromHex(entropy), variants);
    for (const edition of [1, 2, 3]) {
      const got = await fetchCertificate(client, await certificateId(chain, ids.box, edition), genesis);
      const v = got.verification.record.variant;
      assert.equal(v.index, draw[edition - 1]);
      assert.equal(v.name, variants[draw[edition - 1]].name);
      assert.ok(got.verification.blindBox.reveal.height > 0);
    }
  });

  test("refresh: the first certificate re-anchored to a newer checkpoint, linked by a consistency proof", async () => {
    const old = ids.cert1;
    const oldHeight = old.checkpoint.header.height;
    assert.ok((await client.status()).height > oldHeight);
    const refreshed = await refreshCertificate(client, genesis, old);
    assert.ok(refreshed, "the node has newer checkpoints");
    assert.equal(refreshed.verification.previousHeight, oldHeight);
    assert.ok(refreshed.verification.checkpointHeight > oldHeight);
    assert.equal(refreshed.certificate.previous.checkpoint.header.height, oldHeight);
    // Valid as a file on its own; a tampered consistency proof is caught.
    assert.ok((await verifyCertificate(verifier.stringifyJson(refreshed.certificate, 2), genesis)).ok);
    const bad = structuredClone(refreshed.certificate);
    bad.previous.consistency[0] = "00".repeat(32);
    assert.equal((await verifyCertificate(bad, genesis)).code, "ConsistencyMismatch");
    // Already current: null.
    const again = await refreshCertificate(client, genesis, refreshed.certificate);
    assert.ok(again === null || again.verification.previousHeight === refreshed.verification.checkpointHeight);
  });

  test("the other governance bodies (1, 3, 8-11); a validator-set change then travels in certificates", async () => {
    await send(bodies.setIssuerStatus({ issuer: keys.issuer, status: "suspended" }), [keys.governor]);
    await assert.rejects(
      client.send(bodies.mint({ series_id: ids.apsaras, edition: 9, holder: holder.alice }), [keys.issuer]),
      (e) => e.code === "IssuerSuspended" && e.number === 4013,
    );
    await send(bodies.setIssuerStatus({ issuer: keys.issuer, status: "active" }), [keys.governor]);
    const observer = Key.generate();
    await send(bodies.registerObserver({ observer, name: "Notary" }), [keys.governor]);
    await send(bodies.removeObserver({ observer }), [keys.governor]);
    await send(bodies.setGovernance({ governors: [keys.governor], threshold: 1 }), [keys.governor]);
    // Adding a validator whose node is not running would stop a one-validator chain: refused by rule.
    const newcomer = Key.generate();
    await assert.rejects(
      client.send(bodies.changeValidators({ change: { kind: "add", validator: { public_key: newcomer, power: 1, name: "org-2" } } }), [keys.governor, newcomer]),
      (e) => e.code === "ValidatorSetUnsafe" && e.number === 4028,
    );
    const change = await send(
      bodies.changeValidators({ change: { kind: "set_power", public_key: keys.validator, power: 2 } }),
      [keys.governor],
    );
    // In force from the change's height + 2; then a certificate carries the transition.
    const from = change.status.height + 2;
    while ((await client.status()).height < from) await new Promise((r) => setTimeout(r, 100));
    const got = await fetchCertificate(client, await certificateId(chain, ids.apsaras, 1), genesis);
    assert.equal(got.verification.setChanges, 1);
    assert.equal(got.certificate.transitions.length, 1);
    assert.equal(String(got.verification.totalPower), "2");
    await send(bodies.removeReviewer({ reviewer: keys.reviewer }), [keys.governor]);
  });

  test("cross-check: every transaction the node shows, its JSON body re-encoded by the SDK, has the node's id", async () => {
    const recent = await client.recentTransactions(100);
    const kinds = new Set();
    for (const r of recent) {
      assert.equal(await txId(chain, r.body), r.tx_id, verifier.stringifyJson(r.body));
      if (sent.has(r.tx_id)) kinds.add(Object.keys(r.body)[0]);
    }
    for (const k of ["register_issuer", "set_issuer_status", "register_reviewer", "remove_reviewer", "create_series", "mint",
      "revoke", "change_validators", "set_governance", "register_observer", "remove_observer", "set_issuer_licence",
      "withdraw_issuer_licence", "set_licence_policy", "create_series_with_terms", "synthesize", "close_blind_box", "reveal_blind_box"]) {
      assert.ok(kinds.has(k), `${k} not among the node's recent transactions`);
    }
    // A raw SignedTx JSON (not a signTx result) is checked against its local id too.
    const signed = await signTx(chain, bodies.mint({ series_id: ids.apsaras, edition: 8, holder: holder.bob }), [keys.issuer]);
    const id = await client.submitTx(JSON.parse(verifier.stringifyJson(signed.tx)));
    assert.equal(id, signed.id);
    assert.equal((await client.waitForCommit([id]))[0].status, "committed");
  });
});

async function sha(text) {
  return verifier.toHex(await verifier.sha256(new TextEncoder().encode(text)));
}
