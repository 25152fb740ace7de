// Keepsake explorer: a small single-page app served by the node at GET /,
// talking to the node's JSON-RPC 2.0 endpoint (POST / on the same origin).
// Views (location.hash): overview "#/" (updated live over the node's
// WebSocket subscription), the validators "#/validators" (the set in force,
// the history of set changes, governance and observers), a series
// "#/series/<id>", a certificate "#/cert/<id>", and "#/verify" (a
// certificate file verified in this browser with verify.js).
// Nothing from the network is inserted as HTML: every text goes through
// textContent.

import {
  verifyCertificate,
  verifyStatus,
  loadGenesis,
  certificateId,
  toHex,
  fromHex,
  checkHolder,
  parseHolderOpening,
} from "./verify.js";

// ---------------------------------------------------------------------------
// Small helpers

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** replaceChildren without the "null" text nodes of absent parts. */
const fill = (el, ...kids) => el.replaceChildren(...kids.flat(Infinity).filter((k) => k !== null && k !== undefined && k !== false));

const hex = (s) => h("span", { class: "hex", title: s }, s);
const shortHex = (s) => h("span", { class: "hex", title: s }, s && s.length > 16 ? `${s.slice(0, 8)}…${s.slice(-6)}` : s);
const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
const time = (ms) => {
  const d = new Date(Number(ms));
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
};
const kv = (pairs) => h("dl", { class: "kv" }, pairs.filter(Boolean).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
const isHex32 = (s) => /^(0x)?[0-9a-fA-F]{64}$/.test(s);

class RpcError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code; // the node's stable error code (e.g. "NotFound"), when it gave one
  }
}

let rpcId = 0;
async function rpc(method, params = []) {
  const res = await fetch("/", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: ++rpcId, method, params }),
  });
  if (!res.ok) throw new RpcError(`${method}: HTTP ${res.status}`);
  const text = await res.text();
  const body = JSON.parse(text);
  if (body.error) {
    const code = body.error.data && body.error.data.code ? body.error.data.code : null;
    throw new RpcError(`${body.error.message}${code ? ` (${code})` : ""}`, code);
  }
  return body.result;
}

// The node's genesis, fetched once; its hash is computed here, not taken from the node.
let nodeGenesis = null;
function getNodeGenesis() {
  if (!nodeGenesis) {
    nodeGenesis = rpc("keepsake_getGenesis").then(async (raw) => ({ raw, loaded: await loadGenesis(raw) }));
    nodeGenesis.catch(() => (nodeGenesis = null));
  }
  return nodeGenesis;
}

// ---------------------------------------------------------------------------
// Verification display

function stepsList(steps) {
  return h(
    "ol",
    { class: "steps" },
    steps.map((s) =>
      h(
        "li",
        { "data-step": s.id, "data-status": s.status },
        h("span", { class: "label" }, s.label),
        h("span", { class: "detail" }, s.detail || (s.status === "skipped" ? "skipped" : "")),
      ),
    ),
  );
}

/**
 * The verdict a collector reads first. A certificate that verifies but whose
 * verified status answer says it was revoked (or burned by a synthesis) leads
 * with that, not with "Genuine"; the proof details stay below for auditors.
 */
function verdictBox(result, genesisHash, status = null) {
  if (!result.ok) {
    return h(
      "div",
      { class: "verdict", "data-verdict": "not-genuine", role: "alert" },
      `Not genuine: ${result.code}`,
      h("small", {}, `This file is not a certificate of this chain. At step “${result.step}”: ${result.message}`),
    );
  }
  const r = result.record;
  const what = `${r.series_name} #${r.edition} of ${r.max_supply}`;
  if (status && status.ok && status.status === "revoked") {
    const v = status.revocation;
    return h(
      "div",
      { class: "verdict", "data-verdict": "revoked", role: "alert" },
      `Revoked: ${what}`,
      h("small", {}, `It was issued on this chain, but ${v.by === "issuer" ? "its issuer" : "the chain's governance"} revoked it on ${time(v.time_ms)}: “${v.reason}”. It no longer counts as a valid collectible.`),
    );
  }
  if (status && status.ok && status.status === "burned") {
    const b = status.burn;
    return h(
      "div",
      { class: "verdict", "data-verdict": "burned", role: "status" },
      `Used up: ${what}`,
      h("small", {}, `Its holder combined it into a new collectible on ${time(b.time_ms)}: `, h("a", { href: `#/cert/${b.into}` }, "see the new certificate"), "."),
    );
  }
  return h(
    "div",
    { class: "verdict", "data-verdict": "genuine", role: "status" },
    `Genuine: ${what}`,
    h(
      "small",
      {},
      `Recorded on this chain on ${time(r.time_ms)} and vouched for by validators holding ${result.signedPower} of ${result.totalPower} votes. ` +
        `Checked in this browser against the chain's genesis (${genesisHash.slice(0, 16)}…), not on the node's word.`,
    ),
  );
}

/** A name with its key beneath (the key alone when the name is unknown). */
function named(name, key) {
  return name ? h("span", {}, name, h("small", { class: "muted" }, " ", shortHex(key))) : hex(key);
}

function recordTable(r, names = {}) {
  return kv([
    ["Series", `${r.series_name}`],
    ["Edition", `${r.edition} of ${r.max_supply}`],
    ["Holder (private commitment)", hex(r.holder)],
    ["Issuer", h("span", { "data-name": "issuer" }, named(names.issuer, r.issuer))],
    ["Content reviewed by", h("span", { "data-name": "reviewer" }, named(names.reviewer, r.reviewer))],
    ["Content hash", hex(r.content_hash)],
    ["Metadata", r.metadata_uri],
    ["Minted", `block ${r.height}, ${time(r.time_ms)}`],
    ["Mint transaction", hex(r.mint_tx)],
    ["Series id", hex(r.series_id)],
  ]);
}

