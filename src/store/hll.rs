//! HyperLogLog exactly as Redis stores it: a string with the `HYLL` header, a cached
//! cardinality and 16384 six-bit registers, sparse (run-length opcodes) while small and
//! dense once a register passes 32 or the sparse form outgrows `hll-sparse-max-bytes`.
//! Every edit follows Redis's algorithm step for step, so a key written by PFADD here
//! holds the same bytes as on stock Redis and either side reads the other's keys
//! (replication, RDB, DUMP/RESTORE) with the same count.

use super::StrBytes;

/// Register index bits.
const P: u32 = 14;
/// Hash bits left for the run of zeros.
const Q: u32 = 64 - P;
/// Number of registers.
pub const REGISTERS: usize = 1 << P;
const REGISTER_MAX: u8 = 63;
/// Header: magic, encoding, 3 unused bytes, 8-byte little-endian cached cardinality
/// (its top bit set means stale).
pub const HDR: usize = 16;
/// Length of a dense HyperLogLog.
pub const DENSE_SIZE: usize = HDR + (REGISTERS * 6).div_ceil(8);
const DENSE: u8 = 0;
const SPARSE: u8 = 1;
const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_LEN: usize = 4;
const ZERO_MAX_LEN: usize = 64;
const XZERO_MAX_LEN: usize = 16384;
const HASH_SEED: u64 = 0xadc8_3b19;

/// Why a string cannot be used as a HyperLogLog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HllError {
    /// Not a HyperLogLog at all (Redis answers WRONGTYPE).
    #[error("WRONGTYPE Key is not a valid HyperLogLog string value.")]
    NotHll,
    /// The header is right but the registers do not add up.
    #[error("INVALIDOBJ Corrupted HLL object detected")]
    Corrupt,
}

/// Checks the header as Redis does before any HyperLogLog command touches a string.
pub fn check(s: &[u8]) -> Result<(), HllError> {
    if s.len() < HDR || &s[..4] != b"HYLL" || s[4] > SPARSE {
        return Err(HllError::NotHll);
    }
    if s[4] == DENSE && s.len() != DENSE_SIZE {
        return Err(HllError::NotHll);
    }
    Ok(())
}

/// True for the dense encoding (of a checked string).
pub fn is_dense(s: &[u8]) -> bool {
    s[4] == DENSE
}

/// An empty HyperLogLog: sparse, every register zero, cached cardinality 0.
pub fn new_sparse() -> StrBytes {
    let mut s = StrBytes::from_slice(b"HYLL");
    s.push(SPARSE);
    s.extend_from_slice(&[0; 11]);
    let mut left = REGISTERS;
    while left > 0 {
        let run = left.min(XZERO_MAX_LEN);
        s.extend_from_slice(&xzero(run));
        left -= run;
    }
    s
}

/// The cached cardinality, when valid.
pub fn cached(s: &[u8]) -> Option<u64> {
    (s[15] & 0x80 == 0).then(|| u64::from_le_bytes(s[8..16].try_into().expect("8 bytes")))
}

/// Stores a freshly computed cardinality in the header.
pub fn set_cached(s: &mut [u8], card: u64) {
    s[8..16].copy_from_slice(&card.to_le_bytes());
}

/// Marks the cached cardinality stale.
pub fn invalidate(s: &mut [u8]) {
    s[15] |= 0x80;
}

