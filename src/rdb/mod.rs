//! RDB persistence format, version 10 (what Redis 7.0 writes).
//!
//! Snapshots are how a Redis primary hands its keyspace to a replica and how a server
//! restarts with its data, so speaking the exact stock format lets Ferrocache replicate
//! from and to stock Redis and load a stock `dump.rdb`.
//!
//! - [`RdbWriter`] streams a snapshot out: header, aux fields, databases, keys, EOF and
//!   the CRC64 trailer. Collections are written in the plain forms stock 7.0 loads
//!   (QUICKLIST_2 of listpacks, SET, ZSET_2, HASH), streams as 7.0 writes them
//!   (STREAM_LISTPACKS_2, node listpacks laid out as XADD builds them).
//! - [`load`] streams a snapshot in, one key at a time, decoding every encoding Redis
//!   versions up to 7.0 write (ziplists, listpacks, intsets, zipmaps, quicklists, both
//!   stream versions), with every length bounded and no panic on any input.
//! - [`crc64`] is Redis's checksum (Jones polynomial), exposed for diskless replication.

mod decode;
mod encode;
mod listpack;
pub mod lzf;

pub use decode::{function_restore, load, restore_payload};
pub use encode::{RdbWriter, dump_payload, function_dump, serialized_length};
pub use listpack::ListpackBuilder;

/// The RDB version this module writes, and the newest one it reads.
pub const RDB_VERSION: u32 = 10;

pub(crate) const TYPE_STRING: u8 = 0;
pub(crate) const TYPE_LIST: u8 = 1;
pub(crate) const TYPE_SET: u8 = 2;
pub(crate) const TYPE_ZSET: u8 = 3;
pub(crate) const TYPE_HASH: u8 = 4;
pub(crate) const TYPE_ZSET_2: u8 = 5;
pub(crate) const TYPE_MODULE: u8 = 6;
pub(crate) const TYPE_MODULE_2: u8 = 7;
pub(crate) const TYPE_HASH_ZIPMAP: u8 = 9;
pub(crate) const TYPE_LIST_ZIPLIST: u8 = 10;
pub(crate) const TYPE_SET_INTSET: u8 = 11;
pub(crate) const TYPE_ZSET_ZIPLIST: u8 = 12;
pub(crate) const TYPE_HASH_ZIPLIST: u8 = 13;
pub(crate) const TYPE_LIST_QUICKLIST: u8 = 14;
pub(crate) const TYPE_STREAM_LISTPACKS: u8 = 15;
pub(crate) const TYPE_HASH_LISTPACK: u8 = 16;
pub(crate) const TYPE_ZSET_LISTPACK: u8 = 17;
pub(crate) const TYPE_LIST_QUICKLIST_2: u8 = 18;
pub(crate) const TYPE_STREAM_LISTPACKS_2: u8 = 19;
/// Redis 7.2's stream type (adds consumers' active time); not read here.
pub(crate) const TYPE_STREAM_LISTPACKS_3: u8 = 21;

pub(crate) const OP_FUNCTION2: u8 = 245;
pub(crate) const OP_FUNCTION_PRE_GA: u8 = 246;
pub(crate) const OP_MODULE_AUX: u8 = 247;
pub(crate) const OP_IDLE: u8 = 248;
pub(crate) const OP_FREQ: u8 = 249;
pub(crate) const OP_AUX: u8 = 250;
pub(crate) const OP_RESIZEDB: u8 = 251;
pub(crate) const OP_EXPIRETIME_MS: u8 = 252;
pub(crate) const OP_EXPIRETIME: u8 = 253;
pub(crate) const OP_SELECTDB: u8 = 254;
pub(crate) const OP_EOF: u8 = 255;

/// Stream entry flag: the entry is deleted (XDEL or trimming within a node).
pub(crate) const STREAM_FLAG_DELETED: i64 = 1;
/// Stream entry flag: the entry has the node's master fields, so only values are stored.
pub(crate) const STREAM_FLAG_SAMEFIELDS: i64 = 2;

/// Quicklist node holding one element as-is (Redis's `QUICKLIST_NODE_CONTAINER_PLAIN`).
pub(crate) const QUICKLIST_PLAIN: u64 = 1;
/// Quicklist node holding a listpack (`QUICKLIST_NODE_CONTAINER_PACKED`).
pub(crate) const QUICKLIST_PACKED: u64 = 2;

