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
/// Encoded commands are handed to the output once this many bytes are pending, so a
/// large key never sits whole in memory as text.
const FLUSH_AT: usize = 64 * 1024;

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
        let mut c = Commands::new(Vec::new(), &mut out);
        for code in functions {
            c.cmd(&[b"FUNCTION", b"LOAD", code])?;
        }
        let buf = c.finish()?;
        Ok(CommandSink {
            out,
            buf,
            on_finish,
        })
    }

    /// Runs `f` with a command writer over the output, reusing the sink's buffer.
    fn write(
        &mut self,
        f: impl FnOnce(&mut Commands<'_>) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let mut c = Commands::new(std::mem::take(&mut self.buf), &mut self.out);
        f(&mut c)?;
        self.buf = c.finish()?;
        Ok(())
    }
}

impl<W: Write + Send> SnapshotSink for CommandSink<W> {
    fn select_db(&mut self, db: usize) -> std::io::Result<()> {
        let db = db.to_string();
        self.write(|c| c.cmd(&[b"SELECT", db.as_bytes()]))
    }

    fn entry(&mut self, key: &[u8], entry: &Entry) -> std::io::Result<()> {
        self.write(|c| {
            crate::server::persistence::with_rdb_value(&entry.value, |v| {
                key_commands(c, key, *v, entry.expire_at)
            })
        })
    }

    fn finish(self: Box<Self>) -> std::io::Result<()> {
        let CommandSink { out, on_finish, .. } = *self;
        on_finish(out)
    }
}

/// Encodes commands and hands them to the output every [`FLUSH_AT`] bytes.
pub struct Commands<'w> {
    buf: Vec<u8>,
    out: &'w mut dyn Write,
}

impl<'w> Commands<'w> {
    /// A writer to `out` encoding into `buf` (cleared).
    pub fn new(mut buf: Vec<u8>, out: &'w mut dyn Write) -> Self {
        buf.clear();
        Commands { buf, out }
    }

