//! Admission (the mempool's one entry path) applies the rules of the
//! collectible's life (docs/rules.md T33-T51) against committed state at the
//! caller's clock: the ledger's own tests prove each rule; these prove the
//! engine's path reaches them and judges licences at `Admission::time_ms`.

use std::sync::Mutex;

use keepsake_engine::admit::Admission;
use keepsake_engine::{AdmitError, Mempool, MempoolLimits, VerifiedSet};
use keepsake_ledger::LedgerError;
use keepsake_ledger::memory::MemoryState;
use keepsake_ledger::testkit::{TestChain, TestNet, box_entropy};
use keepsake_types::{Hash32, SignedTx};

fn admit(chain: &TestChain, time_ms: u64, tx: SignedTx) -> Result<(), AdmitError> {
    let limits = MempoolLimits { max_txs: 16, max_bytes: 1 << 20, rejected_memory: 4 };
    let pool = Mutex::new(Mempool::new(limits));
    let memo = VerifiedSet::new(16);
    let state: &MemoryState = &chain.state;
    let a = Admission {
        state,
        genesis: &chain.net.genesis,
        memo: &memo,
        pool: &pool,
        next_height: chain.tip.height + 1,
        time_ms,
    };
    a.admit(tx).map(|_| ())
}

fn refused(result: Result<(), AdmitError>) -> LedgerError {
    match result {
        Err(AdmitError::Rejected(e)) => e,
        other => panic!("expected a stateful refusal, got {other:?}"),
    }
}

#[test]
fn admission_judges_licences_at_its_clock_and_applies_synthesis_and_blind_box_rules() {
    let mut chain = TestChain::new(TestNet::new(1));
    let setup = chain.net.setup_txs();
    chain.push(setup);
    let (net, issuer, reviewer) = (&chain.net, chain.net.issuer.clone(), chain.net.reviewer.clone());
    let until = chain.tip.time_ms + 10_000;
    let licence = net.set_licence(&issuer, until, 50);
    let a = net.create_series(&issuer, &reviewer, "a", 10);
    let a_id = net.series_id(&issuer, "a");
    let seed = TestNet::box_seed(1);
    let bx = net.create_series_with_terms(&issuer, &reviewer, "box", 2, net.blind_box(&seed, &[1, 1]));
    let bx_id = net.series_id(&issuer, "box");
    let t = net.create_series_with_terms(&issuer, &reviewer, "t", 3, TestNet::recipe(&[(a_id, 2)]));
    let t_id = net.series_id(&issuer, "t");
    chain.push(vec![licence, a, bx, t]);
    let mints = vec![
        chain.net.mint(&issuer, a_id, 1, 1),
        chain.net.mint(&issuer, a_id, 2, 2),
        chain.net.mint(&issuer, a_id, 3, 1),
        chain.net.mint(&issuer, bx_id, 1, 1),
    ];
    chain.push(mints);

    // T33: the same mint, in force at `until`, ended one millisecond later.
    let mint = chain.net.mint(&issuer, a_id, 4, 1);
    admit(&chain, until, mint.clone()).unwrap();
    assert_eq!(
        refused(admit(&chain, until + 1, mint)),
        LedgerError::LicenceExpired {
            issuer: issuer.public(),
            valid_until_ms: until,
            block_time_ms: until + 1
        }
    );

    // T44: two holders' pieces.
    let (c1, c2, c3) =
        (chain.net.certificate(&a_id, 1), chain.net.certificate(&a_id, 2), chain.net.certificate(&a_id, 3));
    let across = chain.net.synthesize(&issuer, t_id, 0, vec![c1, c2], 1, 1);
    assert_eq!(
        refused(admit(&chain, until, across)),
        LedgerError::SynthesisAcrossHolders { first: TestNet::holder(1), other: TestNet::holder(2) }
    );
    admit(&chain, until, chain.net.synthesize(&issuer, t_id, 0, vec![c1, c3], 1, 1)).unwrap();

    // T47/T48: the box closes, then takes no mint; the reveal needs the log's entropy.
    let reveal_early = chain.net.reveal_box(&issuer, bx_id, seed, Hash32([0; 32]));
    assert_eq!(
        refused(admit(&chain, until, reveal_early)),
        LedgerError::BlindBoxNotClosed { series_id: bx_id }
    );
    chain.push(vec![chain.net.close_box(&issuer, bx_id)]);
    let late_mint = chain.net.mint(&issuer, bx_id, 2, 1);
    assert_eq!(refused(admit(&chain, until, late_mint)), LedgerError::BlindBoxClosed { series_id: bx_id });
    let entropy = box_entropy(&chain.state, &bx_id).unwrap();
    let wrong = chain.net.reveal_box(&issuer, bx_id, seed, Hash32([0; 32]));
    assert_eq!(
        refused(admit(&chain, until, wrong)),
        LedgerError::EntropyMismatch { expected: entropy, got: Hash32([0; 32]) }
    );
    // The reveal needs no licence in force.
    admit(&chain, until + 1, chain.net.reveal_box(&issuer, bx_id, seed, entropy)).unwrap();
}
