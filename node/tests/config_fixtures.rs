//! Every released config file must still parse: a config file outlives the process that wrote it,
//! so its format is pinned by the fixtures in `node/tests/fixtures/`.

#[test]
fn released_configs_still_parse() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/config-v0.1-dev.toml");
    std::fs::copy(fixture, dir.path().join("config.toml")).unwrap();
    let config = keepsake::config::NodeConfig::load(dir.path()).unwrap();
    assert_eq!(config.node.data_dir, dir.path().join("data"));
    assert_eq!(config.node.consensus_dir, dir.path().join("consensus"));
    assert_eq!(config.rpc.max_batch_txs, 10_000);
}
