//! Reply builders that write RESP2 or RESP3 straight into a connection's output buffer.
//!
//! Replies are encoded in place (no intermediate frame tree) because a reply per command is
//! the hottest path in the server; the version switch lives here so handlers never care
//! whether the client said `HELLO 3`.

use bytes::{BufMut, BytesMut};

/// An output buffer that knows which protocol version its client speaks.
#[derive(Debug, Default)]
pub struct ReplyBuf {
    /// Encoded replies waiting to be written to the socket.
    pub buf: BytesMut,
    /// True once the client switched to RESP3 with HELLO 3.
    pub resp3: bool,
}

fn put_len(buf: &mut BytesMut, prefix: u8, n: i64) {
    let mut tmp = itoa::Buffer::new();
    let s = tmp.format(n);
    buf.reserve(s.len() + 3);
    buf.put_u8(prefix);
    buf.put_slice(s.as_bytes());
    buf.put_slice(b"\r\n");
}

/// Formats a double the way Redis does for replies (`%.17g`, inf/-inf, integral without ".0").
pub fn format_double(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d.is_nan() {
        return "nan".into();
    }
    format_g17(d)
}

/// `%.17g` formatting, which Redis uses for INCRBYFLOAT-style results (`%.17Lg`) too.
pub fn format_g17(d: f64) -> String {
    if d == 0.0 {
        return if d.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // C's %g: the exponent after rounding to 17 significant digits decides between
    // the exponent form (below -4 or from 17 on) and the fixed form.
    let s = format!("{:.16e}", d);
    let (mant, e) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = e.parse().unwrap_or(0);
    if !(-4..17).contains(&exp) {
        let mant = if mant.contains('.') {
            mant.trim_end_matches('0').trim_end_matches('.')
        } else {
            mant
        };
        return format!(
            "{}e{}{:02}",
            mant,
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        );
    }
    let decimals = (16 - exp).max(0) as usize;
    let s = format!("{:.*}", decimals, d);
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

impl ReplyBuf {
    /// `+OK`.
    pub fn ok(&mut self) {
        self.buf.put_slice(b"+OK\r\n");
    }

    /// A simple string (`+...`); the text must not contain CR/LF.
    pub fn simple(&mut self, s: &str) {
        self.buf.reserve(s.len() + 3);
        self.buf.put_u8(b'+');
        self.buf.put_slice(s.as_bytes());
        self.buf.put_slice(b"\r\n");
    }

    /// An error line; `msg` already carries its code (`ERR ...`, `WRONGTYPE ...`).
    pub fn error(&mut self, msg: &str) {
        self.buf.reserve(msg.len() + 3);
        self.buf.put_u8(b'-');
        for &b in msg.as_bytes() {
            // An error line may never break the framing.
            self.buf
                .put_u8(if b == b'\r' || b == b'\n' { b' ' } else { b });
        }
        self.buf.put_slice(b"\r\n");
    }

    /// An integer (`:n`).
    pub fn int(&mut self, n: i64) {
        put_len(&mut self.buf, b':', n);
    }

    /// A bulk string.
    pub fn bulk(&mut self, data: &[u8]) {
        put_len(&mut self.buf, b'$', data.len() as i64);
        self.buf.reserve(data.len() + 2);
        self.buf.put_slice(data);
        self.buf.put_slice(b"\r\n");
    }

    /// A bulk string holding an integer's decimal text.
    pub fn bulk_int(&mut self, n: i64) {
        let mut tmp = itoa::Buffer::new();
        self.bulk(tmp.format(n).as_bytes());
    }

    /// The null bulk string (`$-1` / `_`).
    pub fn null(&mut self) {
        if self.resp3 {
            self.buf.put_slice(b"_\r\n");
        } else {
            self.buf.put_slice(b"$-1\r\n");
        }
    }

    /// The null array (`*-1` / `_`), as EXEC after a WATCH failure.
    pub fn null_array(&mut self) {
        if self.resp3 {
            self.buf.put_slice(b"_\r\n");
        } else {
            self.buf.put_slice(b"*-1\r\n");
        }
    }

    /// An array header for `n` elements that follow.
    pub fn array(&mut self, n: usize) {
        put_len(&mut self.buf, b'*', n as i64);
    }

    /// A set header (RESP3 `~`), an array in RESP2.
    pub fn set(&mut self, n: usize) {
        put_len(
            &mut self.buf,
            if self.resp3 { b'~' } else { b'*' },
            n as i64,
        );
    }

    /// A map header for `n` key/value pairs (RESP3 `%`, a flat array of 2n in RESP2).
    pub fn map(&mut self, n: usize) {
        if self.resp3 {
            put_len(&mut self.buf, b'%', n as i64);
        } else {
            put_len(&mut self.buf, b'*', 2 * n as i64);
        }
    }

    /// A map header under RESP3, an array of `n` under RESP2 (XREAD's per-key replies:
    /// each an array of key and entries in RESP2, a key and its entries in RESP3).
    pub fn map_or_array(&mut self, n: usize) {
        if self.resp3 {
            put_len(&mut self.buf, b'%', n as i64);
        } else {
            put_len(&mut self.buf, b'*', n as i64);
        }
    }

    /// A push header (RESP3 `>`, an array in RESP2) for out-of-band messages.
    pub fn push(&mut self, n: usize) {
        put_len(
            &mut self.buf,
            if self.resp3 { b'>' } else { b'*' },
            n as i64,
        );
    }

    /// A double (RESP3 `,`, a bulk string in RESP2).
    pub fn double(&mut self, d: f64) {
        let s = format_double(d);
        if self.resp3 {
            self.buf.put_u8(b',');
            self.buf.put_slice(s.as_bytes());
            self.buf.put_slice(b"\r\n");
        } else {
            self.bulk(s.as_bytes());
        }
    }

    /// A boolean (RESP3 `#t`/`#f`, integer 1/0 in RESP2).
    pub fn boolean(&mut self, b: bool) {
        if self.resp3 {
            self.buf.put_slice(if b { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(b as i64);
        }
    }

    /// Text meant for humans (RESP3 verbatim `=txt:`, bulk in RESP2), as INFO and CLIENT LIST.
    pub fn verbatim(&mut self, text: &[u8]) {
        if self.resp3 {
            put_len(&mut self.buf, b'=', text.len() as i64 + 4);
            self.buf.put_slice(b"txt:");
            self.buf.put_slice(text);
            self.buf.put_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    /// A bulk string from a `&str`.
    pub fn bulk_str(&mut self, s: &str) {
        self.bulk(s.as_bytes());
    }

    /// Raw pre-encoded bytes (for replies built elsewhere, e.g. fanned-out messages).
    pub fn raw(&mut self, data: &[u8]) {
        self.buf.put_slice(data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_like_redis() {
        assert_eq!(format_double(10.5), "10.5");
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(5.0e3), "5000");
        assert_eq!(format_double(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(format_double(1e20), "1e+20");
        assert_eq!(format_double(f64::INFINITY), "inf");
    }

    #[test]
    fn resp2_vs_resp3() {
        let mut r = ReplyBuf::default();
        r.null();
        r.map(1);
        assert_eq!(&r.buf[..], b"$-1\r\n*2\r\n");
        let mut r = ReplyBuf {
            resp3: true,
            ..Default::default()
        };
        r.null();
        r.map(1);
        assert_eq!(&r.buf[..], b"_\r\n%1\r\n");
    }
}

#[cfg(test)]
mod g17_tests {
    use super::format_g17;

    #[test]
    fn matches_c_percent_g() {
        // printf("%.17g") outputs.
        assert_eq!(
            format_g17(7.949_909_199_005_882e-5),
            "7.9499091990058819e-05"
        );
        assert_eq!(format_g17(0.0001), "0.0001");
        assert_eq!(format_g17(0.00012345), "0.00012344999999999999");
        assert_eq!(format_g17(1.5), "1.5");
        assert_eq!(format_g17(1e17), "1e+17");
        assert_eq!(format_g17(12345678901234567.0), "12345678901234568");
        assert_eq!(format_g17(-2.5e-10), "-2.5000000000000002e-10");
        assert_eq!(format_g17(3471579339700058.0), "3471579339700058");
    }
}
