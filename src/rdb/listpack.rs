//! The compact blobs Redis embeds in RDB strings: listpack (7.0 lists, hashes and
//! zsets), ziplist (the same before 7.0), intset (integer sets) and zipmap (hashes
//! before 2.6).
//!
//! Decoders take the whole blob (already bounded by the RDB string that held it) and
//! check every offset, so a corrupt blob yields `Corrupt`, never a panic. The listpack
//! encoder builds the quicklist nodes [`super::RdbWriter`] writes for lists.

use super::{RdbError, canonical_int};

/// Field/value (or member/score-text) pairs.
pub type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

fn corrupt(what: &str) -> RdbError {
    RdbError::corrupt(format!("{what} integrity check failed"))
}

fn int_bytes(v: i64) -> Vec<u8> {
    itoa::Buffer::new().format(v).as_bytes().to_vec()
}

fn take<'a>(b: &'a [u8], pos: &mut usize, n: usize, what: &str) -> Result<&'a [u8], RdbError> {
    let end = pos.checked_add(n).ok_or_else(|| corrupt(what))?;
    let s = b.get(*pos..end).ok_or_else(|| corrupt(what))?;
    *pos = end;
    Ok(s)
}

fn le_int(b: &[u8]) -> i64 {
    // Sign-extend a little-endian two's complement integer of 1..=8 bytes.
    let mut v: u64 = 0;
    for (i, &x) in b.iter().enumerate() {
        v |= u64::from(x) << (8 * i);
    }
    let bits = 8 * b.len() as u32;
    if bits < 64 {
        let shift = 64 - bits;
        ((v << shift) as i64) >> shift
    } else {
        v as i64
    }
}

/// Bytes taken by a listpack entry's back-length for an entry of `l` bytes.
fn backlen_size(l: usize) -> usize {
    match l {
        0..=127 => 1,
        128..16383 => 2,
        16383..2097151 => 3,
        2097151..268435455 => 4,
        _ => 5,
    }
}

/// Decodes a listpack into its elements (integers as decimal text).
pub fn listpack_entries(lp: &[u8]) -> Result<Vec<Vec<u8>>, RdbError> {
    const W: &str = "listpack";
    if lp.len() < 7 {
        return Err(corrupt(W));
    }
    let total = u32::from_le_bytes([lp[0], lp[1], lp[2], lp[3]]) as usize;
    let count = u16::from_le_bytes([lp[4], lp[5]]) as usize;
    if total != lp.len() || lp[lp.len() - 1] != 0xFF {
        return Err(corrupt(W));
    }
    let mut out = Vec::with_capacity(count.min(lp.len()));
    let mut pos = 6usize;
    loop {
        let start = pos;
        let b = *lp.get(pos).ok_or_else(|| corrupt(W))?;
        if b == 0xFF {
            if pos + 1 != lp.len() {
                return Err(corrupt(W));
            }
            break;
        }
        pos += 1;
        let item = if b & 0x80 == 0 {
            int_bytes(i64::from(b & 0x7F))
        } else if b & 0xC0 == 0x80 {
            take(lp, &mut pos, (b & 0x3F) as usize, W)?.to_vec()
        } else if b & 0xE0 == 0xC0 {
            let lo = take(lp, &mut pos, 1, W)?[0];
            let u = (i64::from(b & 0x1F) << 8) | i64::from(lo);
            int_bytes(if u >= 1 << 12 { u - (1 << 13) } else { u })
        } else if b & 0xF0 == 0xE0 {
            let lo = take(lp, &mut pos, 1, W)?[0];
            let n = ((b as usize & 0x0F) << 8) | lo as usize;
            take(lp, &mut pos, n, W)?.to_vec()
        } else {
            match b {
                0xF0 => {
                    let l = take(lp, &mut pos, 4, W)?;
                    let n = u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize;
                    take(lp, &mut pos, n, W)?.to_vec()
                }
                0xF1 => int_bytes(le_int(take(lp, &mut pos, 2, W)?)),
                0xF2 => int_bytes(le_int(take(lp, &mut pos, 3, W)?)),
                0xF3 => int_bytes(le_int(take(lp, &mut pos, 4, W)?)),
                0xF4 => int_bytes(le_int(take(lp, &mut pos, 8, W)?)),
                _ => return Err(corrupt(W)),
            }
        };
        let entry_len = pos - start;
        let bl = take(lp, &mut pos, backlen_size(entry_len), W)?;
        // The back-length stores the entry length in 7-bit groups, most significant
        // first; every byte but the first has the high bit set.
        let mut v: usize = 0;
        for (i, &x) in bl.iter().enumerate() {
            if (i == 0) == (x & 0x80 != 0) {
                return Err(corrupt(W));
            }
            v = (v << 7) | (x & 0x7F) as usize;
        }
        if v != entry_len {
            return Err(corrupt(W));
        }
        out.push(item);
    }
    if count != 0xFFFF && count != out.len() {
        return Err(corrupt(W));
    }
    Ok(out)
}

