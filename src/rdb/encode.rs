//! Writing snapshots.

use std::io::{self, Write};

use super::listpack::ListpackBuilder;
use super::*;

/// A quicklist node stops growing at this many listpack bytes, as Redis's default
/// `list-max-listpack-size -2` (8 KiB) does, so a loaded list has the usual node sizes.
const NODE_MAX_BYTES: usize = 8192;
/// Elements this large go into a plain node of their own (Redis 7.0's packed threshold).
const PLAIN_THRESHOLD: usize = 1 << 30;
/// Bytes gathered before handing them to the underlying writer.
const FLUSH_AT: usize = 64 * 1024;

/// Bytes a value takes in a snapshot, without its type byte and key (DEBUG OBJECT's
/// `serializedlength`).
pub fn serialized_length(value: &RdbValueRef<'_>) -> usize {
    /// Counts what a large value flushes before it is whole.
    struct Count(usize);
    impl Write for Count {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0 += b.len();
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut w = RdbWriter {
        w: Count(0),
        buf: Vec::new(),
        crc: 0,
        compress: true,
        checksum: false,
    };
    let _ = w.write_entry(b"", value, 0);
    // Less the type byte and the empty key's length byte.
    (w.w.0 + w.buf.len()).saturating_sub(2)
}

/// FUNCTION DUMP's payload: the libraries as RDB function records, then the RDB version
/// (2 bytes) and a CRC64 of all that (8 bytes), little endian, as Redis frames DUMP
/// payloads (stock FUNCTION RESTORE accepts it).
pub fn function_dump(codes: &[Vec<u8>]) -> Vec<u8> {
    let mut w = RdbWriter {
        w: Vec::new(),
        buf: Vec::new(),
        crc: 0,
        compress: true,
        checksum: true,
    };
    for code in codes {
        w.function(code);
    }
    frame_payload(w.buf)
}

/// DUMP's payload: the value as an RDB object (type byte, then the value), the RDB
/// version and a CRC64, framed as [`function_dump`] frames libraries.
pub fn dump_payload(value: &RdbValueRef<'_>) -> Vec<u8> {
    dump_payload_with(value, true)
}

/// [`dump_payload`] with LZF compression of long strings on or off, as stock's
/// `rdbcompression` decides for its DUMP.
pub(crate) fn dump_payload_with(value: &RdbValueRef<'_>, compress: bool) -> Vec<u8> {
    let mut w = RdbWriter {
        w: Vec::new(),
        buf: Vec::new(),
        crc: 0,
        compress,
        checksum: false,
    };
    // Written as an entry under the empty key, whose one length byte (after the type
    // byte) is then taken out: an object in a payload has no key.
    w.write_entry(b"", value, 0)
        .expect("writing to memory cannot fail");
    let mut out = w.w;
    out.extend_from_slice(&w.buf);
    if out.len() > 1 {
        out.remove(1);
    }
    frame_payload(out)
}

/// Appends the RDB version and the CRC64 of everything, as DUMP payloads end.
fn frame_payload(mut out: Vec<u8>) -> Vec<u8> {
    out.extend_from_slice(&(RDB_VERSION as u16).to_le_bytes());
    let crc = crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Streams one RDB v10 snapshot into `W`: header and aux fields on creation, then
/// databases and keys as they are given, then [`RdbWriter::finish`] for the trailer.
/// Output is buffered internally, and the CRC64 is computed as it goes, so `W` may be a
/// file, a socket or a `Vec<u8>`.
pub struct RdbWriter<W: Write> {
    w: W,
    buf: Vec<u8>,
    crc: u64,
    compress: bool,
    checksum: bool,
}

impl<W: Write> RdbWriter<W> {
    /// Starts a snapshot: writes `REDIS0010` and the aux fields from `aux`, in the order
    /// Redis 7.0 writes them.
    pub fn new(w: W, aux: &Aux) -> io::Result<Self> {
        let mut me = RdbWriter {
            w,
            buf: Vec::with_capacity(FLUSH_AT + 1024),
            crc: 0,
            compress: true,
            checksum: true,
        };
        me.buf.extend_from_slice(b"REDIS0010");
        me.aux(b"redis-ver", aux.redis_ver.as_bytes());
        me.aux_int(b"redis-bits", i64::from(aux.redis_bits));
        me.aux_int(b"ctime", aux.ctime as i64);
        me.aux_int(b"used-mem", aux.used_mem as i64);
        if let Some(db) = aux.repl_stream_db {
            me.aux_int(b"repl-stream-db", db);
        }
        if let Some(id) = &aux.repl_id {
            me.aux(b"repl-id", id.as_bytes());
        }
        if let Some(off) = aux.repl_offset {
            me.aux_int(b"repl-offset", off);
        }
        me.aux_int(b"aof-base", i64::from(aux.aof_base));
        for (k, v) in &aux.extra {
            me.aux(k.as_bytes(), v.as_bytes());
        }
        for code in &aux.functions {
            me.function(code);
        }
        me.maybe_flush()?;
        Ok(me)
    }

    /// One function library record (opcode FUNCTION2 and the library's source).
    fn function(&mut self, code: &[u8]) {
        self.buf.push(OP_FUNCTION2);
        self.string_no_flush(code);
    }

    /// Turns LZF compression of long strings on or off (`rdbcompression`); on by default.
    pub fn set_compression(&mut self, on: bool) {
        self.compress = on;
    }

    /// Turns the CRC64 trailer on or off (`rdbchecksum`); when off the trailer is zero,
    /// which loaders (ours and Redis's) take as "not computed", and saving is faster.
    pub fn set_checksum(&mut self, on: bool) {
        self.checksum = on;
    }

    /// Starts database `db`; the sizes are the hint Redis uses to presize its tables
    /// (number of keys, number of keys with an expiry).
    pub fn select_db(&mut self, db: usize, db_size: u64, expires_size: u64) -> io::Result<()> {
        self.buf.push(OP_SELECTDB);
        self.len(db as u64);
        self.buf.push(OP_RESIZEDB);
        self.len(db_size);
        self.len(expires_size);
        self.maybe_flush()
    }

    /// Writes one key of the current database. `expire_at_ms` is the absolute unix time
    /// in milliseconds, 0 for none. Empty collections are not written (Redis never saves
    /// them and would skip them on load).
    pub fn write_entry(
        &mut self,
        key: &[u8],
        value: &RdbValueRef<'_>,
        expire_at_ms: u64,
    ) -> io::Result<()> {
        match *value {
            RdbValueRef::Str(s) => {
                self.header(key, TYPE_STRING, expire_at_ms);
                self.string(s)?;
            }
            RdbValueRef::List(items) => {
                if !items.is_empty() {
                    self.header(key, TYPE_LIST_QUICKLIST_2, expire_at_ms);
                    self.list(|| items.iter().copied())?;
                }
            }
            RdbValueRef::Set(items) => {
                if !items.is_empty() {
                    self.header(key, TYPE_SET, expire_at_ms);
                    self.len(items.len() as u64);
                    for m in items {
                        self.string(m)?;
                    }
                }
            }
            RdbValueRef::ZSet(items) => {
                if !items.is_empty() {
                    self.header(key, TYPE_ZSET_2, expire_at_ms);
                    self.len(items.len() as u64);
                    for (m, score) in items {
                        self.string(m)?;
                        self.buf.extend_from_slice(&score.to_le_bytes());
                    }
                }
            }
            RdbValueRef::Hash(items) => {
                if !items.is_empty() {
                    self.header(key, TYPE_HASH, expire_at_ms);
                    self.len(items.len() as u64);
                    for (f, v) in items {
                        self.string(f)?;
                        self.string(v)?;
                    }
                }
            }
            RdbValueRef::Stream(st) => {
                // Written even when empty: an empty stream is still a key (and may carry
                // consumer groups).
                self.header(key, TYPE_STREAM_LISTPACKS_2, expire_at_ms);
                self.stream(st)?;
            }
        }
        self.maybe_flush()
    }

    /// Writes an owned value (what [`load`] returns), e.g. to re-save a loaded snapshot.
    pub fn write_value(
        &mut self,
        key: &[u8],
        value: &RdbValue,
        expire_at_ms: u64,
    ) -> io::Result<()> {
        match value {
            RdbValue::Str(s) => self.write_entry(key, &RdbValueRef::Str(s), expire_at_ms),
            RdbValue::List(v) | RdbValue::Set(v) => {
                let refs: Vec<&[u8]> = v.iter().map(|x| x.as_slice()).collect();
                let r = if matches!(value, RdbValue::List(_)) {
                    RdbValueRef::List(&refs)
                } else {
                    RdbValueRef::Set(&refs)
                };
                self.write_entry(key, &r, expire_at_ms)
            }
            RdbValue::ZSet(v) => {
                let refs: Vec<(&[u8], f64)> = v.iter().map(|(m, s)| (m.as_slice(), *s)).collect();
                self.write_entry(key, &RdbValueRef::ZSet(&refs), expire_at_ms)
            }
            RdbValue::Hash(v) => {
                let refs: Vec<(&[u8], &[u8])> = v
                    .iter()
                    .map(|(f, x)| (f.as_slice(), x.as_slice()))
                    .collect();
                self.write_entry(key, &RdbValueRef::Hash(&refs), expire_at_ms)
            }
            RdbValue::Stream(st) => self.write_entry(key, &RdbValueRef::Stream(st), expire_at_ms),
        }
    }

    /// Ends the snapshot (EOF opcode and CRC64 trailer, little endian), flushes, and
    /// gives the writer back.
    pub fn finish(mut self) -> io::Result<W> {
        self.buf.push(OP_EOF);
        self.flush_buf()?;
        let crc = self.crc;
        self.w.write_all(&crc.to_le_bytes())?;
        self.w.flush()?;
        Ok(self.w)
    }

    fn header(&mut self, key: &[u8], t: u8, expire_at_ms: u64) {
        if expire_at_ms != 0 {
            self.buf.push(OP_EXPIRETIME_MS);
            self.buf
                .extend_from_slice(&(expire_at_ms as i64).to_le_bytes());
        }
        self.buf.push(t);
        // Keys are strings like any other; errors can only come from flushing.
        self.string_no_flush(key);
    }

    /// Quicklist v2 of listpack nodes (plain nodes only for elements of 1 GiB or more).
    /// Two passes over the elements: the node count comes first in the format.
    fn list<'a, I: Iterator<Item = &'a [u8]>>(&mut self, items: impl Fn() -> I) -> io::Result<()> {
        let mut nodes = 0u64;
        let mut cur = Plan::default();
        for e in items() {
            if cur.take(e) {
                nodes += 1;
            }
        }
        self.len(nodes);
        let mut plan = Plan::default();
        let mut lp = ListpackBuilder::new();
        for e in items() {
            if plan.take(e) && lp.count() > 0 {
                let full = std::mem::take(&mut lp);
                self.packed_node(full.finish())?;
            }
            if e.len() >= PLAIN_THRESHOLD {
                self.len(QUICKLIST_PLAIN);
                self.string(e)?;
            } else {
                lp.push(e);
            }
        }
        if lp.count() > 0 {
            self.packed_node(lp.finish())?;
        }
        Ok(())
    }

    /// A stream as Redis 7.0 saves one (STREAM_LISTPACKS_2): the nodes, each its master
    /// ID and listpack, then the stream's metadata, then every consumer group with its
    /// pending entries and consumers. Nodes without entries are left out (Redis drops a
    /// node as soon as its last entry goes, and rejects an empty one on load).
    fn stream(&mut self, st: &RdbStream) -> io::Result<()> {
        let nodes = || st.nodes.iter().filter(|n| !n.entries.is_empty());
        self.len(nodes().count() as u64);
        for node in nodes() {
            self.string_no_flush(&stream_id_bytes(node.master_id));
            self.string(&stream_node_listpack(node))?;
        }
        self.len(st.length);
        self.id_lens(st.last_id);
        self.id_lens(st.first_id);
        self.id_lens(st.max_deleted_id);
        self.len(st.entries_added);
        self.len(st.groups.len() as u64);
        for g in &st.groups {
            self.string(&g.name)?;
            self.id_lens(g.last_id);
            // Redis saves the signed counter through its unsigned length writer, so the
            // "unknown" -1 goes out as 2^64-1 (nine bytes) and comes back as -1.
            self.len(g.entries_read as u64);
            self.len(g.pel.len() as u64);
            for &(id, delivered_ms, count) in &g.pel {
                self.buf.extend_from_slice(&stream_id_bytes(id));
                self.buf.extend_from_slice(&delivered_ms.to_le_bytes());
                self.len(count);
                self.maybe_flush()?;
            }
            self.len(g.consumers.len() as u64);
            for c in &g.consumers {
                self.string(&c.name)?;
                self.buf.extend_from_slice(&c.seen_time.to_le_bytes());
                self.len(c.pel.len() as u64);
                for &id in &c.pel {
                    self.buf.extend_from_slice(&stream_id_bytes(id));
                    self.maybe_flush()?;
                }
            }
        }
        Ok(())
    }

    /// An ID as two RDB lengths (milliseconds, then sequence).
    fn id_lens(&mut self, (ms, seq): StreamIdPair) {
        self.len(ms);
        self.len(seq);
    }

    fn packed_node(&mut self, lp: Vec<u8>) -> io::Result<()> {
        self.len(QUICKLIST_PACKED);
        self.string(&lp)
    }

    fn aux(&mut self, key: &[u8], val: &[u8]) {
        self.buf.push(OP_AUX);
        self.string_no_flush(key);
        self.string_no_flush(val);
    }

    fn aux_int(&mut self, key: &[u8], v: i64) {
        self.aux(key, itoa::Buffer::new().format(v).as_bytes());
    }

    fn len(&mut self, l: u64) {
        if l < 1 << 6 {
            self.buf.push(l as u8);
        } else if l < 1 << 14 {
            self.buf.push(0x40 | (l >> 8) as u8);
            self.buf.push(l as u8);
        } else if l <= u64::from(u32::MAX) {
            self.buf.push(0x80);
            self.buf.extend_from_slice(&(l as u32).to_be_bytes());
        } else {
            self.buf.push(0x81);
            self.buf.extend_from_slice(&l.to_be_bytes());
        }
    }

    fn string(&mut self, s: &[u8]) -> io::Result<()> {
        self.string_no_flush(s);
        self.maybe_flush()
    }

    fn string_no_flush(&mut self, s: &[u8]) {
        if s.len() <= 11
            && let Some(v) = canonical_int(s)
        {
            if let Ok(b) = i8::try_from(v) {
                self.buf.push(0xC0);
                self.buf.push(b as u8);
                return;
            } else if let Ok(h) = i16::try_from(v) {
                self.buf.push(0xC1);
                self.buf.extend_from_slice(&h.to_le_bytes());
                return;
            } else if let Ok(w) = i32::try_from(v) {
                self.buf.push(0xC2);
                self.buf.extend_from_slice(&w.to_le_bytes());
                return;
            }
        }
        if self.compress
            && s.len() > 20
            && let Some(z) = lzf::compress(s, s.len() - 4)
        {
            self.buf.push(0xC3);
            self.len(z.len() as u64);
            self.len(s.len() as u64);
            self.buf.extend_from_slice(&z);
            return;
        }
        self.len(s.len() as u64);
        self.buf.extend_from_slice(s);
    }

    fn maybe_flush(&mut self) -> io::Result<()> {
        if self.buf.len() >= FLUSH_AT {
            self.flush_buf()?;
        }
        Ok(())
    }

    fn flush_buf(&mut self) -> io::Result<()> {
        if self.checksum {
            self.crc = crc64(self.crc, &self.buf);
        }
        self.w.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }
}

/// A stream ID as Redis keys its radix tree and writes PEL entries: 128 bits, big endian,
/// milliseconds first, so byte order is ID order.
pub(crate) fn stream_id_bytes((ms, seq): StreamIdPair) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&ms.to_be_bytes());
    b[8..].copy_from_slice(&seq.to_be_bytes());
    b
}

