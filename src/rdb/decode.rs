//! Reading snapshots.

use std::io::{BufRead, BufReader, ErrorKind, Read};

use super::listpack::{intset_entries, listpack_entries, pairs, ziplist_entries, zipmap_pairs};
use super::*;

/// Collections are presized to at most this many elements from the count the file
/// claims; beyond it they grow as elements actually arrive.
const PRESIZE_MAX: usize = 4096;
/// A stream node may expand to at most this many times its listpack size when entries
/// copy the master field names. With stock's default node limits (100 entries, 4 KiB)
/// a node stays below 100 times.
const SAMEFIELDS_EXPANSION_MAX: usize = 128;
/// Strings are read in chunks of this size, so a corrupt length costs no more memory
/// than the data really present.
const READ_CHUNK: usize = 1 << 20;

/// Reads a snapshot from `r`, calling `on_entry(db, key, value, expire_at_ms)` for every
/// key as soon as it is decoded (0 = no expiry; an expiry at or before the epoch is given
/// as 1, i.e. already expired). Returns the aux fields once the EOF opcode and the CRC64
/// trailer have been read and checked (a zero checksum means the writer disabled it, and
/// is accepted as Redis does).
///
/// Only one value is held in memory at a time; `r` is buffered internally. Keys already
/// handed to `on_entry` stay delivered if a later part of the file turns out corrupt, so
/// a caller that must be all-or-nothing loads into a scratch keyspace. An error returned
/// by `on_entry` stops loading and is returned as is. Empty collections are skipped, as
/// Redis does. Versions 1..=10 are accepted.
pub fn load<R: Read>(
    r: R,
    mut on_entry: impl FnMut(usize, Vec<u8>, RdbValue, u64) -> Result<(), RdbError>,
) -> Result<Aux, RdbError> {
    let mut src = Src {
        r: BufReader::with_capacity(64 * 1024, r),
        crc: 0,
    };
    let mut magic = [0u8; 9];
    src.read_exact(&mut magic).map_err(|e| match e {
        RdbError::Corrupt(_) => RdbError::BadMagic,
        e => e,
    })?;
    if &magic[..5] != b"REDIS" || !magic[5..].iter().all(u8::is_ascii_digit) {
        return Err(RdbError::BadMagic);
    }
    let ver = magic[5..]
        .iter()
        .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
    if !(1..=RDB_VERSION).contains(&ver) {
        return Err(RdbError::UnsupportedVersion(ver));
    }

    let mut aux = Aux::default();
    let mut db = 0usize;
    let mut expire = 0u64;
    loop {
        let t = src.u8()?;
        match t {
            OP_EXPIRETIME => {
                let mut b = [0u8; 4];
                src.read_exact(&mut b)?;
                expire = expiry_ms(i64::from(i32::from_le_bytes(b)) * 1000);
            }
            OP_EXPIRETIME_MS => {
                let mut b = [0u8; 8];
                src.read_exact(&mut b)?;
                expire = expiry_ms(i64::from_le_bytes(b));
            }
            OP_FREQ => {
                src.u8()?;
            }
            OP_IDLE => {
                src.plain_len()?;
            }
            OP_EOF => break,
            OP_SELECTDB => {
                let n = src.plain_len()?;
                db = usize::try_from(n)
                    .ok()
                    .filter(|&d| d <= i32::MAX as usize)
                    .ok_or_else(|| {
                        RdbError::corrupt(format!("database number {n} out of range"))
                    })?;
            }
            OP_RESIZEDB => {
                src.plain_len()?;
                src.plain_len()?;
            }
            OP_AUX => {
                let k = src.string()?;
                let v = src.string()?;
                set_aux(&mut aux, &k, &v)?;
            }
            OP_FUNCTION2 | OP_FUNCTION_PRE_GA => aux.functions.push(src.function(t)?),
            OP_MODULE_AUX => return Err(RdbError::UnsupportedType(t)),
            _ => {
                let key = src.string()?;
                let value = src.object(t)?;
                if !value.is_empty() {
                    on_entry(db, key, value, expire)?;
                }
                expire = 0;
            }
        }
    }
    if ver >= 5 {
        let actual = src.crc;
        let mut b = [0u8; 8];
        src.r.read_exact(&mut b).map_err(map_io)?;
        let expected = u64::from_le_bytes(b);
        if expected != 0 && expected != actual {
            return Err(RdbError::ChecksumMismatch { expected, actual });
        }
    }
    Ok(aux)
}

/// The body of a DUMP payload once its RDB version and CRC64 trailer check out.
fn payload_body(payload: &[u8]) -> Result<&[u8], &'static str> {
    const BAD: &str = "DUMP payload version or checksum are wrong";
    let Some(body_len) = payload.len().checked_sub(10) else {
        return Err(BAD);
    };
    let (body, footer) = payload.split_at(body_len);
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    let crc = u64::from_le_bytes(footer[2..].try_into().expect("8 bytes"));
    if u32::from(version) > RDB_VERSION || crc64(0, &payload[..body_len + 2]) != crc {
        return Err(BAD);
    }
    Ok(body)
}

/// The value in a DUMP payload (RESTORE), with Redis's error texts.
pub fn restore_payload(payload: &[u8]) -> Result<RdbValue, &'static str> {
    const BAD_DATA: &str = "Bad data format";
    let body = payload_body(payload)?;
    let mut src = Src {
        r: BufReader::new(body),
        crc: 0,
    };
    let t = src.u8().map_err(|_| BAD_DATA)?;
    src.object(t).map_err(|_| BAD_DATA)
}

/// The library sources in a FUNCTION DUMP payload, after checking its RDB version and
/// CRC64 trailer; Redis's error texts for FUNCTION RESTORE.
pub fn function_restore(payload: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let body = payload_body(payload)?;
    let mut src = Src {
        r: BufReader::new(body),
        crc: 0,
    };
    let mut codes = Vec::new();
    while !src.r.fill_buf().map_err(|e| e.to_string())?.is_empty() {
        let t = src.u8().map_err(|_| "can not read data type")?;
        if t != OP_FUNCTION2 && t != OP_FUNCTION_PRE_GA {
            return Err("given type is not a function".into());
        }
        codes.push(
            src.function(t)
                .map_err(|_| "failed loading the given functions payload")?,
        );
    }
    Ok(codes)
}

fn expiry_ms(ms: i64) -> u64 {
    if ms <= 0 { 1 } else { ms as u64 }
}

