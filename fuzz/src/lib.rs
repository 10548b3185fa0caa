//! Shared pieces of the Ferrocache fuzz targets: a RESP reply checker and an in-process
//! server that runs requests through the same path a connection task does (request
//! parser -> `commands::execute`), without sockets.

pub mod resp;

use bytes::{Bytes, BytesMut};
use ferrocache::commands::{self, Client};
use ferrocache::config::Config;
use ferrocache::protocol::{Parsed, ReplyBuf, RequestLimits, RequestParser};
use ferrocache::server::Server;
use ferrocache::server::client::ClientHandle;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock};

/// Clients one input may drive (a line `@0`, `@1` or `@2` switches between them).
pub const CLIENTS: usize = 3;

/// Commands (or command forms) the harness refuses to run, with why. Everything else in
/// the command table runs exactly as from a socket.
pub fn refused(args: &[Bytes]) -> bool {
    let name = args[0].to_ascii_lowercase();
    let arg = |i: usize| {
        args.get(i)
            .map(|a| a.to_ascii_lowercase())
            .unwrap_or_default()
    };
    match name.as_slice() {
        // Turn the connection into a follower link and start a full-sync thread that
        // streams the dataset to it: not a request/reply exchange.
        b"psync" | b"sync" => true,
        // A background thread writing a file concurrently with later inputs: makes runs
        // irreproducible. SAVE (synchronous, same encoder) stays.
        b"bgsave" | b"bgrewriteaof" => true,
        // REPLICAOF host port connects out to the network; REPLICAOF NO ONE stays.
        b"replicaof" | b"slaveof" => arg(1) != b"no",
        // Sleeps the thread by design; or runs a self-test of 10^5 rounds, which takes
        // seconds under ASan and tests nothing the input chose.
        b"debug" => matches!(arg(1).as_slice(), b"sleep" | b"stringmatch-test"),
        // Ten million PFADDs by design (Redis's own HyperLogLog self-test).
        b"pfselftest" => true,
        // A negative count asks for that many picks with repetition: up to 2^24
        // (MAX_RANDOM_PICKS) elements in one reply, valid and handled, but seconds per
        // input under ASan, which starves the fuzzer.
        b"srandmember" | b"zrandmember" | b"hrandfield" => args
            .get(2)
            .and_then(|c| ferrocache::protocol::parse_i64(c))
            .is_some_and(|c| c < -65_536),
        // CONFIG SET of values that would make the fuzzer write files outside its temp
        // directory (dir changes the process's cwd; appendonly starts an AOF and its
        // writer thread in the working directory), sleep per key, legitimately
        // allocate gigabytes (a 512 MB SETRANGE is valid, just not useful to fuzz), or
        // change the fuzzer process itself (its OOM score, jemalloc's threads, listening
        // sockets).
        b"config" if arg(1) == b"set" => args[2..].iter().step_by(2).any(|p| {
            let p = p.to_ascii_lowercase();
            matches!(
                p.as_slice(),
                b"dir"
                    | b"appendonly"
                    | b"dbfilename"
                    | b"rdb-key-save-delay"
                    | b"proto-max-bulk-len"
                    | b"client-query-buffer-limit"
                    | b"oom-score-adj"
                    | b"oom-score-adj-values"
                    | b"jemalloc-bg-thread"
                    | b"port"
                    | b"bind"
            )
        }),
        _ => false,
    }
}

struct Conn {
    client: Client,
    out: ReplyBuf,
}

