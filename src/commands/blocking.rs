//! Blocking list pops (BLPOP, BRPOP, BLMPOP, BLMOVE, BRPOPLPUSH), served as Redis serves
//! them: a client that finds every key empty is queued on each key (first blocked, first
//! served); after each write the server, still inside that write's section, pops for the
//! queued clients of keys that now hold elements, delivers their replies to their
//! outboxes and propagates the pops that happened (LPOP/RPOP/LMOVE), so followers replay
//! exactly what was served. A client's own connection task waits for its reply or its
//! timeout. Inside MULTI/EXEC the commands never block (an empty key answers nil).

use super::table::{Command, cmd, flags::*, key, key_num, key_range};
use super::{CmdError, CmdResult, Ctx};
use crate::protocol::ReplyBuf;
use crate::server::client::ClientHandle;
use crate::store::notify::LIST;
use crate::store::{Store, StrBytes, Value, WriteTxn};
use bytes::Bytes;
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Blocking family table.
#[rustfmt::skip]
pub fn commands() -> Vec<Command> {
    let f = WRITE | NOSCRIPT | BLOCKING;
    vec![
        cmd("blpop", -3, f, const { &[key_range(key::RW | key::ACCESS | key::DELETE, 1, -2, 1, 0)] }, "list", "2.0.0", "Remove and get the first element in a list, or block until one is available", blpop),
        cmd("brpop", -3, f, const { &[key_range(key::RW | key::ACCESS | key::DELETE, 1, -2, 1, 0)] }, "list", "2.0.0", "Remove and get the last element in a list, or block until one is available", brpop),
        cmd("blmove", 6, f | DENYOOM, const { &[key_range(key::RW | key::ACCESS | key::DELETE, 1, 0, 1, 0), key_range(key::RW | key::INSERT, 2, 0, 1, 0)] }, "list", "6.2.0", "Pop an element from a list, push it to another list and return it; or block until one is available", blmove),
        cmd("brpoplpush", 4, f | DENYOOM, const { &[key_range(key::RW | key::ACCESS | key::DELETE, 1, 0, 1, 0), key_range(key::RW | key::INSERT, 2, 0, 1, 0)] }, "list", "2.2.0", "Pop an element from a list, push it to another list and return it; or block until one is available", brpoplpush),
        cmd("bzpopmin", -3, f | FAST, const { &[key_range(key::RW | key::ACCESS | key::DELETE, 1, -2, 1, 0)] }, "sorted-set", "5.0.0", "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available", bzpopmin),
        cmd("bzpopmax", -3, f | FAST, const { &[key_range(key::RW | key::ACCESS | key::DELETE, 1, -2, 1, 0)] }, "sorted-set", "5.0.0", "Remove and return the member with the highest score from one or more sorted sets, or block until one is available", bzpopmax),
        cmd("bzmpop", -5, WRITE | BLOCKING, const { &[key_num(key::RW | key::ACCESS | key::DELETE, 2, 0, 1, 1)] }, "sorted-set", "7.0.0", "Remove and return members with scores in a sorted set or block until one is available", bzmpop),
        cmd("blmpop", -5, WRITE | BLOCKING, const { &[key_num(key::RW | key::ACCESS | key::DELETE, 2, 0, 1, 1)] }, "list", "7.0.0", "Pop elements from a list, or block until one is available", blmpop),
    ]
}

/// What a blocked client wants done when a key gets elements.
#[derive(Debug, Clone)]
enum Op {
    /// BLPOP/BRPOP (reply [key, element]) or BLMPOP (reply [key, [elements]]).
    Pop { left: bool, count: Option<usize> },
    /// BLMOVE/BRPOPLPUSH (reply element).
    Move {
        dst: Bytes,
        from_left: bool,
        to_left: bool,
    },
    /// BZPOPMIN/BZPOPMAX (reply [key, member, score]) or BZMPOP (reply
    /// [key, [[member, score], ...]]).
    ZPop { lowest: bool, count: Option<usize> },
    /// XREAD/XREADGROUP (reply: the one key served and its entries).
    XRead(super::streams::BlockedRead),
}

impl Op {
    /// True when `v` is of the type this operation pops from.
    fn wants(&self, v: &Value) -> bool {
        match self {
            Op::ZPop { .. } => matches!(v, Value::ZSet(_)),
            Op::XRead(_) => matches!(v, Value::Stream(_)),
            _ => matches!(v, Value::List(_)),
        }
    }
}

