//! CLIENT TRACKING (client-side caching): default mode, BCAST with prefixes, OPTIN/OPTOUT,
//! NOLOOP, REDIRECT to a RESP2 subscriber, null invalidation on flush, expiry, eviction,
//! tracking-table-max-keys, a client disconnecting mid-tracking (no leak), invalidations
//! on a follower from its leader's stream, and Redis's error texts.

mod common;

use common::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// A RESP3 connection with tracking enabled by `opts` (after "CLIENT TRACKING on").
fn tracker(s: &TestServer, opts: &[&str]) -> RawConn {
    let mut r = s.raw();
    r.cmd(&["HELLO", "3"]);
    let mut args = vec!["CLIENT", "TRACKING", "on"];
    args.extend_from_slice(opts);
    assert_eq!(r.cmd(&args), Reply::ok());
    r
}

fn invalidate(keys: &[&str]) -> Reply {
    Reply::Push(vec![Reply::bulk("invalidate"), Reply::bulks(keys)])
}

/// The next push within 2 s.
fn next_push(r: &mut RawConn) -> Reply {
    r.try_read_reply(Duration::from_secs(2))
        .expect("an invalidation push")
}

/// Nothing arrives within 200 ms.
fn quiet(r: &mut RawConn) {
    if let Ok(m) = r.try_read_reply(Duration::from_millis(200)) {
        panic!("unexpected message {m:?}");
    }
}

fn stat(r: &mut RawConn, section: &str, f: &str) -> String {
    info_field(&r.cmd(&["INFO", section]).as_string(), f).unwrap_or_default()
}

#[test]
fn default_mode_invalidates_keys_read_once() {
    let s = TestServer::start(&[]);
    let mut w = s.raw();
    w.cmd(&["SET", "k", "v"]);
    let mut c = tracker(&s, &[]);
    assert_eq!(c.cmd(&["GET", "k"]), Reply::bulk("v"));
    assert_eq!(c.cmd(&["MGET", "a", "b"]).as_array().len(), 2);
    w.cmd(&["SET", "k", "v2"]);
    assert_eq!(next_push(&mut c), invalidate(&["k"]));
    // Forgotten after one invalidation until read again.
    w.cmd(&["SET", "k", "v3"]);
    quiet(&mut c);
    w.cmd(&["DEL", "a"]);
    w.cmd(&["SET", "b", "1"]);
    assert_eq!(next_push(&mut c), invalidate(&["b"]));
    // A write the tracking client makes itself also invalidates (no NOLOOP).
    c.cmd(&["GET", "k"]);
    assert_eq!(c.cmd(&["SET", "k", "mine"]), Reply::ok());
    assert_eq!(next_push(&mut c), invalidate(&["k"]));
    assert_eq!(c.cmd(&["CLIENT", "GETREDIR"]), Reply::int(0));
    let info = c.cmd(&["CLIENT", "TRACKINGINFO"]);
    assert_eq!(
        info,
        Reply::Map(vec![
            (Reply::bulk("flags"), Reply::Set(vec![Reply::bulk("on")])),
            (Reply::bulk("redirect"), Reply::int(0)),
            (Reply::bulk("prefixes"), Reply::Array(vec![])),
        ])
    );
    assert_eq!(stat(&mut w, "clients", "tracking_clients"), "1");
    assert_eq!(c.cmd(&["CLIENT", "TRACKING", "off"]), Reply::ok());
    assert_eq!(c.cmd(&["CLIENT", "GETREDIR"]), Reply::int(-1));
    assert_eq!(stat(&mut w, "clients", "tracking_clients"), "0");
}

