//! The stream type: entries in ID order, grouped in nodes as Redis groups them in
//! listpacks, plus consumer groups with their pending entries.
//!
//! Nodes matter for behaviour, not only for memory: approximate trimming (`MAXLEN ~`,
//! `MINID ~`) removes whole nodes only, so the number of entries XADD/XTRIM remove, and
//! what a replica is told to trim, depend on where nodes start. A node is closed, as in
//! Redis, when its listpack would reach `stream-node-max-bytes` or holds
//! `stream-node-max-entries` entries (live and deleted); its byte size is computed with
//! the listpack encoding so the boundaries fall where stock's do.

use super::StrBytes;
use crate::rdb::ListpackBuilder;
use std::collections::{BTreeMap, BTreeSet};

/// A stream entry ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    /// Milliseconds part.
    pub ms: u64,
    /// Sequence part.
    pub seq: u64,
}

impl StreamId {
    /// The smallest ID (`-`).
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    /// The greatest ID (`+`).
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    /// An ID from its parts.
    pub const fn new(ms: u64, seq: u64) -> Self {
        StreamId { ms, seq }
    }

    /// The next ID, None past the greatest.
    pub fn next(self) -> Option<StreamId> {
        if self.seq < u64::MAX {
            Some(StreamId::new(self.ms, self.seq + 1))
        } else if self.ms < u64::MAX {
            Some(StreamId::new(self.ms + 1, 0))
        } else {
            None
        }
    }

    /// The previous ID, None before the smallest.
    pub fn prev(self) -> Option<StreamId> {
        if self.seq > 0 {
            Some(StreamId::new(self.ms, self.seq - 1))
        } else if self.ms > 0 {
            Some(StreamId::new(self.ms - 1, u64::MAX))
        } else {
            None
        }
    }

    /// True for 0-0.
    pub fn is_zero(self) -> bool {
        self == StreamId::MIN
    }
}

/// An ID's `ms-seq` text on the stack: XADD replies with it and propagates it on every
/// call, where going through `fmt` and a `String` cost more than the append itself.
pub struct IdText {
    buf: [u8; 41],
    len: u8,
}

impl IdText {
    /// The text's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }
}

impl StreamId {
    /// The `ms-seq` text without allocating.
    pub fn text(self) -> IdText {
        let mut out = IdText {
            buf: [0; 41],
            len: 0,
        };
        let mut put = |bytes: &[u8]| {
            let at = out.len as usize;
            out.buf[at..at + bytes.len()].copy_from_slice(bytes);
            out.len += bytes.len() as u8;
        };
        put(itoa::Buffer::new().format(self.ms).as_bytes());
        put(b"-");
        put(itoa::Buffer::new().format(self.seq).as_bytes());
        out
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // ASCII digits and one dash: always UTF-8.
        f.write_str(std::str::from_utf8(self.text().as_bytes()).unwrap_or_default())
    }
}

impl From<(u64, u64)> for StreamId {
    fn from((ms, seq): (u64, u64)) -> Self {
        StreamId::new(ms, seq)
    }
}

impl From<StreamId> for (u64, u64) {
    fn from(id: StreamId) -> Self {
        (id.ms, id.seq)
    }
}

/// Field-value pairs of one entry.
pub type Fields = Vec<(StrBytes, StrBytes)>;

/// The `entries-read` value meaning "unknown" (Redis's `SCG_INVALID_ENTRIES_READ`).
pub const ENTRIES_READ_UNKNOWN: i64 = -1;

/// Entry flag: deleted (kept in place until its node goes, as Redis keeps it).
const FLAG_DELETED: u8 = 1;
/// Entry flag: same fields as the node's master entry (only values are stored).
const FLAG_SAMEFIELDS: u8 = 2;

fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Reads a varint at `*pos`; the node's own bytes are always well formed.
fn get_varint(buf: &[u8], pos: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    while let Some(&b) = buf.get(*pos) {
        *pos += 1;
        v |= u64::from(b & 0x7F) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    v
}

fn get_bytes<'a>(buf: &'a [u8], pos: &mut usize) -> &'a [u8] {
    let n = get_varint(buf, pos) as usize;
    let start = (*pos).min(buf.len());
    let end = (start + n).min(buf.len());
    *pos = end;
    &buf[start..end]
}

/// One node: what Redis keeps in one listpack. Entries are packed in one buffer (a
/// flag byte, the ID as a millisecond delta from the master ID and a sequence, then the
/// values alone when the fields are the master entry's, else the field count and the
/// pairs), so a stream costs about what Redis's listpacks cost.
#[derive(Debug, Clone, PartialEq)]
struct Node {
    /// The node's first ID ever (its key in the tree): IDs are stored relative to it.
    master: StreamId,
    /// Fields of the first entry added (entries with the same fields store values only).
    master_fields: Vec<StrBytes>,
    data: Vec<u8>,
    /// Entries held, deleted ones included.
    count: usize,
    /// Live entries.
    live: usize,
    /// The listpack's size in bytes, as Redis would have it.
    bytes: usize,
    /// The last ID stored (deleted or not).
    last: StreamId,
}

/// A stored entry's fields, read in place.
#[derive(Debug, Clone, Copy)]
pub struct EntryFields<'a> {
    master: &'a [StrBytes],
    data: &'a [u8],
    /// Offset of the first stored item (after the field count when there is one).
    body: usize,
    same: bool,
    n: usize,
}

impl<'a> EntryFields<'a> {
    /// Number of field-value pairs.
    pub fn len(&self) -> usize {
        self.n
    }

    /// True when the entry has no fields (never, for an entry XADD accepted).
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + 'a {
        let mut pos = self.body;
        let (master, data, same) = (self.master, self.data, self.same);
        (0..self.n).map(move |i| {
            if same {
                (&master[i][..], get_bytes(data, &mut pos))
            } else {
                let f = get_bytes(data, &mut pos);
                (f, get_bytes(data, &mut pos))
            }
        })
    }

    /// The pairs, copied.
    pub fn to_owned(&self) -> Fields {
        self.iter()
            .map(|(f, v)| (StrBytes::from_slice(f), StrBytes::from_slice(v)))
            .collect()
    }
}

/// One decoded entry header: where it is, its ID and flags, where the next one starts.
#[derive(Clone, Copy)]
struct Slot {
    at: usize,
    id: StreamId,
    flags: u8,
    body: usize,
    n: usize,
    next: usize,
}

fn lp_size(s: &[u8]) -> usize {
    ListpackBuilder::entry_size(s)
}

fn lp_int_size(v: i64) -> usize {
    ListpackBuilder::int_entry_size(v)
}

impl Node {
    fn new(master: StreamId, fields: &Fields) -> Self {
        // Header (6) and terminator (1), then the master entry: count, deleted,
        // number of master fields, the fields, and a 0 terminator.
        let mut bytes = 7 + lp_int_size(1) + lp_int_size(0) + lp_int_size(fields.len() as i64);
        bytes += fields.iter().map(|(f, _)| lp_size(f)).sum::<usize>() + lp_int_size(0);
        Node {
            master,
            master_fields: fields.iter().map(|(f, _)| f.clone()).collect(),
            data: Vec::new(),
            count: 0,
            live: 0,
            bytes,
            last: master,
        }
    }

    fn same_fields(&self, fields: &Fields) -> bool {
        self.master_fields.len() == fields.len()
            && self
                .master_fields
                .iter()
                .zip(fields)
                .all(|(m, (f, _))| m == f)
    }

    /// Bytes one entry adds to this node's listpack (Redis's layout: flags, ID deltas,
    /// fields or values, and the entry's element count).
    fn entry_bytes(&self, id: StreamId, fields: &Fields, same: bool) -> usize {
        let n = fields.len() as i64;
        let mut b = lp_int_size(if same { 2 } else { 0 })
            + lp_int_size(id.ms.wrapping_sub(self.master.ms) as i64)
            + lp_int_size(id.seq.wrapping_sub(self.master.seq) as i64);
        if same {
            b += fields.iter().map(|(_, v)| lp_size(v)).sum::<usize>();
            b += lp_int_size(n + 3);
        } else {
            b += lp_int_size(n);
            b += fields
                .iter()
                .map(|(f, v)| lp_size(f) + lp_size(v))
                .sum::<usize>();
            b += lp_int_size(2 * n + 4);
        }
        b
    }

