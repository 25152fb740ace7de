//! `keepsake init`: the home of a new node joining a running consortium
//! (see [`crate::init`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::config::PeerAddress;

#[derive(Args, Debug)]
pub(super) struct InitArgs {
    /// Home directory of the new node (created; must not hold a node yet).
    #[arg(long)]
    home: PathBuf,
    /// The consortium's genesis file (copied into the home as it is).
    #[arg(long)]
    genesis: PathBuf,
    /// A member to dial, KEY@IP:PORT: its public key (64 hex digits) and libp2p address
    /// (IPv6: KEY@[ADDR]:PORT). Repeat for each member you were given; at least one.
    #[arg(long = "peer", value_name = "KEY@IP:PORT")]
    peers: Vec<PeerAddress>,
    /// JSON-RPC, /health, /metrics and the explorer listen address.
    #[arg(long, default_value_t = SocketAddr::from(([127, 0, 0, 1], crate::DEFAULT_RPC_PORT)))]
    rpc: SocketAddr,
    /// libp2p listen address.
    #[arg(long, default_value = crate::init::DEFAULT_P2P_LISTEN)]
    p2p: SocketAddr,
}

/// `keepsake init`.
pub(super) fn init(args: InitArgs) -> anyhow::Result<ExitCode> {
    let spec = crate::init::InitSpec {
        genesis_file: args.genesis,
        peers: args.peers,
        rpc_listen: args.rpc,
        p2p_listen: args.p2p,
    };
    let made = crate::init::init(&args.home, &spec)?;
    let home = made.home.display();
    let rpc_host = if args.rpc.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], args.rpc.port()))
    } else {
        args.rpc
    };
    eprintln!(
        "initialised a node of chain {:?} in {home} (an observer: its key is in no validator set)\n\
         \x20 node key    {home}/{} (mode 0600; back it up, never copy it to a second machine)\n\
         \x20 public key  {}\n\
         \x20 peers       {}",
        made.chain_id,
        crate::init::KEY_FILE,
        made.public_key,
        spec.peers.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
    );
    if !made.non_validator_peers.is_empty() {
        eprintln!(
            "  note: {} peer(s) are not genesis validators; they are in this node's [p2p] allow_list, \
             and they must allow this node's key too",
            made.non_validator_peers.len()
        );
    }
    eprintln!(
        "\nNext:\n\
         \x20 1. Send the public key above to the consortium. Until they admit it, their nodes refuse\n\
         \x20    this node's connections. Each member adds it to the [p2p] allow_list of its config.toml\n\
         \x20    and restarts its node, or the governors register it by a governance transaction\n\
         \x20    (docs/operator-guide.md, \"Joining a running consortium\").\n\
         \x20 2. Start the node:    keepsake start --home {home}\n\
         \x20 3. Watch it sync:     keepsake status --rpc http://{rpc_host}   and   curl http://{rpc_host}/health"
    );
    // Machine-readable: the key alone on stdout (KEY=$(keepsake init ...)).
    println!("{}", made.public_key);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::super::{Cli, Command};

    #[test]
    fn the_command_line_parses_peers_and_echoes_a_malformed_one() {
        let key = keepsake_types::Keypair::from_seed([3; 32]).public();
        let good = format!("{key}@192.0.2.1:26656");
        let cli = Cli::try_parse_from([
            "keepsake",
            "init",
            "--home",
            "h",
            "--genesis",
            "g.json",
            "--peer",
            &good,
            "--peer",
            &good,
        ])
        .unwrap();
        let Command::Init(args) = cli.command else { panic!("not init") };
        assert_eq!(args.peers.len(), 2);
        assert_eq!(args.peers[0].to_string(), good);
        assert_eq!(args.rpc.port(), crate::DEFAULT_RPC_PORT);
        assert_eq!(args.p2p, crate::init::DEFAULT_P2P_LISTEN.parse().unwrap());

        let bad = format!("{key}:192.0.2.1:26656");
        let err = Cli::try_parse_from(["keepsake", "init", "--home", "h", "--genesis", "g", "--peer", &bad])
            .unwrap_err()
            .to_string();
        assert!(err.contains(&bad) && err.contains("expected KEY@IP:PORT"), "{err}");
    }

    #[test]
    fn init_writes_the_home_and_refuses_to_run_twice() {
        let dir = tempfile::tempdir().unwrap();
        let spec = crate::testnet::TestnetSpec {
            validators: 1,
            chain_id: "cli-init".into(),
            rpc_base_port: 18645,
            p2p_base_port: 26656,
        };
        crate::testnet::generate(&dir.path().join("net"), &spec).unwrap();
        let genesis = dir.path().join("net/genesis.json");
        let genesis_text = std::fs::read_to_string(&genesis).unwrap();
        let member = keepsake_types::Genesis::from_json(&genesis_text).unwrap().validators[0].public_key;
        let home = dir.path().join("new");
        let args = [
            "keepsake".to_string(),
            "init".into(),
            "--home".into(),
            home.display().to_string(),
            "--genesis".into(),
            genesis.display().to_string(),
            "--peer".into(),
            format!("{member}@127.0.0.1:26656"),
            "--rpc".into(),
            "127.0.0.1:0".into(),
        ];
        let run = || {
            let Command::Init(a) = Cli::try_parse_from(&args).unwrap().command else { panic!("not init") };
            super::init(a)
        };
        run().unwrap();
        let config = crate::config::NodeConfig::load(&home).unwrap();
        assert_eq!(config.p2p.bootstrap[0].key, member);
        let err = format!("{:#}", run().unwrap_err());
        assert!(err.contains("already holds a node"), "{err}");
    }
}