/// Listpack encoder: appends entries and produces the blob.
pub struct ListpackBuilder {
    buf: Vec<u8>,
    count: usize,
}

impl ListpackBuilder {
    /// An empty listpack.
    pub fn new() -> Self {
        ListpackBuilder {
            buf: vec![0, 0, 0, 0, 0, 0],
            count: 0,
        }
    }

    /// Entries so far.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Bytes an entry for `s` takes (encoding, data and back-length).
    pub fn entry_size(s: &[u8]) -> usize {
        match canonical_int(s) {
            Some(v) => Self::int_entry_size(v),
            None => {
                let l = str_header_len(s.len()) + s.len();
                l + backlen_size(l)
            }
        }
    }

    /// Bytes an integer element takes (what `entry_size` gives for its decimal text),
    /// without formatting it: stream nodes count one per ID delta on every append.
    pub fn int_entry_size(v: i64) -> usize {
        let l = int_entry_len(v);
        l + backlen_size(l)
    }

    /// Appends one element, as an integer when it is the canonical text of one.
    pub fn push(&mut self, s: &[u8]) {
        let start = self.buf.len();
        match canonical_int(s) {
            Some(v) => self.buf.extend_from_slice(&int_entry(v)),
            None => {
                self.buf.extend_from_slice(&str_header(s.len()));
                self.buf.extend_from_slice(s);
            }
        }
        let l = self.buf.len() - start;
        let n = backlen_size(l);
        for i in (0..n).rev() {
            let group = ((l >> (7 * i)) & 0x7F) as u8;
            self.buf.push(if i == n - 1 { group } else { group | 0x80 });
        }
        self.count += 1;
    }

    /// Appends an integer element, as `lpAppendInteger` does (same bytes as pushing its
    /// decimal text). Stream nodes are mostly integers: counts, flags and ID deltas.
    pub fn push_int(&mut self, v: i64) {
        self.push(itoa::Buffer::new().format(v).as_bytes());
    }

    /// The finished listpack.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(0xFF);
        let total = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
        let count = self.count.min(0xFFFF) as u16;
        self.buf[4..6].copy_from_slice(&count.to_le_bytes());
        self.buf
    }
}

impl Default for ListpackBuilder {
    fn default() -> Self {
        Self::new()
    }
}

/// Bytes of `v`'s integer encoding (the ladder `int_entry` builds from).
fn int_entry_len(v: i64) -> usize {
    if (0..=127).contains(&v) {
        1
    } else if (-4096..=4095).contains(&v) {
        2
    } else if i16::try_from(v).is_ok() {
        3
    } else if (-(1 << 23)..(1 << 23)).contains(&v) {
        4
    } else if i32::try_from(v).is_ok() {
        5
    } else {
        9
    }
}