    fn push(&mut self, id: StreamId, fields: &Fields) {
        let same = self.same_fields(fields);
        self.bytes += self.entry_bytes(id, fields, same);
        let d = &mut self.data;
        d.push(if same { FLAG_SAMEFIELDS } else { 0 });
        put_varint(d, id.ms - self.master.ms);
        put_varint(d, id.seq);
        if same {
            for (_, v) in fields {
                put_varint(d, v.len() as u64);
                d.extend_from_slice(v);
            }
        } else {
            put_varint(d, fields.len() as u64);
            for (f, v) in fields {
                put_varint(d, f.len() as u64);
                d.extend_from_slice(f);
                put_varint(d, v.len() as u64);
                d.extend_from_slice(v);
            }
        }
        self.count += 1;
        self.live += 1;
        self.last = id;
    }

    /// The entry header at `at`.
    fn slot(&self, at: usize) -> Slot {
        let d = &self.data;
        let flags = d[at];
        let mut pos = at + 1;
        let ms = self.master.ms + get_varint(d, &mut pos);
        let seq = get_varint(d, &mut pos);
        let same = flags & FLAG_SAMEFIELDS != 0;
        let n = if same {
            self.master_fields.len()
        } else {
            get_varint(d, &mut pos) as usize
        };
        let body = pos;
        for _ in 0..(if same { n } else { 2 * n }) {
            get_bytes(d, &mut pos);
        }
        Slot {
            at,
            id: StreamId::new(ms, seq),
            flags,
            body,
            n,
            next: pos,
        }
    }

    /// Every entry header, in order.
    fn slots(&self) -> impl DoubleEndedIterator<Item = Slot> + '_ {
        let mut v = Vec::with_capacity(self.count);
        let mut at = 0;
        while at < self.data.len() {
            let s = self.slot(at);
            at = s.next;
            v.push(s);
        }
        v.into_iter()
    }

    fn fields(&self, s: &Slot) -> EntryFields<'_> {
        EntryFields {
            master: &self.master_fields,
            data: &self.data,
            body: s.body,
            same: s.flags & FLAG_SAMEFIELDS != 0,
            n: s.n,
        }
    }

    fn find(&self, id: StreamId) -> Option<Slot> {
        if id > self.last {
            return None;
        }
        self.slots().find(|s| s.id == id)
    }

    fn mark_deleted(&mut self, s: &Slot) {
        self.data[s.at] |= FLAG_DELETED;
        self.live -= 1;
    }
}

/// A pending entry of a consumer group: delivered, not yet acknowledged.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingEntry {
    /// The consumer it was last delivered to.
    pub consumer: StrBytes,
    /// When it was last delivered (unix ms).
    pub delivery_time: u64,
    /// How many times it was delivered.
    pub delivery_count: u64,
}

/// A consumer of a group.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Consumer {
    /// Last time the consumer read or claimed (unix ms): XINFO's `idle`.
    pub seen_time: u64,
    /// IDs pending for this consumer (each also in the group's PEL).
    pub pel: BTreeSet<StreamId>,
}

/// A consumer group.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsumerGroup {
    /// The last ID delivered to the group.
    pub last_id: StreamId,
    /// Entries the group has read (its logical read counter), or
    /// [`ENTRIES_READ_UNKNOWN`].
    pub entries_read: i64,
    /// Pending entries, by ID.
    pub pel: BTreeMap<StreamId, PendingEntry>,
    /// Consumers by name.
    pub consumers: BTreeMap<StrBytes, Consumer>,
}

