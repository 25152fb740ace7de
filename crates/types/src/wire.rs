//! Messages between peers. Encoded with the canonical encoding; receivers
//! decode with a size limit first, then verify every signature inside.

use serde::{Deserialize, Serialize};

use crate::block::{Block, Commit, Proposal, Vote};

/// What travels on the consensus gossip topic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsensusMessage {
    /// A signed proposal with its block (boxed: a block is far larger than a
    /// vote; the encoding is the same as unboxed).
    Proposal(Box<Proposal>),
    /// A signed prevote or precommit.
    Vote(Vote),
}

impl ConsensusMessage {
    /// The height the message is about.
    pub fn height(&self) -> u64 {
        match self {
            ConsensusMessage::Proposal(p) => p.data.height,
            ConsensusMessage::Vote(v) => v.data.height,
        }
    }
}

/// One item of a block-sync response: a block and the commit that finalised it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncItem {
    /// The block.
    pub block: Block,
    /// Its commit.
    pub commit: Commit,
}

/// What travels on the consensus gossip topic: a message and a resend
/// counter. Gossip message ids are the hash of the bytes, so an identical
/// re-publication would be dropped as a duplicate; a validator that makes no
/// progress re-publishes its own latest messages with `resend` increased, so
/// that peers which missed them (a restart, a healed partition) get them.
/// Receivers ignore `resend`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsensusEnvelope {
    /// How many times this message was published before (0 the first time).
    pub resend: u32,
    /// The message.
    pub message: ConsensusMessage,
}
