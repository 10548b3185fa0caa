//! Command dispatch: lookup in the table, arity/auth/context checks, MULTI queueing,
//! locking by flags, then the family handler.

pub mod acl;
pub mod bitmaps;
pub mod blocking;
pub mod collection;
pub mod connection;
pub mod docs;
pub mod error;
pub mod geo;
pub mod hashes;
pub mod hyperloglog;
pub mod info;
pub mod keys;
pub mod latency;
pub mod lists;
pub mod lolwut;
pub mod memory;
pub mod migrate;
pub mod pubsub;
pub mod replication;
pub mod scripting;
pub mod server;
pub mod sets;
pub mod sort;
pub mod streams;
pub mod strings;
pub mod table;
pub mod transactions;
pub mod zsets;

use crate::protocol::ReplyBuf;
use crate::server::Server;
pub use crate::server::client::{Client, LeaderLink, PendingWait};
use crate::store::{Access, EntryRef, Lookup, Sequencer, Value, WriteTxn};
use bytes::Bytes;
pub use error::{CmdError, CmdResult};
use parking_lot::RwLockReadGuard;

use std::sync::atomic::Ordering;
pub use table::{Command, CommandTable, flags};

/// Every family's commands, in COMMAND order. Built once per server and leaked: the table
/// lives as long as the process and its entries carry their own counters.
pub fn all_commands() -> &'static [Command] {
    let mut v = strings::commands();
    v.extend(bitmaps::commands());
    v.extend(geo::commands());
    v.extend(hashes::commands());
    v.extend(hyperloglog::commands());
    v.extend(lists::commands());
    v.extend(blocking::commands());
    v.extend(sets::commands());
    v.extend(sort::commands());
    v.extend(zsets::commands());
    v.extend(streams::commands());
    v.extend(keys::commands());
    v.extend(migrate::commands());
    v.extend(transactions::commands());
    v.extend(pubsub::commands());
    v.extend(connection::commands());
    v.extend(server::commands());
    v.extend(memory::commands());
    v.extend(replication::commands());
    v.extend(acl::commands());
    v.extend(scripting::commands());
    Box::leak(v.into_boxed_slice())
}

/// Everything a handler may touch while running one command.
pub struct Ctx<'a> {
    /// Shared server state.
    pub srv: &'a Server,
    /// The calling client.
    pub client: &'a mut Client,
    /// Where replies go.
    pub out: &'a mut ReplyBuf,
    /// The clock for this command (expiry decisions use one instant per command).
    pub now: u64,
    /// The write section, held by write commands and EXEC.
    pub txn: Option<WriteTxn<'a>>,
    /// The shared sequencer side, held by multi-key reads.
    pub read_guard: Option<RwLockReadGuard<'a, Sequencer>>,
    /// Keys found expired by lock-free reads, deleted after the command.
    pub expired_seen: Vec<(usize, Bytes)>,
}

