//! Client-side caching (CLIENT TRACKING), as Redis's tracking.c: clients that keep local
//! copies are told when a key they read changes, on leaders and followers alike (a
//! follower's writes come from its leader's stream, through the same write section).
//!
//! - Default mode: a read-only command run by a tracking client records its keys in the
//!   tracking table (key -> client ids); the next change of the key sends one
//!   invalidation to each of them and forgets the key.
//! - BCAST mode: no table; every change of a key under a registered prefix is sent to the
//!   clients of that prefix ("" = every key).
//! - OPTIN / OPTOUT: only keys read right after `CLIENT CACHING yes` (or all but those
//!   after `CLIENT CACHING no`) are tracked. NOLOOP: no invalidations for the client's own
//!   writes. REDIRECT: deliver to another connection (for RESP2, one subscribed to
//!   `__redis__:invalidate`).
//!
//! Changed keys are collected by the write section (`store::Invalidations`) and delivered
//! here after the command, through each target's outbox (with its output limit).

use crate::protocol::ReplyBuf;
use crate::server::Server;
use crate::server::client::ClientHandle;
use bytes::{BufMut, Bytes, BytesMut};
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The pub/sub channel RESP2 clients receive redirected invalidations on.
pub const CHANNEL: &str = "__redis__:invalidate";

/// How one client tracks.
#[derive(Debug, Clone, Default)]
pub struct Mode {
    /// Deliver to this client id instead (0: to the client itself).
    pub redirect: u64,
    /// Broadcast by prefix instead of remembering keys read.
    pub bcast: bool,
    /// Track only after CLIENT CACHING yes.
    pub optin: bool,
    /// Track except after CLIENT CACHING no.
    pub optout: bool,
    /// No invalidations for the client's own writes.
    pub noloop: bool,
    /// BCAST prefixes.
    pub prefixes: Vec<Bytes>,
}

struct Tracked {
    handle: Arc<ClientHandle>,
    mode: Mode,
    /// The redirect target went away (reported once).
    broken_redirect: bool,
}

#[derive(Default)]
struct Inner {
    /// Default mode: key -> clients that may have it cached.
    keys: HashMap<Bytes, HashSet<u64>>,
    /// BCAST: prefix -> clients.
    prefixes: HashMap<Bytes, HashSet<u64>>,
    clients: HashMap<u64, Tracked>,
    /// Client/key pairs in `keys` (INFO tracking_total_items).
    items: usize,
    /// BCAST: keys changed (with the client that wrote them, for NOLOOP) since the last
    /// broadcast. Redis sends these once per event-loop turn, so a transaction's keys
    /// under one prefix arrive in one message.
    bcast_pending: Vec<(Bytes, Option<u64>)>,
}

/// The tracking state of the server.
#[derive(Default)]
pub struct Tracking {
    inner: Mutex<Inner>,
    /// Clients with tracking on (INFO tracking_clients).
    pub clients: AtomicUsize,
    /// BCAST keys wait for a broadcast (a transaction's commands left them).
    pub bcast_waiting: AtomicBool,
}

/// Table sizes for INFO: keys, items, prefixes.
pub struct TrackingStats {
    /// Keys in the table.
    pub keys: usize,
    /// Client/key pairs.
    pub items: usize,
    /// BCAST prefixes.
    pub prefixes: usize,
}