    fn cmd(&mut self, args: &[&[u8]]) -> std::io::Result<()> {
        encode_command(&mut self.buf, args);
        if self.buf.len() >= FLUSH_AT {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Writes what is pending; gives the buffer back for reuse.
    pub fn finish(mut self) -> std::io::Result<Vec<u8>> {
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        Ok(self.buf)
    }
}

fn id_text((ms, seq): StreamIdPair) -> String {
    format!("{ms}-{seq}")
}

/// Writes the commands that rebuild `key` holding `v` (with its TTL, `expire_at` unix ms
/// or 0).
pub fn key_commands(
    c: &mut Commands<'_>,
    key: &[u8],
    v: RdbValueRef<'_>,
    expire_at: u64,
) -> std::io::Result<()> {
    match v {
        RdbValueRef::Str(s) => c.cmd(&[b"SET", key, s])?,
        RdbValueRef::List(items) => batches(c, b"RPUSH", key, items, |args, i| args.push(i))?,
        RdbValueRef::Set(items) => batches(c, b"SADD", key, items, |args, i| args.push(i))?,
        RdbValueRef::Hash(pairs) => batches(c, b"HMSET", key, pairs, |args, (f, v)| {
            args.push(f);
            args.push(v);
        })?,
        RdbValueRef::ZSet(pairs) => {
            for chunk in pairs.chunks(ITEMS_PER_CMD) {
                let scores: Vec<String> = chunk.iter().map(|(_, s)| format_double(*s)).collect();
                let mut args: Vec<&[u8]> = vec![b"ZADD", key];
                for ((member, _), score) in chunk.iter().zip(&scores) {
                    args.push(score.as_bytes());
                    args.push(member);
                }
                c.cmd(&args)?;
            }
        }
        RdbValueRef::Stream(s) => stream_commands(c, key, s)?,
    }
    if expire_at > 0 {
        let at = expire_at.to_string();
        c.cmd(&[b"PEXPIREAT", key, at.as_bytes()])?;
    }
    Ok(())
}

/// `cmd key item...` commands of at most [`ITEMS_PER_CMD`] items each.
fn batches<'a, T: Copy + 'a>(
    c: &mut Commands<'_>,
    cmd: &'a [u8],
    key: &'a [u8],
    items: &'a [T],
    push: impl Fn(&mut Vec<&'a [u8]>, T),
) -> std::io::Result<()> {
    for chunk in items.chunks(ITEMS_PER_CMD) {
        let mut args: Vec<&[u8]> = vec![cmd, key];
        for item in chunk {
            push(&mut args, *item);
        }
        c.cmd(&args)?;
    }
    Ok(())
}

fn stream_commands(c: &mut Commands<'_>, key: &[u8], s: &RdbStream) -> std::io::Result<()> {
    let mut any = false;
    for (id, fields) in s.nodes.iter().flat_map(|n| &n.entries) {
        let id = id_text(*id);
        let mut args: Vec<&[u8]> = vec![b"XADD", key, id.as_bytes()];
        for (f, v) in fields {
            args.push(f);
            args.push(v);
        }
        c.cmd(&args)?;
        any = true;
    }
    if !any {
        // An empty stream: XADD with MAXLEN 0 creates the key and removes the entry.
        c.cmd(&[b"XADD", key, b"MAXLEN", b"0", b"0-1", b"x", b"y"])?;
    }
    let (last, added, max_deleted) = (
        id_text(s.last_id),
        s.entries_added.to_string(),
        id_text(s.max_deleted_id),
    );
    c.cmd(&[
        b"XSETID",
        key,
        last.as_bytes(),
        b"ENTRIESADDED",
        added.as_bytes(),
        b"MAXDELETEDID",
        max_deleted.as_bytes(),
    ])?;
    for g in &s.groups {
        let (last, read) = (id_text(g.last_id), g.entries_read.to_string());
        c.cmd(&[
            b"XGROUP",
            b"CREATE",
            key,
            &g.name,
            last.as_bytes(),
            b"ENTRIESREAD",
            read.as_bytes(),
        ])?;
        // Delivery time and count of each pending entry, looked up per consumer.
        let pel: std::collections::HashMap<StreamIdPair, (u64, u64)> = g
            .pel
            .iter()
            .map(|&(id, time, count)| (id, (time, count)))
            .collect();
        for consumer in &g.consumers {
            if consumer.pel.is_empty() {
                c.cmd(&[b"XGROUP", b"CREATECONSUMER", key, &g.name, &consumer.name])?;
                continue;
            }
            for id in &consumer.pel {
                let Some(&(time, count)) = pel.get(id) else {
                    continue;
                };
                let (id, time, count) = (id_text(*id), time.to_string(), count.to_string());
                c.cmd(&[
                    b"XCLAIM",
                    key,
                    &g.name,
                    &consumer.name,
                    b"0",
                    id.as_bytes(),
                    b"TIME",
                    time.as_bytes(),
                    b"RETRYCOUNT",
                    count.as_bytes(),
                    b"JUSTID",
                    b"FORCE",
                ])?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(v: RdbValueRef<'_>, expire_at: u64) -> String {
        let mut out = Vec::new();
        let mut c = Commands::new(Vec::new(), &mut out);
        key_commands(&mut c, b"k", v, expire_at).unwrap();
        c.finish().unwrap();
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
    fn a_key_larger_than_the_buffer_is_written_whole_and_in_order() {
        let items: Vec<Vec<u8>> = (0..2000)
            .map(|i| format!("{i:0100}").into_bytes())
            .collect();
        let refs: Vec<&[u8]> = items.iter().map(|i| &i[..]).collect();
        let t = text(RdbValueRef::Set(&refs), 0);
        assert!(t.len() > FLUSH_AT * 3);
        assert_eq!(
            t.matches("$4\r\nSADD\r\n").count(),
            2000_usize.div_ceil(ITEMS_PER_CMD)
        );
        let positions: Vec<usize> = items
            .iter()
            .map(|i| t.find(std::str::from_utf8(i).unwrap()).unwrap())
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn pending_entries_are_claimed_with_their_time_and_count() {
        let s = RdbStream {
            nodes: vec![crate::rdb::RdbStreamNode {
                master_id: (1, 0),
                entries: vec![((1, 0), vec![(b"f".to_vec(), b"v".to_vec())])],
            }],
            length: 1,
            last_id: (1, 0),
            entries_added: 1,
            groups: vec![crate::rdb::RdbStreamGroup {
                name: b"g".to_vec(),
                last_id: (1, 0),
                entries_read: 1,
                pel: vec![((1, 0), 777, 3)],
                consumers: vec![
                    crate::rdb::RdbStreamConsumer {
                        name: b"c".to_vec(),
                        seen_time: 0,
                        pel: vec![(1, 0)],
                    },
                    crate::rdb::RdbStreamConsumer {
                        name: b"idle".to_vec(),
                        ..Default::default()
                    },
                ],
            }],
            ..Default::default()
        };
        let t = text(RdbValueRef::Stream(&s), 0).replace("\r\n", " ");
        assert!(t.contains("$6 XCLAIM $1 k $1 g $1 c $1 0 $3 1-0 $4 TIME $3 777 $10 RETRYCOUNT $1 3 $6 JUSTID $5 FORCE"), "{t}");
        assert!(t.contains("$14 CREATECONSUMER $1 k $1 g $4 idle"), "{t}");
        assert!(
            t.contains("$6 XSETID $1 k $3 1-0 $12 ENTRIESADDED $1 1 $12 MAXDELETEDID $3 0-0"),
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
