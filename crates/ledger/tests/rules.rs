//! Every validity rule of docs/rules.md, each proven by a test that fails if
//! the rule is removed. Real keys, real signatures, the in-memory state.

use keepsake_ledger::memory::MemoryState;
use keepsake_ledger::rules::{check, check_stateless};
use keepsake_ledger::testkit::{TestNet, key};
use keepsake_ledger::{
    LedgerError, Overlay, StateView, Tip, TxLocation, block::build_block, block::validate_block,
};
use keepsake_types::{
    Block, IssuerStatus, Keypair, ReviewSubject, SignedTx, TxBody, TxSignature, ids, merkle,
};

/// A one-validator chain over the in-memory state.
struct Chain {
    net: TestNet,
    state: MemoryState,
    tip: Tip,
}

impl Chain {
    fn new() -> Self {
        let net = TestNet::new(1);
        let tip = Tip::genesis(&net.genesis);
        Chain { net, state: MemoryState::new(), tip }
    }

    /// A chain with the issuer and reviewer registered.
    fn ready() -> Self {
        let mut c = Self::new();
        let txs = c.net.setup_txs();
        c.commit_all(txs);
        c
    }

    /// Admission check of one transaction against committed state.
    fn check(&self, tx: &SignedTx) -> Result<(), LedgerError> {
        check(&self.state, &self.net.genesis, tx, self.tip.height + 1, self.tip.time_ms + 1000).map(|_| ())
    }

    /// Builds, validates and commits a block; returns the rejections of left-out txs.
    fn commit(&mut self, txs: Vec<SignedTx>) -> Vec<LedgerError> {
        let proposer = self.net.validators[0].public();
        let keepsake_ledger::Built { block, left_out, .. } =
            build_block(&self.state, &self.net.genesis, &self.tip, proposer, self.tip.time_ms + 1000, txs)
                .unwrap();
        let executed = validate_block(&self.state, &self.net.genesis, &self.tip, &block).unwrap();
        self.state.commit(&executed).unwrap();
        self.tip = Tip::from_header(&block.header);
        left_out.into_iter().map(|(_, e)| e).collect()
    }

    fn commit_all(&mut self, txs: Vec<SignedTx>) {
        let rejected = self.commit(txs);
        assert!(rejected.is_empty(), "unexpected rejections: {rejected:?}");
    }

    /// The rejection of a single transaction, checked both at admission and by
    /// block building (the two must agree).
    fn reject(&mut self, tx: SignedTx) -> LedgerError {
        let admission = self.check(&tx).expect_err("admission must reject");
        let mut built = self.commit(vec![tx]);
        assert_eq!(built.len(), 1, "block building must leave it out");
        let built = built.remove(0);
        assert_eq!(admission, built, "admission and block building disagree");
        admission
    }

    fn series(&mut self, name: &str, max: u32) -> keepsake_types::SeriesId {
        let tx = self.net.create_series(&self.net.issuer, &self.net.reviewer, name, max);
        self.commit_all(vec![tx]);
        self.net.series_id(&self.net.issuer, name)
    }
}

fn resign(body: TxBody, chain: &str, keys: &[&Keypair]) -> SignedTx {
    body.sign(chain, keys)
}

// ---------------------------------------------------------------- T1

#[test]
fn t1_transfer_is_rejected_at_every_entry_point() {
    let mut c = Chain::ready();
    let series = c.series("apsaras", 10);
    c.commit_all(vec![c.net.mint(&c.net.issuer, series, 1, 1)]);
    let cert = ids::certificate_id(c.net.chain(), &series, 1);
    let transfer = TxBody::Transfer { certificate_id: cert, to: TestNet::holder(2) };

    // Signed by the issuer, by the holder's platform, by every governor: never valid.
    let signed_by_issuer = transfer.clone().sign(c.net.chain(), &[&c.net.issuer]);
    let signed_by_governors = c.net.governed(transfer.clone(), 3);
    for tx in [signed_by_issuer, signed_by_governors] {
        assert_eq!(
            check_stateless(&tx, &c.net.genesis).unwrap_err(),
            LedgerError::TransferForbidden { certificate_id: cert }
        );
        assert_eq!(c.reject(tx).code(), "TransferForbidden");
    }
    // Even unsigned or with a garbage signature, the answer is the real reason.
    let unsigned = SignedTx { body: transfer.clone(), signatures: vec![] };
    assert_eq!(c.check(&unsigned).unwrap_err().code(), "TransferForbidden");

    // The state layer: rule application refuses it too (callers that skip phase 1).
    let tx = transfer.sign(c.net.chain(), &[&c.net.issuer]);
    let mut overlay = Overlay::new(&c.state);
    let loc = TxLocation { height: 9, index: 0, leaf_index: 9 };
    let err = keepsake_ledger::rules::apply(&mut overlay, &c.net.genesis, &tx, tx.id(c.net.chain()), loc, 0)
        .unwrap_err();
    assert_eq!(err.code(), "TransferForbidden");
    // And the holder never changed.
    assert_eq!(c.state.certificate(&cert).unwrap().unwrap().holder, TestNet::holder(1));
}