/// One blocked client.
pub struct Waiter {
    handle: Arc<ClientHandle>,
    /// The blocking command as sent (copied in by the dispatcher before its write
    /// section ends), for the slow log when it is served.
    pub args: std::sync::OnceLock<Vec<Bytes>>,
    db: usize,
    keys: Vec<Bytes>,
    op: Op,
    resp3: bool,
    /// Set once served (or timed out): whoever sets it owns the reply.
    done: AtomicBool,
    /// Wakes the connection task when served.
    pub notify: tokio::sync::Notify,
}

impl Waiter {
    /// Claims the waiter (true once only): the server when serving, or the task on timeout.
    pub fn claim(&self) -> bool {
        !self.done.swap(true, Ordering::AcqRel)
    }
}

/// Blocked clients of one key, first blocked first.
type Queue = VecDeque<Arc<Waiter>>;

/// Clients blocked per (db, key), in arrival order. Their number is the store's
/// [`crate::store::ReadyKeys`] count, which records written keys only while it is not 0.
#[derive(Default)]
pub struct Blocking {
    queues: Mutex<HashMap<(usize, Bytes), Queue>>,
}

impl Blocking {
    fn add(&self, store: &Store, w: &Arc<Waiter>) {
        let mut q = self.queues.lock();
        for k in &w.keys {
            q.entry((w.db, k.clone())).or_default().push_back(w.clone());
        }
        store.ready_keys.waiter_added();
    }

    /// Forgets a waiter on all its keys (served, timed out, or its client left).
    pub fn remove(&self, store: &Store, w: &Arc<Waiter>) {
        let mut q = self.queues.lock();
        let mut found = false;
        for k in &w.keys {
            if let Some(queue) = q.get_mut(&(w.db, k.clone())) {
                let before = queue.len();
                queue.retain(|x| !Arc::ptr_eq(x, w));
                found |= queue.len() != before;
                if queue.is_empty() {
                    q.remove(&(w.db, k.clone()));
                }
            }
        }
        if found {
            store.ready_keys.waiter_removed();
        }
    }

    /// CLIENT UNBLOCK: ends the blocking command of client `id`, if it is blocked, with
    /// its timeout reply or (`as_error`) `-UNBLOCKED`, as Redis's
    /// replyToBlockedClientTimedOut; its connection task wakes and goes on. True if it
    /// was blocked.
    pub fn unblock(&self, srv: &crate::server::Server, id: u64, as_error: bool) -> bool {
        let found = self
            .queues
            .lock()
            .values()
            .flat_map(|q| q.iter())
            .find(|w| w.handle.id == id)
            .cloned();
        let Some(w) = found else {
            return false;
        };
        self.remove(&srv.store, &w);
        if !w.claim() {
            // Served or timed out in the meantime: nothing left to unblock.
            return false;
        }
        let mut out = ReplyBuf {
            resp3: w.resp3,
            ..Default::default()
        };
        if as_error {
            srv.reply_error(
                &mut out,
                &CmdError::Msg("UNBLOCKED client unblocked via CLIENT UNBLOCK".into()),
            );
        } else {
            timed_out_reply(&w, &mut out);
        }
        srv.deliver(&w.handle, out.buf.freeze());
        w.notify.notify_one();
        true
    }

    /// After a write, inside its write section: serves blocked clients of keys that now
    /// hold what they wait for: keys in the order they were written, then any other
    /// ready key (a SWAPDB or a load brings keys without writing them); on each key,
    /// first blocked first.
    pub fn serve(&self, srv: &crate::server::Server, txn: &mut WriteTxn<'_>) {
        if txn.store().ready_keys.waiters() == 0 {
            return;
        }
        // Served after the command, on the clock of now (as Redis serves them once the
        // command is done): a key that expired while a transaction ran serves nobody.
        // Applying the leader's stream keeps its clock off (nothing expires there).
        if txn.now != 0 {
            txn.now = crate::base::now_ms();
        }
        loop {
            let mut ready = txn.store().ready_keys.take();
            {
                let queues = self.queues.lock();
                ready.retain(|k| queues.contains_key(k));
                let mut rest: Vec<(usize, Bytes)> = queues
                    .iter()
                    .filter(|(k, q)| {
                        !ready.contains(k)
                            && (has_elements(txn, k.0, &k.1)
                                || q.iter().any(|w| {
                                    matches!(w.op, Op::XRead(_)) && w.ready_for(txn, &k.1)
                                }))
                    })
                    .map(|(k, _)| k.clone())
                    .collect();
                ready.append(&mut rest);
            }
            if ready.is_empty() {
                return;
            }
            let mut served_any = false;
            for (db, key) in ready {
                // In arrival order; a waiter for another type than the key now holds stays.
                let waiters: Vec<Arc<Waiter>> = self
                    .queues
                    .lock()
                    .get(&(db, key.clone()))
                    .map(|q| q.iter().cloned().collect())
                    .unwrap_or_default();
                for w in waiters {
                    if !w.ready_for(txn, &key) {
                        continue;
                    }
                    self.remove(txn.store(), &w);
                    if !w.claim() {
                        continue;
                    }
                    let mut out = ReplyBuf {
                        resp3: w.resp3,
                        ..Default::default()
                    };
                    let started = std::time::Instant::now();
                    w.perform(srv, txn, &key, &mut out);
                    // Logged when it runs, as Redis logs a served blocked command.
                    if let Some(args) = w.args.get() {
                        srv.slowlog_record(&w.handle, args, started.elapsed());
                    }
                    srv.deliver(&w.handle, out.buf.freeze());
                    w.notify.notify_one();
                    served_any = true;
                }
            }
            // A move may have filled another watched key: look again.
            if !served_any {
                return;
            }
        }
    }
}