/// A stream node's listpack, laid out as Redis's XADD builds it, so a node of a stock
/// stream without deleted entries comes out byte for byte as stock has it:
///
/// - the master entry: live count, deleted count (0: deleted entries are not kept),
///   the number of master fields, the fields, and a 0 terminator. The master fields are
///   the first entry's, as Redis takes them from the entry that creates the node;
/// - per entry: flags, ID deltas from the master ID (wrapping, as Redis subtracts
///   unsigned IDs and stores the result as a signed integer), then either the values
///   alone (flag SAMEFIELDS, when the field names equal the master fields) or the field
///   count and field-value pairs, and last the number of listpack elements the entry
///   took before this one, which lets Redis walk the node backwards.
fn stream_node_listpack(node: &RdbStreamNode) -> Vec<u8> {
    let master_fields: &[(Vec<u8>, Vec<u8>)] = node.entries.first().map_or(&[], |e| &e.1);
    let mut lp = ListpackBuilder::new();
    lp.push_int(node.entries.len() as i64);
    lp.push_int(0);
    lp.push_int(master_fields.len() as i64);
    for (f, _) in master_fields {
        lp.push(f);
    }
    lp.push_int(0);
    let (master_ms, master_seq) = node.master_id;
    for ((ms, seq), fields) in &node.entries {
        let same = fields.len() == master_fields.len()
            && fields.iter().zip(master_fields).all(|(a, b)| a.0 == b.0);
        lp.push_int(if same { STREAM_FLAG_SAMEFIELDS } else { 0 });
        lp.push_int(ms.wrapping_sub(master_ms) as i64);
        lp.push_int(seq.wrapping_sub(master_seq) as i64);
        let n = fields.len() as i64;
        if !same {
            lp.push_int(n);
        }
        for (f, v) in fields {
            if !same {
                lp.push(f);
            }
            lp.push(v);
        }
        lp.push_int(if same { n + 3 } else { 2 * n + 4 });
    }
    lp.finish()
}

/// Decides where quicklist nodes start, identically in both passes of `list`.
#[derive(Default)]
struct Plan {
    bytes: usize,
    count: usize,
}

impl Plan {
    /// Accounts for element `e`; true when `e` starts a new node.
    fn take(&mut self, e: &[u8]) -> bool {
        if e.len() >= PLAIN_THRESHOLD {
            *self = Plan::default();
            return true;
        }
        let sz = ListpackBuilder::entry_size(e);
        if self.count > 0 && self.bytes + sz <= NODE_MAX_BYTES && self.count < 0xFFFF {
            self.bytes += sz;
            self.count += 1;
            false
        } else {
            self.bytes = 7 + sz;
            self.count = 1;
            true
        }
    }
}