#[test]
fn bcast_prefixes_optin_optout_and_noloop() {
    let s = TestServer::start(&[]);
    let mut w = s.raw();
    let mut b = tracker(&s, &["BCAST", "PREFIX", "user:", "PREFIX", "session:"]);
    w.cmd(&["SET", "user:1", "x"]);
    assert_eq!(next_push(&mut b), invalidate(&["user:1"]));
    w.cmd(&["SET", "other", "x"]);
    w.cmd(&["SET", "session:9", "x"]);
    assert_eq!(next_push(&mut b), invalidate(&["session:9"]));
    assert_eq!(stat(&mut w, "stats", "tracking_total_prefixes"), "2");
    // One message per prefix, each with the keys changed under it (as Redis).
    w.cmd(&["MSET", "user:2", "x", "session:3", "x", "user:4", "x"]);
    let got = [next_push(&mut b), next_push(&mut b)];
    assert!(
        got.contains(&invalidate(&["session:3"]))
            && got.contains(&invalidate(&["user:2", "user:4"])),
        "{got:?}"
    );
    // BCAST without PREFIX tracks the empty prefix, which TRACKINGINFO lists.
    let mut all = tracker(&s, &["BCAST"]);
    assert_eq!(
        all.cmd(&["CLIENT", "TRACKINGINFO"]).get("prefixes"),
        Some(Reply::bulks(&[""]))
    );

    let mut i = tracker(&s, &["OPTIN"]);
    i.cmd(&["GET", "a"]);
    assert_eq!(i.cmd(&["CLIENT", "CACHING", "yes"]), Reply::ok());
    i.cmd(&["GET", "b"]);
    w.cmd(&["SET", "a", "1"]);
    w.cmd(&["SET", "b", "1"]);
    assert_eq!(next_push(&mut i), invalidate(&["b"]));
    quiet(&mut i);

    let mut o = tracker(&s, &["OPTOUT"]);
    assert_eq!(o.cmd(&["CLIENT", "CACHING", "no"]), Reply::ok());
    o.cmd(&["GET", "c"]);
    o.cmd(&["GET", "d"]);
    w.cmd(&["SET", "c", "1"]);
    w.cmd(&["SET", "d", "1"]);
    assert_eq!(next_push(&mut o), invalidate(&["d"]));
    quiet(&mut o);

    let mut n = tracker(&s, &["NOLOOP"]);
    n.cmd(&["GET", "e"]);
    n.cmd(&["SET", "e", "own"]);
    quiet(&mut n);
    n.cmd(&["GET", "e"]);
    w.cmd(&["SET", "e", "other"]);
    assert_eq!(next_push(&mut n), invalidate(&["e"]));
}

#[test]
fn redirect_to_a_resp2_subscriber_and_null_on_flush() {
    let s = TestServer::start(&[]);
    let mut sub = s.raw();
    let sub_id = sub.cmd(&["CLIENT", "ID"]).as_int().to_string();
    sub.cmd(&["SUBSCRIBE", "__redis__:invalidate"]);
    let mut c = s.raw();
    assert_eq!(
        c.cmd(&["CLIENT", "TRACKING", "on", "REDIRECT", &sub_id]),
        Reply::ok()
    );
    assert_eq!(c.cmd(&["CLIENT", "GETREDIR"]).as_int().to_string(), sub_id);
    c.cmd(&["GET", "k"]);
    let mut w = s.raw();
    w.cmd(&["SET", "k", "1"]);
    assert_eq!(
        sub.try_read_reply(Duration::from_secs(2)).unwrap(),
        Reply::Array(vec![
            Reply::bulk("message"),
            Reply::bulk("__redis__:invalidate"),
            Reply::bulks(&["k"]),
        ])
    );
    // FLUSHALL: a null invalidation.
    c.cmd(&["GET", "k"]);
    w.cmd(&["FLUSHALL"]);
    assert_eq!(
        sub.try_read_reply(Duration::from_secs(2)).unwrap(),
        Reply::Array(vec![
            Reply::bulk("message"),
            Reply::bulk("__redis__:invalidate"),
            Reply::Nil,
        ])
    );
    let mut r3 = tracker(&s, &[]);
    w.cmd(&["FLUSHDB"]);
    assert_eq!(
        next_push(&mut r3),
        Reply::Push(vec![Reply::bulk("invalidate"), Reply::Nil])
    );
}