impl<'a> Ctx<'a> {
    /// The write section; an internal error if a handler without the WRITE flag asks.
    pub fn w(&mut self) -> Result<&mut WriteTxn<'a>, CmdError> {
        self.txn
            .as_mut()
            .ok_or_else(|| CmdError::err("internal: write outside a write section"))
    }

    /// The write section for a command not flagged WRITE that still changes replication
    /// state (REPLICAOF): the one EXEC holds, or a new one taken now.
    pub fn w_taken(&mut self) -> &mut WriteTxn<'a> {
        let store: &'a crate::store::Store = &self.srv.store;
        let now = self.now;
        self.txn.get_or_insert_with(|| store.write(now))
    }

    /// This server's encoding thresholds, borrowed for as long as the context lives (so a
    /// handler's closure over a value can use them while the context is borrowed too).
    pub fn limits(&self) -> &'a crate::store::encoding::EncodingLimits {
        &self.srv.store.encoding
    }

    /// Waits until no write section is in progress (none can be while EXEC holds one):
    /// after CLIENT PAUSE sets the pause, every write either finished or will see it.
    pub fn write_fence(&mut self) {
        if self.txn.is_none() {
            drop(self.srv.store.write(self.now));
        }
    }

    /// The sequencer state, through whichever side of the lock this command holds
    /// (commands flagged ATOMIC_READ hold the shared side; writes and EXEC the exclusive
    /// side). Never takes the lock itself, so it is safe inside EXEC.
    pub fn seq(&self) -> Result<&Sequencer, CmdError> {
        if let Some(t) = self.txn.as_ref() {
            return Ok(t.sequencer());
        }
        self.read_guard
            .as_deref()
            .ok_or_else(|| CmdError::err("internal: sequencer not held"))
    }

    /// Propagates the command exactly as received (for writes that are deterministic).
    pub fn propagate_self(&mut self, args: &[Bytes]) -> CmdResult {
        let db = self.db();
        let refs: smallvec::SmallVec<[&[u8]; 8]> = args.iter().map(|a| &a[..]).collect();
        self.w()?.propagate(db, &refs);
        Ok(())
    }

    /// Announces keyspace event `event` (notification `class`) on `key` of the selected
    /// database; writes only.
    pub fn notify(&mut self, class: u32, event: &str, key: &[u8]) -> CmdResult {
        let db = self.db();
        self.w()?.notify(class, event, db, key);
        Ok(())
    }

    /// Replies with a HELP text: one status line per entry, as Redis's `addReplyHelp`.
    pub fn help(&mut self, lines: &[&str]) {
        self.out.array(lines.len());
        for l in lines {
            self.out.simple(l);
        }
    }

    /// Selected database.
    pub fn db(&self) -> usize {
        self.client.db
    }

    /// Reads a key of the selected db (any type), hiding expired keys.
    pub fn lookup(&mut self, key: &[u8]) -> Option<EntryRef<'a>> {
        self.lookup_in(self.client.db, key)
    }

    /// Reads a key of any db, hiding expired keys.
    pub fn lookup_in(&mut self, db: usize, key: &[u8]) -> Option<EntryRef<'a>> {
        self.find(db, key, Access::Read)
    }

    /// Reads a key's metadata (TYPE, TTL): counted as a read, access time unchanged.
    pub fn lookup_notouch(&mut self, key: &[u8]) -> Option<EntryRef<'a>> {
        self.find(self.client.db, key, Access::NoTouch)
    }

    /// Reads a key without counting a hit/miss or touching its access time.
    pub fn peek(&mut self, key: &[u8]) -> Option<EntryRef<'a>> {
        self.find(self.client.db, key, Access::Peek)
    }

    /// The one lookup path: through the write section when held (where lookups, as
    /// Redis's lookupKeyWrite, count nothing), else lock-free, recording expired keys for
    /// deletion after the command.
    fn find(&mut self, db: usize, key: &[u8], access: Access) -> Option<EntryRef<'a>> {
        if let Some(t) = self.txn.as_mut() {
            return t.get(db, key);
        }
        let store: &'a crate::store::Store = &self.srv.store;
        match store.find(db, key, self.now, access) {
            Lookup::Found(r) => Some(r),
            Lookup::Missing => None,
            Lookup::Expired => {
                self.expired_seen.push((db, Bytes::copy_from_slice(key)));
                None
            }
        }
    }

    /// Runs `f` on the bytes of the string at `key` where they lie (None when missing),
    /// WRONGTYPE for other types: the bit and HyperLogLog commands read large strings
    /// without copying them.
    pub fn with_str<R>(
        &mut self,
        key: &[u8],
        f: impl FnOnce(Option<&[u8]>) -> R,
    ) -> Result<R, CmdError> {
        match self.lookup(key) {
            None => Ok(f(None)),
            Some(r) => match &r.value {
                Value::Str(s) => Ok(f(Some(s))),
                _ => Err(CmdError::WrongType),
            },
        }
    }

    /// Reads a string value: `Ok(None)` if missing, WRONGTYPE if another type.
    pub fn get_str(&mut self, key: &[u8]) -> Result<Option<Bytes>, CmdError> {
        match self.lookup(key) {
            None => Ok(None),
            Some(r) => match &r.value {
                Value::Str(s) => Ok(Some(Bytes::copy_from_slice(s))),
                _ => Err(CmdError::WrongType),
            },
        }
    }

    /// Reads the old string of a write that returns it (SET .. GET, GETSET, GETDEL,
    /// GETEX): Redis looks these up as reads, so they count a keyspace hit or miss even
    /// though they run inside the write section, where lookups count nothing.
    pub fn get_str_counted(&mut self, key: &[u8]) -> Result<Option<Bytes>, CmdError> {
        let v = self.get_str(key)?;
        if self.txn.is_some() {
            let stats = &self.srv.store.stats;
            let counter = if v.is_some() {
                &stats.hits
            } else {
                &stats.misses
            };
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if v.is_none() {
                let db = self.db();
                self.srv
                    .store
                    .events
                    .emit(crate::store::notify::KEY_MISS, "keymiss", db, key);
            }
        }
        Ok(v)
    }
}