#[test]
fn t1_a_hand_built_block_carrying_a_transfer_is_invalid() {
    let mut c = Chain::ready();
    let series = c.series("apsaras", 10);
    let mint = c.net.mint(&c.net.issuer, series, 1, 1);
    let cert = ids::certificate_id(c.net.chain(), &series, 1);
    let transfer = TxBody::Transfer { certificate_id: cert, to: TestNet::holder(2) }
        .sign(c.net.chain(), &[&c.net.issuer]);

    // A malicious proposer builds a valid block, then splices the transfer in
    // and recomputes every header field it can.
    let proposer = c.net.validators[0].public();
    let mut block =
        build_block(&c.state, &c.net.genesis, &c.tip, proposer, c.tip.time_ms + 1, vec![mint]).unwrap().block;
    block.txs.push(transfer.clone());
    block.header.tx_count = 2;
    let ids: Vec<_> = block.txs.iter().map(|t| t.id(c.net.chain())).collect();
    block.header.tx_root = keepsake_ledger::block::tx_root(&ids);
    let err = validate_block(&c.state, &c.net.genesis, &c.tip, &block).unwrap_err();
    match &err {
        LedgerError::InvalidTransaction { index, tx_id, source } => {
            assert_eq!(*index, 1);
            assert_eq!(*tx_id, transfer.id(c.net.chain()));
            assert_eq!(**source, LedgerError::TransferForbidden { certificate_id: cert });
        }
        other => panic!("expected InvalidTransaction, got {other:?}"),
    }
    assert_eq!(err.root_cause().code(), "TransferForbidden");
    // Building leaves it out instead.
    assert_eq!(c.commit(vec![transfer]), vec![LedgerError::TransferForbidden { certificate_id: cert }]);
}

// ---------------------------------------------------------------- T2-T4

#[test]
fn t2_oversized_transactions_are_rejected() {
    let mut c = Chain::new();
    c.net.genesis.params.tx_bytes_max = 256;
    let tx = c
        .net
        .governed(TxBody::RegisterIssuer { issuer: key(1).public(), name: "x".repeat(100), nonce: 1 }, 3);
    assert!(matches!(c.reject(tx), LedgerError::TxTooLarge { max: 256, .. }));
}

#[test]
fn t3_malformed_transactions_are_rejected() {
    let mut c = Chain::ready();
    let series = c.series("s", 5);
    let chain = c.net.chain().to_string();
    let g = &c.net.governors;
    let cases: Vec<(&str, SignedTx)> = vec![
        (
            "empty name",
            resign(
                TxBody::RegisterIssuer { issuer: key(50).public(), name: " ".into(), nonce: 9 },
                &chain,
                &[&g[0], &g[1]],
            ),
        ),
        (
            "long name",
            resign(
                TxBody::RegisterIssuer { issuer: key(50).public(), name: "n".repeat(129), nonce: 9 },
                &chain,
                &[&g[0], &g[1]],
            ),
        ),
        (
            "control chars",
            resign(
                TxBody::RegisterReviewer { reviewer: key(50).public(), name: "a\u{7}b".into(), nonce: 9 },
                &chain,
                &[&g[0], &g[1]],
            ),
        ),
        (
            "no signatures",
            SignedTx {
                body: TxBody::Mint { series_id: series, edition: 1, holder: TestNet::holder(1) },
                signatures: vec![],
            },
        ),
        ("edition zero", c.net.mint(&c.net.issuer, series, 0, 1)),
        (
            "empty reason",
            resign(
                TxBody::Revoke {
                    certificate_id: ids::certificate_id(&chain, &series, 1),
                    reason: String::new(),
                },
                &chain,
                &[&c.net.issuer],
            ),
        ),
    ];
    for (name, tx) in cases {
        assert_eq!(c.reject(tx).code(), "Malformed", "{name}");
    }
    // The same signer twice.
    let mut twice = c.net.register_issuer(&key(51), 10);
    twice.signatures[1] = twice.signatures[0].clone();
    assert_eq!(c.reject(twice), LedgerError::Malformed("the same key signed twice".into()));
    // More than 32 signatures.
    let keys: Vec<Keypair> = (0..33).map(|i| key(150 + i)).collect();
    let refs: Vec<&Keypair> = keys.iter().collect();
    let many = resign(
        TxBody::RegisterIssuer { issuer: key(52).public(), name: "m".into(), nonce: 11 },
        &chain,
        &refs,
    );
    assert_eq!(c.reject(many).code(), "Malformed");
}

