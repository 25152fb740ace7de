//! Requests whose `id` the JSON-RPC server cannot represent get an error.
//!
//! jsonrpsee 0.26 parses a request's `id` as `Id`: `null`, a string, or an
//! integer from 0 to `u64::MAX`. A request whose `id` is anything else (a
//! fraction such as `1.5`, an exponent such as `1e999999`, a negative or a
//! 30-digit integer, an object, an array, a boolean), or that has two `id`
//! members, does not parse as a request; jsonrpsee then parses it as a
//! notification (which ignores `id`), does not run it, and answers nothing:
//! HTTP 200 with the body `null`, or, inside a batch, no element. The client
//! asked a question and is told nothing, not even that its id was the problem.
//!
//! [`crate::ops`] wraps the body of every JSON-RPC `POST` in a [`Tee`] that
//! keeps a copy of the bytes as jsonrpsee reads them (at most
//! `max_request_bytes`: jsonrpsee refuses a longer body itself), and hands
//! jsonrpsee's answer to [`Recording::amend`]. Only two answers are looked
//! at again, both HTTP 200: a single request answered `null`, and a batch
//! that has an element with an `id` member. Such a request or element gets
//! `{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid
//! request: ..."}}` (in a batch, in its place). A genuine notification (no
//! `id` member at all) keeps JSON-RPC 2.0's behaviour: no answer (`null`
//! for a request of only notifications), and, as before, it is not run.
//!
//! Every limit and check of the server stays jsonrpsee's and runs first
//! (connections, content type, body size, parse errors): this module only
//! reads what jsonrpsee read and rewrites what jsonrpsee answered. Which
//! elements of a batch jsonrpsee answers is decided with jsonrpsee's own
//! types (`Request`, `Notification`), so the answers are put back in order.
//! Over WebSocket the frames do not pass through here: there, such a request
//! is still dropped without an answer (docs/rpc.md).

use std::borrow::Cow;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use http_body_util::BodyExt;
use hyper::body::{Body, Bytes, Frame, SizeHint};
use jsonrpsee::core::BoxError;
use jsonrpsee::server::{HttpBody, HttpResponse};
use jsonrpsee::types::{Id, Notification, Request};
use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

/// The JSON-RPC code of the answer: Invalid Request.
pub const INVALID_REQUEST: i32 = -32600;

/// Longest piece of a refused id quoted in the error message, in bytes.
const QUOTED_ID_MAX: usize = 40;

/// The bytes of one request body, as the JSON-RPC server reads them.
#[derive(Clone, Debug, Default)]
pub struct Recording(Arc<Mutex<Recorded>>);

#[derive(Debug, Default)]
struct Recorded {
    bytes: Vec<u8>,
    /// More than the limit was read: jsonrpsee refuses the body (HTTP 413).
    overflow: bool,
}

impl Recording {
    /// Wraps `body` so that what is read of it is recorded here, up to `limit` bytes.
    pub fn tee(&self, body: HttpBody, limit: usize) -> Tee {
        Tee { inner: body, recording: self.clone(), limit }
    }

    fn take(&self) -> Option<Vec<u8>> {
        let mut recorded = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if recorded.overflow { None } else { Some(std::mem::take(&mut recorded.bytes)) }
    }

    /// jsonrpsee's answer to the recorded request, with an Invalid Request
    /// error for the request, or each batch element, whose id it could not
    /// represent; any other answer unchanged.
    pub async fn amend(self, response: HttpResponse) -> HttpResponse {
        if response.status() != hyper::StatusCode::OK {
            return response;
        }
        let Some(request) = self.take() else { return response };
        let request = request.trim_ascii_start();
        match request.first() {
            // A single request: only the bare `null` of a notification.
            Some(b'{') if response.body().size_hint().exact() == Some(4) => {
                let (parts, body) = response.into_parts();
                let answer = collect(body).await;
                let amended = match id_fault(request) {
                    Some(fault) if answer == b"null" => fault.answer(),
                    _ => answer,
                };
                rebuilt(parts, amended)
            }
            Some(b'[') => {
                let Some(elements) = batch_faults(request) else { return response };
                let (parts, body) = response.into_parts();
                let answer = collect(body).await;
                let amended = merge_batch(&elements, &answer).unwrap_or(answer);
                rebuilt(parts, amended)
            }
            _ => response,
        }
    }
}

async fn collect(body: HttpBody) -> Vec<u8> {
    // The server's answers are in memory: collecting them cannot fail.
    body.collect().await.map(|c| c.to_bytes().to_vec()).unwrap_or_default()
}

fn rebuilt(mut parts: hyper::http::response::Parts, body: Vec<u8>) -> HttpResponse {
    parts.headers.remove(hyper::header::CONTENT_LENGTH);
    HttpResponse::from_parts(parts, HttpBody::from(body))
}