fn push_header(out: &mut BytesMut, target: &ClientHandle) -> bool {
    if target.resp.load(Ordering::Relaxed) >= 3 {
        out.put_slice(b">2\r\n$10\r\ninvalidate\r\n");
        true
    } else if target.sub.load(Ordering::Relaxed) + target.psub.load(Ordering::Relaxed) > 0 {
        out.put_slice(b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n");
        true
    } else {
        // RESP2 without a subscribed redirect target: nothing can carry the message.
        false
    }
}

/// The invalidated keys as an array of bulk strings (the form of a command), or null
/// for a flush.
fn encode_keys(out: &mut BytesMut, keys: Option<&[Bytes]>, resp3: bool) {
    match keys {
        None => out.put_slice(if resp3 { b"_\r\n" } else { b"*-1\r\n" }),
        Some(keys) => crate::base::encode_command(out, keys),
    }
}

impl Tracking {
    /// CLIENT TRACKING on: (re)registers the client. Redirect existence and option
    /// compatibility are checked by the command.
    pub fn enable(&self, srv: &Server, handle: Arc<ClientHandle>, mode: Mode) {
        let id = handle.id;
        let mut inner = self.inner.lock();
        if let Some(old) = inner.clients.remove(&id) {
            for p in &old.mode.prefixes {
                if let Some(set) = inner.prefixes.get_mut(p) {
                    set.remove(&id);
                }
            }
        }
        for p in &mode.prefixes {
            inner.prefixes.entry(p.clone()).or_default().insert(id);
        }
        if mode.bcast && mode.prefixes.is_empty() {
            inner.prefixes.entry(Bytes::new()).or_default().insert(id);
        }
        inner.prefixes.retain(|_, s| !s.is_empty());
        let mut mode = mode;
        if mode.bcast && mode.prefixes.is_empty() {
            mode.prefixes.push(Bytes::new());
        }
        inner.clients.insert(
            id,
            Tracked {
                handle,
                mode,
                broken_redirect: false,
            },
        );
        self.clients.store(inner.clients.len(), Ordering::Relaxed);
        srv.store.invalidations.set_active(true);
    }

    /// CLIENT TRACKING off, or the connection closed: forgets the client everywhere, so
    /// the table does not keep keys for clients that are gone.
    pub fn disable(&self, srv: &Server, id: u64) {
        let mut inner = self.inner.lock();
        if inner.clients.remove(&id).is_none() {
            return;
        }
        let mut removed = 0;
        inner.keys.retain(|_, set| {
            if set.remove(&id) {
                removed += 1;
            }
            !set.is_empty()
        });
        inner.items -= removed;
        inner.prefixes.retain(|_, set| {
            set.remove(&id);
            !set.is_empty()
        });
        self.clients.store(inner.clients.len(), Ordering::Relaxed);
        if inner.clients.is_empty() {
            srv.store.invalidations.set_active(false);
        }
    }

    /// The client's mode, when it tracks.
    pub fn mode(&self, id: u64) -> Option<(Mode, bool)> {
        self.inner
            .lock()
            .clients
            .get(&id)
            .map(|t| (t.mode.clone(), t.broken_redirect))
    }

    /// A tracking client (default mode) read `keys`: remember them, then keep the table
    /// under `tracking-table-max-keys` by invalidating keys picked at random.
    pub fn remember(&self, srv: &Server, id: u64, keys: &[&Bytes], max_keys: usize) {
        let mut inner = self.inner.lock();
        for k in keys {
            let set = inner.keys.entry((*k).clone()).or_default();
            if set.insert(id) {
                inner.items += 1;
            }
        }
        evict_over(&mut inner, srv, max_keys, &mut None);
    }

    /// Keeps the table under `tracking-table-max-keys` when the limit was lowered: by the
    /// cron, and before every command as Redis does, with `own` (the client about to run
    /// one and its reply buffer) getting its messages ahead of that command's reply.
    pub fn enforce_limit(
        &self,
        srv: &Server,
        max_keys: usize,
        mut own: Option<(u64, &mut ReplyBuf)>,
    ) {
        if max_keys == 0 || self.clients.load(Ordering::Relaxed) == 0 {
            return;
        }
        evict_over(&mut self.inner.lock(), srv, max_keys, &mut own);
    }

    /// Delivers the invalidations a command (or the cron) caused: `keys` changed, or
    /// every key when `flushed`. `origin` is the client that wrote (for NOLOOP). As Redis:
    /// a default-mode client gets one message per key, a BCAST client one per prefix
    /// (with the keys that changed under it).
    ///
    /// `own` is the client running the command with the reply buffer it is writing:
    /// messages to it go there, ahead of the reply (an eviction before the command), where
    /// others go to outboxes, which a connection writes after its replies. BCAST messages
    /// wait for a call with `broadcast` (the end of a command, not each command of a
    /// transaction).
    pub fn invalidate(
        &self,
        srv: &Server,
        keys: Vec<Bytes>,
        flushed: bool,
        origin: Option<u64>,
        mut own: Option<(u64, &mut ReplyBuf)>,
        broadcast: bool,
    ) {
        let mut inner = self.inner.lock();
        if flushed {
            inner.keys.clear();
            inner.items = 0;
            let ids: Vec<u64> = inner.clients.keys().copied().collect();
            for id in ids {
                send(&mut inner, srv, id, None, &mut own);
            }
        }
        let wants = |inner: &Inner, id: u64, origin: Option<u64>| {
            let noloop = inner.clients.get(&id).is_some_and(|t| t.mode.noloop);
            !(noloop && origin == Some(id))
        };
        let mut seen = HashSet::new();
        for key in keys {
            if !seen.insert(key.clone()) {
                continue;
            }
            if let Some(set) = inner.keys.remove(&key) {
                inner.items -= set.len();
                for id in set {
                    if wants(&inner, id, origin) {
                        send(
                            &mut inner,
                            srv,
                            id,
                            Some(std::slice::from_ref(&key)),
                            &mut own,
                        );
                    }
                }
            }
            if !inner.prefixes.is_empty() {
                inner.bcast_pending.push((key, origin));
            }
        }
        if !broadcast || inner.bcast_pending.is_empty() {
            self.bcast_waiting
                .store(!inner.bcast_pending.is_empty(), Ordering::Relaxed);
            return;
        }
        self.bcast_waiting.store(false, Ordering::Relaxed);
        // BCAST: (prefix, client) -> the keys changed under the prefix, each once.
        let mut by_prefix: HashMap<(Bytes, u64), Vec<Bytes>> = HashMap::new();
        let mut sent = HashSet::new();
        for (key, origin) in std::mem::take(&mut inner.bcast_pending) {
            for (prefix, ids) in inner.prefixes.iter().filter(|(p, _)| key.starts_with(p)) {
                for &id in ids.iter().filter(|&&id| wants(&inner, id, origin)) {
                    if sent.insert((prefix.clone(), id, key.clone())) {
                        by_prefix
                            .entry((prefix.clone(), id))
                            .or_default()
                            .push(key.clone());
                    }
                }
            }
        }
        for ((_, id), keys) in by_prefix {
            send(&mut inner, srv, id, Some(&keys), &mut own);
        }
    }

    /// INFO figures.
    pub fn stats(&self) -> TrackingStats {
        let inner = self.inner.lock();
        TrackingStats {
            keys: inner.keys.len(),
            items: inner.items,
            prefixes: inner.prefixes.len(),
        }
    }
}

/// Invalidates keys picked from the table (each to the clients holding it) until at most
/// `max_keys` remain (0: no limit).
fn evict_over(
    inner: &mut Inner,
    srv: &Server,
    max_keys: usize,
    own: &mut Option<(u64, &mut ReplyBuf)>,
) {
    while max_keys > 0 && inner.keys.len() > max_keys {
        let Some(k) = inner.keys.keys().next().cloned() else {
            break;
        };
        let set = inner.keys.remove(&k).unwrap_or_default();
        inner.items -= set.len();
        for id in set {
            send(inner, srv, id, Some(std::slice::from_ref(&k)), own);
        }
    }
}

/// Sends one invalidation message (keys, or null for a flush) to client `id` or its
/// redirect target.
fn send(
    inner: &mut Inner,
    srv: &Server,
    id: u64,
    keys: Option<&[Bytes]>,
    own: &mut Option<(u64, &mut ReplyBuf)>,
) {
    let Some(t) = inner.clients.get_mut(&id) else {
        return;
    };
    let target = if t.mode.redirect != 0 {
        match srv.clients.lock().get(&t.mode.redirect).cloned() {
            Some(h) => h,
            None => {
                if !t.broken_redirect {
                    t.broken_redirect = true;
                    if t.handle.resp.load(Ordering::Relaxed) >= 3 {
                        let msg = format!(
                            ">2\r\n$21\r\ntracking-redir-broken\r\n:{}\r\n",
                            t.mode.redirect
                        );
                        srv.deliver(&t.handle, Bytes::from(msg));
                    }
                }
                return;
            }
        }
    } else {
        t.handle.clone()
    };
    let mut out = BytesMut::new();
    if !push_header(&mut out, &target) {
        return;
    }
    let resp3 = target.resp.load(Ordering::Relaxed) >= 3;
    encode_keys(&mut out, keys, resp3);
    match own {
        Some((id, buf)) if *id == target.id => buf.raw(&out),
        _ => srv.deliver(&target, out.freeze()),
    }
}
