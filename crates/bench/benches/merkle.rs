//! The collectible log (RFC 9162 Merkle tree): appending leaves, the root,
//! inclusion proofs and their verification.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use keepsake_types::merkle::{self, MemoryLog};

fn leaf(i: u64) -> Vec<u8> {
    let mut l = vec![0u8; 200];
    l[..8].copy_from_slice(&i.to_be_bytes());
    l
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("merkle");
    let leaves: Vec<Vec<u8>> = (0..1000).map(leaf).collect();
    g.throughput(Throughput::Elements(1000));
    g.bench_function("append 1000 leaves (200 B) + root", |b| {
        b.iter_batched(
            MemoryLog::new,
            |mut log| {
                for l in &leaves {
                    log.push(l);
                }
                log.root()
            },
            BatchSize::SmallInput,
        )
    });
    let size = 1 << 16;
    let mut log = MemoryLog::new();
    for i in 0..size {
        log.push(&leaf(i));
    }
    let root = log.root();
    let index = size / 3;
    let proof = merkle::inclusion_proof(&log, index, size).unwrap();
    let hash = merkle::leaf_hash(&leaf(index));
    g.throughput(Throughput::Elements(1));
    g.bench_function("inclusion proof, log of 65536", |b| {
        b.iter(|| merkle::inclusion_proof(&log, std::hint::black_box(index), size).unwrap())
    });
    g.bench_function("verify inclusion, log of 65536", |b| {
        b.iter(|| merkle::verify_inclusion(&hash, index, size, std::hint::black_box(&proof), &root).unwrap())
    });
    g.bench_function("consistency proof 40000 -> 65536", |b| {
        b.iter(|| merkle::consistency_proof(&log, 40_000, size).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
