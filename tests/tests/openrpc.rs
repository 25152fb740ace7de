//! The API contract: docs/openrpc.json, served by `rpc.discover`, against
//! one real node (sled on disk, JSON-RPC over HTTP and WebSocket on
//! loopback). The document must describe exactly what the server does:
//!
//! - (a) its method names are the methods the server registered
//!   (`RpcModule::method_names`, kept in `RunningNode::rpc_methods`), both
//!   ways; over HTTP none of them is "method not found", and undocumented
//!   names are;
//! - (b) its errors are `ErrorCode::TABLE` (same names, numbers and
//!   `data.code`) plus standard JSON-RPC ones, and every error a call in
//!   this test gets is one its method documents;
//! - (c) each method's params have the Rust trait's names, requiredness and
//!   order (probes below: the server's own parameter decoding answers);
//! - (d) it is JSON with `openrpc` 1.2.6 and `info.version` the node's version;
//!
//! and every result this test obtains (and every documented example's
//! params) validates against the document's schemas.

use std::collections::{BTreeMap, BTreeSet};

use jsonrpsee::core::client::ClientT;
use jsonrpsee::rpc_params;
use jsonrpsee::ws_client::WsClientBuilder;
use keepsake_rpc::KeepsakeApiClient;
use keepsake_rpc::error::ErrorCode;
use keepsake_rpc::types::TxStatus;
use keepsake_tests::{TestNode, raw_http, wait_final};
use keepsake_types::{TxBody, ids};
use serde_json::{Map, Value, json};

/// The document as the repository keeps it.
const DOCUMENT: &str = include_str!("../../docs/openrpc.json");

/// Sends one JSON-RPC request body over HTTP; returns the parsed answer.
async fn post(t: &TestNode, body: &str) -> Value {
    let (status, text) = raw_http(t.node.rpc_addr, "POST", "/", Some(body.as_bytes())).await;
    assert_eq!(status, 200, "HTTP status for {body:.300}: {text:.300}");
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("answer to {body:.300} is not JSON ({e}): {text:.300}"))
}

/// A call with `params` given as raw JSON text.
async fn call_raw(t: &TestNode, method: &str, params: &str) -> Value {
    post(t, &format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}","params":{params}}}"#)).await
}

fn error_code(answer: &Value) -> Option<i64> {
    answer.get("error").map(|e| e["code"].as_i64().expect("an error has a numeric code"))
}

/// What two answers must share to be "the same": both results, or the same error.
fn outcome(answer: &Value) -> String {
    match answer.get("error") {
        Some(e) => format!("error {} {}", e["code"], e["message"]),
        None => "result".into(),
    }
}

/// The document's pieces.
struct Doc {
    doc: Value,
    methods: BTreeMap<String, Value>,
}

impl Doc {
    fn new(doc: Value) -> Self {
        let methods = doc["methods"]
            .as_array()
            .expect("methods is an array")
            .iter()
            .map(|m| (m["name"].as_str().expect("a method has a name").to_string(), m.clone()))
            .collect();
        Doc { doc, methods }
    }

    fn schema(&self, reference: &str) -> &Value {
        let name = reference.strip_prefix("#/components/schemas/").expect("a local schema reference");
        let s = &self.doc["components"]["schemas"][name];
        assert!(!s.is_null(), "dangling schema reference {reference}");
        s
    }

    fn error(&self, reference: &str) -> &Value {
        let name = reference.strip_prefix("#/components/errors/").expect("a local error reference");
        let e = &self.doc["components"]["errors"][name];
        assert!(!e.is_null(), "dangling error reference {reference}");
        e
    }

    /// The error numbers a method documents.
    fn method_errors(&self, method: &str) -> BTreeSet<i64> {
        self.methods[method]["errors"]
            .as_array()
            .expect("errors is an array")
            .iter()
            .map(|e| {
                let e = match e["$ref"].as_str() {
                    Some(r) => self.error(r),
                    None => e,
                };
                e["code"].as_i64().expect("an error has a code")
            })
            .collect()
    }

    fn params(&self, method: &str) -> Vec<(String, bool, Value)> {
        self.methods[method]["params"]
            .as_array()
            .expect("params is an array")
            .iter()
            .map(|p| {
                (
                    p["name"].as_str().expect("a param has a name").to_string(),
                    p["required"].as_bool().unwrap_or(false),
                    p["schema"].clone(),
                )
            })
            .collect()
    }

