//! A tiny raw-socket RESP client for exact-reply and bad-input tests: the reply model,
//! encoding, parsing, INFO fields.

#![allow(dead_code)]

use super::*;
use std::fmt;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

/// A parsed RESP2/RESP3 reply.
#[derive(Clone, PartialEq)]
pub enum Reply {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    /// `$-1`, `*-1` or RESP3 `_`.
    Nil,
    Array(Vec<Reply>),
    Map(Vec<(Reply, Reply)>),
    Set(Vec<Reply>),
    Push(Vec<Reply>),
    Double(String),
    Bool(bool),
    Verbatim(String, String),
    BigNum(String),
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Simple(s) => write!(f, "+{s}"),
            Reply::Error(s) => write!(f, "-{s}"),
            Reply::Int(i) => write!(f, ":{i}"),
            Reply::Bulk(b) => write!(f, "{:?}", String::from_utf8_lossy(b)),
            Reply::Nil => write!(f, "(nil)"),
            Reply::Array(a) => f.debug_list().entries(a).finish(),
            Reply::Map(m) => f
                .debug_map()
                .entries(m.iter().map(|(k, v)| (k, v)))
                .finish(),
            Reply::Set(a) => write!(f, "~{a:?}"),
            Reply::Push(a) => write!(f, ">{a:?}"),
            Reply::Double(d) => write!(f, ",{d}"),
            Reply::Bool(b) => write!(f, "#{b}"),
            Reply::Verbatim(k, s) => write!(f, "={k}:{s:?}"),
            Reply::BigNum(s) => write!(f, "({s}"),
        }
    }
}

impl Reply {
    pub fn ok() -> Reply {
        Reply::Simple("OK".into())
    }
    pub fn simple(s: &str) -> Reply {
        Reply::Simple(s.into())
    }
    pub fn bulk(s: impl AsRef<[u8]>) -> Reply {
        Reply::Bulk(s.as_ref().to_vec())
    }
    pub fn int(i: i64) -> Reply {
        Reply::Int(i)
    }
    pub fn err(s: &str) -> Reply {
        Reply::Error(s.into())
    }
    pub fn arr(items: Vec<Reply>) -> Reply {
        Reply::Array(items)
    }
    pub fn bulks(items: &[&str]) -> Reply {
        Reply::Array(items.iter().map(Reply::bulk).collect())
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// Error text (panics if not an error).
    pub fn err_text(&self) -> &str {
        match self {
            Reply::Error(s) => s,
            other => panic!("expected error reply, got {other:?}"),
        }
    }

    /// String view of Simple/Bulk/Verbatim/Double/BigNum replies.
    pub fn as_string(&self) -> String {
        match self {
            Reply::Simple(s) | Reply::Double(s) | Reply::BigNum(s) => s.clone(),
            Reply::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
            Reply::Verbatim(_, s) => s.clone(),
            other => panic!("expected string reply, got {other:?}"),
        }
    }

    pub fn as_bytes(&self) -> Vec<u8> {
        match self {
            Reply::Bulk(b) => b.clone(),
            Reply::Simple(s) => s.as_bytes().to_vec(),
            other => panic!("expected bulk reply, got {other:?}"),
        }
    }

    pub fn as_int(&self) -> i64 {
        match self {
            Reply::Int(i) => *i,
            Reply::Bulk(_) | Reply::Simple(_) => self
                .as_string()
                .parse()
                .unwrap_or_else(|_| panic!("not an integer: {self:?}")),
            other => panic!("expected integer reply, got {other:?}"),
        }
    }

    /// Elements of Array/Set/Push replies.
    pub fn as_array(&self) -> &[Reply] {
        match self {
            Reply::Array(a) | Reply::Set(a) | Reply::Push(a) => a,
            other => panic!("expected array reply, got {other:?}"),
        }
    }

    /// Key/value pairs of a Map or a flat key/value Array.
    pub fn as_pairs(&self) -> Vec<(Reply, Reply)> {
        match self {
            Reply::Map(m) => m.clone(),
            Reply::Array(a) => a
                .chunks(2)
                .map(|c| (c[0].clone(), c.get(1).cloned().unwrap_or(Reply::Nil)))
                .collect(),
            other => panic!("expected map reply, got {other:?}"),
        }
    }

    /// Lookup in a Map or flat key/value Array by string key.
    pub fn get(&self, key: &str) -> Option<Reply> {
        self.as_pairs()
            .into_iter()
            .find(|(k, _)| matches!(k, Reply::Simple(_) | Reply::Bulk(_)) && k.as_string() == key)
            .map(|(_, v)| v)
    }

    /// Array of bulk strings as Vec<String>.
    pub fn strings(&self) -> Vec<String> {
        self.as_array().iter().map(|r| r.as_string()).collect()
    }
}

/// Encode a command as a RESP array of bulk strings.
pub fn encode_cmd<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        let a = a.as_ref();
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Outcome of a read on a raw connection that did not yield a reply.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadErr {
    Timeout,
    Closed,
}

/// A raw TCP connection with a hand-written RESP parser.
pub struct RawConn {
    pub stream: TcpStream,
    buf: Vec<u8>,
    pos: usize,
}

impl RawConn {
    pub fn connect(addr: &str) -> RawConn {
        Self::from_stream(TcpStream::connect(addr).expect("raw connect"))
    }

