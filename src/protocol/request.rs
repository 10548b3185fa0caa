//! Incremental, bounded parser for client requests (RESP multibulk and inline).
//!
//! Requests are parsed by hand rather than with `redis-protocol`'s decoder because the
//! server must (a) reject oversized or malformed headers *before* buffering their payload,
//! with the exact `Protocol error: ...` texts stock Redis sends, (b) resume a half-received
//! frame without rescanning it (a 1M-argument MSET arriving in 64 KiB reads would otherwise
//! be parsed quadratically) and (c) refuse nested aggregates instead of recursing on them.

use bytes::{Bytes, BytesMut};

/// Longest inline command or header line accepted, as Redis's PROTO_INLINE_MAX_SIZE.
pub const MAX_INLINE_LEN: usize = 64 * 1024;

/// Limits applied to every request; copied from the live config per read batch.
#[derive(Clone, Copy, Debug)]
pub struct RequestLimits {
    /// `proto-max-bulk-len`: the largest single argument.
    pub max_bulk_len: usize,
    /// `proto-max-multibulk-len`: the most arguments in one command.
    pub max_multibulk_len: usize,
}

impl Default for RequestLimits {
    fn default() -> Self {
        RequestLimits {
            max_bulk_len: 512 * 1024 * 1024,
            max_multibulk_len: 1024 * 1024,
        }
    }
}

/// A malformed request; the text follows `-ERR Protocol error: ` and the connection closes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Protocol error: {0}")]
pub struct ProtocolError(pub String);

fn perr(msg: impl Into<String>) -> ProtocolError {
    ProtocolError(msg.into())
}

/// Parser state carried across reads so a partial frame is never rescanned.
#[derive(Default, Debug)]
pub struct RequestParser {
    /// Arguments still expected in the current multibulk (None: between frames).
    remaining: Option<usize>,
    /// Byte ranges of the arguments parsed so far, relative to the buffer start.
    ranges: Vec<(usize, usize)>,
    /// Where parsing resumes in the buffer.
    pos: usize,
    /// Length of the bulk whose header has been read but whose payload is incomplete.
    pending_bulk: Option<usize>,
}

/// The result of one parse step.
#[derive(Debug)]
pub enum Parsed {
    /// A complete command; its bytes have been removed from the buffer.
    Command(Vec<Bytes>),
    /// An empty line or zero-length multibulk was consumed: nothing to run.
    Nothing,
    /// More bytes are needed.
    Incomplete,
}

fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    memchr_crlf(&buf[from..]).map(|i| i + from)
}

fn memchr_crlf(hay: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(off) = hay[i..].iter().position(|&b| b == b'\r') {
        let at = i + off;
        if at + 1 < hay.len() {
            if hay[at + 1] == b'\n' {
                return Some(at);
            }
            i = at + 1;
        } else {
            return None;
        }
    }
    None
}

/// Parses a decimal length the way Redis's `string2ll` does (no spaces, optional '-').
fn parse_len(digits: &[u8]) -> Option<i64> {
    crate::protocol::parse_i64(digits)
}

