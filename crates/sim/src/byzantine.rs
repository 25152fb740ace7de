//! Test-only behaviour around the honest engine: Byzantine attacks and
//! deliberately broken engines. Nothing here is production code; the engine
//! a Byzantine validator runs is the production one, and the attack only
//! rewrites what goes in (its ledger, [`SimRules`]) and what comes out (its
//! effects, [`rewrite_effects`]) or what it serves ([`lie_in_sync`]).

use keepsake_engine::{BlockRules, Effect, LedgerRules};
use keepsake_ledger::rules::VerifiedMemo;
use keepsake_ledger::testkit::TestNet;
use keepsake_ledger::{Built, CheckedBody, Executed, LedgerError, StateView, Tip};
use keepsake_types::wire::{ConsensusEnvelope, ConsensusMessage, SyncItem};
use keepsake_types::{
    Block, BlockHash, Genesis, Keypair, ProposalData, PublicKey, SignedTx, TxBody, TxId, VoteData, encoding,
    ids,
};

use crate::rng::Rng;
use crate::scenario::Attack;

/// Name of the series the simulated client creates and mints from.
pub const SERIES_NAME: &str = "sim-series";
/// The series whose recipe burns two certificates of [`SERIES_NAME`].
pub const FUSION_NAME: &str = "sim-fusion";
/// The simulation's blind box.
pub const BOX_NAME: &str = "sim-box";
/// A year, the lead of [`Attack::FutureTime`] blocks.
const YEAR_MS: u64 = 365 * 24 * 3600 * 1000;

/// The ledger as a simulated validator sees it: the real rules, or (for a
/// Byzantine or a broken validator) rules that accept every block and build
/// what the attack wants.
#[derive(Clone)]
pub(crate) struct SimRules {
    /// Answers every validity question with "valid".
    pub trusting: bool,
    /// What the proposer builds.
    pub attack: Option<Attack>,
    /// The client's test network (keys, to forge transactions).
    pub testnet: std::sync::Arc<TestNet>,
}

impl BlockRules for SimRules {
    fn build<V: StateView + ?Sized>(
        &self,
        view: &V,
        genesis: &Genesis,
        tip: &Tip,
        proposer: PublicKey,
        time_ms: u64,
        candidates: Vec<SignedTx>,
        memo: &dyn VerifiedMemo,
    ) -> Result<Built, LedgerError> {
        let time_ms = if self.attack == Some(Attack::FutureTime) { time_ms + YEAR_MS } else { time_ms };
        let mut built = LedgerRules.build(view, genesis, tip, proposer, time_ms, candidates, memo)?;
        let chain = genesis.chain_id.to_string();
        let series = self.testnet.series_id(&self.testnet.issuer, SERIES_NAME);
        let block = &mut built.block;
        match self.attack {
            Some(Attack::ProposeTransfer) => {
                let tx = TxBody::Transfer {
                    certificate_id: ids::certificate_id(&chain, &series, 1),
                    to: TestNet::holder(999),
                }
                .sign(&chain, &[&self.testnet.issuer]);
                block.txs.push(tx);
                fix_tx_summary(&chain, block);
            }
            Some(Attack::ForgeTxSignature) => {
                if block.txs.is_empty() {
                    let edition = 500 + u32::try_from(block.header.height % 400).expect("below 400");
                    block.txs.push(self.testnet.mint(&self.testnet.issuer, series, edition, 7));
                }
                if let Some(s) = block.txs[0].signatures.first_mut() {
                    s.signature.0[0] ^= 0x01;
                }
                fix_tx_summary(&chain, block);
            }
            _ => {}
        }
        Ok(built)
    }

    fn validate<V: StateView + ?Sized>(
        &self,
        view: &V,
        genesis: &Genesis,
        tip: &Tip,
        block: &Block,
        memo: &dyn VerifiedMemo,
    ) -> Result<Executed, LedgerError> {
        match LedgerRules.validate(view, genesis, tip, block, memo) {
            Err(e) if self.trusting && e.is_rejection() => trusted(view, genesis, tip, block, memo),
            other => other,
        }
    }

    /// Through the ledger's own checked-body validation (what production
    /// runs), trusting like [`SimRules::validate`].
    fn validate_checked<V: StateView + ?Sized>(
        &self,
        view: &V,
        genesis: &Genesis,
        tip: &Tip,
        body: &CheckedBody,
        memo: &dyn VerifiedMemo,
    ) -> Result<Executed, LedgerError> {
        match LedgerRules.validate_checked(view, genesis, tip, body, memo) {
            Err(e) if self.trusting && e.is_rejection() => trusted(view, genesis, tip, body.block(), memo),
            other => other,
        }
    }
}

/// A trusting node's "valid" for a block the rules refused: it executes what
/// can be executed of it, so that it can be committed too.
fn trusted<V: StateView + ?Sized>(
    view: &V,
    genesis: &Genesis,
    tip: &Tip,
    block: &Block,
    memo: &dyn VerifiedMemo,
) -> Result<Executed, LedgerError> {
    let (proposer, time_ms) = (block.header.proposer, block.header.time_ms);
    LedgerRules.build(view, genesis, tip, proposer, time_ms, block.txs.clone(), memo).map(|b| b.executed)
}