    /// Wraps a connected stream (e.g. one bound to a chosen source address).
    pub fn from_stream(stream: TcpStream) -> RawConn {
        stream.set_nodelay(true).ok();
        stream.set_read_timeout(Some(RAW_TIMEOUT)).unwrap();
        stream
            .set_write_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        RawConn {
            stream,
            buf: Vec::new(),
            pos: 0,
        }
    }

    /// Send arbitrary bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("raw write");
    }

    /// Send bytes, returning an error instead of panicking.
    pub fn try_send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Send a command (as a RESP array) without reading the reply.
    pub fn send_cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        let b = encode_cmd(args);
        self.send(&b);
    }

    /// Send a command and read one reply (panics on timeout/close).
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Reply {
        self.send_cmd(args);
        self.read_reply()
    }

    /// Read one reply with the default timeout; panics on timeout/close.
    pub fn read_reply(&mut self) -> Reply {
        match self.try_read_reply(RAW_TIMEOUT) {
            Ok(r) => r,
            Err(e) => panic!("raw read failed: {e:?}"),
        }
    }

    /// Read one reply, waiting at most `timeout`.
    pub fn try_read_reply(&mut self, timeout: Duration) -> Result<Reply, ReadErr> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some((reply, used)) = parse_reply(&self.buf[self.pos..]) {
                self.pos += used;
                if self.pos == self.buf.len() {
                    self.buf.clear();
                    self.pos = 0;
                }
                return Ok(reply);
            }
            self.fill(deadline)?;
        }
    }

    /// Read exactly `n` raw bytes.
    pub fn read_bytes(&mut self, n: usize, timeout: Duration) -> Result<Vec<u8>, ReadErr> {
        let deadline = Instant::now() + timeout;
        while self.buf.len() - self.pos < n {
            self.fill(deadline)?;
        }
        let out = self.buf[self.pos..self.pos + n].to_vec();
        self.pos += n;
        Ok(out)
    }

    fn fill(&mut self, deadline: Instant) -> Result<(), ReadErr> {
        let now = Instant::now();
        if now >= deadline {
            return Err(ReadErr::Timeout);
        }
        let remaining = (deadline - now).max(Duration::from_millis(1));
        self.stream.set_read_timeout(Some(remaining)).unwrap();
        let mut tmp = [0u8; 64 * 1024];
        match self.stream.read(&mut tmp) {
            Ok(0) => Err(ReadErr::Closed),
            Ok(n) => {
                self.buf.extend_from_slice(&tmp[..n]);
                Ok(())
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {
                Err(ReadErr::Timeout)
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => Ok(()),
            Err(_) => Err(ReadErr::Closed),
        }
    }

    /// Wait (bounded) until the server closes the connection, discarding any
    /// data it sends first. Returns true if closed within `timeout`.
    pub fn wait_closed(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            match self.fill(deadline) {
                Ok(()) => {
                    self.buf.clear();
                    self.pos = 0;
                }
                Err(ReadErr::Closed) => return true,
                Err(ReadErr::Timeout) => return false,
            }
        }
    }

    /// Close the write half.
    pub fn shutdown_write(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}

fn find_crlf(b: &[u8]) -> Option<usize> {
    b.windows(2).position(|w| w == b"\r\n")
}

fn parse_line(b: &[u8]) -> Option<(String, usize)> {
    let i = find_crlf(b)?;
    Some((String::from_utf8_lossy(&b[..i]).into_owned(), i + 2))
}

/// Parse one reply from `b`; returns None if incomplete.
pub fn parse_reply(b: &[u8]) -> Option<(Reply, usize)> {
    if b.is_empty() {
        return None;
    }
    let t = b[0];
    let (line, used) = parse_line(&b[1..])?;
    let used = used + 1;
    let agg = |n: i64, b: &[u8], used: usize| -> Option<(Vec<Reply>, usize)> {
        let mut items = Vec::new();
        let mut off = used;
        for _ in 0..n {
            let (r, u) = parse_reply(&b[off..])?;
            items.push(r);
            off += u;
        }
        Some((items, off))
    };
    match t {
        b'+' => Some((Reply::Simple(line), used)),
        b'-' => Some((Reply::Error(line), used)),
        b':' => Some((Reply::Int(line.parse().expect("bad int")), used)),
        b',' => Some((Reply::Double(line), used)),
        b'(' => Some((Reply::BigNum(line), used)),
        b'#' => Some((Reply::Bool(line == "t"), used)),
        b'_' => Some((Reply::Nil, used)),
        b'$' | b'=' | b'!' => {
            let n: i64 = line.parse().expect("bad bulk len");
            if n < 0 {
                return Some((Reply::Nil, used));
            }
            let n = n as usize;
            if b.len() < used + n + 2 {
                return None;
            }
            let data = b[used..used + n].to_vec();
            let total = used + n + 2;
            match t {
                b'$' => Some((Reply::Bulk(data), total)),
                b'!' => Some((Reply::Error(String::from_utf8_lossy(&data).into()), total)),
                _ => {
                    let s = String::from_utf8_lossy(&data).into_owned();
                    let (fmt, text) = s.split_at(3.min(s.len()));
                    Some((
                        Reply::Verbatim(fmt.to_string(), text.trim_start_matches(':').into()),
                        total,
                    ))
                }
            }
        }
        b'*' | b'~' | b'>' => {
            let n: i64 = line.parse().expect("bad array len");
            if n < 0 {
                return Some((Reply::Nil, used));
            }
            let (items, off) = agg(n, b, used)?;
            Some((
                match t {
                    b'*' => Reply::Array(items),
                    b'~' => Reply::Set(items),
                    _ => Reply::Push(items),
                },
                off,
            ))
        }
        b'%' | b'|' => {
            let n: i64 = line.parse().expect("bad map len");
            let (items, off) = agg(n * 2, b, used)?;
            let mut pairs = Vec::new();
            let mut it = items.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                pairs.push((k, v));
            }
            if t == b'|' {
                // Attribute: skip it and return the following reply.
                let (r, u) = parse_reply(&b[off..])?;
                return Some((r, off + u));
            }
            Some((Reply::Map(pairs), off))
        }
        other => panic!(
            "unexpected RESP type byte {:?} in {:?}",
            other as char,
            String::from_utf8_lossy(&b[..b.len().min(200)])
        ),
    }
}

/// Full error text ("CODE detail") of a `redis` crate error from the server.
pub fn err_text(e: &redis::RedisError) -> String {
    match (e.code(), e.detail()) {
        (Some(c), Some(d)) => format!("{c} {d}"),
        (Some(c), None) => c.to_string(),
        _ => e.to_string(),
    }
}

/// Parse an `INFO` text into (field, value) pairs.
pub fn parse_info(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && l.contains(':'))
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            (k.trim().to_string(), v.trim().to_string())
        })
        .collect()
}

/// Lookup a field of an `INFO` reply.
pub fn info_field(text: &str, field: &str) -> Option<String> {
    parse_info(text)
        .into_iter()
        .find(|(k, _)| k == field)
        .map(|(_, v)| v)
}
