//! The hash value: a small packed buffer (what Redis calls a listpack) while it has at
//! most `hash-max-listpack-entries` fields of at most `hash-max-listpack-value` bytes, a
//! hash table beyond; OBJECT ENCODING reports which, as Redis does.

use super::encoding::{EncodingLimits, limit};
use super::value::StrBytes;
use std::collections::HashMap;

/// Small hashes: every field and value in one byte buffer, each string written as its
/// length (LEB128) followed by its bytes, pairs in insertion order. Like Redis's listpack
/// this costs one or two bytes per string instead of a 24-byte string header each, which
/// is what keeps many small hashes as compact as in Redis.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Packed {
    buf: Vec<u8>,
    pairs: usize,
}

fn put_len(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn len_size(n: usize) -> usize {
    let bits = usize::BITS - n.leading_zeros();
    (bits.max(1)).div_ceil(7) as usize
}

/// Reads the string starting at `pos`; returns it and the position after it.
fn read_str(buf: &[u8], mut pos: usize) -> (&[u8], usize) {
    let mut n = 0usize;
    let mut shift = 0;
    loop {
        let b = buf[pos];
        pos += 1;
        n |= ((b & 0x7f) as usize) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    (&buf[pos..pos + n], pos + n)
}

/// One pair's place in the buffer.
struct Slot {
    /// Start of the field's length.
    start: usize,
    /// Start of the value's length.
    value_at: usize,
    /// End of the pair.
    end: usize,
}

impl Packed {
    fn slots(&self) -> impl Iterator<Item = (Slot, &[u8], &[u8])> + '_ {
        let mut pos = 0;
        std::iter::from_fn(move || {
            if pos >= self.buf.len() {
                return None;
            }
            let start = pos;
            let (f, value_at) = read_str(&self.buf, pos);
            let (v, end) = read_str(&self.buf, value_at);
            pos = end;
            Some((
                Slot {
                    start,
                    value_at,
                    end,
                },
                f,
                v,
            ))
        })
    }

    fn find(&self, field: &[u8]) -> Option<(Slot, &[u8])> {
        self.slots()
            .find(|(_, f, _)| *f == field)
            .map(|(s, _, v)| (s, v))
    }

    /// Pairs in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.slots().map(|(_, f, v)| (f, v))
    }

    fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        let mut enc = Vec::with_capacity(value.len() + 2);
        put_len(&mut enc, value.len());
        enc.extend_from_slice(value);
        match self.find(field) {
            Some((slot, _)) => {
                self.buf.splice(slot.value_at..slot.end, enc);
                false
            }
            None => {
                self.buf
                    .reserve_exact(len_size(field.len()) + field.len() + enc.len());
                put_len(&mut self.buf, field.len());
                self.buf.extend_from_slice(field);
                self.buf.extend_from_slice(&enc);
                self.pairs += 1;
                true
            }
        }
    }

    fn remove(&mut self, field: &[u8]) -> bool {
        match self.find(field) {
            Some((slot, _)) => {
                self.buf.drain(slot.start..slot.end);
                self.pairs -= 1;
                true
            }
            None => false,
        }
    }
}

/// Fields and values of one hash.
#[derive(Debug, Clone, PartialEq)]
pub enum HashValue {
    /// Insertion-ordered pairs in one buffer, scanned linearly (small hashes).
    Packed(Packed),
    /// A table (large hashes), boxed so that small hashes do not carry its 64 bytes.
    Table(Box<HashMap<StrBytes, StrBytes, ahash::RandomState>>),
}

impl Default for HashValue {
    fn default() -> Self {
        HashValue::Packed(Packed::default())
    }
}

/// Replaces `slot`'s bytes with `value`, reusing its allocation when it is large enough
/// (updating a field then allocates and frees nothing).
fn overwrite(slot: &mut StrBytes, value: &[u8]) {
    slot.clear();
    slot.extend_from_slice(value);
}

