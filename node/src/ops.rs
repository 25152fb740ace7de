//! `/health`, `/metrics` and the explorer page on the RPC port, as a tower
//! layer in front of the JSON-RPC service: `GET /health`, `GET /metrics`
//! and the page's static files (embedded in the binary from `web/`, so the
//! page works offline on a LAN, with no CDN) are answered here; every other
//! request (JSON-RPC `POST /`, the WebSocket upgrade `GET /`) goes on to
//! JSON-RPC. A JSON-RPC `POST`'s body is recorded as the server reads it,
//! so that a request whose `id` the server cannot represent gets an error
//! instead of silence ([`crate::request_ids`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use jsonrpsee::core::BoxError;
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};
use tower::{Layer, Service};

use crate::request_ids::Recording;
use crate::shared::Shared;

/// The layer.
#[derive(Clone)]
pub struct OpsLayer {
    shared: Arc<Shared>,
    max_request_bytes: usize,
}

impl OpsLayer {
    /// A layer answering from the node's shared state, in front of a
    /// JSON-RPC server that refuses bodies over `max_request_bytes`.
    pub fn new(shared: Arc<Shared>, max_request_bytes: u32) -> Self {
        Self { shared, max_request_bytes: max_request_bytes as usize }
    }
}

impl<S> Layer<S> for OpsLayer {
    type Service = Ops<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Ops { inner, shared: self.shared.clone(), max_request_bytes: self.max_request_bytes }
    }
}

/// The service.
#[derive(Clone)]
pub struct Ops<S> {
    inner: S,
    shared: Arc<Shared>,
    max_request_bytes: usize,
}

fn respond(status: u16, content_type: &'static str, body: String) -> HttpResponse {
    HttpResponse::builder()
        .status(status)
        .header("content-type", content_type)
        .body(HttpBody::from(body))
        .expect("static status and header values are valid")
}

/// The explorer's files: `(path, content type, content)`. Served with a
/// strict Content-Security-Policy: only this origin's scripts, styles and
/// JSON-RPC, no inline script, no external resource.
const ASSETS: &[(&str, &str, &str)] = &[
    ("/", "text/html; charset=utf-8", include_str!("../../web/index.html")),
    ("/index.html", "text/html; charset=utf-8", include_str!("../../web/index.html")),
    ("/app.js", "text/javascript; charset=utf-8", include_str!("../../web/app.js")),
    ("/verify.js", "text/javascript; charset=utf-8", include_str!("../../web/verify.js")),
    ("/style.css", "text/css; charset=utf-8", include_str!("../../web/style.css")),
];

/// The Content-Security-Policy of the explorer's files.
pub const EXPLORER_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn asset(path: &str) -> Option<HttpResponse> {
    let (_, content_type, body) = ASSETS.iter().find(|(p, _, _)| *p == path)?;
    Some(
        HttpResponse::builder()
            .status(200)
            .header("content-type", *content_type)
            .header("content-security-policy", EXPLORER_CSP)
            .header("x-content-type-options", "nosniff")
            .header("cache-control", "no-cache")
            .body(HttpBody::from(*body))
            .expect("static status and header values are valid"),
    )
}

impl<S, B> Service<HttpRequest<B>> for Ops<S>
where
    S: Service<HttpRequest<HttpBody>, Response = HttpResponse>,
    S::Error: Into<BoxError> + 'static,
    S::Future: Send + 'static,
    B: hyper::body::Body<Data = hyper::body::Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send + 'static>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: HttpRequest<B>) -> Self::Future {
        if request.method() == hyper::Method::GET {
            match request.uri().path() {
                "/health" => {
                    let (healthy, body) = self.shared.health();
                    let status = if healthy { 200 } else { 503 };
                    return Box::pin(async move { Ok(respond(status, "application/json", body)) });
                }
                "/metrics" => {
                    let peers = self.shared.net.stats().peers_connected;
                    let metrics = &self.shared.metrics;
                    metrics.peers.store(peers, std::sync::atomic::Ordering::Relaxed);
                    let index = self.shared.store.index_stats();
                    metrics.index_runs.store(index.runs as u64, std::sync::atomic::Ordering::Relaxed);
                    metrics
                        .index_memory_bytes
                        .store(index.memory_bytes as u64, std::sync::atomic::Ordering::Relaxed);
                    metrics
                        .index_memtable_entries
                        .store(index.memtable_entries as u64, std::sync::atomic::Ordering::Relaxed);
                    let shared = &self.shared;
                    let committed = shared.committed_height.load(std::sync::atomic::Ordering::Relaxed);
                    if let Err(e) = crate::metrics::membership_gauges(
                        metrics,
                        &shared.store,
                        &shared.genesis,
                        &shared.validator,
                        committed,
                    ) {
                        tracing::debug!(error = %e, "membership gauges not updated");
                    }
                    let body = self.shared.metrics.render();
                    return Box::pin(async move { Ok(respond(200, "text/plain; version=0.0.4", body)) });
                }
                path if !request.headers().contains_key(hyper::header::UPGRADE) => {
                    if let Some(response) = asset(path) {
                        return Box::pin(async move { Ok(response) });
                    }
                }
                _ => {}
            }
        }
        // A JSON-RPC call over HTTP (what jsonrpsee reads as one): its body is recorded.
        let recording = (request.method() == hyper::Method::POST
            && jsonrpsee::server::http::content_type_is_json(&request))
        .then(Recording::default);
        let request = match &recording {
            Some(r) => request.map(|body| HttpBody::new(r.tee(HttpBody::new(body), self.max_request_bytes))),
            None => request.map(HttpBody::new),
        };
        let fut = self.inner.call(request);
        Box::pin(async move {
            let response = fut.await.map_err(Into::into)?;
            Ok(match recording {
                Some(r) => r.amend(response).await,
                None => response,
            })
        })
    }
}
