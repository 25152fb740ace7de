// Browser checks of the explorer page, run by tests/tests/browser.rs against
// a real node: headless Debian Chromium driven by playwright-core.
// Environment (set by the Rust test):
//   KEEPSAKE_URL          the node's http://127.0.0.1:PORT (page and JSON-RPC)
//   KEEPSAKE_CHROMIUM     the Chromium binary
//   KEEPSAKE_FIXTURES     tests/fixtures/certificates
//   KEEPSAKE_CERT_FILE    a certificate file fetched from the node (active)
//   KEEPSAKE_ACTIVE_ID    its id
//   KEEPSAKE_REVOKED_ID   a revoked certificate's id on the node
//   KEEPSAKE_SCREENSHOTS  where screenshots go
// Prints one line per check and "ALL BROWSER CHECKS PASSED"; exits 1 on the
// first failure.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`missing ${k}`);
  return v;
};
const URL_ = env("KEEPSAKE_URL");
const FIXTURES = env("KEEPSAKE_FIXTURES");
const SHOTS = env("KEEPSAKE_SCREENSHOTS");
const ACTIVE = env("KEEPSAKE_ACTIVE_ID");
const REVOKED = env("KEEPSAKE_REVOKED_ID");
const CERT_FILE = env("KEEPSAKE_CERT_FILE");
const TIMEOUT = 15_000;

/** The step of the page that must be marked failed for each stable code. */
const STEP_OF = {
  Malformed: "file",
  TooLarge: "file",
  WrongChain: "chain",
  CommitHeightMismatch: "checkpoint",
  CommitBlockMismatch: "checkpoint",
  ValidatorSetMismatch: "checkpoint",
  UnknownValidator: "checkpoint",
  DuplicateCommitSignature: "checkpoint",
  BadSignature: "checkpoint",
  InsufficientPower: "checkpoint",
  InvalidTransition: "checkpoint", // the validator-set transitions are followed in the checkpoint step
  ConsistencyMismatch: "consistency",
  ProofMismatch: "inclusion",
  CertificateMismatch: "record",
};

let checks = 0;
function ok(cond, what) {
  if (!cond) throw new Error(`FAILED: ${what}`);
  checks += 1;
  console.log(`ok ${checks} - ${what}`);
}

async function verdict(page) {
  const el = page.locator("[data-verdict]").first();
  await el.waitFor({ timeout: TIMEOUT });
  return { verdict: await el.getAttribute("data-verdict"), text: await el.innerText() };
}

async function failedSteps(page) {
  return page.locator('[data-step][data-status="failed"]').evaluateAll((els) => els.map((e) => e.getAttribute("data-step")));
}

async function open(page, hash) {
  await page.goto(`${URL_}/${hash}`);
  await page.locator(`main[data-view]`).waitFor({ timeout: TIMEOUT });
}

/** Verifies `file` in the verify panel; returns the verdict and failed steps. */
async function verifyFile(page, file) {
  await page.evaluate(() => document.getElementById("result")?.replaceChildren());
  await page.getByLabel("certificate file").setInputFiles(file);
  await page.locator("#result [data-verdict]").waitFor({ timeout: TIMEOUT });
  return { ...(await verdict(page)), failed: await failedSteps(page) };
}