/// The one server all inputs share (building one per input would leak its command
/// table), reset to a clean state after every input.
pub struct Harness {
    pub srv: Arc<Server>,
    /// Mutable parameters and their startup values, restored after each input.
    defaults: Vec<(&'static str, String)>,
    /// A CONFIG command ran since the last reset.
    touched_config: std::cell::Cell<bool>,
    /// A command that can change ACL users ran since the last reset.
    touched_acl: std::cell::Cell<bool>,
    rt: tokio::runtime::Runtime,
}

fn harness() -> &'static Mutex<Harness> {
    static H: OnceLock<Mutex<Harness>> = OnceLock::new();
    H.get_or_init(|| {
        // SAVE writes the snapshot to `dbfilename`, here in a temp directory (through a
        // temp file in the working directory, renamed). `dir` is not set: applying it
        // changes the process's working directory, and libFuzzer reads its corpus and
        // writes artifacts through relative paths.
        let dir = std::env::temp_dir().join("ferrocache-fuzz");
        let _ = std::fs::create_dir_all(&dir);
        let overrides: Vec<(String, Vec<String>)> = vec![
            (
                "dbfilename".into(),
                vec![dir.join("dump.rdb").display().to_string()],
            ),
            ("enable-debug-command".into(), vec!["yes".into()]),
            ("save".into(), vec![String::new()]),
            // Keep single values small enough that valid commands cannot ask for GBs.
            ("proto-max-bulk-len".into(), vec!["4mb".into()]),
        ];
        let config = Config::load(None, &overrides).expect("harness config");
        let srv = Server::new(config);
        let defaults = srv
            .config
            .matching(b"*")
            .into_iter()
            .filter(|(name, _)| {
                ferrocache::config::params::find(name)
                    .is_some_and(|p| p.mutable && p.name == *name && p.name != "dir")
            })
            .collect();
        // Handlers that start tasks (REPLICAOF via FAILOVER's hand-over) need a runtime
        // context; this one is never driven, so nothing it is given ever runs.
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("tokio runtime");
        // A script that never ends (a loop, endless tail calls) is valid Lua and runs
        // until killed, as in Redis: stop it after a second, as an operator's SCRIPT
        // KILL would, so one input cannot hang the fuzzer.
        let watched = Arc::downgrade(&srv);
        std::thread::spawn(move || {
            while let Some(srv) = watched.upgrade() {
                let run = &srv.scripts.run;
                if run.elapsed_ms().is_some_and(|ms| ms > 1000) {
                    run.kill.store(true, Ordering::Relaxed);
                }
                drop(srv);
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        });
        Mutex::new(Harness {
            srv,
            defaults,
            touched_config: std::cell::Cell::new(false),
            touched_acl: std::cell::Cell::new(false),
            rt,
        })
    })
}

fn new_conn(srv: &Arc<Server>) -> Conn {
    let addr = "127.0.0.1:40000".parse().unwrap();
    let laddr = "127.0.0.1:6379".parse().unwrap();
    let handle = Arc::new(ClientHandle::new(srv.next_client_id(), addr, laddr, -1));
    srv.clients.lock().insert(handle.id, handle.clone());
    Conn {
        client: Client::new(handle, srv.acl.default_user()),
        out: ReplyBuf::default(),
    }
}

/// What `connection::serve` does when a connection ends.
fn drop_conn(srv: &Server, mut c: Conn) {
    if let Some((w, _)) = c.client.pending_block.take()
        && w.claim()
    {
        srv.blocking.remove(&srv.store, &w);
    }
    commands::pubsub::unsubscribe_all(srv, &mut c.client);
    c.client.unwatch(srv);
    srv.remove_client(c.client.handle.id);
}

/// Moves replies other clients queued for `c` (pub/sub, MONITOR, a served blocking pop)
/// into its output, as the connection task does, then checks and clears the output.
fn flush(c: &mut Conn, what: &[u8]) {
    for msg in c.client.handle.outbox.drain() {
        c.out.raw(&msg);
    }
    if let Err(e) = resp::check_frames(&c.out.buf) {
        panic!(
            "malformed reply after {:?}: {}\noutput: {:?}",
            String::from_utf8_lossy(what),
            e,
            String::from_utf8_lossy(&c.out.buf[..c.out.buf.len().min(4096)])
        );
    }
    c.out.buf.clear();
}

/// Runs one parsed request for `c` as `connection::serve` would.
fn run_one(srv: &Arc<Server>, c: &mut Conn, args: Vec<Bytes>) {
    // Input that arrives while a client is blocked runs once the block ends; here the
    // block ends at its timeout, which is "now" (unless a write already served it).
    if let Some((w, _)) = c.client.pending_block.take()
        && w.claim()
    {
        srv.blocking.remove(&srv.store, &w);
        commands::blocking::timed_out_reply(&w, &mut c.out);
    }
    let what = args[0].clone();
    if report_enabled()
        && let Some(cmd) = srv.commands.get(&what)
    {
        seen().lock().unwrap().insert(cmd.name);
    }
    let now = ferrocache::base::now_ms();
    ferrocache::store::value::set_lru_clock(now);
    commands::execute(srv, &mut c.client, &mut c.out, args, now);
    if let Some(w) = c.client.pending_wait.take() {
        let have = ferrocache::replication::leader::acked_at_least(srv, w.target);
        c.out.int(have as i64);
    }
    flush(c, &what);
}

/// Runs `f` on the shared server, then resets the server for the next input.
pub fn with_harness<R>(f: impl FnOnce(&Harness) -> R) -> R {
    let guard = harness().lock().unwrap_or_else(|e| e.into_inner());
    let h = &*guard;
    let _rt = h.rt.enter();
    let r = f(h);
    h.reset();
    r
}

/// Runs a request stream (see [`Harness::run`]) on the shared server, then resets it.
pub fn run_commands(data: &[u8]) {
    with_harness(|h| {
        h.run(data);
        if report_enabled() {
            let seen = seen().lock().unwrap();
            let missing: Vec<&str> = h
                .srv
                .commands
                .all
                .iter()
                .map(|c| c.name)
                .filter(|n| !seen.contains(n))
                .collect();
            eprintln!(
                "FUZZ_COMMAND_REPORT: {} commands never run: {missing:?}",
                missing.len()
            );
        }
    });
}

/// A Lua body from arbitrary bytes, run every way a client can run one: the input is
/// `body [\0 key-or-arg ...]`; the body runs through EVAL and EVAL_RO (first two extra
/// parts as KEYS), then as a library (`#!lua name=fz` prepended) through FUNCTION LOAD,
/// with FCALL and FCALL_RO of a function `f`, FUNCTION LIST and a DUMP/RESTORE round
/// trip. Panics and malformed replies are failures, as in `run_commands`.
pub fn run_script(data: &[u8]) {
    let mut parts = data.split(|&b| b == 0);
    let body = parts.next().unwrap_or_default();
    let extra: Vec<&[u8]> = parts.take(8).collect();
    let numkeys = extra.len().min(2).to_string();
    let mut library = b"#!lua name=fz\n".to_vec();
    library.extend_from_slice(body);
    let with_extra = |head: &[&[u8]]| -> Vec<u8> {
        let mut args: Vec<&[u8]> = head.to_vec();
        args.extend_from_slice(&extra);
        resp_request(&args)
    };
    let mut stream = Vec::new();
    stream.extend(with_extra(&[b"EVAL", body, numkeys.as_bytes()]));
    stream.extend(with_extra(&[b"EVAL_RO", body, numkeys.as_bytes()]));
    stream.extend(resp_request(&[b"FUNCTION", b"LOAD", b"REPLACE", &library]));
    stream.extend(with_extra(&[b"FCALL", b"f", numkeys.as_bytes()]));
    stream.extend(with_extra(&[b"FCALL_RO", b"f", numkeys.as_bytes()]));
    stream.extend(resp_request(&[b"FUNCTION", b"LIST", b"WITHCODE"]));
    with_harness(|h| {
        h.run(&stream);
        // DUMP then RESTORE what it gave, as a client would copy libraries over.
        let mut admin = new_conn(&h.srv);
        let now = ferrocache::base::now_ms();
        let dump = vec![Bytes::from_static(b"FUNCTION"), Bytes::from_static(b"DUMP")];
        commands::execute(&h.srv, &mut admin.client, &mut admin.out, dump, now);
        let reply = admin.out.buf.split().freeze();
        if let Some(payload) = resp::bulk_payload(&reply) {
            let restore = [&b"FUNCTION"[..], b"RESTORE", &payload, b"FLUSH"];
            let args = restore.iter().map(|a| Bytes::copy_from_slice(a)).collect();
            commands::execute(&h.srv, &mut admin.client, &mut admin.out, args, now);
            flush(&mut admin, b"FUNCTION RESTORE");
        }
        drop_conn(&h.srv, admin);
    });
}

/// One request as a client sends it (a RESP multibulk).
fn resp_request(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// `FUZZ_COMMAND_REPORT=1`: after each input, list the table commands no input has run
/// yet (run the target over its corpus with -runs=0 to see what the corpus reaches).
fn report_enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("FUZZ_COMMAND_REPORT").is_some())
}

