//! The replication log: the single, totally ordered stream of write effects.
//!
//! Every write command appends its *effects* here while it holds the keyspace's write
//! sequencer (see `store::WriteTxn`), so "apply to the keyspace" and "append to the log"
//! are one step with respect to every other write (invariant 1 in docs/ARCHITECTURE.md).
//! Offsets count the bytes of the RESP stream exactly as Redis's `master_repl_offset`
//! does (invariant 5):
//! commands are encoded as RESP arrays of bulk strings, a `SELECT` is emitted whenever the
//! target database changes, and a transaction is wrapped in MULTI/EXEC when it propagates
//! more than one command.
//!
//! As in Redis, nothing is recorded (and the offset does not move) until the backlog is
//! created, which happens when the first follower attaches.

use bytes::BytesMut;
use std::collections::VecDeque;

/// The bounded ring of recent stream bytes followers resync from (`repl-backlog-size`).
#[derive(Debug)]
pub struct Backlog {
    data: VecDeque<u8>,
    capacity: usize,
    /// Offset of the first byte still held.
    pub first_byte_offset: u64,
}

impl Backlog {
    /// An empty backlog starting just after `offset`.
    pub fn new(capacity: usize, offset: u64) -> Self {
        Backlog {
            data: VecDeque::with_capacity(capacity.min(1 << 20)),
            capacity: capacity.max(1),
            first_byte_offset: offset + 1,
        }
    }

    /// Bytes currently held (`repl_backlog_histlen`).
    pub fn histlen(&self) -> usize {
        self.data.len()
    }

    /// The configured capacity (`repl_backlog_size`).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn append(&mut self, bytes: &[u8]) {
        self.data.extend(bytes);
        let excess = self.data.len().saturating_sub(self.capacity);
        if excess > 0 {
            self.data.drain(..excess);
            self.first_byte_offset += excess as u64;
        }
    }

    /// The stream bytes from `offset` (inclusive) on, when still held.
    pub fn since(&self, offset: u64) -> Option<Vec<u8>> {
        let end = self.first_byte_offset + self.data.len() as u64;
        if offset < self.first_byte_offset || offset > end {
            return None;
        }
        let skip = (offset - self.first_byte_offset) as usize;
        Some(self.data.iter().skip(skip).copied().collect())
    }
}

/// Sequenced write effects and the offset they reach.
#[derive(Debug)]
pub struct ReplicationLog {
    /// This history's 40-character replication id.
    pub replid: String,
    /// The previous history's id (after a promotion), or 40 zeros.
    pub replid2: String,
    /// `master_repl_offset`: bytes of stream produced so far.
    pub offset: u64,
    /// `second_repl_offset`: up to where `replid2` is valid, or -1.
    pub second_offset: i64,
    /// The ring followers resync from; None until a follower first attaches.
    pub backlog: Option<Backlog>,
    /// The database the stream last SELECTed.
    selected_db: Option<usize>,
    /// Effects of an open transaction, wrapped in MULTI/EXEC on commit.
    pending: Option<Vec<(usize, Vec<Vec<u8>>)>>,
    /// Bytes appended since the last drain, handed to follower links.
    fresh: BytesMut,
    /// While a follower applies its leader's stream, handlers' own effects are not
    /// recorded: the leader's bytes are, verbatim, so offsets stay the leader's.
    pub suppress_effects: bool,
}

/// A new random 40-hex-character replication id.
pub fn new_replid() -> String {
    use rand::RngExt;
    let mut rng = rand::rng();
    (0..40)
        .map(|_| char::from_digit(rng.random_range(0..16u32), 16).unwrap_or('0'))
        .collect()
}

impl Default for ReplicationLog {
    fn default() -> Self {
        ReplicationLog {
            replid: new_replid(),
            replid2: "0".repeat(40),
            offset: 0,
            second_offset: -1,
            backlog: None,
            selected_db: None,
            pending: None,
            fresh: BytesMut::new(),
            suppress_effects: false,
        }
    }
}

impl ReplicationLog {
    /// True when effects are being recorded (a backlog exists).
    pub fn active(&self) -> bool {
        self.backlog.is_some()
    }

    /// Creates the backlog (first follower attaching), as Redis's `createReplicationBacklog`.
    pub fn activate(&mut self, capacity: usize) {
        if self.backlog.is_none() {
            self.backlog = Some(Backlog::new(capacity, self.offset));
            self.selected_db = None;
        }
    }

    /// Appends one effect (a command with its arguments) executed against `db`.
    pub fn append(&mut self, db: usize, args: &[&[u8]]) {
        if !self.active() || self.suppress_effects {
            return;
        }
        if let Some(p) = self.pending.as_mut() {
            p.push((db, args.iter().map(|a| a.to_vec()).collect()));
            return;
        }
        self.write_effect(db, args);
    }

    fn write_effect<A: AsRef<[u8]>>(&mut self, db: usize, args: &[A]) {
        if self.selected_db != Some(db) {
            let d = itoa::Buffer::new().format(db).as_bytes().to_vec();
            self.push_command(&[&b"SELECT"[..], &d]);
            self.selected_db = Some(db);
        }
        self.push_command(args);
    }