#[test]
fn expiry_eviction_and_table_limit_invalidate() {
    let s = TestServer::start(&[]);
    let mut w = s.raw();
    let mut c = tracker(&s, &[]);
    w.cmd(&["SET", "short", "1", "PX", "50"]);
    c.cmd(&["GET", "short"]);
    // The active expiry cycle deletes it and tells the tracker.
    assert_eq!(
        c.try_read_reply(Duration::from_secs(3)).unwrap(),
        invalidate(&["short"])
    );
    // tracking-table-max-keys: reading more keys than the table holds invalidates some.
    w.cmd(&["CONFIG", "SET", "tracking-table-max-keys", "10"]);
    let mut pipe = Vec::new();
    for i in 0..20 {
        pipe.extend(encode_cmd(&["GET", &format!("t{i}")]));
    }
    c.send(&pipe);
    let mut replies = 0;
    let mut pushes = 0;
    while replies < 20 {
        match c.read_reply() {
            Reply::Push(_) => pushes += 1,
            _ => replies += 1,
        }
    }
    assert!(
        stat(&mut w, "stats", "tracking_total_keys")
            .parse::<u64>()
            .unwrap()
            <= 10
    );
    while c.try_read_reply(Duration::from_millis(100)).is_ok() {
        pushes += 1;
    }
    assert!(
        pushes >= 10,
        "evicted tracked keys must be invalidated ({pushes})"
    );
    // Eviction (maxmemory) invalidates too.
    w.cmd(&["CONFIG", "SET", "tracking-table-max-keys", "0"]);
    w.cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-random"]);
    let value = "x".repeat(1000);
    for i in 0..100 {
        w.cmd(&["SET", &format!("e{i}"), &value]);
        c.cmd(&["GET", &format!("e{i}")]);
    }
    let used: u64 = info_field(&w.cmd(&["INFO", "memory"]).as_string(), "used_memory")
        .unwrap()
        .parse()
        .unwrap();
    w.cmd(&[
        "CONFIG",
        "SET",
        "maxmemory",
        &(used + (1 << 20)).to_string(),
    ]);
    for i in 0..5000 {
        w.cmd(&["SET", &format!("filler{i}"), &value]);
    }
    assert!(
        stat(&mut w, "stats", "evicted_keys")
            .parse::<u64>()
            .unwrap()
            > 0
    );
    let mut evicted_seen = 0;
    while let Ok(m) = c.try_read_reply(Duration::from_millis(300)) {
        if let Reply::Push(v) = m {
            evicted_seen += v[1].as_array().len();
        }
    }
    assert!(evicted_seen > 0, "no invalidation for evicted keys");
}

#[test]
fn a_disconnecting_tracker_leaves_nothing_behind() {
    // Stock Redis leaves a gone client's keys in the table until they are next written;
    // we purge them at disconnect, so the table cannot grow with clients that left.
    if is_stock_redis() {
        return;
    }
    let s = TestServer::start(&[]);
    let mut w = s.raw();
    {
        let mut c = tracker(&s, &[]);
        for i in 0..100 {
            c.cmd(&["GET", &format!("k{i}")]);
        }
        assert_eq!(stat(&mut w, "stats", "tracking_total_keys"), "100");
        assert_eq!(stat(&mut w, "stats", "tracking_total_items"), "100");
    }
    assert!(poll_until(
        Duration::from_secs(5),
        Duration::from_millis(20),
        || {
            stat(&mut w, "stats", "tracking_total_keys") == "0"
                && stat(&mut w, "clients", "tracking_clients") == "0"
        }
    ));
}

