//! RESP in and out: request parsing (multibulk and inline) and reply encoding.

mod conformance;
pub mod reply;
pub mod request;

pub use reply::ReplyBuf;
pub use request::{Parsed, ProtocolError, RequestLimits, RequestParser};

/// Parses a signed 64-bit decimal exactly as Redis's `string2ll`: no leading '+', no spaces,
/// no leading zeros (except "0"), and no overflow.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let (neg, digits) = if s[0] == b'-' {
        (true, &s[1..])
    } else {
        (false, s)
    };
    // "0" is the only number that may start with 0 ("-0" and "007" are strings).
    if digits.is_empty() || (digits[0] == b'0' && (digits.len() > 1 || neg)) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else if v > i64::MAX as u64 {
        None
    } else {
        Some(v as i64)
    }
}

/// Parses a float argument as Redis's `getLongDoubleFromObject`/`strtod` accepts it:
/// no spaces, not NaN.
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    let st = std::str::from_utf8(s).ok()?;
    if st.is_empty() || st.starts_with(char::is_whitespace) || st.ends_with(char::is_whitespace) {
        return None;
    }
    let v: f64 = match st.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => st.parse().ok()?,
    };
    if v.is_nan() { None } else { Some(v) }
}

/// Parses a double as Redis's `getDoubleFromObject` does (sorted-set scores, weights):
/// as [`parse_f64`], but a number too large for a double (which strtod reports as out of
/// range) or too small, rounding to zero, is refused rather than read as inf or 0.
pub fn parse_f64_in_range(s: &[u8]) -> Option<f64> {
    let v = parse_f64(s)?;
    let text = std::str::from_utf8(s).ok()?.to_ascii_lowercase();
    let mantissa = text.split('e').next().unwrap_or("");
    let overflow = v.is_infinite() && !text.contains("inf");
    let underflow = v == 0.0 && mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b));
    (!overflow && !underflow).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn doubles_out_of_range_are_refused() {
        assert_eq!(parse_f64_in_range(b"1e400"), None);
        assert_eq!(parse_f64_in_range(b"-1e400"), None);
        assert_eq!(parse_f64_in_range(b"1e-400"), None);
        assert_eq!(parse_f64_in_range(b"0e5"), Some(0.0));
        assert_eq!(parse_f64_in_range(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64_in_range(b"1.5"), Some(1.5));
    }

    #[test]
    fn string2ll_rules() {
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"01"), None);
        assert_eq!(parse_i64(b" 1"), None);
        assert_eq!(parse_i64(b"+1"), None);
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-0"), None);
    }
}