    /// Encodes a command straight into the fresh bytes and records it (no temporary).
    fn push_command<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        let start = self.fresh.len();
        crate::base::encode_command(&mut self.fresh, args);
        let added = &self.fresh[start..];
        self.offset += added.len() as u64;
        if let Some(b) = self.backlog.as_mut() {
            b.append(added);
        }
    }

    fn push_bytes(&mut self, bytes: &[u8]) {
        self.offset += bytes.len() as u64;
        if let Some(b) = self.backlog.as_mut() {
            b.append(bytes);
        }
        self.fresh.extend_from_slice(bytes);
    }

    /// Starts a transaction: later effects are held until `commit`.
    pub fn begin(&mut self) {
        if self.active() && self.pending.is_none() {
            self.pending = Some(Vec::new());
        }
    }

    /// True between [`ReplicationLog::begin`] and [`ReplicationLog::commit`] (a script
    /// inside EXEC joins the transaction's wrapping instead of starting its own).
    pub fn in_transaction(&self) -> bool {
        self.pending.is_some()
    }

    /// Ends a transaction, wrapping its effects in MULTI/EXEC when there are several.
    pub fn commit(&mut self) {
        let Some(effects) = self.pending.take() else {
            return;
        };
        match effects.len() {
            0 => {}
            1 => {
                let (db, args) = &effects[0];
                self.write_effect(*db, args);
            }
            _ => {
                // SELECT goes before MULTI, as stock writes it.
                let first_db = effects[0].0;
                if self.selected_db != Some(first_db) {
                    let d = itoa::Buffer::new().format(first_db).as_bytes().to_vec();
                    self.push_command(&[&b"SELECT"[..], &d]);
                    self.selected_db = Some(first_db);
                }
                self.push_command(&[b"MULTI"]);
                for (db, args) in &effects {
                    let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
                    self.write_effect(*db, &refs);
                }
                self.push_command(&[b"EXEC"]);
            }
        }
    }

    /// The bytes appended since the last [`ReplicationLog::clear_fresh`], for delivery
    /// to follower links.
    pub fn fresh(&self) -> &[u8] {
        &self.fresh
    }

    /// Marks the fresh bytes delivered; the buffer is kept for the next write.
    pub fn clear_fresh(&mut self) {
        self.fresh.clear();
        if self.fresh.capacity() > 1 << 20 {
            self.fresh = BytesMut::new();
        }
    }

    /// True when bytes wait to be handed to followers.
    pub fn has_fresh(&self) -> bool {
        !self.fresh.is_empty()
    }

    /// Appends a command that belongs to no database (the leader's PING, REPLCONF
    /// GETACK): no SELECT is emitted for it, as Redis does.
    pub fn append_global(&mut self, args: &[&[u8]]) {
        if !self.active() {
            return;
        }
        self.push_command(args);
    }

    /// Records bytes received from this node's leader exactly as they came (a follower's
    /// log mirrors its leader's, so sub-followers and offsets agree).
    pub fn append_raw(&mut self, bytes: &[u8]) {
        self.push_bytes(bytes);
    }

    /// Starts a new history at `offset` under `replid` (after a full sync from a leader).
    pub fn reset_history(&mut self, replid: &str, offset: u64, backlog_size: usize) {
        self.replid = replid.to_string();
        self.replid2 = "0".repeat(40);
        self.second_offset = -1;
        self.offset = offset;
        self.backlog = Some(Backlog::new(backlog_size, offset));
        self.selected_db = None;
        self.fresh.clear();
    }

    /// Switches to a new replication id keeping the old one as `replid2` valid up to the
    /// current offset: a promoted follower, or a leader that changed id (`+CONTINUE <id>`).
    pub fn shift_replid(&mut self, new_id: Option<&str>) {
        self.replid2 = std::mem::take(&mut self.replid);
        self.second_offset = self.offset as i64 + 1;
        self.replid = new_id.map_or_else(new_replid, str::to_string);
    }

    /// Forgets which database the stream selected, so the next command re-selects it:
    /// a follower starting from a snapshot has no selected database yet.
    pub fn reset_selected_db(&mut self) {
        self.selected_db = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_count_stream_bytes() {
        let mut log = ReplicationLog::default();
        log.append(0, &[b"SET", b"k", b"v"]);
        assert_eq!(log.offset, 0, "inactive log records nothing, like Redis");
        log.activate(1024);
        log.append(0, &[b"SET", b"k", b"v"]);
        let select = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n".len();
        let set = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n".len();
        assert_eq!(log.offset as usize, select + set);
        log.append(0, &[b"SET", b"k", b"v"]);
        assert_eq!(log.offset as usize, select + 2 * set);
        let all = log.backlog.as_ref().unwrap().since(1).unwrap();
        assert_eq!(all.len(), select + 2 * set);
    }

    #[test]
    fn transactions_wrap_multiple_effects() {
        let mut log = ReplicationLog::default();
        log.activate(1 << 20);
        log.begin();
        log.append(1, &[b"DEL", b"a"]);
        log.append(1, &[b"DEL", b"b"]);
        log.commit();
        let text = String::from_utf8_lossy(log.fresh()).into_owned();
        // The database is selected before the transaction opens, as stock does.
        assert!(text.starts_with("*2\r\n$6\r\nSELECT\r\n$1\r\n1\r\n*1\r\n$5\r\nMULTI"));
        assert_eq!(text.matches("SELECT").count(), 1);
        assert!(text.ends_with("*1\r\n$4\r\nEXEC\r\n"));
    }
}