    /// The first example's params: (name, value) in documented order.
    fn example(&self, method: &str) -> Vec<(String, Value)> {
        self.methods[method]["examples"][0]["params"]
            .as_array()
            .unwrap_or_else(|| panic!("{method} has no example"))
            .iter()
            .map(|p| (p["name"].as_str().expect("named").to_string(), p["value"].clone()))
            .collect()
    }

    /// Checks `value` against `schema` (the JSON Schema subset the document
    /// uses); returns what does not match, with its path.
    fn validate(&self, schema: &Value, value: &Value, path: &str) -> Result<(), String> {
        let fail = |why: String| Err(format!("{path}: {why}; value {:.200}", value.to_string()));
        if let Some(r) = schema["$ref"].as_str() {
            return self.validate(self.schema(r), value, path);
        }
        if let Some(options) = schema["oneOf"].as_array() {
            let matching = options.iter().filter(|s| self.validate(s, value, path).is_ok()).count();
            if matching != 1 {
                return fail(format!("{matching} of the oneOf alternatives match, not exactly 1"));
            }
        }
        if let Some(c) = schema.get("const")
            && c != value
        {
            return fail(format!("expected {c}"));
        }
        if let Some(options) = schema["enum"].as_array()
            && !options.contains(value)
        {
            return fail(format!("not one of {options:?}"));
        }
        match schema["type"].as_str() {
            None => {}
            Some("null") if value.is_null() => {}
            Some("boolean") if value.is_boolean() => {}
            Some("string") => {
                let Some(s) = value.as_str() else { return fail("expected a string".into()) };
                if let Some(p) = schema["pattern"].as_str()
                    && !matches_pattern(p, s)
                {
                    return fail(format!("does not match {p}"));
                }
            }
            Some("integer") => {
                let ok = match (value.as_u64(), value.as_i64()) {
                    (Some(n), _) => schema["maximum"].as_u64().is_none_or(|max| n <= max),
                    (None, Some(n)) => schema["minimum"].as_i64().is_none_or(|min| n >= min),
                    (None, None) => false,
                };
                if !ok {
                    return fail("expected an integer in range".into());
                }
            }
            Some("array") => {
                let Some(items) = value.as_array() else { return fail("expected an array".into()) };
                for (i, item) in items.iter().enumerate() {
                    self.validate(&schema["items"], item, &format!("{path}[{i}]"))?;
                }
            }
            Some("object") => {
                let Some(object) = value.as_object() else { return fail("expected an object".into()) };
                let empty = Map::new();
                let properties = schema["properties"].as_object().unwrap_or(&empty);
                for required in schema["required"].as_array().into_iter().flatten() {
                    let name = required.as_str().expect("required names are strings");
                    if !object.contains_key(name) {
                        return fail(format!("missing required member {name:?}"));
                    }
                }
                for (name, member) in object {
                    match properties.get(name) {
                        Some(s) => self.validate(s, member, &format!("{path}.{name}"))?,
                        None if schema["additionalProperties"] == false => {
                            return fail(format!("member {name:?} is not in the schema"));
                        }
                        None => {}
                    }
                }
            }
            Some(other) => return fail(format!("expected a {other}")),
        }
        Ok(())
    }

    /// Validates a method's result against its documented result schema.
    fn check_result(&self, method: &str, answer: &Value) {
        let result =
            answer.get("result").unwrap_or_else(|| panic!("{method}: expected a result, got {answer}"));
        self.validate(&self.methods[method]["result"]["schema"], result, method)
            .unwrap_or_else(|e| panic!("{method}'s result does not match its schema: {e}"));
    }

    /// An error answer must be one its method documents (or an envelope error of every request).
    fn check_error(&self, method: &str, answer: &Value) {
        if let Some(code) = error_code(answer) {
            assert!(
                self.method_errors(method).contains(&code),
                "{method} answered error {code}, which its \"errors\" do not list: {answer}"
            );
        }
    }
}