impl RequestParser {
    /// Parses the next request at the start of `buf`. On `Command`/`Nothing` the consumed
    /// bytes are split off `buf`.
    pub fn parse(
        &mut self,
        buf: &mut BytesMut,
        limits: &RequestLimits,
    ) -> Result<Parsed, ProtocolError> {
        if self.remaining.is_none() {
            if buf.is_empty() {
                return Ok(Parsed::Incomplete);
            }
            if buf[0] != b'*' {
                return self.parse_inline(buf);
            }
            let Some(end) = find_crlf(buf, 1) else {
                if buf.len() > MAX_INLINE_LEN {
                    return Err(perr("too big mbulk count string"));
                }
                return Ok(Parsed::Incomplete);
            };
            if end - 1 > MAX_INLINE_LEN {
                return Err(perr("too big mbulk count string"));
            }
            let count = match parse_len(&buf[1..end]) {
                Some(n) if n <= i32::MAX as i64 => n,
                _ => return Err(perr("invalid multibulk length")),
            };
            if count <= 0 {
                let _ = buf.split_to(end + 2);
                return Ok(Parsed::Nothing);
            }
            if count as usize > limits.max_multibulk_len {
                return Err(perr("invalid multibulk length"));
            }
            self.remaining = Some(count as usize);
            self.ranges.clear();
            self.ranges.reserve((count as usize).min(1024));
            self.pos = end + 2;
        }
        loop {
            let remaining = self.remaining.unwrap_or(0);
            if remaining == 0 {
                break;
            }
            let len = match self.pending_bulk {
                Some(len) => len,
                None => {
                    if self.pos >= buf.len() {
                        return Ok(Parsed::Incomplete);
                    }
                    if buf[self.pos] != b'$' {
                        return Err(perr(format!(
                            "expected '$', got '{}'",
                            buf[self.pos] as char
                        )));
                    }
                    let Some(end) = find_crlf(buf, self.pos + 1) else {
                        if buf.len() - self.pos > MAX_INLINE_LEN {
                            return Err(perr("too big bulk count string"));
                        }
                        return Ok(Parsed::Incomplete);
                    };
                    if end - self.pos - 1 > MAX_INLINE_LEN {
                        return Err(perr("too big bulk count string"));
                    }
                    let len = match parse_len(&buf[self.pos + 1..end]) {
                        Some(n) if n >= 0 && n as u64 <= limits.max_bulk_len as u64 => n as usize,
                        _ => return Err(perr("invalid bulk length")),
                    };
                    self.pos = end + 2;
                    self.pending_bulk = Some(len);
                    len
                }
            };
            if buf.len() < self.pos + len + 2 {
                // Make room ahead for the payload, but never more than 1 MiB beyond what
                // has arrived: a header alone must not make us allocate `len` bytes
                // (thousands of clients announcing 512 MB would exhaust memory). The
                // buffer's own doubling covers larger payloads as they arrive.
                buf.reserve((self.pos + len + 2 - buf.len()).min(1 << 20));
                return Ok(Parsed::Incomplete);
            }
            if &buf[self.pos + len..self.pos + len + 2] != b"\r\n" {
                return Err(perr("expected CRLF after bulk"));
            }
            self.ranges.push((self.pos, self.pos + len));
            self.pos += len + 2;
            self.pending_bulk = None;
            self.remaining = Some(remaining - 1);
        }
        let frame = buf.split_to(self.pos).freeze();
        let args = self
            .ranges
            .drain(..)
            .map(|(s, e)| frame.slice(s..e))
            .collect();
        // A huge multibulk's room is not kept for the connection's life.
        if self.ranges.capacity() > 1024 {
            self.ranges = Vec::new();
        }
        self.remaining = None;
        self.pos = 0;
        Ok(Parsed::Command(args))
    }

    fn parse_inline(&mut self, buf: &mut BytesMut) -> Result<Parsed, ProtocolError> {
        let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
            if buf.len() > MAX_INLINE_LEN {
                return Err(perr("too big inline request"));
            }
            return Ok(Parsed::Incomplete);
        };
        if nl > MAX_INLINE_LEN {
            return Err(perr("too big inline request"));
        }
        let line = buf.split_to(nl + 1);
        let mut body = &line[..nl];
        if body.last() == Some(&b'\r') {
            body = &body[..body.len() - 1];
        }
        match split_args(body) {
            Some(args) if args.is_empty() => Ok(Parsed::Nothing),
            Some(args) => Ok(Parsed::Command(args.into_iter().map(Bytes::from).collect())),
            None => Err(perr("unbalanced quotes in request")),
        }
    }
}