fn set_aux(aux: &mut Aux, k: &[u8], v: &[u8]) -> Result<(), RdbError> {
    let text = String::from_utf8_lossy(v).into_owned();
    let int = || -> Result<i64, RdbError> {
        text.parse::<i64>().map_err(|_| {
            RdbError::corrupt(format!(
                "aux field {} is not an integer",
                String::from_utf8_lossy(k)
            ))
        })
    };
    match k {
        b"redis-ver" => aux.redis_ver = text,
        b"redis-bits" => aux.redis_bits = int()? as u32,
        b"ctime" => aux.ctime = int()? as u64,
        b"used-mem" => aux.used_mem = int()? as u64,
        b"repl-id" => aux.repl_id = Some(text),
        b"repl-offset" => aux.repl_offset = Some(int()?),
        b"repl-stream-db" => aux.repl_stream_db = Some(int()?),
        b"aof-base" => aux.aof_base = int()? != 0,
        _ => aux
            .extra
            .push((String::from_utf8_lossy(k).into_owned(), text)),
    }
    Ok(())
}

fn map_io(e: std::io::Error) -> RdbError {
    if e.kind() == ErrorKind::UnexpectedEof {
        RdbError::corrupt("unexpected end of file")
    } else {
        RdbError::Io(e)
    }
}

enum Len {
    Plain(u64),
    Encoded(u8),
}

/// The input with a running CRC64 over everything consumed.
struct Src<R: Read> {
    r: BufReader<R>,
    crc: u64,
}