/** The certificate's life without resale: synthesis, blind box (from a verified result). */
function lifeTable(result) {
  const r = result.record;
  const rows = [];
  if (r.synthesized_from.length) {
    rows.push([
      `Synthesized (recipe ${result.recipe}) from`,
      h("ul", { "data-life": "synthesized-from" }, r.synthesized_from.map((id) => h("li", {}, h("a", { href: `#/cert/${id}` }, shortHex(id))))),
    ]);
  }
  if (result.blindBox) {
    rows.push(
      result.blindBox.reveal && r.variant
        ? [
            "Blind-box variant",
            h("span", { "data-life": "variant" }, `${r.variant.name} (variant ${r.variant.index}), drawn at the reveal in block ${result.blindBox.reveal.height}; artwork `, shortHex(r.variant.content_hash)),
          ]
        : ["Blind box", h("span", { "data-life": "unrevealed" }, "not yet revealed: the variant is drawn when the issuer reveals the seed")],
    );
  }
  return rows.length ? kv(rows) : null;
}

/**
 * "Is this mine?": the holder types the salt and account of their holder
 * commitment (or loads a keepsake-holder-opening/v1 file); the page computes
 * holder_id(salt, account) here and compares it with the verified record.
 * Nothing is sent to the node.
 */
function holderBox(result) {
  const salt = h("input", { type: "text", placeholder: "salt", "aria-label": "salt", autocomplete: "off", spellcheck: "false" });
  const account = h("input", { type: "text", placeholder: "account", "aria-label": "account", autocomplete: "off", spellcheck: "false" });
  const file = h("input", { type: "file", accept: ".json,application/json", "aria-label": "holder opening file" });
  const out = h("div", { "data-holder-result": "" });
  async function check() {
    try {
      const v = await checkHolder(result, salt.value, account.value);
      fill(out, v.mine
        ? h("p", { "data-mine": "yes" }, h("span", { class: "badge ok" }, "yours"), " this salt and account open the certificate's holder commitment.")
        : h("p", { "data-mine": "no" }, h("span", { class: "badge bad" }, "not yours"), " they give the commitment ", shortHex(v.holder), ", not the certificate's."));
    } catch (e) {
      fill(out, h("p", { class: "error" }, `${e.code || "Error"}: ${e.message}`));
    }
  }
  file.addEventListener("change", async () => {
    const f = file.files[0];
    if (!f) return;
    try {
      const o = parseHolderOpening(await f.text());
      if (o.certificate_id && toHex(o.certificate_id) !== result.certificateId) {
        fill(out, h("p", { class: "error" }, `This opening is for certificate ${toHex(o.certificate_id)}, not this one.`));
        return;
      }
      salt.value = o.salt;
      account.value = o.account;
      check();
    } catch (e) {
      fill(out, h("p", { class: "error" }, `${f.name}: ${e.code || "Error"}: ${e.message}`));
    }
  });
  return h(
    "div",
    { class: "card", "data-holder-box": "" },
    h("h2", {}, "Is this mine?"),
    h("p", { class: "muted" }, "Checked in this browser: the salt and account are not sent anywhere."),
    h("div", { class: "row" }, salt, account, h("button", { type: "button", onclick: check, "data-action": "check-holder" }, "Check")),
    h("label", { class: "row" }, "Or load a holder-opening file: ", file),
    out,
  );
}

function statusLine(st) {
  if (!st) return null;
  if (!st.ok) return h("p", { class: "error", "data-status-verdict": "error" }, `Status answer rejected: ${st.code}: ${st.message}`);
  if (st.status === "revoked") {
    const v = st.revocation;
    return h(
      "p",
      { "data-status-verdict": "revoked" },
      h("span", { class: "badge bad" }, "revoked"),
      ` at block ${v.height} (${time(v.time_ms)}) by the ${v.by}: “${v.reason}”. Proven by its inclusion proof.`,
    );
  }
  if (st.status === "burned") {
    const b = st.burn;
    return h(
      "p",
      { "data-status-verdict": "burned" },
      h("span", { class: "badge bad" }, "burned"),
      ` on ${time(b.time_ms)} (block ${b.height}) by a synthesis into certificate `,
      h("a", { href: `#/cert/${b.into}` }, shortHex(b.into)),
      ". Proven by its inclusion proof.",
    );
  }
  return h(
    "p",
    { "data-status-verdict": "active" },
    h("span", { class: "badge ok" }, "active"),
    ` at block ${st.checkpointHeight}, on the node's word: a log proves presence, not absence.`,
  );
}

// ---------------------------------------------------------------------------
// Views

// Overview: refreshed in place (live updates): each section is re-rendered
// only when its data changed, so the search box, focus and scroll stay put.

const RECENT_BLOCKS = 10; // blocks listed, and the window of the validators' signing count
const RECENT_TXS = 20;
const LIST_MAX = 100;

// Committed blocks never change: fetched once, kept for the next refreshes.
const blockCache = new Map();
async function getBlock(height) {
  if (!blockCache.has(height)) {
    const b = await rpc("keepsake_getBlock", [height]);
    blockCache.set(height, b);
    if (blockCache.size > 4 * RECENT_BLOCKS) blockCache.delete(Math.min(...blockCache.keys()));
  }
  return blockCache.get(height);
}

const certIdHex = async (chainId, seriesHex, edition) => toHex(await certificateId(chainId, fromHex(seriesHex), edition));
const txKind = (body) => Object.keys(body)[0];
const table = (heads, rows) =>
  h(
    "div",
    { class: "card table-wrap" },
    h("table", {}, h("thead", {}, h("tr", {}, heads.map(([label, cls]) => h("th", { class: cls }, label)))), h("tbody", {}, rows)),
  );
const empty = (text) => h("p", { class: "card muted" }, text);

/** The set of `sets` (ascending from_height) governing `height`. */
function setAt(sets, height) {
  let found = sets[0];
  for (const s of sets) if (Number(s.from_height) <= height) found = s;
  return found;
}

/** The node's membership answer without proofs (`keepsake_getValidatorSets`). */
const getMembership = () => rpc("keepsake_getValidatorSets", [null, false]);

