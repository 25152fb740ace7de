//! The rules of the collectible's life without resale (docs/rules.md
//! T33-T51): licences, series terms, synthesis and blind boxes. Each refusal
//! is proven at admission (`rules::check`), by block validation of a
//! hand-built block carrying the transaction (the root cause of
//! `InvalidTransaction`), and by block building (left out with the same
//! error). Real keys, real signatures, the in-memory state.

use keepsake_ledger::memory::MemoryState;
use keepsake_ledger::rules::check;
use keepsake_ledger::testkit::{TestNet, box_entropy, key};
use keepsake_ledger::{Built, LedgerError, StateView, Tip, block::build_block, block::validate_block};
use keepsake_types::life::draw_variants;
use keepsake_types::{
    Block, CertificateId, Hash32, IssuerStatus, Keypair, Recipe, RecipeInput, SeriesId, SeriesTerms,
    SignedTx, TxBody, merkle,
};

/// A one-validator chain over the in-memory state whose blocks are one
/// second apart (the clock of licences).
struct Chain {
    net: TestNet,
    state: MemoryState,
    tip: Tip,
    nonce: u64,
}

impl Chain {
    fn with(net: TestNet) -> Self {
        let tip = Tip::genesis(&net.genesis);
        let mut c = Chain { net, state: MemoryState::new(), tip, nonce: 100 };
        let txs = c.net.setup_txs();
        c.commit_all(txs);
        c
    }

    /// The issuer and the reviewer registered.
    fn ready() -> Self {
        Self::with(TestNet::new(1))
    }

    fn nonce(&mut self) -> u64 {
        self.nonce += 1;
        self.nonce
    }

    fn issuer(&self) -> Keypair {
        self.net.issuer.clone()
    }

    /// The time of the next block (and of admission).
    fn time(&self) -> u64 {
        self.tip.time_ms + 1000
    }

    fn check(&self, tx: &SignedTx) -> Result<(), LedgerError> {
        check(&self.state, &self.net.genesis, tx, self.tip.height + 1, self.time()).map(|_| ())
    }

    fn build(&self, txs: Vec<SignedTx>) -> Built {
        let proposer = self.net.validators[0].public();
        build_block(&self.state, &self.net.genesis, &self.tip, proposer, self.time(), txs).unwrap()
    }

    /// Validates and commits `block`.
    fn apply(&mut self, block: &Block) {
        let executed = validate_block(&self.state, &self.net.genesis, &self.tip, block).unwrap();
        self.state.commit(&executed).unwrap();
        self.tip = Tip::from_header(&block.header);
    }

    /// Builds, validates and commits a block; returns the rejections of left-out txs.
    fn commit(&mut self, txs: Vec<SignedTx>) -> Vec<LedgerError> {
        let Built { block, left_out, .. } = self.build(txs);
        self.apply(&block);
        left_out.into_iter().map(|(_, e)| e).collect()
    }

    fn commit_all(&mut self, txs: Vec<SignedTx>) {
        let rejected = self.commit(txs);
        assert!(rejected.is_empty(), "unexpected rejections: {rejected:?}");
    }

    /// A block built from `first` (all valid) with `tx` spliced in after
    /// them by a proposer that skips the rules: block validation must find
    /// `tx` invalid, and says why.
    fn spliced_refusal(&self, first: Vec<SignedTx>, tx: &SignedTx) -> LedgerError {
        let Built { mut block, left_out, .. } = self.build(first);
        assert!(left_out.is_empty(), "{left_out:?}");
        block.txs.push(tx.clone());
        block.header.tx_count = block.txs.len() as u32;
        let ids: Vec<_> = block.txs.iter().map(|t| t.id(self.net.chain())).collect();
        block.header.tx_root = keepsake_ledger::block::tx_root(&ids);
        match validate_block(&self.state, &self.net.genesis, &self.tip, &block).unwrap_err() {
            LedgerError::InvalidTransaction { index, tx_id, source } => {
                assert_eq!(index, block.txs.len() - 1);
                assert_eq!(tx_id, tx.id(self.net.chain()));
                *source
            }
            other => panic!("block validation: expected InvalidTransaction, got {other:?}"),
        }
    }

    /// `tx` is refused at admission, by block validation of a hand-built
    /// block carrying it and by block building, with the same error (returned).
    fn reject(&mut self, tx: SignedTx) -> LedgerError {
        let admission = self.check(&tx).expect_err("admission must refuse");
        assert_eq!(self.spliced_refusal(vec![], &tx), admission, "block validation");
        assert_eq!(self.commit(vec![tx]), vec![admission.clone()], "block building");
        admission
    }

    /// [`Chain::reject`], expecting exactly `expected`.
    fn refuse(&mut self, tx: SignedTx, expected: LedgerError) {
        assert_eq!(self.reject(tx), expected);
    }