impl ConsumerGroup {
    /// A group starting after `last_id`.
    pub fn new(last_id: StreamId, entries_read: i64) -> Self {
        ConsumerGroup {
            last_id,
            entries_read,
            pel: BTreeMap::new(),
            consumers: BTreeMap::new(),
        }
    }

    /// Removes a pending entry from the group and its consumer; true if it was pending.
    pub fn ack(&mut self, id: StreamId) -> bool {
        match self.pel.remove(&id) {
            Some(p) => {
                if let Some(c) = self.consumers.get_mut(&p.consumer) {
                    c.pel.remove(&id);
                }
                true
            }
            None => false,
        }
    }

    /// Makes `id` pending for `consumer` (created if missing), moving it from another
    /// consumer if it was pending there.
    pub fn assign(&mut self, id: StreamId, consumer: &[u8], time: u64, count: u64) {
        if let Some(old) = self.pel.get(&id)
            && old.consumer[..] != *consumer
            && let Some(c) = self.consumers.get_mut(&old.consumer)
        {
            c.pel.remove(&id);
        }
        self.pel.insert(
            id,
            PendingEntry {
                consumer: StrBytes::from_slice(consumer),
                delivery_time: time,
                delivery_count: count,
            },
        );
        self.consumers
            .entry(StrBytes::from_slice(consumer))
            .or_default()
            .pel
            .insert(id);
    }
}

/// A stream value.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StreamValue {
    nodes: BTreeMap<StreamId, Node>,
    /// Live entries.
    pub length: u64,
    /// The greatest ID ever added (or set by XSETID).
    pub last_id: StreamId,
    /// The first live entry's ID (0-0 when empty).
    pub first_id: StreamId,
    /// The greatest ID ever deleted by XDEL.
    pub max_deleted_id: StreamId,
    /// Entries ever added.
    pub entries_added: u64,
    /// Consumer groups by name.
    pub groups: BTreeMap<StrBytes, ConsumerGroup>,
}

/// Node size limits in force when appending.
#[derive(Debug, Clone, Copy)]
pub struct NodeLimits {
    /// `stream-node-max-bytes` (0: no limit).
    pub max_bytes: usize,
    /// `stream-node-max-entries` (0: no limit).
    pub max_entries: usize,
}

impl NodeLimits {
    /// The limits set on a store.
    pub fn of(l: &super::encoding::EncodingLimits) -> Self {
        use super::encoding::limit;
        NodeLimits {
            max_bytes: limit(&l.stream_node_max_bytes),
            max_entries: limit(&l.stream_node_max_entries),
        }
    }
}

/// The largest listpack Redis builds (1 GB): also the bound on one entry's total size.
pub const MAX_NODE_BYTES: usize = 1 << 30;

/// How to trim.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Trim {
    /// Keep at most this many entries.
    MaxLen(u64),
    /// Remove entries below this ID.
    MinId(StreamId),
}

impl StreamValue {
    /// Number of live entries.
    pub fn len(&self) -> usize {
        self.length as usize
    }

    /// Streams are never deleted for being empty (Redis keeps an empty stream).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Number of nodes (XINFO's `radix-tree-keys`).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Appends an entry with ID `id` (greater than `last_id`, checked by the caller).
    pub fn append(&mut self, id: StreamId, fields: Fields, limits: NodeLimits) {
        let total: usize = fields.iter().map(|(f, v)| f.len() + v.len()).sum();
        let max_bytes = match limits.max_bytes {
            0 => MAX_NODE_BYTES,
            b => b.min(MAX_NODE_BYTES),
        };
        let need_new = match self.nodes.last_key_value() {
            None => true,
            Some((_, n)) => {
                n.bytes + total >= max_bytes
                    || (limits.max_entries != 0 && n.count >= limits.max_entries)
            }
        };
        if need_new {
            // The closed node will not grow again: give back its spare capacity.
            if let Some((_, last)) = self.nodes.iter_mut().next_back() {
                last.data.shrink_to_fit();
            }
            self.nodes.insert(id, Node::new(id, &fields));
        }
        let (_, node) = self.nodes.iter_mut().next_back().expect("a node exists");
        node.push(id, &fields);
        if self.length == 0 {
            self.first_id = id;
        }
        self.length += 1;
        self.entries_added += 1;
        self.last_id = id;
    }