impl HashValue {
    /// Number of fields.
    pub fn len(&self) -> usize {
        match self {
            HashValue::Packed(p) => p.pairs,
            HashValue::Table(m) => m.len(),
        }
    }

    /// True when there is no field (the key is then deleted).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            HashValue::Packed(p) => p.find(field).map(|(_, v)| v),
            HashValue::Table(m) => m.get(field).map(|v| &v[..]),
        }
    }

    /// Sets `field`; returns true when it is new.
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: &EncodingLimits) -> bool {
        match self {
            HashValue::Packed(p) => {
                let new = p.set(field, value);
                self.convert_if_needed(value.len().max(field.len()), limits);
                new
            }
            HashValue::Table(m) => match m.entry(StrBytes::from_slice(field)) {
                std::collections::hash_map::Entry::Occupied(mut o) => {
                    overwrite(o.get_mut(), value);
                    false
                }
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(StrBytes::from_slice(value));
                    true
                }
            },
        }
    }

    /// Removes `field`; returns true when it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            HashValue::Packed(p) => p.remove(field),
            HashValue::Table(m) => m.remove(field).is_some(),
        }
    }

    /// Every field and value (insertion order while packed).
    pub fn iter(&self) -> Box<dyn Iterator<Item = (&[u8], &[u8])> + '_> {
        match self {
            HashValue::Packed(p) => Box::new(p.iter()),
            HashValue::Table(m) => Box::new(m.iter().map(|(f, v)| (&f[..], &v[..]))),
        }
    }

    /// "listpack" or "hashtable".
    pub fn encoding(&self) -> &'static str {
        match self {
            HashValue::Packed(_) => "listpack",
            HashValue::Table(_) => "hashtable",
        }
    }

    /// Heap bytes held (approximate).
    pub fn heap_size(&self) -> usize {
        match self {
            HashValue::Packed(p) => p.buf.capacity(),
            HashValue::Table(_) => self.iter().map(|(f, v)| f.len() + v.len() + 48).sum(),
        }
    }

    /// Builds a hash from pairs (RDB load), packed when small enough.
    pub fn from_pairs(
        pairs: impl IntoIterator<Item = (Vec<u8>, Vec<u8>)>,
        limits: &EncodingLimits,
    ) -> Self {
        let mut h = HashValue::default();
        for (f, v) in pairs {
            h.set(&f, &v, limits);
        }
        h
    }

    fn convert_if_needed(&mut self, longest: usize, limits: &EncodingLimits) {
        if let HashValue::Packed(p) = self
            && (p.pairs > limit(&limits.hash_max_listpack_entries)
                || longest > limit(&limits.hash_max_listpack_value))
        {
            let map = p
                .iter()
                .map(|(f, v)| (StrBytes::from_slice(f), StrBytes::from_slice(v)))
                .collect();
            *self = HashValue::Table(Box::new(map));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_pairs_follow_a_model() {
        use rand::RngExt;
        let mut rng = rand::rng();
        let mut p = Packed::default();
        let mut model: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for _ in 0..5000 {
            let f = format!("f{}", rng.random_range(0..40)).into_bytes();
            // Lengths around the one-byte/two-byte length boundary (127/128).
            let v = vec![b'x'; rng.random_range(0..300)];
            let at = model.iter().position(|(x, _)| *x == f);
            if rng.random_range(0..3) == 0 {
                assert_eq!(p.remove(&f), at.is_some());
                if let Some(i) = at {
                    model.remove(i);
                }
            } else {
                assert_eq!(p.set(&f, &v), at.is_none());
                match at {
                    Some(i) => model[i].1 = v,
                    None => model.push((f, v)),
                }
            }
            let got: Vec<(Vec<u8>, Vec<u8>)> =
                p.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
            assert_eq!(got, model);
            assert_eq!(p.pairs, model.len());
        }
    }
}