    fn series(&mut self, name: &str, max: u32) -> SeriesId {
        let tx = self.net.create_series(&self.net.issuer, &self.net.reviewer, name, max);
        self.commit_all(vec![tx]);
        self.net.series_id(&self.net.issuer, name)
    }

    fn terms_series(&mut self, name: &str, max: u32, terms: SeriesTerms) -> SeriesId {
        let tx = self.net.create_series_with_terms(&self.net.issuer, &self.net.reviewer, name, max, terms);
        self.commit_all(vec![tx]);
        self.net.series_id(&self.net.issuer, name)
    }

    /// Mints `editions` of `series` to holder `holder`; returns their ids.
    fn mint(
        &mut self,
        series: SeriesId,
        editions: std::ops::RangeInclusive<u32>,
        holder: u32,
    ) -> Vec<CertificateId> {
        let txs = editions.clone().map(|e| self.net.mint(&self.net.issuer, series, e, holder)).collect();
        self.commit_all(txs);
        editions.map(|e| self.net.certificate(&series, e)).collect()
    }

    fn revoke(&self, cert: CertificateId) -> SignedTx {
        TxBody::Revoke { certificate_id: cert, reason: "fraud".into() }
            .sign(self.net.chain(), &[&self.net.issuer])
    }
}

// ---------------------------------------------------------------- T33-T35

/// One transaction of each kind T33-T35 govern (mint, both series creations,
/// synthesis, close), given a chain prepared by [`t33_fixture`].
fn t33_attempts(c: &Chain, f: &T33Fixture, tag: &str) -> Vec<SignedTx> {
    let issuer = c.issuer();
    vec![
        c.net.mint(&issuer, f.plain, 9, 1),
        c.net.create_series(&issuer, &c.net.reviewer, &format!("late-{tag}"), 3),
        c.net.create_series_with_terms(
            &issuer,
            &c.net.reviewer,
            &format!("late-terms-{tag}"),
            3,
            TestNet::recipe(&[(f.plain, 1)]),
        ),
        c.net.synthesize(&issuer, f.target, 0, vec![f.input], 1, 1),
        c.net.close_box(&issuer, f.blind),
    ]
}

struct T33Fixture {
    plain: SeriesId,
    target: SeriesId,
    blind: SeriesId,
    input: CertificateId,
}

fn t33_fixture(c: &mut Chain) -> T33Fixture {
    let plain = c.series("plain", 10);
    let target = c.terms_series("target", 5, TestNet::recipe(&[(plain, 1)]));
    let blind = c.terms_series("box", 2, c.net.blind_box(&TestNet::box_seed(1), &[1, 1]));
    let input = c.mint(plain, 1..=1, 1)[0];
    T33Fixture { plain, target, blind, input }
}

#[test]
fn t33_an_issuer_whose_licence_ended_creates_mints_synthesizes_and_closes_nothing_until_renewed() {
    let mut c = Chain::ready();
    let f = t33_fixture(&mut c);
    let issuer = c.issuer();
    // A licence in force until the block after next; a second box closed while it is.
    let other_box = c.terms_series("box-2", 2, c.net.blind_box(&TestNet::box_seed(2), &[2]));
    let until = c.time() + 1000;
    let n = c.nonce();
    c.commit_all(vec![c.net.set_licence(&issuer, until, n), c.net.close_box(&issuer, other_box)]);
    // Block time == valid_until: still in force (the last instant it is).
    assert_eq!(c.time(), until);
    for tx in t33_attempts(&c, &f, "in-force") {
        c.check(&tx).unwrap();
    }
    c.commit_all(vec![]);
    // Block time > valid_until: ended.
    for tx in t33_attempts(&c, &f, "ended") {
        let expected = LedgerError::LicenceExpired {
            issuer: issuer.public(),
            valid_until_ms: until,
            block_time_ms: c.time(),
        };
        c.refuse(tx, expected);
    }
    // A revocation still passes, and so does the reveal of a box closed in time.
    let revoke = c.revoke(f.input);
    let entropy = box_entropy(&c.state, &other_box).unwrap();
    let reveal = c.net.reveal_box(&issuer, other_box, TestNet::box_seed(2), entropy);
    c.commit_all(vec![revoke, reveal]);
    assert!(c.state.revocation(&f.input).unwrap().is_some());
    assert!(c.state.series_life(&other_box).unwrap().unwrap().revealed.is_some());
    // Renewal restores everything.
    let n = c.nonce();
    c.commit_all(vec![c.net.set_licence(&issuer, c.time() + 1_000_000, n)]);
    let input = c.mint(f.plain, 2..=2, 1)[0];
    let f = T33Fixture { input, ..f };
    c.commit_all(t33_attempts(&c, &f, "renewed"));
    assert!(c.state.burn(&input).unwrap().is_some());
}

