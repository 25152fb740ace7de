// Browser checks of the explorer's validators view, run by
// tests/tests/browser.rs after governance changed the dev chain's
// membership: headless Debian Chromium driven by playwright-core.
// Environment (set by the Rust test):
//   KEEPSAKE_URL          the node's http://127.0.0.1:PORT (page and JSON-RPC)
//   KEEPSAKE_CHROMIUM     the Chromium binary
//   KEEPSAKE_SET_CHANGE   the height of a committed validator-set change
//                         (the dev validator's power raised from 1 to 2)
//   KEEPSAKE_SCREENSHOTS  where screenshots go
// Prints one line per check and "ALL VALIDATORS CHECKS PASSED"; exits 1 on
// the first failure.

import { join } from "node:path";
import { chromium } from "playwright-core";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`missing ${k}`);
  return v;
};
const URL_ = env("KEEPSAKE_URL");
const SHOTS = env("KEEPSAKE_SCREENSHOTS");
const SET_CHANGE = Number(env("KEEPSAKE_SET_CHANGE"));
const TIMEOUT = 15_000;

let checks = 0;
function ok(cond, what) {
  if (!cond) throw new Error(`FAILED: ${what}`);
  checks += 1;
  console.log(`ok ${checks} - ${what}`);
}

async function open(page, hash) {
  await page.goto(`${URL_}/${hash}`);
  await page.locator(`main[data-view]`).waitFor({ timeout: TIMEOUT });
}

const browser = await chromium.launch({ executablePath: env("KEEPSAKE_CHROMIUM"), args: ["--no-sandbox"] });
try {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => /Content.Security.Policy/i.test(m.text()) && errors.push(m.text()));

  // The overview counts and lists the set in force, and links to the view.
  await open(page, "#/");
  const overviewRow = page.locator('[data-section="validators"] [data-validator]');
  await overviewRow.first().waitFor({ timeout: TIMEOUT });
  ok((await overviewRow.count()) === 1 && (await overviewRow.first().innerText()).includes("2"), "the overview lists the set in force, power 2");
  await page.locator('[data-section="validators"] a[href="#/validators"]').click();

  // The validators view: the set in force with voting shares.
  const inForce = page.locator('[data-section="in-force"] [data-validator]');
  await inForce.first().waitFor({ timeout: TIMEOUT });
  ok((await page.locator('nav a[aria-current="page"]').getAttribute("data-nav")) === "validators", "the Validators link is current");
  ok((await inForce.count()) === 1, "the view lists the set in force (the dev validator)");
  ok((await inForce.first().getAttribute("data-power")) === "2", "with the power governance gave it");
  ok((await inForce.first().locator("[data-share]").innerText()) === "100.0 %", "and its voting share");
  ok((await inForce.first().innerText()).includes("this node"), "the node's own key is marked");
  const inForceText = await page.locator('[data-section="in-force"]').innerText();
  ok(inForceText.includes(`Since block ${SET_CHANGE + 2}`), `the set is in force since block ${SET_CHANGE + 2}`);

  // The set history: the change, when it was committed and when it took effect, with the name.
  const history = page.locator('[data-section="set-history"] [data-set-from]');
  ok((await history.count()) === 2, "the set history: the genesis set and one change");
  const change = history.first();
  ok(
    (await change.getAttribute("data-set-change")) === String(SET_CHANGE) && (await change.getAttribute("data-set-from")) === String(SET_CHANGE + 2),
    `the change committed at block ${SET_CHANGE} governs from block ${SET_CHANGE + 2}`,
  );
  const changeText = await change.innerText();
  ok(changeText.includes("set the power of dev-validator") && changeText.includes("from 1 to 2"), `it is described with the validator's name (${changeText})`);
  ok((await history.last().getAttribute("data-set-change")) === "genesis", "the genesis set is the oldest entry");

  // Governance and observers.
  ok((await page.locator('[data-section="governance"]').innerText()).includes("1 of 1 governors"), "the governance: 1 of 1 governors");
  const observer = page.locator('[data-section="observers"] [data-observer]');
  ok((await observer.count()) === 1 && (await observer.innerText()).includes("Notary Office"), "the observers list the registered one");
  ok((await observer.getAttribute("data-active")) === "true", "as active");
  await page.screenshot({ path: join(SHOTS, "validators.png"), fullPage: true });

  // Phone width, dark scheme: no horizontal scrolling.
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, colorScheme: "dark" });
  const p = await phone.newPage();
  p.on("pageerror", (e) => errors.push(e.message));
  await open(p, "#/validators");
  await p.locator("[data-set-from]").first().waitFor({ timeout: TIMEOUT });
  const over = await p.evaluate(() =>
    Math.max(document.documentElement.scrollWidth - window.innerWidth, ...[...document.querySelectorAll(".table-wrap")].map((e) => e.scrollWidth - e.clientWidth)),
  );
  ok(over <= 1, `phone: the validators view has no horizontal scrolling (overflow ${over}px)`);
  await p.screenshot({ path: join(SHOTS, "phone-validators-dark.png"), fullPage: true });

  ok(errors.length === 0, `no uncaught page errors (${errors.join("; ")})`);
  console.log(`ALL VALIDATORS CHECKS PASSED (${checks} checks)`);
} catch (e) {
  console.log(e.stack || String(e));
  process.exitCode = 1;
} finally {
  await browser.close();
}
