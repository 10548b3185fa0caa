//! The append-only file (`appendonly yes`), as Redis 7's multi-part AOF: in
//! `appenddirname`, a base (an RDB snapshot with `aof-use-rdb-preamble yes`, commands with
//! `no`: `aof_commands`) and incremental files holding every write since, listed by
//! `<appendfilename>.manifest`, so stock Redis loads our directory and we load its.
//!
//! The incremental file is fed from the replication stream: the sink is one more
//! subscriber of the sequencer, so the file holds exactly the effects followers get, in
//! the same order (leader PINGs and REPLCONF GETACKs left out). Bytes go to the OS from a
//! writer thread as they come (`appendfsync everysec`: fsync once a second; `no`: never;
//! `always`: written and synced by the writing command itself, before it replies).
//! A rewrite (BGREWRITEAOF, or turning the AOF on) switches the sink to a new
//! incremental file in the same write-free instant its snapshot starts, so the new base
//! plus the new incremental file hold everything; the manifest names the old files too
//! until the base is in place.

use crate::commands::Ctx;
use crate::protocol::{Parsed, RequestLimits, RequestParser};
use crate::server::Server;
use crate::server::aof_manifest::{self, ManifestEntry};
use crate::server::persistence::PersistError;
use crate::store::StreamSubscriber;
use bytes::{Bytes, BytesMut};
use parking_lot::{Condvar, Mutex};
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::{Duration, Instant};

/// `appendfsync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Fsync {
    /// Every write is synced before its command replies.
    Always = 0,
    /// Synced once a second by the writer thread.
    EverySec = 1,
    /// Left to the OS.
    No = 2,
}

impl Fsync {
    fn parse(s: &str) -> Fsync {
        match s {
            "always" => Fsync::Always,
            "no" => Fsync::No,
            _ => Fsync::EverySec,
        }
    }

    fn from_u8(v: u8) -> Fsync {
        match v {
            0 => Fsync::Always,
            2 => Fsync::No,
            _ => Fsync::EverySec,
        }
    }
}

/// Where the AOF lives: the directory, the base name, the manifest.
pub struct Paths {
    /// `appenddirname`.
    pub dir: PathBuf,
    /// `appendfilename`, the stem of every file's name.
    pub name: String,
    /// `<dir>/<name>.manifest`.
    pub manifest: PathBuf,
}

/// The AOF's locations from the current settings (BGREWRITEAOF, the sink and the loader
/// all read them here).
pub fn paths(srv: &Server) -> Paths {
    let dir = PathBuf::from(
        srv.config
            .get("appenddirname")
            .unwrap_or_else(|| "appendonlydir".into()),
    );
    let name = srv
        .config
        .get("appendfilename")
        .unwrap_or_else(|| "appendonly.aof".into());
    let manifest = dir.join(format!("{name}.manifest"));
    Paths {
        dir,
        name,
        manifest,
    }
}

/// The writer of the current incremental file.
pub struct Sink {
    state: Mutex<SinkState>,
    wake: Condvar,
    closed: AtomicBool,
    fsync: AtomicU8,
    /// The last write or fsync failed (INFO `aof_last_write_status:err`).
    pub failed: AtomicBool,
}

struct SinkState {
    /// None until the first rewrite opens the incremental file.
    file: Option<File>,
    /// The incremental file's name.
    name: String,
    buf: Vec<u8>,
    last_fsync: Instant,
}

impl Sink {
    fn start(fsync: Fsync) -> Arc<Sink> {
        let sink = Arc::new(Sink {
            state: Mutex::new(SinkState {
                file: None,
                name: String::new(),
                buf: Vec::new(),
                last_fsync: Instant::now(),
            }),
            wake: Condvar::new(),
            closed: AtomicBool::new(false),
            fsync: AtomicU8::new(fsync as u8),
            failed: AtomicBool::new(false),
        });
        let writer = sink.clone();
        std::thread::Builder::new()
            .name("aof-writer".into())
            .spawn(move || writer.run())
            .expect("spawn the AOF writer thread");
        sink
    }

    fn policy(&self) -> Fsync {
        Fsync::from_u8(self.fsync.load(Ordering::Relaxed))
    }

    /// The writer thread: hands buffered bytes to the OS as they come, fsyncs per policy.
    fn run(self: Arc<Self>) {
        let mut st = self.state.lock();
        loop {
            if st.buf.is_empty() {
                if self.closed.load(Ordering::Acquire) {
                    self.write_out(&mut st, true);
                    return;
                }
                self.wake.wait_for(&mut st, Duration::from_secs(1));
            }
            let sync = self.policy() == Fsync::EverySec
                && st.last_fsync.elapsed() >= Duration::from_secs(1);
            self.write_out(&mut st, sync);
        }
    }

