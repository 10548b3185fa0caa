//! The request parser (RESP multibulk and inline, `split_args`) on arbitrary bytes.
//!
//! Input: one control byte (limits, chunking seed), then the byte stream a client sends.
//! The stream is parsed twice: all at once, and fed in pseudo-random chunk sizes as a
//! socket delivers it. Checked: no panic, no step without progress, both feedings give
//! the same commands and the same outcome (a protocol error in both, or the same bytes
//! left waiting), and every parsed command re-encoded as multibulk parses back to itself.
#![no_main]

use bytes::{Bytes, BytesMut};
use ferrocache::protocol::{Parsed, ProtocolError, RequestLimits, RequestParser};

#[derive(Debug, PartialEq)]
enum End {
    /// Stopped at a protocol error (the connection would close).
    Error,
    /// Waiting for more bytes; these are buffered.
    Waiting(Vec<u8>),
}

/// Parses everything available; true when the parser is done with this buffer (an error,
/// or it needs more bytes).
fn drain(
    p: &mut RequestParser,
    buf: &mut BytesMut,
    limits: &RequestLimits,
    out: &mut Vec<Vec<Bytes>>,
) -> Result<(), ProtocolError> {
    let mut steps = 0usize;
    loop {
        steps += 1;
        assert!(steps < 1_000_000, "parser does not make progress");
        let before = buf.len();
        match p.parse(buf, limits)? {
            Parsed::Command(args) => {
                assert!(!args.is_empty(), "empty command returned");
                assert!(
                    buf.len() < before,
                    "command returned without consuming input"
                );
                out.push(args);
            }
            Parsed::Nothing => assert!(buf.len() < before, "Nothing without consuming input"),
            Parsed::Incomplete => return Ok(()),
        }
    }
}

fn whole(data: &[u8], limits: &RequestLimits) -> (Vec<Vec<Bytes>>, End) {
    let mut p = RequestParser::default();
    let mut buf = BytesMut::from(data);
    let mut cmds = Vec::new();
    match drain(&mut p, &mut buf, limits, &mut cmds) {
        Ok(()) => (cmds, End::Waiting(buf.to_vec())),
        Err(_) => (cmds, End::Error),
    }
}

fn chunked(data: &[u8], limits: &RequestLimits, mut seed: u32) -> (Vec<Vec<Bytes>>, End) {
    let mut p = RequestParser::default();
    let mut buf = BytesMut::new();
    let mut cmds = Vec::new();
    let mut fed = 0;
    while fed < data.len() {
        // xorshift: chunk sizes 1..=64 mostly, sometimes large.
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let n = if seed.is_multiple_of(8) {
            (seed >> 8) as usize % 70_000 + 1
        } else {
            (seed >> 8) as usize % 64 + 1
        };
        let n = n.min(data.len() - fed);
        buf.extend_from_slice(&data[fed..fed + n]);
        fed += n;
        if drain(&mut p, &mut buf, limits, &mut cmds).is_err() {
            return (cmds, End::Error);
        }
    }
    (cmds, End::Waiting(buf.to_vec()))
}

fn encode(args: &[Bytes]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        v.extend_from_slice(a);
        v.extend_from_slice(b"\r\n");
    }
    v
}

libfuzzer_sys::fuzz_target!(|input: &[u8]| {
    let Some((&ctl, data)) = input.split_first() else {
        return;
    };
    let limits = match ctl & 3 {
        0 => RequestLimits::default(),
        1 => RequestLimits {
            max_bulk_len: 16,
            max_multibulk_len: 4,
        },
        2 => RequestLimits {
            max_bulk_len: 1024,
            max_multibulk_len: 1024,
        },
        _ => RequestLimits {
            max_bulk_len: 0,
            max_multibulk_len: 1,
        },
    };
    let seed = u32::from(ctl >> 2).wrapping_mul(2_654_435_761) | 1;

    let (a, end_a) = whole(data, &limits);
    let (b, end_b) = chunked(data, &limits, seed);
    assert_eq!(a, b, "commands differ between whole and chunked feeding");
    match (&end_a, &end_b) {
        // The message can differ (a header line is judged too long before its CRLF
        // arrives, or invalid once it has), never whether the stream is refused.
        (End::Error, End::Error) => {}
        _ => assert_eq!(
            end_a, end_b,
            "outcome differs between whole and chunked feeding"
        ),
    }

    for args in &a {
        let enc = encode(args);
        let (again, end) = whole(&enc, &RequestLimits::default());
        assert_eq!(
            end,
            End::Waiting(Vec::new()),
            "re-encoded command not fully parsed"
        );
        assert_eq!(again.len(), 1);
        assert_eq!(&again[0], args, "re-encoded command parses differently");
    }

    // The inline splitter alone (config files use it too), on every line.
    for line in data.split(|&b| b == b'\n') {
        if let Some(words) = ferrocache::protocol::request::split_args(line) {
            assert!(words.iter().all(|w| w.len() <= line.len()));
        }
    }
});