#[test]
fn t4_a_single_bad_signature_rejects_the_transaction() {
    let mut c = Chain::new();
    let mut tx =
        c.net.governed(TxBody::RegisterIssuer { issuer: key(1).public(), name: "a".into(), nonce: 1 }, 3);
    tx.signatures[2].signature.0[10] ^= 1;
    assert_eq!(c.reject(tx.clone()), LedgerError::BadSignature { signer: c.net.governors[2].public() });
    // A signature from another chain does not verify here either.
    let foreign = TxBody::RegisterIssuer { issuer: key(1).public(), name: "a".into(), nonce: 1 }
        .sign("another-chain", &[&c.net.governors[0], &c.net.governors[1]]);
    assert_eq!(c.reject(foreign).code(), "BadSignature");
    // A signer key that is not a curve point (y = 2 has no x).
    let mut not_a_point = [0u8; 32];
    not_a_point[0] = 2;
    let mut bogus = c.net.register_issuer(&key(1), 2);
    bogus.signatures.push(TxSignature {
        signer: keepsake_types::PublicKey(not_a_point),
        signature: keepsake_types::Signature([0; 64]),
    });
    assert_eq!(c.reject(bogus).code(), "BadSignature");
    // A small-order key (y = 0, order 4) with R = the same point and S = 0:
    // under ZIP-215 (docs/signatures.md) this "signature" verifies for any
    // message, so it passes T4, and T7 refuses it: no rule ever names a
    // small-order key as a signer (keys in the state are valid points).
    let mut small_order = c.net.register_issuer(&key(1), 3);
    small_order.signatures.push(TxSignature {
        signer: keepsake_types::PublicKey([0; 32]),
        signature: keepsake_types::Signature([0; 64]),
    });
    assert_eq!(c.reject(small_order).code(), "UnauthorizedSigner");
}

#[test]
fn t4_a_block_whose_signatures_are_verified_together_names_the_one_forgery() {
    // Blocks verify the signatures of every transaction the node has not seen
    // in one batch; a forged signature among many must still be found, and
    // reported as the same rule, at its own index.
    let mut c = Chain::ready();
    let series = c.series("batch", 20);
    let mints: Vec<SignedTx> = (1..=12).map(|e| c.net.mint(&c.net.issuer, series, e, e)).collect();
    let proposer = c.net.validators[0].public();
    let good = build_block(&c.state, &c.net.genesis, &c.tip, proposer, c.tip.time_ms + 1, mints.clone())
        .unwrap()
        .block;
    assert_eq!(good.txs.len(), 12);
    validate_block(&c.state, &c.net.genesis, &c.tip, &good).unwrap();
    for forged_at in [0usize, 7, 11] {
        let mut block = good.clone();
        block.txs[forged_at].signatures[0].signature.0[33] ^= 0x10;
        match validate_block(&c.state, &c.net.genesis, &c.tip, &block).unwrap_err() {
            LedgerError::InvalidTransaction { index, source, .. } => {
                assert_eq!(index, forged_at);
                assert_eq!(*source, LedgerError::BadSignature { signer: c.net.issuer.public() });
            }
            other => panic!("expected InvalidTransaction, got {other:?}"),
        }
    }
    // Building leaves out exactly the forged one and keeps the rest.
    let mut candidates = mints;
    candidates[5].signatures[0].signature.0[2] ^= 1;
    let rejected = c.commit(candidates);
    assert_eq!(rejected, vec![LedgerError::BadSignature { signer: c.net.issuer.public() }]);
    assert_eq!(c.state.series(&series).unwrap().unwrap().minted, 11);
}

/// An RFC 8032 signature by `key` over `message` whose `R` carries the
/// small-order point `torsion` (added by the signer, who knows the nonce:
/// valid under ZIP-215, refused by a cofactorless check such as dalek's
/// `verify_strict`), or, with `third_party`, `torsion` added to an honest
/// signature's `R` afterwards by someone without the key (invalid: `k`
/// hashes `R`'s bytes).
fn torsion_signature(
    key: &Keypair,
    message: &[u8],
    torsion: curve25519_dalek::EdwardsPoint,
    third_party: bool,
) -> keepsake_types::Signature {
    use curve25519_dalek::{Scalar, constants::ED25519_BASEPOINT_TABLE};
    use sha2::{Digest, Sha512};
    let expanded = Sha512::digest(key.secret_seed());
    let mut a_bytes = [0u8; 32];
    a_bytes.copy_from_slice(&expanded[..32]);
    a_bytes[0] &= 248;
    a_bytes[31] &= 127;
    a_bytes[31] |= 64;
    let a = Scalar::from_bytes_mod_order(a_bytes);
    let public = key.public().0;
    let nonce = Scalar::from_bytes_mod_order_wide(
        &Sha512::new().chain_update(&expanded[32..]).chain_update(message).finalize().into(),
    );
    let honest_r = (&nonce * ED25519_BASEPOINT_TABLE).compress().to_bytes();
    let r = if third_party {
        honest_r
    } else {
        (&nonce * ED25519_BASEPOINT_TABLE + torsion).compress().to_bytes()
    };
    let k = Scalar::from_bytes_mod_order_wide(
        &Sha512::new().chain_update(r).chain_update(public).chain_update(message).finalize().into(),
    );
    let s = nonce + k * a;
    let r = if third_party {
        let decoded = curve25519_dalek::edwards::CompressedEdwardsY(honest_r).decompress().unwrap();
        (decoded + torsion).compress().to_bytes()
    } else {
        r
    };
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(&r);
    out[32..].copy_from_slice(s.as_bytes());
    keepsake_types::Signature(out)
}