/// A short name for a type byte or opcode, so "unsupported" errors say what was met.
pub fn type_name(t: u8) -> &'static str {
    match t {
        TYPE_STRING => "string",
        TYPE_LIST => "list",
        TYPE_SET => "set",
        TYPE_ZSET => "zset",
        TYPE_HASH => "hash",
        TYPE_ZSET_2 => "zset (binary scores)",
        TYPE_MODULE | TYPE_MODULE_2 => "module value",
        TYPE_HASH_ZIPMAP => "hash zipmap",
        TYPE_LIST_ZIPLIST => "list ziplist",
        TYPE_SET_INTSET => "set intset",
        TYPE_ZSET_ZIPLIST => "zset ziplist",
        TYPE_HASH_ZIPLIST => "hash ziplist",
        TYPE_LIST_QUICKLIST => "list quicklist",
        TYPE_STREAM_LISTPACKS | TYPE_STREAM_LISTPACKS_2 => "stream",
        TYPE_STREAM_LISTPACKS_3 => "stream (Redis 7.2 format)",
        TYPE_HASH_LISTPACK => "hash listpack",
        TYPE_ZSET_LISTPACK => "zset listpack",
        TYPE_LIST_QUICKLIST_2 => "list quicklist v2",
        OP_FUNCTION2 | OP_FUNCTION_PRE_GA => "function library (FUNCTION opcode)",
        OP_MODULE_AUX => "module aux data (MODULE_AUX opcode)",
        _ => "unknown type",
    }
}

/// Why a snapshot could not be loaded. Loading untrusted or damaged files must end in one
/// of these, never in a panic or an unbounded allocation.
#[derive(Debug, thiserror::Error)]
pub enum RdbError {
    /// Reading the source failed (not end of file: a file that stops early is `Corrupt`).
    #[error("I/O error reading RDB: {0}")]
    Io(#[from] std::io::Error),
    /// The file does not start with `REDIS` and four version digits.
    #[error("not an RDB file (bad magic)")]
    BadMagic,
    /// A version this code cannot read (newer than 10, or 0).
    #[error("can't handle RDB format version {0} (supported: 1..=10)")]
    UnsupportedVersion(u32),
    /// The content is inconsistent: truncated, bad length, bad encoding, ...
    #[error("corrupt RDB: {0}")]
    Corrupt(String),
    /// The CRC64 trailer does not match the content.
    #[error("wrong RDB checksum: file says {expected:#018x}, content gives {actual:#018x}")]
    ChecksumMismatch {
        /// The checksum stored in the file.
        expected: u64,
        /// The checksum computed over what was read.
        actual: u64,
    },
    /// A value type or opcode that is valid RDB but not supported here (modules, Redis
    /// 7.2 streams).
    #[error("unsupported RDB type/opcode {0} ({name})", name = type_name(*.0))]
    UnsupportedType(u8),
}

impl RdbError {
    pub(crate) fn corrupt(msg: impl Into<String>) -> Self {
        RdbError::Corrupt(msg.into())
    }
}

/// The aux fields at the start of a snapshot: which server wrote it and, for replication,
/// the replication id and offset the snapshot corresponds to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Aux {
    /// `redis-ver`: version of the writer (stock tools print it).
    pub redis_ver: String,
    /// `redis-bits`: 32 or 64.
    pub redis_bits: u32,
    /// `ctime`: unix seconds when the snapshot was made.
    pub ctime: u64,
    /// `used-mem`: the writer's memory use in bytes.
    pub used_mem: u64,
    /// `repl-id`: replication id the snapshot belongs to (present for replication and
    /// for snapshots of a server with a replication history).
    pub repl_id: Option<String>,
    /// `repl-offset`: replication offset the snapshot corresponds to.
    pub repl_offset: Option<i64>,
    /// `repl-stream-db`: database selected in the replication stream at that offset.
    pub repl_stream_db: Option<i64>,
    /// `aof-base`: the snapshot is the base of a multi-part AOF.
    pub aof_base: bool,
    /// Aux fields not listed above (e.g. `lua` from old versions), kept in file order.
    pub extra: Vec<(String, String)>,
    /// Function libraries, each its whole source (`#!lua name=...` first), written
    /// after the aux fields and before the databases, as Redis 7.0 does.
    pub functions: Vec<Vec<u8>>,
}

/// A decoded value, whatever encoding the file used for it.
#[derive(Debug, Clone, PartialEq)]
pub enum RdbValue {
    /// A string (integers are given back as their decimal text).
    Str(Vec<u8>),
    /// List elements, head to tail.
    List(Vec<Vec<u8>>),
    /// Set members, in file order.
    Set(Vec<Vec<u8>>),
    /// Sorted-set members with scores, in file order (not necessarily score order).
    ZSet(Vec<(Vec<u8>, f64)>),
    /// Hash fields and values, in file order.
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    /// A stream with its consumer groups.
    Stream(Box<RdbStream>),
}

/// A stream entry ID: (milliseconds, sequence).
pub type StreamIdPair = (u64, u64);

/// A stream entry: its ID and its field-value pairs, in the order they were added.
pub type StreamEntry = (StreamIdPair, Vec<(Vec<u8>, Vec<u8>)>);

