//! RDB persistence for the server: SAVE, the save at shutdown, and loading the snapshot at
//! startup. The point-in-time background snapshot (BGSAVE, full sync) needs a fork-free
//! snapshot of the keyspace and comes with replication.

use crate::rdb::{self, Aux, RdbValue, RdbValueRef, RdbWriter};
use crate::server::Server;
use crate::store::snapshot::SnapshotSink;
use crate::store::{Entry, NUM_DBS, Sequencer, StrBytes, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

/// Why a save or load failed; logged, and for SAVE turned into an error reply.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    /// Writing, syncing or renaming the file failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The file on disk is not a snapshot we can load.
    #[error("{0}")]
    Rdb(#[from] rdb::RdbError),
    /// A function library in the snapshot does not load.
    #[error("Failed loading library, {0}")]
    Library(String),
}

/// Where `dbfilename` lives: relative names resolve against `dir`, the working directory.
pub fn rdb_path(srv: &Server) -> PathBuf {
    PathBuf::from(
        srv.config
            .get("dbfilename")
            .unwrap_or_else(|| "dump.rdb".into()),
    )
}

/// True when `save` points are configured: SHUTDOWN and SIGTERM then save, as in Redis.
pub fn save_points_configured(srv: &Server) -> bool {
    !srv.config.get("save").unwrap_or_default().trim().is_empty()
}

/// Runs `f` on the RDB form of a stored value (borrowed: a snapshot copies no bytes,
/// collections only gather references).
/// Bytes `value` takes in a snapshot (DEBUG OBJECT's `serializedlength`).
pub fn serialized_length(value: &Value) -> usize {
    with_rdb_value(value, rdb::serialized_length)
}

/// DUMP's payload for a stored value (stock RESTORE accepts it).
pub fn dump(value: &Value) -> Vec<u8> {
    with_rdb_value(value, rdb::dump_payload)
}

/// The value in a DUMP payload (ours or stock's), with RESTORE's error texts.
pub fn restore(
    payload: &[u8],
    limits: &crate::store::encoding::EncodingLimits,
) -> Result<Value, &'static str> {
    let value = rdb::restore_payload(payload)?;
    stored_value(value, limits).ok_or("Bad data format")
}

/// A loaded value as the store keeps it, with the encodings our limits choose; None
/// for an empty collection (Redis never keeps one).
fn stored_value(value: RdbValue, limits: &crate::store::encoding::EncodingLimits) -> Option<Value> {
    if value.is_empty() {
        return None;
    }
    Some(match value {
        RdbValue::Str(s) => Value::Str(StrBytes::from_vec(s)),
        RdbValue::Hash(pairs) => Value::Hash(Box::new(crate::store::hash::HashValue::from_pairs(
            pairs, limits,
        ))),
        RdbValue::Set(members) => Value::Set(Box::new(crate::store::set::SetValue::from_members(
            members, limits,
        ))),
        RdbValue::List(items) => Value::List(Box::new(
            items.into_iter().map(StrBytes::from_vec).collect(),
        )),
        RdbValue::ZSet(pairs) => Value::ZSet(Box::new(crate::store::zset::ZSetValue::from_pairs(
            pairs, limits,
        ))),
        RdbValue::Stream(s) => Value::Stream(Box::new(stream_from_rdb(*s))),
    })
}

fn owned_fields(pairs: Vec<(Vec<u8>, Vec<u8>)>) -> crate::store::stream::Fields {
    pairs
        .into_iter()
        .map(|(f, v)| (StrBytes::from_vec(f), StrBytes::from_vec(v)))
        .collect()
}