#[test]
fn followers_invalidate_from_the_replicated_stream() {
    let leader = TestServer::start(&[]);
    let follower = TestServer::start(&["--replicaof", "127.0.0.1", &leader.port.to_string()]);
    let mut l = leader.raw();
    l.cmd(&["SET", "k", "v"]);
    let mut f = follower.raw();
    assert!(poll_until(
        Duration::from_secs(10),
        Duration::from_millis(20),
        || { f.cmd(&["GET", "k"]) == Reply::bulk("v") }
    ));
    let mut c = tracker(&follower, &[]);
    assert_eq!(c.cmd(&["GET", "k"]), Reply::bulk("v"));
    let mut b = tracker(&follower, &["BCAST"]);
    l.cmd(&["SET", "k", "changed"]);
    assert_eq!(next_push(&mut c), invalidate(&["k"]));
    assert_eq!(next_push(&mut b), invalidate(&["k"]));
    l.cmd(&["SET", "k", "again", "PX", "100"]);
    // The leader's expiry reaches the follower as DEL: BCAST sees the SET then the DEL.
    assert_eq!(next_push(&mut b), invalidate(&["k"]));
    assert_eq!(
        b.try_read_reply(Duration::from_secs(3)).unwrap(),
        invalidate(&["k"])
    );
}

#[test]
fn tracking_errors_are_redis_texts() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    let e = |r: &mut RawConn, args: &[&str]| r.cmd(args).err_text().to_string();
    assert_eq!(
        e(&mut r, &["CLIENT", "TRACKING", "on", "PREFIX", "a"]),
        "ERR PREFIX option requires BCAST mode to be enabled"
    );
    assert_eq!(
        e(&mut r, &["CLIENT", "TRACKING", "on", "OPTIN", "OPTOUT"]),
        "ERR You can't specify both OPTIN mode and OPTOUT mode"
    );
    assert_eq!(
        e(&mut r, &["CLIENT", "TRACKING", "on", "BCAST", "OPTIN"]),
        "ERR OPTIN and OPTOUT are not compatible with BCAST"
    );
    assert_eq!(
        e(&mut r, &["CLIENT", "TRACKING", "on", "REDIRECT", "999999"]),
        "ERR The client ID you want redirect to does not exist"
    );
    assert_eq!(
        e(&mut r, &["CLIENT", "TRACKING", "maybe"]),
        "ERR syntax error"
    );
    assert_eq!(
        e(&mut r, &["CLIENT", "CACHING", "yes"]),
        "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled"
    );
    assert_eq!(r.cmd(&["CLIENT", "TRACKING", "on", "OPTOUT"]), Reply::ok());
    assert_eq!(
        e(&mut r, &["CLIENT", "CACHING", "yes"]),
        "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode."
    );
    assert_eq!(
        e(&mut r, &["CLIENT", "TRACKING", "on", "BCAST"]),
        "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode."
    );
    assert_eq!(
        e(&mut r, &["CLIENT", "TRACKING", "on", "OPTIN"]),
        "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode."
    );
    assert_eq!(r.cmd(&["CLIENT", "TRACKING", "off"]), Reply::ok());
    assert_eq!(
        e(
            &mut r,
            &[
                "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "ab", "PREFIX", "a"
            ]
        ),
        "ERR Prefix 'ab' overlaps with another provided prefix 'a'. Prefixes for a single client must not overlap."
    );
    assert_eq!(
        r.cmd(&["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "ab"]),
        Reply::ok()
    );
    assert_eq!(
        e(
            &mut r,
            &["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a"]
        ),
        "ERR Prefix 'a' overlaps with an existing prefix 'ab'. Prefixes for a single client must not overlap."
    );
}

/// The same REDIRECT flow through the `redis` crate (RESP2): a pub/sub connection
/// subscribed to `__redis__:invalidate` receives the keys as the message payload.
#[test]
fn redis_crate_receives_redirected_invalidations() {
    let s = TestServer::start(&[]);
    let url = format!("redis://127.0.0.1:{}/", s.port);
    let client = redis::Client::open(url).unwrap();
    let mut sub_con = client.get_connection().unwrap();
    let sub_id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut sub_con).unwrap();
    let mut pubsub = sub_con.as_pubsub();
    pubsub.subscribe("__redis__:invalidate").unwrap();
    pubsub
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut tracker = client.get_connection().unwrap();
    let ok: String = redis::cmd("CLIENT")
        .arg("TRACKING")
        .arg("on")
        .arg("REDIRECT")
        .arg(sub_id)
        .query(&mut tracker)
        .unwrap();
    assert_eq!(ok, "OK");
    let _: Option<String> = redis::cmd("GET").arg("cached").query(&mut tracker).unwrap();
    let mut writer = client.get_connection().unwrap();
    let _: () = redis::cmd("SET")
        .arg("cached")
        .arg("v")
        .query(&mut writer)
        .unwrap();
    let msg = pubsub.get_message().unwrap();
    assert_eq!(msg.get_channel_name(), "__redis__:invalidate");
    let keys: Vec<String> = msg.get_payload().unwrap();
    assert_eq!(keys, vec!["cached".to_string()]);
}

