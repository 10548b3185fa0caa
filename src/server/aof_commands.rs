//! The append-only file's base written as commands (`aof-use-rdb-preamble no`), as
//! Redis's `rewriteAppendOnlyFileRio` writes it: the function libraries, then per
//! database a SELECT and, per key, the commands that rebuild it (RPUSH, SADD, ZADD, HMSET
//! in batches of 64 elements; for a stream its XADDs, XSETID, XGROUP CREATE, XGROUP
//! CREATECONSUMER and one XCLAIM per pending entry), then PEXPIREAT for a key with a TTL.
//! Stock Redis loads such a base and so does ours (`aof::load` replays a base that is not
//! RDB); the point is a human-readable AOF for users who configured one.

use crate::base::encode_command;
use crate::protocol::reply::format_double;
use crate::rdb::{RdbStream, RdbValueRef, StreamIdPair};
use crate::store::Entry;
use crate::store::snapshot::SnapshotSink;
use std::io::Write;

/// Elements per command for collections (Redis's `AOF_REWRITE_ITEMS_PER_CMD`).
const ITEMS_PER_CMD: usize = 64;

/// Called with the finished writer: flush, sync, install the file.
pub type CommandFinish<W> = Box<dyn FnOnce(W) -> std::io::Result<()> + Send>;

/// A snapshot sink writing the keyspace as commands.
pub struct CommandSink<W: Write + Send> {
    out: W,
    buf: Vec<u8>,
    on_finish: CommandFinish<W>,
}

impl<W: Write + Send> CommandSink<W> {
    /// Starts the file with one `FUNCTION LOAD` per library (`functions`: their codes).
    pub fn new(
        mut out: W,
        functions: &[Vec<u8>],
        on_finish: CommandFinish<W>,
    ) -> std::io::Result<Self> {
        let mut buf = Vec::new();
        for code in functions {
            encode_command(&mut buf, &[&b"FUNCTION"[..], b"LOAD", code]);
        }
        out.write_all(&buf)?;
        buf.clear();
        Ok(CommandSink {
            out,
            buf,
            on_finish,
        })
    }
}

impl<W: Write + Send> SnapshotSink for CommandSink<W> {
    fn select_db(&mut self, db: usize) -> std::io::Result<()> {
        let db = db.to_string();
        encode_command(&mut self.buf, &[&b"SELECT"[..], db.as_bytes()]);
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }

    fn entry(&mut self, key: &[u8], entry: &Entry) -> std::io::Result<()> {
        let buf = &mut self.buf;
        crate::server::persistence::with_rdb_value(&entry.value, |v| {
            key_commands(buf, key, *v, entry.expire_at);
        });
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }

    fn finish(self: Box<Self>) -> std::io::Result<()> {
        let CommandSink { out, on_finish, .. } = *self;
        on_finish(out)
    }
}

fn id_text((ms, seq): StreamIdPair) -> String {
    format!("{ms}-{seq}")
}

/// Appends the commands that rebuild `key` holding `v` (with its TTL, `expire_at` unix ms
/// or 0) to `out`.
pub fn key_commands(out: &mut Vec<u8>, key: &[u8], v: RdbValueRef<'_>, expire_at: u64) {
    match v {
        RdbValueRef::Str(s) => encode_command(out, &[&b"SET"[..], key, s]),
        RdbValueRef::List(items) => batches(out, b"RPUSH", key, items, |args, i| args.push(i)),
        RdbValueRef::Set(items) => batches(out, b"SADD", key, items, |args, i| args.push(i)),
        RdbValueRef::Hash(pairs) => batches(out, b"HMSET", key, pairs, |args, (f, v)| {
            args.push(f);
            args.push(v);
        }),
        RdbValueRef::ZSet(pairs) => {
            let scores: Vec<String> = pairs.iter().map(|(_, s)| format_double(*s)).collect();
            let with_scores: Vec<(&[u8], &[u8])> = pairs
                .iter()
                .zip(&scores)
                .map(|((m, _), s)| (*m, s.as_bytes()))
                .collect();
            batches(out, b"ZADD", key, &with_scores, |args, (m, s)| {
                args.push(s);
                args.push(m);
            });
        }
        RdbValueRef::Stream(s) => stream_commands(out, key, s),
    }
    if expire_at > 0 {
        let at = expire_at.to_string();
        encode_command(out, &[&b"PEXPIREAT"[..], key, at.as_bytes()]);
    }
}