fn unknown_command_error(args: &[Bytes]) -> CmdError {
    let mut list = String::new();
    for a in args[1..].iter() {
        if list.len() >= 128 {
            break;
        }
        let room = 128 - list.len();
        list.push('\'');
        list.push_str(&String::from_utf8_lossy(&a[..a.len().min(room)]));
        list.push_str("' ");
    }
    CmdError::Msg(format!(
        "ERR unknown command '{}', with args beginning with: {}",
        String::from_utf8_lossy(&args[0][..args[0].len().min(128)]),
        list
    ))
}

/// Runs one parsed request for `client`, writing its reply into `out`.
/// `now` is the caller's clock for this batch of pipelined requests (unix ms).
/// Returns the request untouched when CLIENT PAUSE holds it: the caller waits for the
/// pause to end and executes it again.
pub fn execute(
    srv: &Server,
    client: &mut Client,
    out: &mut ReplyBuf,
    args: Vec<Bytes>,
    now: u64,
) -> Option<Vec<Bytes>> {
    let mark = out.buf.len();
    let held = execute_request(srv, client, out, args, now);
    // A command that is held or now blocks is not done: its reply comes later, and the
    // connection task applies CLIENT REPLY to it then.
    if held.is_none() && client.pending_block.is_none() && client.pending_wait.is_none() {
        finish_reply(client, out, mark);
    }
    held
}

/// Applies CLIENT REPLY OFF/SKIP to the reply a command wrote into `out` from `mark`
/// on (discarding it when silenced), then moves a SKIP on, as Redis's resetClient does
/// once a command is done.
pub fn finish_reply(client: &mut Client, out: &mut ReplyBuf, mark: usize) {
    if client.reply.silenced() {
        out.buf.truncate(mark);
    }
    client.reply.command_done();
}

fn execute_request(
    srv: &Server,
    client: &mut Client,
    out: &mut ReplyBuf,
    args: Vec<Bytes>,
    now: u64,
) -> Option<Vec<Bytes>> {
    let Some(cmd) = srv.commands.get(&args[0]) else {
        client.flag_transaction();
        srv.reply_error(out, &unknown_command_error(&args));
        return None;
    };
    let sentinel = client.handle.sentinel_id.load(Ordering::Relaxed);
    if sentinel != 0 {
        srv.lease.contact(sentinel, !srv.store.follower_mode());
    }
    if srv.tracking.clients.load(Ordering::Relaxed) > 0 {
        let max_keys = srv
            .config
            .live
            .tracking_table_max_keys
            .load(Ordering::Relaxed);
        srv.tracking
            .enforce_limit(srv, max_keys, Some((client.handle.id, out)));
    }
    if srv.scripts.run.is_running()
        && client.command_flags(cmd, &args) & flags::ALLOW_BUSY == 0
        && !srv.scripts.run.wait_briefly()
    {
        // A script runs: wait for it (the connection task holds the request), or past
        // busy-reply-threshold refuse, as Redis answers while a script keeps it busy.
        match busy_error(srv, client) {
            // EXEC refused while busy discards the transaction, as Redis's rejectCommand
            // aborts it, so no half of it runs later.
            Some(e) if cmd.runs_queue() && client.tx.queued.is_some() => {
                client.end_transaction(srv);
                srv.reply_error(
                    out,
                    &CmdError::Msg(format!("EXECABORT Transaction discarded because of: {e}")),
                );
                return None;
            }
            Some(e) => {
                client.flag_transaction();
                srv.reply_error(out, &e);
                return None;
            }
            None => return Some(args),
        }
    }
    if let Err(e) = check_and_run(srv, client, out, cmd, &args, now) {
        srv.reply_error(out, &e);
    }
    std::mem::take(&mut client.postponed).then_some(args)
}