/** Everything the overview shows, fetched in parallel. */
async function overviewData() {
  const [status, genesis, issuers, series, recent, membership] = await Promise.all([
    rpc("keepsake_status"),
    getNodeGenesis(),
    rpc("keepsake_listIssuers", [null, LIST_MAX]),
    rpc("keepsake_listSeries", [null, LIST_MAX]),
    rpc("keepsake_recentTransactions", [RECENT_TXS]),
    getMembership().catch(() => null),
  ]);
  // The set deciding the next block; the genesis set if the node cannot say.
  const sets = membership ? membership.sets : [{ from_height: 1, validators: genesis.raw.validators }];
  const inForce = setAt(sets, Number(status.height) + 1);
  const heights = [];
  for (let k = Number(status.height); k >= 1 && heights.length < RECENT_BLOCKS; k--) heights.push(k);
  const blocks = (await Promise.all(heights.map((k) => getBlock(k).catch(() => null)))).filter(Boolean);
  // Certificate ids of the listed mints, computed here (docs/protocol.md §4.4).
  const chainId = genesis.loaded.genesis.chain_id;
  const certIds = await Promise.all(recent.map((t) => (t.body.mint ? certIdHex(chainId, t.body.mint.series_id, t.body.mint.edition) : null)));
  return { status, genesis, issuers, series, recent: recent.map((t, i) => ({ ...t, certId: certIds[i] })), blocks, inForce };
}

function statsSection(d) {
  const g = d.genesis.loaded;
  const sameGenesis = g.hashHex === String(d.status.genesis_hash).toLowerCase();
  return [
    h(
      "div",
      { class: "grid" },
      [
        ["height", d.status.height],
        ["log entries", d.status.log_size],
        ["validators", d.inForce.validators.length],
        ["mempool", d.status.mempool_txs],
      ].map(([k, v]) => h("div", { class: "card stat", "data-stat": k }, h("b", {}, String(v)), h("span", {}, k))),
    ),
    h(
      "div",
      { class: "card" },
      kv([
        ["Latest block", [hex(d.status.latest_hash), h("br"), time(d.status.latest_time_ms)]],
        ["Log root", hex(d.status.log_root)],
        [
          "Genesis",
          [
            hex(g.hashHex),
            h("br"),
            h("span", { class: sameGenesis ? "muted" : "error" }, sameGenesis ? "hash computed here from the node's genesis file" : `the node claims ${d.status.genesis_hash}`),
          ],
        ],
        ["This node", hex(d.status.validator)],
      ]),
    ),
  ];
}

function validatorsSection(d) {
  const n = d.blocks.length;
  const signed = new Map();
  for (const b of d.blocks) {
    for (const s of b.commit.signatures) {
      const key = String(s.validator).toLowerCase();
      signed.set(key, (signed.get(key) || 0) + 1);
    }
  }
  const since = Number(d.inForce.from_height) > 1 ? ` (the set in force since block ${d.inForce.from_height})` : "";
  return [
    h("h2", {}, "Validators"),
    h("p", { class: "muted" }, `Who decides the next block${since}. `, h("a", { href: "#/validators" }, "Set history, governance and observers")),
    table(
      [["Name"], ["Power"], [`Signed (last ${n} blocks)`], ["Key", "hide-sm"]],
      d.inForce.validators.map((v) => {
        const c = signed.get(String(v.public_key).toLowerCase()) || 0;
        return h(
          "tr",
          { "data-validator": v.public_key, "data-signed": c },
          h("td", {}, v.name),
          h("td", {}, String(v.power)),
          h("td", { class: c < n ? "warn" : null }, `signed ${c}/${n}`),
          h("td", { class: "hide-sm" }, shortHex(v.public_key)),
        );
      }),
    ),
  ];
}

/** An issuer's licence in one badge: in force, withdrawn, ended, or none (with the chain's policy). */
function licenceBadge(i) {
  const l = i.licence;
  if (!l) {
    const required = i.licence_policy && i.licence_policy.required;
    return h("span", { class: `badge ${required ? "bad" : ""}`, "data-licence": "none" }, required ? "no licence (required)" : "no licence");
  }
  if (l.withdrawn) return h("span", { class: "badge bad", "data-licence": "withdrawn", title: l.withdrawn.reason }, "withdrawn");
  if (!l.in_force) return h("span", { class: "badge bad", "data-licence": "ended" }, "ended");
  return h("span", { class: "badge ok", "data-licence": "in-force" }, "in force");
}

/** The licence's details (kind, number, end, withdrawal) and the chain's policy. */
function licenceDetails(i) {
  const l = i.licence;
  const policy = i.licence_policy && i.licence_policy.required
    ? `required of every issuer since block ${i.licence_policy.since_height}`
    : "not required on this chain";
  if (!l) return [licenceBadge(i), " ", h("span", { class: "muted" }, `Licence policy: ${policy}.`)];
  return [
    licenceBadge(i),
    " ",
    `${l.kind} ${l.number}, valid until ${String(l.valid_until).slice(0, 10)}`,
    h("br"),
    h("span", { class: "muted" }, `recorded at block ${l.since_height}; licence policy: ${policy}`),
    l.withdrawn ? [h("br"), `withdrawn at block ${l.withdrawn.height}: “${l.withdrawn.reason}”`] : null,
  ];
}

function issuersSection(d) {
  return [
    h("h2", {}, "Issuers"),
    d.issuers.length
      ? table(
          [["Name"], ["Status"], ["Licence"], ["Registered"], ["Key", "hide-sm"]],
          d.issuers.map((i) =>
            h(
              "tr",
              { "data-issuer": i.issuer },
              h("td", {}, i.name),
              h("td", {}, h("span", { class: `badge ${i.status === "active" ? "ok" : "bad"}` }, i.status)),
              h("td", {}, licenceBadge(i), i.licence ? [" ", h("span", { class: "muted" }, `${i.licence.kind} ${i.licence.number}, until ${String(i.licence.valid_until).slice(0, 10)}`)] : null),
              h("td", {}, `block ${i.registered_height}`),
              h("td", { class: "hide-sm" }, shortHex(i.issuer)),
            ),
          ),
        )
      : empty("No issuer registered yet."),
  ];
}