#[test]
fn t34_an_issuer_whose_licence_was_withdrawn_creates_mints_synthesizes_and_closes_nothing_until_renewed() {
    let mut c = Chain::ready();
    let f = t33_fixture(&mut c);
    let issuer = c.issuer();
    let far = c.time() + 1_000_000_000;
    let (n1, n2) = (c.nonce(), c.nonce());
    c.commit_all(vec![c.net.set_licence(&issuer, far, n1)]);
    c.commit_all(vec![c.net.withdraw_licence(&issuer, n2)]);
    let record = c.state.licence(&issuer.public()).unwrap().unwrap();
    assert_eq!(record.withdrawn.unwrap().reason, "audit failed");
    for tx in t33_attempts(&c, &f, "withdrawn") {
        c.refuse(tx, LedgerError::LicenceWithdrawn { issuer: issuer.public() });
    }
    let n = c.nonce();
    c.commit_all(vec![c.net.set_licence(&issuer, far, n)]);
    assert!(c.state.licence(&issuer.public()).unwrap().unwrap().withdrawn.is_none());
    c.commit_all(t33_attempts(&c, &f, "renewed"));
}

#[test]
fn t35_while_licences_are_required_an_unlicensed_issuer_creates_and_mints_nothing() {
    let mut c = Chain::ready();
    let f = t33_fixture(&mut c);
    let issuer = c.issuer();
    // Without a policy an unlicensed issuer acts (t33_fixture minted).
    let n = c.nonce();
    c.commit_all(vec![c.net.licence_policy(true, n)]);
    assert!(c.state.licence_policy().unwrap().unwrap().required);
    for tx in t33_attempts(&c, &f, "unlicensed") {
        c.refuse(tx, LedgerError::IssuerUnlicensed { issuer: issuer.public() });
    }
    let n = c.nonce();
    c.commit_all(vec![c.net.set_licence(&issuer, c.time() + 1_000_000, n)]);
    c.commit_all(t33_attempts(&c, &f, "licensed"));
}

// ---------------------------------------------------------------- T36-T38

#[test]
fn t36_a_licence_is_recorded_for_a_registered_issuer_in_force_by_k_governors() {
    let mut c = Chain::ready();
    let issuer = c.issuer();
    // Already ended at block time.
    let n = c.nonce();
    let ended = c.net.set_licence(&issuer, c.time() - 1, n);
    assert_eq!(c.reject(ended).code(), "InvalidLicence");
    // Ending exactly at block time is in force.
    let n = c.nonce();
    c.commit_all(vec![c.net.set_licence(&issuer, c.time(), n)]);
    // An unregistered issuer.
    let stranger = key(77);
    let n = c.nonce();
    c.refuse(
        c.net.set_licence(&stranger, c.time() + 10_000, n),
        LedgerError::UnknownIssuer { issuer: stranger.public() },
    );
    // One governor of a 2-of-3 governance.
    let n = c.nonce();
    for body in [
        TxBody::SetIssuerLicence {
            issuer: issuer.public(),
            licence: keepsake_types::Licence {
                kind: "ICP".into(),
                number: "1".into(),
                valid_until_ms: u64::MAX,
            },
            nonce: n,
        },
        TxBody::WithdrawIssuerLicence { issuer: issuer.public(), reason: "r".into(), nonce: n },
        TxBody::SetLicencePolicy { required: true, nonce: n },
    ] {
        let tx = c.net.governed(body, 1);
        c.refuse(tx, LedgerError::InsufficientGovernanceSignatures { got: 1, needed: 2 });
    }
    // Signed by the issuer itself.
    let tx = TxBody::SetLicencePolicy { required: true, nonce: n }.sign(c.net.chain(), &[&issuer]);
    c.refuse(tx, LedgerError::UnauthorizedSigner { signer: issuer.public() });
}

#[test]
fn t37_only_a_licence_in_force_is_withdrawn() {
    let mut c = Chain::ready();
    let issuer = c.issuer();
    let n = c.nonce();
    c.refuse(
        c.net.withdraw_licence(&issuer, n),
        LedgerError::NoLicenceToWithdraw { issuer: issuer.public() },
    );
    let n = c.nonce();
    c.commit_all(vec![c.net.set_licence(&issuer, c.time() + 10_000, n)]);
    let n = c.nonce();
    c.commit_all(vec![c.net.withdraw_licence(&issuer, n)]);
    let n = c.nonce();
    c.refuse(
        c.net.withdraw_licence(&issuer, n),
        LedgerError::NoLicenceToWithdraw { issuer: issuer.public() },
    );
}