/// `-BUSY` once the running script has gone past `busy-reply-threshold` (never for the
/// link to our leader, which waits); None while the client should wait instead.
pub fn busy_error(srv: &Server, client: &Client) -> Option<CmdError> {
    let threshold = srv.config.live.busy_reply_threshold.load(Ordering::Relaxed);
    let elapsed = srv.scripts.run.elapsed_ms()?;
    (threshold > 0 && elapsed >= threshold as u64 && !client.is_leader_link())
        .then(|| CmdError::Msg(srv.scripts.run.busy_text().into()))
}

fn check_and_run(
    srv: &Server,
    client: &mut Client,
    out: &mut ReplyBuf,
    cmd: &'static Command,
    args: &[Bytes],
    now: u64,
) -> CmdResult {
    if let Err(e) = admit(srv, client, out, cmd, args) {
        cmd.stats.rejected.fetch_add(1, Ordering::Relaxed);
        // A refused EXEC discards the transaction, naming why (Redis's execCommandAbort).
        if cmd.runs_queue() && client.tx.queued.is_some() {
            client.end_transaction(srv);
            return Err(CmdError::Msg(format!(
                "EXECABORT Transaction discarded because of: {e}"
            )));
        }
        client.flag_transaction();
        return Err(e);
    }
    if client.tx.queued.is_some() && !cmd.has(flags::TX_CONTROL) {
        // A paused write waits before it is queued, as in Redis.
        if held_by_pause(srv, client, cmd, args) {
            client.postponed = true;
            return Ok(());
        }
        // Over maxmemory, a command that may grow memory is refused when queued (and
        // the transaction then aborts), as in Redis.
        if request_flags(srv, client, cmd, args) & flags::DENYOOM != 0
            && srv.store.evictor.settings.maxmemory() > 0
            && !crate::store::evict::make_room(&mut srv.store.write(now))
        {
            client.flag_transaction();
            cmd.stats.rejected.fetch_add(1, Ordering::Relaxed);
            return Err(CmdError::Oom);
        }
        let queued_flags = request_flags(srv, client, cmd, args);
        client.tx.flags |= queued_flags;
        client.tx.inv_flags |= !queued_flags;
        if let Some(q) = client.tx.queued.as_mut() {
            q.push(args.to_vec());
            client.handle.multi.store(q.len() as i64, Ordering::Relaxed);
        }
        out.simple("QUEUED");
        return Ok(());
    }
    run(srv, client, out, cmd, args, now)
}

/// A request's flags: its command's and subcommand's, with a script's declared flags in
/// place of EVAL's and FCALL's defaults, so the checks made before running (READONLY on
/// a replica, OOM, stale data, CLIENT PAUSE, MULTI) see what the script declared.
pub fn request_flags(srv: &Server, client: &Client, cmd: &Command, args: &[Bytes]) -> u32 {
    let own = client.command_flags(cmd, args);
    if cmd.has(flags::SCRIPT_DECLARED) {
        scripting::declared_flags(srv, cmd, args, own)
    } else {
        own
    }
}

/// True when CLIENT PAUSE holds `cmd` back for `client` (never the link to our leader).
fn held_by_pause(srv: &Server, client: &Client, cmd: &Command, args: &[Bytes]) -> bool {
    !client.is_leader_link()
        && srv.pause_active.load(Ordering::Acquire)
        && srv
            .paused_for(request_flags(srv, client, cmd, args))
            .is_some()
}

/// A protected action (`enable-debug-command`, `enable-protected-configs`): allowed when
/// `setting` is `yes`, or `local` for a local client ([`crate::server::is_local_address`]).
pub fn protected_allowed(srv: &Server, client: &Client, setting: &str) -> bool {
    match srv.config.get(setting).as_deref() {
        Some("yes") => true,
        Some("local") => crate::server::is_local_address(client.handle.addr.ip()),
        _ => false,
    }
}

