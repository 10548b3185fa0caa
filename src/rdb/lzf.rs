//! LZF, the compression Redis applies to RDB strings longer than 20 bytes.
//!
//! Written here rather than taken from a crate because RDB needs exactly liblzf's stream
//! format with two extra guarantees: the compressor must give up as soon as the output
//! would not save space (Redis stores such strings raw), and the decompressor must be
//! bounded by the length the file claims, since that length is untrusted.
//!
//! Format: a control byte `c`. If `c < 32`, `c + 1` literal bytes follow. Otherwise it is
//! a back reference: length `(c >> 5) + 2` (when `c >> 5 == 7`, the next byte is added to
//! the length), distance `((c & 31) << 8 | next byte) + 1` back from the output end.

const MAX_LIT: usize = 32;
const MAX_OFF: usize = 1 << 13;
const MAX_REF: usize = (1 << 8) + (1 << 3); // 264: 255 + 7 + 2
/// Largest hash table (log2 of slots); small inputs get a table their own size, so
/// compressing many short strings does not clear 64 KiB each time.
const HLOG_MAX: u32 = 14;
const HLOG_MIN: u32 = 6;

fn hash3(b: &[u8], hlog: u32) -> usize {
    let v = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
    (v.wrapping_mul(2_654_435_761) >> (32 - hlog)) as usize
}

/// Compresses `input`, or returns `None` when the result would be longer than `max_out`
/// bytes (the caller then stores the data uncompressed).
pub fn compress(input: &[u8], max_out: usize) -> Option<Vec<u8>> {
    let n = input.len();
    let mut out = Vec::with_capacity(max_out.min(n + n / 32 + 1));
    let hlog = (usize::BITS - n.leading_zeros()).clamp(HLOG_MIN, HLOG_MAX);
    let mut table = vec![0u32; 1 << hlog]; // position + 1, 0 = empty
    let mut lit_ctrl: Option<usize> = None; // index of the open literal run's control byte
    let mut ip = 0usize;
    while ip < n {
        if ip + 2 < n {
            let h = hash3(&input[ip..], hlog);
            let cand = table[h] as usize;
            table[h] = (ip + 1) as u32;
            if cand > 0 {
                let r = cand - 1;
                let off = ip - r - 1;
                if off < MAX_OFF && input[r..r + 3] == input[ip..ip + 3] {
                    let max_len = MAX_REF.min(n - ip);
                    let mut len = 3;
                    while len < max_len && input[r + len] == input[ip + len] {
                        len += 1;
                    }
                    lit_ctrl = None;
                    let l = len - 2;
                    let hi = (off >> 8) as u8;
                    if l < 7 {
                        out.push(((l as u8) << 5) | hi);
                    } else {
                        out.push((7 << 5) | hi);
                        out.push((l - 7) as u8);
                    }
                    out.push((off & 0xff) as u8);
                    if out.len() > max_out {
                        return None;
                    }
                    // Index the positions inside the match so later data can refer to them.
                    let end = ip + len;
                    let mut p = ip + 1;
                    while p < end && p + 2 < n {
                        table[hash3(&input[p..], hlog)] = (p + 1) as u32;
                        p += 1;
                    }
                    ip = end;
                    continue;
                }
            }
        }
        match lit_ctrl {
            Some(c) if (out[c] as usize) + 1 < MAX_LIT => out[c] += 1,
            _ => {
                lit_ctrl = Some(out.len());
                out.push(0);
            }
        }
        out.push(input[ip]);
        if out.len() > max_out {
            return None;
        }
        ip += 1;
    }
    Some(out)
}