    /// Live entries from `start` to `end` inclusive, in order (reversed when `rev`).
    pub fn range(
        &self,
        start: StreamId,
        end: StreamId,
        rev: bool,
    ) -> Box<dyn Iterator<Item = (StreamId, EntryFields<'_>)> + '_> {
        if start > end {
            return Box::new(std::iter::empty());
        }
        let from = self
            .nodes
            .range(..=start)
            .next_back()
            .map_or(start, |(k, _)| *k);
        let live = move |s: &Slot| s.flags & FLAG_DELETED == 0 && s.id >= start && s.id <= end;
        let nodes = self
            .nodes
            .range(from..=end)
            .map(|(_, n)| n)
            .filter(move |n| n.last >= start);
        if rev {
            Box::new(nodes.rev().flat_map(move |n| {
                n.slots()
                    .rev()
                    .filter(live)
                    .map(move |s| (s.id, n.fields(&s)))
            }))
        } else {
            Box::new(
                nodes
                    .flat_map(move |n| n.slots().filter(live).map(move |s| (s.id, n.fields(&s))))
                    .take_while(move |(id, _)| *id <= end),
            )
        }
    }

    /// The entry with ID `id`, if live.
    pub fn get(&self, id: StreamId) -> Option<EntryFields<'_>> {
        let (_, n) = self.nodes.range(..=id).next_back()?;
        let s = n.find(id)?;
        (s.flags & FLAG_DELETED == 0).then(|| n.fields(&s))
    }

    /// The first or last live entry's ID.
    pub fn edge(&self, last: bool) -> Option<StreamId> {
        let mut it = self.range(StreamId::MIN, StreamId::MAX, last);
        it.next().map(|(id, _)| id)
    }

    /// The first entry's ID, counting deleted entries still held in the first node (what
    /// Redis's trim rewrites a `MINID ~` to).
    pub fn first_entry_any(&self) -> Option<StreamId> {
        let n = self.nodes.values().next()?;
        (!n.data.is_empty()).then(|| n.slot(0).id)
    }

    /// Nodes of the radix tree Redis would index the nodes with (XINFO's
    /// `radix-tree-nodes`): keys are 16-byte big-endian master IDs; the tree has a
    /// node per branching point, per key end, and one per compressed run between them.
    pub fn rax_nodes(&self) -> usize {
        let keys: Vec<[u8; 16]> = self
            .nodes
            .keys()
            .map(|id| {
                let mut k = [0u8; 16];
                k[..8].copy_from_slice(&id.ms.to_be_bytes());
                k[8..].copy_from_slice(&id.seq.to_be_bytes());
                k
            })
            .collect();
        if keys.is_empty() {
            return 1;
        }
        // Returns (depth of the subtree's top compacted node, rax nodes below it).
        fn subtree(keys: &[[u8; 16]]) -> (usize, usize) {
            if keys.len() == 1 {
                return (16, 0);
            }
            let (first, last) = (&keys[0], &keys[keys.len() - 1]);
            let depth = first.iter().zip(last).take_while(|(a, b)| a == b).count();
            let mut nodes = 0;
            let mut i = 0;
            while i < keys.len() {
                let b = keys[i][depth];
                let j = i + keys[i..].iter().take_while(|k| k[depth] == b).count();
                let (child_depth, below) = subtree(&keys[i..j]);
                nodes += below + if child_depth - depth == 1 { 1 } else { 2 };
                i = j;
            }
            (depth, nodes)
        }
        let (top, below) = subtree(&keys);
        1 + usize::from(top != 0) + below
    }

