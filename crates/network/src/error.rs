//! The error type of the network crate. Every variant has a stable code ([`NetworkError::code`]).

use keepsake_types::PublicKey;

/// Everything a [`crate::NetworkHandle`] call or [`crate::start`] can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetworkError {
    /// A [`crate::NetworkConfig`] value out of range, or an unusable key in it.
    #[error("invalid network config: {0}")]
    InvalidConfig(String),
    /// The 32-byte seed was refused by the libp2p ed25519 key decoder.
    #[error("invalid identity seed: {0}")]
    InvalidIdentity(String),
    /// A libp2p `PeerId` that is not an inline ed25519 key, so it has no Keepsake [`PublicKey`].
    #[error("peer id {0} is not an ed25519 key")]
    NotEd25519PeerId(String),
    /// Binding the TCP listener failed (or it reported no address in time).
    #[error("cannot listen: {0}")]
    Listen(String),
    /// The swarm event loop has stopped (after [`crate::NetworkHandle::shutdown`] or a crash).
    #[error("network is shut down")]
    Shutdown,
    /// A payload over [`crate::NetworkConfig::max_message_bytes`].
    #[error("message is {size} bytes, over the limit of {max}")]
    MessageTooLarge {
        /// Size of the refused payload.
        size: usize,
        /// The configured limit.
        max: usize,
    },
    /// gossipsub refused the message for another reason (for example every peer queue is full).
    #[error("publish failed: {0}")]
    Publish(String),
    /// A sync request to a peer that has no open connection.
    #[error("peer {0} is not connected")]
    NotConnected(PublicKey),
    /// A sync request got no answer within the timeout.
    #[error("sync request timed out")]
    Timeout,
    /// A sync request failed on the transport (connection closed, protocol not supported, ...).
    #[error("sync request failed: {0}")]
    RequestFailed(String),
    /// The peer answered a sync request with an invalid response (oversized frame, bad encoding,
    /// more blocks than asked for).
    #[error("invalid sync response: {0}")]
    InvalidResponse(String),
}

impl NetworkError {
    /// Stable machine-readable code (the variant name), for logs and RPC errors.
    pub fn code(&self) -> &'static str {
        match self {
            NetworkError::InvalidConfig(_) => "InvalidConfig",
            NetworkError::InvalidIdentity(_) => "InvalidIdentity",
            NetworkError::NotEd25519PeerId(_) => "NotEd25519PeerId",
            NetworkError::Listen(_) => "Listen",
            NetworkError::Shutdown => "Shutdown",
            NetworkError::MessageTooLarge { .. } => "MessageTooLarge",
            NetworkError::Publish(_) => "Publish",
            NetworkError::NotConnected(_) => "NotConnected",
            NetworkError::Timeout => "Timeout",
            NetworkError::RequestFailed(_) => "RequestFailed",
            NetworkError::InvalidResponse(_) => "InvalidResponse",
        }
    }
}