/// What a caching client holds for a key: a read in flight (an invalidation that arrives
/// meanwhile cancels it, as Redis's client-side caching guide describes for REDIRECT) or
/// a cached value.
#[derive(Clone, Debug, PartialEq)]
enum Slot {
    Pending,
    Cached(Reply),
}

type Cache = Arc<Mutex<HashMap<String, Slot>>>;

/// How a caching reader tracks.
#[derive(Clone, Copy, Debug)]
enum ReaderKind {
    /// RESP3, default mode, invalidations pushed on the same connection.
    Default,
    /// RESP3, OPTIN with CLIENT CACHING yes before each read.
    Optin,
    /// RESP3, BCAST for every key.
    Bcast,
    /// RESP3, default mode, reading with MGET (the shared sequencer side).
    Mget,
    /// RESP3, default mode, reading inside MULTI/EXEC.
    Multi,
    /// RESP2, REDIRECT to a second connection subscribed to `__redis__:invalidate`.
    Redirect,
}

/// Keys the writers go through, each written once by every writer at about the same
/// time and never again: a key whose last write misses a reader's registration stays
/// stale in that reader's cache for good.
const CACHE_KEYS: u64 = 3000;

/// Applies an invalidation payload (keys, or nil for a flush) to `cache`.
fn drop_invalidated(cache: &Cache, payload: &Reply) {
    let mut c = cache.lock().unwrap();
    match payload {
        Reply::Array(keys) => {
            for k in keys {
                c.remove(&k.as_string());
            }
        }
        _ => c.clear(),
    }
}

/// Reads the next reply that is not an invalidation push, applying pushes on the way.
fn reply_applying_pushes(conn: &mut RawConn, cache: &Cache) -> Reply {
    loop {
        match conn.read_reply() {
            Reply::Push(items) if items.first() == Some(&Reply::bulk("invalidate")) => {
                drop_invalidated(cache, &items[1])
            }
            other => return other,
        }
    }
}