    /// Writes the buffered bytes (and fsyncs with `sync`); a failure is logged and shown
    /// in INFO, the bytes kept for the next try.
    fn write_out(&self, st: &mut SinkState, sync: bool) {
        let Some(file) = st.file.as_mut() else {
            return;
        };
        let result = file
            .write_all(&st.buf)
            .and_then(|()| if sync { file.sync_data() } else { Ok(()) });
        match result {
            Ok(()) => {
                st.buf.clear();
                if sync {
                    st.last_fsync = Instant::now();
                }
                self.failed.store(false, Ordering::Relaxed);
            }
            Err(e) => {
                if !self.failed.swap(true, Ordering::Relaxed) {
                    tracing::error!(file = %st.name, error = %e, "Error writing to the AOF");
                }
            }
        }
    }

    /// Everything received so far written and synced (DEBUG LOADAOF, shutdown, rewrite).
    pub fn flush(&self) {
        let mut st = self.state.lock();
        self.write_out(&mut st, true);
    }

    /// Continues in `file` (named `name`) from now on, after syncing the old one.
    fn switch(&self, file: File, name: String) {
        let mut st = self.state.lock();
        self.write_out(&mut st, true);
        st.file = Some(file);
        st.name = name;
    }

    fn current_name(&self) -> String {
        self.state.lock().name.clone()
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.wake.notify_one();
        self.flush();
    }
}

impl StreamSubscriber for Sink {
    fn push(&self, bytes: &[u8]) {
        let kept = without_link_commands(bytes);
        if kept.is_empty() {
            return;
        }
        let mut st = self.state.lock();
        st.buf.extend_from_slice(&kept);
        if self.policy() == Fsync::Always {
            self.write_out(&mut st, true);
        } else {
            drop(st);
            self.wake.notify_one();
        }
    }

    fn closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

/// The stream's commands less the ones that only keep a follower link alive (PING,
/// REPLCONF), which Redis never writes to its AOF.
fn without_link_commands(bytes: &[u8]) -> Vec<u8> {
    let mut buf = BytesMut::from(bytes);
    let mut parser = RequestParser::default();
    let limits = RequestLimits {
        max_bulk_len: usize::MAX,
        max_multibulk_len: usize::MAX,
    };
    let mut kept = Vec::with_capacity(bytes.len());
    let mut at = 0;
    loop {
        let before = buf.len();
        match parser.parse(&mut buf, &limits) {
            Ok(Parsed::Command(args)) => {
                let used = before - buf.len();
                let link = args.first().is_some_and(|a| {
                    a.eq_ignore_ascii_case(b"PING") || a.eq_ignore_ascii_case(b"REPLCONF")
                });
                if !link {
                    kept.extend_from_slice(&bytes[at..at + used]);
                }
                at += used;
            }
            Ok(Parsed::Nothing) => at = bytes.len() - buf.len(),
            // The stream is whole commands; anything else is kept verbatim.
            Ok(Parsed::Incomplete) | Err(_) => {
                kept.extend_from_slice(&bytes[at..]);
                return kept;
            }
        }
        if buf.is_empty() {
            return kept;
        }
    }
}

/// The server's AOF state: the sink while `appendonly yes`.
#[derive(Default)]
pub struct Aof {
    sink: Mutex<Option<Arc<Sink>>>,
}

impl Aof {
    /// True while the AOF is on (INFO `aof_enabled`).
    pub fn enabled(&self) -> bool {
        self.sink.lock().is_some()
    }

    /// The last write failed (INFO `aof_last_write_status`).
    pub fn failing(&self) -> bool {
        self.sink
            .lock()
            .as_ref()
            .is_some_and(|s| s.failed.load(Ordering::Relaxed))
    }

    /// Writes and syncs what is buffered (shutdown, DEBUG LOADAOF).
    pub fn flush(&self) {
        let sink = self.sink.lock().clone();
        if let Some(s) = sink {
            s.flush();
        }
    }