/// The three patterns the document uses (a failing assertion asks to teach
/// this test a new one rather than pulling in a regex engine).
fn matches_pattern(pattern: &str, s: &str) -> bool {
    let hex = |t: &str| t.bytes().all(|b| b.is_ascii_hexdigit());
    match pattern {
        "^[a-z0-9-]{1,64}$" => {
            (1..=64).contains(&s.len())
                && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        }
        "^(0x)?([0-9a-fA-F]{2})*$" => {
            let t = s.strip_prefix("0x").unwrap_or(s);
            t.len().is_multiple_of(2) && hex(t)
        }
        _ => {
            let digits = pattern
                .strip_prefix("^(0x)?[0-9a-fA-F]{")
                .and_then(|p| p.strip_suffix("}$"))
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or_else(|| {
                    panic!("this test does not know the pattern {pattern}: teach matches_pattern")
                });
            let t = s.strip_prefix("0x").unwrap_or(s);
            t.len() == digits && hex(t)
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openrpc_document_is_the_api_the_node_serves() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestNode::start(dir.path()).await.unwrap();
    let c = t.client();
    let chain = t.chain().to_string();

    // Some state for the results to show: a series, two minted editions, one revoked.
    let series = t.setup_series("openrpc", 10).await;
    let holder = |n: u32| ids::holder_id("openrpc-salt", &format!("user-{n}"));
    let mut mint_ids = Vec::new();
    for edition in 1..=2 {
        let tx =
            TxBody::Mint { series_id: series, edition, holder: holder(edition) }.sign(&chain, &[&t.issuer]);
        mint_ids.push(c.submit_tx(tx).await.unwrap());
    }
    for id in &mint_ids {
        assert!(matches!(wait_final(&c, *id).await, TxStatus::Committed { .. }));
    }
    let cert1 = ids::certificate_id(&chain, &series, 1);
    let cert2 = ids::certificate_id(&chain, &series, 2);
    let revoke = TxBody::Revoke { certificate_id: cert2, reason: "test".into() }.sign(&chain, &[&t.issuer]);
    let revoke_id = c.submit_tx(revoke).await.unwrap();
    assert!(matches!(wait_final(&c, revoke_id).await, TxStatus::Committed { .. }));
    let tip = c.status().await.unwrap().height;
    assert!(tip >= 2, "the examples need two blocks, the tip is {tip}");

    // rpc.discover answers the repository's document.
    let served = post(&t, r#"{"jsonrpc":"2.0","id":1,"method":"rpc.discover"}"#).await;
    let file: Value = serde_json::from_str(DOCUMENT).expect("docs/openrpc.json is JSON");
    assert_eq!(served["result"], file, "rpc.discover does not answer docs/openrpc.json");
    let with_params = call_raw(&t, "rpc.discover", "[]").await;
    assert_eq!(with_params["result"], file, "rpc.discover with empty params");
    let d = Doc::new(file);

    // (d) OpenRPC 1.2.6, the node's version.
    assert_eq!(d.doc["openrpc"], "1.2.6");
    assert_eq!(d.doc["info"]["version"], keepsake::NODE_VERSION);
    assert!(d.doc["info"]["title"].is_string());
    d.check_result("rpc.discover", &served);

    // (a) The documented methods are exactly the registered ones, both ways.
    let documented: BTreeSet<&str> = d.methods.keys().map(String::as_str).collect();
    let registered: BTreeSet<&str> = t.node.rpc_methods.iter().copied().collect();
    assert_eq!(d.methods.len(), d.doc["methods"].as_array().unwrap().len(), "a method is documented twice");
    assert_eq!(
        documented.difference(&registered).collect::<Vec<_>>(),
        Vec::<&&str>::new(),
        "documented but not served"
    );
    assert_eq!(
        registered.difference(&documented).collect::<Vec<_>>(),
        Vec::<&&str>::new(),
        "served but not documented"
    );
    // ... and over the wire: every documented method exists, other names do not.
    for method in &documented {
        let answer = call_raw(&t, method, "[]").await;
        assert_ne!(error_code(&answer), Some(-32601), "{method} is documented but not found: {answer}");
        d.check_error(method, &answer);
    }
    for method in
        ["keepsake_block", "keepsake_nope", "rpc.nope", "rpc.discover2", "keepsake_Status", "status"]
    {
        let answer = call_raw(&t, method, "[]").await;
        assert_eq!(error_code(&answer), Some(-32601), "{method} should not exist: {answer}");
    }

    // (b) The error table.
    let errors = d.doc["components"]["errors"].as_object().expect("components.errors");
    let table: BTreeMap<&str, i32> = ErrorCode::TABLE.iter().copied().collect();
    for (name, number) in &table {
        let e = &errors.get(*name).unwrap_or_else(|| panic!("{name} ({number}) is not in components.errors"));
        assert_eq!(e["code"], *number, "{name}'s number");
        assert_eq!(e["data"]["code"], *name, "{name}'s data.code");
        assert!(e["message"].is_string(), "{name} has no message");
    }
    let mut numbers = BTreeSet::new();
    for (name, e) in errors {
        let code = e["code"].as_i64().unwrap_or_else(|| panic!("error {name} has no numeric code"));
        assert!(numbers.insert(code), "error number {code} is documented twice");
        assert!(e["message"].is_string(), "{name} has no message");
        match e["data"]["code"].as_str() {
            // A Keepsake error: in the table, under its own name and number.
            Some(stable) => {
                assert_eq!(stable, name, "components.errors.{name} carries data.code {stable}");
                assert_eq!(
                    table.get(stable).map(|n| i64::from(*n)),
                    Some(code),
                    "{name} is not in ErrorCode::TABLE"
                );
            }
            // A standard JSON-RPC error of the server (reserved range, no data.code).
            None => assert!(
                (-32768..=-32000).contains(&code),
                "{name} ({code}) is neither in the table nor standard"
            ),
        }
    }
    for (name, m) in &d.methods {
        for e in m["errors"].as_array().expect("errors") {
            let r = e["$ref"].as_str().unwrap_or_else(|| panic!("{name}: errors are references: {e}"));
            d.error(r);
        }
    }

    // (c) Params: names, requiredness and order, as the server decodes them.
    for (method, m) in &d.methods {
        let params = d.params(method);
        let example = d.example(method);
        assert_eq!(
            example.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            params.iter().map(|(n, _, _)| n.as_str()).collect::<Vec<_>>(),
            "{method}: the example gives every param, in order"
        );
        for ((name, _, schema), (_, value)) in params.iter().zip(&example) {
            d.validate(schema, value, &format!("{method} example {name}"))
                .unwrap_or_else(|e| panic!("{method}'s example does not match its schema: {e}"));
        }
        let positional = Value::Array(example.iter().map(|(_, v)| v.clone()).collect()).to_string();
        let by_position = call_raw(&t, method, &positional).await;
        assert_ne!(error_code(&by_position), Some(-32602), "{method}{positional}: {by_position}");
        d.check_error(method, &by_position);
        if let Some(e) = error_code(&by_position) {
            // The examples are chosen to be served; only these errors are expected of them.
            assert!(
                [4001, 4404, -32603].contains(&e),
                "{method}{positional} should be served: {by_position}"
            );
        }
        // No undocumented trailing param: one more positional value is ignored.
        let mut longer = example.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>();
        longer.push(json!({"undocumented": true}));
        let answer = call_raw(&t, method, &Value::Array(longer).to_string()).await;
        assert_eq!(
            outcome(&answer),
            outcome(&by_position),
            "{method} takes a param after its documented ones"
        );

        if m["paramStructure"] == "by-position" {
            continue; // jsonrpsee's unsubscribe decodes positional params only: checked over WebSocket below.
        }
        // Named params with the documented names get the same answer as the
        // same values in documented order (a swapped order shows: the examples
        // are not symmetric).
        let named: Map<String, Value> = example.iter().cloned().collect();
        let by_name = call_raw(&t, method, &Value::Object(named).to_string()).await;
        assert_eq!(
            outcome(&by_name),
            outcome(&by_position),
            "{method}: named {by_name} vs positional {by_position}"
        );
        // Each name is the server's, with its requiredness: `null` for a
        // required param is "invalid type: null" (an unknown name would be
        // ignored: "missing field"); an optional param given twice is a
        // "duplicate field" (an unknown name would be ignored).
        for (name, required, _) in &params {
            let (probe, expected) = if *required {
                (format!(r#"{{"{name}":null}}"#), "invalid type: null".to_string())
            } else {
                (format!(r#"{{"{name}":null,"{name}":null}}"#), format!("duplicate field `{name}`"))
            };
            let answer = call_raw(&t, method, &probe).await;
            assert_eq!(error_code(&answer), Some(-32602), "{method} {probe}: {answer}");
            assert!(
                answer["error"].to_string().contains(&expected),
                "{method} {probe}: expected {expected:?} in {answer}"
            );
        }
        if params.iter().any(|(_, required, _)| *required) {
            let answer = call_raw(&t, method, "{}").await;
            let first = params.iter().find(|(_, r, _)| *r).map(|(n, _, _)| n.as_str()).unwrap();
            assert!(
                answer["error"].to_string().contains(&format!("missing field `{first}`")),
                "{method} {{}}: the first required param is {first}: {answer}"
            );
        }
    }

    // Results against the schemas, and errors against each method's list.
    let hex = |h: &dyn std::fmt::Display| Value::String(h.to_string());
    let tx_example = d.example("keepsake_submitTx")[0].1.clone();
    let block1 = c.get_block(1).await.unwrap();
    let calls: Vec<(&str, Value)> = vec![
        ("keepsake_status", json!([])),
        ("keepsake_getGenesis", json!([])),
        ("keepsake_getBlock", json!([1])),
        ("keepsake_getBlock", json!([tip])),
        ("keepsake_getBlockByHash", json!([hex(&block1.hash)])),
        ("keepsake_getTxStatus", json!([hex(&mint_ids[0])])),
        ("keepsake_getTxStatus", json!([hex(&revoke_id)])),
        ("keepsake_getTxStatus", json!(["00".repeat(32)])),
        ("keepsake_getCertificate", json!([hex(&cert1)])),
        ("keepsake_getCertificate", json!([hex(&cert2)])),
        ("keepsake_getCertificateStatus", json!([hex(&cert1)])),
        ("keepsake_getCertificateStatus", json!([hex(&cert2)])),
        ("keepsake_getSeries", json!([hex(&series)])),
        ("keepsake_listSeries", json!([null, 100])),
        ("keepsake_listIssuers", json!([null, 100])),
        ("keepsake_getIssuer", json!([hex(&t.issuer.public())])),
        ("keepsake_recentTransactions", json!([100])),
        ("keepsake_getLogRoot", json!([1])),
        ("keepsake_getConsistencyProof", json!([1, tip])),
        ("keepsake_getValidatorSets", json!([null, true])),
        ("keepsake_getValidatorSets", json!([1, false])),
        ("keepsake_getEvidence", json!([1000])),
        ("keepsake_submitTxs", json!([[tx_example]])),
    ];
    for (method, params) in &calls {
        let answer = call_raw(&t, method, &params.to_string()).await;
        d.check_result(method, &answer);
    }
    let errors: Vec<(&str, Value, i64)> = vec![
        ("keepsake_getBlock", json!([tip + 1000]), 4404),
        ("keepsake_getLogRoot", json!([u64::MAX]), 4416),
        ("keepsake_getConsistencyProof", json!([2, 1]), 4416),
        ("keepsake_getSeries", json!(["77".repeat(32)]), 4404),
        ("keepsake_submitTx", json!([tx_example]), 4001),
        ("keepsake_getBlock", json!(["one"]), -32602),
        ("keepsake_subscribeBlocks", json!([]), -32603),
    ];
    for (method, params, code) in &errors {
        let answer = call_raw(&t, method, &params.to_string()).await;
        assert_eq!(error_code(&answer), Some(*code), "{method}{params}: {answer}");
        d.check_error(method, &answer);
    }

    // The subscription pair over WebSocket: a notification matches the
    // documented item schema; unsubscribe takes one positional param.
    let ws = WsClientBuilder::default().build(t.node.ws_url()).await.unwrap();
    let mut blocks = ws.subscribe_blocks().await.unwrap();
    let item = tokio::time::timeout(std::time::Duration::from_secs(20), blocks.next())
        .await
        .expect("a block within 20 s")
        .expect("the subscription is open")
        .unwrap();
    let item = serde_json::to_value(item).unwrap();
    let notification = &d.methods["keepsake_subscribeBlocks"]["x-notification"];
    assert_eq!(notification["method"], "keepsake_block");
    d.validate(&notification["result"], &item, "keepsake_block").unwrap();
    blocks.unsubscribe().await.unwrap();
    // jsonrpsee answers `false` to an id it does not know or cannot parse (never -32602).
    let unknown: bool = ws.request("keepsake_unsubscribeBlocks", rpc_params![12345u64]).await.unwrap();
    assert!(!unknown, "an unknown subscription id");
    let missing: bool = ws.request("keepsake_unsubscribeBlocks", rpc_params![]).await.unwrap();
    assert!(!missing, "no subscription id");
    let subscription = ws.request::<Value, _>("keepsake_subscribeBlocks", rpc_params![]).await.unwrap();
    d.validate(&d.methods["keepsake_subscribeBlocks"]["result"]["schema"], &subscription, "subscription id")
        .unwrap();

    t.node.shutdown().await.unwrap();
}
