//! Hosts in Linux network namespaces, each joined to the root namespace by
//! one point-to-point veth and nothing else.
//!
//! ```text
//!   root namespace (the test or benchmark process, the delay relay)
//!     kwPID-I-0  10.X.Y.1/30  <-veth->  wan0 10.X.Y.2/30   namespace kswan-PID-I-h0
//!     kwPID-I-1  10.X.Y.5/30  <-veth->  wan0 10.X.Y.6/30   namespace kswan-PID-I-h1
//!     ...
//! ```
//!
//! A host's only route is its own /30: it reaches the root side of its link
//! (where the relay listens) and nothing else. Another host's address is
//! "network unreachable" from it, and even a host that added routes would get
//! nowhere where the root namespace does not forward between links
//! (`net.ipv4.ip_forward` = 0; [`Topology::new`] warns otherwise). The
//! root namespace reaches every host's address directly, which is how the
//! test process talks JSON-RPC to the nodes.
//!
//! Not a bridge: on one shared segment every host could reach every other
//! directly, and keeping libp2p off those paths would take firewall rules;
//! with point-to-point links the relay is the only path by construction.
//!
//! Names carry the process id and a per-process counter, so concurrent runs
//! never collide; [`Topology`]'s `Drop` deletes its namespaces and links
//! (also on panic), and [`Topology::new`] deletes what a killed run left behind
//! (namespaces and links whose process is gone).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};

/// Prefix of every namespace this module creates (`kswan-PID-I-hK`).
pub const NS_PREFIX: &str = "kswan-";
/// Prefix of every root-side link this module creates (`kwPID36-I-K`).
pub const LINK_PREFIX: &str = "kw";
/// The host side of a host's link, inside its namespace.
pub const HOST_DEV: &str = "wan0";
/// Most hosts of one topology (one /30 each in a /24).
pub const HOSTS_MAX: usize = 63;

static INSTANCE: AtomicU32 = AtomicU32::new(0);

/// One host: its namespace and its link to the root namespace.
#[derive(Clone, Debug)]
pub struct HostLink {
    /// The namespace (`ip netns exec NS ...`).
    pub ns: String,
    /// The root-side end of the veth: `ip link set DEV down` cuts the host off.
    pub root_dev: String,
    /// The root side's address on this link (where the relay listens for this host).
    pub root_ip: Ipv4Addr,
    /// The host's address (its node listens here).
    pub host_ip: Ipv4Addr,
}

/// Namespaces with one veth each to the root namespace; deleted on drop.
#[derive(Debug)]
pub struct Topology {
    pid: u32,
    instance: u32,
    net: [u8; 3],
    hosts: Vec<HostLink>,
}

impl Topology {
    /// Checks that this process may create namespaces (root, `ip`), removes what killed runs left
    /// behind, and picks a free 10.X.Y.0/24 for this topology. Creates no host yet.
    pub fn new() -> anyhow::Result<Self> {
        preflight()?;
        clean_stale();
        let pid = std::process::id();
        let instance = INSTANCE.fetch_add(1, Ordering::Relaxed);
        let net = free_subnet(pid, instance)?;
        tracing::info!(pid, instance, net = ?net, "network namespace topology");
        Ok(Self { pid, instance, net, hosts: Vec::new() })
    }