    /// `appendfsync` changed.
    pub fn set_fsync(&self, value: &str) {
        if let Some(s) = self.sink.lock().as_ref() {
            s.fsync.store(Fsync::parse(value) as u8, Ordering::Relaxed);
        }
    }
}

/// CONFIG SET appendonly / the setting at startup: turns the AOF on (a rewrite writes the
/// base of the current dataset and opens the incremental file) or off (the files stay).
pub fn apply(srv: &Server, txn: &mut crate::store::WriteTxn<'_>) -> Result<(), PersistError> {
    let want = srv.config.get("appendonly").as_deref() == Some("yes");
    let mut slot = srv.aof.sink.lock();
    match (want, slot.is_some()) {
        (true, false) => {
            *slot = Some(attach_sink(srv, txn, None));
            drop(slot);
            tracing::warn!("AOF enabled: rewriting the append only file from the dataset");
            srv.aof_rewrite.scheduled.store(true, Ordering::Relaxed);
            if crate::server::persistence::bgrewriteaof(srv, txn.sequencer())? {
                srv.aof_rewrite.scheduled.store(false, Ordering::Relaxed);
            }
        }
        (false, true) => {
            if let Some(sink) = slot.take() {
                sink.close();
            }
            tracing::warn!("AOF disabled (its files stay in place)");
        }
        _ => {}
    }
    Ok(())
}

/// Starts a sink (writing to `file` if given; else the next rewrite opens one) and makes
/// it a subscriber of the sequencer, whose log must be active for it to get anything.
fn attach_sink(
    srv: &Server,
    txn: &mut crate::store::WriteTxn<'_>,
    file: Option<(File, String)>,
) -> Arc<Sink> {
    let sink = Sink::start(Fsync::parse(
        &srv.config.get("appendfsync").unwrap_or_default(),
    ));
    if let Some((file, name)) = file {
        sink.switch(file, name);
    }
    let backlog = srv.config.get_i64("repl-backlog-size").max(16 * 1024) as usize;
    let seq = txn.sequencer_mut();
    seq.log.activate(backlog);
    seq.subscribers.push(sink.clone());
    sink
}

/// For a rewrite starting now (under a section no write can run in): with the AOF on,
/// switches the sink to the incremental file of base `seq_no`, naming it in the
/// manifest next to the current files until the new base is in place. Returns the new
/// incremental file's name (None with the AOF off).
pub fn rotate_for_rewrite(srv: &Server, seq_no: u64) -> Result<Option<String>, PersistError> {
    let Some(sink) = srv.aof.sink.lock().clone() else {
        return Ok(None);
    };
    let p = paths(srv);
    let incr = format!("{}.{seq_no}.incr.aof", p.name);
    if sink.current_name() == incr {
        return Ok(Some(incr));
    }
    std::fs::create_dir_all(&p.dir)?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(p.dir.join(&incr))?;
    sink.switch(file, incr.clone());
    let mut entries =
        aof_manifest::parse(&std::fs::read_to_string(&p.manifest).unwrap_or_default());
    if entries.iter().any(|e| e.kind == 'b') {
        entries.push(ManifestEntry {
            file: incr.clone(),
            seq: seq_no,
            kind: 'i',
        });
        aof_manifest::write_entries(&p.manifest, &entries)?;
    }
    Ok(Some(incr))
}

/// True when the AOF directory has a manifest (there is something to load).
pub fn exists(srv: &Server) -> bool {
    paths(srv).manifest.exists()
}

/// Loads the AOF named by the manifest into `ctx`'s write section: the base (RDB or
/// commands), then
/// each incremental file's commands in order. Keys are not expired while loading (the
/// file's own DELs remove them, as on a follower). Returns the commands replayed, or
/// None when there is no manifest.
pub fn load(ctx: &mut Ctx<'_>) -> Result<Option<usize>, PersistError> {
    let srv = ctx.srv;
    let p = paths(srv);
    let text = match std::fs::read_to_string(&p.manifest) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let entries = aof_manifest::parse(&text);
    let mut replayed = 0;
    for e in entries.iter().filter(|e| e.kind == 'b') {
        let mut file = File::open(p.dir.join(&e.file))?;
        // A base is RDB when it starts as one (`aof-use-rdb-preamble yes`), commands
        // otherwise, whatever its name says (Redis's loader decides the same way).
        let mut magic = [0u8; 5];
        let is_rdb = std::io::Read::read_exact(&mut file, &mut magic).is_ok() && &magic == b"REDIS";
        std::io::Seek::rewind(&mut file)?;
        if !is_rdb {
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut file, &mut data)?;
            replayed += replay(ctx, Bytes::from(data), &e.file);
            continue;
        }
        let txn = ctx
            .txn
            .as_mut()
            .ok_or_else(|| PersistError::Io(std::io::Error::other("no write section")))?;
        crate::server::persistence::load_into(srv, txn, std::io::BufReader::new(file), None)?;
    }
    for e in entries.iter().filter(|e| e.kind == 'i') {
        let data = std::fs::read(p.dir.join(&e.file))?;
        replayed += replay(ctx, Bytes::from(data), &e.file);
    }
    tracing::info!(manifest = %p.manifest.display(), commands = replayed, "DB loaded from append only file");
    Ok(Some(replayed))
}

