//! Key files: JSON `{"public_key": hex, "secret_key": hex}`, written with
//! mode 0600 on Unix. The secret is the 32-byte RFC 8032 seed.

use std::path::Path;

use anyhow::{Context, bail};
use keepsake_types::{Keypair, PublicKey, bytes::parse_hex};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    public_key: PublicKey,
    secret_key: String,
}

/// A new key from the operating system's randomness.
pub fn generate() -> anyhow::Result<Keypair> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).context("the OS random number generator failed")?;
    Ok(Keypair::from_seed(seed))
}

/// Writes `key` to `path`; refuses to overwrite an existing file.
pub fn write(path: &Path, key: &Keypair) -> anyhow::Result<()> {
    if path.exists() {
        bail!("{} already exists; refusing to overwrite a key", path.display());
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let file = KeyFile { public_key: key.public(), secret_key: hex::encode(key.secret_seed()) };
    let json = serde_json::to_string_pretty(&file).expect("a key file serialises");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    use std::io::Write;
    let mut f = options.open(path).with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(json.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

/// Reads a key file and checks that the public key matches the secret.
pub fn read(path: &Path) -> anyhow::Result<Keypair> {
    let text = crate::config::read_bounded(path, 4096)?;
    let file: KeyFile = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a Keepsake key file", path.display()))?;
    let seed =
        parse_hex::<32>(&file.secret_key, "secret key").with_context(|| format!("in {}", path.display()))?;
    let key = Keypair::from_seed(seed);
    if key.public() != file.public_key {
        bail!("{}: public_key does not match secret_key", path.display());
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.json");
        let key = generate().unwrap();
        write(&path, &key).unwrap();
        assert_eq!(read(&path).unwrap().public(), key.public());
        assert!(write(&path, &key).unwrap_err().to_string().contains("already exists"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        // A tampered public key is caught.
        let text = std::fs::read_to_string(&path).unwrap();
        let other = generate().unwrap().public().to_hex();
        let tampered = text.replace(&key.public().to_hex(), &other);
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, tampered).unwrap();
        assert!(read(&bad).unwrap_err().to_string().contains("does not match"));
    }

    /// The key-file example of docs/protocol.md §10 reads as key 1 of the
    /// test network; `0x` and upper-case digits are accepted, `0X` is not.
    #[test]
    fn the_protocol_example_reads() {
        let doc = include_str!("../../docs/protocol.md");
        let section = &doc[doc.find("## 10. Key files").expect("§10 in protocol.md")..];
        let start = section.find("```json\n").unwrap() + "```json\n".len();
        let json = &section[start..start + section[start..].find("```").unwrap()];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.json");
        std::fs::write(&path, json).unwrap();
        let key = read(&path).unwrap();
        let mut seed = [0u8; 32];
        seed[0] = 1;
        seed[31] = 0x6b;
        assert_eq!(key.public(), Keypair::from_seed(seed).public());

        let secret = hex::encode(seed);
        let write_with = |secret: &str| {
            let p = dir.path().join(format!("{}.json", secret.len()));
            let _ = std::fs::remove_file(&p);
            let text = format!(r#"{{"public_key": "{}", "secret_key": "{secret}"}}"#, key.public().to_hex());
            std::fs::write(&p, text).unwrap();
            read(&p)
        };
        assert!(write_with(&format!("0x{}", secret.to_uppercase())).is_ok());
        assert!(write_with(&format!("0X{secret}")).is_err());
        assert!(write_with(&format!(" {secret}")).is_err());
    }
}