#[test]
fn t4_batch_and_single_verification_give_the_same_verdict_on_mixed_order_signatures() {
    // The signatures on which a cofactorless single check and a batch check
    // can disagree (a torsion component in R). Under ZIP-215 a block cannot
    // pass one and fail the other: the same transactions get the same
    // verdict alone (admission) and in a block's batch (validation).
    use curve25519_dalek::constants::EIGHT_TORSION;
    let mut c = Chain::ready();
    let series = c.series("torsion", 20);
    let chain = c.net.chain().to_string();
    let message = |tx: &SignedTx| {
        keepsake_types::hash::domain_preimage(
            keepsake_types::hash::tag::TX,
            &chain,
            &keepsake_types::encoding::encode(&tx.body),
        )
    };
    let proposer = c.net.validators[0].public();
    for (third_party, expect_valid) in [(false, true), (true, false)] {
        let mut txs: Vec<SignedTx> = (1..=6u32)
            .map(|e| c.net.mint(&c.net.issuer, series, e + if third_party { 10 } else { 0 }, e))
            .collect();
        for (i, tx) in txs.iter_mut().enumerate().skip(1).step_by(2) {
            let torsion = EIGHT_TORSION[1 + i % 7];
            tx.signatures[0].signature = torsion_signature(&c.net.issuer, &message(tx), torsion, third_party);
        }
        // Alone (admission; single verification).
        for (i, tx) in txs.iter().enumerate() {
            let alone = c.check(tx);
            if i % 2 == 1 && !expect_valid {
                assert_eq!(alone, Err(LedgerError::BadSignature { signer: c.net.issuer.public() }), "tx {i}");
            } else {
                assert_eq!(alone, Ok(()), "tx {i} (third party: {third_party})");
            }
        }
        // In a block of transactions the node has not seen (one batch).
        let honest: Vec<SignedTx> = txs.iter().step_by(2).cloned().collect();
        let mut block =
            build_block(&c.state, &c.net.genesis, &c.tip, proposer, c.tip.time_ms + 1, honest).unwrap().block;
        block.txs = txs.clone();
        block.header.tx_count = txs.len() as u32;
        let ids: Vec<_> = txs.iter().map(|t| t.id(c.net.chain())).collect();
        block.header.tx_root = keepsake_ledger::block::tx_root(&ids);
        let verdict = validate_block(&c.state, &c.net.genesis, &c.tip, &block);
        if expect_valid {
            // Past T4, the hand-built header's state and log roots are stale: any
            // error must come after every signature passed, never BadSignature.
            if let Err(e) = &verdict {
                assert_ne!(e.root_cause().code(), "BadSignature", "{e}");
            }
            // Built honestly, the block with these signatures is valid and commits.
            assert!(c.commit(txs).is_empty());
        } else {
            match verdict.unwrap_err() {
                LedgerError::InvalidTransaction { index, source, .. } => {
                    assert_eq!(index, 1);
                    assert_eq!(*source, LedgerError::BadSignature { signer: c.net.issuer.public() });
                }
                other => panic!("expected InvalidTransaction, got {other:?}"),
            }
        }
    }
}

// ---------------------------------------------------------------- T5-T9

#[test]
fn t5_duplicate_transactions_are_rejected_across_and_within_blocks() {
    let mut c = Chain::new();
    let tx = c.net.register_issuer(&c.net.issuer, 1);
    c.commit_all(vec![tx.clone()]);
    assert_eq!(c.reject(tx.clone()), LedgerError::DuplicateTransaction { tx_id: tx.id(c.net.chain()) });
    // Re-signing with another subset of governors keeps the id (the id is the body's hash).
    let resigned = resign(tx.body.clone(), c.net.chain(), &[&c.net.governors[1], &c.net.governors[2]]);
    assert_eq!(resigned.id(c.net.chain()), tx.id(c.net.chain()));
    assert_eq!(c.reject(resigned).code(), "DuplicateTransaction");
    // Twice in one block: the second is left out.
    let other = c.net.register_reviewer(&c.net.reviewer, 2);
    let rejected = c.commit(vec![other.clone(), other.clone()]);
    assert_eq!(rejected, vec![LedgerError::DuplicateTransaction { tx_id: other.id(c.net.chain()) }]);
}

