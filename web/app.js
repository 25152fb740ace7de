// Keepsake explorer: a small single-page app served by the node at GET /,
// talking to the node's JSON-RPC 2.0 endpoint (POST / on the same origin).
// Views (location.hash): overview "#/", a certificate "#/cert/<id>", and
// "#/verify" (a certificate file verified in this browser with verify.js).
// Nothing from the network is inserted as HTML: every text goes through
// textContent.

import { verifyCertificate, verifyStatus, loadGenesis } from "./verify.js";

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
const time = (ms) => {
  const d = new Date(Number(ms));
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
};
const kv = (pairs) => h("dl", { class: "kv" }, pairs.filter(Boolean).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
const isHex32 = (s) => /^(0x)?[0-9a-fA-F]{64}$/.test(s);

class RpcError extends Error {}

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
    const code = body.error.data && body.error.data.code ? ` (${body.error.data.code})` : "";
    throw new RpcError(`${body.error.message}${code}`);
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

function verdictBox(result, genesisHash) {
  if (result.ok) {
    const r = result.record;
    return h(
      "div",
      { class: "verdict", "data-verdict": "genuine", role: "status" },
      `Genuine: ${r.series_name} #${r.edition} of ${r.max_supply}`,
      h(
        "small",
        {},
        `Minted at block ${r.height}, anchored to block ${result.checkpointHeight} signed by power ` +
          `${result.signedPower} of ${result.totalPower}` +
          (result.previousHeight !== null ? `, linked to block ${result.previousHeight}` : "") +
          `. Genesis ${genesisHash.slice(0, 16)}…`,
      ),
    );
  }
  return h(
    "div",
    { class: "verdict", "data-verdict": "not-genuine", role: "alert" },
    `Not genuine: ${result.code}`,
    h("small", {}, `At step “${result.step}”: ${result.message}`),
  );
}

function recordTable(r) {
  return kv([
    ["Series", `${r.series_name}`],
    ["Edition", `${r.edition} of ${r.max_supply}`],
    ["Holder commitment", hex(r.holder)],
    ["Issuer", hex(r.issuer)],
    ["Reviewer", hex(r.reviewer)],
    ["Content hash", hex(r.content_hash)],
    ["Metadata", r.metadata_uri],
    ["Minted", `block ${r.height}, ${time(r.time_ms)}`],
    ["Mint transaction", hex(r.mint_tx)],
    ["Series id", hex(r.series_id)],
  ]);
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
  return h(
    "p",
    { "data-status-verdict": "active" },
    h("span", { class: "badge ok" }, "active"),
    ` at block ${st.checkpointHeight}, on the node's word: a log proves presence, not absence.`,
  );
}

// ---------------------------------------------------------------------------
// Views

async function overview(view) {
  const [status, genesis] = await Promise.all([rpc("keepsake_status"), getNodeGenesis()]);
  const g = genesis.loaded;
  const search = h("input", { type: "text", placeholder: "certificate id (64 hex digits)", "aria-label": "certificate id" });
  const go = (e) => {
    e.preventDefault();
    const id = search.value.trim();
    if (isHex32(id)) location.hash = `#/cert/${id.replace(/^0x/, "").toLowerCase()}`;
    else search.setCustomValidity("64 hex digits"), search.reportValidity();
  };
  search.addEventListener("input", () => search.setCustomValidity(""));
  const sameGenesis = g.hashHex === String(status.genesis_hash).toLowerCase();

  const heights = [];
  for (let k = Number(status.height); k >= 1 && heights.length < 10; k--) heights.push(k);
  const blocks = await Promise.all(heights.map((k) => rpc("keepsake_getBlock", [k]).catch(() => null)));

  fill(view,
    h("h1", {}, `Chain ${status.chain_id}`),
    h("form", { class: "search card", onsubmit: go }, search, h("button", { type: "submit" }, "Open")),
    h(
      "div",
      { class: "grid" },
      [
        ["height", status.height],
        ["log entries", status.log_size],
        ["validators", g.genesis.validators.length],
        ["mempool", status.mempool_txs],
      ].map(([k, v]) => h("div", { class: "card stat" }, h("b", {}, String(v)), h("span", {}, k))),
    ),
    h(
      "div",
      { class: "card" },
      kv([
        ["Latest block", [hex(status.latest_hash), h("br"), time(status.latest_time_ms)]],
        ["Log root", hex(status.log_root)],
        [
          "Genesis",
          [
            hex(g.hashHex),
            h("br"),
            h("span", { class: sameGenesis ? "muted" : "error" }, sameGenesis ? "hash computed here from the node's genesis file" : `the node claims ${status.genesis_hash}`),
          ],
        ],
        ["This node", hex(status.validator)],
      ]),
    ),
    h("h2", {}, "Validators"),
    h(
      "div",
      { class: "card table-wrap" },
      h(
        "table",
        {},
        h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Power"), h("th", {}, "Key"))),
        h(
          "tbody",
          {},
          genesis.raw.validators.map((v) => h("tr", {}, h("td", {}, v.name), h("td", {}, String(v.power)), h("td", {}, shortHex(v.public_key)))),
        ),
      ),
    ),
    h("h2", {}, "Latest blocks"),
    h(
      "div",
      { class: "card table-wrap" },
      h(
        "table",
        {},
        h(
          "thead",
          {},
          h("tr", {}, h("th", {}, "Height"), h("th", {}, "Hash"), h("th", { class: "hide-sm" }, "Time"), h("th", {}, "Transactions"), h("th", {}, "Signatures")),
        ),
        h(
          "tbody",
          {},
          blocks.filter(Boolean).map((b) =>
            h(
              "tr",
              { "data-height": b.block.header.height },
              h("td", {}, String(b.block.header.height)),
              h("td", {}, shortHex(b.hash)),
              h("td", { class: "hide-sm" }, time(b.block.header.time_ms)),
              h("td", {}, b.block.txs.length ? b.block.txs.map((t) => Object.keys(t.body)[0]).join(", ") : "—"),
              h("td", {}, String(b.commit.signatures.length)),
            ),
          ),
        ),
      ),
    ),
  );
}

async function certificateView(view, id) {
  fill(view, h("h1", {}, "Certificate"), h("p", { class: "hex" }, id), h("p", { class: "muted" }, "Loading…"));
  const [answer, genesis] = await Promise.all([rpc("keepsake_getCertificate", [id]), getNodeGenesis()]);
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
  let issuerName = null;
  try {
    issuerName = (await rpc("keepsake_getIssuer", [c.record.issuer])).name;
  } catch {
    /* optional */
  }
  const download = h("a", { class: "button secondary", href: URL.createObjectURL(new Blob([certText + "\n"], { type: "application/json" })), download: `certificate-${id.slice(0, 12)}.json` }, "Download the certificate file");

  fill(view,
    h("h1", {}, `${c.record.series_name} #${c.record.edition}`),
    h("p", { class: "hex" }, id),
    verdictBox(result, genesis.loaded.hashHex),
    statusLine(status),
    h("div", { class: "card" }, issuerName ? h("p", {}, `Issued by ${issuerName}`) : null, recordTable(c.record)),
    h("h2", {}, "Verification in this browser"),
    h("div", { class: "card" }, stepsList(result.steps)),
    h("h2", {}, "Proof details"),
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
        h("p", {}, verifyState.genesis ? `Genesis from your file ${verifyState.genesisName}` : "Genesis fetched once from this node", `: chain ${g.genesis.chain_id}, ${g.genesis.validators.length} validators`),
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
    const parts = [verdictBox(result, g.hashHex), h("div", { class: "card" }, stepsList(result.steps))];
    if (result.ok) {
      parts.push(h("div", { class: "card" }, recordTable(result.record)));
      const statusOut = h("div");
      const ask = h("button", { class: "secondary", type: "button" }, "Ask this node whether it is revoked");
      ask.addEventListener("click", async () => {
        ask.disabled = true;
        try {
          const st = await rpc("keepsake_getCertificateStatus", [result.certificateId]);
          fill(statusOut, statusLine(await verifyStatus(JSON.stringify(st), g, result)));
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
  const main = document.getElementById("view");
  const view = h("div");
  fill(main, view);
  const hash = location.hash || "#/";
  const cert = /^#\/cert\/((?:0x)?[0-9a-fA-F]{64})$/.exec(hash);
  const name = cert ? "cert" : hash === "#/verify" ? "verify" : "overview";
  for (const a of document.querySelectorAll("nav a")) {
    if (a.dataset.nav === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  main.dataset.view = name;
  try {
    if (cert) await certificateView(view, cert[1].replace(/^0x/, "").toLowerCase());
    else if (name === "verify") await verifyView(view);
    else await overview(view);
  } catch (e) {
    fill(view, h("h1", {}, "Something went wrong"), h("p", { class: "error" }, e.message), h("p", {}, h("a", { href: "#/verify" }, "Verify a certificate file offline")));
  }
}

window.addEventListener("hashchange", route);
route();