#[test]
fn t38_a_licence_policy_change_changes_the_policy() {
    let mut c = Chain::ready();
    let n = c.nonce();
    c.refuse(c.net.licence_policy(false, n), LedgerError::LicencePolicyUnchanged { required: false });
    let n = c.nonce();
    c.commit_all(vec![c.net.licence_policy(true, n)]);
    let n = c.nonce();
    c.refuse(c.net.licence_policy(true, n), LedgerError::LicencePolicyUnchanged { required: true });
    let n = c.nonce();
    c.commit_all(vec![c.net.licence_policy(false, n)]);
    assert!(!c.state.licence_policy().unwrap().unwrap().required);
}

// ---------------------------------------------------------------- T39, T16

fn terms_refusal(c: &mut Chain, name: &str, max: u32, terms: SeriesTerms, reason: &str) {
    let tx = c.net.create_series_with_terms(&c.issuer(), &c.net.reviewer, name, max, terms);
    match c.reject(tx) {
        LedgerError::InvalidSeriesTerms { reason: got } => {
            assert!(got.contains(reason), "{name}: expected a reason with {reason:?}, got {got:?}")
        }
        other => panic!("{name}: expected InvalidSeriesTerms, got {other:?}"),
    }
}

#[test]
fn t39_series_terms_are_well_formed() {
    let mut net = TestNet::new(1);
    // Room above the blind-box limit, so T17 does not answer first.
    net.genesis.params.max_supply_limit = 20_000;
    let mut c = Chain::with(net);
    let a = c.series("a", 10);
    let b = c.series("b", 10);
    let other_issuer = key(3);
    let n = c.nonce();
    c.commit_all(vec![c.net.register_issuer(&other_issuer, n)]);
    let foreign_tx = c.net.create_series(&other_issuer, &c.net.reviewer, "foreign", 10);
    c.commit_all(vec![foreign_tx]);
    let foreign = c.net.series_id(&other_issuer, "foreign");
    let seed = TestNet::box_seed(1);

    terms_refusal(&mut c, "empty", 3, SeriesTerms::default(), "no recipes and no blind box");
    terms_refusal(&mut c, "unknown", 3, TestNet::recipe(&[(SeriesId([7; 32]), 1)]), "unknown series");
    terms_refusal(&mut c, "borrowed", 3, TestNet::recipe(&[(a, 1), (foreign, 1)]), "another issuer");
    let twice = SeriesTerms {
        recipes: vec![Recipe {
            inputs: vec![RecipeInput { series_id: a, count: 1 }, RecipeInput { series_id: a, count: 2 }],
        }],
        blind_box: None,
    };
    terms_refusal(&mut c, "twice", 3, twice, "twice");
    terms_refusal(&mut c, "zero", 3, TestNet::recipe(&[(a, 1), (b, 0)]), "burns 0 certificates");
    let itself = TestNet::recipe(&[(c.net.series_id(&c.issuer(), "itself"), 1)]);
    terms_refusal(&mut c, "itself", 3, itself, "the series it creates");
    terms_refusal(&mut c, "greedy", 3, TestNet::recipe(&[(a, 10), (b, 7)]), "over the limit");
    let many =
        SeriesTerms { recipes: vec![TestNet::recipe(&[(a, 1)]).recipes[0].clone(); 9], blind_box: None };
    terms_refusal(&mut c, "many", 3, many, "9 recipes");
    let mut box_with_recipe = c.net.blind_box(&seed, &[3]);
    box_with_recipe.recipes = TestNet::recipe(&[(a, 1)]).recipes;
    terms_refusal(&mut c, "box-recipe", 3, box_with_recipe, "a blind box has no recipes");
    let terms = c.net.blind_box(&seed, &[1, 3]);
    terms_refusal(&mut c, "box-sum", 5, terms, "sum to 4, not to the supply of 5");
    let terms = c.net.blind_box(&seed, &[3, 0]);
    terms_refusal(&mut c, "box-zero", 3, terms, "count of 0");
    let terms = c.net.blind_box(&seed, &[]);
    terms_refusal(&mut c, "box-none", 3, terms, "0 variants");
    let terms = c.net.blind_box(&seed, &[10_000, 1]);
    terms_refusal(&mut c, "box-huge", 10_001, terms, "at most 10000 editions");

    // And the well-formed ones are created, terms recorded.
    let terms = TestNet::recipe(&[(a, 2), (b, 1)]);
    let t = c.terms_series("target", 3, terms.clone());
    assert_eq!(c.state.series_life(&t).unwrap().unwrap().terms, terms);
    let terms = c.net.blind_box(&seed, &[9_999, 1]);
    let biggest = c.terms_series("box-max", 10_000, terms);
    assert!(c.state.series_life(&biggest).unwrap().unwrap().terms.blind_box.is_some());
}