/// MurmurHash64A as Redis uses it (little-endian reads on every platform).
fn murmur64a(key: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (key.len() as u64).wrapping_mul(M);
    let mut chunks = key.chunks_exact(8);
    for c in chunks.by_ref() {
        let mut k = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, b) in tail.iter().enumerate() {
            h ^= (*b as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element lands in and the length of its hash's `000..1` pattern.
fn pattern(ele: &[u8]) -> (usize, u8) {
    let hash = murmur64a(ele, HASH_SEED);
    let index = (hash as usize) & (REGISTERS - 1);
    let rest = (hash >> P) | (1 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

/// Register `i` of a dense register array.
fn dense_get(regs: &[u8], i: usize) -> u8 {
    let byte = i * 6 / 8;
    let fb = (i * 6) & 7;
    let b0 = regs[byte] as u16;
    let b1 = regs.get(byte + 1).copied().unwrap_or(0) as u16;
    (((b0 >> fb) | (b1 << (8 - fb))) as u8) & REGISTER_MAX
}

fn dense_put(regs: &mut [u8], i: usize, v: u8) {
    let byte = i * 6 / 8;
    let fb = (i * 6) & 7;
    let v = v as u16;
    regs[byte] &= !((REGISTER_MAX as u16) << fb) as u8;
    regs[byte] |= (v << fb) as u8;
    if let Some(next) = regs.get_mut(byte + 1) {
        *next &= !((REGISTER_MAX as u16) >> (8 - fb)) as u8;
        *next |= (v >> (8 - fb)) as u8;
    }
}

/// Raises register `i` to `count`; true when it changed.
fn dense_set(regs: &mut [u8], i: usize, count: u8) -> bool {
    if count > dense_get(regs, i) {
        dense_put(regs, i, count);
        true
    } else {
        false
    }
}

/// One sparse opcode: a run of `len` registers holding `value` (0 for ZERO/XZERO),
/// `width` bytes long.
#[derive(Debug, Clone, Copy)]
struct Op {
    value: u8,
    len: usize,
    width: usize,
    xzero: bool,
}

/// The opcode at `p` (an XZERO cut short by the end reads its missing byte as zero,
/// as Redis reads the string's terminator).
fn op_at(s: &[u8], p: usize) -> Op {
    let b = s[p];
    if b & 0xc0 == 0 {
        Op {
            value: 0,
            len: (b & 0x3f) as usize + 1,
            width: 1,
            xzero: false,
        }
    } else if b & 0x80 == 0 {
        let lo = s.get(p + 1).copied().unwrap_or(0) as usize;
        Op {
            value: 0,
            len: ((((b & 0x3f) as usize) << 8) | lo) + 1,
            width: 2,
            xzero: true,
        }
    } else {
        Op {
            value: ((b >> 2) & 0x1f) + 1,
            len: (b & 0x3) as usize + 1,
            width: 1,
            xzero: false,
        }
    }
}

fn val(value: u8, len: usize) -> u8 {
    (((value - 1) << 2) | (len as u8 - 1)) | 0x80
}

fn zero(len: usize) -> u8 {
    (len - 1) as u8
}

fn xzero(len: usize) -> [u8; 2] {
    let l = len - 1;
    [((l >> 8) as u8) | 0x40, (l & 0xff) as u8]
}

/// Zero runs of `len` registers, as Redis writes them in a split.
fn push_zeros(seq: &mut smallvec::SmallVec<[u8; 5]>, len: usize) {
    if len > ZERO_MAX_LEN {
        seq.extend_from_slice(&xzero(len));
    } else {
        seq.push(zero(len));
    }
}

/// Rewrites a sparse HyperLogLog as dense (Redis's hllSparseToDense).
pub fn to_dense(s: &mut StrBytes) -> Result<bool, HllError> {
    if s[4] == DENSE {
        return Ok(false);
    }
    let mut dense = StrBytes::from_elem(0, DENSE_SIZE);
    dense[..HDR].copy_from_slice(&s[..HDR]);
    dense[4] = DENSE;
    let mut idx = 0;
    let mut p = HDR;
    while p < s.len() {
        let op = op_at(s, p);
        if op.value > 0 {
            if idx + op.len > REGISTERS {
                break;
            }
            for r in idx..idx + op.len {
                dense_put(&mut dense[HDR..], r, op.value);
            }
        }
        idx += op.len;
        p += op.width;
    }
    if idx != REGISTERS {
        return Err(HllError::Corrupt);
    }
    *s = dense;
    Ok(true)
}

/// Raises register `index` of a sparse HyperLogLog to `count` (Redis's hllSparseSet,
/// step for step, so the bytes come out as stock's); true when it changed. Promotes
/// to dense when the value or the size no longer suits the sparse form.
fn sparse_set(
    s: &mut StrBytes,
    index: usize,
    count: u8,
    sparse_max: usize,
) -> Result<bool, HllError> {
    if count > VAL_MAX_VALUE {
        return promote(s, index, count);
    }
    // Find the opcode covering the register.
    let mut p = HDR;
    let mut first = 0;
    let mut prev = None;
    let mut op = None;
    while p < s.len() {
        let o = op_at(s, p);
        if index < first + o.len {
            op = Some(o);
            break;
        }
        prev = Some(p);
        p += o.width;
        first += o.len;
    }
    let Some(op) = op else {
        return Err(HllError::Corrupt);
    };
    let is_val = op.value > 0;
    let mut replaced = false;
    if is_val {
        if op.value >= count {
            return Ok(false);
        }
        if op.len == 1 {
            s[p] = val(count, 1);
            replaced = true;
        }
    }
    if !replaced && !is_val && !op.xzero && op.len == 1 {
        s[p] = val(count, 1);
        replaced = true;
    }
    if !replaced {
        // Split the run around the register.
        let last = first + op.len - 1;
        let mut seq = smallvec::SmallVec::<[u8; 5]>::new();
        if is_val {
            if index != first {
                seq.push(val(op.value, index - first));
            }
            seq.push(val(count, 1));
            if index != last {
                seq.push(val(op.value, last - index));
            }
        } else {
            if index != first {
                push_zeros(&mut seq, index - first);
            }
            seq.push(val(count, 1));
            if index != last {
                push_zeros(&mut seq, last - index);
            }
        }
        let old_end = (p + op.width).min(s.len());
        if seq.len() > op.width && s.len() + seq.len() - op.width > sparse_max {
            return promote(s, index, count);
        }
        splice(s, p, old_end, &seq);
    }
    // Merge adjacent runs of one value where they fit one opcode, scanning up to five
    // opcodes from the one before the change.
    let mut p = prev.unwrap_or(HDR);
    let mut scan = 5;
    while p < s.len() && scan > 0 {
        scan -= 1;
        let o = op_at(s, p);
        if o.value == 0 {
            p += o.width;
            continue;
        }
        if p + 1 < s.len() && s[p + 1] & 0x80 != 0 {
            let next = op_at(s, p + 1);
            if next.value == o.value && o.len + next.len <= VAL_MAX_LEN {
                s[p + 1] = val(o.value, o.len + next.len);
                s.remove(p);
                continue;
            }
        }
        p += 1;
    }
    invalidate(s);
    Ok(true)
}

/// Replaces `s[from..to]` with `with`.
fn splice(s: &mut StrBytes, from: usize, to: usize, with: &[u8]) {
    let tail = s[to..].to_vec();
    s.truncate(from);
    s.extend_from_slice(with);
    s.extend_from_slice(&tail);
}

fn promote(s: &mut StrBytes, index: usize, count: u8) -> Result<bool, HllError> {
    to_dense(s)?;
    dense_set(&mut s[HDR..], index, count);
    invalidate(s);
    Ok(true)
}

/// Raises register `index` to `count` in either encoding; true when it changed.
pub fn set_register(
    s: &mut StrBytes,
    index: usize,
    count: u8,
    sparse_max: usize,
) -> Result<bool, HllError> {
    match s[4] {
        DENSE => {
            let changed = dense_set(&mut s[HDR..], index, count);
            if changed {
                invalidate(s);
            }
            Ok(changed)
        }
        SPARSE => sparse_set(s, index, count, sparse_max),
        _ => Err(HllError::Corrupt),
    }
}

/// Adds an element (PFADD); true when a register changed.
pub fn add(s: &mut StrBytes, ele: &[u8], sparse_max: usize) -> Result<bool, HllError> {
    let (index, count) = pattern(ele);
    set_register(s, index, count, sparse_max)
}

/// Raises `max[i]` to the HyperLogLog's register `i`, for every register (PFMERGE and
/// PFCOUNT of several keys).
pub fn merge_into(max: &mut [u8], s: &[u8]) -> Result<(), HllError> {
    if s[4] == DENSE {
        for (i, m) in max.iter_mut().enumerate().take(REGISTERS) {
            *m = (*m).max(dense_get(&s[HDR..], i));
        }
        return Ok(());
    }
    let mut i = 0;
    let mut p = HDR;
    while p < s.len() {
        let op = op_at(s, p);
        if op.value > 0 {
            if i + op.len > REGISTERS {
                break;
            }
            for m in &mut max[i..i + op.len] {
                *m = (*m).max(op.value);
            }
        }
        i += op.len;
        p += op.width;
    }
    if i != REGISTERS {
        return Err(HllError::Corrupt);
    }
    Ok(())
}

/// The estimated cardinality of a checked HyperLogLog.
pub fn count(s: &[u8]) -> Result<u64, HllError> {
    let mut histo = [0u32; 64];
    if s[4] == DENSE {
        for i in 0..REGISTERS {
            histo[dense_get(&s[HDR..], i) as usize] += 1;
        }
    } else {
        let mut idx = 0;
        let mut p = HDR;
        while p < s.len() {
            let op = op_at(s, p);
            idx += op.len;
            histo[op.value as usize] += op.len as u32;
            p += op.width;
        }
        if idx != REGISTERS {
            return Err(HllError::Corrupt);
        }
    }
    Ok(estimate(&histo))
}

/// The cardinality of plain byte registers (a merge of several keys).
pub fn count_registers(regs: &[u8]) -> u64 {
    let mut histo = [0u32; 64];
    for r in regs {
        histo[(*r as usize) & 63] += 1;
    }
    estimate(&histo)
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let z_prev = z;
        z += x * y;
        y += y;
        if z_prev == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let z_prev = z;
        y *= 0.5;
        z -= (1.0 - x) * (1.0 - x) * y;
        if z_prev == z {
            return z / 3.0;
        }
    }
}

/// Ertl's estimator over the register histogram, as Redis computes it.
fn estimate(histo: &[u32; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - histo[Q as usize + 1] as f64) / m);
    for j in (1..=Q as usize).rev() {
        z += histo[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(histo[0] as f64 / m);
    const ALPHA_INF: f64 = 0.721_347_520_444_481_7;
    (ALPHA_INF * m * m / z).round() as u64
}

/// Every register of a dense HyperLogLog (PFDEBUG GETREG).
pub fn registers(s: &[u8]) -> Vec<u8> {
    (0..REGISTERS).map(|i| dense_get(&s[HDR..], i)).collect()
}

/// The sparse opcodes as PFDEBUG DECODE prints them.
pub fn decode(s: &[u8]) -> String {
    let mut out = Vec::new();
    let mut p = HDR;
    while p < s.len() {
        let op = op_at(s, p);
        out.push(match (op.value, op.xzero) {
            (0, false) => format!("z:{}", op.len),
            (0, true) => format!("Z:{}", op.len),
            (v, _) => format!("v:{},{}", v, op.len),
        });
        p += op.width;
    }
    out.join(" ")
}

/// Redis's PFSELFTEST: register packing, then the estimate's error and the agreement
/// of both encodings up to ten million elements. Err names the first failure.
pub fn self_test(sparse_max: usize) -> Result<(), String> {
    use rand::RngExt;
    let mut rng = rand::rng();
    let mut regs = vec![0u8; DENSE_SIZE - HDR];
    let mut bytes = vec![0u8; REGISTERS];
    for _ in 0..1000 {
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = rng.random::<u8>() & REGISTER_MAX;
            dense_put(&mut regs, i, *b);
        }
        for (i, b) in bytes.iter().enumerate() {
            let got = dense_get(&regs, i);
            if got != *b {
                return Err(format!(
                    "TESTFAILED Register {i} should be {b} but is {got}"
                ));
            }
        }
    }
    let mut dense = new_sparse();
    to_dense(&mut dense).map_err(|e| e.to_string())?;
    let mut sparse = new_sparse();
    let relerr = 1.04 / (REGISTERS as f64).sqrt();
    let mut checkpoint: u64 = 1;
    let seed: u64 = rng.random();
    for j in 1..=10_000_000u64 {
        let ele = (j ^ seed).to_le_bytes();
        add(&mut dense, &ele, sparse_max).map_err(|e| e.to_string())?;
        add(&mut sparse, &ele, sparse_max).map_err(|e| e.to_string())?;
        if j != checkpoint {
            continue;
        }
        if j < sparse_max as u64 / 2 && is_dense(&sparse) {
            return Err("TESTFAILED sparse encoding not used".into());
        }
        let card = count(&dense).map_err(|e| e.to_string())?;
        if card != count(&sparse).map_err(|e| e.to_string())? {
            return Err("TESTFAILED dense/sparse disagree".into());
        }
        let maxerr = if j == 10 {
            1
        } else {
            (relerr * 6.0 * checkpoint as f64).ceil() as u64
        };
        let abserr = checkpoint.abs_diff(card);
        if abserr > maxerr {
            return Err(format!(
                "TESTFAILED Too big error. card:{checkpoint} abserr:{abserr}"
            ));
        }
        checkpoint *= 10;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_is_one_xzero_run() {
        let s = new_sparse();
        assert_eq!(s.len(), 18);
        assert_eq!(&s[16..], &[0x7f, 0xff]);
        assert_eq!(decode(&s), "Z:16384");
        assert_eq!(count(&s), Ok(0));
        assert_eq!(cached(&s), Some(0));
    }

    #[test]
    fn sparse_and_dense_count_alike() {
        let mut sparse = new_sparse();
        let mut dense = new_sparse();
        to_dense(&mut dense).unwrap();
        for i in 0..2000u32 {
            add(&mut sparse, format!("ele:{i}").as_bytes(), 3000).unwrap();
            add(&mut dense, format!("ele:{i}").as_bytes(), 3000).unwrap();
        }
        let (a, b) = (count(&sparse).unwrap(), count(&dense).unwrap());
        assert_eq!(a, b);
        assert!((1900..2100).contains(&a), "estimate {a}");
        let mut converted = sparse.clone();
        to_dense(&mut converted).unwrap();
        assert_eq!(registers(&converted), registers(&dense));
    }
}
