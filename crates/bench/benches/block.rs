//! Block building and validation (rules B1-B11 and every transaction rule)
//! of a 1,000-mint block over the in-memory state: with every signature
//! verified, and with the node's memo of signatures verified at admission
//! (`validate_block_memo`), which is what a validator does for transactions
//! it saw in its mempool.

use std::collections::HashSet;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use keepsake_ledger::rules::{VerifiedMemo, signed_digest};
use keepsake_ledger::testkit::{TestChain, TestNet};
use keepsake_ledger::{build_block, validate_block, validate_block_memo};
use keepsake_types::{Hash32, encoding};

struct Memo(HashSet<Hash32>);

impl VerifiedMemo for Memo {
    fn verified(&self, digest: &Hash32) -> bool {
        self.0.contains(digest)
    }
}

fn bench(c: &mut Criterion) {
    let mut chain = TestChain::new(TestNet::new(4));
    chain.push(chain.net.setup_txs());
    let create = chain.net.create_series(&chain.net.issuer, &chain.net.reviewer, "s", 10_000);
    chain.push(vec![create]);
    let series = chain.net.series_id(&chain.net.issuer, "s");
    let mints: Vec<_> = (1..=1000).map(|e| chain.net.mint(&chain.net.issuer, series, e, e)).collect();
    let proposer = chain.net.validators[0].public();
    let time = chain.tip.time_ms + 1000;
    let block = build_block(&chain.state, &chain.net.genesis, &chain.tip, proposer, time, mints.clone())
        .unwrap()
        .block;
    let memo = Memo(mints.iter().map(|t| signed_digest(&encoding::encode(t))).collect());
    let (state, genesis, tip) = (&chain.state, &chain.net.genesis, &chain.tip);

    let mut g = c.benchmark_group("block");
    g.throughput(Throughput::Elements(1000));
    g.sample_size(20);
    g.bench_function("build 1000-mint block", |b| {
        b.iter(|| build_block(state, genesis, tip, proposer, time, mints.clone()).unwrap())
    });
    g.bench_function("validate 1000-mint block", |b| {
        b.iter(|| validate_block(state, genesis, tip, &block).unwrap())
    });
    g.bench_function("validate 1000-mint block, signatures memoized", |b| {
        b.iter(|| validate_block_memo(state, genesis, tip, &block, &memo).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