#[test]
fn t16_the_review_approval_of_a_series_with_terms_covers_the_terms() {
    let mut c = Chain::ready();
    let a = c.series("a", 10);
    let issuer = c.issuer();
    let reviewer = c.net.reviewer.clone();
    let terms = TestNet::recipe(&[(a, 2)]);
    let subject = c.net.subject(&issuer, "t", 3);
    // Approved as a plain series (review v1): the terms were never reviewed.
    let v1 = subject.approve(c.net.chain(), &reviewer);
    let tx = subject.clone().into_body(Some(terms.clone()), v1).sign(c.net.chain(), &[&issuer]);
    c.refuse(tx, LedgerError::InvalidReviewApproval { reviewer: reviewer.public() });
    // Approved with one recipe, created with another one added.
    let approved = subject.approve_with(c.net.chain(), Some(&terms), &reviewer);
    let mut more = terms.clone();
    more.recipes.push(TestNet::recipe(&[(a, 1)]).recipes[0].clone());
    let tx = subject.clone().into_body(Some(more), approved.clone()).sign(c.net.chain(), &[&issuer]);
    c.refuse(tx, LedgerError::InvalidReviewApproval { reviewer: reviewer.public() });
    // A v2 approval does not make a plain series either.
    let tx = TxBody::CreateSeries {
        issuer: subject.issuer,
        name: subject.name.clone(),
        content_hash: subject.content_hash,
        max_supply: subject.max_supply,
        metadata_uri: subject.metadata_uri.clone(),
        approval: approved.clone(),
    }
    .sign(c.net.chain(), &[&issuer]);
    c.refuse(tx, LedgerError::InvalidReviewApproval { reviewer: reviewer.public() });
    // The approval over exactly these terms passes.
    c.commit_all(vec![subject.into_body(Some(terms), approved).sign(c.net.chain(), &[&issuer])]);
}

// ---------------------------------------------------------------- T40-T45

/// Series a and b (10 each) and a target of 5 whose recipe 0 burns two of a
/// and one of b; holder 1 holds a1-a8 and b1-b4, holder 2 holds a9-a10.
struct Synth {
    a: SeriesId,
    b: SeriesId,
    t: SeriesId,
    ca: Vec<CertificateId>,
    cb: Vec<CertificateId>,
}

fn synth_fixture(c: &mut Chain) -> Synth {
    let a = c.series("a", 10);
    let b = c.series("b", 10);
    let t = c.terms_series("t", 5, TestNet::recipe(&[(a, 2), (b, 1)]));
    let mut ca = c.mint(a, 1..=8, 1);
    ca.extend(c.mint(a, 9..=10, 2));
    let cb = c.mint(b, 1..=4, 1);
    Synth { a, b, t, ca, cb }
}

#[test]
fn t40_t45_a_synthesis_burns_its_inputs_into_an_edition_for_the_same_holder() {
    let mut c = Chain::ready();
    let s = synth_fixture(&mut c);
    let issuer = c.issuer();
    let tx = c.net.synthesize(&issuer, s.t, 0, vec![s.ca[0], s.ca[1], s.cb[0]], 1, 1);
    let tx_id = tx.id(c.net.chain());
    c.commit_all(vec![tx]);
    let output = c.net.certificate(&s.t, 1);
    let location = c.state.tx_location(&tx_id).unwrap().unwrap();
    for input in [s.ca[0], s.ca[1], s.cb[0]] {
        let burn = c.state.burn(&input).unwrap().expect("burned");
        assert_eq!(
            (burn.into, burn.tx_id, burn.leaf_index, burn.height),
            (output, tx_id, location.leaf_index, location.height)
        );
        // The burned certificate's record stays (its id is never minted again).
        assert!(c.state.certificate(&input).unwrap().is_some());
    }
    assert!(c.state.burn(&s.ca[2]).unwrap().is_none());
    assert_eq!(c.state.series_life(&s.a).unwrap().unwrap().burned, 2);
    assert_eq!(c.state.series_life(&s.b).unwrap().unwrap().burned, 1);
    assert_eq!(c.state.series_life(&s.t).unwrap().unwrap().burned, 0);
    assert_eq!(c.state.series(&s.t).unwrap().unwrap().minted, 1);
    assert_eq!(c.state.series(&s.a).unwrap().unwrap().minted, 10, "burning does not unmint");
    let cert = c.state.certificate(&output).unwrap().unwrap();
    assert_eq!((cert.holder, cert.tx_id, cert.series_id, cert.edition), (TestNet::holder(1), tx_id, s.t, 1));

    // A second synthesis in the same series: the counts add up.
    c.commit_all(vec![c.net.synthesize(&issuer, s.t, 0, vec![s.cb[1], s.ca[2], s.ca[3]], 2, 1)]);
    assert_eq!(c.state.series_life(&s.a).unwrap().unwrap().burned, 4);
    assert_eq!(c.state.series_life(&s.b).unwrap().unwrap().burned, 2);
    assert_eq!(c.state.series(&s.t).unwrap().unwrap().minted, 2);

    // T42: burned once; never revoked; never minted again.
    c.refuse(
        c.net.synthesize(&issuer, s.t, 0, vec![s.ca[0], s.ca[4], s.cb[2]], 3, 1),
        LedgerError::CertificateBurned { certificate_id: s.ca[0] },
    );
    c.refuse(c.revoke(s.ca[1]), LedgerError::CertificateBurned { certificate_id: s.ca[1] });
    c.refuse(
        c.net.mint(&issuer, s.a, 1, 3),
        LedgerError::DuplicateCertificate { certificate_id: s.ca[0], series_name: "a".into(), edition: 1 },
    );
    // T22: an output edition already minted.
    c.refuse(
        c.net.synthesize(&issuer, s.t, 0, vec![s.ca[4], s.ca[5], s.cb[2]], 1, 1),
        LedgerError::DuplicateCertificate { certificate_id: output, series_name: "t".into(), edition: 1 },
    );
    // T21: an output edition over the supply.
    c.refuse(
        c.net.synthesize(&issuer, s.t, 0, vec![s.ca[4], s.ca[5], s.cb[2]], 6, 1),
        LedgerError::SupplyExceeded { edition: 6, max_supply: 5 },
    );
}

