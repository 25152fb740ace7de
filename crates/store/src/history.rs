//! The chain's immutable history outside sled: three append-only files in
//! `DATA/history/` (format in [`crate::layout`], "History files"):
//!
//! - `blocks`: one checksummed record per height, the block and its commit;
//! - `heights`: the byte offset of each height's record in `blocks`;
//! - `log`: the collectible log's nodes in the order they are created;
//! - `leaves`: where each log leaf's transaction starts in `blocks`.
//!
//! A block's history is written and **fdatasync'ed before** its state batch
//! goes to sled ([`crate::Store::commit_block`]), so on disk the history is
//! never behind the state. After a crash it may be ahead (the history of a
//! block whose state never landed, perhaps torn): [`History::recover`]
//! truncates every file back to the state's tip. History behind the state
//! (a file lost or cut short after it was synced) is not a crash outcome and
//! is reported as [`StoreError::Corrupt`].
//!
//! Reads are positional (`pread`), need no lock and never see a record
//! being written: callers only ask for heights and log sizes the committed
//! tip covers.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use keepsake_types::Hash32;
use tracing::warn;

use crate::layout::{self, NODE_BYTES, RECORD_HEADER_BYTES};
use crate::{Result, StoreError};

/// File names inside the history directory.
pub const BLOCKS_FILE: &str = "blocks";
/// See [`BLOCKS_FILE`].
pub const HEIGHTS_FILE: &str = "heights";
/// See [`BLOCKS_FILE`].
pub const LOG_FILE: &str = "log";
/// See [`BLOCKS_FILE`].
pub const LEAVES_FILE: &str = "leaves";

/// Bytes of one `heights` entry.
const HEIGHT_ENTRY_BYTES: u64 = 8;
/// Bytes of one `leaves` entry.
const LEAF_ENTRY_BYTES: u64 = 8;

/// How far each file extends over committed blocks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Lengths {
    /// Heights with a record (the tip's height).
    pub(crate) heights: u64,
    /// Bytes of `blocks` holding those records.
    pub(crate) block_bytes: u64,
    /// Log nodes stored (`layout::log_nodes_for(log_size)`).
    pub(crate) log_nodes: u64,
    /// Leaves with an entry in `leaves` (the log size).
    pub(crate) leaves: u64,
}

/// One record of the `blocks` file, as read back.
pub(crate) struct Record {
    /// The encoded block.
    pub(crate) block: Vec<u8>,
    /// The encoded commit.
    pub(crate) commit: Vec<u8>,
}

/// Upper bounds for a record's two parts (from the genesis parameters).
#[derive(Clone, Copy, Debug)]
pub(crate) struct RecordBounds {
    pub(crate) block_bytes_max: usize,
    pub(crate) commit_bytes_max: usize,
}

/// The three open files and the lengths that belong to committed blocks.
pub(crate) struct History {
    dir: PathBuf,
    blocks: File,
    heights: File,
    log: File,
    leaves: File,
    /// Set by [`History::recover`] and by each successful commit; the next
    /// append writes exactly there (truncating what a failed commit left).
    committed: Mutex<Lengths>,
}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("History").field("dir", &self.dir).finish_non_exhaustive()
    }
}

fn io(what: String) -> impl FnOnce(std::io::Error) -> StoreError {
    move |source| StoreError::History { what, source }
}

fn corrupt<T>(message: String) -> Result<T> {
    Err(StoreError::Corrupt(message))
}

impl History {
    /// Opens the history directory `dir` to read and append, creating what is missing.
    pub(crate) fn open(dir: &Path) -> Result<History> {
        std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
        Self::open_with(dir, true)
    }

    /// Opens an existing history directory to read only (auditors).
    pub(crate) fn open_read_only(dir: &Path) -> Result<History> {
        Self::open_with(dir, false)
    }

    fn open_with(dir: &Path, write: bool) -> Result<History> {
        let open = |name: &str| -> Result<File> {
            let path = dir.join(name);
            OpenOptions::new()
                .read(true)
                .write(write)
                .create(write)
                .truncate(false)
                .open(&path)
                .map_err(io(format!("opening {}", path.display())))
        };
        Ok(History {
            dir: dir.to_path_buf(),
            blocks: open(BLOCKS_FILE)?,
            heights: open(HEIGHTS_FILE)?,
            log: open(LOG_FILE)?,
            leaves: open(LEAVES_FILE)?,
            committed: Mutex::new(Lengths::default()),
        })
    }