#[test]
fn t6_governance_needs_k_of_n() {
    let mut c = Chain::new();
    let one =
        c.net.governed(TxBody::RegisterIssuer { issuer: key(1).public(), name: "a".into(), nonce: 1 }, 1);
    assert_eq!(c.reject(one), LedgerError::InsufficientGovernanceSignatures { got: 1, needed: 2 });
    for body in [
        TxBody::RegisterReviewer { reviewer: key(2).public(), name: "r".into(), nonce: 2 },
        TxBody::SetIssuerStatus { issuer: key(1).public(), status: IssuerStatus::Suspended, nonce: 3 },
        TxBody::RemoveReviewer { reviewer: key(2).public(), nonce: 4 },
    ] {
        assert_eq!(c.reject(c.net.governed(body, 1)).code(), "InsufficientGovernanceSignatures");
    }
}

#[test]
fn t7_t8_only_named_parties_sign() {
    let mut c = Chain::ready();
    let series = c.series("s", 5);
    let chain = c.net.chain().to_string();
    // A governance action co-signed by a non-governor.
    let tx = resign(
        TxBody::RegisterIssuer { issuer: key(60).public(), name: "x".into(), nonce: 7 },
        &chain,
        &[&c.net.governors[0], &c.net.governors[1], &c.net.issuer],
    );
    assert_eq!(c.reject(tx), LedgerError::UnauthorizedSigner { signer: c.net.issuer.public() });
    // A mint co-signed by a stranger.
    let stranger = key(61);
    let tx = resign(
        TxBody::Mint { series_id: series, edition: 1, holder: TestNet::holder(1) },
        &chain,
        &[&c.net.issuer, &stranger],
    );
    assert_eq!(c.reject(tx), LedgerError::UnauthorizedSigner { signer: stranger.public() });
    // A mint signed by someone else only.
    let tx = c.net.mint(&stranger, series, 1, 1);
    assert_eq!(c.reject(tx), LedgerError::MissingSignature { required: c.net.issuer.public() });
    // A series creation signed by the reviewer instead of the issuer.
    let mut tx = c.net.create_series(&c.net.issuer, &c.net.reviewer, "t", 3);
    tx = resign(tx.body, &chain, &[&c.net.reviewer]);
    assert_eq!(c.reject(tx), LedgerError::MissingSignature { required: c.net.issuer.public() });
}

#[test]
fn t9_governance_nonces_are_single_use() {
    let mut c = Chain::new();
    c.commit_all(vec![c.net.register_issuer(&key(1), 5)]);
    let tx = c.net.register_reviewer(&key(2), 5);
    assert_eq!(c.reject(tx), LedgerError::NonceReused { nonce: 5 });
    // Within one block as well.
    let a = c.net.register_reviewer(&key(2), 6);
    let b = c.net.register_issuer(&key(3), 6);
    assert_eq!(c.commit(vec![a, b]), vec![LedgerError::NonceReused { nonce: 6 }]);
}

// ---------------------------------------------------------------- T10-T13 issuers

#[test]
fn t10_to_t13_issuer_lifecycle() {
    let mut c = Chain::ready();
    let issuer = c.net.issuer.clone();
    // T10
    assert_eq!(
        c.reject(c.net.register_issuer(&issuer, 20)),
        LedgerError::IssuerAlreadyRegistered { issuer: issuer.public() }
    );
    // T11
    let stranger = key(70);
    assert_eq!(
        c.reject(c.net.set_issuer_status(&stranger, IssuerStatus::Suspended, 21)),
        LedgerError::UnknownIssuer { issuer: stranger.public() }
    );
    let tx = c.net.create_series(&stranger, &c.net.reviewer, "x", 1);
    assert_eq!(c.reject(tx), LedgerError::UnknownIssuer { issuer: stranger.public() });
    // T12
    assert_eq!(
        c.reject(c.net.set_issuer_status(&issuer, IssuerStatus::Active, 22)),
        LedgerError::IssuerStatusUnchanged { issuer: issuer.public() }
    );
    // T13: a suspended issuer can neither create series nor mint.
    let series = c.series("before", 5);
    c.commit_all(vec![c.net.set_issuer_status(&issuer, IssuerStatus::Suspended, 23)]);
    let tx = c.net.create_series(&issuer, &c.net.reviewer, "during", 5);
    assert_eq!(c.reject(tx), LedgerError::IssuerSuspended { issuer: issuer.public() });
    assert_eq!(
        c.reject(c.net.mint(&issuer, series, 1, 1)),
        LedgerError::IssuerSuspended { issuer: issuer.public() }
    );
    // Reactivated, it mints again.
    c.commit_all(vec![c.net.set_issuer_status(&issuer, IssuerStatus::Active, 24)]);
    c.commit_all(vec![c.net.mint(&issuer, series, 1, 1)]);
}