impl<R: Read> Src<R> {
    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), RdbError> {
        self.r.read_exact(buf).map_err(map_io)?;
        self.crc = crc64(self.crc, buf);
        Ok(())
    }

    fn u8(&mut self) -> Result<u8, RdbError> {
        let mut b = [0u8; 1];
        self.read_exact(&mut b)?;
        Ok(b[0])
    }

    fn len(&mut self) -> Result<Len, RdbError> {
        let b = self.u8()?;
        Ok(match b >> 6 {
            0 => Len::Plain(u64::from(b & 0x3F)),
            1 => Len::Plain(u64::from(b & 0x3F) << 8 | u64::from(self.u8()?)),
            2 if b == 0x80 => {
                let mut x = [0u8; 4];
                self.read_exact(&mut x)?;
                Len::Plain(u64::from(u32::from_be_bytes(x)))
            }
            2 if b == 0x81 => {
                let mut x = [0u8; 8];
                self.read_exact(&mut x)?;
                Len::Plain(u64::from_be_bytes(x))
            }
            2 => return Err(RdbError::corrupt(format!("unknown length encoding {b:#x}"))),
            _ => Len::Encoded(b & 0x3F),
        })
    }

    fn plain_len(&mut self) -> Result<u64, RdbError> {
        match self.len()? {
            Len::Plain(n) => Ok(n),
            Len::Encoded(_) => Err(RdbError::corrupt("encoded value where a length belongs")),
        }
    }

    fn count(&mut self) -> Result<usize, RdbError> {
        let n = self.plain_len()?;
        usize::try_from(n).map_err(|_| RdbError::corrupt(format!("length {n} out of range")))
    }

    fn bytes(&mut self, n: u64) -> Result<Vec<u8>, RdbError> {
        let n = usize::try_from(n)
            .map_err(|_| RdbError::corrupt(format!("length {n} out of range")))?;
        let mut v = Vec::with_capacity(n.min(READ_CHUNK));
        while v.len() < n {
            let old = v.len();
            let chunk = (n - old).min(READ_CHUNK);
            v.resize(old + chunk, 0);
            self.read_exact(&mut v[old..])?;
        }
        Ok(v)
    }

    fn string(&mut self) -> Result<Vec<u8>, RdbError> {
        match self.len()? {
            Len::Plain(n) => self.bytes(n),
            Len::Encoded(enc) => {
                let v: i64 = match enc {
                    0 => i64::from(self.u8()? as i8),
                    1 => {
                        let mut b = [0u8; 2];
                        self.read_exact(&mut b)?;
                        i64::from(i16::from_le_bytes(b))
                    }
                    2 => {
                        let mut b = [0u8; 4];
                        self.read_exact(&mut b)?;
                        i64::from(i32::from_le_bytes(b))
                    }
                    3 => {
                        let clen = self.plain_len()?;
                        let len = self.plain_len()?;
                        let z = self.bytes(clen)?;
                        let len = usize::try_from(len)
                            .map_err(|_| RdbError::corrupt("LZF length out of range"))?;
                        return lzf::decompress(&z, len)
                            .ok_or_else(|| RdbError::corrupt("invalid LZF compressed string"));
                    }
                    _ => {
                        return Err(RdbError::corrupt(format!("unknown string encoding {enc}")));
                    }
                };
                Ok(itoa::Buffer::new().format(v).as_bytes().to_vec())
            }
        }
    }

    /// A function library record's source; the format of Redis 7.0's release
    /// candidates (name, engine, optional description, code) is turned into the
    /// shebang form, as Redis does.
    fn function(&mut self, t: u8) -> Result<Vec<u8>, RdbError> {
        if t == OP_FUNCTION2 {
            return self.string();
        }
        let name = self.string()?;
        let engine = self.string()?;
        if self.plain_len()? != 0 {
            self.string()?;
        }
        let code = self.string()?;
        let mut out = b"#!".to_vec();
        out.extend_from_slice(&engine);
        out.extend_from_slice(b" name=");
        out.extend_from_slice(&name);
        out.push(b'\n');
        out.extend_from_slice(&code);
        Ok(out)
    }

    fn strings(&mut self) -> Result<Vec<Vec<u8>>, RdbError> {
        let n = self.count()?;
        let mut out = Vec::with_capacity(n.min(PRESIZE_MAX));
        for _ in 0..n {
            out.push(self.string()?);
        }
        Ok(out)
    }

    /// The score of an old-style ZSET: a length byte then ASCII, with 253..=255 meaning
    /// NaN, +inf, -inf.
    fn ascii_double(&mut self) -> Result<f64, RdbError> {
        let n = self.u8()?;
        match n {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            _ => {
                let b = self.bytes(u64::from(n))?;
                parse_score(&b)
            }
        }
    }

    /// Two lengths as a stream ID (milliseconds, then sequence).
    fn id_lens(&mut self) -> Result<StreamIdPair, RdbError> {
        Ok((self.plain_len()?, self.plain_len()?))
    }

    /// A stream ID written raw (PEL entries): 16 bytes, big endian.
    fn raw_id(&mut self) -> Result<StreamIdPair, RdbError> {
        let mut b = [0u8; 16];
        self.read_exact(&mut b)?;
        Ok(stream_id_from_bytes(&b).expect("16 bytes"))
    }

    /// A unix time in milliseconds, 8 bytes little endian (PEL delivery, consumer seen).
    fn ms_time(&mut self) -> Result<u64, RdbError> {
        let mut b = [0u8; 8];
        self.read_exact(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// A stream, STREAM_LISTPACKS (`v2` false, Redis 5 and 6) or STREAM_LISTPACKS_2
    /// (Redis 7.0). The older format lacks the first and greatest deleted IDs, the
    /// entries-added counter and the groups' entries-read; they are derived as Redis
    /// derives them when it loads such a file, so both show the same XINFO.
    ///
    /// Everything Redis relies on later is checked here, since a loaded stream is trusted
    /// from then on: node keys are IDs, every node is a well-formed listpack whose counts
    /// agree with its entries, IDs only grow (across nodes too) and stay within the last
    /// ID, the length is the number of live entries, names are unique, and every pending
    /// entry belongs to exactly one consumer of its group. Groups, consumers and PELs are
    /// given back sorted, as Redis keeps them.
    fn stream(&mut self, v2: bool) -> Result<RdbStream, RdbError> {
        let n_nodes = self.count()?;
        let mut st = RdbStream {
            nodes: Vec::with_capacity(n_nodes.min(PRESIZE_MAX)),
            ..RdbStream::default()
        };
        // The greatest ID met so far, deleted entries included.
        let mut top: Option<StreamIdPair> = None;
        let mut live = 0u64;
        for _ in 0..n_nodes {
            let key = self.string()?;
            let master_id = stream_id_from_bytes(&key)
                .ok_or_else(|| RdbError::corrupt("stream node key is not a stream ID"))?;
            if top.is_some_and(|t| master_id <= t) {
                return Err(RdbError::corrupt("stream nodes out of order"));
            }
            let node = stream_node(master_id, &self.string()?, &mut top)?;
            live += node.entries.len() as u64;
            st.nodes.push(node);
        }
        st.length = self.plain_len()?;
        st.last_id = self.id_lens()?;
        if st.length != live {
            return Err(RdbError::corrupt(
                "stream length disagrees with its entries",
            ));
        }
        if top.is_some_and(|t| t > st.last_id) {
            return Err(RdbError::corrupt("stream entry beyond the last ID"));
        }
        if v2 {
            st.first_id = self.id_lens()?;
            st.max_deleted_id = self.id_lens()?;
            st.entries_added = self.plain_len()?;
        } else {
            st.entries_added = st.length;
            st.first_id = st
                .nodes
                .first()
                .and_then(|n| n.entries.first())
                .map_or((u64::MAX, u64::MAX), |e| e.0);
        }

        let n_groups = self.count()?;
        let mut groups = Vec::with_capacity(n_groups.min(PRESIZE_MAX));
        for _ in 0..n_groups {
            let name = self.string()?;
            let last_id = self.id_lens()?;
            let entries_read = if v2 {
                // Saved through the unsigned length writer: 2^64-1 is -1 ("unknown").
                let r = self.plain_len()? as i64;
                if r < -1 {
                    return Err(RdbError::corrupt(
                        "consumer group entries-read out of range",
                    ));
                }
                r
            } else {
                estimate_entries_read(&st, last_id)
            };
            let n_pel = self.count()?;
            let mut pel = Vec::with_capacity(n_pel.min(PRESIZE_MAX));
            for _ in 0..n_pel {
                let id = self.raw_id()?;
                let delivered = self.ms_time()?;
                let count = self.plain_len()?;
                pel.push((id, delivered, count));
            }
            pel.sort_unstable_by_key(|e| e.0);
            if pel.windows(2).any(|w| w[0].0 == w[1].0) {
                return Err(RdbError::corrupt("duplicate entry in a consumer group PEL"));
            }
            let mut owned = vec![false; pel.len()];
            let n_consumers = self.count()?;
            let mut consumers = Vec::with_capacity(n_consumers.min(PRESIZE_MAX));
            for _ in 0..n_consumers {
                let cname = self.string()?;
                let seen_time = self.ms_time()?;
                let n = self.count()?;
                let mut cpel = Vec::with_capacity(n.min(pel.len()));
                for _ in 0..n {
                    let id = self.raw_id()?;
                    let i = pel.binary_search_by_key(&id, |e| e.0).map_err(|_| {
                        RdbError::corrupt("consumer's pending entry not in its group's PEL")
                    })?;
                    if std::mem::replace(&mut owned[i], true) {
                        return Err(RdbError::corrupt("pending entry owned twice"));
                    }
                    cpel.push(id);
                }
                cpel.sort_unstable();
                consumers.push(RdbStreamConsumer {
                    name: cname,
                    seen_time,
                    pel: cpel,
                });
            }
            if owned.contains(&false) {
                return Err(RdbError::corrupt("pending entry without a consumer"));
            }
            consumers.sort_unstable_by(|a: &RdbStreamConsumer, b| a.name.cmp(&b.name));
            if consumers.windows(2).any(|w| w[0].name == w[1].name) {
                return Err(RdbError::corrupt("duplicate stream consumer"));
            }
            groups.push(RdbStreamGroup {
                name,
                last_id,
                entries_read,
                pel,
                consumers,
            });
        }
        groups.sort_unstable_by(|a: &RdbStreamGroup, b| a.name.cmp(&b.name));
        if groups.windows(2).any(|w| w[0].name == w[1].name) {
            return Err(RdbError::corrupt("duplicate consumer group name"));
        }
        st.groups = groups;
        Ok(st)
    }

    fn object(&mut self, t: u8) -> Result<RdbValue, RdbError> {
        Ok(match t {
            TYPE_STRING => RdbValue::Str(self.string()?),
            TYPE_LIST => RdbValue::List(self.strings()?),
            TYPE_SET => RdbValue::Set(self.strings()?),
            TYPE_ZSET | TYPE_ZSET_2 => {
                let n = self.count()?;
                let mut out = Vec::with_capacity(n.min(PRESIZE_MAX));
                for _ in 0..n {
                    let m = self.string()?;
                    let s = if t == TYPE_ZSET {
                        self.ascii_double()?
                    } else {
                        let mut b = [0u8; 8];
                        self.read_exact(&mut b)?;
                        f64::from_le_bytes(b)
                    };
                    if s.is_nan() {
                        return Err(RdbError::corrupt("zset with NaN score"));
                    }
                    out.push((m, s));
                }
                RdbValue::ZSet(out)
            }
            TYPE_HASH => {
                let n = self.count()?;
                let mut out = Vec::with_capacity(n.min(PRESIZE_MAX));
                for _ in 0..n {
                    let f = self.string()?;
                    let v = self.string()?;
                    out.push((f, v));
                }
                RdbValue::Hash(out)
            }
            TYPE_LIST_QUICKLIST | TYPE_LIST_QUICKLIST_2 => {
                let n = self.count()?;
                let mut out = Vec::new();
                for _ in 0..n {
                    let container = if t == TYPE_LIST_QUICKLIST_2 {
                        self.plain_len()?
                    } else {
                        QUICKLIST_PACKED
                    };
                    if container != QUICKLIST_PACKED && container != QUICKLIST_PLAIN {
                        return Err(RdbError::corrupt("quicklist integrity check failed"));
                    }
                    let data = self.string()?;
                    if data.is_empty() {
                        return Err(RdbError::corrupt("empty quicklist node"));
                    }
                    if container == QUICKLIST_PLAIN {
                        out.push(data);
                    } else if t == TYPE_LIST_QUICKLIST_2 {
                        out.extend(listpack_entries(&data)?);
                    } else {
                        out.extend(ziplist_entries(&data)?);
                    }
                }
                RdbValue::List(out)
            }
            TYPE_LIST_ZIPLIST => RdbValue::List(ziplist_entries(&self.string()?)?),
            TYPE_SET_INTSET => RdbValue::Set(intset_entries(&self.string()?)?),
            TYPE_ZSET_ZIPLIST | TYPE_ZSET_LISTPACK => {
                let blob = self.string()?;
                let items = if t == TYPE_ZSET_ZIPLIST {
                    ziplist_entries(&blob)?
                } else {
                    listpack_entries(&blob)?
                };
                let mut out = Vec::with_capacity(items.len() / 2);
                for (m, s) in pairs(items, "zset")? {
                    out.push((m, parse_score(&s)?));
                }
                RdbValue::ZSet(out)
            }
            TYPE_HASH_ZIPLIST => RdbValue::Hash(pairs(ziplist_entries(&self.string()?)?, "hash")?),
            TYPE_HASH_LISTPACK => {
                RdbValue::Hash(pairs(listpack_entries(&self.string()?)?, "hash")?)
            }
            TYPE_HASH_ZIPMAP => RdbValue::Hash(zipmap_pairs(&self.string()?)?),
            TYPE_STREAM_LISTPACKS | TYPE_STREAM_LISTPACKS_2 => {
                RdbValue::Stream(Box::new(self.stream(t == TYPE_STREAM_LISTPACKS_2)?))
            }
            _ => return Err(RdbError::UnsupportedType(t)),
        })
    }
}

/// A 16-byte big-endian stream ID (node keys, PEL entries); None for any other length.
fn stream_id_from_bytes(b: &[u8]) -> Option<StreamIdPair> {
    let b: &[u8; 16] = b.try_into().ok()?;
    let (ms, seq) = b.split_at(8);
    Some((
        u64::from_be_bytes(ms.try_into().ok()?),
        u64::from_be_bytes(seq.try_into().ok()?),
    ))
}

/// Decodes one stream node's listpack (layout in `encode::stream_node_listpack`),
/// dropping deleted entries. `top` is the greatest ID of the nodes before, and is
/// advanced past this node's entries. Redis checks the same structure when it
/// sanitizes a payload; here it is always checked, and on top of it the IDs must grow
/// from the master ID on, the master entry's counts must match the entries, and a node
/// must keep at least one live entry (Redis removes a node with its last entry).
///
/// Entries that share the master fields get their own copy of the field names, so a
/// node with long master fields and many short entries expands a lot; a node that would
/// copy more than [`SAMEFIELDS_EXPANSION_MAX`] times its own size is refused rather
/// than let a small input claim unbounded memory.
fn stream_node(
    master_id: StreamIdPair,
    lp: &[u8],
    top: &mut Option<StreamIdPair>,
) -> Result<RdbStreamNode, RdbError> {
    let bad = || RdbError::corrupt("stream listpack integrity check failed");
    let mut it = listpack_entries(lp)?.into_iter();
    let next = |it: &mut std::vec::IntoIter<Vec<u8>>| it.next().ok_or_else(bad);
    // Counts, flags, deltas and lp-counts are integers; counts are never negative.
    let int = |it: &mut std::vec::IntoIter<Vec<u8>>| {
        it.next().and_then(|b| canonical_int(&b)).ok_or_else(bad)
    };
    let count = |it: &mut std::vec::IntoIter<Vec<u8>>| {
        int(it).and_then(|v| u64::try_from(v).map_err(|_| bad()))
    };

    let live = count(&mut it)?;
    let deleted = count(&mut it)?;
    let n_master = count(&mut it)?;
    let mut master_fields = Vec::new();
    for _ in 0..n_master {
        master_fields.push(next(&mut it)?);
    }
    let master_bytes: usize = master_fields.iter().map(Vec::len).sum();
    let copy_budget = lp.len().saturating_mul(SAMEFIELDS_EXPANSION_MAX);
    let mut copied = 0usize;
    if int(&mut it)? != 0 {
        return Err(bad());
    }

    let mut entries = Vec::new();
    let mut seen_deleted = 0u64;
    for _ in 0..live.checked_add(deleted).ok_or_else(bad)? {
        let flags = int(&mut it)?;
        if flags & !(STREAM_FLAG_DELETED | STREAM_FLAG_SAMEFIELDS) != 0 {
            return Err(bad());
        }
        // Deltas were computed on unsigned IDs and stored signed: add them back
        // wrapping.
        let ms = master_id.0.wrapping_add(int(&mut it)? as u64);
        let seq = master_id.1.wrapping_add(int(&mut it)? as u64);
        let id = (ms, seq);
        if id < master_id || top.is_some_and(|t| id <= t) {
            return Err(RdbError::corrupt("stream IDs out of order"));
        }
        *top = Some(id);
        let mut fields = Vec::new();
        let expected_lp_count = if flags & STREAM_FLAG_SAMEFIELDS != 0 {
            copied = copied.saturating_add(master_bytes);
            if copied > copy_budget {
                return Err(RdbError::corrupt("stream node expands beyond the limit"));
            }
            for f in &master_fields {
                fields.push((f.clone(), next(&mut it)?));
            }
            n_master + 3
        } else {
            let n = count(&mut it)?;
            for _ in 0..n {
                let f = next(&mut it)?;
                fields.push((f, next(&mut it)?));
            }
            // n pairs were read, so 2n fits.
            2 * n + 4
        };
        if count(&mut it)? != expected_lp_count {
            return Err(bad());
        }
        if flags & STREAM_FLAG_DELETED != 0 {
            seen_deleted += 1;
        } else {
            entries.push((id, fields));
        }
    }
    if it.next().is_some() || seen_deleted != deleted || entries.len() as u64 != live {
        return Err(bad());
    }
    if entries.is_empty() {
        return Err(RdbError::corrupt("stream node without entries"));
    }
    Ok(RdbStreamNode { master_id, entries })
}

/// A group's entries-read for a stream from the older format, which did not save it:
/// what Redis estimates from the group's last ID and the stream's counters, -1 where it
/// cannot tell.
fn estimate_entries_read(st: &RdbStream, id: StreamIdPair) -> i64 {
    let added = st.entries_added as i64;
    if added == 0 {
        return 0;
    }
    if st.length == 0 && id <= st.last_id {
        return added;
    }
    match id.cmp(&st.last_id) {
        std::cmp::Ordering::Equal => return added,
        std::cmp::Ordering::Greater => return -1,
        std::cmp::Ordering::Less => {}
    }
    if st.max_deleted_id == (0, 0) || st.max_deleted_id < st.first_id {
        let before_first = added.wrapping_sub(st.length as i64);
        match id.cmp(&st.first_id) {
            std::cmp::Ordering::Less => return before_first,
            std::cmp::Ordering::Equal => return before_first.wrapping_add(1),
            std::cmp::Ordering::Greater => {}
        }
    }
    -1
}

fn parse_score(b: &[u8]) -> Result<f64, RdbError> {
    let s = std::str::from_utf8(b)
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .ok_or_else(|| RdbError::corrupt("invalid zset score"))?;
    if s.is_nan() {
        return Err(RdbError::corrupt("zset with NaN score"));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(body: &[u8]) -> Vec<u8> {
        let mut p = body.to_vec();
        p.extend_from_slice(&(RDB_VERSION as u16).to_le_bytes());
        let crc = crc64(0, &p);
        p.extend_from_slice(&crc.to_le_bytes());
        p
    }

    #[test]
    fn restore_payloads_are_checked_then_decoded() {
        let ok = framed(&[TYPE_STRING, 1, b'v']);
        assert!(matches!(restore_payload(&ok), Ok(RdbValue::Str(s)) if s == b"v"));
        assert_eq!(
            restore_payload(&framed(&[200, 1, b'v'])).unwrap_err(),
            "Bad data format"
        );
        assert_eq!(
            restore_payload(&framed(&[TYPE_STRING, 9, b'v'])).unwrap_err(),
            "Bad data format"
        );
        let mut bad = ok.clone();
        bad[1] = 2;
        assert_eq!(
            restore_payload(&bad).unwrap_err(),
            "DUMP payload version or checksum are wrong"
        );
        let round = super::super::dump_payload(&RdbValueRef::Str(b"hello"));
        assert!(matches!(restore_payload(&round), Ok(RdbValue::Str(s)) if s == b"hello"));
    }

    // DUMP payloads from stock redis-server 7.0.15 (stream-node-max-entries 3 for A, B,
    // D). A: three nodes, same and different fields, an int that needs 24 bits, a seq
    // delta below the master's, an LZF-compressed node; groups g0 (no PEL), g1 (PEL over
    // consumers alice and bob, carol from XGROUP CREATECONSUMER), g2. B: XDEL of 1-0 and
    // 4-0 (tombstones, one of them a master entry). C: XGROUP CREATE .. MKSTREAM. D: the
    // only entry XDELed while pending. E: default node size, ms up to 2^64-1, "007" and
    // "21.5" as strings. *_RAW: the same keys DUMPed with rdbcompression no.
    // V1_*: A, B, D rewritten to the pre-7.0 type 15 (no first/deleted/added IDs, no
    // entries-read); stock RESTOREs them.
    const STOCK_A: &[&str] = &[
        "130310000000000000000100000000000000013c3c0000001800030100010201816102816202000102010001",
        "000101010201050102010001010103010401050102010101dfff028178028179020501ff1000000000000000",
        "030000000000000005c34043404a114a0000001c00030100010101816302000102200a400c000460050fdffb",
        "020201816102f2a0860104816202200f00082018030201dffe8018203500622009020801ff10000000000000",
        "00060000000000000000c3405140681168000000130002010001020181610281620240090000200100012011",
        "00056007400b1f816602b86120666169726c79206c6f6e672076616c75652074686174207265700365617473",
        "e00f0703390601ff080700010100000803026730030581ffffffffffffffff00000267310305040300000000",
        "0000000100000000000000019a04c149a201000001000000000000000200000000000000009a04c149a20100",
        "0001000000000000000300000000000000059a04c149a2010000010305616c6963659a04c149a20100000100",
        "00000000000001000000000000000103626f629a04c149a20100000200000000000000020000000000000000",
        "00000000000000030000000000000005056361726f6c9a04c149a201000000026732070081ffffffffffffff",
        "ff00000a00c03a7046588bbf13",
    ];
    const STOCK_A_RAW: &[&str] = &[
        "130310000000000000000100000000000000013c3c0000001800030100010201816102816202000102010001",
        "000101010201050102010001010103010401050102010101dfff028178028179020501ff1000000000000000",
        "030000000000000005404a4a0000001c0003010001010181630200010201000100010101040100010101dffb",
        "020201816102f2a0860104816202dffb02080100010201dffe020201816102010181620202010801ff100000",
        "0000000000060000000000000000406868000000130002010001020181610281620200010201000100010101",
        "020105010001010100010101816602b86120666169726c79206c6f6e672076616c7565207468617420726570",
        "65617473207265706561747320726570656174732072657065617473390601ff080700010100000803026730",
        "030581ffffffffffffffff000002673103050403000000000000000100000000000000019a04c149a2010000",
        "01000000000000000200000000000000009a04c149a201000001000000000000000300000000000000059a04",
        "c149a2010000010305616c6963659a04c149a2010000010000000000000001000000000000000103626f629a",
        "04c149a201000002000000000000000200000000000000000000000000000003000000000000000505636172",
        "6f6c9a04c149a201000000026732070081ffffffffffffffff00000a00ef9bb0c62aa77df3",
    ];
    const STOCK_B: &[&str] = &[
        "130310000000000000000100000000000000003f3f0000001800020101010201816b02816e02000103010001",
        "0001827631030101050102010101000182763203020105010201020100018276330303010501ff1000000000",
        "0000000400000000000000003f3f0000001800020101010201816b02816e0200010301000100018276340304",
        "01050102010101000182763503050105010201020100018276360306010501ff100000000000000007000000",
        "000000000023230000000c00010100010201816b02816e0200010201000100018276370307010501ff050700",
        "02000400070103677270020081ffffffffffffffff01000000000000000200000000000000009c04c149a201",
        "000001010263319c04c149a201000001000000000000000200000000000000000a003529a09165fe6b85",
    ];
    const STOCK_C: &[&str] =
        &["13000000000000000000010167000081ffffffffffffffff00000a00a01a953dfb9cddde"];
    const STOCK_D: &[&str] = &[
        "1300000a0100000a0101010267640a010101000000000000000a00000000000000019c04c149a20100000101",
        "037a65649c04c149a201000001000000000000000a00000000000000010a00e7c973bb091ef46c",
    ];
    const STOCK_E: &[&str] = &[
        "1301100000018bcfe568000000000000000000c3404c4052165200000018000301000102018474656d700583",
        "68756d04400e00002001088432312e3505280105201e0001a00f02360529600f16f4ff971a3074feffff0900",
        "01dfff0283303037040501ff0381ffffffffffffffff00810000018bcfe5680000000003000a00bcb5789045",
        "d7955a",
    ];
    const STOCK_E_RAW: &[&str] = &[
        "1301100000018bcfe56800000000000000000040525200000018000301000102018474656d70058368756d04",
        "00010201000100018432312e3505280105010201010100018432312e3605290105010201f4ff971a3074feff",
        "ff090001dfff0283303037040501ff0381ffffffffffffffff00810000018bcfe5680000000003000a00dfa2",
        "410177c31ace",
    ];
    const V1_A: &[&str] = &[
        "0f0310000000000000000100000000000000013c3c0000001800030100010201816102816202000102010001",
        "000101010201050102010001010103010401050102010101dfff028178028179020501ff1000000000000000",
        "030000000000000005404a4a0000001c0003010001010181630200010201000100010101040100010101dffb",
        "020201816102f2a0860104816202dffb02080100010201dffe020201816102010181620202010801ff100000",
        "0000000000060000000000000000406868000000130002010001020181610281620200010201000100010101",
        "020105010001010100010101816602b86120666169726c79206c6f6e672076616c7565207468617420726570",
        "65617473207265706561747320726570656174732072657065617473390601ff080700030267300305000002",
        "6731030503000000000000000100000000000000019a04c149a2010000010000000000000002000000000000",
        "00009a04c149a201000001000000000000000300000000000000059a04c149a2010000010305616c6963659a",
        "04c149a2010000010000000000000001000000000000000103626f629a04c149a20100000200000000000000",
        "02000000000000000000000000000000030000000000000005056361726f6c9a04c149a20100000002673207",
        "0000000a00794cdc9580b20b02",
    ];
    const V1_B: &[&str] = &[
        "0f0310000000000000000100000000000000003f3f0000001800020101010201816b02816e02000103010001",
        "0001827631030101050102010101000182763203020105010201020100018276330303010501ff1000000000",
        "0000000400000000000000003f3f0000001800020101010201816b02816e0200010301000100018276340304",
        "01050102010101000182763503050105010201020100018276360306010501ff100000000000000007000000",
        "000000000023230000000c00010100010201816b02816e0200010201000100018276370307010501ff050700",
        "0103677270020001000000000000000200000000000000009c04c149a201000001010263319c04c149a20100",
        "0001000000000000000200000000000000000a00b75d9c714c6b3e8c",
    ];
    const V1_D: &[&str] = &[
        "0f00000a01010267640a0101000000000000000a00000000000000019c04c149a20100000101037a65649c04",
        "c149a201000001000000000000000a00000000000000010a0075980f3964b63ebc",
    ];

    /// The DUMP delivery and seen times in the stock payloads.
    const STOCK_TIME: u64 = 1_796_533_716_122;

    fn unhex(parts: &[&str]) -> Vec<u8> {
        let s: String = parts.concat();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn stream_of(payload: &[u8]) -> RdbStream {
        match restore_payload(payload) {
            Ok(RdbValue::Stream(s)) => *s,
            other => panic!("not a stream: {other:?}"),
        }
    }

    fn fv(pairs: &[(&str, &str)]) -> Vec<(Vec<u8>, Vec<u8>)> {
        pairs
            .iter()
            .map(|(f, v)| (f.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect()
    }

    fn ids(node: &RdbStreamNode) -> Vec<StreamIdPair> {
        node.entries.iter().map(|e| e.0).collect()
    }

    fn dump(st: &RdbStream) -> Vec<u8> {
        super::super::dump_payload(&RdbValueRef::Stream(st))
    }

    #[test]
    fn stock_stream_payloads_decode() {
        let a = stream_of(&unhex(STOCK_A));
        assert_eq!(a.nodes.len(), 3);
        assert_eq!(a.nodes[0].master_id, (1, 1));
        assert_eq!(ids(&a.nodes[0]), vec![(1, 1), (1, 2), (2, 0)]);
        assert_eq!(ids(&a.nodes[1]), vec![(3, 5), (4, 0), (5, 3)]);
        assert_eq!(ids(&a.nodes[2]), vec![(6, 0), (7, 0)]);
        assert_eq!(a.nodes[0].entries[2].1, fv(&[("a", "x"), ("b", "y")]));
        assert_eq!(a.nodes[1].entries[0].1, fv(&[("c", "1")]));
        assert_eq!(a.nodes[1].entries[1].1, fv(&[("a", "100000"), ("b", "-5")]));
        let long = "a fairly long value that repeats repeats repeats repeats";
        assert_eq!(a.nodes[2].entries[1].1, fv(&[("f", long)]));
        assert_eq!(
            (
                a.length,
                a.last_id,
                a.first_id,
                a.max_deleted_id,
                a.entries_added
            ),
            (8, (7, 0), (1, 1), (0, 0), 8)
        );
        let names: Vec<&[u8]> = a.groups.iter().map(|g| &g.name[..]).collect();
        assert_eq!(names, vec![&b"g0"[..], b"g1", b"g2"]);
        assert_eq!(
            (a.groups[0].last_id, a.groups[0].entries_read),
            ((3, 5), -1)
        );
        let g1 = &a.groups[1];
        assert_eq!((g1.last_id, g1.entries_read), ((3, 5), 4));
        assert_eq!(
            g1.pel,
            vec![
                ((1, 1), STOCK_TIME, 1),
                ((2, 0), STOCK_TIME, 1),
                ((3, 5), STOCK_TIME, 1)
            ]
        );
        let consumers: Vec<(&[u8], &[StreamIdPair])> = g1
            .consumers
            .iter()
            .map(|c| (&c.name[..], &c.pel[..]))
            .collect();
        assert_eq!(
            consumers,
            vec![
                (&b"alice"[..], &[(1, 1)][..]),
                (b"bob", &[(2, 0), (3, 5)]),
                (b"carol", &[])
            ]
        );
        assert_eq!(g1.consumers[0].seen_time, STOCK_TIME);
        assert_eq!(a, stream_of(&unhex(STOCK_A_RAW)));

        let b = stream_of(&unhex(STOCK_B));
        let b_ids: Vec<Vec<StreamIdPair>> = b.nodes.iter().map(ids).collect();
        assert_eq!(
            b_ids,
            vec![vec![(2, 0), (3, 0)], vec![(5, 0), (6, 0)], vec![(7, 0)]]
        );
        assert_eq!(b.nodes[1].master_id, (4, 0));
        assert_eq!(b.nodes[1].entries[0].1, fv(&[("k", "v5"), ("n", "5")]));
        assert_eq!(
            (b.length, b.first_id, b.max_deleted_id, b.entries_added),
            (5, (2, 0), (4, 0), 7)
        );

        let c = stream_of(&unhex(STOCK_C));
        assert!(c.nodes.is_empty() && c.length == 0 && c.last_id == (0, 0));
        assert_eq!(c.groups.len(), 1);
        assert_eq!(
            (&c.groups[0].name[..], c.groups[0].entries_read),
            (&b"g"[..], -1)
        );

        let d = stream_of(&unhex(STOCK_D));
        assert!(d.nodes.is_empty());
        assert_eq!(
            (
                d.length,
                d.last_id,
                d.first_id,
                d.max_deleted_id,
                d.entries_added
            ),
            (0, (10, 1), (0, 0), (10, 1), 1)
        );
        assert_eq!(d.groups[0].pel, vec![((10, 1), STOCK_TIME + 2, 1)]);
        assert_eq!(d.groups[0].consumers[0].pel, vec![(10, 1)]);

        let e = stream_of(&unhex(STOCK_E));
        assert_eq!(ids(&e.nodes[0])[2], (u64::MAX, 0));
        assert_eq!(
            e.nodes[0].entries[0].1,
            fv(&[("temp", "21.5"), ("hum", "40")])
        );
        assert_eq!(
            e.nodes[0].entries[2].1,
            fv(&[("temp", "-1"), ("hum", "007")])
        );
        assert_eq!(e, stream_of(&unhex(STOCK_E_RAW)));
    }

    #[test]
    fn stock_streams_reencode_as_stock() {
        // Without tombstones the layout is stock's byte for byte; LZF output may pick other
        // (equally valid) back-references than liblzf, so compare with compression off.
        for raw in [STOCK_A_RAW, STOCK_B, STOCK_C, STOCK_D, STOCK_E_RAW] {
            let st = stream_of(&unhex(raw));
            let ours = super::super::encode::dump_payload_with(&RdbValueRef::Stream(&st), false);
            if raw == STOCK_B {
                // Tombstones are dropped, so the nodes shrink; the content is the same.
                assert_ne!(ours, unhex(raw));
                assert_eq!(stream_of(&ours), st);
            } else {
                assert_eq!(ours, unhex(raw));
            }
        }
        for p in [STOCK_C, STOCK_D] {
            assert_eq!(dump(&stream_of(&unhex(p))), unhex(p));
        }
        for p in [STOCK_A, STOCK_E] {
            let st = stream_of(&unhex(p));
            assert_eq!(stream_of(&dump(&st)), st);
            assert_eq!(
                super::super::serialized_length(&RdbValueRef::Stream(&st)),
                dump(&st).len() - 11
            );
        }
    }

    #[test]
    fn old_stream_format_derives_what_stock_derives() {
        // Expected values are what stock 7.0.15 shows in XINFO STREAM FULL after
        // RESTOREing the same payloads.
        let a = stream_of(&unhex(V1_A));
        let a2 = stream_of(&unhex(STOCK_A));
        assert_eq!(a.nodes, a2.nodes);
        assert_eq!(
            (a.entries_added, a.first_id, a.max_deleted_id),
            (8, (1, 1), (0, 0))
        );
        let read: Vec<i64> = a.groups.iter().map(|g| g.entries_read).collect();
        assert_eq!(read, vec![-1, -1, 8]);
        assert_eq!(a.groups[1].consumers, a2.groups[1].consumers);

        let b = stream_of(&unhex(V1_B));
        assert_eq!(
            (b.entries_added, b.first_id, b.max_deleted_id),
            (5, (2, 0), (0, 0))
        );
        assert_eq!(b.groups[0].entries_read, 1);

        let d = stream_of(&unhex(V1_D));
        assert_eq!(
            (d.entries_added, d.first_id, d.last_id),
            (0, (u64::MAX, u64::MAX), (10, 1))
        );
        assert_eq!(d.groups[0].entries_read, 0);
    }

    fn sample_stream() -> RdbStream {
        let long = vec![b'q'; 300];
        let node1 = RdbStreamNode {
            master_id: (5, 3),
            entries: vec![
                ((5, 3), fv(&[("a", "1"), ("b", "x")])),
                ((5, 9), fv(&[("a", "-70000"), ("b", "")])),
                ((6, 0), fv(&[("other", "9223372036854775807")])),
                ((6, 1), fv(&[("a", "2")])),
                (
                    (7, 0),
                    vec![(b"a".to_vec(), long.clone()), (b"b".to_vec(), long)],
                ),
            ],
        };
        let node2 = RdbStreamNode {
            // Master entry deleted: the first live entry comes later.
            master_id: (1_700_000_000_000, 0),
            entries: vec![
                ((1_700_000_000_000, 7), fv(&[("123", "007"), ("-1", "1.5")])),
                ((u64::MAX, u64::MAX), fv(&[("123", "0")])),
            ],
        };
        let pel = vec![
            ((5, 3), 1_000, 1),
            ((6, 0), 2_000, 3),
            ((7, 0), u64::from(u32::MAX) + 5, 1 << 40),
        ];
        RdbStream {
            nodes: vec![node1, node2],
            length: 7,
            last_id: (u64::MAX, u64::MAX),
            first_id: (5, 3),
            max_deleted_id: (1_700_000_000_000, 0),
            entries_added: 9,
            groups: vec![
                RdbStreamGroup {
                    name: b"alpha".to_vec(),
                    last_id: (7, 0),
                    entries_read: 5,
                    pel,
                    consumers: vec![
                        RdbStreamConsumer {
                            name: b"c1".to_vec(),
                            seen_time: 123_456,
                            pel: vec![(5, 3), (7, 0)],
                        },
                        RdbStreamConsumer {
                            name: b"c2".to_vec(),
                            seen_time: 0,
                            pel: vec![(6, 0)],
                        },
                        RdbStreamConsumer {
                            name: b"idle".to_vec(),
                            seen_time: 9,
                            pel: vec![],
                        },
                    ],
                },
                RdbStreamGroup {
                    name: b"beta".to_vec(),
                    last_id: (0, 0),
                    entries_read: -1,
                    ..RdbStreamGroup::default()
                },
            ],
        }
    }

    #[test]
    fn streams_round_trip() {
        let st = sample_stream();
        assert_eq!(stream_of(&dump(&st)), st);
        let uncompressed =
            super::super::encode::dump_payload_with(&RdbValueRef::Stream(&st), false);
        assert_eq!(stream_of(&uncompressed), st);

        let empty = RdbStream {
            last_id: (3, 0),
            max_deleted_id: (3, 0),
            entries_added: 3,
            groups: vec![RdbStreamGroup {
                name: b"g".to_vec(),
                last_id: (3, 0),
                entries_read: 3,
                ..RdbStreamGroup::default()
            }],
            ..RdbStream::default()
        };
        assert_eq!(stream_of(&dump(&empty)), empty);
        assert_eq!(
            stream_of(&dump(&RdbStream::default())),
            RdbStream::default()
        );

        // Through a whole file, next to other keys.
        let mut w = RdbWriter::new(Vec::new(), &Aux::default()).unwrap();
        w.select_db(0, 3, 0).unwrap();
        w.write_value(b"s", &RdbValue::Stream(Box::new(st.clone())), 0)
            .unwrap();
        w.write_entry(b"e", &RdbValueRef::Stream(&empty), 0)
            .unwrap();
        w.write_entry(b"k", &RdbValueRef::Str(b"v"), 0).unwrap();
        let file = w.finish().unwrap();
        let mut got = Vec::new();
        load(&file[..], |_, k, v, _| {
            got.push((k, v));
            Ok(())
        })
        .unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], (b"s".to_vec(), RdbValue::Stream(Box::new(st))));
        assert_eq!(got[1], (b"e".to_vec(), RdbValue::Stream(Box::new(empty))));
    }

    #[test]
    fn groups_consumers_and_pels_come_back_sorted() {
        let mut st = sample_stream();
        st.groups.reverse();
        st.groups[1].pel.reverse();
        st.groups[1].consumers.reverse();
        st.groups[1].consumers[2].pel.reverse();
        assert_eq!(stream_of(&dump(&st)), sample_stream());
    }

    #[test]
    fn inconsistent_streams_are_rejected() {
        let bad = |f: &dyn Fn(&mut RdbStream)| {
            let mut st = sample_stream();
            f(&mut st);
            let p = dump(&st);
            assert_eq!(restore_payload(&p).unwrap_err(), "Bad data format");
            let mut w = RdbWriter::new(Vec::new(), &Aux::default()).unwrap();
            w.select_db(0, 1, 0).unwrap();
            w.write_entry(b"s", &RdbValueRef::Stream(&st), 0).unwrap();
            let file = w.finish().unwrap();
            assert!(matches!(
                load(&file[..], |_, _, _, _| Ok(())),
                Err(RdbError::Corrupt(_))
            ));
        };
        bad(&|s| s.length += 1);
        bad(&|s| s.last_id = (7, 0));
        bad(&|s| s.nodes.swap(0, 1));
        bad(&|s| s.nodes[0].entries.swap(1, 2));
        bad(&|s| s.nodes[0].master_id = (5, 4));
        bad(&|s| s.nodes[1].master_id = (7, 0));
        bad(&|s| s.nodes[0].entries[1].0 = (5, 3));
        bad(&|s| s.groups[1].name = b"alpha".to_vec());
        bad(&|s| s.groups[0].entries_read = -2);
        bad(&|s| s.groups[0].pel.push(((5, 3), 0, 0)));
        bad(&|s| s.groups[0].pel.push(((9, 9), 0, 0)));
        bad(&|s| s.groups[0].consumers[2].pel.push((9, 9)));
        bad(&|s| s.groups[0].consumers[2].pel.push((6, 0)));
        bad(&|s| s.groups[0].consumers[0].pel.push((5, 3)));
        bad(&|s| s.groups[0].consumers[1].name = b"c1".to_vec());
        // Stock's own "duplicate consumers" case (tests/integration/corrupt-dump.tcl).
        let dup = unhex(&[
            "0f0000000001076d7967726f757000000002046e616d652a4caa9a7d01000000046e616d652b4caa",
            "9a7d010000000a00cced8ca762eec7c8",
        ]);
        assert_eq!(restore_payload(&dup).unwrap_err(), "Bad data format");
    }

    /// Re-frames a payload body with a valid trailer, so damage reaches the decoder.
    fn reframed(p: &[u8]) -> Vec<u8> {
        framed(&p[..p.len() - 10])
    }

    #[test]
    fn damaged_stream_payloads_never_panic() {
        let mut payloads: Vec<Vec<u8>> = [STOCK_A, STOCK_B, STOCK_D, V1_A]
            .iter()
            .map(|p| unhex(p))
            .collect();
        payloads.push(super::super::encode::dump_payload_with(
            &RdbValueRef::Stream(&sample_stream()),
            false,
        ));
        let mut seed = 7u64;
        for p in &payloads {
            let body_len = p.len() - 10;
            for i in 0..body_len {
                let _ = restore_payload(&framed(&p[..i]));
                for _ in 0..3 {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    let mut m = p.clone();
                    m[i] = (seed >> 24) as u8;
                    let _ = restore_payload(&reframed(&m));
                }
            }
        }
        // A node key of the wrong size, and a node listpack without entries.
        let empty_lp = super::super::listpack::ListpackBuilder::new().finish();
        let mut body = vec![TYPE_STREAM_LISTPACKS_2, 1, 16];
        body.extend_from_slice(&[0; 16]);
        body.push(empty_lp.len() as u8);
        body.extend_from_slice(&empty_lp);
        body.extend_from_slice(&[0; 9]);
        assert!(restore_payload(&framed(&body)).is_err());
        body[2] = 15;
        assert!(restore_payload(&framed(&body)).is_err());
    }

    #[test]
    fn stream_node_expansion_is_bounded() {
        // One 4000-byte master field, then entries of one small value each: every entry
        // costs the listpack 6 bytes but copies 4000. Allowed up to 128x the node size.
        let node = |n: usize| {
            let field = vec![b'f'; 4000];
            let entries = (0..n)
                .map(|i| ((1, i as u64), vec![(field.clone(), b"v".to_vec())]))
                .collect();
            RdbStream {
                length: n as u64,
                last_id: (1, n as u64),
                nodes: vec![RdbStreamNode {
                    master_id: (1, 0),
                    entries,
                }],
                ..RdbStream::default()
            }
        };
        let ok = node(100);
        assert_eq!(stream_of(&dump(&ok)), ok);
        assert_eq!(
            restore_payload(&dump(&node(2000))).unwrap_err(),
            "Bad data format"
        );
    }
}
