//! JSON-RPC request parsing as the node's server does it (jsonrpsee 0.26):
//! the request envelope, then the parameters of the method it names,
//! positional (`Params::sequence`) or named (`Params::parse` into an object),
//! into the node's parameter types (`SignedTx`, `Vec<SignedTx>`, ids, keys,
//! heights and limits). Also each JSON value type on its own.
#![no_main]

use jsonrpsee_types::{Params, Request};
use keepsake_types::{BlockHash, CertificateId, PublicKey, SeriesId, SignedTx, TxId};
use libfuzzer_sys::fuzz_target;
use serde::Deserialize;

/// Parses `params` as the method's arguments, positionally and by name, and
/// re-serialises what parses (which must parse again to the same value).
fn params_of(method: &str, params: &Params<'_>) {
    fn one<T: for<'a> Deserialize<'a> + serde::Serialize + PartialEq + std::fmt::Debug>(params: &Params<'_>) {
        let mut seq = params.sequence();
        if let Ok(v) = seq.next::<T>() {
            let json = serde_json::to_string(&v).expect("serialises");
            assert_eq!(serde_json::from_str::<T>(&json).expect("re-parses"), v);
        }
        let _ = params.parse::<serde_json::Map<String, serde_json::Value>>();
    }
    match method {
        "keepsake_submitTx" => one::<SignedTx>(params),
        "keepsake_submitTxs" => one::<Vec<SignedTx>>(params),
        "keepsake_getTxStatus" => one::<TxId>(params),
        "keepsake_getCertificate" | "keepsake_getCertificateStatus" => one::<CertificateId>(params),
        "keepsake_getSeries" => one::<SeriesId>(params),
        "keepsake_getIssuer" => one::<PublicKey>(params),
        "keepsake_getBlockByHash" => one::<BlockHash>(params),
        "keepsake_getBlock" => one::<u64>(params),
        "keepsake_getEvidence" | "keepsake_recentTransactions" => one::<u32>(params),
        "keepsake_listSeries" => {
            let mut seq = params.sequence();
            let _ = seq.optional_next::<SeriesId>().and_then(|_| seq.next::<u32>());
        }
        "keepsake_getConsistencyProof" => {
            let mut seq = params.sequence();
            let _ = seq.next::<u64>().and_then(|_| seq.next::<u64>());
        }
        _ => one::<serde_json::Value>(params),
    }
}

fuzz_target!(|data: &[u8]| {
    // The request envelope, as the server reads a single call.
    if let Ok(request) = serde_json::from_slice::<Request<'_>>(data) {
        let params = request.params().into_owned();
        params_of(&request.method, &params);
    }
    // The parameter types straight from the bytes (a params array element).
    if let Ok(text) = std::str::from_utf8(data) {
        let params = Params::new(Some(text));
        for method in
            ["keepsake_submitTx", "keepsake_submitTxs", "keepsake_getTxStatus", "keepsake_listSeries"]
        {
            params_of(method, &params);
        }
        if let Ok(tx) = serde_json::from_str::<SignedTx>(text) {
            let json = serde_json::to_string(&tx).expect("serialises");
            assert_eq!(serde_json::from_str::<SignedTx>(&json).expect("re-parses"), tx);
        }
    }
});