/// Decompresses `input`, which must expand to exactly `expected_len` bytes. Returns
/// `None` on any malformed input. Memory grows only as output is actually produced
/// (at most ~88x the input), so a lying `expected_len` cannot force a huge allocation.
pub fn decompress(input: &[u8], expected_len: usize) -> Option<Vec<u8>> {
    // Each 2..=3 input bytes make at most 264 output bytes.
    let bound = input.len().saturating_mul(MAX_REF / 2);
    if expected_len > bound && expected_len > MAX_LIT {
        return None;
    }
    let mut out: Vec<u8> = Vec::with_capacity(expected_len.min(input.len().saturating_mul(8)));
    let mut ip = 0usize;
    while ip < input.len() {
        let ctrl = input[ip] as usize;
        ip += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            let lit = input.get(ip..ip + run)?;
            if out.len() + run > expected_len {
                return None;
            }
            out.extend_from_slice(lit);
            ip += run;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += *input.get(ip)? as usize;
                ip += 1;
            }
            len += 2;
            let low = *input.get(ip)? as usize;
            ip += 1;
            let dist = ((ctrl & 0x1f) << 8 | low) + 1;
            if dist > out.len() || out.len() + len > expected_len {
                return None;
            }
            let start = out.len() - dist;
            if dist >= len {
                out.extend_from_within(start..start + len);
            } else {
                for i in 0..len {
                    let b = out[start + i];
                    out.push(b);
                }
            }
        }
    }
    (out.len() == expected_len).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xorshift(s: &mut u64) -> u64 {
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        *s
    }

    #[test]
    fn round_trips_repetitive_and_random_data() {
        let mut seed = 0x1234_5678_9abc_def0u64;
        let mut cases: Vec<Vec<u8>> = vec![
            b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_vec(),
            b"abcabcabcabcabcabcabcabcabcabcabcabcabc hello hello hello hello".to_vec(),
            vec![0u8; 100_000],
            (0..20_000u32)
                .flat_map(|i| (i % 251).to_le_bytes())
                .collect(),
            b"ab".to_vec(),
            Vec::new(),
        ];
        for len in [1usize, 3, 33, 300, 10_000] {
            cases.push((0..len).map(|_| xorshift(&mut seed) as u8).collect());
            // Low-entropy data: few symbols, many short matches at all distances.
            cases.push(
                (0..len)
                    .map(|_| b"xyz"[(xorshift(&mut seed) % 3) as usize])
                    .collect(),
            );
        }
        for c in &cases {
            let z = compress(c, c.len() + c.len() / 16 + 64).expect("fits");
            assert_eq!(decompress(&z, c.len()).as_deref(), Some(&c[..]));
        }
        // Compressible data shrinks a lot.
        assert!(compress(&vec![7u8; 10_000], 10_000).unwrap().len() < 200);
    }

    #[test]
    fn gives_up_when_output_would_be_too_long() {
        let mut seed = 99u64;
        let noise: Vec<u8> = (0..1000).map(|_| xorshift(&mut seed) as u8).collect();
        assert!(compress(&noise, noise.len() - 4).is_none());
    }

    #[test]
    fn decodes_hand_made_stream() {
        // literal "ab", then back reference length 4 distance 2 => "ababab"
        let z = [1u8, b'a', b'b', (2 << 5), 1];
        assert_eq!(decompress(&z, 6).unwrap(), b"ababab");
        // wrong expected length, distance beyond start, truncated: all rejected
        assert!(decompress(&z, 7).is_none());
        assert!(decompress(&z, 5).is_none());
        assert!(decompress(&[0, b'a', 0x20, 5], 4).is_none());
        assert!(decompress(&[3, b'a'], 4).is_none());
        assert!(decompress(&[0xE0], 100).is_none());
    }

    #[test]
    fn random_input_never_panics() {
        let mut seed = 7u64;
        for _ in 0..20_000 {
            let len = (xorshift(&mut seed) % 40) as usize;
            let data: Vec<u8> = (0..len).map(|_| xorshift(&mut seed) as u8).collect();
            let want = (xorshift(&mut seed) % 2000) as usize;
            let _ = decompress(&data, want);
        }
        assert!(decompress(&[0], usize::MAX).is_none());
    }
}