function seriesSection(d, issuerName) {
  return [
    h("h2", {}, "Series"),
    d.series.length
      ? table(
          [["Name"], ["Minted / max"], ["Issuer", "hide-sm"], ["Created", "hide-sm"]],
          d.series.map((s) =>
            h(
              "tr",
              { "data-series-id": s.series_id },
              h("td", {}, h("a", { href: `#/series/${s.series_id}` }, s.name)),
              h("td", {}, `${s.minted} / ${s.max_supply}`),
              h("td", { class: "hide-sm" }, issuerName(s.issuer)),
              h("td", { class: "hide-sm" }, `block ${s.created_height}`),
            ),
          ),
        )
      : empty("No series created yet."),
  ];
}

/** One line of recent activity: what happened, with links where a page exists. */
function activityLine(t, seriesName, certLabel) {
  const kind = txKind(t.body);
  const b = t.body[kind] || {};
  const cert = (id, label) => h("a", { href: `#/cert/${id}` }, label || shortHex(id));
  switch (kind) {
    case "mint":
      return [
        h("span", { class: "badge ok" }, "mint"),
        " ",
        cert(t.certId, `${seriesName(b.series_id)} #${b.edition}`),
        h("span", { class: "muted" }, " to holder commitment "),
        shortHex(b.holder),
      ];
    case "revoke":
      return [h("span", { class: "badge bad" }, "revocation"), " ", cert(b.certificate_id, certLabel(b.certificate_id)), `: “${b.reason}”`];
    case "create_series":
      return [h("span", { class: "badge" }, "new series"), " ", b.name, ` (${b.max_supply} editions)`];
    case "register_issuer":
      return [h("span", { class: "badge" }, "issuer registered"), " ", b.name];
    case "set_issuer_status":
      return [h("span", { class: "badge" }, "issuer status"), " ", shortHex(b.issuer), ` → ${b.status}`];
    case "register_reviewer":
      return [h("span", { class: "badge" }, "reviewer registered"), " ", b.name];
    case "remove_reviewer":
      return [h("span", { class: "badge" }, "reviewer removed"), " ", shortHex(b.reviewer)];
    case "change_validators":
      return [h("span", { class: "badge" }, "validator set"), " ", h("a", { href: "#/validators" }, changeSummary(b.change))];
    case "set_governance":
      return [h("span", { class: "badge" }, "governance"), ` ${b.threshold} of ${(b.governors || []).length} governors`];
    case "register_observer":
      return [h("span", { class: "badge" }, "observer registered"), " ", b.name];
    case "remove_observer":
      return [h("span", { class: "badge" }, "observer removed"), " ", shortHex(b.observer)];
    default:
      return [h("span", { class: "badge" }, kind)];
  }
}

/** A validator-set change in a few words, from the transaction alone (keys shortened). */
function changeSummary(change) {
  const kind = Object.keys(change || {})[0];
  const c = (change || {})[kind] || {};
  const k = (key) => (key ? `${String(key).slice(0, 8)}…` : "?");
  switch (kind) {
    case "add":
      return `add ${c.validator.name} with power ${c.validator.power}`;
    case "remove":
      return `remove ${k(c.public_key)}`;
    case "set_power":
      return `set the power of ${k(c.public_key)} to ${c.power}`;
    case "rotate_key":
      return `rotate ${k(c.old_key)} to ${k(c.new_key)}`;
    default:
      return String(kind);
  }
}

function activitySection(d, seriesName) {
  // A revocation of a certificate minted in the listed window is named like its mint.
  const minted = new Map(d.recent.filter((t) => t.certId).map((t) => [t.certId, `${seriesName(t.body.mint.series_id)} #${t.body.mint.edition}`]));
  return [
    h("h2", {}, "Recent activity"),
    d.recent.length
      ? h(
          "ul",
          { class: "card activity" },
          d.recent.map((t) =>
            h(
              "li",
              { "data-tx-kind": txKind(t.body), "data-tx-id": t.tx_id },
              h("div", {}, activityLine(t, seriesName, (id) => minted.get(id))),
              h("small", { class: "muted" }, `block ${t.height} · ${time(t.time_ms)}`),
            ),
          ),
        )
      : empty("No transactions yet."),
  ];
}

function blocksSection(d) {
  return [
    h("h2", {}, "Latest blocks"),
    table(
      [["Height"], ["Hash"], ["Time", "hide-sm"], ["Transactions"], ["Signatures", "hide-sm"]],
      d.blocks.map((b) =>
        h(
          "tr",
          { "data-height": b.block.header.height },
          h("td", {}, String(b.block.header.height)),
          h("td", {}, shortHex(b.hash)),
          h("td", { class: "hide-sm" }, time(b.block.header.time_ms)),
          h("td", {}, b.block.txs.length ? b.block.txs.map((t) => txKind(t.body).replaceAll("_", " ")).join(", ") : "—"),
          h("td", { class: "hide-sm" }, String(b.commit.signatures.length)),
        ),
      ),
    ),
  ];
}

/** Calls `fn` at most once per `ms`, never twice at once; extra calls fold into one. */
function throttled(fn, ms) {
  let last = 0;
  let timer = null;
  let running = false;
  let again = false;
  const run = async () => {
    timer = null;
    if (running) return void (again = true);
    running = true;
    last = Date.now();
    try {
      await fn();
    } finally {
      running = false;
      if (again) (again = false), schedule();
    }
  };
  const schedule = () => {
    if (!timer) timer = setTimeout(run, Math.max(0, last + ms - Date.now()));
  };
  schedule.cancel = () => clearTimeout(timer);
  return schedule;
}

/**
 * Subscribes to committed blocks over the node's WebSocket (same address);
 * reconnects with exponential backoff. Returns a function that stops it.
 */