/// One caching reader: reads keys it does not hold, keeps what it read until told it
/// changed. Once `drain` is set it only pings (collecting late invalidations). Returns the
/// number of reads it cached.
fn caching_reader(
    server: &TestServer,
    kind: ReaderKind,
    seed: u64,
    progress: Arc<AtomicU64>,
    cache: Cache,
    drain: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> thread::JoinHandle<usize> {
    let mut conn = server.raw();
    let mut listener = None;
    match kind {
        ReaderKind::Default | ReaderKind::Mget | ReaderKind::Multi => {
            conn.cmd(&["HELLO", "3"]);
            assert_eq!(conn.cmd(&["CLIENT", "TRACKING", "on"]), Reply::ok());
        }
        ReaderKind::Optin => {
            conn.cmd(&["HELLO", "3"]);
            assert_eq!(
                conn.cmd(&["CLIENT", "TRACKING", "on", "OPTIN"]),
                Reply::ok()
            );
        }
        ReaderKind::Bcast => {
            conn.cmd(&["HELLO", "3"]);
            assert_eq!(
                conn.cmd(&["CLIENT", "TRACKING", "on", "BCAST"]),
                Reply::ok()
            );
        }
        ReaderKind::Redirect => {
            let mut l = server.raw();
            let id = l.cmd(&["CLIENT", "ID"]).as_int().to_string();
            l.cmd(&["SUBSCRIBE", "__redis__:invalidate"]);
            assert_eq!(
                conn.cmd(&["CLIENT", "TRACKING", "on", "REDIRECT", &id]),
                Reply::ok()
            );
            let (cache, stop) = (cache.clone(), stop.clone());
            listener = Some(thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    if let Ok(Reply::Array(m)) = l.try_read_reply(Duration::from_millis(50)) {
                        assert_eq!(m[0], Reply::bulk("message"));
                        drop_invalidated(&cache, &m[2]);
                    }
                }
            }));
        }
    }
    thread::spawn(move || {
        let mut rng = seed | 1;
        let mut cached = 0;
        while !stop.load(Ordering::SeqCst) {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            // One of the keys the writers are writing now.
            let key = format!(
                "c{}",
                progress.load(Ordering::SeqCst).saturating_sub(rng % 3)
            );
            let key = key.as_str();
            let holds = matches!(cache.lock().unwrap().get(key), Some(Slot::Cached(_)));
            if drain.load(Ordering::SeqCst) || holds {
                conn.send_cmd(&["PING"]);
                reply_applying_pushes(&mut conn, &cache);
                continue;
            }
            cache.lock().unwrap().insert(key.to_string(), Slot::Pending);
            let value = match kind {
                ReaderKind::Optin => {
                    conn.send_cmd(&["CLIENT", "CACHING", "yes"]);
                    assert_eq!(reply_applying_pushes(&mut conn, &cache), Reply::ok());
                    conn.send_cmd(&["GET", key]);
                    reply_applying_pushes(&mut conn, &cache)
                }
                ReaderKind::Mget => {
                    conn.send_cmd(&["MGET", key]);
                    reply_applying_pushes(&mut conn, &cache).as_array()[0].clone()
                }
                ReaderKind::Multi => {
                    conn.send_cmd(&["MULTI"]);
                    assert_eq!(reply_applying_pushes(&mut conn, &cache), Reply::ok());
                    conn.send_cmd(&["GET", key]);
                    assert_eq!(
                        reply_applying_pushes(&mut conn, &cache),
                        Reply::simple("QUEUED")
                    );
                    conn.send_cmd(&["EXEC"]);
                    reply_applying_pushes(&mut conn, &cache).as_array()[0].clone()
                }
                _ => {
                    conn.send_cmd(&["GET", key]);
                    reply_applying_pushes(&mut conn, &cache)
                }
            };
            let mut c = cache.lock().unwrap();
            if c.get(key) == Some(&Slot::Pending) {
                c.insert(key.to_string(), Slot::Cached(value));
                cached += 1;
            }
        }
        if let Some(l) = listener {
            l.join().unwrap();
        }
        cached
    })
}