fn int_entry(v: i64) -> Vec<u8> {
    // `int_entry_len` picks the encoding; the wide ones are a tag then the value's low
    // bytes, little-endian (two's complement, so truncation keeps the sign).
    match int_entry_len(v) {
        1 => vec![v as u8],
        2 => {
            let u = if v < 0 { (1 << 13) + v } else { v } as u16;
            vec![0xC0 | (u >> 8) as u8, u as u8]
        }
        n => {
            let tag = match n {
                3 => 0xF1,
                4 => 0xF2,
                5 => 0xF3,
                _ => 0xF4,
            };
            let mut e = vec![tag];
            e.extend_from_slice(&v.to_le_bytes()[..n - 1]);
            e
        }
    }
}

/// Bytes of a string header for `len` (the ladder `str_header` builds from).
fn str_header_len(len: usize) -> usize {
    if len < 64 {
        1
    } else if len < 4096 {
        2
    } else {
        5
    }
}

fn str_header(len: usize) -> Vec<u8> {
    match str_header_len(len) {
        1 => vec![0x80 | len as u8],
        2 => vec![0xE0 | (len >> 8) as u8, len as u8],
        _ => [0xF0]
            .into_iter()
            .chain((len as u32).to_le_bytes())
            .collect(),
    }
}

/// Decodes a ziplist (the pre-7.0 compact encoding) into its elements.
pub fn ziplist_entries(zl: &[u8]) -> Result<Vec<Vec<u8>>, RdbError> {
    const W: &str = "ziplist";
    if zl.len() < 11 {
        return Err(corrupt(W));
    }
    let total = u32::from_le_bytes([zl[0], zl[1], zl[2], zl[3]]) as usize;
    let count = u16::from_le_bytes([zl[8], zl[9]]) as usize;
    if total != zl.len() || zl[zl.len() - 1] != 0xFF {
        return Err(corrupt(W));
    }
    let mut out = Vec::with_capacity(count.min(zl.len()));
    let mut pos = 10usize;
    let mut prev_len = 0usize;
    loop {
        let start = pos;
        let first = *zl.get(pos).ok_or_else(|| corrupt(W))?;
        if first == 0xFF {
            if pos + 1 != zl.len() {
                return Err(corrupt(W));
            }
            break;
        }
        pos += 1;
        let prevlen = if first < 254 {
            first as usize
        } else if first == 254 {
            let p = take(zl, &mut pos, 4, W)?;
            u32::from_le_bytes([p[0], p[1], p[2], p[3]]) as usize
        } else {
            return Err(corrupt(W));
        };
        if prevlen != prev_len {
            return Err(corrupt(W));
        }
        let enc = take(zl, &mut pos, 1, W)?[0];
        let item = match enc >> 6 {
            0 => take(zl, &mut pos, (enc & 0x3F) as usize, W)?.to_vec(),
            1 => {
                let lo = take(zl, &mut pos, 1, W)?[0];
                let n = ((enc as usize & 0x3F) << 8) | lo as usize;
                take(zl, &mut pos, n, W)?.to_vec()
            }
            2 => {
                if enc != 0x80 {
                    return Err(corrupt(W));
                }
                let l = take(zl, &mut pos, 4, W)?;
                let n = u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize;
                take(zl, &mut pos, n, W)?.to_vec()
            }
            _ => match enc {
                0xC0 => int_bytes(le_int(take(zl, &mut pos, 2, W)?)),
                0xD0 => int_bytes(le_int(take(zl, &mut pos, 4, W)?)),
                0xE0 => int_bytes(le_int(take(zl, &mut pos, 8, W)?)),
                0xF0 => int_bytes(le_int(take(zl, &mut pos, 3, W)?)),
                0xFE => int_bytes(le_int(take(zl, &mut pos, 1, W)?)),
                0xF1..=0xFD => int_bytes(i64::from(enc & 0x0F) - 1),
                _ => return Err(corrupt(W)),
            },
        };
        prev_len = pos - start;
        out.push(item);
    }
    if count != 0xFFFF && count != out.len() {
        return Err(corrupt(W));
    }
    Ok(out)
}