// ---------------------------------------------------------------- T14-T16 reviewers

#[test]
fn t14_to_t16_reviewers_and_approvals() {
    let mut c = Chain::ready();
    let reviewer = c.net.reviewer.clone();
    // T14
    assert_eq!(
        c.reject(c.net.register_reviewer(&reviewer, 30)),
        LedgerError::ReviewerAlreadyRegistered { reviewer: reviewer.public() }
    );
    // T15: approval by an unregistered reviewer.
    let outsider = key(80);
    let tx = c.net.create_series(&c.net.issuer, &outsider, "a", 5);
    assert_eq!(c.reject(tx), LedgerError::UnknownReviewer { reviewer: outsider.public() });
    // T16: an approval for other terms (the issuer raised the supply after review).
    let subject = ReviewSubject {
        issuer: c.net.issuer.public(),
        name: "b".into(),
        content_hash: TestNet::content("b"),
        max_supply: 300,
        metadata_uri: "https://example.org/b.json".into(),
    };
    let approval = subject.approve(c.net.chain(), &reviewer);
    let tx = TxBody::CreateSeries {
        issuer: subject.issuer,
        name: subject.name.clone(),
        content_hash: subject.content_hash,
        max_supply: 3000,
        metadata_uri: subject.metadata_uri.clone(),
        approval,
    }
    .sign(c.net.chain(), &[&c.net.issuer]);
    assert_eq!(c.reject(tx), LedgerError::InvalidReviewApproval { reviewer: reviewer.public() });
    // T15: a removed reviewer's approvals no longer count, and the key stays retired.
    c.commit_all(vec![c.net.governed(TxBody::RemoveReviewer { reviewer: reviewer.public(), nonce: 31 }, 2)]);
    let tx = c.net.create_series(&c.net.issuer, &reviewer, "c", 5);
    assert_eq!(c.reject(tx), LedgerError::UnknownReviewer { reviewer: reviewer.public() });
    let again = c.net.governed(TxBody::RemoveReviewer { reviewer: reviewer.public(), nonce: 32 }, 2);
    assert_eq!(c.reject(again), LedgerError::UnknownReviewer { reviewer: reviewer.public() });
    assert_eq!(c.reject(c.net.register_reviewer(&reviewer, 33)).code(), "ReviewerAlreadyRegistered");
}

// ---------------------------------------------------------------- T17-T19 series

#[test]
fn t17_to_t19_series_rules() {
    let mut c = Chain::ready();
    let limit = c.net.genesis.params.max_supply_limit;
    for bad in [0, limit + 1] {
        let tx = c.net.create_series(&c.net.issuer, &c.net.reviewer, "s", bad);
        assert_eq!(c.reject(tx), LedgerError::InvalidMaxSupply { max_supply: bad, limit });
    }
    let id = c.series("s", limit);
    // T18: same issuer and name again (other content).
    let subject = ReviewSubject {
        issuer: c.net.issuer.public(),
        name: "s".into(),
        content_hash: TestNet::content("other"),
        max_supply: 1,
        metadata_uri: "u".into(),
    };
    let tx = TxBody::CreateSeries {
        issuer: subject.issuer,
        name: "s".into(),
        content_hash: subject.content_hash,
        max_supply: 1,
        metadata_uri: "u".into(),
        approval: subject.approve(c.net.chain(), &c.net.reviewer),
    }
    .sign(c.net.chain(), &[&c.net.issuer]);
    assert_eq!(c.reject(tx), LedgerError::SeriesAlreadyExists { series_id: id });
    // T19: the same artwork under another name, even by another issuer.
    let other_issuer = key(90);
    c.commit_all(vec![c.net.register_issuer(&other_issuer, 40)]);
    let subject = ReviewSubject {
        issuer: other_issuer.public(),
        name: "copy".into(),
        content_hash: TestNet::content("s"),
        max_supply: 1,
        metadata_uri: "u".into(),
    };
    let tx = TxBody::CreateSeries {
        issuer: subject.issuer,
        name: subject.name.clone(),
        content_hash: subject.content_hash,
        max_supply: 1,
        metadata_uri: "u".into(),
        approval: subject.approve(c.net.chain(), &c.net.reviewer),
    }
    .sign(c.net.chain(), &[&other_issuer]);
    assert_eq!(
        c.reject(tx),
        LedgerError::ContentAlreadyRegistered { content_hash: TestNet::content("s"), series_id: id }
    );
}