fn seen() -> &'static Mutex<std::collections::BTreeSet<&'static str>> {
    static SEEN: OnceLock<Mutex<std::collections::BTreeSet<&'static str>>> = OnceLock::new();
    SEEN.get_or_init(Default::default)
}

impl Harness {
    /// Runs a request stream: RESP or inline requests exactly as a client would send
    /// them, plus harness lines `@0`/`@1`/`@2` choosing which client sends what follows.
    /// A protocol error ends that client's connection, as on a socket.
    pub fn run(&self, data: &[u8]) {
        let srv = &self.srv;
        let mut conns: Vec<Option<Conn>> = (0..CLIENTS).map(|_| None).collect();
        let mut parsers: Vec<RequestParser> =
            (0..CLIENTS).map(|_| RequestParser::default()).collect();
        let mut bufs: Vec<BytesMut> = (0..CLIENTS).map(|_| BytesMut::new()).collect();

        // Split the input into per-client byte streams at `@N` lines; each stream is
        // parsed by that client's own parser, interleaved in input order.
        let mut cur = 0usize;
        let mut rest = data;
        let mut budget = 256; // commands per input: keeps one execution short
        while !rest.is_empty() && budget > 0 {
            let (chunk, next) = match rest.iter().position(|&b| b == b'\n') {
                Some(i) => (&rest[..=i], &rest[i + 1..]),
                None => (rest, &rest[rest.len()..]),
            };
            rest = next;
            let trimmed = chunk.strip_suffix(b"\n").unwrap_or(chunk);
            let trimmed = trimmed.strip_suffix(b"\r").unwrap_or(trimmed);
            if let [b'@', n] = trimmed
                && (b'0'..b'0' + CLIENTS as u8).contains(n)
            {
                cur = (n - b'0') as usize;
                continue;
            }
            bufs[cur].extend_from_slice(chunk);
            loop {
                let live = &srv.config.live;
                let limits = RequestLimits {
                    max_bulk_len: live.proto_max_bulk_len.load(Ordering::Relaxed),
                    max_multibulk_len: live.proto_max_multibulk_len.load(Ordering::Relaxed),
                };
                match parsers[cur].parse(&mut bufs[cur], &limits) {
                    Ok(Parsed::Command(args)) => {
                        budget -= 1;
                        if refused(&args) {
                            continue;
                        }
                        if args[0].eq_ignore_ascii_case(b"config") {
                            // CONFIG SET requirepass also changes the default user.
                            self.touched_config.set(true);
                            self.touched_acl.set(true);
                        }
                        if [&b"acl"[..], b"auth", b"hello"]
                            .iter()
                            .any(|c| args[0].eq_ignore_ascii_case(c))
                        {
                            // Users, and the ACL LOG (failed AUTHs are logged too).
                            self.touched_acl.set(true);
                        }
                        if let Some(c) =
                            conns[cur].take_if(|c| c.client.handle.killed.load(Ordering::Acquire))
                        {
                            // CLIENT KILL by another client: that connection is gone;
                            // what this client sends next goes over a new one.
                            drop_conn(srv, c);
                        }
                        let conn = conns[cur].get_or_insert_with(|| new_conn(srv));
                        run_one(srv, conn, args);
                        let closed =
                            conn.client.close || conn.client.handle.killed.load(Ordering::Acquire);
                        if closed {
                            drop_conn(srv, conns[cur].take().unwrap());
                            parsers[cur] = RequestParser::default();
                            bufs[cur].clear();
                            break;
                        }
                        if budget == 0 {
                            break;
                        }
                    }
                    Ok(Parsed::Nothing) => {}
                    Ok(Parsed::Incomplete) => break,
                    Err(_) => {
                        if let Some(c) = conns[cur].take() {
                            drop_conn(srv, c);
                        }
                        parsers[cur] = RequestParser::default();
                        bufs[cur].clear();
                        break;
                    }
                }
            }
        }
        // Blocked clients time out; other clients' messages are delivered and checked.
        for c in conns.iter_mut().flatten() {
            if let Some((w, _)) = c.client.pending_block.take()
                && w.claim()
            {
                srv.blocking.remove(&srv.store, &w);
                commands::blocking::timed_out_reply(&w, &mut c.out);
            }
            flush(c, b"(end of input)");
        }
        for c in conns.into_iter().flatten() {
            drop_conn(srv, c);
        }
    }