/// Decodes an intset (a sorted array of 2, 4 or 8-byte integers) into decimal texts.
pub fn intset_entries(is: &[u8]) -> Result<Vec<Vec<u8>>, RdbError> {
    const W: &str = "intset";
    if is.len() < 8 {
        return Err(corrupt(W));
    }
    let width = u32::from_le_bytes([is[0], is[1], is[2], is[3]]) as usize;
    let count = u32::from_le_bytes([is[4], is[5], is[6], is[7]]) as usize;
    if !matches!(width, 2 | 4 | 8) || count.checked_mul(width) != Some(is.len() - 8) {
        return Err(corrupt(W));
    }
    let mut prev: Option<i64> = None;
    let mut out = Vec::with_capacity(count);
    for c in is[8..].chunks_exact(width) {
        let v = le_int(c);
        if prev.is_some_and(|p| p >= v) {
            return Err(corrupt(W));
        }
        prev = Some(v);
        out.push(int_bytes(v));
    }
    Ok(out)
}

/// Decodes a zipmap (hashes in RDB files from Redis before 2.6) into field/value pairs.
pub fn zipmap_pairs(zm: &[u8]) -> Result<Pairs, RdbError> {
    const W: &str = "zipmap";
    let mut pos = 1usize; // skip the (saturating) element count byte
    if zm.is_empty() {
        return Err(corrupt(W));
    }
    let read_len = |pos: &mut usize| -> Result<Option<usize>, RdbError> {
        let b = take(zm, pos, 1, W)?[0];
        match b {
            0..=253 => Ok(Some(b as usize)),
            254 => {
                let l = take(zm, pos, 4, W)?;
                Ok(Some(u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize))
            }
            _ => Ok(None),
        }
    };
    let mut out = Vec::new();
    loop {
        let Some(klen) = read_len(&mut pos)? else {
            if pos != zm.len() {
                return Err(corrupt(W));
            }
            break;
        };
        let key = take(zm, &mut pos, klen, W)?.to_vec();
        let vlen = read_len(&mut pos)?.ok_or_else(|| corrupt(W))?;
        let free = take(zm, &mut pos, 1, W)?[0] as usize;
        let val = take(zm, &mut pos, vlen, W)?.to_vec();
        take(zm, &mut pos, free, W)?;
        out.push((key, val));
    }
    Ok(out)
}

