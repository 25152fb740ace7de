//! Criterion micro-benchmarks of the pure crates live in `benches/`:
//! `cargo bench -p keepsake-bench` (docs/benchmarks.md). Whole-node
//! benchmarks are `keepsake bench …` subcommands of the node binary.
