// The node's JSON-RPC API (crates/rpc/src/lib.rs, docs/rpc.md) over HTTP, and
// its block subscription over WebSocket (globalThis.WebSocket when the runtime
// has one, else the `ws` package).
import { parseJson, stringifyJson, parseSignedTx, encodeTxBody, txId as verifierTxId, toHex, VerifyError } from "./verify.js";
import { KeepsakeError, RpcError, TxRejectedError, TransportError, TimeoutError, ERROR_CODES } from "./errors.js";
import { signTx } from "./tx.js";

/** Client-side bounds, the node's defaults (node/src/config.rs, docs/rpc.md "Limits"). */
export const LIMITS = Object.freeze({
  /** max_request_bytes: a larger request is answered with HTTP 413. */
  requestBytes: 8 * 1024 * 1024,
  /** max_response_bytes: the node never sends more; the client refuses more. */
  responseBytes: 32 * 1024 * 1024,
  /** max_batch_txs: transactions per keepsake_submitTxs. */
  batchTxs: 10_000,
  /** max_batch_requests: calls per JSON-RPC batch. */
  batchCalls: 100,
  /** Largest WebSocket message accepted (a block notification is a few hundred bytes). */
  wsMessageBytes: 1024 * 1024,
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function readLimited(response, max) {
  const declared = Number(response.headers.get("content-length"));
  if (declared > max) {
    await response.body?.cancel();
    throw new TransportError(`response of ${declared} bytes, over the limit of ${max}`);
  }
  const reader = response.body.getReader();
  const chunks = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.length;
    if (n > max) {
      await reader.cancel();
      throw new TransportError(`response over the limit of ${max} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, n).toString("utf8");
}

let wsCtor;
async function webSocketClass() {
  if (wsCtor) return wsCtor;
  if (typeof globalThis.WebSocket === "function") return (wsCtor = globalThis.WebSocket);
  try {
    return (wsCtor = (await import("ws")).default);
  } catch (e) {
    throw new TransportError("no WebSocket: this runtime has no global WebSocket and the `ws` package is missing", {
      cause: e,
    });
  }
}

/**
 * A client of one node. `url` is its JSON-RPC address (http://host:port; the
 * WebSocket address is the same with ws://).
 */
export class KeepsakeClient {
  #url;
  #wsUrl;
  #timeoutMs;
  #maxResponseBytes;
  #nextId = 1;
  #genesis;

  constructor(url = "http://127.0.0.1:8645", { timeoutMs = 30_000, maxResponseBytes = LIMITS.responseBytes } = {}) {
    const u = new URL(url);
    if (u.protocol !== "http:" && u.protocol !== "https:") {
      throw new KeepsakeError("Malformed", `the node URL must be http(s)://, got ${url}`);
    }
    this.#url = u.href;
    const w = new URL(u.href);
    w.protocol = u.protocol === "https:" ? "wss:" : "ws:";
    this.#wsUrl = w.href;
    this.#timeoutMs = timeoutMs;
    this.#maxResponseBytes = maxResponseBytes;
  }

  get url() {
    return this.#url;
  }

  async #post(text, what) {
    const bytes = Buffer.byteLength(text, "utf8");
    if (bytes > LIMITS.requestBytes) {
      throw new KeepsakeError("RequestTooLarge", `${what}: request of ${bytes} bytes, over the node's limit of ${LIMITS.requestBytes}`);
    }
    let response;
    try {
      response = await fetch(this.#url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: text,
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (e) {
      if (e?.name === "TimeoutError") throw new TimeoutError(`${what}: no answer from ${this.#url} in ${this.#timeoutMs} ms`);
      throw new TransportError(`${what}: cannot reach ${this.#url}: ${e.cause?.message ?? e.message}`, { cause: e });
    }
    const body = await readLimited(response, this.#maxResponseBytes);
    if (!response.ok && !body.startsWith("{") && !body.startsWith("[")) {
      throw new TransportError(`${what}: HTTP ${response.status} ${body.slice(0, 200)}`, { status: response.status });
    }
    try {
      return parseJson(body);
    } catch (e) {
      throw new TransportError(`${what}: the answer is not JSON (HTTP ${response.status}): ${e.message}`, {
        status: response.status,
      });
    }
  }

  /** One JSON-RPC call; the result, or an RpcError with the stable code. */
  async call(method, params = []) {
    const id = this.#nextId++;
    const answer = await this.#post(stringifyJson({ jsonrpc: "2.0", id, method, params }), method);
    if (!answer || typeof answer !== "object" || Array.isArray(answer)) {
      throw new TransportError(`${method}: not a JSON-RPC response`);
    }
    if (answer.error) throw RpcError.fromObject(answer.error, method);
    if (answer.id !== id || !("result" in answer)) throw new TransportError(`${method}: not the response to this call`);
    return answer.result;
  }

  /**
   * Several calls in JSON-RPC batches of at most 100: one entry per call,
   * {result} or {error: RpcError}, in order.
   */
  async batch(calls) {
    const out = [];
    for (let at = 0; at < calls.length; at += LIMITS.batchCalls) {
      const part = calls.slice(at, at + LIMITS.batchCalls);
      const first = this.#nextId;
      this.#nextId += part.length;
      const request = part.map(([method, params = []], i) => ({ jsonrpc: "2.0", id: first + i, method, params }));
      const answer = await this.#post(stringifyJson(request), "batch");
      if (!Array.isArray(answer)) {
        if (answer?.error) throw RpcError.fromObject(answer.error, "batch");
        throw new TransportError("batch: not a JSON-RPC batch response");
      }
      const byId = new Map(answer.map((a) => [a?.id, a]));
      part.forEach(([method], i) => {
        const a = byId.get(first + i);
        if (!a) out.push({ error: new TransportError(`${method}: missing from the batch response`) });
        else if (a.error) out.push({ error: RpcError.fromObject(a.error, method) });
        else out.push({ result: a.result });
      });
    }
    return out;
  }

  /** GET /health: {height, last_commit_ms_ago, peers, status: "ok" | "halted" | "stale", reason?}, with httpStatus. */
  async health() {
    let response;
    try {
      response = await fetch(new URL("/health", this.#url), { signal: AbortSignal.timeout(this.#timeoutMs) });
    } catch (e) {
      throw new TransportError(`health: cannot reach ${this.#url}: ${e.cause?.message ?? e.message}`, { cause: e });
    }
    const text = await readLimited(response, 64 * 1024);
    let body;
    try {
      body = parseJson(text);
    } catch {
      throw new TransportError(`health: HTTP ${response.status}, not JSON: ${text.slice(0, 200)}`, { status: response.status });
    }
    return { ...body, httpStatus: response.status };
  }

  // --- reads (one method per KeepsakeApi method) -------------------------

  /** The genesis this node runs (cached). Learn the chain id from it; trust it for verification only if obtained out of band. */
  async getGenesis() {
    this.#genesis ??= this.call("keepsake_getGenesis", []).catch((e) => {
      this.#genesis = undefined;
      throw e;
    });
    return this.#genesis;
  }
  async chainId() {
    return (await this.getGenesis()).chain_id;
  }
  status() {
    return this.call("keepsake_status", []);
  }
  getTxStatus(txId) {
    return this.call("keepsake_getTxStatus", [txId]);
  }
  /** {certificate, revocation, burn}: the certificate file (an object) with proofs against the node's latest checkpoint. */
  getCertificate(certificateId) {
    return this.call("keepsake_getCertificate", [certificateId]);
  }
  /** The status answer (CertificateStatus), to verify offline with verifyStatus. */
  getCertificateStatus(certificateId) {
    return this.call("keepsake_getCertificateStatus", [certificateId]);
  }
  getEvidence(limit = 100) {
    return this.call("keepsake_getEvidence", [limit]);
  }
  getSeries(seriesId) {
    return this.call("keepsake_getSeries", [seriesId]);
  }
  listSeries(after = null, limit = 100) {
    return this.call("keepsake_listSeries", [after, limit]);
  }
  listIssuers(after = null, limit = 100) {
    return this.call("keepsake_listIssuers", [after, limit]);
  }
  recentTransactions(limit = 100) {
    return this.call("keepsake_recentTransactions", [limit]);
  }
  getIssuer(issuer) {
    return this.call("keepsake_getIssuer", [issuer]);
  }
  /** {size, root}: the root of the log's first `size` entries. */
  getLogRoot(size) {
    return this.call("keepsake_getLogRoot", [size]);
  }
  getBlock(height) {
    return this.call("keepsake_getBlock", [height]);
  }
  getBlockByHash(hash) {
    return this.call("keepsake_getBlockByHash", [hash]);
  }
  /** {old, new, proof}: both checkpoints and the RFC 9162 consistency proof between their logs. */
  getConsistencyProof(oldHeight, newHeight) {
    return this.call("keepsake_getConsistencyProof", [oldHeight, newHeight]);
  }
  getValidatorSets(height = null, proofs = null) {
    return this.call("keepsake_getValidatorSets", [height, proofs]);
  }

  // --- writes --------------------------------------------------------------

  /** The wire JSON, the local id and the chain of a signed transaction (signTx's result or a SignedTx JSON). */
  async #prepare(tx) {
    const chain = await this.chainId();
    if (tx && typeof tx === "object" && "tx" in tx && "id" in tx) {
      if (tx.chainId !== chain) {
        throw new KeepsakeError("WrongChain", `the transaction was signed for chain ${tx.chainId}, the node runs ${chain}`);
      }
      return { wire: tx.tx, id: tx.id };
    }
    let shape;
    try {
      shape = parseSignedTx(tx);
    } catch (e) {
      if (e instanceof VerifyError) throw new KeepsakeError(e.code, e.message);
      throw e;
    }
    return { wire: tx, id: toHex(await verifierTxId(chain, encodeTxBody(shape.body))) };
  }

  /**
   * keepsake_submitTx: admits one signed transaction (every ledger rule runs
   * at admission; a refusal is an RpcError with its rule's code). Returns the
   * id, after checking it is the id computed locally.
   */
  async submitTx(tx) {
    const { wire, id } = await this.#prepare(tx);
    const got = await this.call("keepsake_submitTx", [wire]);
    if (got !== id) throw new KeepsakeError("IdMismatch", `the node answered tx id ${got}, computed locally ${id}`);
    return got;
  }

  /**
   * keepsake_submitTxs: up to 10,000 transactions, each admitted alone.
   * Returns [{tx_id, error: null | RpcError}], in order (ids checked against the local ones).
   */
  async submitTxs(txs) {
    if (!Array.isArray(txs)) throw new KeepsakeError("Malformed", "submitTxs takes an array");
    if (txs.length > LIMITS.batchTxs) {
      throw new RpcError("BatchTooLarge", ERROR_CODES.BatchTooLarge, `${txs.length} transactions, at most ${LIMITS.batchTxs} per call`);
    }
    const prepared = [];
    for (const tx of txs) prepared.push(await this.#prepare(tx));
    const outcomes = await this.call("keepsake_submitTxs", [prepared.map((p) => p.wire)]);
    if (!Array.isArray(outcomes) || outcomes.length !== prepared.length) {
      throw new TransportError("submitTxs: not one outcome per transaction");
    }
    return outcomes.map((o, i) => {
      if (o.tx_id !== prepared[i].id) {
        throw new KeepsakeError("IdMismatch", `the node answered tx id ${o.tx_id} for transaction ${i}, computed locally ${prepared[i].id}`);
      }
      return { tx_id: o.tx_id, error: o.error ? RpcError.fromRejection(o.error, "keepsake_submitTxs") : null };
    });
  }

  /** Signs `body` with `signers` for this node's chain (its genesis' tx_bytes_max bounds the size). */
  async sign(body, signers) {
    const g = await this.getGenesis();
    return signTx(g.chain_id, body, signers, { maxBytes: Number(g.params.tx_bytes_max) });
  }

  /**
   * Signs, submits and (unless wait is false) waits for the commit. Returns
   * {id, kind, tx, status} with status {status: "committed", height, index, leaf_index}.
   */
  async send(body, signers, { wait = true, timeoutMs } = {}) {
    const signed = await this.sign(body, signers);
    await this.submitTx(signed);
    const status = wait ? (await this.waitForCommit([signed.id], { timeoutMs }))[0] : { status: "pending" };
    return { id: signed.id, kind: signed.kind, tx: signed.tx, status };
  }

  /**
   * Signs each {body, signers}, submits them in one keepsake_submitTxs and
   * waits for the admitted ones. Returns [{id, kind, error: RpcError | null, status}].
   */
  async sendBatch(items, { wait = true, timeoutMs } = {}) {
    const signed = [];
    for (const { body, signers } of items) signed.push(await this.sign(body, signers));
    const outcomes = await this.submitTxs(signed);
    const admitted = outcomes.filter((o) => !o.error).map((o) => o.tx_id);
    const statuses = wait && admitted.length ? await this.waitForCommit(admitted, { timeoutMs, throwOnRejected: false }) : [];
    const byId = new Map(admitted.map((id, i) => [id, statuses[i] ?? { status: "pending" }]));
    return outcomes.map((o, i) => {
      const status = o.error ? null : byId.get(o.tx_id);
      const error = o.error ?? (status?.status === "rejected" ? new TxRejectedError(o.tx_id, status.error) : null);
      return { id: o.tx_id, kind: signed[i].kind, error, status };
    });
  }

  /**
   * Waits until every transaction of `txIds` is committed: follows the
   * block subscription (keepsake_subscribeBlocks) and asks keepsake_getTxStatus
   * after each block with transactions (polls when no WebSocket can be opened).
   * Returns the statuses in order. A rejected transaction throws
   * TxRejectedError (or is returned as is with throwOnRejected: false); the
   * deadline throws TimeoutError.
   */
  async waitForCommit(txIds, { timeoutMs = this.#timeoutMs, throwOnRejected = true } = {}) {
    const ids = Array.isArray(txIds) ? txIds : [txIds];
    const done = new Map();
    const check = async () => {
      const pending = ids.filter((id) => !done.has(id));
      const answers = await this.batch(pending.map((id) => ["keepsake_getTxStatus", [id]]));
      answers.forEach((a, i) => {
        if (a.error) throw a.error;
        const st = a.result;
        if (st.status === "committed") done.set(pending[i], st);
        else if (st.status === "rejected") {
          if (throwOnRejected) throw new TxRejectedError(pending[i], st.error);
          done.set(pending[i], st);
        }
      });
      return done.size === ids.length;
    };
    const deadline = Date.now() + timeoutMs;
    const timeout = () =>
      new TimeoutError(`${ids.length - done.size} of ${ids.length} transactions not committed after ${timeoutMs} ms`);
    let sub;
    try {
      // Wake on every block with transactions; check once after subscribing (a
      // commit before the subscription is seen then).
      let wake = () => {};
      let dirty = true;
      try {
        sub = await this.subscribeBlocks((block) => {
          if (block.tx_count !== 0) {
            dirty = true;
            wake();
          }
        }, { timeoutMs: Math.max(1, deadline - Date.now()) });
      } catch (e) {
        if (!(e instanceof TransportError || e instanceof TimeoutError)) throw e;
        sub = null; // no WebSocket: poll
      }
      for (;;) {
        if (dirty || !sub) {
          dirty = false;
          if (await check()) break;
        }
        const left = deadline - Date.now();
        if (left <= 0) throw timeout();
        const pollMs = sub ? Math.min(left, 1000) : Math.min(left, 100);
        await new Promise((resolve) => {
          const t = setTimeout(resolve, pollMs);
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        // A slow safety net: if a notification was missed, check every second anyway.
        if (sub) dirty = true;
        if (sub?.error) sub = null;
      }
    } finally {
      await sub?.close();
    }
    return ids.map((id) => done.get(id));
  }

  /**
   * keepsake_subscribeBlocks over WebSocket: calls onBlock(BlockSummary) for
   * each committed block ({height, hash, time_ms, tx_count, log_size, log_root}).
   * Returns {id, close()}; `error` is set if the connection fails later.
   */
  async subscribeBlocks(onBlock, { timeoutMs = this.#timeoutMs } = {}) {
    const WS = await webSocketClass();
    const isWsPackage = WS !== globalThis.WebSocket;
    const ws = isWsPackage ? new WS(this.#wsUrl, { maxPayload: LIMITS.wsMessageBytes }) : new WS(this.#wsUrl);
    const sub = { id: null, error: null, close: null };
    const requestId = this.#nextId++;
    let settle;
    const ready = new Promise((resolve, reject) => (settle = { resolve, reject }));
    const timer = setTimeout(
      () => settle.reject(new TimeoutError(`subscribeBlocks: no answer from ${this.#wsUrl} in ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onMessage = (data) => {
      const text = typeof data === "string" ? data : Buffer.from(data).toString("utf8");
      if (text.length > LIMITS.wsMessageBytes) return;
      let msg;
      try {
        msg = parseJson(text);
      } catch {
        return;
      }
      if (msg.id === requestId) {
        if (msg.error) settle.reject(RpcError.fromObject(msg.error, "keepsake_subscribeBlocks"));
        else {
          sub.id = msg.result;
          settle.resolve();
        }
      } else if (msg.method === "keepsake_block" && sub.id !== null && msg.params?.subscription === sub.id) {
        try {
          onBlock(msg.params.result);
        } catch {
          // a subscriber's bug does not close the subscription
        }
      }
    };
    const onFail = (why) => {
      const e = new TransportError(`subscribeBlocks: ${why}`);
      sub.error = e;
      settle.reject(e);
    };
    ws.onopen = () =>
      ws.send(stringifyJson({ jsonrpc: "2.0", id: requestId, method: "keepsake_subscribeBlocks", params: [] }));
    ws.onmessage = (ev) => onMessage(ev.data);
    ws.onerror = (ev) => onFail(`WebSocket error on ${this.#wsUrl}: ${ev?.message ?? ev?.error?.message ?? "connection failed"}`);
    ws.onclose = () => onFail("the WebSocket closed");
    sub.close = async () => {
      ws.onclose = null;
      ws.onerror = () => {}; // the ws package throws on an error event nobody listens to
      ws.onmessage = null;
      if (ws.readyState === 0 || ws.readyState === 1) {
        await new Promise((resolve) => {
          const t = setTimeout(resolve, 1000);
          ws.onclose = () => {
            clearTimeout(t);
            resolve();
          };
          ws.close();
        });
      }
    };
    try {
      await ready;
    } catch (e) {
      await sub.close();
      throw e;
    } finally {
      clearTimeout(timer);
    }
    return sub;
  }
}

export { sleep };