/// A stream as RDB holds it, independent of how the store keeps one. Entries are grouped
/// in the nodes (listpacks) they live in, so node boundaries survive a save and load
/// (approximate trimming removes whole nodes, so stock and Ferrocache agree on what
/// `MAXLEN ~` removes only if the nodes are the same).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RdbStream {
    /// Nodes in ID order; deleted entries are not listed.
    pub nodes: Vec<RdbStreamNode>,
    /// Number of live entries.
    pub length: u64,
    /// The greatest ID ever added.
    pub last_id: StreamIdPair,
    /// The first live entry's ID (0-0 when empty); written by RDB 10, derived otherwise
    /// (an empty stream of the older format gets 2^64-1 for both parts, as stock derives).
    pub first_id: StreamIdPair,
    /// The greatest ID ever deleted (0-0 if none).
    pub max_deleted_id: StreamIdPair,
    /// Entries ever added (XINFO's `entries-added`).
    pub entries_added: u64,
    /// Consumer groups, in name order.
    pub groups: Vec<RdbStreamGroup>,
}

/// One listpack node of a stream.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RdbStreamNode {
    /// The node's master ID (the rax key): the first ID ever inserted in the node, which
    /// may since have been deleted. Entry IDs are stored as deltas from it.
    pub master_id: StreamIdPair,
    /// Live entries: ID and field-value pairs.
    pub entries: Vec<StreamEntry>,
}

/// A consumer group as RDB holds it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RdbStreamGroup {
    /// Group name.
    pub name: Vec<u8>,
    /// Last ID delivered to the group.
    pub last_id: StreamIdPair,
    /// Entries read by the group (`entries-read`), -1 when unknown (Redis's
    /// `SCG_INVALID_ENTRIES_READ`).
    pub entries_read: i64,
    /// Pending entries: ID, last delivery time (unix ms), delivery count.
    pub pel: Vec<(StreamIdPair, u64, u64)>,
    /// Consumers, in name order.
    pub consumers: Vec<RdbStreamConsumer>,
}

/// A consumer as RDB 10 holds it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RdbStreamConsumer {
    /// Consumer name.
    pub name: Vec<u8>,
    /// Last time it was seen (unix ms).
    pub seen_time: u64,
    /// IDs of its pending entries (each must be in the group's PEL).
    pub pel: Vec<StreamIdPair>,
}

impl RdbValue {
    /// Number of elements (1 for a string), e.g. to skip empty collections.
    pub fn len(&self) -> usize {
        match self {
            RdbValue::Str(_) => 1,
            RdbValue::List(v) | RdbValue::Set(v) => v.len(),
            RdbValue::ZSet(v) => v.len(),
            RdbValue::Hash(v) => v.len(),
            // An empty stream is still a stream (XADD MAXLEN 0, XDEL of every entry).
            RdbValue::Stream(_) => 1,
        }
    }

    /// True for an empty collection (Redis never saves those and skips them on load).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A value to write, borrowed from the keyspace so a snapshot copies nothing.
#[derive(Debug, Clone, Copy)]
pub enum RdbValueRef<'a> {
    /// A string.
    Str(&'a [u8]),
    /// List elements, head to tail.
    List(&'a [&'a [u8]]),
    /// Set members.
    Set(&'a [&'a [u8]]),
    /// Sorted-set members with scores.
    ZSet(&'a [(&'a [u8], f64)]),
    /// Hash fields and values.
    Hash(&'a [(&'a [u8], &'a [u8])]),
    /// A stream.
    Stream(&'a RdbStream),
}

static CRC64_REDIS: crc::Crc<u64, crc::Table<16>> =
    crc::Crc::<u64, crc::Table<16>>::new(&crc::CRC_64_REDIS);

/// Redis's CRC64 (Jones polynomial, reflected, no final xor), continued from `crc` over
/// `data`; start with 0. RDB files end with it, and diskless replication must compute
/// it over a transfer as it streams.
pub fn crc64(crc: u64, data: &[u8]) -> u64 {
    // The crate takes the initial value in register order; a reflected CRC's output is
    // the bit-reversed register, so reverse it back to continue.
    let mut d = CRC64_REDIS.digest_with_initial(crc.reverse_bits());
    d.update(data);
    d.finalize()
}

/// True when `s` is an integer Redis would store as one: the canonical decimal text of an
/// i64 (no sign `+`, no leading zeros, no `-0`, no spaces), as `string2ll` accepts.
pub(crate) fn canonical_int(s: &[u8]) -> Option<i64> {
    crate::protocol::parse_i64(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc64_matches_redis_check_value_and_chains() {
        // Redis's crc64.c self-test: crc64(0, "123456789") = 0xe9c6d914c4b8d9ca.
        assert_eq!(crc64(0, b"123456789"), 0xe9c6d914c4b8d9ca);
        let whole = crc64(0, b"hello world, this is a chained crc");
        let part = crc64(crc64(0, b"hello world, "), b"this is a chained crc");
        assert_eq!(whole, part);
        assert_eq!(crc64(0, b""), 0);
    }

    #[test]
    fn canonical_int_rules() {
        assert_eq!(canonical_int(b"0"), Some(0));
        assert_eq!(canonical_int(b"-12"), Some(-12));
        assert_eq!(canonical_int(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b"007"[..],
            b"+1",
            b"-0",
            b" 1",
            b"1 ",
            b"",
            b"9223372036854775808",
            b"1.0",
        ] {
            assert_eq!(canonical_int(bad), None, "{:?}", bad);
        }
    }
}