/// A request body that records what is read of it.
pub struct Tee {
    inner: HttpBody,
    recording: Recording,
    limit: usize,
}

impl Body for Tee {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            let mut recorded = self.recording.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if recorded.bytes.len() + data.len() > self.limit {
                recorded.overflow = true;
                recorded.bytes = Vec::new();
            } else if !recorded.overflow {
                recorded.bytes.extend_from_slice(data);
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// What is wrong with a request's `id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdFault {
    /// One `id` member whose value (raw JSON) is not an `Id`.
    Unrepresentable(String),
    /// This many `id` members.
    Repeated(usize),
}

const ID_RULE: &str = "a string, an integer from 0 to 18446744073709551615, or null";

impl IdFault {
    /// The error message.
    pub fn message(&self) -> String {
        match self {
            IdFault::Repeated(n) => {
                format!("Invalid request: the request has {n} \"id\" members; it must have one, {ID_RULE}")
            }
            IdFault::Unrepresentable(raw) => {
                let kind = match raw.as_bytes().first() {
                    Some(b'{') => "an object",
                    Some(b'[') => "an array",
                    Some(b't' | b'f') => "a boolean",
                    Some(b'-') => "a negative number",
                    _ if raw.contains(['.', 'e', 'E']) => "a number with a fraction or an exponent",
                    _ => "an integer above 18446744073709551615",
                };
                let mut end = raw.len().min(QUOTED_ID_MAX);
                while !raw.is_char_boundary(end) {
                    end -= 1;
                }
                let ellipsis = if end < raw.len() { "..." } else { "" };
                format!("Invalid request: the id must be {ID_RULE}, not {kind} ({}{ellipsis})", &raw[..end])
            }
        }
    }

    /// The whole answer: a JSON-RPC error object with a `null` id.
    pub fn answer(&self) -> Vec<u8> {
        serde_json::json!({
            "jsonrpc": "2.0",
            "id": null,
            "error": {"code": INVALID_REQUEST, "message": self.message()},
        })
        .to_string()
        .into_bytes()
    }
}

/// The raw values of a JSON object's `id` members (every one: jsonrpsee
/// refuses a request with two, and a notification ignores them).
struct IdMembers<'a>(Vec<&'a RawValue>);

impl<'de> Deserialize<'de> for IdMembers<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> Visitor<'de> for Members {
            type Value = IdMembers<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON-RPC request object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut ids = Vec::new();
                // Keys unescaped, as serde matches them for `Request`.
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    if key == "id" {
                        ids.push(map.next_value::<&'de RawValue>()?);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(IdMembers(ids))
            }
        }
        deserializer.deserialize_map(Members)
    }
}

/// What is wrong with the `id` of one request object; `None` when it has
/// none (a notification), a representable one, or is not an object.
pub fn id_fault(request: &[u8]) -> Option<IdFault> {
    let IdMembers(ids) = serde_json::from_slice(request).ok()?;
    match ids.as_slice() {
        [] => None,
        [id] => {
            serde_json::from_str::<Id>(id.get()).is_err().then(|| IdFault::Unrepresentable(id.get().into()))
        }
        many => Some(IdFault::Repeated(many.len())),
    }
}

/// One batch element: its id fault, or whether jsonrpsee answers it.
#[derive(Debug)]
enum Element {
    Fault(IdFault),
    /// Answered by jsonrpsee: a call, or an invalid request.
    Answered,
    /// A notification: no answer.
    Silent,
}

/// The elements of a batch when one has an id fault; `None` otherwise.
fn batch_faults(batch: &[u8]) -> Option<Vec<Element>> {
    let elements: Vec<&RawValue> = serde_json::from_slice(batch).ok()?;
    let classified: Vec<Element> = elements
        .iter()
        .map(|e| match id_fault(e.get().as_bytes()) {
            Some(fault) => Element::Fault(fault),
            // jsonrpsee's own order: a call, else a notification, else an invalid request.
            None if serde_json::from_str::<Request>(e.get()).is_ok() => Element::Answered,
            None if serde_json::from_str::<Notification<Option<Cow<RawValue>>>>(e.get()).is_ok() => {
                Element::Silent
            }
            None => Element::Answered,
        })
        .collect();
    classified.iter().any(|e| matches!(e, Element::Fault(_))).then_some(classified)
}