/// The checks a command must pass before it may run or be queued: arity, subcommand,
/// authentication, RESP2 subscribed mode, MULTI restrictions. A refusal is returned,
/// never recorded here: the caller flags the transaction once (Redis's rejectCommand).
fn admit(
    srv: &Server,
    client: &mut Client,
    out: &ReplyBuf,
    cmd: &'static Command,
    args: &[Bytes],
) -> CmdResult {
    if !cmd.arity_ok(args.len()) {
        return Err(CmdError::Arity(cmd.name.to_string()));
    }
    cmd.check_subcommand(args)?;
    if cmd.has(flags::PROTECTED) && !protected_allowed(srv, client, "enable-debug-command") {
        return Err(CmdError::err(
            "DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.",
        ));
    }
    if !client.authenticated && !cmd.has(flags::NO_AUTH) {
        return Err(CmdError::NoAuth);
    }
    if !client.user.unrestricted()
        && !client.is_leader_link()
        && let Err(denied) = srv.acl.check(&client.user, cmd, args)
    {
        let context = if client.tx.queued.is_some() {
            crate::acl::LogContext::Multi
        } else {
            crate::acl::LogContext::Toplevel
        };
        let full = full_name(cmd, args);
        log_acl_denial(srv, client, denied, context, &full, args);
        return Err(CmdError::Msg(denied.message(&full)));
    }
    if !out.resp3 && client.subs.count() > 0 && !cmd.has(flags::SUBSCRIBED_OK) {
        return Err(CmdError::err(format!(
            "Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            cmd.name
        )));
    }
    let mut req_flags = request_flags(srv, client, cmd, args);
    if cmd.runs_queue() && client.tx.queued.is_some() {
        // EXEC writes when what it queued writes (Redis checks mstate's flags here).
        req_flags |= client.tx.flags & flags::WRITE;
    }
    let deny_stale = req_flags & flags::STALE == 0
        || (cmd.runs_queue()
            && client.tx.queued.is_some()
            && client.tx.inv_flags & flags::STALE != 0);
    if !client.is_leader_link() && deny_stale && stale_data_refused(srv) {
        return Err(CmdError::Msg(MASTERDOWN.into()));
    }
    let writes = req_flags & flags::WRITE != 0;
    if (writes || cmd.name == "ping")
        && !client.is_leader_link()
        && crate::server::persistence::writes_denied_by_disk_error(srv)
    {
        return Err(CmdError::Msg(MISCONF.into()));
    }
    if writes
        && !client.is_leader_link()
        && !srv.store.follower_mode()
        && let Some(refusal) = leader_refusal(srv)
    {
        return Err(CmdError::Msg(refusal.into()));
    }
    if writes && !client.is_leader_link() && srv.store.follower_mode() {
        return Err(CmdError::Msg(
            "READONLY You can't write against a read only replica.".into(),
        ));
    }
    if client.tx.queued.is_some() && !cmd.has(flags::TX_CONTROL) && cmd.has(flags::NO_MULTI) {
        return Err(CmdError::err("Command not allowed inside a transaction"));
    }
    Ok(())
}

/// True on a follower whose link is down while `replica-serve-stale-data` is `no`:
/// then only commands flagged `stale` run.
pub fn stale_data_refused(srv: &Server) -> bool {
    srv.store.follower_mode()
        && !srv.follower.lock().link_up
        && !srv
            .config
            .live
            .replica_serve_stale_data
            .load(Ordering::Relaxed)
}

/// Redis's reply to a command refused by [`stale_data_refused`].
pub const MASTERDOWN: &str =
    "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";

/// Redis's reply while `min-replicas-to-write` holds writes back.
pub const NOREPLICAS: &str = "NOREPLICAS Not enough good replicas to write.";

/// Why this leader refuses writes now, if it does: no leader lease, or too few good
/// followers for `min-replicas-to-write`. The one check commands, EXEC and scripts
/// share, so they refuse alike.
pub fn leader_refusal(srv: &Server) -> Option<&'static str> {
    if !srv.lease.allows_write() {
        Some(crate::replication::lease::REFUSED)
    } else if !enough_good_replicas(srv) {
        Some(NOREPLICAS)
    } else {
        None
    }
}

/// False while `min-replicas-to-write` is set and fewer followers than that are within
/// `min-replicas-max-lag` (writes are then refused with NOREPLICAS).
fn enough_good_replicas(srv: &Server) -> bool {
    let needed = srv
        .config
        .live
        .min_replicas_to_write
        .load(Ordering::Relaxed) as i64;
    if needed == 0 {
        return true;
    }
    let max_lag = srv.config.live.min_replicas_max_lag.load(Ordering::Relaxed);
    crate::replication::leader::good_followers(srv, max_lag) as i64 >= needed
}

