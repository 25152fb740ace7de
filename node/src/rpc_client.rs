//! The JSON-RPC client side shared by the command line, the auditor
//! ([`crate::audit`]) and the repair tool ([`crate::repair`]): a client with
//! bounded timeouts and sizes, and precise error messages. It imports no other
//! module of this crate, so anything may use it without an import cycle.

use std::time::Duration;

use anyhow::Context;
use jsonrpsee::core::ClientError;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};

/// An HTTP JSON-RPC client with bounded timeouts and sizes. A URL without a
/// scheme (`127.0.0.1:8645`) is refused with the URL to use instead.
pub fn client(url: &str) -> anyhow::Result<HttpClient> {
    if !url.contains("://") {
        anyhow::bail!("the RPC URL {url:?} has no scheme: use \"http://{url}\"");
    }
    HttpClientBuilder::default()
        .request_timeout(Duration::from_secs(60))
        .max_request_size(64 * 1024 * 1024)
        .max_response_size(64 * 1024 * 1024)
        .build(url)
        .with_context(|| format!("invalid RPC URL {url:?}"))
}

/// Turns a client error into a precise message: the stable code and number
/// for Keepsake errors, the transport problem otherwise.
pub fn describe(e: ClientError) -> anyhow::Error {
    match e {
        ClientError::Call(obj) => match keepsake_rpc::error::stable_code(&obj) {
            Some(code) => anyhow::anyhow!("rejected: {code} ({}): {}", obj.code(), obj.message()),
            None => anyhow::anyhow!("RPC error {}: {}", obj.code(), obj.message()),
        },
        ClientError::Transport(t) => anyhow::anyhow!("cannot reach the node: {t}"),
        other => anyhow::anyhow!("RPC failure: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_without_a_scheme_gets_the_url_to_use() {
        let err = client("127.0.0.1:8645").unwrap_err().to_string();
        assert_eq!(err, "the RPC URL \"127.0.0.1:8645\" has no scheme: use \"http://127.0.0.1:8645\"");
        assert!(client("http://127.0.0.1:8645").is_ok());
    }
}