impl Waiter {
    /// The ID an XREAD waits to see passed on `key`.
    fn stream_id(&self, key: &[u8]) -> crate::store::stream::StreamId {
        match &self.op {
            Op::XRead(r) => self
                .keys
                .iter()
                .position(|k| &k[..] == key)
                .and_then(|i| r.ids.get(i).copied())
                .unwrap_or_default(),
            _ => Default::default(),
        }
    }

    /// True when this waiter can be served from `key` now.
    fn ready_for(&self, txn: &mut WriteTxn<'_>, key: &[u8]) -> bool {
        match &self.op {
            Op::XRead(r) => {
                super::streams::blocked_read_ready(txn, self.db, key, self.stream_id(key), r)
            }
            op => ready_for(txn, self.db, key, op),
        }
    }

    /// Serves this waiter from `key`.
    fn perform(
        &self,
        srv: &crate::server::Server,
        txn: &mut WriteTxn<'_>,
        key: &Bytes,
        out: &mut ReplyBuf,
    ) {
        match &self.op {
            Op::XRead(r) => super::streams::serve_blocked_read(
                srv,
                txn,
                self.db,
                key,
                self.stream_id(key),
                r,
                out,
            ),
            op => perform(txn, self.db, key, op, out),
        }
    }
}

/// True when `key` holds a list or sorted set (which is never empty).
fn has_elements(txn: &mut WriteTxn<'_>, db: usize, key: &[u8]) -> bool {
    txn.get(db, key)
        .is_some_and(|e| matches!(e.value, Value::List(_) | Value::ZSet(_)))
}

/// True when `key` holds elements `op` can pop.
fn ready_for(txn: &mut WriteTxn<'_>, db: usize, key: &[u8], op: &Op) -> bool {
    txn.get(db, key).is_some_and(|e| op.wants(&e.value))
}

fn pop_from(txn: &mut WriteTxn<'_>, db: usize, key: &[u8], left: bool, n: usize) -> Vec<StrBytes> {
    let (popped, empty) = {
        let Some(mut e) = txn.get_mut(db, key) else {
            return Vec::new();
        };
        let Value::List(l) = &mut e.value else {
            return Vec::new();
        };
        let popped: Vec<StrBytes> = (0..n.min(l.len()))
            .filter_map(|_| if left { l.pop_front() } else { l.pop_back() })
            .collect();
        (popped, l.is_empty())
    };
    if empty {
        txn.remove_emptied(db, key);
    } else {
        txn.modified(db, key);
    }
    popped
}

fn push_to(txn: &mut WriteTxn<'_>, db: usize, key: &[u8], left: bool, el: StrBytes) -> bool {
    match txn.get_mut(db, key) {
        Some(mut e) => {
            let Value::List(l) = &mut e.value else {
                return false;
            };
            if left {
                l.push_front(el);
            } else {
                l.push_back(el);
            }
            drop(e);
            txn.modified(db, key);
        }
        None => {
            let mut l = VecDeque::new();
            l.push_back(el);
            txn.insert(
                db,
                key,
                crate::store::Entry::new(Value::List(Box::new(l)), 0),
            );
        }
    }
    true
}

