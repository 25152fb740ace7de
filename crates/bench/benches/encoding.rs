//! Canonical encoding (postcard) of a mint and of a 1,000-mint block.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use keepsake_ledger::testkit::{TestChain, TestNet};
use keepsake_types::{Block, SignedTx, encoding};

fn bench(c: &mut Criterion) {
    let net = TestNet::new(4);
    let series = net.series_id(&net.issuer, "bench");
    let mint = net.mint(&net.issuer, series, 1, 1);
    let bytes = encoding::encode(&mint);
    let mut g = c.benchmark_group("encoding");
    g.throughput(Throughput::Elements(1));
    g.bench_function("encode mint", |b| b.iter(|| encoding::encode(std::hint::black_box(&mint))));
    g.bench_function("decode mint", |b| {
        b.iter(|| encoding::decode::<SignedTx>(std::hint::black_box(&bytes), 4096, "tx").unwrap())
    });
    g.bench_function("tx id of a mint", |b| b.iter(|| std::hint::black_box(&mint).id(net.chain())));

    let mut chain = TestChain::new(TestNet::new(4));
    chain.push(chain.net.setup_txs());
    let create = chain.net.create_series(&chain.net.issuer, &chain.net.reviewer, "s", 1000);
    chain.push(vec![create]);
    let series = chain.net.series_id(&chain.net.issuer, "s");
    let mints: Vec<_> = (1..=1000).map(|e| chain.net.mint(&chain.net.issuer, series, e, e)).collect();
    let block = chain.push(mints).0.clone();
    let block_bytes = encoding::encode(&block);
    g.throughput(Throughput::Elements(1000));
    g.bench_function("encode 1000-mint block", |b| b.iter(|| encoding::encode(std::hint::black_box(&block))));
    g.bench_function("decode 1000-mint block", |b| {
        b.iter_batched(
            || block_bytes.clone(),
            |bytes| encoding::decode::<Block>(&bytes, 16 << 20, "block").unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