/// Caching readers of every kind on `readers_on` while writers overwrite keys on
/// `writers_on`; once the writers stop, every value a reader still holds must be the
/// server's (an invalidation for it must reach the reader). A read registered in the
/// tracking table only after the read could miss a write landing in between, and the
/// reader would keep the old value forever.
fn caches_converge(writers_on: &TestServer, readers_on: &TestServer) {
    let drain = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let progress = Arc::new(AtomicU64::new(0));
    let kinds = [
        ReaderKind::Default,
        ReaderKind::Default,
        ReaderKind::Mget,
        ReaderKind::Multi,
        ReaderKind::Optin,
        ReaderKind::Bcast,
        ReaderKind::Redirect,
        ReaderKind::Redirect,
    ];
    let readers: Vec<(ReaderKind, Cache, thread::JoinHandle<usize>)> = kinds
        .iter()
        .enumerate()
        .map(|(i, &kind)| {
            let cache: Cache = Arc::default();
            let h = caching_reader(
                readers_on,
                kind,
                0x9e37_79b9_7f4a_7c15 ^ (i as u64 + 1),
                progress.clone(),
                cache.clone(),
                drain.clone(),
                stop.clone(),
            );
            (kind, cache, h)
        })
        .collect();
    let writers: Vec<_> = (0..3u64)
        .map(|t| {
            let mut w = writers_on.raw();
            let progress = progress.clone();
            thread::spawn(move || {
                for i in 0..CACHE_KEYS {
                    let key = format!("c{i}");
                    assert_eq!(w.cmd(&["SET", &key, &format!("w{t}-{i}")]), Reply::ok());
                    progress.fetch_max(i, Ordering::SeqCst);
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    drain.store(true, Ordering::SeqCst);
    let keys: Vec<String> = (0..CACHE_KEYS).map(|i| format!("c{i}")).collect();
    let mut mget = vec!["MGET".to_string()];
    mget.extend(keys.iter().cloned());
    let values = writers_on.raw().cmd(&mget);
    let truth: HashMap<String, Reply> = keys.into_iter().zip(values.as_array().to_vec()).collect();
    let stale = || -> Vec<String> {
        let mut out = Vec::new();
        for (kind, cache, _) in &readers {
            for (k, slot) in cache.lock().unwrap().iter() {
                if let Slot::Cached(v) = slot
                    && truth.get(k) != Some(v)
                {
                    out.push(format!(
                        "{kind:?} holds {k}={v:?}, server has {:?}",
                        truth[k]
                    ));
                }
            }
        }
        out
    };
    let converged = poll_until(Duration::from_secs(10), Duration::from_millis(20), || {
        stale().is_empty()
    });
    let mut left = stale();
    left.truncate(10);
    stop.store(true, Ordering::SeqCst);
    let mut cached_reads = 0;
    for (_, _, h) in readers {
        cached_reads += h.join().unwrap();
    }
    assert!(
        converged,
        "stale cached values with no invalidation: {left:?}"
    );
    assert!(
        cached_reads > 100,
        "readers cached only {cached_reads} reads"
    );
}

#[test]
fn cached_values_never_stay_stale_under_concurrent_writes() {
    let s = TestServer::start(&[]);
    caches_converge(&s, &s);
}

#[test]
fn cached_values_on_a_follower_never_stay_stale() {
    let leader = TestServer::start(&[]);
    let follower = TestServer::start(&["--replicaof", "127.0.0.1", &leader.port.to_string()]);
    let mut f = follower.raw();
    assert!(poll_until(
        Duration::from_secs(10),
        Duration::from_millis(20),
        || info_field(
            &f.cmd(&["INFO", "replication"]).as_string(),
            "master_link_status"
        )
        .as_deref()
            == Some("up")
    ));
    caches_converge(&leader, &follower);
}

#[test]
fn keys_read_by_counted_key_lists_are_tracked() {
    // ZUNION, ZINTER, ZDIFF, ZINTERCARD and SINTERCARD name their keys after a count:
    // every one of them is a key read, and a later write to it must invalidate.
    let s = TestServer::start(&[]);
    let mut w = s.raw();
    let mut c = tracker(&s, &[]);
    for (read, first_write, second_write) in [
        (
            ["ZUNION", "2", "za", "zb"],
            ["ZADD", "za", "1", "x"],
            ["ZADD", "zb", "1", "x"],
        ),
        (
            ["ZINTER", "2", "za", "zb"],
            ["ZADD", "za", "2", "x"],
            ["ZADD", "zb", "2", "x"],
        ),
        (
            ["ZDIFF", "2", "za", "zb"],
            ["ZADD", "za", "3", "x"],
            ["ZADD", "zb", "3", "x"],
        ),
        (
            ["ZINTERCARD", "2", "za", "zb"],
            ["ZADD", "za", "4", "x"],
            ["ZADD", "zb", "4", "x"],
        ),
        (
            ["SINTERCARD", "2", "sa", "sb"],
            ["SADD", "sa", "x", "1"],
            ["SADD", "sb", "x", "1"],
        ),
    ] {
        assert!(!c.cmd(&read).is_error(), "{read:?}");
        w.cmd(&first_write);
        assert_eq!(next_push(&mut c), invalidate(&[read[2]]), "{read:?}");
        w.cmd(&second_write);
        assert_eq!(next_push(&mut c), invalidate(&[read[3]]), "{read:?}");
    }
}

/// Where an invalidation for the client's own command lands, as Redis orders it: after
/// the reply for what the command (or a transaction's command) changed, before the reply
/// for what was evicted or dropped from the table to run it. A key a transaction writes
/// and then reads stays tracked, and BCAST sends a transaction's keys in one message.
#[test]
fn own_invalidations_are_ordered_around_the_reply() {
    let (s, mut w) = setup();
    let mut r = tracker(&s, &[]);
    // Written then read inside one transaction: still tracked afterwards, no message.
    r.cmd(&["MULTI"]);
    r.cmd(&["SET", "x", "1"]);
    r.cmd(&["GET", "x"]);
    assert_eq!(
        r.cmd(&["EXEC"]),
        Reply::Array(vec![Reply::ok(), Reply::bulk("1")])
    );
    quiet(&mut r);
    w.cmd(&["SET", "x", "2"]);
    assert_eq!(next_push(&mut r), invalidate(&["x"]));
    // A tracked key the transaction changes: EXEC's reply first, then the message.
    r.cmd(&["GET", "x"]);
    r.cmd(&["MULTI"]);
    r.cmd(&["INCR", "x"]);
    assert_eq!(r.cmd(&["EXEC"]), Reply::Array(vec![Reply::int(3)]));
    assert_eq!(next_push(&mut r), invalidate(&["x"]));
    // The table limit is enforced before a command runs (even one only queued): the
    // message comes before its reply.
    r.cmd(&["MGET", "a", "b"]);
    r.cmd(&["MULTI"]);
    w.cmd(&["CONFIG", "SET", "tracking-table-max-keys", "1"]);
    match r.cmd(&["PING"]) {
        Reply::Push(items) => assert_eq!(items[0], Reply::bulk("invalidate")),
        other => panic!("expected the table-limit invalidation first, got {other:?}"),
    }
    assert_eq!(r.read_reply(), Reply::simple("QUEUED"));
    assert_eq!(r.cmd(&["EXEC"]), Reply::Array(vec![Reply::simple("PONG")]));
    w.cmd(&["CONFIG", "SET", "tracking-table-max-keys", "0"]);
    // An eviction made for a read: the message comes before the read's reply.
    w.cmd(&["FLUSHALL"]);
    quiet_all(&mut r);
    let used: i64 = stat(&mut w, "memory", "used_memory").parse().unwrap();
    w.cmd(&[
        "CONFIG",
        "SET",
        "maxmemory",
        &(used + 100 * 1024).to_string(),
    ]);
    w.cmd(&["CONFIG", "SET", "maxmemory-policy", "volatile-random"]);
    w.cmd(&["SETEX", "volatile", "1000", "x"]);
    r.cmd(&["GET", "volatile"]);
    w.cmd(&["SETBIT", "big", "1600000", "0"]);
    assert_eq!(r.cmd(&["GETBIT", "big", "0"]), invalidate(&["volatile"]));
    assert_eq!(r.read_reply(), Reply::int(0));
    w.cmd(&["CONFIG", "SET", "maxmemory", "0"]);
    // BCAST: a transaction's keys under one prefix in one message.
    let mut b = tracker(&s, &["BCAST", "PREFIX", "t:"]);
    w.cmd(&["MULTI"]);
    w.cmd(&["SET", "t:1", "a"]);
    w.cmd(&["SET", "t:2", "b"]);
    w.cmd(&["EXEC"]);
    assert_eq!(next_push(&mut b), invalidate(&["t:1", "t:2"]));
    quiet(&mut b);
}

/// Drains whatever messages arrive within 200 ms.
fn quiet_all(r: &mut RawConn) {
    while r.try_read_reply(Duration::from_millis(200)).is_ok() {}
}