function subscribeBlocks(onBlock, onLive) {
  let ws = null;
  let timer = null;
  let stopped = false;
  let delay = 1000;
  const retry = () => {
    onLive(false);
    if (stopped) return;
    timer = setTimeout(connect, delay);
    delay = Math.min(delay * 2, 30_000);
  };
  function connect() {
    if (stopped) return;
    try {
      ws = new WebSocket(`${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/`);
    } catch {
      return retry();
    }
    ws.onopen = () => ws.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "keepsake_subscribeBlocks", params: [] }));
    ws.onmessage = (e) => {
      let msg;
      try {
        msg = JSON.parse(e.data);
      } catch {
        return;
      }
      if (msg.id === 1) {
        if (msg.error) ws.close();
        else (delay = 1000), onLive(true);
      } else if (msg.method === "keepsake_block" && msg.params && msg.params.result) onBlock(msg.params.result);
    };
    ws.onclose = () => ((ws = null), retry());
  }
  connect();
  return () => {
    stopped = true;
    clearTimeout(timer);
    if (ws) (ws.onclose = null), ws.close();
    onLive(false);
  };
}

// The running live subscription of the overview, stopped by the router on leaving it.
let stopLive = null;

async function overview(view) {
  const search = h("input", { type: "text", placeholder: "certificate id (64 hex digits)", "aria-label": "certificate id" });
  const go = (e) => {
    e.preventDefault();
    const id = search.value.trim();
    if (isHex32(id)) location.hash = `#/cert/${id.replace(/^0x/, "").toLowerCase()}`;
    else search.setCustomValidity("64 hex digits"), search.reportValidity();
  };
  search.addEventListener("input", () => search.setCustomValidity(""));

  const d = await overviewData();
  if (!view.isConnected) return; // the user moved on meanwhile: no subscription
  const title = h("h1", {}, `Chain ${d.status.chain_id}`);
  const live = h("span", { class: "live", "data-live": "off", role: "status", title: "live updates: connecting" }, "live");
  // Refreshed parts: aria-live off, so screen readers are not told every block.
  const part = (name) => h(name ? "section" : "div", { "data-section": name || null, "aria-live": "off" });
  const parts = { stats: part(), validators: part("validators"), issuers: part("issuers"), series: part("series"), activity: part("activity"), blocks: part("blocks") };
  const shown = {};

  function render(d) {
    const issuers = new Map(d.issuers.map((i) => [i.issuer, i.name]));
    const issuerName = (k) => issuers.get(k) || shortHex(k);
    const names = new Map(d.series.map((s) => [s.series_id, s.name]));
    const seriesName = (id) => names.get(id) || `series ${id.slice(0, 8)}…`;
    const sections = {
      stats: [() => statsSection(d), [d.status, d.genesis.loaded.hashHex, d.inForce.from_height]],
      validators: [() => validatorsSection(d), [d.blocks.map((b) => b.hash), d.inForce.from_height]],
      issuers: [() => issuersSection(d), d.issuers],
      series: [() => seriesSection(d, issuerName), [d.series, d.issuers]],
      activity: [() => activitySection(d, seriesName), [d.recent.map((t) => t.tx_id), d.series]],
      blocks: [() => blocksSection(d), d.blocks.map((b) => b.hash)],
    };
    for (const [name, [draw, key]] of Object.entries(sections)) {
      const k = JSON.stringify(key);
      if (shown[name] !== k) (shown[name] = k), fill(parts[name], draw());
    }
  }

  render(d);
  fill(view,
    h("div", { class: "title-row" }, title, live),
    h("form", { class: "search card", onsubmit: go }, search, h("button", { type: "submit" }, "Open")),
    Object.values(parts),
  );

  const refresh = throttled(async () => {
    if (!view.isConnected || document.hidden) return; // a hidden tab catches up when shown
    try {
      const fresh = await overviewData();
      if (view.isConnected) render(fresh);
      live.title = "live updates: on";
    } catch (e) {
      live.title = `live updates: last refresh failed: ${e.message}`;
    }
  }, 1000);
  const setLive = (on) => {
    live.dataset.live = on ? "on" : "off";
    live.textContent = on ? "live" : "offline";
    if (!on) live.title = "live updates: reconnecting";
  };
  const stopSocket = subscribeBlocks(() => refresh(), (on) => {
    setLive(on);
    if (on) refresh(); // blocks may have passed while disconnected
  });
  const onVisible = () => document.hidden || refresh();
  document.addEventListener("visibilitychange", onVisible);
  stopLive = () => {
    stopSocket();
    refresh.cancel();
    document.removeEventListener("visibilitychange", onVisible);
  };
}


/** Voting share of `power` in `total`, as a percentage with one decimal. */
const share = (power, total) => (Number(total) > 0 ? `${((100 * Number(power)) / Number(total)).toFixed(1)} %` : "—");