/// Does `op` on `key` (which holds elements), writes the reply and propagates the effect.
fn perform(txn: &mut WriteTxn<'_>, db: usize, key: &Bytes, op: &Op, out: &mut ReplyBuf) {
    match op {
        Op::Pop { left, count } => {
            let popped = pop_from(txn, db, key, *left, count.unwrap_or(1));
            let n = popped.len().to_string();
            let name: &[u8] = if *left { b"LPOP" } else { b"RPOP" };
            if count.is_some() {
                txn.propagate(db, &[name, key, n.as_bytes()]);
            } else {
                txn.propagate(db, &[name, key]);
            }
            txn.notify(LIST, super::lists::pop_event(*left), db, key);
            out.array(2);
            out.bulk(key);
            match count {
                None => out.bulk(&popped[0]),
                Some(_) => {
                    out.array(popped.len());
                    for el in &popped {
                        out.bulk(el);
                    }
                }
            }
        }
        Op::Move {
            dst,
            from_left,
            to_left,
        } => {
            // A destination that became another type by the time a blocked client is
            // served: it gets WRONGTYPE and the element stays (Redis undoes the pop).
            if !dst_accepts_list(txn, db, dst) {
                out.error(&CmdError::WrongType.to_string());
                return;
            }
            // The element is pushed before the source's emptied key is deleted, so a
            // rotation (source = destination) keeps its key, as in Redis.
            let el = {
                let Some(mut e) = txn.get_mut(db, key) else {
                    return;
                };
                let Value::List(l) = &mut e.value else {
                    return;
                };
                let Some(el) = (if *from_left {
                    l.pop_front()
                } else {
                    l.pop_back()
                }) else {
                    return;
                };
                el
            };
            push_to(txn, db, dst, *to_left, el.clone());
            if txn
                .get(db, key)
                .is_some_and(|e| matches!(&e.value, Value::List(l) if l.is_empty()))
            {
                txn.remove_emptied(db, key);
            } else {
                txn.modified(db, key);
            }
            let side = |l: bool| -> &'static [u8] { if l { b"LEFT" } else { b"RIGHT" } };
            txn.propagate(db, &[b"LMOVE", key, dst, side(*from_left), side(*to_left)]);
            txn.notify(LIST, super::lists::push_event(*to_left), db, dst);
            txn.notify(LIST, super::lists::pop_event(*from_left), db, key);
            out.bulk(&el);
        }
        Op::XRead(_) => {}
        Op::ZPop { lowest, count } => {
            let popped = super::zsets::pop_and_propagate(txn, db, key, *lowest, count.unwrap_or(1));
            match count {
                None => {
                    out.array(3);
                    out.bulk(key);
                    out.bulk(&popped[0].0);
                    out.double(popped[0].1);
                }
                Some(_) => {
                    out.array(2);
                    out.bulk(key);
                    super::zsets::reply_popped(out, &popped, true);
                }
            }
        }
    }
}

/// True when `dst` is missing or a list (where LMOVE may push).
fn dst_accepts_list(t: &mut WriteTxn<'_>, db: usize, dst: &[u8]) -> bool {
    t.get(db, dst)
        .is_none_or(|e| matches!(e.value, Value::List(_)))
}

fn parse_timeout(a: &[u8]) -> Result<Option<std::time::Duration>, CmdError> {
    let t = crate::protocol::parse_f64(a)
        .filter(|t| t.is_finite())
        .ok_or_else(|| CmdError::err("timeout is not a float or out of range"))?;
    if t < 0.0 {
        return Err(CmdError::err("timeout is negative"));
    }
    Ok((t > 0.0).then(|| std::time::Duration::from_secs_f64(t.min(1e9))))
}

/// Serves at once when a key has elements; otherwise blocks (or, inside MULTI/EXEC,
/// answers the empty reply).
fn block_or_serve(
    ctx: &mut Ctx<'_>,
    keys: Vec<Bytes>,
    op: Op,
    timeout: Option<std::time::Duration>,
) -> CmdResult {
    let db = ctx.db();
    // Every key must be of the popped type or missing (WRONGTYPE otherwise), as Redis checks.
    for k in &keys {
        let t = ctx.w()?;
        if let Some(e) = t.get(db, k)
            && !op.wants(&e.value)
        {
            return Err(CmdError::WrongType);
        }
    }
    for k in &keys {
        let t = ctx.w()?;
        if ready_for(t, db, k, &op) {
            // The destination is checked only when there is something to move: an empty
            // source blocks whatever the destination holds, as in Redis.
            if let Op::Move { dst, .. } = &op
                && !dst_accepts_list(t, db, dst)
            {
                return Err(CmdError::WrongType);
            }
            let t = ctx
                .txn
                .as_mut()
                .ok_or_else(|| CmdError::err("internal: no write section"))?;
            perform(t, db, k, &op, ctx.out);
            return Ok(());
        }
    }
    if ctx.client.tx.in_exec {
        empty_reply(&op, ctx.out);
        return Ok(());
    }
    register(ctx, keys, op, timeout);
    Ok(())
}

