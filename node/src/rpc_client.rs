//! The JSON-RPC client side shared by the command line, the auditor
//! ([`crate::audit`]) and the repair tool ([`crate::repair`]): a client with
//! bounded timeouts and sizes, and precise error messages. It imports no other
//! module of this crate, so anything may use it without an import cycle.

use std::sync::Mutex;
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
    remember_url(url);
    HttpClientBuilder::default()
        .request_timeout(Duration::from_secs(60))
        .max_request_size(64 * 1024 * 1024)
        .max_response_size(64 * 1024 * 1024)
        .build(url)
        .with_context(|| format!("invalid RPC URL {url:?}"))
}

/// The URLs [`client`] was built for in this process (at most a few: a
/// command talks to one node, an audit to a handful), so that [`describe`]
/// can name the node it could not reach without every caller passing it.
static URLS: Mutex<Vec<String>> = Mutex::new(Vec::new());
const URLS_KEPT: usize = 8;

fn remember_url(url: &str) {
    let mut urls = URLS.lock().unwrap_or_else(|p| p.into_inner());
    if !urls.iter().any(|u| u == url) && urls.len() < URLS_KEPT {
        urls.push(url.to_string());
    }
}

/// "the node at URL" when this process talks to one node, "the node" otherwise.
fn the_node() -> String {
    let urls = URLS.lock().unwrap_or_else(|p| p.into_inner());
    match urls.as_slice() {
        [one] => format!("the node at {one}"),
        _ => "the node".to_string(),
    }
}

/// Turns a client error into a precise message: the stable code and number
/// for Keepsake errors, the transport problem otherwise (naming the node's
/// URL, and what to do when nothing listens there).
pub fn describe(e: ClientError) -> anyhow::Error {
    match e {
        ClientError::Call(obj) => match keepsake_rpc::error::stable_code(&obj) {
            Some(code) => anyhow::anyhow!("rejected: {code} ({}): {}", obj.code(), obj.message()),
            None => anyhow::anyhow!("RPC error {}: {}", obj.code(), obj.message()),
        },
        ClientError::Transport(t) => {
            // The whole chain of causes: the top one alone says only "client error (Connect)".
            let mut text = t.to_string();
            let mut refused = false;
            let mut source = std::error::Error::source(&*t);
            while let Some(cause) = source {
                refused |= cause
                    .downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused);
                text = format!("{text}: {cause}");
                source = cause.source();
            }
            transport(&the_node(), &text, refused || text.contains("onnection refused"))
        }
        other => anyhow::anyhow!("RPC failure: {other}"),
    }
}

fn transport(node: &str, error: &str, refused: bool) -> anyhow::Error {
    if refused {
        anyhow::anyhow!(
            "cannot reach {node}: nothing is listening there ({error}). Start a node (`keepsake dev` for a \
             local chain, `keepsake start --home DIR` for a configured one) or point --rpc / KEEPSAKE_RPC at \
             a running node's address"
        )
    } else {
        anyhow::anyhow!("cannot reach {node}: {error}")
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

    #[test]
    fn connection_refused_says_what_to_do() {
        let err = transport("the node at http://127.0.0.1:9", "client error (Connect)", true).to_string();
        assert!(
            err.starts_with("cannot reach the node at http://127.0.0.1:9: nothing is listening there"),
            "{err}"
        );
        assert!(err.contains("keepsake dev"), "{err}");
        let other = transport("the node", "timed out", false).to_string();
        assert_eq!(other, "cannot reach the node: timed out");
    }
}