async function validatorsView(view) {
  fill(view, h("h1", {}, "Validators"), h("p", { class: "muted" }, "Loading…"));
  const [status, m] = await Promise.all([rpc("keepsake_status"), getMembership()]);
  const next = Number(status.height) + 1;
  const inForce = setAt(m.sets, next);
  const pending = m.sets.filter((s) => Number(s.from_height) > next);
  const setTable = (set) =>
    table(
      [["Name"], ["Power"], ["Voting share"], ["Key", "hide-sm"]],
      set.validators.map((v) =>
        h(
          "tr",
          { "data-validator": v.public_key, "data-power": v.power },
          h("td", {}, v.name, String(v.public_key).toLowerCase() === String(status.validator).toLowerCase() ? [" ", h("span", { class: "badge ok" }, "this node")] : null),
          h("td", {}, String(v.power)),
          h("td", { "data-share": "" }, share(v.power, set.total_power)),
          h("td", { class: "hide-sm" }, shortHex(v.public_key)),
        ),
      ),
    );
  const history = m.sets.map((s) =>
    h(
      "tr",
      { "data-set-from": s.from_height, "data-set-change": s.change ? s.change.height : "genesis" },
      h("td", {}, s.change ? `block ${s.change.height}` : "genesis"),
      h("td", {}, `block ${s.from_height}`, Number(s.from_height) > next ? [" ", h("span", { class: "badge" }, "pending")] : null),
      h(
        "td",
        { class: "wrap" },
        s.change ? s.change.description : `the genesis set: ${s.validators.map((v) => v.name).join(", ")}`,
        h("br"),
        h("small", { class: "muted" }, `${plural(s.validators.length, "validator")}, total power ${s.total_power}`),
      ),
    ),
  );
  const g = m.governance;
  fill(view,
    h("h1", {}, "Validators"),
    h(
      "p",
      { class: "muted" },
      "The validator set changes only by governance transactions; a change committed in block h governs from block h + 2. " +
        "This page shows the node's answer; keepsake audit re-derives every set from the genesis file and checks each block's commit against it.",
    ),
    h("section", { "data-section": "in-force" },
      h("h2", {}, `In force at block ${next}`),
      h("p", { class: "muted" }, `Since block ${inForce.from_height}: ${plural(inForce.validators.length, "validator")}, total power ${inForce.total_power}; a block needs signatures of more than two thirds of it.`),
      setTable(inForce),
      pending.map((s) => [h("h2", {}, `From block ${s.from_height}`), h("p", { class: "muted wrap" }, s.change ? s.change.description : ""), setTable(s)]),
    ),
    h("section", { "data-section": "set-history" },
      h("h2", {}, "Set history"),
      table([["Committed"], ["In force from"], ["Change"]], history.slice().reverse()),
    ),
    h("section", { "data-section": "governance" },
      h("h2", {}, "Governance"),
      h(
        "div",
        { class: "card" },
        h("p", { "data-threshold": g.threshold }, `${g.threshold} of ${g.governors.length} governors must sign a governance action` + (g.since_height != null ? ` (since block ${g.since_height})` : " (as in the genesis file)") + "."),
        h("ul", {}, g.governors.map((k) => h("li", {}, hex(k)))),
      ),
    ),
    h("section", { "data-section": "observers" },
      h("h2", {}, "Observers"),
      m.observers.length
        ? table(
            [["Name"], ["Status"], ["Since"], ["Key", "hide-sm"]],
            m.observers.map((o) =>
              h(
                "tr",
                { "data-observer": o.public_key, "data-active": o.active ? "true" : "false" },
                h("td", {}, o.name || "—", o.former_validator ? [" ", h("span", { class: "badge" }, "former validator")] : null),
                h("td", {}, h("span", { class: `badge ${o.active ? "ok" : "bad"}` }, o.active ? "active" : "removed")),
                h("td", {}, `block ${o.since_height}`),
                h("td", { class: "hide-sm" }, shortHex(o.public_key)),
              ),
            ),
          )
        : empty("No observer: only validators follow the chain over the peer network."),
    ),
  );
}

/** A series' recipes: what synthesis burns into one of its editions. */
function recipesSection(s, inputNames) {
  const recipes = s.recipes || [];
  if (!recipes.length) return null;
  return [
    h("h2", {}, "Recipes"),
    h(
      "div",
      { class: "card", "data-recipes": recipes.length },
      h("p", { class: "muted" }, "A holder's certificates, burned together, make one edition of this series for that same holder. Nothing changes hands."),
      h(
        "ol",
        { start: 0 },
        recipes.map((r, n) =>
          h(
            "li",
            { "data-recipe": n },
            `Recipe ${n}: `,
            r.inputs.map((input, k) => [
              k ? " + " : null,
              `${input.count} × `,
              h("a", { href: `#/series/${input.series_id}`, title: input.series_id }, inputNames.get(input.series_id) || shortHex(input.series_id)),
            ]),
          ),
        ),
      ),
    ),
  ];
}

/** A blind box: its variants, seed commitment and sale (open, closed, revealed). */
function blindBoxSection(s) {
  const b = s.blind_box;
  if (!b) return null;
  const sale = {
    open: h("span", { class: "badge ok" }, "sale open"),
    closed: h("span", { class: "badge" }, "sale closed, not revealed yet"),
    revealed: h("span", { class: "badge ok" }, "revealed"),
  }[b.sale] || h("span", { class: "badge" }, String(b.sale));
  return [
    h("h2", {}, "Blind box"),
    h(
      "div",
      { class: "card", "data-sale": b.sale },
      kv([
        ["Sale", sale],
        ["Seed commitment", hex(b.seed_commitment)],
        b.closed ? ["Closed", `block ${b.closed.height}, log entry ${b.closed.leaf_index} (the draw's entropy is the log root just after it)`] : null,
        b.revealed ? ["Revealed", `block ${b.revealed.height}`] : null,
        b.revealed ? ["Seed", hex(b.revealed.seed)] : null,
        b.revealed ? ["Entropy", hex(b.revealed.entropy)] : null,
      ]),
      table(
        [["Variant"], ["Editions"], ["Artwork", "hide-sm"]],
        b.variants.map((v, i) => h("tr", { "data-variant": i }, h("td", {}, v.name), h("td", {}, `${v.count} of ${s.max_supply}`), h("td", { class: "hide-sm" }, shortHex(v.content_hash)))),
      ),
      h(
        "p",
        { class: "muted" },
        b.sale === "revealed"
          ? "Each edition's variant is drawn from the seed and the entropy; its certificate page shows it."
          : "Each edition's variant is drawn after the sale closes, from the issuer's seed (committed above before the sale) and the log root just after the close.",
      ),
    ),
  ];
}