    /// Brings the files in line with the state, committed up to `height`
    /// with `log_size` leaves, after checking that the history holds at
    /// least that much and that the tip's record is whole:
    ///
    /// - the whole records past the state's tip (blocks whose state batch a
    ///   crash lost) are kept and returned, in height order, for the store to
    ///   apply again ([`crate::Store::open`]);
    /// - the first record that is not whole (cut short by a crash, or failing
    ///   its checksum) and everything after it are cut off, as are the log
    ///   nodes past the state's log size (re-appended as blocks are applied).
    pub(crate) fn recover(&self, height: u64, log_size: u64, bounds: RecordBounds) -> Result<Vec<Record>> {
        let heights_len = self.file_len(&self.heights, HEIGHTS_FILE)?;
        let stored_heights = heights_len / HEIGHT_ENTRY_BYTES;
        if stored_heights < height {
            return corrupt(format!(
                "the history holds {stored_heights} blocks but the state is at height {height}: \
                 history files were lost or cut short; re-sync this node from its peers"
            ));
        }
        let block_bytes = if height == 0 {
            0
        } else {
            let offset = self.offset_of(height)?;
            let (length, _) = self.read_record_at(offset, height, bounds)?;
            offset + length
        };
        let log_nodes = layout::log_nodes_for(log_size);
        let stored_nodes = self.file_len(&self.log, LOG_FILE)? / NODE_BYTES as u64;
        if stored_nodes < log_nodes {
            return corrupt(format!(
                "the history's log holds {stored_nodes} nodes but a log of {log_size} leaves has {log_nodes}: \
                 history files were lost or cut short; re-sync this node from its peers"
            ));
        }
        let leaves_len = self.file_len(&self.leaves, LEAVES_FILE)?;
        if leaves_len / LEAF_ENTRY_BYTES < log_size {
            return corrupt(format!(
                "the history's leaf index holds {} leaves but the log has {log_size}: \
                 history files were lost or cut short; re-sync this node from its peers",
                leaves_len / LEAF_ENTRY_BYTES
            ));
        }
        // The whole records past the tip, each where the previous one ends.
        let mut replay = Vec::new();
        let mut end = block_bytes;
        for h in height + 1..=stored_heights {
            if self.offset_of(h)? != end {
                break;
            }
            match self.read_record_at(end, h, bounds) {
                Ok((length, record)) => {
                    replay.push(record);
                    end += length;
                }
                Err(StoreError::Corrupt(why)) => {
                    warn!(height = h, %why, "history: cutting off a record a crash left incomplete");
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        let kept =
            Lengths { heights: height + replay.len() as u64, block_bytes: end, log_nodes, leaves: log_size };
        if self.file_len(&self.blocks, BLOCKS_FILE)? != end
            || heights_len != kept.heights * HEIGHT_ENTRY_BYTES
            || stored_nodes != log_nodes
            || leaves_len != log_size * LEAF_ENTRY_BYTES
        {
            warn!(
                height,
                records_to_apply = replay.len(),
                "history: cutting the files back to the state's tip and the whole records past it"
            );
            self.truncate_to(kept)?;
        }
        *self.committed.lock().unwrap_or_else(PoisonError::into_inner) =
            Lengths { heights: height, block_bytes, log_nodes, leaves: log_size };
        Ok(replay)
    }

    fn file_len(&self, file: &File, name: &str) -> Result<u64> {
        Ok(file.metadata().map_err(io(format!("reading the size of history/{name}")))?.len())
    }

    fn truncate_to(&self, lengths: Lengths) -> Result<()> {
        let cut = |file: &File, name: &str, len: u64| -> Result<()> {
            if self.file_len(file, name)? != len {
                file.set_len(len).map_err(io(format!("truncating history/{name} to {len} bytes")))?;
            }
            Ok(())
        };
        cut(&self.blocks, BLOCKS_FILE, lengths.block_bytes)?;
        cut(&self.heights, HEIGHTS_FILE, lengths.heights * HEIGHT_ENTRY_BYTES)?;
        cut(&self.log, LOG_FILE, lengths.log_nodes * NODE_BYTES as u64)?;
        cut(&self.leaves, LEAVES_FILE, lengths.leaves * LEAF_ENTRY_BYTES)
    }

    /// Heights with an entry in `heights`, whatever the state says (auditors).
    pub(crate) fn stored_heights(&self) -> Result<u64> {
        Ok(self.file_len(&self.heights, HEIGHTS_FILE)? / HEIGHT_ENTRY_BYTES)
    }

    /// The committed lengths (for checks).
    pub(crate) fn committed(&self) -> Lengths {
        *self.committed.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends the record of block `height`, its new log nodes (in creation
    /// order, the first at position `committed.log_nodes`) and the offsets of
    /// its transactions (`tx_offsets`: where each starts inside `block`), and
    /// fdatasyncs the four files. Returns the lengths to pass to
    /// [`History::mark_committed`] once the state batch has landed.
    /// Callers serialise appends (the store's commit lock).
    pub(crate) fn append(
        &self,
        height: u64,
        block: &[u8],
        commit: &[u8],
        nodes: &[Hash32],
        tx_offsets: &[u64],
    ) -> Result<Lengths> {
        let base = self.committed();
        if height != base.heights + 1 {
            return corrupt(format!(
                "history append of block {height} after {} records (a bug of the store)",
                base.heights
            ));
        }
        let record = layout::history_record(height, block, commit).ok_or_else(|| {
            StoreError::Corrupt(format!("block {height} is too large for a history record"))
        })?;
        let record_len = record.len() as u64;
        // A block applied again after a crash (`recover`) finds its record
        // already there: keep it and what follows. Anything else past the
        // committed lengths (a failed commit's leftovers) goes first.
        let kept = self.holds_record_at(height, base.block_bytes, &record)?;
        if kept {
            self.log
                .set_len(base.log_nodes * NODE_BYTES as u64)
                .map_err(io(format!("truncating history/{LOG_FILE}")))?;
            self.leaves
                .set_len(base.leaves * LEAF_ENTRY_BYTES)
                .map_err(io(format!("truncating history/{LEAVES_FILE}")))?;
        } else {
            self.truncate_to(base)?;
            self.blocks
                .write_all_at(&record, base.block_bytes)
                .map_err(io(format!("writing block {height} to history/{BLOCKS_FILE}")))?;
            self.heights
                .write_all_at(&base.block_bytes.to_be_bytes(), base.heights * HEIGHT_ENTRY_BYTES)
                .map_err(io(format!("writing height {height} to history/{HEIGHTS_FILE}")))?;
        }
        let mut node_bytes = Vec::with_capacity(nodes.len() * NODE_BYTES);
        for node in nodes {
            node_bytes.extend_from_slice(&node.0);
        }
        self.log
            .write_all_at(&node_bytes, base.log_nodes * NODE_BYTES as u64)
            .map_err(io(format!("writing the log nodes of block {height} to history/{LOG_FILE}")))?;
        let block_start = base.block_bytes + RECORD_HEADER_BYTES as u64;
        let mut leaf_bytes = Vec::with_capacity(tx_offsets.len() * LEAF_ENTRY_BYTES as usize);
        for offset in tx_offsets {
            leaf_bytes.extend_from_slice(&(block_start + offset).to_be_bytes());
        }
        self.leaves
            .write_all_at(&leaf_bytes, base.leaves * LEAF_ENTRY_BYTES)
            .map_err(io(format!("writing the leaves of block {height} to history/{LEAVES_FILE}")))?;
        // One device flush per file; issued together they overlap (docs/storage.md).
        let synced: [std::io::Result<()>; 4] = std::thread::scope(|s| {
            let blocks = s.spawn(|| self.blocks.sync_data());
            let heights = s.spawn(|| self.heights.sync_data());
            let leaves = s.spawn(|| self.leaves.sync_data());
            let log = self.log.sync_data();
            [join(blocks), join(heights), log, join(leaves)]
        });
        for (result, name) in synced.into_iter().zip([BLOCKS_FILE, HEIGHTS_FILE, LOG_FILE, LEAVES_FILE]) {
            result.map_err(io(format!("fdatasync of history/{name} for block {height}")))?;
        }
        Ok(Lengths {
            heights: height,
            block_bytes: base.block_bytes + record_len,
            log_nodes: base.log_nodes + nodes.len() as u64,
            leaves: base.leaves + tx_offsets.len() as u64,
        })
    }

    /// Whether `heights` has an entry for `height` pointing at `offset` and
    /// `blocks` holds exactly `record` there.
    fn holds_record_at(&self, height: u64, offset: u64, record: &[u8]) -> Result<bool> {
        if self.stored_heights()? < height || self.offset_of(height)? != offset {
            return Ok(false);
        }
        let mut stored = vec![0u8; record.len()];
        match self.blocks.read_exact_at(&mut stored, offset) {
            Ok(()) => Ok(stored == record),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
            Err(e) => Err(StoreError::History { what: format!("reading block {height} back"), source: e }),
        }
    }

    /// Records that the state batch of the last [`History::append`] landed.
    pub(crate) fn mark_committed(&self, lengths: Lengths) {
        *self.committed.lock().unwrap_or_else(PoisonError::into_inner) = lengths;
    }

    /// The offset of `height`'s record in `blocks` (`height >= 1`, stored).
    fn offset_of(&self, height: u64) -> Result<u64> {
        let mut entry = [0u8; HEIGHT_ENTRY_BYTES as usize];
        let at = (height - 1) * HEIGHT_ENTRY_BYTES;
        self.heights
            .read_exact_at(&mut entry, at)
            .map_err(io(format!("reading height {height} from history/{HEIGHTS_FILE}")))?;
        Ok(u64::from_be_bytes(entry))
    }

    /// Reads and checks the record of `height` at `offset`: its header names
    /// that height, its lengths are within `bounds`, its checksum matches.
    /// Returns the record's total length and its parts.
    fn read_record_at(&self, offset: u64, height: u64, bounds: RecordBounds) -> Result<(u64, Record)> {
        let (header, parsed) = self.read_header(offset, height)?;
        let (block_len, commit_len) = (parsed.block_len as usize, parsed.commit_len as usize);
        if block_len > bounds.block_bytes_max || commit_len > bounds.commit_bytes_max {
            return corrupt(format!(
                "the record of block {height} claims {block_len} + {commit_len} bytes, over the bounds of this chain"
            ));
        }
        let mut body = vec![0u8; block_len + commit_len];
        self.read_exact(&self.blocks, &mut body, offset + RECORD_HEADER_BYTES as u64, height)?;
        if layout::record_checksum(&header, &body) != parsed.checksum {
            return corrupt(format!(
                "the record of block {height} in history/{BLOCKS_FILE} fails its checksum"
            ));
        }
        let commit = body.split_off(block_len);
        let total = (RECORD_HEADER_BYTES + block_len + commit_len) as u64;
        Ok((total, Record { block: body, commit }))
    }

    /// The header of the record at `offset`, which must be that of `height`.
    fn read_header(
        &self,
        offset: u64,
        height: u64,
    ) -> Result<([u8; RECORD_HEADER_BYTES], layout::RecordHeader)> {
        let mut header = [0u8; RECORD_HEADER_BYTES];
        self.read_exact(&self.blocks, &mut header, offset, height)?;
        let parsed = layout::RecordHeader::parse(&header);
        if parsed.height != height {
            return corrupt(format!(
                "history/{BLOCKS_FILE} at byte {offset} holds a record of height {}, expected {height}",
                parsed.height
            ));
        }
        Ok((header, parsed))
    }

    /// The record of `height` (`1 <= height <=` a height the caller knows is committed).
    pub(crate) fn record(&self, height: u64, bounds: RecordBounds) -> Result<Record> {
        let offset = self.offset_of(height)?;
        Ok(self.read_record_at(offset, height, bounds)?.1)
    }

    /// The first `max` bytes (fewer if the block is shorter) of the encoded
    /// block at `height`, not checked against the record's checksum: for
    /// decoding its header alone.
    pub(crate) fn block_prefix(&self, height: u64, max: usize) -> Result<Vec<u8>> {
        let offset = self.offset_of(height)?;
        let (_, parsed) = self.read_header(offset, height)?;
        let mut bytes = vec![0u8; (parsed.block_len as usize).min(max)];
        self.read_exact(&self.blocks, &mut bytes, offset + RECORD_HEADER_BYTES as u64, height)?;
        Ok(bytes)
    }

    /// Up to `max` bytes of `blocks` from where log leaf `leaf`'s
    /// transaction starts (fewer at the end of the file), not checked
    /// against the record's checksum: callers check the leaf against its
    /// hash in the log.
    pub(crate) fn leaf_window(&self, leaf: u64, max: usize) -> Result<Vec<u8>> {
        let mut entry = [0u8; LEAF_ENTRY_BYTES as usize];
        self.leaves
            .read_exact_at(&mut entry, leaf * LEAF_ENTRY_BYTES)
            .map_err(io(format!("reading leaf {leaf} from history/{LEAVES_FILE}")))?;
        let offset = u64::from_be_bytes(entry);
        let mut bytes = vec![0u8; max];
        let mut filled = 0;
        while filled < max {
            match self.blocks.read_at(&mut bytes[filled..], offset + filled as u64) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(StoreError::History { what: format!("reading leaf {leaf}"), source: e });
                }
            }
        }
        bytes.truncate(filled);
        Ok(bytes)
    }

    fn read_exact(&self, file: &File, buf: &mut [u8], at: u64, height: u64) -> Result<()> {
        file.read_exact_at(buf, at).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                StoreError::Corrupt(format!(
                    "the record of block {height} in history/{BLOCKS_FILE} is cut short"
                ))
            } else {
                StoreError::History {
                    what: format!("reading block {height} from history/{BLOCKS_FILE}"),
                    source: e,
                }
            }
        })
    }

    /// Log node at creation position `position`, or `None` past the end of the file.
    pub(crate) fn node(&self, position: u64) -> Result<Option<Hash32>> {
        let mut bytes = [0u8; NODE_BYTES];
        match self.log.read_exact_at(&mut bytes, position * NODE_BYTES as u64) {
            Ok(()) => Ok(Some(Hash32(bytes))),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
            Err(e) => Err(StoreError::History { what: format!("reading log node {position}"), source: e }),
        }
    }
}

fn join(handle: std::thread::ScopedJoinHandle<'_, std::io::Result<()>>) -> std::io::Result<()> {
    handle.join().unwrap_or_else(|_| Err(std::io::Error::other("an fdatasync thread panicked")))
}