    /// Puts the shared server back as it started: empty keyspace, startup configuration
    /// and ACL users, no pause, leader role. Each step runs only when something could
    /// have changed it (a FLUSHALL of 16 empty databases costs more than a typical input).
    fn reset(&self) {
        let srv = &self.srv;
        let mut admin = new_conn(srv);
        let run = |admin: &mut Conn, cmd: &[&str]| {
            let args = cmd
                .iter()
                .map(|a| Bytes::copy_from_slice(a.as_bytes()))
                .collect();
            let now = ferrocache::base::now_ms();
            commands::execute(srv, &mut admin.client, &mut admin.out, args, now);
            admin.out.buf.clear();
        };
        if self.touched_config.replace(false) {
            for (name, value) in &self.defaults {
                if srv.config.get(name).as_deref() != Some(value.as_str()) {
                    let _ = srv.config.set(name, value);
                    srv.apply_setting(name);
                }
            }
        }
        if self.touched_acl.replace(false) {
            // The lone default user again, with the (restored) requirepass.
            let _ = srv.acl.replace_all(&[], false);
            srv.acl
                .set_default_password(&srv.config.get("requirepass").unwrap_or_default());
            srv.acl.log_reset();
            admin.client.user = srv.acl.default_user();
        }
        admin.client.authenticated = true;
        if srv.store.follower_mode() {
            run(&mut admin, &["replicaof", "no", "one"]);
        }
        if (0..16).any(|db| !srv.store.db(db).map.is_empty()) {
            run(&mut admin, &["flushall"]);
        }
        // Scripts and libraries from this input must not serve the next one.
        if srv.scripts.count() > 0 {
            srv.scripts.flush();
        }
        if !srv.functions.current().is_empty() {
            srv.functions.set(Default::default());
        }
        srv.set_pause(None);
        drop_conn(srv, admin);
        // Nothing may be left over: it would carry state into the next input.
        let left = srv.clients.lock().len();
        assert_eq!(left, 0, "harness: clients left registered after an input");
    }
}