async function seriesView(view, id) {
  fill(view, h("h1", {}, "Series"), h("p", { class: "hex" }, id), h("p", { class: "muted" }, "Loading…"));
  const [s, genesis] = await Promise.all([rpc("keepsake_getSeries", [id]), getNodeGenesis()]);
  let issuerName = null;
  let issuer = null;
  try {
    issuer = await rpc("keepsake_getIssuer", [s.issuer]);
    issuerName = issuer.name;
  } catch {
    /* optional: the key alone is shown */
  }
  // The names of the series its recipes burn (optional, like the issuer's).
  const inputNames = new Map();
  for (const r of s.recipes || []) {
    for (const input of r.inputs) {
      if (inputNames.has(input.series_id)) continue;
      try {
        inputNames.set(input.series_id, (await rpc("keepsake_getSeries", [input.series_id])).name);
      } catch {
        inputNames.set(input.series_id, null);
      }
    }
  }
  const chainId = genesis.loaded.genesis.chain_id;
  const shown = Math.min(Number(s.minted), 100);
  const editions = await Promise.all(Array.from({ length: shown }, (_, i) => certIdHex(chainId, s.series_id, i + 1)));
  let uri = s.metadata_uri;
  try {
    const u = new URL(s.metadata_uri);
    if (u.protocol === "https:" || u.protocol === "http:") uri = h("a", { href: u.href, rel: "noopener noreferrer nofollow", target: "_blank" }, s.metadata_uri);
  } catch {
    /* not a URL: shown as text */
  }

  fill(view,
    h("h1", {}, s.name),
    h("p", { class: "hex" }, s.series_id),
    h(
      "div",
      { class: "card" },
      kv([
        ["Minted", h("span", { "data-minted": s.minted }, `${s.minted} / ${s.max_supply}`)],
        Number(s.burned) > 0 ? ["Burned", h("span", { "data-burned": s.burned }, `${s.burned} burned by synthesis; ${s.in_circulation} in circulation`)] : null,
        ["Issuer", [issuerName ? [issuerName, h("br")] : null, hex(s.issuer)]],
        issuer ? ["Issuer's licence", h("span", { "data-issuer-licence": "" }, licenceDetails(issuer))] : null,
        ["Content hash", hex(s.content_hash)],
        ["Metadata", uri],
        ["Reviewer", hex(s.reviewer)],
        ["Created", `block ${s.created_height}`],
        ["Creating transaction", hex(s.tx_id)],
      ]),
    ),
    recipesSection(s, inputNames),
    blindBoxSection(s),
    h("h2", {}, "Editions"),
    h(
      "div",
      { class: "card" },
      shown
        ? [
            h(
              "p",
              { class: "muted" },
              `Editions 1 to ${shown}${s.minted > shown ? ` (of ${s.minted} minted)` : ""}; their certificate ids are computed in this browser. ` +
                "An issuer may mint editions out of order: a number not minted yet opens a not-found page.",
            ),
            h(
              "ul",
              { class: "editions" },
              editions.map((cid, i) => h("li", { "data-edition": i + 1 }, h("a", { href: `#/cert/${cid}`, title: cid }, `#${i + 1}`))),
            ),
          ]
        : h("p", { class: "muted" }, "No edition minted yet."),
    ),
  );
}

async function certificateView(view, id) {
  fill(view, h("h1", {}, "Certificate"), h("p", { class: "hex" }, id), h("p", { class: "muted" }, "Loading…"));
  let answer, genesis;
  try {
    [answer, genesis] = await Promise.all([rpc("keepsake_getCertificate", [id]), getNodeGenesis()]);
  } catch (e) {
    if (e.code !== "NotFound") throw e;
    fill(view,
      h("h1", { "data-not-found": "certificate" }, "No such certificate"),
      h("p", { class: "hex" }, id),
      h("p", {}, "This node has no collectible with this certificate id. Check the id (it is 64 hexadecimal characters), or ask the platform that sold it which chain it is on."),
      h("p", {}, h("a", { href: "#/verify" }, "Verify a certificate file instead"), " · ", h("a", { href: "#/" }, "Back to the overview")),
    );
    return;
  }
  const certText = JSON.stringify(answer.certificate, null, 2);
  const result = await verifyCertificate(certText, genesis.loaded);
  let status = null;
  if (result.ok) {
    try {
      const st = await rpc("keepsake_getCertificateStatus", [id]);
      status = await verifyStatus(JSON.stringify(st), genesis.loaded, result);
    } catch (e) {
      status = { ok: false, code: "Unavailable", message: e.message };
    }
  }
  const c = answer.certificate;
  const names = {};
  try {
    const series = await rpc("keepsake_getSeries", [c.record.series_id]);
    names.issuer = series.issuer_name;
    names.reviewer = series.reviewer_name;
  } catch {
    /* names are a convenience: the keys are shown instead */
  }
  const download = h("a", { class: "button secondary", href: URL.createObjectURL(new Blob([certText + "\n"], { type: "application/json" })), download: `certificate-${id.slice(0, 12)}.json` }, "Download the certificate file");

  fill(view,
    h("h1", {}, `${c.record.series_name} #${c.record.edition}`),
    h("p", { class: "hex" }, id),
    verdictBox(result, genesis.loaded.hashHex, status),
    statusLine(status),
    h("div", { class: "card" }, names.issuer ? h("p", {}, `Issued by ${names.issuer}`) : null, recordTable(c.record, names), result.ok ? lifeTable(result) : null),
    result.ok ? holderBox(result) : null,
    h("h2", {}, "Verification in this browser"),
    h("div", { class: "card" }, stepsList(result.steps)),
    h("h2", {}, "Proof details, for auditors"),
    h(
      "div",
      { class: "card" },
      kv([
        ["Checkpoint", `block ${c.checkpoint.header.height}, log size ${c.checkpoint.header.log_size}`],
        ["Log root", hex(c.checkpoint.header.log_root)],
        ["Block hash", hex(c.checkpoint.commit.block_hash)],
        ["Precommits", String(c.checkpoint.commit.signatures.length)],
        ["Mint entry", `leaf ${c.mint.leaf_index}, proof of ${c.mint.proof.length} hashes`],
        ["Series entry", `leaf ${c.series.leaf_index}, proof of ${c.series.proof.length} hashes`],
        c.previous ? ["Previous checkpoint", `block ${c.previous.checkpoint.header.height}, consistency proof of ${c.previous.consistency.length} hashes`] : null,
        c.reveal ? ["Reveal entry", `leaf ${c.reveal.leaf_index}, proof of ${c.reveal.proof.length} hashes`] : null,
        ["Genesis used", hex(genesis.loaded.hashHex)],
      ]),
      h("div", { class: "row" }, download, h("a", { href: "#/verify" }, "Verify a file against your own genesis")),
    ),
  );
}

// Verify view state survives re-renders of the same view.
const verifyState = { genesis: null, genesisName: null };