/// jsonrpsee's answer to a batch with the faulty elements' errors in their
/// places. `None` (leave the answer alone) when the answer is not a list of
/// answers (an error for the whole batch, such as a response over the size
/// limit). Should jsonrpsee ever answer a different number of elements than
/// expected, the errors follow its answers (JSON-RPC 2.0 lets a batch's
/// answers come in any order).
fn merge_batch(elements: &[Element], answer: &[u8]) -> Option<Vec<u8>> {
    let answers: Vec<&RawValue> = if answer.trim_ascii() == b"null" || answer.is_empty() {
        Vec::new()
    } else {
        serde_json::from_slice(answer).ok()?
    };
    let errors = elements.iter().filter_map(|e| match e {
        Element::Fault(fault) => Some(fault.answer()),
        _ => None,
    });
    let expected = elements.iter().filter(|e| matches!(e, Element::Answered)).count();
    let items: Vec<Vec<u8>> = if expected == answers.len() {
        let mut answers = answers.iter();
        elements
            .iter()
            .filter_map(|e| match e {
                Element::Fault(fault) => Some(fault.answer()),
                Element::Answered => answers.next().map(|a| a.get().as_bytes().to_vec()),
                Element::Silent => None,
            })
            .collect()
    } else {
        tracing::debug!(expected, answered = answers.len(), "batch answer count differs; errors appended");
        answers.iter().map(|a| a.get().as_bytes().to_vec()).chain(errors).collect()
    };
    let mut out = b"[".to_vec();
    out.extend_from_slice(&items.join(&b","[..]));
    out.push(b']');
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(json: &str) -> Option<IdFault> {
        id_fault(json.as_bytes())
    }

    #[test]
    fn representable_ids_and_notifications_are_not_faults() {
        for ok in [
            r#"{"jsonrpc":"2.0","id":1,"method":"m"}"#,
            r#"{"jsonrpc":"2.0","id":18446744073709551615,"method":"m"}"#,
            r#"{"jsonrpc":"2.0","id":"x","method":"m"}"#,
            r#"{"jsonrpc":"2.0","id":null,"method":"m"}"#,
            r#"{"jsonrpc":"2.0","method":"m"}"#,
            r#"[1]"#,
            "not json",
        ] {
            assert_eq!(fault(ok), None, "{ok}");
        }
    }

    #[test]
    fn unrepresentable_ids_are_named() {
        let cases = [
            ("1e999999", "a number with a fraction or an exponent"),
            ("1.5", "a number with a fraction or an exponent"),
            ("18446744073709551616", "an integer above 18446744073709551615"),
            ("-1", "a negative number"),
            (r#"{"a":1}"#, "an object"),
            ("[1]", "an array"),
            ("true", "a boolean"),
        ];
        for (id, kind) in cases {
            let f = fault(&format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"m"}}"#)).expect(id);
            assert_eq!(f, IdFault::Unrepresentable(id.into()));
            assert!(f.message().contains(kind), "{}", f.message());
        }
        // An escaped key is the same key; two ids are a fault even if both are fine.
        assert!(fault(r#"{"\u0069d":1.5,"method":"m"}"#).is_some());
        assert_eq!(fault(r#"{"id":1,"id":2,"method":"m"}"#), Some(IdFault::Repeated(2)));
        // A long id is quoted shortened.
        let long = format!("[{}]", "1,".repeat(100) + "1");
        let message = fault(&format!(r#"{{"id":{long}}}"#)).unwrap().message();
        assert!(message.ends_with("...)") && message.len() < 200, "{message}");
    }

    #[test]
    fn batch_errors_take_the_faulty_elements_places() {
        let batch = br#"[{"jsonrpc":"2.0","id":1,"method":"a"},{"jsonrpc":"2.0","id":1.5,"method":"b"},
            {"jsonrpc":"2.0","method":"c"},{"id":2},{"jsonrpc":"2.0","id":3,"method":"d"}]"#;
        let elements = batch_faults(batch).unwrap();
        let answer = br#"[{"id":1,"result":1},{"id":2,"error":{"code":-32600}},{"id":3,"result":3}]"#;
        let merged: serde_json::Value =
            serde_json::from_slice(&merge_batch(&elements, answer).unwrap()).unwrap();
        let ids: Vec<_> = merged.as_array().unwrap().iter().map(|a| a["id"].clone()).collect();
        assert_eq!(ids, [1.into(), serde_json::Value::Null, 2.into(), 3.into()]);
        assert_eq!(merged[1]["error"]["code"], INVALID_REQUEST);
        // Only faulty elements: jsonrpsee answered `null` (all notifications to it).
        let only = batch_faults(br#"[{"jsonrpc":"2.0","id":[],"method":"a"}]"#).unwrap();
        let merged: serde_json::Value =
            serde_json::from_slice(&merge_batch(&only, b"null").unwrap()).unwrap();
        assert_eq!(merged.as_array().unwrap().len(), 1);
        // No fault: nothing to do.
        assert!(
            batch_faults(br#"[{"jsonrpc":"2.0","id":1,"method":"a"},{"jsonrpc":"2.0","method":"c"}]"#)
                .is_none()
        );
    }
}