/// Redis's reply while `stop-writes-on-bgsave-error` holds writes back.
pub const MISCONF: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

/// `name` or `container|sub` of a request, as ACL errors and the ACL LOG name it.
pub fn full_name(cmd: &Command, args: &[Bytes]) -> String {
    match (cmd.subcommands.is_empty(), args.get(1)) {
        (false, Some(sub)) => {
            let sub = String::from_utf8_lossy(sub).to_ascii_lowercase();
            if cmd.subcommands.iter().any(|s| s.name == sub) {
                format!("{}|{}", cmd.name, sub)
            } else {
                cmd.name.to_string()
            }
        }
        _ => cmd.name.to_string(),
    }
}

/// Records an ACL denial in the ACL LOG: the command, key or channel refused.
pub fn log_acl_denial(
    srv: &Server,
    client: &Client,
    denied: crate::acl::Denied,
    context: crate::acl::LogContext,
    full: &str,
    args: &[Bytes],
) {
    use crate::acl::Denied;
    let (reason, object) = match denied {
        Denied::Command => ("command", full.to_string()),
        Denied::Key(p) => ("key", String::from_utf8_lossy(&args[p]).into_owned()),
        Denied::Channel(p) => ("channel", String::from_utf8_lossy(&args[p]).into_owned()),
    };
    srv.acl.log_denial(
        reason,
        context,
        object,
        client.user.name.clone(),
        client.handle.info_line(),
        srv.config.live.acllog_max_len.load(Ordering::Relaxed),
    );
}

/// Counts one execution for INFO commandstats, and for the changes since the last save
/// when it `changed` the dataset (wrote an effect: a SETBIT that leaves the bit as it
/// was changes nothing, as Redis counts it).
///
/// With `latency-tracking` on, the duration also goes to the latency histogram of the
/// request's command (its subcommand's for a container).
pub fn record_call(
    srv: &Server,
    cmd: &Command,
    args: &[Bytes],
    elapsed: Option<std::time::Duration>,
    failed: bool,
    changed: bool,
) {
    if changed {
        srv.dirty.fetch_add(1, Ordering::Relaxed);
    }
    let st = &cmd.stats;
    st.calls.fetch_add(1, Ordering::Relaxed);
    if let Some(d) = elapsed {
        let ns = d.as_nanos() as u64;
        st.nanos.fetch_add(ns, Ordering::Relaxed);
        if srv.config.live.latency_tracking.load(Ordering::Relaxed) {
            latency::histogram_for(cmd, args).record(ns);
        }
    }
    if failed {
        st.failed.fetch_add(1, Ordering::Relaxed);
    }
}