    /// Creates host `k` (the next index): its namespace, its veth to the root
    /// namespace with a /30, both ends up, and `lo` up. Returns `k`.
    pub fn add_host(&mut self) -> anyhow::Result<usize> {
        let k = self.hosts.len();
        if k >= HOSTS_MAX {
            bail!("a topology holds at most {HOSTS_MAX} hosts");
        }
        let [a, b, c] = self.net;
        let base = u8::try_from(4 * k).expect("k < 63");
        let host = HostLink {
            ns: format!("{NS_PREFIX}{}-{}-h{k}", self.pid, self.instance),
            root_dev: format!("{LINK_PREFIX}{}-{}-{k}", base36(self.pid), self.instance),
            root_ip: Ipv4Addr::new(a, b, c, base + 1),
            host_ip: Ipv4Addr::new(a, b, c, base + 2),
        };
        // Recorded before creation, so that Drop removes a half-made host too.
        self.hosts.push(host.clone());
        let peer = format!("{}p", host.root_dev);
        ip(&["netns", "add", &host.ns])?;
        ip(&["link", "add", &host.root_dev, "type", "veth", "peer", "name", &peer])?;
        ip(&["link", "set", &peer, "netns", &host.ns])?;
        ip(&["-n", &host.ns, "link", "set", &peer, "name", HOST_DEV])?;
        ip(&["addr", "add", &format!("{}/30", host.root_ip), "dev", &host.root_dev])?;
        ip(&["-n", &host.ns, "addr", "add", &format!("{}/30", host.host_ip), "dev", HOST_DEV])?;
        ip(&["-n", &host.ns, "link", "set", "lo", "up"])?;
        ip(&["-n", &host.ns, "link", "set", HOST_DEV, "up"])?;
        ip(&["link", "set", &host.root_dev, "up"])?;
        tracing::info!(k, ns = %host.ns, dev = %host.root_dev, host = %host.host_ip, "host namespace up");
        Ok(k)
    }

    /// Host `k`.
    pub fn host(&self, k: usize) -> &HostLink {
        &self.hosts[k]
    }

    /// Hosts created so far.
    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    /// No host yet.
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    /// Cuts host `k` off: `ip link set DEV down` on the root side of its link.
    /// Every packet to or from the host is lost until [`Topology::restore`].
    pub fn cut(&self, k: usize) -> anyhow::Result<()> {
        tracing::info!(k, dev = %self.hosts[k].root_dev, "link down");
        ip(&["link", "set", &self.hosts[k].root_dev, "down"])
    }

    /// Restores host `k`'s link (`ip link set DEV up`).
    pub fn restore(&self, k: usize) -> anyhow::Result<()> {
        tracing::info!(k, dev = %self.hosts[k].root_dev, "link up");
        ip(&["link", "set", &self.hosts[k].root_dev, "up"])
    }

    /// A command that runs `program` inside host `k`'s namespace
    /// (`ip netns exec NS program`; `ip` execs it, so the child's pid is the program's).
    pub fn command(&self, k: usize, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.hosts[k].ns]).arg(program);
        c
    }

    /// Whether a TCP connection from inside host `k` to `to` is established
    /// within `timeout` (bash's `/dev/tcp`, run in the namespace). `Err` only
    /// when the probe itself could not run.
    pub fn tcp_connects(&self, k: usize, to: SocketAddr, timeout: Duration) -> anyhow::Result<bool> {
        let script = format!("exec 3<>/dev/tcp/{}/{}", to.ip(), to.port());
        let out = self
            .command(k, "timeout")
            .arg(format!("{}", timeout.as_secs_f64()))
            .args(["bash", "-c", &script])
            .stdin(Stdio::null())
            .output()
            .context(
                "running a TCP probe with `ip netns exec ... timeout ... bash` (needs bash and coreutils)",
            )?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        tracing::debug!(k, %to, status = %out.status, stderr = %stderr.trim(), "TCP probe");
        Ok(out.status.success())
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        for h in &self.hosts {
            // Deleting the namespace destroys its end of the veth and with it the root end;
            // the explicit `link del` covers a host whose peer never made it into the namespace.
            let _ = ip(&["netns", "del", &h.ns]);
            if link_exists(&h.root_dev) {
                let _ = ip(&["link", "del", &h.root_dev]);
            }
        }
    }
}