#[test]
fn t40_a_synthesis_names_a_recipe_of_its_target() {
    let mut c = Chain::ready();
    let s = synth_fixture(&mut c);
    let issuer = c.issuer();
    let inputs = vec![s.ca[0], s.ca[1], s.cb[0]];
    c.refuse(
        c.net.synthesize(&issuer, s.t, 1, inputs.clone(), 1, 1),
        LedgerError::UnknownRecipe { series_id: s.t, recipe: 1 },
    );
    // A plain series has no recipes.
    c.refuse(
        c.net.synthesize(&issuer, s.b, 0, inputs.clone(), 5, 1),
        LedgerError::UnknownRecipe { series_id: s.b, recipe: 0 },
    );
    let ghost = SeriesId([9; 32]);
    c.refuse(
        c.net.synthesize(&issuer, ghost, 0, inputs, 1, 1),
        LedgerError::UnknownSeries { series_id: ghost },
    );
}

#[test]
fn t41_a_synthesis_burns_exactly_its_recipe() {
    let mut c = Chain::ready();
    let s = synth_fixture(&mut c);
    let issuer = c.issuer();
    let other = c.series("other", 3);
    let co = c.mint(other, 1..=1, 1);
    let cases: Vec<(&str, Vec<CertificateId>, &str)> = vec![
        ("too few", vec![s.ca[0], s.cb[0]], "lists 1"),
        ("too many", vec![s.ca[0], s.ca[1], s.ca[2], s.cb[0]], "lists 3"),
        ("wrong series", vec![s.ca[0], s.ca[1], co[0]], "lists 0"),
        ("an extra series", vec![s.ca[0], s.ca[1], s.cb[0], co[0]], "burns nothing of series"),
        ("duplicate", vec![s.ca[0], s.ca[0], s.cb[0]], "listed twice"),
    ];
    for (what, inputs, reason) in cases {
        match c.reject(c.net.synthesize(&issuer, s.t, 0, inputs, 1, 1)) {
            LedgerError::RecipeMismatch { reason: got } => assert!(got.contains(reason), "{what}: {got}"),
            other => panic!("{what}: expected RecipeMismatch, got {other:?}"),
        }
    }
    let ghost = c.net.certificate(&s.a, 11);
    c.refuse(
        c.net.synthesize(&issuer, s.t, 0, vec![s.ca[0], ghost, s.cb[0]], 1, 1),
        LedgerError::UnknownCertificate { certificate_id: ghost },
    );
    // Nothing was burned by any of them.
    assert!(c.state.series_life(&s.a).unwrap().is_none());
}

#[test]
fn t43_a_revoked_certificate_is_not_burned() {
    let mut c = Chain::ready();
    let s = synth_fixture(&mut c);
    c.commit_all(vec![c.revoke(s.ca[0])]);
    c.refuse(
        c.net.synthesize(&c.issuer(), s.t, 0, vec![s.ca[1], s.ca[0], s.cb[0]], 1, 1),
        LedgerError::CertificateRevoked { certificate_id: s.ca[0] },
    );
    assert!(c.state.burn(&s.ca[1]).unwrap().is_none());
}