/// Splits a flat element list into pairs (hash field/value, zset member/score).
pub fn pairs(items: Vec<Vec<u8>>, what: &str) -> Result<Pairs, RdbError> {
    if !items.len().is_multiple_of(2) {
        return Err(RdbError::corrupt(format!("{what}: odd number of elements")));
    }
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let (Some(a), Some(b)) = (it.next(), it.next()) {
        out.push((a, b));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_computed_without_encoding_match_the_encoding() {
        let edges = [
            0,
            127,
            128,
            -1,
            -4096,
            -4097,
            4095,
            4096,
            i16::MIN as i64,
            i16::MAX as i64,
        ];
        let wide = [
            1 << 23,
            -(1 << 23),
            (1 << 23) - 1,
            i32::MIN as i64,
            i32::MAX as i64,
        ];
        for v in edges.into_iter().chain(wide).chain([i64::MIN, i64::MAX]) {
            for w in [v, v.saturating_add(1), v.saturating_sub(1)] {
                assert_eq!(int_entry_len(w), int_entry(w).len(), "{w}");
                let text = w.to_string();
                assert_eq!(
                    ListpackBuilder::int_entry_size(w),
                    ListpackBuilder::entry_size(text.as_bytes()),
                    "{w}"
                );
                let mut b = ListpackBuilder::new();
                b.push_int(w);
                assert_eq!(
                    b.finish().len() - 7,
                    ListpackBuilder::int_entry_size(w),
                    "{w}"
                );
            }
        }
        for len in [0, 1, 63, 64, 4095, 4096, 70_000] {
            assert_eq!(str_header_len(len), str_header(len).len(), "{len}");
            let s = vec![b'x'; len];
            let mut b = ListpackBuilder::new();
            b.push(&s);
            assert_eq!(
                b.finish().len() - 7,
                ListpackBuilder::entry_size(&s),
                "{len}"
            );
        }
    }

    #[test]
    fn listpack_round_trips_every_encoding() {
        let mut items: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"a".to_vec(),
            vec![b'x'; 63],
            vec![b'y'; 64],
            vec![b'z'; 4095],
            vec![b'w'; 4096],
            vec![b'v'; 20_000],
            b"007".to_vec(),
            b"-0".to_vec(),
        ];
        for v in [
            0i64,
            127,
            128,
            -1,
            -4096,
            4095,
            4096,
            -4097,
            32767,
            -32768,
            32768,
            8_388_607,
            -8_388_608,
            8_388_608,
            i32::MAX as i64,
            i32::MIN as i64,
            i32::MAX as i64 + 1,
            i64::MAX,
            i64::MIN,
        ] {
            items.push(int_bytes(v));
        }
        let mut b = ListpackBuilder::new();
        let mut size = 7;
        for it in &items {
            b.push(it);
            size += ListpackBuilder::entry_size(it);
        }
        let lp = b.finish();
        assert_eq!(lp.len(), size);
        assert_eq!(listpack_entries(&lp).unwrap(), items);
    }

    #[test]
    fn listpack_rejects_damage_without_panicking() {
        let mut b = ListpackBuilder::new();
        for i in 0..50 {
            b.push(format!("item-{i}").as_bytes());
            b.push(int_bytes(i * 1000).as_slice());
        }
        let lp = b.finish();
        let mut seed = 42u64;
        for _ in 0..5000 {
            let mut m = lp.clone();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let i = (seed as usize) % m.len();
            m[i] = (seed >> 32) as u8;
            let _ = listpack_entries(&m);
            let _ = ziplist_entries(&m);
            let _ = intset_entries(&m);
            let _ = zipmap_pairs(&m);
            let _ = listpack_entries(&m[..i]);
        }
        assert!(listpack_entries(&lp[..lp.len() - 1]).is_err());
    }

    #[test]
    fn ziplist_and_intset_decode() {
        // Hand-built ziplist: "ab", 5 (immediate), -2 (int8), 300 (int16)
        let mut body = Vec::new();
        body.extend_from_slice(&[0, 0x02, b'a', b'b']); // prevlen 0, 6-bit string
        body.extend_from_slice(&[4, 0xF6]); // prevlen 4, immediate 5
        body.extend_from_slice(&[2, 0xFE, 0xFE]); // prevlen 2, int8 -2
        body.extend_from_slice(&[3, 0xC0, 0x2C, 0x01]); // prevlen 3, int16 300
        let total = (10 + body.len() + 1) as u32;
        let mut zl = total.to_le_bytes().to_vec();
        zl.extend_from_slice(&[0, 0, 0, 0, 4, 0]);
        zl.extend_from_slice(&body);
        zl.push(0xFF);
        let got = ziplist_entries(&zl).unwrap();
        assert_eq!(
            got,
            vec![
                b"ab".to_vec(),
                b"5".to_vec(),
                b"-2".to_vec(),
                b"300".to_vec()
            ]
        );

        let mut is = 2u32.to_le_bytes().to_vec();
        is.extend_from_slice(&3u32.to_le_bytes());
        for v in [-5i16, 0, 7] {
            is.extend_from_slice(&v.to_le_bytes());
        }
        assert_eq!(
            intset_entries(&is).unwrap(),
            vec![b"-5".to_vec(), b"0".to_vec(), b"7".to_vec()]
        );
        is[4] = 4; // count disagrees with size
        assert!(intset_entries(&is).is_err());
    }
}
