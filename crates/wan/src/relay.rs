//! A delaying TCP relay: a WAN's propagation delay in user space (this
//! kernel has no `netem`).
//!
//! Each [`RelayLink`] listens on one address and forwards every accepted
//! connection to one target. Every chunk read from either side is held for
//! the link's one-way delay plus a jitter drawn uniformly from
//! `[-jitter, +jitter]`, and delivered at
//! `max(previous delivery of this direction, arrival + delay + jitter)`:
//! bytes keep their order, and a later chunk never overtakes an earlier one.
//! A half-close (EOF) travels with the same delay; an error on either side
//! closes both. The queue of each direction is bounded ([`QUEUE_CHUNKS`]
//! chunks of at most [`CHUNK_BYTES`]); when full, the relay stops reading and
//! TCP's flow control pushes back on the sender.
//!
//! What it does not model: the relay terminates TCP, so connection set-up
//! and TCP acknowledgements are local (a `connect` completes without the
//! delay; libp2p's Noise and multistream handshakes, which are data, do pay
//! it), there is no loss and no bandwidth limit.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Largest chunk read at once.
pub const CHUNK_BYTES: usize = 64 * 1024;
/// Chunks queued per direction of a connection before the relay stops reading.
pub const QUEUE_CHUNKS: usize = 256;
/// How long the relay waits for the target to accept a connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// One listening address forwarded to one target, with its delay.
#[derive(Clone, Debug)]
pub struct RelayLink {
    /// A label for logs (e.g. `h0->h2`).
    pub name: String,
    /// Where the relay listens.
    pub listen: SocketAddr,
    /// Where it connects for each accepted connection.
    pub target: SocketAddr,
    /// One-way delay, applied in both directions.
    pub delay: Duration,
    /// Uniform jitter added to each chunk's delay, within `[-jitter, +jitter]`.
    pub jitter: Duration,
}

/// Counters of one link (all its connections).
#[derive(Debug, Default)]
pub struct LinkStats {
    /// Bytes delivered to the target (listen side to target side).
    pub bytes_forward: AtomicU64,
    /// Bytes delivered back to the connecting side.
    pub bytes_back: AtomicU64,
    /// Connections accepted.
    pub accepted: AtomicU64,
    /// Connections whose target could not be reached.
    pub connect_failures: AtomicU64,
}

impl LinkStats {
    /// Bytes delivered in both directions.
    pub fn bytes(&self) -> u64 {
        self.bytes_forward.load(Ordering::Relaxed) + self.bytes_back.load(Ordering::Relaxed)
    }
}

/// The running relay; dropping it stops every listener and connection.
#[derive(Debug)]
pub struct Relay {
    links: Vec<(RelayLink, Arc<LinkStats>)>,
    tasks: Vec<JoinHandle<()>>,
    seed: u64,
}

impl Relay {
    /// A relay with no link yet; `seed` makes the jitter reproducible.
    pub fn new(seed: u64) -> Self {
        Self { links: Vec::new(), tasks: Vec::new(), seed }
    }