#[test]
fn t44_t45_a_synthesis_never_changes_hands() {
    let mut c = Chain::ready();
    let s = synth_fixture(&mut c);
    let issuer = c.issuer();
    // ca[8] is holder 2's.
    c.refuse(
        c.net.synthesize(&issuer, s.t, 0, vec![s.ca[0], s.ca[8], s.cb[0]], 1, 1),
        LedgerError::SynthesisAcrossHolders { first: TestNet::holder(1), other: TestNet::holder(2) },
    );
    c.refuse(
        c.net.synthesize(&issuer, s.t, 0, vec![s.ca[0], s.ca[1], s.cb[0]], 1, 2),
        LedgerError::SynthesisChangesHolder { inputs: TestNet::holder(1), output: TestNet::holder(2) },
    );
    // Only the issuer of the target signs.
    let tx = TxBody::Synthesize {
        series_id: s.t,
        recipe: 0,
        inputs: vec![s.ca[0], s.ca[1], s.cb[0]],
        edition: 1,
        holder: TestNet::holder(1),
    }
    .sign(c.net.chain(), &[&c.net.reviewer]);
    c.refuse(tx, LedgerError::MissingSignature { required: issuer.public() });
}

#[test]
fn t42_two_syntheses_racing_for_one_input_in_one_block_one_wins() {
    let mut c = Chain::ready();
    let s = synth_fixture(&mut c);
    let issuer = c.issuer();
    let first = c.net.synthesize(&issuer, s.t, 0, vec![s.ca[0], s.ca[1], s.cb[0]], 1, 1);
    let second = c.net.synthesize(&issuer, s.t, 0, vec![s.ca[0], s.ca[2], s.cb[1]], 2, 1);
    // Both pass admission (against committed state)...
    c.check(&first).unwrap();
    c.check(&second).unwrap();
    // ...a block carrying both is invalid...
    assert_eq!(
        c.spliced_refusal(vec![first.clone()], &second),
        LedgerError::CertificateBurned { certificate_id: s.ca[0] }
    );
    // ...and block building keeps the first.
    assert_eq!(
        c.commit(vec![first, second]),
        vec![LedgerError::CertificateBurned { certificate_id: s.ca[0] }]
    );
    assert_eq!(c.state.series_life(&s.a).unwrap().unwrap().burned, 2);
    assert_eq!(c.state.series(&s.t).unwrap().unwrap().minted, 1);
}

// ---------------------------------------------------------------- T46-T51

#[test]
fn t46_t51_a_blind_box_sells_closes_and_reveals_once() {
    let mut c = Chain::ready();
    let issuer = c.issuer();
    let seed = TestNet::box_seed(1);
    let terms = c.net.blind_box(&seed, &[1, 2, 3]);
    let bx = c.terms_series("box", 6, terms.clone());
    let plain = c.series("plain", 3);
    // T47: minting while the sale is open.
    c.mint(bx, 1..=2, 1);
    c.mint(bx, 3..=3, 2);
    // T46: a plain series is neither closed nor revealed.
    c.refuse(c.net.close_box(&issuer, plain), LedgerError::NotABlindBox { series_id: plain });
    c.refuse(
        c.net.reveal_box(&issuer, plain, seed, Hash32([0; 32])),
        LedgerError::NotABlindBox { series_id: plain },
    );
    // T48: no reveal before the close...
    c.refuse(
        c.net.reveal_box(&issuer, bx, seed, Hash32([0; 32])),
        LedgerError::BlindBoxNotClosed { series_id: bx },
    );
    // ...nor in the close's own block.
    let close = c.net.close_box(&issuer, bx);
    let same_block = c.net.reveal_box(&issuer, bx, seed, Hash32([0; 32]));
    assert_eq!(
        c.spliced_refusal(vec![close.clone()], &same_block),
        LedgerError::BlindBoxNotClosed { series_id: bx }
    );
    assert_eq!(
        c.commit(vec![close.clone(), same_block]),
        vec![LedgerError::BlindBoxNotClosed { series_id: bx }]
    );
    let closed = c.state.series_life(&bx).unwrap().unwrap().closed.expect("closed");
    assert_eq!(closed.tx_id, close.id(c.net.chain()));
    // The entropy: the log root just after the close (here the close's block's root).
    let entropy = merkle::root(&c.state, closed.leaf_index + 1).unwrap();
    assert_eq!(box_entropy(&c.state, &bx), Some(entropy));
    assert_eq!(entropy, c.tip.log_root);
    // T47: closed: no more mints, no second close.
    c.refuse(c.net.mint(&issuer, bx, 4, 1), LedgerError::BlindBoxClosed { series_id: bx });
    // A second close is the same body, so the same transaction: T5 answers
    // before T47 (whose "closes once" check is a backstop).
    c.refuse(close.clone(), LedgerError::DuplicateTransaction { tx_id: close.id(c.net.chain()) });
    // T50/T51: the committed seed, the right entropy.
    c.refuse(
        c.net.reveal_box(&issuer, bx, TestNet::box_seed(2), entropy),
        LedgerError::SeedMismatch { series_id: bx },
    );
    let wrong = merkle::root(&c.state, closed.leaf_index).unwrap();
    c.refuse(
        c.net.reveal_box(&issuer, bx, seed, wrong),
        LedgerError::EntropyMismatch { expected: entropy, got: wrong },
    );
    // Still closed, not revealed, after all those refusals.
    assert!(c.state.series_life(&bx).unwrap().unwrap().revealed.is_none());
    let reveal = c.net.reveal_box(&issuer, bx, seed, entropy);
    c.commit_all(vec![reveal.clone()]);
    let life = c.state.series_life(&bx).unwrap().unwrap();
    let revealed = life.revealed.expect("revealed");
    assert_eq!((revealed.seed, revealed.entropy, revealed.tx_id), (seed, entropy, reveal.id(c.net.chain())));
    assert_eq!(life.closed, Some(closed), "the close is kept");
    // Once (the same body again would be the same transaction, T5).
    c.refuse(
        c.net.reveal_box(&issuer, bx, seed, wrong),
        LedgerError::BlindBoxAlreadyRevealed { series_id: bx },
    );
    // A revealed box takes no mints either.
    c.refuse(c.net.mint(&issuer, bx, 4, 1), LedgerError::BlindBoxClosed { series_id: bx });
    // The draw: a permutation of the declared counts.
    let variants = &terms.blind_box.unwrap().variants;
    let draw = draw_variants(c.net.chain(), &bx, &seed, &entropy, variants).unwrap();
    assert_eq!(draw.len(), 6);
    for (i, v) in variants.iter().enumerate() {
        assert_eq!(draw.iter().filter(|&&d| d == i as u32).count(), v.count as usize);
    }
}