fn hex_val(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Splits a line into arguments the way Redis's `sdssplitargs` does: whitespace separated,
/// with "double quotes" (C escapes, \xHH) and 'single quotes'. `None` on unbalanced quotes.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    // Redis splits a C string: a NUL byte ends the line.
    let line = &line[..line.iter().position(|&b| b == 0).unwrap_or(line.len())];
    let mut args = Vec::new();
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= n {
            return Some(args);
        }
        let mut cur = Vec::new();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            if in_dq {
                if i >= n {
                    return None;
                }
                let c = line[i];
                if c == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && hex_val(line[i + 2]).is_some()
                    && hex_val(line[i + 3]).is_some()
                {
                    cur.push(hex_val(line[i + 2])? * 16 + hex_val(line[i + 3])?);
                    i += 3;
                } else if c == b'\\' && i + 1 < n {
                    i += 1;
                    cur.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                } else if c == b'"' {
                    // Closing quote must be followed by a space or the end.
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
            } else if in_sq {
                if i >= n {
                    return None;
                }
                let c = line[i];
                if c == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    i += 1;
                    cur.push(b'\'');
                } else if c == b'\'' {
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    b' ' | b'\n' | b'\r' | b'\t' => break,
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    c => cur.push(c),
                }
            }
            i += 1;
        }
        args.push(cur);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Bytes>>, ProtocolError> {
        let mut p = RequestParser::default();
        let mut buf = BytesMut::from(input);
        let mut out = vec![];
        loop {
            match p.parse(&mut buf, &RequestLimits::default())? {
                Parsed::Command(a) => out.push(a),
                Parsed::Nothing => {}
                Parsed::Incomplete => return Ok(out),
            }
        }
    }

    #[test]
    fn multibulk_and_inline() {
        let cmds =
            parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n  set a \"b c\\x41\"\r\n").unwrap();
        assert_eq!(cmds.len(), 3);
        assert_eq!(cmds[0], vec![Bytes::from("GET"), Bytes::from("k")]);
        assert_eq!(cmds[1], vec![Bytes::from("PING")]);
        assert_eq!(cmds[2][2], Bytes::from("b cA"));
    }

    #[test]
    fn byte_by_byte_resumes() {
        let input = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n";
        let mut p = RequestParser::default();
        let mut buf = BytesMut::new();
        let mut got = None;
        for &b in input.iter() {
            buf.extend_from_slice(&[b]);
            if let Parsed::Command(a) = p.parse(&mut buf, &RequestLimits::default()).unwrap() {
                got = Some(a);
            }
        }
        assert_eq!(got.unwrap()[2], Bytes::from("hello"));
        assert!(buf.is_empty());
    }

    /// Random and mutated input never panics, never loops, and every command consumed
    /// leaves the buffer shorter.
    #[test]
    fn random_input_is_handled() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let seeds: [&[u8]; 4] = [
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n",
            b"PING \"a\\x41\" 'b'\r\n",
            b"*2\r\n$-1\r\n*0\r\n",
            b"*1\r\n$4\r\nPING\r\n",
        ];
        let limits = RequestLimits {
            max_bulk_len: 1 << 20,
            max_multibulk_len: 1 << 16,
        };
        for _ in 0..20_000 {
            let mut input = seeds[rng.random_range(0..seeds.len())].to_vec();
            for _ in 0..rng.random_range(0..6) {
                let i = rng.random_range(0..input.len());
                match rng.random_range(0..3) {
                    0 => input[i] = rng.random(),
                    1 => input.insert(i, rng.random()),
                    _ => {
                        input.remove(i);
                        if input.is_empty() {
                            input.push(b'*');
                        }
                    }
                }
            }
            let mut p = RequestParser::default();
            let mut buf = BytesMut::new();
            // Feed in random chunks, as a socket would deliver it.
            let mut fed = 0;
            while fed < input.len() {
                let n = rng.random_range(1..=input.len() - fed);
                buf.extend_from_slice(&input[fed..fed + n]);
                fed += n;
                let mut guard = 0;
                loop {
                    guard += 1;
                    assert!(guard < 10_000, "parser loops on {:?}", input);
                    let before = buf.len();
                    match p.parse(&mut buf, &limits) {
                        Ok(Parsed::Command(args)) => {
                            assert!(!args.is_empty());
                            assert!(buf.len() < before);
                        }
                        Ok(Parsed::Nothing) => assert!(buf.len() < before),
                        Ok(Parsed::Incomplete) | Err(_) => break,
                    }
                }
            }
        }
    }

    #[test]
    fn errors_match_redis() {
        assert_eq!(
            parse_all(b"*1\r\n:1\r\n").unwrap_err().0,
            "expected '$', got ':'"
        );
        assert_eq!(
            parse_all(b"*x\r\n").unwrap_err().0,
            "invalid multibulk length"
        );
        assert_eq!(
            parse_all(b"*1\r\n$-2\r\n").unwrap_err().0,
            "invalid bulk length"
        );
        assert_eq!(
            parse_all(b"*1\r\n$999999999999\r\n").unwrap_err().0,
            "invalid bulk length"
        );
        assert_eq!(
            parse_all(b"*9999999999\r\n").unwrap_err().0,
            "invalid multibulk length"
        );
        assert_eq!(
            parse_all(b"set \"a\r\n").unwrap_err().0,
            "unbalanced quotes in request"
        );
        assert_eq!(
            parse_all(&[b'x'; 70000]).unwrap_err().0,
            "too big inline request"
        );
    }
}