/// A loaded stream as the store keeps it, node boundaries included.
fn stream_from_rdb(r: crate::rdb::RdbStream) -> crate::store::stream::StreamValue {
    use crate::store::stream::{Consumer, ConsumerGroup, PendingEntry, StreamValue};
    let mut s = StreamValue::default();
    for node in r.nodes {
        let entries = node
            .entries
            .into_iter()
            .map(|(id, f)| (id.into(), owned_fields(f)))
            .collect();
        s.push_node(node.master_id.into(), entries);
    }
    s.length = r.length;
    s.last_id = r.last_id.into();
    s.first_id = r.first_id.into();
    s.max_deleted_id = r.max_deleted_id.into();
    s.entries_added = r.entries_added;
    for g in r.groups {
        let mut group = ConsumerGroup::new(g.last_id.into(), g.entries_read);
        let mut owner: std::collections::HashMap<(u64, u64), StrBytes> = Default::default();
        for c in g.consumers {
            let name = StrBytes::from_vec(c.name);
            for id in &c.pel {
                owner.insert(*id, name.clone());
            }
            group.consumers.insert(
                name,
                Consumer {
                    seen_time: c.seen_time,
                    pel: c.pel.into_iter().map(Into::into).collect(),
                },
            );
        }
        for (id, time, count) in g.pel {
            // The decoder checked that every pending entry has an owner.
            let Some(consumer) = owner.get(&id).cloned() else {
                continue;
            };
            group.pel.insert(
                id.into(),
                PendingEntry {
                    consumer,
                    delivery_time: time,
                    delivery_count: count,
                },
            );
        }
        s.groups.insert(StrBytes::from_vec(g.name), group);
    }
    s
}