#[test]
fn t47_t48_closing_needs_an_active_issuer_but_revealing_does_not() {
    let mut c = Chain::ready();
    let issuer = c.issuer();
    let seed = TestNet::box_seed(3);
    let first = c.terms_series("first", 2, c.net.blind_box(&seed, &[2]));
    let second = c.terms_series("second", 2, c.net.blind_box(&seed, &[1, 1]));
    c.commit_all(vec![c.net.close_box(&issuer, first)]);
    let n = c.nonce();
    c.commit_all(vec![c.net.set_issuer_status(&issuer, IssuerStatus::Suspended, n)]);
    c.refuse(c.net.close_box(&issuer, second), LedgerError::IssuerSuspended { issuer: issuer.public() });
    let entropy = box_entropy(&c.state, &first).unwrap();
    c.commit_all(vec![c.net.reveal_box(&issuer, first, seed, entropy)]);
    // Only the issuer reveals.
    let tx =
        TxBody::RevealBlindBox { series_id: second, seed, entropy }.sign(c.net.chain(), &[&c.net.reviewer]);
    c.refuse(tx, LedgerError::MissingSignature { required: issuer.public() });
}

// ---------------------------------------------------------------- state root

#[test]
fn a_block_without_life_bodies_hashes_as_before_and_one_with_them_does_not() {
    let mut c = Chain::ready();
    let a = c.series("a", 3);
    let bare = |delta: &keepsake_ledger::StateDelta| {
        keepsake_types::hash::sha256(&keepsake_types::encoding::encode(delta))
    };
    // No life body: the digest is the bare encoding, as before issue 16.
    let plain = c.build(vec![c.net.mint(&c.issuer(), a, 1, 1)]);
    assert!(plain.executed.delta.life.is_empty());
    assert_eq!(plain.executed.delta.digest(), bare(&plain.executed.delta));
    // A licence: the life delta is appended, so the digest differs.
    let n = c.nonce();
    let licensed = c.build(vec![c.net.set_licence(&c.issuer(), c.time() + 5000, n)]);
    assert_eq!(licensed.executed.delta.life.licences.len(), 1);
    assert_ne!(licensed.executed.delta.digest(), bare(&licensed.executed.delta));
}

#[test]
fn the_digest_hashed_piece_by_piece_is_the_documented_concatenation() {
    let mut c = Chain::ready();
    let a = c.series("big", 200);
    // 200 mints: the encoding is many times the 4 KiB pieces it is hashed in.
    let mut txs: Vec<_> = (1..=200).map(|e| c.net.mint(&c.issuer(), a, e, e)).collect();
    let n = c.nonce();
    txs.push(c.net.set_licence(&c.issuer(), c.time() + 5000, n));
    let built = c.build(txs);
    let delta = &built.executed.delta;
    assert_eq!(delta.certificates.len(), 200);
    assert!(!delta.life.is_empty());
    let mut whole = keepsake_types::encoding::encode(delta);
    assert!(whole.len() > 3 * 4096, "{} bytes", whole.len());
    if !delta.membership.is_empty() {
        whole.extend_from_slice(&keepsake_types::encoding::encode(&delta.membership));
    }
    whole.extend_from_slice(keepsake_ledger::state::LIFE_DELTA_MARK);
    whole.extend_from_slice(&keepsake_types::encoding::encode(&delta.life));
    assert_eq!(delta.digest(), keepsake_types::hash::sha256(&whole));
}