/// Executes a command outside MULTI queueing, taking the locks its flags call for, and
/// feeding MONITOR, SLOWLOG and stats.
pub fn run(
    srv: &Server,
    client: &mut Client,
    out: &mut ReplyBuf,
    cmd: &'static Command,
    args: &[Bytes],
    now: u64,
) -> CmdResult {
    // Locks first: CLIENT PAUSE is checked under them, so a write either finished before
    // a pause was fenced in (`Ctx::write_fence`) or sees it and waits.
    // A script holds the write section for as long as it runs: a command that needs it
    // is handed back to wait asynchronously rather than block a worker thread (which
    // could leave none to serve SCRIPT KILL). Commands allowed while busy run unlocked.
    let busy = || srv.scripts.run.is_running();
    // A container's subcommand brings its own flags (FUNCTION LOAD writes).
    let cmd_flags = request_flags(srv, client, cmd, args);
    let allowed_busy = cmd_flags & flags::ALLOW_BUSY != 0;
    let mut txn = None;
    if cmd_flags & (flags::WRITE | flags::WRITE_SECTION) != 0 {
        let Some(mut t) = srv.store.write_unless(now, busy) else {
            client.postponed = true;
            return Ok(());
        };
        if let Some(link) = client.leader.as_mut() {
            if !crate::replication::follower::link_current(srv, link.generation) {
                // Read from a leader this node no longer follows: not applied, not counted.
                link.stale = true;
                link.raw_pending = false;
                return Ok(());
            }
            t.apply_from_leader();
        }
        txn = Some(t);
    }
    if txn.is_none()
        && !client.is_leader_link()
        && crate::store::evict::needs_room(&srv.store)
        && let Some(mut t) = srv.store.write_unless(now, busy)
    {
        // Reads evict too (their invalidations go ahead of the reply, below).
        crate::store::evict::make_room(&mut t);
    }
    let mut read_guard = None;
    if txn.is_none() && cmd.has(flags::ATOMIC_READ) && !(allowed_busy && busy()) {
        let Some(g) = srv.store.read_lock_unless(busy) else {
            client.postponed = true;
            return Ok(());
        };
        read_guard = Some(g);
    }
    if held_by_pause(srv, client, cmd, args) {
        client.postponed = true;
        return Ok(());
    }
    // MONITOR sees a script before the commands it runs, and EXEC after its queued
    // commands (Redis feeds monitors once a command ran; scripts feed themselves first).
    if cmd.has(flags::SCRIPT_DECLARED) {
        srv.feed_monitors_line(client, args);
    } else if !cmd.runs_queue() {
        srv.feed_monitors(client, cmd, args);
    }
    let sub_name = args
        .get(1)
        .and_then(|a| {
            cmd.subcommands
                .iter()
                .find(|s| s.name.as_bytes().eq_ignore_ascii_case(a))
        })
        .map_or("", |s| s.name);
    *client.handle.last_cmd.lock() = (cmd.name, sub_name);
    // Timing feeds SLOWLOG and commandstats; it is skipped only when the slow log is off.
    // quanta reads the TSC directly (falling back to the OS clock where the TSC is not
    // invariant): two clock reads per command were 6-7% of the server's time at -P 16
    // through clock_gettime.
    let timed = srv.config.live.slowlog_slower_than.load(Ordering::Relaxed) >= 0
        || srv.config.live.latency_tracking.load(Ordering::Relaxed)
        || srv
            .config
            .live
            .latency_monitor_threshold
            .load(Ordering::Relaxed)
            > 0;
    let started = timed.then(quanta::Instant::now);
    remember_reads(srv, client, cmd, args);
    let mut ctx = Ctx {
        srv,
        client,
        out,
        now,
        txn,
        read_guard,
        expired_seen: Vec::new(),
    };
    // maxmemory: evict before a write runs (inside its write section, so the DELs go to
    // the stream ahead of its effects); a command that may grow memory is refused when
    // nothing could be evicted.
    let room = match ctx.txn.as_mut() {
        Some(t) => crate::store::evict::make_room(t),
        None => true,
    };
    srv.deliver_invalidations_before_reply(ctx.client.handle.id, ctx.out);
    let changes_before = srv.store.changes();
    // EXEC checks its queued commands itself, answering EXECABORT.
    let result = if room || cmd_flags & flags::DENYOOM == 0 || cmd.runs_queue() {
        (cmd.handler_for(args))(&mut ctx, args)
    } else {
        Err(CmdError::Oom)
    };
    if cmd.runs_queue() {
        srv.feed_monitors(ctx.client, cmd, args);
    }
    // A command that blocked keeps a copy of itself for the slow log (it may be served
    // by another client's write as soon as this write section ends).
    if let Some((w, _)) = &ctx.client.pending_block {
        let _ = w
            .args
            .set(args.iter().map(|a| Bytes::copy_from_slice(a)).collect());
    }
    // Read while the command still holds its write section (if any): no other write
    // can have moved the count.
    let changed = ctx.txn.is_some() && srv.store.changes() != changes_before;
    let Ctx {
        mut txn,
        read_guard,
        expired_seen,
        client,
        ..
    } = ctx;
    if let Some(link) = client.leader.as_mut()
        && link.raw_pending
    {
        link.raw_pending = false;
        match txn.as_mut() {
            Some(t) => t.log().append_raw(&link.raw),
            None => {
                let mut t = srv.store.write(now);
                if crate::replication::follower::link_current(srv, link.generation) {
                    t.log().append_raw(&link.raw);
                } else {
                    link.stale = true;
                }
            }
        }
    }
    if let Some(t) = txn.as_mut() {
        // Blocked clients whose keys this write filled are served in the same section.
        srv.blocking.serve(srv, t);
        client.last_write_offset = t.log().offset;
    }
    drop(txn);
    drop(read_guard);
    // (Skipped while a script runs: the keys stay hidden and expire later.)
    if !expired_seen.is_empty()
        && let Some(mut t) = srv.store.write_unless(now, || srv.scripts.run.is_running())
    {
        for (db, key) in expired_seen {
            t.expire_if_needed(db, &key);
        }
    }
    // CLIENT CACHING yes/no holds for the next command, or for a whole transaction when
    // given before MULTI (as Redis keeps it while the client is in MULTI).
    if cmd.name != "client" && client.tx.queued.is_none() {
        client.tracking.caching = false;
    }
    // CLIENT TRACKING: tell trackers what this command changed.
    srv.deliver_invalidations(Some(client.handle.id));
    srv.stats.commands_processed.fetch_add(1, Ordering::Relaxed);
    let elapsed = started.map(|s| s.elapsed());
    record_call(srv, cmd, args, elapsed, result.is_err(), changed);
    if let Some(d) = elapsed
        && !cmd.has(flags::SKIP_SLOWLOG)
    {
        srv.slowlog_record(&client.handle, args, d);
    }
    if let Some(d) = elapsed {
        let event = if cmd.has(flags::FAST) {
            "fast-command"
        } else {
            "command"
        };
        srv.latency_sample(event, d);
    }
    result
}