/// Runs the commands of one incremental file in `ctx` (replies dropped, effects not
/// recorded again, MULTI/EXEC unwrapped: the whole load is one write section). A
/// truncated last command is left out, as Redis's `aof-load-truncated yes`.
fn replay(ctx: &mut Ctx<'_>, data: Bytes, file: &str) -> usize {
    let srv = ctx.srv;
    let mut buf = BytesMut::from(&data[..]);
    let mut parser = RequestParser::default();
    let limits = RequestLimits {
        max_bulk_len: usize::MAX,
        max_multibulk_len: usize::MAX,
    };
    let saved_db = ctx.client.db;
    let mark = ctx.out.buf.len();
    let (saved_now, saved_suppress) = match ctx.txn.as_mut() {
        Some(t) => {
            let now = t.now;
            t.apply_from_leader();
            let log = t.log();
            let suppress = log.suppress_effects;
            log.suppress_effects = true;
            (now, suppress)
        }
        None => return 0,
    };
    // Commands from the file are obeyed as a leader's are (a rewritten stream trim point
    // is replayed exactly, as Redis's mustObeyClient).
    let saved_link = ctx
        .client
        .leader
        .replace(crate::commands::LeaderLink::default());
    let mut count = 0;
    loop {
        match parser.parse(&mut buf, &limits) {
            Ok(Parsed::Command(args)) => {
                let Some(cmd) = srv.commands.get(&args[0]) else {
                    tracing::warn!(file, command = %String::from_utf8_lossy(&args[0]), "Unknown command in the append only file, skipped");
                    continue;
                };
                if ["multi", "exec", "ping", "replconf"].contains(&cmd.name)
                    || !cmd.arity_ok(args.len())
                {
                    continue;
                }
                if let Err(e) = (cmd.handler_for(&args))(ctx, &args) {
                    tracing::debug!(file, error = %e, "an append only file command failed");
                }
                ctx.out.buf.truncate(mark);
                count += 1;
            }
            Ok(Parsed::Nothing) => {}
            Ok(Parsed::Incomplete) => {
                if !buf.is_empty() {
                    tracing::warn!(
                        file,
                        bytes = buf.len(),
                        "The append only file ends with a truncated command: loaded up to the last whole one"
                    );
                }
                break;
            }
            Err(e) => {
                tracing::warn!(file, error = %e, "Bad file format reading the append only file: loaded up to there");
                break;
            }
        }
    }
    ctx.client.db = saved_db;
    ctx.client.leader = saved_link;
    ctx.out.buf.truncate(mark);
    if let Some(t) = ctx.txn.as_mut() {
        t.now = saved_now;
        t.log().suppress_effects = saved_suppress;
    }
    count
}

/// Startup with `appendonly yes`: loads the AOF when its manifest exists (else the
/// dataset starts empty, as Redis 7 does), then turns the AOF on, appending to the last
/// incremental file or, without one, rewriting a base first. Returns the commands
/// replayed, or None without a manifest.
pub fn start(srv: &Server) -> Result<Option<usize>, PersistError> {
    let handle = Arc::new(crate::server::client::ClientHandle::new(
        srv.next_client_id(),
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        -1,
    ));
    let mut client = crate::commands::Client::new(handle, srv.acl.default_user());
    let mut out = crate::protocol::ReplyBuf::default();
    let now = crate::base::now_ms();
    let mut ctx = Ctx {
        srv,
        client: &mut client,
        out: &mut out,
        now,
        txn: Some(srv.store.write(now)),
        read_guard: None,
        expired_seen: Vec::new(),
    };
    let loaded = load(&mut ctx)?;
    let p = paths(srv);
    let entries = aof_manifest::parse(&std::fs::read_to_string(&p.manifest).unwrap_or_default());
    let last_incr = entries.iter().rev().find(|e| e.kind == 'i').cloned();
    let txn = ctx
        .txn
        .as_mut()
        .ok_or_else(|| PersistError::Io(std::io::Error::other("no write section")))?;
    match (loaded.is_some(), last_incr) {
        (true, Some(incr)) => {
            let file = std::fs::OpenOptions::new()
                .append(true)
                .open(p.dir.join(&incr.file))?;
            let sink = attach_sink(srv, txn, Some((file, incr.file)));
            *srv.aof.sink.lock() = Some(sink);
        }
        _ => apply(srv, txn)?,
    }
    Ok(loaded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_commands_are_left_out() {
        let mut stream = Vec::new();
        crate::base::encode_command(&mut stream, &[&b"SELECT"[..], b"0"]);
        crate::base::encode_command(&mut stream, &[&b"PING"[..]]);
        crate::base::encode_command(&mut stream, &[&b"SET"[..], b"k", b"v"]);
        crate::base::encode_command(&mut stream, &[&b"REPLCONF"[..], b"GETACK", b"*"]);
        let mut want = Vec::new();
        crate::base::encode_command(&mut want, &[&b"SELECT"[..], b"0"]);
        crate::base::encode_command(&mut want, &[&b"SET"[..], b"k", b"v"]);
        assert_eq!(without_link_commands(&stream), want);
    }
}