const browser = await chromium.launch({ executablePath: env("KEEPSAKE_CHROMIUM"), args: ["--no-sandbox"] });
try {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => /Content.Security.Policy/i.test(m.text()) && errors.push(m.text()));
  const sockets = []; // the page's WebSockets (live updates)
  page.on("websocket", (ws) => sockets.push(ws));

  // 1. The overview shows the chain, served by the node itself.
  await open(page, "#/");
  await page.locator("[data-height]").first().waitFor({ timeout: TIMEOUT });
  const title = await page.locator("h1").first().innerText();
  ok(title.includes("keepsake-dev"), `overview names the chain (${title})`);
  const rows = await page.locator("[data-height]").count();
  ok(rows >= 1, `overview lists ${rows} latest blocks`);
  await page.screenshot({ path: join(SHOTS, "overview.png"), fullPage: true });

  // 1b. The overview's sections: validators with their signing, issuers,
  // series with minted/max, recent mints and revocations.
  const section = (name) => page.locator(`[data-section="${name}"]`);
  const validators = await section("validators").locator("[data-validator]").evaluateAll((els) =>
    els.map((e) => ({ key: e.getAttribute("data-validator"), signed: Number(e.getAttribute("data-signed")), text: e.innerText })),
  );
  ok(validators.length >= 1 && validators.every((v) => v.signed >= 1 && /signed \d+\/\d+/.test(v.text)), `validators signed recent blocks (${validators.map((v) => v.signed)})`);
  ok((await section("issuers").innerText()).includes("Museum"), "the issuers section lists Museum");
  const seriesRow = section("series").locator("[data-series-id]", { hasText: "Flying Apsaras" });
  ok((await seriesRow.count()) === 1, "the series section lists Flying Apsaras");
  ok((await seriesRow.innerText()).includes("2 / 300"), `it shows minted / max: ${await seriesRow.innerText()}`);
  const seriesId = await seriesRow.getAttribute("data-series-id");
  ok(/^[0-9a-f]{64}$/.test(seriesId), "its row carries the series id");
  const activity = section("activity");
  ok((await activity.locator('[data-tx-kind="mint"]').count()) === 2, "the activity section shows the two mints");
  ok((await activity.locator('[data-tx-kind="revoke"]').count()) === 1, "and the revocation");
  const mintLinks = await activity.locator('[data-tx-kind="mint"] a').evaluateAll((els) => els.map((a) => a.getAttribute("href")));
  ok(
    mintLinks.includes(`#/cert/${ACTIVE}`) && mintLinks.includes(`#/cert/${REVOKED}`),
    "the mints link to their certificates (ids computed in the browser equal the node's)",
  );
  ok(
    (await activity.locator('[data-tx-kind="revoke"] a').getAttribute("href")) === `#/cert/${REVOKED}` &&
      (await activity.locator('[data-tx-kind="revoke"]').innerText()).includes("minted in error"),
    "the revocation links to the revoked certificate and gives its reason",
  );

  // 1c. Live updates over the WebSocket: the indicator turns on, the height
  // grows with the next blocks, and what the user typed stays.
  await page.locator('[data-live="on"]').waitFor({ timeout: TIMEOUT });
  ok(true, "the live indicator is on");
  await page.getByLabel("certificate id").fill("abc");
  const heightOf = async () => Number(await page.locator('[data-stat="height"] b').innerText());
  const h0 = await heightOf();
  await page.waitForFunction((h) => Number(document.querySelector('[data-stat="height"] b').textContent) > h, h0, { timeout: TIMEOUT });
  const h1 = await heightOf();
  ok(h1 > h0, `the displayed height grows live (${h0} → ${h1})`);
  ok(Number(await page.locator("[data-height]").first().getAttribute("data-height")) >= h1, "the latest block row follows");
  ok((await page.getByLabel("certificate id").inputValue()) === "abc", "the search box keeps its text across live updates");

  // 1c'. The socket drops: the indicator turns off, the page reconnects (backoff) and is live again.
  const flaky = await context.newPage();
  flaky.on("pageerror", (e) => errors.push(e.message));
  let connections = 0;
  await flaky.routeWebSocket(/.*/, (ws) => {
    connections += 1;
    if (connections > 1) return void ws.connectToServer();
    ws.onMessage((m) => {
      ws.send(JSON.stringify({ jsonrpc: "2.0", id: JSON.parse(m).id, result: 1 }));
      setTimeout(() => ws.close(), 1500);
    });
  });
  await open(flaky, "#/");
  await flaky.locator('[data-live="on"]').waitFor({ timeout: TIMEOUT });
  await flaky.locator('[data-live="off"]').waitFor({ timeout: TIMEOUT });
  ok(true, "a dropped socket turns the live indicator off");
  await flaky.locator('[data-live="on"]').waitFor({ timeout: TIMEOUT });
  const fh = Number(await flaky.locator('[data-stat="height"] b').innerText());
  await flaky.waitForFunction((h) => Number(document.querySelector('[data-stat="height"] b').textContent) > h, fh, { timeout: TIMEOUT });
  ok(connections === 2, "the page reconnects by itself and is live again");
  await flaky.close();

  // 1d. The series page, and its editions' certificate pages.
  await seriesRow.locator("a").click();
  await page.locator('main[data-view="series"] h1', { hasText: "Flying Apsaras" }).waitFor({ timeout: TIMEOUT });
  const seriesText = await page.locator("main").innerText();
  ok(seriesText.includes("2 / 300") && seriesText.includes("Museum") && seriesText.includes(seriesId), "the series page: minted / max, issuer name, id");
  const metadata = page.locator('main a[href^="https://museum.example/"]');
  ok((await metadata.count()) === 1, "its https metadata URI is a link");
  await page.waitForTimeout(300);
  ok(sockets.length >= 1 && sockets.every((ws) => ws.isClosed()), `leaving the overview closes the live socket (${sockets.length})`);
  ok((await page.locator("[data-live]").count()) === 0, "no live indicator outside the overview");
  const editionLinks = await page.locator("[data-edition] a").evaluateAll((els) => els.map((a) => a.getAttribute("href")));
  ok(editionLinks.length === 2 && editionLinks[0] === `#/cert/${ACTIVE}` && editionLinks[1] === `#/cert/${REVOKED}`, "it links editions 1 and 2");
  await page.screenshot({ path: join(SHOTS, "series.png"), fullPage: true });
  await page.locator('[data-edition="1"] a').click();
  ok((await verdict(page)).verdict === "genuine", "edition 1's link opens its certificate page: genuine");

  // 2. A minted certificate's page: verified in the browser, status proven.
  await open(page, `#/cert/${ACTIVE}`);
  let v = await verdict(page);
  ok(v.verdict === "genuine", `the active certificate's page says genuine`);
  await page.locator("[data-status-verdict]").waitFor({ timeout: TIMEOUT });
  ok((await page.locator("[data-status-verdict]").getAttribute("data-status-verdict")) === "active", "its status is active");
  ok((await page.locator("body").innerText()).includes("Flying Apsaras"), "the record shows the series name");
  await page.screenshot({ path: join(SHOTS, "certificate.png"), fullPage: true });
  const names = [await page.locator('[data-name="issuer"]').innerText(), await page.locator('[data-name="reviewer"]').innerText()];
  ok(names[0].includes("Museum") && !names[1].startsWith("0") && names[1].length > 0 && !/^[0-9a-f]{64}$/.test(names[1]), `issuer and reviewer by name (${names})`);
  await open(page, `#/cert/${REVOKED}`);
  v = await verdict(page);
  await page.locator("[data-status-verdict]").waitFor({ timeout: TIMEOUT });
  ok(
    v.verdict === "revoked" && v.text.startsWith("Revoked") && (await page.locator("[data-status-verdict]").getAttribute("data-status-verdict")) === "revoked",
    `the revoked certificate leads with a red Revoked verdict, its revocation proven (got ${v.verdict}: ${v.text})`,
  );
  ok((await page.locator('[data-verdict="genuine"]').count()) === 0, "no green Genuine banner on a revoked certificate");

  // 2b. A certificate id the node does not have: a not-found page, not an error.
  await open(page, `#/cert/${"ab".repeat(32)}`);
  await page.locator('[data-not-found="certificate"]').waitFor({ timeout: TIMEOUT });
  ok((await page.locator("main").innerText()).includes("No such certificate"), "an unknown certificate id gets a not-found page");

  // 3. The verify panel, against the node's genesis: the real certificate.
  await open(page, "#/verify");
  let r = await verifyFile(page, CERT_FILE);
  ok(r.verdict === "genuine" && r.failed.length === 0, "verify panel: the node's certificate is genuine");
  const genesisLine = await page.locator("[data-genesis]").innerText();
  ok(/\b\d+ validators?\b/.test(genesisLine) && !/\b1 validators\b/.test(genesisLine), `the genesis line counts validators in words (${genesisLine.split("\n")[0]})`);
  await page.screenshot({ path: join(SHOTS, "verify.png"), fullPage: true });

  // 4. Every golden fixture, against the fixtures' genesis loaded from disk.
  const expected = JSON.parse(readFileSync(join(FIXTURES, "expected.json"), "utf8"));
  let loadedGenesis = null;
  for (const { file, genesis, verdict: want } of expected.certificates) {
    if (loadedGenesis !== genesis) {
      await page.getByLabel("genesis file").setInputFiles(join(FIXTURES, genesis));
      await page.locator("[data-genesis]").getByText(genesis).waitFor({ timeout: TIMEOUT });
      loadedGenesis = genesis;
    }
    r = await verifyFile(page, join(FIXTURES, file));
    if (want === "valid") {
      ok(r.verdict === "genuine", `${file} against ${genesis}: genuine`);
    } else {
      ok(
        r.verdict === "not-genuine" && r.text.includes(want) && r.failed.includes(STEP_OF[want]),
        `${file} against ${genesis}: not genuine, ${want}, step "${STEP_OF[want]}" failed (got ${r.verdict}, steps ${r.failed})`,
      );
      if (file === "tampered-record.json") await page.screenshot({ path: join(SHOTS, "verify-tampered.png"), fullPage: true });
    }
  }

  // 4b. "Is this mine?" on a verified blind-box certificate (its holder is
  // holder_id("c0ffee", "alice@example.com")): computed in the page, nothing sent.
  r = await verifyFile(page, join(FIXTURES, "life-blind-box.json"));
  ok(r.verdict === "genuine", "life-blind-box.json: genuine");
  const posted = [];
  const onRequest = (q) => q.method() === "POST" && posted.push(q.postData() || "");
  page.on("request", onRequest);
  await page.getByLabel("salt", { exact: true }).fill("c0ffee");
  await page.getByLabel("account", { exact: true }).fill("alice@example.com");
  await page.locator('[data-action="check-holder"]').click();
  await page.locator('[data-mine="yes"]').waitFor({ timeout: TIMEOUT });
  await page.getByLabel("account", { exact: true }).fill("bob@example.com");
  await page.locator('[data-action="check-holder"]').click();
  await page.locator('[data-mine="no"]').waitFor({ timeout: TIMEOUT });
  page.off("request", onRequest);
  ok(!posted.some((body) => body.includes("c0ffee") || body.includes("example.com")), "Is this mine?: nothing sent to the node");

  // 5. A lying node: its getCertificate answer is doctored (another holder).
  // The page must still say "not genuine": the verdict never rests on the node.
  const liar = await context.newPage();
  await liar.route(`${URL_}/`, async (route) => {
    const request = route.request();
    const body = request.method() === "POST" ? JSON.parse(request.postData() || "{}") : {};
    if (body.method !== "keepsake_getCertificate") return route.continue();
    const response = await route.fetch();
    const json = await response.json();
    const holder = json.result.certificate.record.holder;
    json.result.certificate.record.holder = (holder[0] === "0" ? "1" : "0") + holder.slice(1);
    await route.fulfill({ response, json });
  });
  await open(liar, `#/cert/${ACTIVE}`);
  v = await verdict(liar);
  ok(v.verdict === "not-genuine" && v.text.includes("CertificateMismatch"), "a doctored node answer is rejected: not genuine");
  ok((await failedSteps(liar)).includes("record"), "the record step is marked failed");
  await liar.screenshot({ path: join(SHOTS, "lying-node.png"), fullPage: true });

  // 6. Phone width, dark scheme.
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, colorScheme: "dark" });
  const p = await phone.newPage();
  await open(p, `#/cert/${ACTIVE}`);
  ok((await verdict(p)).verdict === "genuine", "phone, dark: the certificate page works");
  const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  ok(overflow <= 1, `phone: no horizontal scrolling (overflow ${overflow}px)`);
  await p.screenshot({ path: join(SHOTS, "phone-dark.png"), fullPage: true });
  for (const [hash, shot] of [["#/", "phone-overview-dark.png"], [`#/series/${seriesId}`, "phone-series-dark.png"]]) {
    await open(p, hash);
    await p.locator(hash === "#/" ? "[data-section=activity] [data-tx-kind]" : "[data-edition]").first().waitFor({ timeout: TIMEOUT });
    const over = await p.evaluate(() =>
      Math.max(document.documentElement.scrollWidth - window.innerWidth, ...[...document.querySelectorAll(".table-wrap")].map((e) => e.scrollWidth - e.clientWidth)),
    );
    ok(over <= 1, `phone: ${hash} has no horizontal scrolling, its tables neither (overflow ${over}px)`);
    await p.screenshot({ path: join(SHOTS, shot), fullPage: true });
  }

  ok(errors.length === 0, `no uncaught page errors (${errors.join("; ")})`);
  console.log(`ALL BROWSER CHECKS PASSED (${checks} checks)`);
} catch (e) {
  console.log(e.stack || String(e));
  process.exitCode = 1;
} finally {
  await browser.close();
}