/// CLIENT TRACKING (default mode): registers the keys a read-only command is about to
/// read, *before* it reads them. A write the read does not see lands after the read, so
/// its invalidation (looked up after the write) finds this registration, and it is queued
/// to the client after the read's reply (a connection drains its outbox only between
/// commands). Registered after the read instead, a write landing in between would be
/// looked up too early and the client would keep the old value for good.
pub fn remember_reads(srv: &Server, client: &Client, cmd: &Command, args: &[Bytes]) {
    // A script is tracked by what it calls (see [`remember_keys`]), not by itself.
    if !cmd.has(flags::READONLY) || cmd.has(flags::SCRIPT_DECLARED) {
        return;
    }
    let keys: Vec<&Bytes> = cmd
        .key_refs(args)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|k| args.get(k.pos))
        .collect();
    remember_keys(srv, client, &keys);
}

/// Records `keys` as read by `client` for CLIENT TRACKING (unless BCAST, or OPTIN/OPTOUT
/// say otherwise). A read inside a script records the script's declared keys, as Redis
/// does (it tracks the caller's command).
pub fn remember_keys(srv: &Server, client: &Client, keys: &[&Bytes]) {
    let Some(mode) = &client.tracking.mode else {
        return;
    };
    if mode.bcast
        || (mode.optin && !client.tracking.caching)
        || (mode.optout && client.tracking.caching)
    {
        return;
    }
    if !keys.is_empty() {
        let max = srv
            .config
            .live
            .tracking_table_max_keys
            .load(Ordering::Relaxed);
        srv.tracking.remember(srv, client.handle.id, keys, max);
    }
}

/// Most elements a negative-count random pick (SRANDMEMBER, HRANDFIELD, ZRANDMEMBER) may
/// return. Redis writes such a reply element by element until the client's output limit
/// cuts it off; a reply here is built before it is sent, so a count like -2^62 would
/// exhaust the server's memory (and every client's data with it). 2^24 elements is far
/// beyond any real use.
pub const MAX_RANDOM_PICKS: u64 = 1 << 24;

/// Refuses a negative random-pick count beyond [`MAX_RANDOM_PICKS`].
pub fn check_random_picks(count: i64) -> Result<(), CmdError> {
    if count < 0 && count.unsigned_abs() > MAX_RANDOM_PICKS {
        return Err(CmdError::err("value is out of range"));
    }
    Ok(())
}

/// Parses an integer argument (`ERR value is not an integer or out of range`).
pub fn arg_i64(a: &[u8]) -> Result<i64, CmdError> {
    crate::protocol::parse_i64(a).ok_or(CmdError::NotInteger)
}

/// Case-insensitive comparison of an argument with an ASCII keyword.
pub fn is(a: &[u8], word: &str) -> bool {
    a.eq_ignore_ascii_case(word.as_bytes())
}