    /// Deletes one entry (XDEL); true if it was live.
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some((&master, n)) = self.nodes.range_mut(..=id).next_back() else {
            return false;
        };
        let Some(slot) = n.find(id) else {
            return false;
        };
        if slot.flags & FLAG_DELETED != 0 {
            return false;
        }
        n.mark_deleted(&slot);
        if n.live == 0 {
            self.nodes.remove(&master);
        }
        self.length -= 1;
        if id > self.max_deleted_id {
            self.max_deleted_id = id;
        }
        if self.length == 0 {
            self.first_id = StreamId::MIN;
        } else if id == self.first_id {
            self.first_id = self.edge(false).unwrap_or_default();
        }
        true
    }

    /// Trims as XTRIM/XADD do; `limit` (0: none) caps the entries removed, `approx` only
    /// removes whole nodes. Returns the number of entries removed.
    pub fn trim(&mut self, how: Trim, approx: bool, limit: u64) -> u64 {
        let mut deleted = 0u64;
        while let Some((&master, node)) = self.nodes.first_key_value() {
            if let Trim::MaxLen(max) = how
                && self.length <= max
            {
                break;
            }
            let entries = node.live as u64;
            if limit != 0 && deleted + entries > limit {
                break;
            }
            let remove_node = match how {
                Trim::MaxLen(max) => self.length - entries >= max,
                Trim::MinId(min) => node.last < min,
            };
            if remove_node {
                self.nodes.remove(&master);
                self.length -= entries;
                deleted += entries;
                continue;
            }
            if approx {
                break;
            }
            let node = self.nodes.get_mut(&master).expect("node present");
            let slots: Vec<Slot> = node.slots().collect();
            for slot in slots {
                let stop = match how {
                    Trim::MaxLen(max) => self.length <= max,
                    Trim::MinId(min) => slot.id >= min,
                };
                if stop {
                    break;
                }
                if slot.flags & FLAG_DELETED == 0 {
                    node.mark_deleted(&slot);
                    self.length -= 1;
                    deleted += 1;
                }
            }
            break;
        }
        if self.length == 0 {
            self.first_id = StreamId::MIN;
        } else if deleted > 0 {
            self.first_id = self.edge(false).unwrap_or_default();
        }
        deleted
    }

    /// The entries-read counter an ID corresponds to, when it can be known (Redis's
    /// `streamEstimateDistanceFromFirstEverEntry`).
    pub fn estimate_entries_read(&self, id: StreamId) -> i64 {
        if self.entries_added == 0 {
            return 0;
        }
        if self.length == 0 && id <= self.last_id {
            return self.entries_added as i64;
        }
        if id == self.last_id {
            return self.entries_added as i64;
        }
        if id > self.last_id {
            return ENTRIES_READ_UNKNOWN;
        }
        if self.max_deleted_id.is_zero() || self.max_deleted_id < self.first_id {
            if id < self.first_id {
                return (self.entries_added - self.length) as i64;
            }
            if id == self.first_id {
                return (self.entries_added - self.length + 1) as i64;
            }
        }
        ENTRIES_READ_UNKNOWN
    }

    /// True when a deleted entry may lie in `start..` (Redis's
    /// `streamRangeHasTombstones` with no end).
    pub fn has_tombstones_from(&self, start: StreamId) -> bool {
        if self.length == 0 || self.max_deleted_id.is_zero() {
            return false;
        }
        if self.first_id > self.max_deleted_id {
            return false;
        }
        start <= self.max_deleted_id
    }

    /// Advances a group past `id` as delivering it does, keeping its read counter.
    pub fn advance_group(&self, group: &mut ConsumerGroup, id: StreamId) {
        if id <= group.last_id {
            return;
        }
        if group.entries_read != ENTRIES_READ_UNKNOWN && !self.has_tombstones_from(id) {
            group.entries_read += 1;
        } else if self.entries_added != 0 {
            group.entries_read = self.estimate_entries_read(id);
        }
        group.last_id = id;
    }

    /// A group's lag (entries not yet delivered to it), None when not computable.
    pub fn group_lag(&self, group: &ConsumerGroup) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if group.entries_read != ENTRIES_READ_UNKNOWN && !self.has_tombstones_from(group.last_id) {
            return Some(self.entries_added as i64 - group.entries_read);
        }
        match self.estimate_entries_read(group.last_id) {
            ENTRIES_READ_UNKNOWN => None,
            read => Some(self.entries_added as i64 - read),
        }
    }

    /// The nodes as (master ID, live entries), for persistence.
    pub fn nodes(
        &self,
    ) -> impl Iterator<Item = (StreamId, impl Iterator<Item = (StreamId, EntryFields<'_>)>)> {
        self.nodes.iter().map(|(k, n)| {
            (
                *k,
                n.slots()
                    .filter(|s| s.flags & FLAG_DELETED == 0)
                    .map(move |s| (s.id, n.fields(&s))),
            )
        })
    }

    /// Rebuilds a stream node by node, as loaded from RDB (entries in ID order).
    pub fn push_node(&mut self, master: StreamId, entries: Vec<(StreamId, Fields)>) {
        let Some(first) = entries.first() else {
            return;
        };
        let mut node = Node::new(master, &first.1);
        for (id, fields) in &entries {
            node.push(*id, fields);
        }
        node.data.shrink_to_fit();
        self.nodes.insert(master, node);
    }

    /// Heap bytes (MEMORY USAGE): the packed nodes, their tree slots and the group
    /// bookkeeping.
    pub fn heap_size(&self) -> usize {
        let nodes: usize = self
            .nodes
            .values()
            .map(|n| {
                n.data.capacity()
                    + n.master_fields.iter().map(|f| f.len() + 24).sum::<usize>()
                    + std::mem::size_of::<Node>()
                    + 16
            })
            .sum();
        let groups: usize = self
            .groups
            .iter()
            .map(|(name, g)| name.len() + 96 + g.pel.len() * 72 + g.consumers.len() * 80)
            .sum();
        nodes + groups
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(pairs: &[(&str, &str)]) -> Fields {
        pairs
            .iter()
            .map(|(a, b)| {
                (
                    StrBytes::from_slice(a.as_bytes()),
                    StrBytes::from_slice(b.as_bytes()),
                )
            })
            .collect()
    }

    const L: NodeLimits = NodeLimits {
        max_bytes: 4096,
        max_entries: 10,
    };

    #[test]
    fn nodes_close_at_the_entry_limit_and_ranges_span_them() {
        let mut s = StreamValue::default();
        for i in 1..=25 {
            s.append(StreamId::new(i, 0), f(&[("a", "1")]), L);
        }
        assert_eq!(s.node_count(), 3);
        let ids: Vec<u64> = s
            .range(StreamId::new(9, 0), StreamId::new(12, 0), false)
            .map(|(id, _)| id.ms)
            .collect();
        assert_eq!(ids, vec![9, 10, 11, 12]);
        let rev: Vec<u64> = s
            .range(StreamId::new(9, 0), StreamId::new(12, 0), true)
            .map(|(id, _)| id.ms)
            .collect();
        assert_eq!(rev, vec![12, 11, 10, 9]);
        assert!(s.delete(StreamId::new(10, 0)));
        assert!(!s.delete(StreamId::new(10, 0)));
        assert_eq!(s.len(), 24);
        assert_eq!(s.max_deleted_id, StreamId::new(10, 0));
    }

    #[test]
    fn approximate_trim_removes_whole_nodes_only() {
        let mut s = StreamValue::default();
        for i in 1..=25 {
            s.append(StreamId::new(i, 0), f(&[("a", "1")]), L);
        }
        assert_eq!(s.trim(Trim::MaxLen(12), true, 0), 10);
        assert_eq!(s.len(), 15);
        assert_eq!(s.trim(Trim::MaxLen(12), false, 0), 3);
        assert_eq!(s.len(), 12);
        assert_eq!(s.first_id, StreamId::new(14, 0));
        assert_eq!(s.trim(Trim::MinId(StreamId::new(20, 0)), false, 0), 6);
        assert_eq!(s.first_id, StreamId::new(20, 0));
    }
}