/// `cmd key item...` commands of at most [`ITEMS_PER_CMD`] items each.
fn batches<'a, T: Copy + 'a>(
    out: &mut Vec<u8>,
    cmd: &'a [u8],
    key: &'a [u8],
    items: &'a [T],
    push: impl Fn(&mut Vec<&'a [u8]>, T),
) {
    for chunk in items.chunks(ITEMS_PER_CMD) {
        let mut args: Vec<&[u8]> = vec![cmd, key];
        for item in chunk {
            push(&mut args, *item);
        }
        encode_command(out, &args);
    }
}

fn stream_commands(out: &mut Vec<u8>, key: &[u8], s: &RdbStream) {
    let mut any = false;
    for (id, fields) in s.nodes.iter().flat_map(|n| &n.entries) {
        let id = id_text(*id);
        let mut args: Vec<&[u8]> = vec![b"XADD", key, id.as_bytes()];
        for (f, v) in fields {
            args.push(f);
            args.push(v);
        }
        encode_command(out, &args);
        any = true;
    }
    if !any {
        // An empty stream: XADD with MAXLEN 0 creates the key and removes the entry.
        encode_command(
            out,
            &[&b"XADD"[..], key, b"MAXLEN", b"0", b"0-1", b"x", b"y"],
        );
    }
    let (last, added, max_deleted) = (
        id_text(s.last_id),
        s.entries_added.to_string(),
        id_text(s.max_deleted_id),
    );
    encode_command(
        out,
        &[
            &b"XSETID"[..],
            key,
            last.as_bytes(),
            b"ENTRIESADDED",
            added.as_bytes(),
            b"MAXDELETEDID",
            max_deleted.as_bytes(),
        ],
    );
    for g in &s.groups {
        let (last, read) = (id_text(g.last_id), g.entries_read.to_string());
        encode_command(
            out,
            &[
                &b"XGROUP"[..],
                b"CREATE",
                key,
                &g.name,
                last.as_bytes(),
                b"ENTRIESREAD",
                read.as_bytes(),
            ],
        );
        for c in &g.consumers {
            if c.pel.is_empty() {
                encode_command(
                    out,
                    &[&b"XGROUP"[..], b"CREATECONSUMER", key, &g.name, &c.name],
                );
                continue;
            }
            for id in &c.pel {
                let Some((_, time, count)) = g.pel.iter().find(|(p, _, _)| p == id) else {
                    continue;
                };
                let (id, time, count) = (id_text(*id), time.to_string(), count.to_string());
                encode_command(
                    out,
                    &[
                        &b"XCLAIM"[..],
                        key,
                        &g.name,
                        &c.name,
                        b"0",
                        id.as_bytes(),
                        b"TIME",
                        time.as_bytes(),
                        b"RETRYCOUNT",
                        count.as_bytes(),
                        b"JUSTID",
                        b"FORCE",
                    ],
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(v: RdbValueRef<'_>, expire_at: u64) -> String {
        let mut out = Vec::new();
        key_commands(&mut out, b"k", v, expire_at);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn collections_come_in_batches_of_64_with_their_ttl() {
        let items: Vec<Vec<u8>> = (0..65).map(|i| i.to_string().into_bytes()).collect();
        let refs: Vec<&[u8]> = items.iter().map(|i| &i[..]).collect();
        let t = text(RdbValueRef::List(&refs), 1234);
        assert!(
            t.starts_with("*66\r\n$5\r\nRPUSH\r\n$1\r\nk\r\n$1\r\n0\r\n"),
            "{t}"
        );
        assert!(
            t.contains("*3\r\n$5\r\nRPUSH\r\n$1\r\nk\r\n$2\r\n64\r\n"),
            "{t}"
        );
        assert!(
            t.ends_with("*3\r\n$9\r\nPEXPIREAT\r\n$1\r\nk\r\n$4\r\n1234\r\n"),
            "{t}"
        );
    }

    #[test]
    fn scores_are_written_as_redis_prints_them() {
        let t = text(
            RdbValueRef::ZSet(&[(b"a", 1.5), (b"b", f64::INFINITY), (b"c", 3.0)]),
            0,
        );
        assert_eq!(
            t,
            "*8\r\n$4\r\nZADD\r\n$1\r\nk\r\n$3\r\n1.5\r\n$1\r\na\r\n$3\r\ninf\r\n$1\r\nb\r\n$1\r\n3\r\n$1\r\nc\r\n"
        );
    }
}