// ---------------------------------------------------------------- T20-T22 mints

#[test]
fn t20_to_t22_mint_rules_and_the_oversold_drop() {
    let mut c = Chain::ready();
    let ghost = c.net.series_id(&c.net.issuer, "ghost");
    assert_eq!(
        c.reject(c.net.mint(&c.net.issuer, ghost, 1, 1)),
        LedgerError::UnknownSeries { series_id: ghost }
    );

    // A 300-unit drop receives 301 distinct mint requests in one burst.
    let series = c.series("drop", 300);
    let mints: Vec<SignedTx> = (1..=301).map(|e| c.net.mint(&c.net.issuer, series, e, e)).collect();
    let rejected = c.commit(mints);
    assert_eq!(rejected, vec![LedgerError::SupplyExceeded { edition: 301, max_supply: 300 }]);
    assert_eq!(c.state.series(&series).unwrap().unwrap().minted, 300);

    // T22: an edition is minted once, whoever the holder.
    let again = c.net.mint(&c.net.issuer, series, 7, 999);
    let cert = ids::certificate_id(c.net.chain(), &series, 7);
    let err = c.reject(again);
    assert_eq!(
        err,
        LedgerError::DuplicateCertificate { certificate_id: cert, series_name: "drop".into(), edition: 7 }
    );
    // The message says what happened in the client's words: edition and series name.
    assert_eq!(
        err.to_string(),
        format!("edition 7 of series \"drop\" is already minted (certificate {cert})")
    );
    assert_eq!(c.state.certificate(&cert).unwrap().unwrap().holder, TestNet::holder(7));
}

// ---------------------------------------------------------------- T23-T24 revocation

#[test]
fn t23_t24_revocation() {
    let mut c = Chain::ready();
    let series = c.series("s", 5);
    let chain = c.net.chain().to_string();
    let cert = ids::certificate_id(&chain, &series, 1);
    let revoke = |reason: &str| TxBody::Revoke { certificate_id: cert, reason: reason.into() };
    assert_eq!(
        c.reject(resign(revoke("r"), &chain, &[&c.net.issuer])),
        LedgerError::UnknownCertificate { certificate_id: cert }
    );
    c.commit_all(vec![c.net.mint(&c.net.issuer, series, 1, 1)]);
    // A stranger cannot revoke.
    let stranger = key(95);
    assert_eq!(
        c.reject(resign(revoke("r"), &chain, &[&stranger])),
        LedgerError::MissingSignature { required: c.net.issuer.public() }
    );
    // One governor is not enough.
    assert_eq!(
        c.reject(resign(revoke("r"), &chain, &[&c.net.governors[0]])).code(),
        "InsufficientGovernanceSignatures"
    );
    // k governors may revoke.
    c.commit_all(vec![resign(revoke("court order"), &chain, &[&c.net.governors[0], &c.net.governors[1]])]);
    let r = c.state.revocation(&cert).unwrap().unwrap();
    assert_eq!((r.reason.as_str(), r.by), ("court order", keepsake_ledger::RevokedBy::Governance));
    // T24
    assert_eq!(
        c.reject(resign(revoke("again"), &chain, &[&c.net.issuer])),
        LedgerError::AlreadyRevoked { certificate_id: cert }
    );
    // Revocation never frees the id: the edition cannot be minted again.
    assert_eq!(c.reject(c.net.mint(&c.net.issuer, series, 1, 2)).code(), "DuplicateCertificate");
}

#[test]
fn t22_a_duplicate_is_named_in_a_sold_out_series_and_within_one_block() {
    let mut c = Chain::ready();
    let series = c.series("two", 2);
    // Within one block: the second mint of edition 1 is left out, the first stands.
    let rejected =
        c.commit(vec![c.net.mint(&c.net.issuer, series, 1, 5), c.net.mint(&c.net.issuer, series, 1, 6)]);
    assert_eq!(rejected.iter().map(LedgerError::code).collect::<Vec<_>>(), ["DuplicateCertificate"]);
    let cert = ids::certificate_id(c.net.chain(), &series, 1);
    assert_eq!(c.state.certificate(&cert).unwrap().unwrap().holder, TestNet::holder(5));
    c.commit_all(vec![c.net.mint(&c.net.issuer, series, 2, 5)]);
    // Sold out: minting an existing edition again is a duplicate, not an invariant fault.
    assert_eq!(
        c.reject(c.net.mint(&c.net.issuer, series, 2, 7)),
        LedgerError::DuplicateCertificate {
            certificate_id: ids::certificate_id(c.net.chain(), &series, 2),
            series_name: "two".into(),
            edition: 2
        }
    );
    assert_eq!(c.state.series(&series).unwrap().unwrap().minted, 2);
}