async function verifyView(view) {
  const input = h("textarea", { placeholder: "Paste a certificate file (JSON) here, or drop it on the box above", "aria-label": "certificate JSON", spellcheck: "false" });
  const out = h("div", { id: "result" });
  const genesisInfo = h("div", { "data-genesis": "" });
  const certFile = h("input", { type: "file", accept: ".json,application/json", "aria-label": "certificate file" });
  const genesisFile = h("input", { type: "file", accept: ".json,application/json", "aria-label": "genesis file" });
  let certBytes = null; // the file as bytes: invalid UTF-8 is refused like the Rust tools do

  async function currentGenesis() {
    if (verifyState.genesis) return verifyState.genesis;
    return (await getNodeGenesis()).loaded;
  }

  async function showGenesis() {
    try {
      const g = await currentGenesis();
      fill(genesisInfo,
        h("p", {}, verifyState.genesis ? `Genesis from your file ${verifyState.genesisName}` : "Genesis fetched once from this node", `: chain ${g.genesis.chain_id}, ${plural(g.genesis.validators.length, "validator")}`),
        h("p", {}, "SHA-256 (genesis hash): ", hex(g.hashHex)),
        h("p", { class: "muted" }, "Compare it with the genesis hash published by the chain's operators."),
        verifyState.genesis
          ? h("button", { class: "secondary", type: "button", onclick: () => ((verifyState.genesis = null), showGenesis()) }, "Use the node's genesis instead")
          : null,
      );
    } catch (e) {
      fill(genesisInfo, h("p", { class: "error" }, `No genesis: ${e.code ? `${e.code}: ` : ""}${e.message}. Load a genesis file.`));
    }
  }

  genesisFile.addEventListener("change", async () => {
    const f = genesisFile.files[0];
    if (!f) return;
    try {
      verifyState.genesis = await loadGenesis(new Uint8Array(await f.arrayBuffer()));
      verifyState.genesisName = f.name;
    } catch (e) {
      verifyState.genesis = null;
      fill(genesisInfo, h("p", { class: "error" }, `${f.name}: ${e.code || "Error"}: ${e.message}`));
      return;
    }
    showGenesis();
  });

  async function run() {
    let g;
    try {
      g = await currentGenesis();
    } catch (e) {
      fill(out, h("p", { class: "error" }, `No genesis to verify against: ${e.message}`));
      return;
    }
    const source = certBytes ?? input.value;
    if (!source || (typeof source === "string" && !source.trim())) {
      fill(out, h("p", { class: "muted" }, "Paste or drop a certificate file first."));
      return;
    }
    const result = await verifyCertificate(source, g);
    const verdict = h("div", {}, verdictBox(result, g.hashHex));
    const parts = [verdict, h("div", { class: "card" }, stepsList(result.steps))];
    if (result.ok) {
      parts.push(h("div", { class: "card" }, recordTable(result.record), lifeTable(result)), holderBox(result));
      const statusOut = h("div");
      const ask = h("button", { class: "secondary", type: "button" }, "Ask this node whether it is revoked or burned");
      ask.addEventListener("click", async () => {
        ask.disabled = true;
        try {
          const st = await rpc("keepsake_getCertificateStatus", [result.certificateId]);
          const status = await verifyStatus(JSON.stringify(st), g, result);
          fill(statusOut, statusLine(status));
          fill(verdict, verdictBox(result, g.hashHex, status));
        } catch (e) {
          fill(statusOut, h("p", { class: "error" }, e.message));
        }
        ask.disabled = false;
      });
      parts.push(h("div", { class: "row" }, ask, h("a", { href: `#/cert/${result.certificateId}` }, "Open on this node")), statusOut);
    }
    fill(out, ...parts);
  }

  const drop = h("div", { class: "drop" }, h("p", {}, "Drop a certificate file here, or choose one: "), certFile);
  const take = async (file) => {
    certBytes = new Uint8Array(await file.arrayBuffer());
    input.value = new TextDecoder().decode(certBytes.subarray(0, 300 * 1024));
    run();
  };
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files[0]) take(e.dataTransfer.files[0]);
  });
  certFile.addEventListener("change", () => certFile.files[0] && take(certFile.files[0]));
  input.addEventListener("input", () => (certBytes = null));

  fill(view,
    h("h1", {}, "Verify a certificate"),
    h("p", { class: "muted" }, "The certificate is checked in this browser, step by step, against the genesis below; it is not sent to the node."),
    h("div", { class: "card" }, h("h2", {}, "Trust anchor"), genesisInfo, h("label", { class: "row" }, "Load a genesis file from disk: ", genesisFile)),
    h("div", { class: "card" }, drop, h("p"), input, h("div", { class: "row" }, h("button", { type: "button", onclick: run, "data-action": "verify" }, "Verify"))),
    out,
  );
  showGenesis();
}

// ---------------------------------------------------------------------------
// Router

async function route() {
  // Each route renders into a fresh element: a slow answer for a previous
  // view then lands in a detached element instead of over the current view.
  if (stopLive) stopLive(), (stopLive = null);
  const main = document.getElementById("view");
  const view = h("div");
  fill(main, view);
  const hash = location.hash || "#/";
  const cert = /^#\/cert\/((?:0x)?[0-9a-fA-F]{64})$/.exec(hash);
  const series = /^#\/series\/((?:0x)?[0-9a-fA-F]{64})$/.exec(hash);
  const name = cert ? "cert" : series ? "series" : hash === "#/verify" ? "verify" : hash === "#/validators" ? "validators" : "overview";
  for (const a of document.querySelectorAll("nav a")) {
    if (a.dataset.nav === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  main.dataset.view = name;
  try {
    if (cert) await certificateView(view, cert[1].replace(/^0x/, "").toLowerCase());
    else if (series) await seriesView(view, series[1].replace(/^0x/, "").toLowerCase());
    else if (name === "verify") await verifyView(view);
    else if (name === "validators") await validatorsView(view);
    else await overview(view);
  } catch (e) {
    fill(view, h("h1", {}, "Something went wrong"), h("p", { class: "error" }, e.message), h("p", {}, h("a", { href: "#/verify" }, "Verify a certificate file offline")));
  }
}

window.addEventListener("hashchange", route);
route();