/// A stored stream in RDB's shape.
fn stream_to_rdb(s: &crate::store::stream::StreamValue) -> crate::rdb::RdbStream {
    use crate::rdb::{RdbStream, RdbStreamConsumer, RdbStreamGroup, RdbStreamNode};
    let pairs = |f: crate::store::stream::EntryFields<'_>| -> Vec<(Vec<u8>, Vec<u8>)> {
        f.iter().map(|(a, b)| (a.to_vec(), b.to_vec())).collect()
    };
    RdbStream {
        nodes: s
            .nodes()
            .map(|(master, entries)| RdbStreamNode {
                master_id: master.into(),
                entries: entries.map(|(id, f)| (id.into(), pairs(f))).collect(),
            })
            .filter(|n| !n.entries.is_empty())
            .collect(),
        length: s.length,
        last_id: s.last_id.into(),
        first_id: s.first_id.into(),
        max_deleted_id: s.max_deleted_id.into(),
        entries_added: s.entries_added,
        groups: s
            .groups
            .iter()
            .map(|(name, g)| RdbStreamGroup {
                name: name.to_vec(),
                last_id: g.last_id.into(),
                entries_read: g.entries_read,
                pel: g
                    .pel
                    .iter()
                    .map(|(id, p)| ((*id).into(), p.delivery_time, p.delivery_count))
                    .collect(),
                consumers: g
                    .consumers
                    .iter()
                    .map(|(name, c)| RdbStreamConsumer {
                        name: name.to_vec(),
                        seen_time: c.seen_time,
                        pel: c.pel.iter().map(|id| (*id).into()).collect(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

pub(crate) fn with_rdb_value<R>(value: &Value, f: impl FnOnce(&RdbValueRef<'_>) -> R) -> R {
    match value {
        Value::Str(s) => f(&RdbValueRef::Str(s)),
        Value::Hash(h) => {
            let pairs: Vec<(&[u8], &[u8])> = h.iter().collect();
            f(&RdbValueRef::Hash(&pairs))
        }
        Value::Set(set) => {
            let members = set.members();
            let refs: Vec<&[u8]> = members.iter().map(|m| &m[..]).collect();
            f(&RdbValueRef::Set(&refs))
        }
        Value::List(l) => {
            let refs: Vec<&[u8]> = l.iter().map(|e| &e[..]).collect();
            f(&RdbValueRef::List(&refs))
        }
        Value::ZSet(z) => {
            let pairs: Vec<(&[u8], f64)> = z.iter().map(|(m, s)| (&m[..], s)).collect();
            f(&RdbValueRef::ZSet(&pairs))
        }
        Value::Stream(s) => f(&RdbValueRef::Stream(&stream_to_rdb(s))),
    }
}

/// Writes the whole keyspace as it is under `seq` (the caller holds the sequencer, so no
/// write interleaves: the file is one point in time) to `dbfilename`, via a temporary file
/// renamed into place after fsync. Returns the number of keys written.
pub fn save(srv: &Server, seq: &Sequencer) -> Result<usize, PersistError> {
    let started = std::time::Instant::now();
    let path = rdb_path(srv);
    let tmp = PathBuf::from(format!("temp-{}.rdb", std::process::id()));
    let result = write_snapshot(srv, seq, &tmp).and_then(|keys| {
        std::fs::rename(&tmp, &path)?;
        Ok(keys)
    });
    match &result {
        Ok(keys) => {
            srv.lastsave
                .store(crate::base::now_ms() / 1000, Ordering::Relaxed);
            srv.dirty.store(0, Ordering::Relaxed);
            srv.rdb_saves.fetch_add(1, Ordering::Relaxed);
            // A successful save clears a background save's error, as in Redis.
            srv.last_bgsave_ok.store(true, Ordering::Relaxed);
            tracing::info!(keys, file = %path.display(), elapsed_ms = started.elapsed().as_millis() as u64, "DB saved on disk");
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            tracing::warn!(error = %e, file = %path.display(), "Failed saving the DB");
        }
    }
    result
}

/// The aux fields of a snapshot taken at `seq`'s current offset, with the function
/// libraries (changed only inside the write section the caller holds, so they match
/// the data).
pub fn snapshot_aux(srv: &Server, seq: &Sequencer) -> Aux {
    Aux {
        redis_ver: crate::base::REDIS_COMPAT_VERSION.into(),
        redis_bits: 64,
        ctime: crate::base::now_ms() / 1000,
        used_mem: crate::base::memory_stats().allocated,
        repl_id: Some(seq.log.replid.clone()),
        repl_offset: Some(seq.log.offset as i64),
        repl_stream_db: Some(0),
        aof_base: false,
        extra: Vec::new(),
        functions: srv.functions.current().codes(),
    }
}

fn write_snapshot(srv: &Server, seq: &Sequencer, tmp: &PathBuf) -> Result<usize, PersistError> {
    let now = crate::base::now_ms();
    let aux = snapshot_aux(srv, seq);
    let file = std::fs::File::create(tmp)?;
    let mut w = rdb_writer(srv, file, &aux)?;
    let mut keys = 0;
    for db in 0..NUM_DBS {
        let d = srv.store.db(db);
        if d.map.is_empty() {
            continue;
        }
        let expires = d.volatile.lock().len();
        w.select_db(db, d.map.len() as u64, expires as u64)?;
        for e in d.entries() {
            if e.is_expired(now) {
                continue;
            }
            with_rdb_value(&e.value, |v| w.write_entry(e.key(), v, e.expire_at))?;
            keys += 1;
        }
    }
    let mut file = w.finish()?;
    file.flush()?;
    file.sync_all()?;
    Ok(keys)
}

/// Decodes an RDB stream into the keyspace through `txn`, and its function libraries
/// in place of the server's. With `skip_expired_at`, keys whose TTL has passed by then
/// are left out (a leader loading its file); a follower loading its leader's snapshot
/// keeps them, for the leader's DEL to remove. Returns the snapshot's aux fields and the
/// number of keys loaded.
pub fn load_into(
    srv: &Server,
    txn: &mut crate::store::WriteTxn<'_>,
    reader: impl std::io::Read,
    skip_expired_at: Option<u64>,
) -> Result<(Aux, usize), PersistError> {
    let (aux, loaded) = load_keys_into(txn, reader, skip_expired_at)?;
    let libs = crate::scripting::functions::Libraries::from_codes(&aux.functions, true)
        .map_err(PersistError::Library)?;
    srv.functions.set(libs);
    Ok((aux, loaded))
}

/// DEBUG RELOAD: saves (unless `!save`), empties the dataset and the libraries (unless
/// `!flush`) and loads the file back; libraries already loaded make the load fail
/// unless `merge`, which replaces them, as in Redis.
pub fn reload(
    srv: &Server,
    txn: &mut crate::store::WriteTxn<'_>,
    save_first: bool,
    flush: bool,
    merge: bool,
) -> Result<usize, PersistError> {
    if save_first {
        save(srv, txn.sequencer())?;
    }
    if flush {
        txn.flush_all(false);
        srv.functions.set(Default::default());
    }
    let file = std::fs::File::open(rdb_path(srv))?;
    let now = crate::base::now_ms();
    let (aux, loaded) = load_keys_into(txn, std::io::BufReader::new(file), Some(now))?;
    srv.functions
        .update(|libs| {
            for code in &aux.functions {
                libs.create(bytes::Bytes::copy_from_slice(code), merge, None)?;
            }
            Ok(())
        })
        .map_err(PersistError::Library)?;
    tracing::warn!(keys = loaded, "DB reloaded by DEBUG RELOAD");
    Ok(loaded)
}

/// The keys of an RDB stream (see [`load_into`]); the libraries are left to the caller.
fn load_keys_into(
    txn: &mut crate::store::WriteTxn<'_>,
    reader: impl std::io::Read,
    skip_expired_at: Option<u64>,
) -> Result<(Aux, usize), PersistError> {
    let mut loaded = 0usize;
    let limits = &txn.store().encoding;
    let aux = rdb::load(reader, |db, key, value, expire_at| {
        if db >= NUM_DBS {
            return Err(rdb::RdbError::Corrupt(format!(
                "database index {} out of range",
                db
            )));
        }
        if skip_expired_at.is_some_and(|now| expire_at != 0 && expire_at <= now) {
            return Ok(());
        }
        if let Some(v) = stored_value(value, limits) {
            txn.insert(db, &key, Entry::new(v, expire_at));
            loaded += 1;
        }
        Ok(())
    });
    Ok((aux?, loaded))
}

/// Loads `dbfilename` if it exists, before the server accepts clients. Keys whose TTL has
/// passed are skipped, as a primary does. A corrupt or unsupported file is an error: the
/// server must not start with part of the data.
pub fn load_at_startup(srv: &Server) -> Result<Option<usize>, PersistError> {
    let path = rdb_path(srv);
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let started = std::time::Instant::now();
    let now = crate::base::now_ms();
    let mut txn = srv.store.write(now);
    let (aux, loaded) = load_into(srv, &mut txn, std::io::BufReader::new(file), Some(now))?;
    // A follower restarting from its snapshot resumes its leader's history at the saved
    // offset, so it can continue with a partial resync (as Redis does).
    let replicaof = !srv
        .config
        .get("replicaof")
        .unwrap_or_default()
        .trim()
        .is_empty();
    if let (true, Some(id), Some(off)) = (replicaof, &aux.repl_id, aux.repl_offset) {
        let backlog = srv.config.get_i64("repl-backlog-size").max(16 * 1024) as usize;
        txn.log().reset_history(id, off.max(0) as u64, backlog);
        srv.follower.lock().has_history = true;
        tracing::info!(replid = %id, offset = off, "Restored the replication history from the snapshot");
    }
    drop(txn);
    tracing::info!(
        keys = loaded,
        file = %path.display(),
        written_by = %aux.redis_ver,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "DB loaded from disk"
    );
    Ok(Some(loaded))
}

/// Completes an RDB sink's output once the trailer is written (sync and rename a file,
/// or frame and release a transfer to a follower).
pub type RdbFinish<W> = Box<dyn FnOnce(W) -> std::io::Result<()> + Send>;

/// A snapshot sink that writes RDB through `W`; every snapshot consumer (BGSAVE, save
/// points, full sync) uses it with its own way of finishing.
pub struct RdbSink<W: Write + Send> {
    writer: RdbWriter<W>,
    /// `rdb-key-save-delay` in microseconds (tests use it to make a save overlap writes).
    key_delay_us: u64,
    on_finish: RdbFinish<W>,
}

impl<W: Write + Send> RdbSink<W> {
    /// A sink writing `aux` then entries to `w`, finishing with `on_finish`.
    pub fn new(srv: &Server, w: W, aux: &Aux, on_finish: RdbFinish<W>) -> std::io::Result<Self> {
        Ok(RdbSink {
            writer: rdb_writer(srv, w, aux)?,
            key_delay_us: srv.config.get_i64("rdb-key-save-delay").max(0) as u64,
            on_finish,
        })
    }
}

impl<W: Write + Send> SnapshotSink for RdbSink<W> {
    fn select_db(&mut self, db: usize) -> std::io::Result<()> {
        // Sizes are only a hint for the loader's table sizing; not known up front here.
        self.writer.select_db(db, 0, 0)
    }

    fn entry(&mut self, key: &[u8], entry: &Entry) -> std::io::Result<()> {
        if self.key_delay_us > 0 {
            std::thread::sleep(std::time::Duration::from_micros(self.key_delay_us));
        }
        let writer = &mut self.writer;
        with_rdb_value(&entry.value, |v| {
            writer.write_entry(key, v, entry.expire_at)
        })
    }

    fn finish(self: Box<Self>) -> std::io::Result<()> {
        let RdbSink {
            writer, on_finish, ..
        } = *self;
        on_finish(writer.finish()?)
    }
}

/// BGSAVE: installs a point-in-time snapshot while the caller holds the sequencer (`seq`)
/// and serialises it on a background thread; writers keep running, pausing at most for one
/// shard. Returns false when a background save is already running.
pub fn bgsave(srv: &Server, seq: &Sequencer) -> Result<bool, PersistError> {
    let path = rdb_path(srv);
    let tmp = PathBuf::from(format!("temp-bg-{}.rdb", std::process::id()));
    let aux = snapshot_aux(srv, seq);
    let shown = path.clone();
    let install = Box::new(move |tmp: &Path| std::fs::rename(tmp, &path));
    let done = Box::new(
        move |owner: &Server,
              result: Result<usize, std::io::Error>,
              dirty_at_start: u64,
              elapsed: std::time::Duration| {
            let now_s = crate::base::now_ms() / 1000;
            owner.last_bgsave_try.store(now_s, Ordering::Relaxed);
            match result {
                Ok(keys) => {
                    owner.lastsave.store(now_s, Ordering::Relaxed);
                    // Writes made while saving are not in the file: they stay counted.
                    let _ = owner
                        .dirty
                        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |d| {
                            Some(d.saturating_sub(dirty_at_start))
                        });
                    owner.rdb_saves.fetch_add(1, Ordering::Relaxed);
                    owner.last_bgsave_ok.store(true, Ordering::Relaxed);
                    tracing::info!(keys, file = %shown.display(), elapsed_ms = elapsed.as_millis() as u64, "Background saving terminated with success");
                }
                Err(e) => {
                    owner.last_bgsave_ok.store(false, Ordering::Relaxed);
                    tracing::warn!(error = %e, "Background saving error");
                }
            }
        },
    );
    let started = background_snapshot(srv, seq, aux, SnapshotFormat::Rdb, tmp, install, done)?;
    if started {
        tracing::info!(offset = seq.log.offset, "Background saving started");
    }
    Ok(started)
}

/// BGREWRITEAOF: writes a new base of the multi-part append-only file (an RDB snapshot
/// with `aof-use-rdb-preamble yes`, commands with `no`, as Redis) in `appenddirname` and
/// points the manifest at it, dropping the files it replaces. Returns false when another
/// background snapshot is running.
pub fn bgrewriteaof(srv: &Server, seq: &Sequencer) -> Result<bool, PersistError> {
    let crate::server::aof::Paths {
        dir,
        name,
        manifest,
    } = crate::server::aof::paths(srv);
    std::fs::create_dir_all(&dir)?;
    let old_files = crate::server::aof_manifest::listed_files(&manifest);
    let seq_no = crate::server::aof_manifest::next_base_seq(&manifest);
    let format = SnapshotFormat::aof_base(srv);
    let base = format!("{name}.{seq_no}.base.{}", format.base_suffix());
    // With the AOF on, writes from now on go to a new incremental file.
    let incr = crate::server::aof::rotate_for_rewrite(srv, seq_no)?;
    let tmp = PathBuf::from(format!("temp-rewriteaof-bg-{}.aof", std::process::id()));
    let mut aux = snapshot_aux(srv, seq);
    aux.aof_base = true;
    let install = Box::new(move |tmp: &Path| {
        use crate::server::aof_manifest::ManifestEntry;
        std::fs::rename(tmp, dir.join(&base))?;
        let mut entries = vec![ManifestEntry {
            file: base.clone(),
            seq: seq_no,
            kind: 'b',
        }];
        if let Some(incr) = &incr {
            entries.push(ManifestEntry {
                file: incr.clone(),
                seq: seq_no,
                kind: 'i',
            });
        }
        crate::server::aof_manifest::write_entries(&manifest, &entries)?;
        for old in old_files
            .iter()
            .filter(|f| **f != base && Some(*f) != incr.as_ref())
        {
            let _ = std::fs::remove_file(dir.join(old));
        }
        tracing::info!(file = %dir.join(&base).display(), "Successfully renamed the temporary AOF base file into place");
        Ok(())
    });
    let done = Box::new(
        |owner: &Server,
         result: Result<usize, std::io::Error>,
         _dirty: u64,
         elapsed: std::time::Duration| {
            owner.aof_rewrite.finished(result.is_ok(), elapsed);
            match result {
                Ok(keys) => tracing::info!(
                    keys,
                    elapsed_ms = elapsed.as_millis() as u64,
                    "Background AOF rewrite finished successfully"
                ),
                Err(e) => tracing::warn!(error = %e, "Background AOF rewrite failed"),
            }
        },
    );
    srv.aof_rewrite.starting();
    let started = background_snapshot(srv, seq, aux, format, tmp, install, done);
    match &started {
        Ok(true) => tracing::info!(
            offset = seq.log.offset,
            "Background append only file rewriting started"
        ),
        Ok(false) => srv.aof_rewrite.not_started(false),
        Err(_) => srv.aof_rewrite.not_started(true),
    }
    started
}

/// BGREWRITEAOF's state and INFO `aof_*` fields.
#[derive(Default)]
pub struct AofRewriteState {
    /// A rewrite's snapshot is running (`aof_rewrite_in_progress`).
    pub in_progress: AtomicBool,
    /// Asked for while another snapshot ran: the cron starts it (`aof_rewrite_scheduled`).
    pub scheduled: AtomicBool,
    /// Rewrites started (`aof_rewrites`).
    pub rewrites: AtomicU64,
    /// The last one failed (`aof_last_bgrewrite_status:err`).
    pub last_failed: AtomicBool,
    /// Failures since the last success (`aof_rewrites_consecutive_failures`).
    pub consecutive_failures: AtomicU64,
    /// Seconds the last one took, -1 before any (`aof_last_rewrite_time_sec`).
    pub last_time_sec: AtomicI64,
    /// Unix milliseconds when the running one started (`aof_current_rewrite_time_sec`).
    pub started_ms: AtomicU64,
}

impl AofRewriteState {
    /// No rewrite yet (`aof_last_rewrite_time_sec:-1`).
    pub fn new() -> Self {
        let state = Self::default();
        state.last_time_sec.store(-1, Ordering::Relaxed);
        state
    }

    fn starting(&self) {
        self.in_progress.store(true, Ordering::Relaxed);
        self.scheduled.store(false, Ordering::Relaxed);
        self.rewrites.fetch_add(1, Ordering::Relaxed);
        self.started_ms
            .store(crate::base::now_ms(), Ordering::Relaxed);
    }

    fn not_started(&self, failed: bool) {
        self.in_progress.store(false, Ordering::Relaxed);
        if failed {
            self.last_failed.store(true, Ordering::Relaxed);
        }
    }

    fn finished(&self, ok: bool, elapsed: std::time::Duration) {
        self.last_time_sec
            .store(elapsed.as_secs() as i64, Ordering::Relaxed);
        self.last_failed.store(!ok, Ordering::Relaxed);
        if ok {
            self.consecutive_failures.store(0, Ordering::Relaxed);
        } else {
            self.consecutive_failures.fetch_add(1, Ordering::Relaxed);
        }
        self.in_progress.store(false, Ordering::Relaxed);
    }

    /// Seconds the running rewrite has taken, -1 when none runs.
    pub fn current_time_sec(&self) -> i64 {
        if !self.in_progress.load(Ordering::Relaxed) {
            return -1;
        }
        let started = self.started_ms.load(Ordering::Relaxed);
        (crate::base::now_ms().saturating_sub(started) / 1000) as i64
    }
}

/// Moves a finished snapshot's temporary file into place.
type Install = Box<dyn FnOnce(&Path) -> std::io::Result<()> + Send>;
/// Records a background snapshot's outcome: keys written or the error, the dirty count
/// when it began, and how long it took.
type Done =
    Box<dyn FnOnce(&Server, Result<usize, std::io::Error>, u64, std::time::Duration) + Send>;

/// What a background snapshot writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SnapshotFormat {
    /// An RDB file (BGSAVE, and the AOF base with `aof-use-rdb-preamble yes`).
    Rdb,
    /// Commands (the AOF base with `aof-use-rdb-preamble no`).
    Commands,
}

impl SnapshotFormat {
    /// The AOF base's format, as `aof-use-rdb-preamble` asks.
    fn aof_base(srv: &Server) -> Self {
        if srv.config.get("aof-use-rdb-preamble").as_deref() == Some("no") {
            SnapshotFormat::Commands
        } else {
            SnapshotFormat::Rdb
        }
    }

    /// The extension of an AOF base in this format (Redis's names).
    fn base_suffix(self) -> &'static str {
        match self {
            SnapshotFormat::Rdb => "rdb",
            SnapshotFormat::Commands => "aof",
        }
    }
}

/// Starts a point-in-time snapshot written to `tmp` on a background thread, then synced
/// and handed to `install`; `done` runs at the end either way. The one path for BGSAVE,
/// save points and BGREWRITEAOF. False when a snapshot is already running.
fn background_snapshot(
    srv: &Server,
    seq: &Sequencer,
    aux: Aux,
    format: SnapshotFormat,
    tmp: PathBuf,
    install: Install,
    done: Done,
) -> Result<bool, PersistError> {
    if srv.store.snapshot_in_progress() {
        return Ok(false);
    }
    let file = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
    let tmp2 = tmp.clone();
    let finish = move |mut w: std::io::BufWriter<std::fs::File>| {
        w.flush()?;
        w.get_ref().sync_all()?;
        install(&tmp2)
    };
    let sink: Box<dyn crate::store::snapshot::SnapshotSink> = match format {
        SnapshotFormat::Rdb => Box::new(RdbSink::new(srv, file, &aux, Box::new(finish))?),
        SnapshotFormat::Commands => Box::new(crate::server::aof_commands::CommandSink::new(
            file,
            &aux.functions,
            Box::new(finish),
        )?),
    };
    let Some(snap) = srv.store.begin_snapshot(seq.log.offset, sink) else {
        let _ = std::fs::remove_file(&tmp);
        return Ok(false);
    };
    let dirty_at_start = srv.dirty.load(Ordering::Relaxed);
    let Some(owner) = srv.arc() else {
        srv.store.end_snapshot();
        return Ok(false);
    };
    let started = std::time::Instant::now();
    std::thread::Builder::new()
        .name("ferrocache-bgsave".into())
        .spawn(move || {
            let result = snap.run(&owner.store);
            owner.store.end_snapshot();
            if result.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            done(&owner, result, dirty_at_start, started.elapsed());
        })?;
    Ok(true)
}

/// `stop-writes-on-bgsave-error`: the last background save failed while save points are
/// configured, so writes (and PING) are refused until a save succeeds, as Redis does —
/// an operator relying on snapshots learns of the disk problem before losing data.
pub fn writes_denied_by_disk_error(srv: &Server) -> bool {
    !srv.last_bgsave_ok.load(Ordering::Relaxed)
        && srv.config.get("stop-writes-on-bgsave-error").as_deref() == Some("yes")
        && save_points_configured(srv)
}

/// An RDB writer over `w` as the configuration asks: `rdbcompression`, `rdbchecksum`.
fn rdb_writer<W: Write>(srv: &Server, w: W, aux: &Aux) -> std::io::Result<RdbWriter<W>> {
    let mut writer = RdbWriter::new(w, aux)?;
    writer.set_compression(srv.config.get("rdbcompression").as_deref() != Some("no"));
    writer.set_checksum(srv.config.get("rdbchecksum").as_deref() != Some("no"));
    Ok(writer)
}

/// Whether a configured save point (`save <seconds> <changes>`) is due now.
pub fn save_point_due(srv: &Server) -> bool {
    let dirty = srv.dirty.load(Ordering::Relaxed);
    if dirty == 0 || srv.store.snapshot_in_progress() {
        return false;
    }
    let now_s = crate::base::now_ms() / 1000;
    // After a failed background save, wait before retrying (Redis waits 5 seconds).
    if !srv.last_bgsave_ok.load(Ordering::Relaxed)
        && now_s.saturating_sub(srv.last_bgsave_try.load(Ordering::Relaxed)) < 5
    {
        return false;
    }
    let since = now_s.saturating_sub(srv.lastsave.load(Ordering::Relaxed));
    let points = srv.config.get("save").unwrap_or_default();
    let words: Vec<u64> = points
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    words
        .chunks(2)
        .any(|p| p.len() == 2 && dirty >= p[1] && since >= p[0])
}