// ---------------------------------------------------------------- state layer

#[test]
fn state_holders_are_write_once() {
    let mut c = Chain::ready();
    let series = c.series("s", 5);
    c.commit_all(vec![c.net.mint(&c.net.issuer, series, 1, 1)]);
    let cert = ids::certificate_id(c.net.chain(), &series, 1);
    let mut overlay = Overlay::new(&c.state);
    let mut record = c.state.certificate(&cert).unwrap().unwrap();
    record.holder = TestNet::holder(2);
    let err = overlay.insert_certificate(cert, record).unwrap_err();
    assert_eq!(err.code(), "InvariantBroken");
    assert!(!err.is_rejection());
}

// ---------------------------------------------------------------- B1-B11

fn good_block(c: &Chain) -> Block {
    let tx = c.net.create_series(&c.net.issuer, &c.net.reviewer, "b", 3);
    let proposer = c.net.validators[0].public();
    build_block(&c.state, &c.net.genesis, &c.tip, proposer, c.tip.time_ms + 5, vec![tx]).unwrap().block
}

#[test]
fn b1_to_b11_each_header_field_is_checked() {
    let c = Chain::ready();
    let g = &c.net.genesis;
    validate_block(&c.state, g, &c.tip, &good_block(&c)).unwrap();
    let h = |f: &dyn Fn(&mut Block)| {
        let mut b = good_block(&c);
        f(&mut b);
        validate_block(&c.state, g, &c.tip, &b).unwrap_err().code()
    };
    assert_eq!(h(&|b| b.header.chain_id = "other".parse().unwrap()), "WrongChain");
    assert_eq!(h(&|b| b.header.height += 1), "UnexpectedHeight");
    assert_eq!(h(&|b| b.header.prev_hash.0[0] ^= 1), "PrevHashMismatch");
    let tip_time = c.tip.time_ms;
    assert_eq!(h(&|b| b.header.time_ms = tip_time), "TimeNotIncreasing");
    assert_eq!(h(&|b| b.header.proposer = key(200).public()), "UnknownProposer");
    assert_eq!(h(&|b| b.header.tx_count = 2), "TxCountMismatch");
    assert_eq!(h(&|b| b.header.tx_root.0[0] ^= 1), "TxRootMismatch");
    assert_eq!(h(&|b| b.txs[0].signatures[0].signature.0[0] ^= 1), "InvalidTransaction");
    assert_eq!(h(&|b| b.header.log_root.0[0] ^= 1), "LogMismatch");
    assert_eq!(h(&|b| b.header.log_size += 1), "LogMismatch");
    assert_eq!(h(&|b| b.header.validators_hash.0[0] ^= 1), "ValidatorSetMismatch");
    assert_eq!(h(&|b| b.header.state_root.0[0] ^= 1), "StateRootMismatch");
}

#[test]
fn b6_block_size_is_bounded() {
    let mut c = Chain::ready();
    c.net.genesis.params.block_txs_max = 2;
    let series = c.series("s", 10);
    let mints: Vec<SignedTx> = (1..=3).map(|e| c.net.mint(&c.net.issuer, series, e, e)).collect();
    let proposer = c.net.validators[0].public();
    // The builder stops at the limit...
    let block = build_block(&c.state, &c.net.genesis, &c.tip, proposer, c.tip.time_ms + 1, mints.clone())
        .unwrap()
        .block;
    assert_eq!(block.txs.len(), 2);
    // ...and a block over it is invalid.
    let mut big = block.clone();
    big.txs = mints;
    big.header.tx_count = 3;
    assert_eq!(validate_block(&c.state, &c.net.genesis, &c.tip, &big).unwrap_err().code(), "TxCountMismatch");
}

#[test]
fn execution_is_deterministic_and_the_log_matches_an_independent_log() {
    // Two independent validators execute the same transactions: same headers.
    let mut a = Chain::ready();
    let mut b = Chain::ready();
    assert_eq!(a.tip, b.tip);
    let series = a.series("d", 50);
    b.series("d", 50);
    let mints: Vec<SignedTx> = (1..=50).map(|e| a.net.mint(&a.net.issuer, series, e, e)).collect();
    a.commit_all(mints.clone());
    b.commit_all(mints);
    assert_eq!(a.tip, b.tip);
    assert_eq!(a.tip.log_size, 2 + 1 + 50);
    // The state's log nodes give the same root and proofs as a fresh MemoryLog.
    assert_eq!(merkle::root(&a.state, a.tip.log_size).unwrap(), a.tip.log_root);
}