/// Blocks an XREAD/XREADGROUP that found nothing to serve (the caller checked, inside the
/// write section it holds, and that it is not inside MULTI/EXEC).
pub fn block_on_streams(
    ctx: &mut Ctx<'_>,
    keys: Vec<Bytes>,
    read: super::streams::BlockedRead,
    timeout: Option<std::time::Duration>,
) -> CmdResult {
    register(ctx, keys, Op::XRead(read), timeout);
    Ok(())
}

/// Queues the client on its keys; its connection waits for the reply or the timeout.
fn register(ctx: &mut Ctx<'_>, keys: Vec<Bytes>, op: Op, timeout: Option<std::time::Duration>) {
    let db = ctx.db();
    let w = Arc::new(Waiter {
        handle: ctx.client.handle.clone(),
        args: std::sync::OnceLock::new(),
        db,
        keys,
        op,
        resp3: ctx.out.resp3,
        done: AtomicBool::new(false),
        notify: tokio::sync::Notify::new(),
    });
    ctx.srv.blocking.add(&ctx.srv.store, &w);
    ctx.client.pending_block = Some((w, timeout.map(|t| std::time::Instant::now() + t)));
    // CLIENT LIST shows `b` from now on (the connection task clears it once served).
    ctx.client
        .handle
        .blocked
        .store(true, std::sync::atomic::Ordering::Relaxed);
}

/// The reply a blocked client gets at its timeout.
pub fn timed_out_reply(w: &Waiter, out: &mut ReplyBuf) {
    empty_reply(&w.op, out)
}

/// What a pop that found nothing answers (timeout, or inside MULTI).
fn empty_reply(op: &Op, out: &mut ReplyBuf) {
    match op {
        Op::Move { .. } => out.null(),
        Op::Pop { .. } | Op::ZPop { .. } | Op::XRead(_) => out.null_array(),
    }
}

fn bpop(ctx: &mut Ctx<'_>, args: &[Bytes], left: bool) -> CmdResult {
    let timeout = parse_timeout(&args[args.len() - 1])?;
    let keys = args[1..args.len() - 1].to_vec();
    block_or_serve(ctx, keys, Op::Pop { left, count: None }, timeout)
}

fn blpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    bpop(ctx, args, true)
}

fn brpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    bpop(ctx, args, false)
}

fn blmove(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (from_left, to_left) = (super::lists::side(&args[3])?, super::lists::side(&args[4])?);
    let timeout = parse_timeout(&args[5])?;
    let op = Op::Move {
        dst: args[2].clone(),
        from_left,
        to_left,
    };
    block_or_serve(ctx, vec![args[1].clone()], op, timeout)
}

fn brpoplpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let timeout = parse_timeout(&args[3])?;
    let op = Op::Move {
        dst: args[2].clone(),
        from_left: false,
        to_left: true,
    };
    block_or_serve(ctx, vec![args[1].clone()], op, timeout)
}

fn blmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let timeout = parse_timeout(&args[1])?;
    let (keys, left, count) = super::collection::mpop_args(&args[2..], "left", "right")?;
    block_or_serve(
        ctx,
        keys,
        Op::Pop {
            left,
            count: Some(count),
        },
        timeout,
    )
}

fn bzpop(ctx: &mut Ctx<'_>, args: &[Bytes], lowest: bool) -> CmdResult {
    let timeout = parse_timeout(&args[args.len() - 1])?;
    let keys = args[1..args.len() - 1].to_vec();
    block_or_serve(
        ctx,
        keys,
        Op::ZPop {
            lowest,
            count: None,
        },
        timeout,
    )
}

fn bzpopmin(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    bzpop(ctx, args, true)
}

fn bzpopmax(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    bzpop(ctx, args, false)
}

fn bzmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let timeout = parse_timeout(&args[1])?;
    let (keys, lowest, count) = super::collection::mpop_args(&args[2..], "min", "max")?;
    let op = Op::ZPop {
        lowest,
        count: Some(count),
    };
    block_or_serve(ctx, keys, op, timeout)
}
