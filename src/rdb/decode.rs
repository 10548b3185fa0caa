//! Reading snapshots.

use std::io::{BufRead, BufReader, ErrorKind, Read};

use super::listpack::{intset_entries, listpack_entries, pairs, ziplist_entries, zipmap_pairs};
use super::*;

/// Collections are presized to at most this many elements from the count the file
/// claims; beyond it they grow as elements actually arrive.
const PRESIZE_MAX: usize = 4096;
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
            _ => return Err(RdbError::UnsupportedType(t)),
        })
    }
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
}