    /// Binds `link.listen` and starts forwarding (on the current tokio runtime).
    /// Returns the link's index.
    pub async fn add(&mut self, link: RelayLink) -> anyhow::Result<usize> {
        let listener = TcpListener::bind(link.listen)
            .await
            .with_context(|| format!("relay {}: cannot listen on {}", link.name, link.listen))?;
        let stats = Arc::new(LinkStats::default());
        let index = self.links.len();
        let seed = self.seed ^ (index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.tasks.push(tokio::spawn(accept_loop(listener, link.clone(), stats.clone(), seed)));
        tracing::debug!(name = %link.name, listen = %link.listen, target = %link.target, ?link.delay, "relay link");
        self.links.push((link, stats));
        Ok(index)
    }

    /// The links, in the order added.
    pub fn links(&self) -> impl Iterator<Item = (&RelayLink, &LinkStats)> {
        self.links.iter().map(|(l, s)| (l, s.as_ref()))
    }

    /// Link `index`'s counters.
    pub fn stats(&self, index: usize) -> &LinkStats {
        &self.links[index].1
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn accept_loop(listener: TcpListener, link: RelayLink, stats: Arc<LinkStats>, seed: u64) {
    let mut connections = tokio::task::JoinSet::new();
    let mut n: u64 = 0;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (inbound, from) = match accepted {
                    Ok(a) => a,
                    Err(error) => {
                        tracing::debug!(name = %link.name, %error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                n += 1;
                stats.accepted.fetch_add(1, Ordering::Relaxed);
                let (link, stats) = (link.clone(), stats.clone());
                let rng = Rng::new(seed ^ n.wrapping_mul(0xD1B5_4A32_D192_ED03));
                connections.spawn(async move {
                    relay_connection(inbound, from, &link, &stats, rng).await;
                });
            }
            // Reap finished connections so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn relay_connection(
    inbound: TcpStream,
    from: SocketAddr,
    link: &RelayLink,
    stats: &LinkStats,
    rng: Rng,
) {
    let outbound = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(link.target)).await {
        Ok(Ok(s)) => s,
        Ok(Err(error)) => {
            stats.connect_failures.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(name = %link.name, %from, target = %link.target, %error, "target unreachable");
            return;
        }
        Err(_) => {
            stats.connect_failures.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(name = %link.name, %from, target = %link.target, "target did not accept in time");
            return;
        }
    };
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    let (in_read, in_write) = inbound.into_split();
    let (out_read, out_write) = outbound.into_split();
    let delay = Delay { base: link.delay, jitter: link.jitter };
    let forward = pump(in_read, out_write, delay, rng.fork(1), &stats.bytes_forward);
    let back = pump(out_read, in_write, delay, rng.fork(2), &stats.bytes_back);
    // An error in either direction drops the other: both sockets close.
    let outcome = tokio::try_join!(forward, back);
    tracing::trace!(name = %link.name, %from, ?outcome, "relayed connection closed");
}

#[derive(Clone, Copy, Debug)]
struct Delay {
    base: Duration,
    jitter: Duration,
}

/// One direction: read chunks, stamp each with its delivery time, deliver in order.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    delay: Delay,
    mut rng: Rng,
    delivered: &AtomicU64,
) -> std::io::Result<()> {
    let (queue, mut due) = mpsc::channel::<(Instant, Option<Vec<u8>>)>(QUEUE_CHUNKS);
    let reader = async move {
        let mut buf = vec![0u8; CHUNK_BYTES];
        let mut last = Instant::now();
        loop {
            let n = from.read(&mut buf).await?;
            let at = (Instant::now() + rng.delay(delay)).max(last);
            last = at;
            let chunk = (n > 0).then(|| buf[..n].to_vec());
            if queue.send((at, chunk)).await.is_err() || n == 0 {
                return Ok::<(), std::io::Error>(());
            }
        }
    };
    let writer = async move {
        while let Some((at, chunk)) = due.recv().await {
            tokio::time::sleep_until(at).await;
            match chunk {
                Some(bytes) => {
                    to.write_all(&bytes).await?;
                    delivered.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                }
                None => {
                    to.shutdown().await?;
                    break;
                }
            }
        }
        Ok::<(), std::io::Error>(())
    };
    tokio::try_join!(reader, writer).map(|_| ())
}

/// splitmix64: a few random bits for the jitter, no dependency.
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn fork(&self, stream: u64) -> Self {
        Self(self.0 ^ stream.wrapping_mul(0xA076_1D64_78BD_642F))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// `base` plus a uniform draw in `[-jitter, +jitter]` (never below zero).
    fn delay(&mut self, d: Delay) -> Duration {
        let jitter = d.jitter.as_micros() as u64;
        if jitter == 0 {
            return d.base;
        }
        let offset = self.next() % (2 * jitter + 1);
        (d.base + Duration::from_micros(offset)).saturating_sub(d.jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_its_bounds() {
        let mut rng = Rng::new(7);
        let d = Delay { base: Duration::from_millis(25), jitter: Duration::from_millis(5) };
        for _ in 0..10_000 {
            let x = rng.delay(d);
            assert!(x >= Duration::from_millis(20) && x <= Duration::from_millis(30), "{x:?}");
        }
        let none = Delay { base: Duration::from_millis(3), jitter: Duration::ZERO };
        assert_eq!(rng.delay(none), Duration::from_millis(3));
    }

    /// Bytes arrive complete and in order through a jittery link, a
    /// half-close travels through, and the counters count them. (Delays are
    /// not asserted: tests never assert wall-clock times.)
    #[tokio::test]
    async fn relays_bytes_in_order_and_passes_eof() {
        let target = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target_addr = target.local_addr().unwrap();
        // An echo server that answers after reading everything.
        let server = tokio::spawn(async move {
            let (mut s, _) = target.accept().await.unwrap();
            let mut all = Vec::new();
            s.read_to_end(&mut all).await.unwrap();
            s.write_all(&all).await.unwrap();
            s.shutdown().await.unwrap();
        });
        let probe = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let listen = probe.local_addr().unwrap();
        drop(probe);
        let mut relay = Relay::new(1);
        let link = RelayLink {
            name: "test".into(),
            listen,
            target: target_addr,
            delay: Duration::from_millis(2),
            jitter: Duration::from_millis(2),
        };
        let index = relay.add(link).await.unwrap();
        let mut c = TcpStream::connect(listen).await.unwrap();
        let sent: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        for piece in sent.chunks(1000) {
            c.write_all(piece).await.unwrap();
        }
        c.shutdown().await.unwrap();
        let mut back = Vec::new();
        tokio::time::timeout(Duration::from_secs(20), c.read_to_end(&mut back)).await.unwrap().unwrap();
        assert!(back == sent, "bytes changed or reordered on the way");
        server.await.unwrap();
        let s = relay.stats(index);
        assert_eq!(s.bytes_forward.load(Ordering::Relaxed), sent.len() as u64);
        assert_eq!(s.bytes_back.load(Ordering::Relaxed), sent.len() as u64);
        assert_eq!(s.accepted.load(Ordering::Relaxed), 1);
    }
}
