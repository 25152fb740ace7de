//! The README's tour, run verbatim against the real binary: the shell block
//! between `<!-- tour:begin -->` and `<!-- tour:end -->` is executed by bash,
//! with `./target/release/keepsake` pointed at the binary under test and the
//! dev chain on a free port (via `KEEPSAKE_RPC`, which every RPC command reads).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tour_script() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let start = readme.find("<!-- tour:begin -->").expect("README has a tour:begin marker");
    let end = readme.find("<!-- tour:end -->").expect("README has a tour:end marker");
    let block = &readme[start..end];
    let body = block.split("```sh").nth(1).expect("the tour is a ```sh block");
    body.split("```").next().unwrap().to_string()
}

#[test]
fn readme_tour_works_verbatim() {
    let bin = env!("CARGO_BIN_EXE_keepsake");
    let script = tour_script();
    assert!(
        script.contains("KS=$PWD/target/release/keepsake\n"),
        "the tour must use the README's binary path"
    );
    let script = script.replace("KS=$PWD/target/release/keepsake\n", &format!("KS={bin}\n"));
    let lines: Vec<&str> = script.lines().collect();
    let last = lines.iter().rposition(|l| !l.trim().is_empty() && !l.starts_with('#')).unwrap();
    assert!(lines[last].contains("tx transfer"), "the tour ends with the refused transfer");
    let head = lines[..last].join("\n");
    let full = format!("set -eu\n{head}\nset +e\n{}\necho \"transfer-exit=$?\"\n", lines[last]);

    let dir = tempfile::tempdir().unwrap();
    // The node's log goes to a file, as under a service manager: plain text, no colour codes.
    let log = dir.path().join("dev.log");
    let mut dev = KillOnDrop(
        Command::new(bin)
            .args(["dev", "--home", "keepsake-dev", "--rpc", "127.0.0.1:0"])
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    // The first stdout line is `rpc: http://ADDR`.
    let mut line = String::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let stdout = dev.0.stdout.take().unwrap();
    let mut reader = BufReader::new(stdout);
    while !line.starts_with("rpc: ") {
        line.clear();
        assert!(Instant::now() < deadline, "dev node did not print its address");
        assert!(reader.read_line(&mut line).unwrap() > 0, "dev node exited early");
    }
    let url = line.trim_start_matches("rpc: ").trim().to_string();

    // The tour's `mktemp -d` lands under `scratch`: nothing is written where it starts.
    let scratch = dir.path().join("scratch");
    std::fs::create_dir(&scratch).unwrap();
    let before: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    let out = Command::new("bash")
        .arg("-c")
        .arg(&full)
        .current_dir(dir.path())
        .env("TMPDIR", &scratch)
        .env("KEEPSAKE_RPC", &url)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tour_stderr = stderr.to_string();
    assert!(out.status.success(), "tour failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("VALID certificate"), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("edition       1 of 300"), "stdout:\n{stdout}");
    assert!(stdout.contains("audit PASS"), "stdout:\n{stdout}");
    assert!(stdout.contains("series Flying Apsaras"), "stdout:\n{stdout}");
    assert!(
        stdout.contains("transfer-exit=1"),
        "the transfer must fail\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stderr.contains("rejected: TransferForbidden (4001)"), "stderr:\n{stderr}");
    let log_path = log;
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("INFO"), "the node logs at INFO:\n{log}");
    assert!(!log.contains('\u{1b}'), "a log that is not a terminal has no ANSI escape codes:\n{log}");

    let after: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(before, after, "the tour writes nothing where it is started (the checkout)");
    let tour_dir =
        std::fs::read_dir(&scratch).unwrap().next().expect("the tour's scratch directory").unwrap().path();

    // The tampering the README suggests is caught, naming the field.
    let cert_path = tour_dir.join("apsaras-1.json");
    let mut cert: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cert_path).unwrap()).unwrap();
    let holder = cert["record"]["holder"].as_str().unwrap().to_string();
    let flipped = format!("{}{}", if holder.starts_with('0') { "1" } else { "0" }, &holder[1..]);
    cert["record"]["holder"] = serde_json::Value::String(flipped);
    std::fs::write(&cert_path, cert.to_string()).unwrap();
    let out = Command::new(bin)
        .args(["cert", "verify", "apsaras-1.json", "--genesis"])
        .arg(dir.path().join("keepsake-dev/genesis.json"))
        .current_dir(&tour_dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("INVALID certificate: CertificateMismatch: certificate field record.holder"),
        "{stderr}"
    );

    // The read side, in words, against the tour's chain.
    let read = |args: &[&str]| {
        let out = Command::new(bin).args(args).env("KEEPSAKE_RPC", &url).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let mint_id = tour_stderr
        .lines()
        .find_map(|l| l.strip_prefix("submitted mint "))
        .expect("the tour's mint printed its transaction id")
        .trim()
        .to_string();
    let (code, out, err) = read(&["tx", "status", &mint_id]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.starts_with("committed in block "), "{out}");
    assert!(out.contains(" UTC, transaction "), "dates, not milliseconds: {out}");
    let (code, out, _) = read(&["tx", "status", &"ab".repeat(32)]);
    assert_eq!(code, Some(1));
    assert!(out.starts_with("unknown: this node never admitted it"), "{out}");
    let (_, out, err) = read(&["series", "list"]);
    assert!(out.contains("\"Flying Apsaras\"  1 of 300 minted"), "{out}{err}");
    let series = out.split_whitespace().next().unwrap().to_string();
    let (_, out, _) = read(&["series", "show", &series]);
    assert!(out.starts_with("series \"Flying Apsaras\""), "{out}");
    let (_, out, _) = read(&["issuer", "list"]);
    assert!(out.contains("\"Dunhuang Museum\"  active, registered at height"), "{out}");
    let (_, out, _) = read(&["block", "show", "1"]);
    assert!(out.starts_with("block 1\n"), "{out}");
    assert!(out.contains("  signed by     "), "{out}");
    let (_, out, err) = read(&["status"]);
    assert!(out.contains("validators    1 ("), "{out}{err}");
    assert!(out.contains("this node     validator "), "{out}");
    assert!(out.contains(" UTC, "), "{out}");
    assert!(!out.contains("HolderId(") && !out.contains("PublicKey("), "no Rust debug formatting: {out}");

    // A typo'd series name is echoed, not turned into "unknown series <hash>".
    let holder = "ab".repeat(32);
    let key = dir.path().join("keepsake-dev/keys/issuer.json");
    let key = key.to_str().unwrap();
    let mint =
        ["tx", "mint", "--key", key, "--series-name", "Flying Apsras", "--edition", "2", "--holder", &holder];
    let (code, out, err) = read(&mint);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(err.contains("no such series: --series-name \"Flying Apsras\" (series id "), "{err}");
    assert!(err.contains("keepsake series list"), "{err}");

    // A block with transactions is an INFO line; an empty one is not (DEBUG). Wait for an empty
    // block first (the dev chain proposes one after a second without transactions).
    let height =
        |out: String| serde_json::from_str::<serde_json::Value>(&out).unwrap()["height"].as_u64().unwrap();
    let start = height(read(&["status", "--json"]).1);
    let deadline = Instant::now() + Duration::from_secs(30);
    while height(read(&["status", "--json"]).1) <= start {
        assert!(Instant::now() < deadline, "no empty block within 30 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.lines().any(|l| l.contains(" INFO ") && l.contains("block committed")), "{log}");
    assert!(
        !log.lines().any(|l| l.contains(" INFO ") && l.contains("empty block")),
        "an empty block at INFO:\n{log}"
    );
}