/// Runs `ip ARGS`; an error carries `ip`'s own message.
pub fn ip(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| "cannot run `ip` (install iproute2: `apt-get install iproute2`)".to_string())?;
    if !out.status.success() {
        bail!("`ip {}` failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

fn ip_output(args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("cannot run `ip` (install iproute2: `apt-get install iproute2`)")?;
    if !out.status.success() {
        bail!("`ip {}` failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn link_exists(dev: &str) -> bool {
    Command::new("ip")
        .args(["link", "show", dev])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Root and `ip` (each failure says what to do); a warning if the root namespace forwards IP.
fn preflight() -> anyhow::Result<()> {
    let status =
        std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status (Linux only)")?;
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().nth(1))
        .unwrap_or("?");
    if euid != "0" {
        bail!("creating network namespaces needs root (effective uid is {euid}); run as root");
    }
    ip_output(&["netns", "list"])?;
    let forward = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap_or_default();
    if forward.trim() != "0" {
        // Hosts still cannot reach each other (each has only its own /30 and no default route),
        // but a host that added a route could: say so.
        tracing::warn!(
            "net.ipv4.ip_forward is on in the root namespace: isolation between hosts rests on their \
             routes alone (each has only its /30); sysctl -w net.ipv4.ip_forward=0 makes it two walls"
        );
    }
    Ok(())
}

/// Deletes namespaces and root-side links named by this module whose process is gone.
fn clean_stale() {
    let alive = |pid: &str| pid.parse::<u32>().is_ok_and(|p| Path::new(&format!("/proc/{p}")).exists());
    if let Ok(list) = ip_output(&["netns", "list"]) {
        for name in list.lines().filter_map(|l| l.split_whitespace().next()) {
            let Some(rest) = name.strip_prefix(NS_PREFIX) else { continue };
            let pid = rest.split('-').next().unwrap_or_default();
            if !alive(pid) {
                tracing::info!(ns = name, "deleting a namespace left by a dead run");
                let _ = ip(&["netns", "del", name]);
            }
        }
    }
    if let Ok(links) = ip_output(&["-o", "link", "show"]) {
        for name in links.lines().filter_map(|l| l.split(':').nth(1)).map(|n| n.trim()) {
            let name = name.split('@').next().unwrap_or(name);
            let Some(rest) = name.strip_prefix(LINK_PREFIX) else { continue };
            let mut parts = rest.split('-');
            let (Some(pid36), Some(_), Some(_), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let Ok(pid) = u32::from_str_radix(pid36, 36) else { continue };
            if !alive(&pid.to_string()) {
                tracing::info!(dev = name, "deleting a link left by a dead run");
                let _ = ip(&["link", "del", name]);
            }
        }
    }
}

/// A 10.X.Y.0/24 (X in 100..200) no interface of the root namespace uses, derived from the pid.
fn free_subnet(pid: u32, instance: u32) -> anyhow::Result<[u8; 3]> {
    let used = ip_output(&["-4", "-o", "addr", "show"])?;
    let start = pid.wrapping_mul(16).wrapping_add(instance);
    for step in 0..25_600u32 {
        let key = start.wrapping_add(step.wrapping_mul(7919)) % 25_600;
        let (x, y) = (100 + (key / 256) as u8, (key % 256) as u8);
        if !used.contains(&format!(" 10.{x}.{y}.")) {
            return Ok([10, x, y]);
        }
    }
    bail!("no free 10.X.Y.0/24 (X in 100..200) in the root namespace")
}

fn base36(mut n: u32) -> String {
    let digits = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(digits[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).expect("ASCII digits")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_names_fit_the_kernel_limit_and_parse_back() {
        let pid = 4_194_304; // the largest pid_max
        let name = format!("{LINK_PREFIX}{}-{}-{}", base36(pid), 99, HOSTS_MAX - 1);
        assert!(name.len() <= 15, "{name} is longer than IFNAMSIZ - 1");
        assert!(format!("{name}p").len() <= 15);
        assert_eq!(u32::from_str_radix(&base36(pid), 36).unwrap(), pid);
        assert_eq!(base36(0), "0");
    }
}