/// After a malicious change to a block's transactions: fix the header's
/// count and root so that only the ledger rules can tell.
fn fix_tx_summary(chain: &str, block: &mut Block) {
    block.header.tx_count = u32::try_from(block.txs.len()).expect("a handful of transactions");
    let ids: Vec<TxId> = block.txs.iter().map(|t| t.id(chain)).collect();
    block.header.tx_root = keepsake_ledger::block::tx_root(&ids);
}

/// What a validator's effects turn into on the simulated network.
pub(crate) enum Out {
    /// Performed as the engine asked.
    Effect(Effect),
    /// Sent only to the validators of one parity of index (an equivocator's split).
    ToHalf { odd: bool, envelope: ConsensusEnvelope },
}

/// Rewrites the effects of a Byzantine validator's honest engine. `book` is
/// what colluding equivocators showed each half: (height, round) -> (block
/// for even validators, block for odd ones).
pub(crate) fn rewrite_effects(
    attack: Attack,
    key: &Keypair,
    chain: &str,
    effects: Vec<Effect>,
    other_block: &mut dyn FnMut(&Block) -> Option<Block>,
    book: &mut std::collections::BTreeMap<(u64, u32), (BlockHash, BlockHash)>,
) -> Vec<Out> {
    let me = key.public();
    let mut out = Vec::with_capacity(effects.len());
    for effect in effects {
        let Effect::Publish(envelope) = effect else {
            out.push(Out::Effect(effect));
            continue;
        };
        match (attack, &envelope.message) {
            (Attack::ForgeProposalSignature, ConsensusMessage::Proposal(p)) if p.proposer == me => {
                let mut forged = (**p).clone();
                forged.signature.0[0] ^= 0x01;
                let message = ConsensusMessage::Proposal(Box::new(forged));
                out.push(Out::Effect(Effect::Publish(ConsensusEnvelope {
                    resend: envelope.resend,
                    message,
                })));
            }
            (Attack::Equivocate, ConsensusMessage::Proposal(p))
                if p.proposer == me && envelope.resend == 0 =>
            {
                // A second valid block: same transactions, one millisecond later.
                match other_block(&p.block) {
                    Some(block) if block.header.hash() != p.data.block_hash => {
                        let hash_b = block.header.hash();
                        let data_b = ProposalData { block_hash: hash_b, ..p.data.clone() };
                        let proposal_b = data_b.sign(chain, key, block);
                        book.insert((p.data.height, p.data.round), (p.data.block_hash, hash_b));
                        out.push(Out::ToHalf { odd: false, envelope: envelope.clone() });
                        let message = ConsensusMessage::Proposal(Box::new(proposal_b));
                        out.push(Out::ToHalf {
                            odd: true,
                            envelope: ConsensusEnvelope { resend: 0, message },
                        });
                    }
                    _ => out.push(Out::Effect(Effect::Publish(envelope))),
                }
            }
            (Attack::Equivocate, ConsensusMessage::Vote(v)) if v.validator == me && envelope.resend == 0 => {
                // Colluding equivocators vote for what each half was shown;
                // otherwise the two halves get the vote and its opposite.
                let (even, odd) = match book.get(&(v.data.height, v.data.round)) {
                    Some(&(a, b)) => (Some(a), Some(b)),
                    None => {
                        let flipped = match v.data.block_hash {
                            Some(_) => None,
                            None => Some(BlockHash([0xee; 32])),
                        };
                        (v.data.block_hash, flipped)
                    }
                };
                for (odd_half, block_hash) in [(false, even), (true, odd)] {
                    let version = VoteData { block_hash, ..v.data.clone() }.sign(chain, key);
                    let message = ConsensusMessage::Vote(version);
                    out.push(Out::ToHalf {
                        odd: odd_half,
                        envelope: ConsensusEnvelope { resend: 0, message },
                    });
                }
            }
            _ => out.push(Out::Effect(Effect::Publish(envelope))),
        }
    }
    out
}

/// A lying sync server's answer: the honest items reordered (or a lone
/// block's commit for another height), one commit signature forged, one
/// block's transactions replaced, or garbage.
pub(crate) fn lie_in_sync(items: Vec<Vec<u8>>, rng: &mut Rng, testnet: &TestNet) -> Vec<Vec<u8>> {
    if rng.chance(250) {
        return items
            .into_iter()
            .map(|mut b| {
                b.truncate(b.len() / 2);
                b
            })
            .collect();
    }
    let mut decoded: Vec<SyncItem> =
        items.iter().filter_map(|b| encoding::decode(b, usize::MAX, "sync item").ok()).collect();
    if decoded.is_empty() {
        return items;
    }
    match rng.below(4) {
        0 | 1 if decoded.len() >= 2 => decoded.swap(0, 1),
        // One block: its commit claims another height (refused as out of order too).
        0 | 1 => decoded[0].commit.height = decoded[0].commit.height.wrapping_add(1),
        2 => {
            if let Some(s) = decoded[0].commit.signatures.first_mut() {
                s.signature.0[7] ^= 0x40;
            }
        }
        _ => {
            let series = testnet.series_id(&testnet.issuer, SERIES_NAME);
            decoded[0].block.txs = vec![testnet.mint(&testnet.issuer, series, 999, 3)];
        }
    }
    decoded.iter().map(encoding::encode).collect()
}
