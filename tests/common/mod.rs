//! Shared integration-test harness: spawns a server binary on a free port,
//! waits for readiness, and offers both a `redis::Connection` client and a
//! tiny raw-socket RESP client (`RawConn`) for exact-reply / bad-input tests.
//!
//! The binary is taken from `FC_SERVER_BIN` if set, otherwise from cargo's
//! `CARGO_BIN_EXE_ferrocache-server`. Validate against stock Redis with
//! `FC_SERVER_BIN=$(which redis-server) cargo test`.

#![allow(dead_code)]

use std::fmt;
use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Deadline for a freshly spawned server to answer PING.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// Default read timeout for raw connections.
pub const RAW_TIMEOUT: Duration = Duration::from_secs(5);

/// Path of the server binary under test.
pub fn server_bin() -> PathBuf {
    if let Ok(p) = std::env::var("FC_SERVER_BIN")
        && !p.is_empty()
    {
        return PathBuf::from(p);
    }
    match option_env!("CARGO_BIN_EXE_ferrocache-server") {
        Some(p) => PathBuf::from(p),
        None => panic!(
            "no server binary: set FC_SERVER_BIN=/path/to/server \
             (e.g. FC_SERVER_BIN=$(which redis-server)) or build inside the \
             ferrocache crate so CARGO_BIN_EXE_ferrocache-server is defined"
        ),
    }
}

/// True when the binary under test is a stock `redis-server`.
/// Tests marked `// ferrocache-specific:` skip themselves when this is true.
pub fn is_stock_redis() -> bool {
    server_bin()
        .file_name()
        .map(|n| n.to_string_lossy().ends_with("redis-server"))
        .unwrap_or(false)
}

/// Poll `f` every `every` until it returns true or `timeout` elapses.
pub fn poll_until(timeout: Duration, every: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(every);
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> i64 {
    now_ms() / 1000
}

/// A port free on 127.0.0.1 right now (another process may take it before it is used).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().unwrap().port()
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Set by [`TestServer::start_at`]: the port the next spawn must use.
    static FIXED_PORT: std::cell::Cell<Option<u16>> = const { std::cell::Cell::new(None) };
}

/// A fresh scratch directory under the system temp dir.
pub fn make_temp_dir() -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("fc-test-{}-{}-{}", std::process::id(), n, nanos));
    fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// A server with default arguments and one raw connection to it: most tests start so.
pub fn setup() -> (TestServer, RawConn) {
    let s = TestServer::start(&[]);
    let r = s.raw();
    (s, r)
}

/// A running server process. Killed on drop.
pub struct TestServer {
    child: Option<Child>,
    pub port: u16,
    pub dir: PathBuf,
    pub log_path: PathBuf,
    pub args: Vec<String>,
}

/// The sentinel binary: `FC_SENTINEL_BIN` (e.g. a stock redis-sentinel) or ours.
pub fn sentinel_bin() -> PathBuf {
    if let Ok(p) = std::env::var("FC_SENTINEL_BIN")
        && !p.is_empty()
    {
        return PathBuf::from(p);
    }
    PathBuf::from(env!("CARGO_BIN_EXE_ferrocache-sentinel"))
}

/// Path of a stock Redis 7.0 tool the tests compare against (`redis-server`,
/// `redis-check-rdb`, `redis-cli`), found in PATH after [`ensure_stock_redis`] has made
/// sure it is installed.
pub fn stock_bin(name: &str) -> PathBuf {
    ensure_stock_redis();
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{name}` is not in PATH ({}) although scripts/lib.sh's \
                 fc_ensure_redis_tools/fc_ensure_redis_server succeeded",
                path.to_string_lossy()
            )
        })
}

/// Installs stock `redis-server`, `redis-tools` and `redis-sentinel` (whose Debian config
/// files the config tests load) when they are missing, so that
/// `cargo test --release` passes on a machine with only the Rust toolchain. It runs the
/// same shell functions as `.ci/run` and the scripts (`fc_ensure_redis_tools`,
/// `fc_ensure_redis_server`, `fc_ensure_redis_sentinel` in scripts/lib.sh: nothing happens when the binaries are
/// already in PATH, else `apt-get install`, as root or through `sudo -n`).
///
/// Runs at most once per test process (later calls get the first outcome); test binaries
/// running at the same time serialize on an exclusive lock of a file under `target/`,
/// because two `apt-get install`s at once make the second fail on dpkg's lock. Panics
/// with the script's output when the install fails.
pub fn ensure_stock_redis() {
    static OUTCOME: OnceLock<Result<(), String>> = OnceLock::new();
    if let Err(why) = OUTCOME.get_or_init(run_ensure_script) {
        panic!("{why}");
    }
}

fn run_ensure_script() -> Result<(), String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lock_dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    fs::create_dir_all(lock_dir).map_err(|e| format!("create {}: {e}", lock_dir.display()))?;
    let lock_path = lock_dir.join("stock-redis-install.lock");
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| format!("open {}: {e}", lock_path.display()))?;
    // Released when `lock` is dropped at the end of this function.
    lock.lock()
        .map_err(|e| format!("lock {}: {e}", lock_path.display()))?;
    let script = "source scripts/lib.sh && fc_install_trap \
                  && fc_ensure_redis_tools && fc_ensure_redis_server && fc_ensure_redis_sentinel";
    let out = Command::new("bash")
        .args(["-c", script])
        .current_dir(root)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("could not run bash for scripts/lib.sh: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        return Err(format!(
            "stock Redis 7.0 (redis-server, redis-tools, redis-sentinel) is missing and \
             installing it failed ({}); install them with \
             `apt-get install -y redis-server redis-tools redis-sentinel`, \
             as root. Output of `bash -c '{script}'` in {}:\n{text}",
            out.status,
            root.display()
        ));
    }
    if !text.trim().is_empty() {
        eprintln!("[tests] stock Redis install step:\n{text}");
    }
    Ok(())
}

/// What kind of process to spawn: a data node (with the usual overrides) or a sentinel
/// (whose config file carries port and bind, as Sentinel needs a file to save state).
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Server,
    Sentinel,
}

enum SpawnError {
    /// The port was (probably) taken: retry on another one.
    PortTaken(String),
    Fatal(String),
}

impl TestServer {
    /// Start a server with `--port P --bind 127.0.0.1 --save "" --repl-diskless-sync-delay 0`
    /// + `extra_args`.
    pub fn start(extra_args: &[&str]) -> TestServer {
        Self::start_with_config(None, extra_args)
    }

    /// Start a server whose first argument is a config file holding `config` (written into
    /// the server's temp dir as `server.conf`), then the usual overrides + `extra_args`.
    pub fn start_with_config(config: Option<&str>, extra_args: &[&str]) -> TestServer {
        Self::start_bin(server_bin(), config, extra_args)
    }

    /// Start a stock `redis-server` (from PATH) the same way, e.g. as a replica.
    pub fn start_stock(extra_args: &[&str]) -> TestServer {
        Self::start_bin(stock_bin("redis-server"), None, extra_args)
    }

    /// Start a server on a given port (a node coming back where it was).
    pub fn start_at(port: u16, extra_args: &[&str]) -> TestServer {
        FIXED_PORT.with(|p| p.set(Some(port)));
        let s = Self::start_kind(server_bin(), Kind::Server, None, extra_args);
        FIXED_PORT.with(|p| p.set(None));
        s
    }

    /// Start a sentinel whose config file is `port P`, `bind 127.0.0.1`, then `config`.
    pub fn start_sentinel(config: &str) -> TestServer {
        Self::start_kind(sentinel_bin(), Kind::Sentinel, Some(config), &[])
    }

    /// Restart a stopped sentinel on the same port with its (rewritten) config file.
    pub fn restart_sentinel(&mut self) {
        self.stop();
        let conf = self.dir.join("server.conf");
        let log = fs::OpenOptions::new()
            .append(true)
            .open(&self.log_path)
            .expect("open log");
        let log2 = log.try_clone().expect("clone log");
        let child = Command::new(sentinel_bin())
            .arg(&conf)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2))
            .spawn()
            .expect("respawn sentinel");
        self.child = Some(child);
        let deadline = Instant::now() + READY_TIMEOUT;
        while !self.ping_ready() {
            assert!(Instant::now() < deadline, "sentinel did not come back");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn start_bin(bin: PathBuf, config: Option<&str>, extra_args: &[&str]) -> TestServer {
        Self::start_kind(bin, Kind::Server, config, extra_args)
    }

    fn start_kind(
        bin: PathBuf,
        kind: Kind,
        config: Option<&str>,
        extra_args: &[&str],
    ) -> TestServer {
        let mut last = String::new();
        for _attempt in 0..5 {
            match Self::spawn_once(&bin, kind, config, extra_args) {
                Ok(s) => return s,
                Err(SpawnError::PortTaken(msg)) => last = msg,
                Err(SpawnError::Fatal(msg)) => panic!("server failed to start: {msg}"),
            }
        }
        panic!("server failed to start after 5 attempts (port in use?): {last}");
    }

    fn spawn_once(
        bin: &Path,
        kind: Kind,
        config: Option<&str>,
        extra_args: &[&str],
    ) -> Result<TestServer, SpawnError> {
        let port = FIXED_PORT.with(|p| p.get()).unwrap_or_else(free_port);
        let dir = make_temp_dir();
        let log_path = dir.join("server.log");
        let log = fs::File::create(&log_path).expect("create log file");
        let log2 = log.try_clone().expect("clone log file");
        let mut args: Vec<String> = Vec::new();
        if kind == Kind::Sentinel {
            let conf = dir.join("server.conf");
            let text = format!("port {port}\nbind 127.0.0.1\n{}\n", config.unwrap_or(""));
            fs::write(&conf, text).expect("write config file");
            args.push(conf.display().to_string());
            if bin.file_name().is_some_and(|n| n == "redis-server") {
                args.push("--sentinel".into());
            }
        } else if let Some(text) = config {
            let conf = dir.join("server.conf");
            fs::write(&conf, text).expect("write config file");
            args.push(conf.display().to_string());
        }
        if kind == Kind::Server {
            args.extend([
                "--port".into(),
                port.to_string(),
                "--bind".into(),
                "127.0.0.1".into(),
                "--save".into(),
                String::new(),
                // Redis's 5 s default lets followers share a snapshot; tests want it now.
                "--repl-diskless-sync-delay".into(),
                "0".into(),
            ]);
            // DEBUG is refused unless enabled (as in stock Redis); tests compare digests.
            args.extend(["--enable-debug-command".into(), "yes".into()]);
        }
        args.extend(extra_args.iter().map(|s| s.to_string()));
        let child = Command::new(bin)
            .args(&args)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2))
            .spawn()
            .map_err(|e| SpawnError::Fatal(format!("spawn {}: {e}", bin.display())))?;
        let mut srv = TestServer {
            child: Some(child),
            port,
            dir,
            log_path,
            args,
        };
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = srv.child.as_mut().unwrap().try_wait().unwrap() {
                let tail = srv.log_tail(30);
                srv.child = None;
                let lower = tail.to_lowercase();
                if lower.contains("in use") || lower.contains("could not create server tcp") {
                    return Err(SpawnError::PortTaken(tail));
                }
                return Err(SpawnError::Fatal(format!(
                    "process exited early with {status}; log tail:\n{tail}"
                )));
            }
            if srv.ping_ready() {
                return Ok(srv);
            }
            if Instant::now() >= deadline {
                let tail = srv.log_tail(30);
                return Err(SpawnError::Fatal(format!(
                    "not ready within {READY_TIMEOUT:?}; log tail:\n{tail}"
                )));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn ping_ready(&self) -> bool {
        let Ok(mut s) =
            TcpStream::connect_timeout(&self.addr().parse().unwrap(), Duration::from_millis(200))
        else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        if s.write_all(b"*1\r\n$4\r\nPING\r\n").is_err() {
            return false;
        }
        let mut buf = [0u8; 64];
        match s.read(&mut buf) {
            Ok(n) if n > 0 => {
                let r = &buf[..n];
                // +PONG, -NOAUTH when --requirepass is set, or -MASTERDOWN from a
                // follower whose leader is unreachable (replica-serve-stale-data no):
                // all mean "serving".
                r.starts_with(b"+PONG")
                    || r.starts_with(b"-NOAUTH")
                    || r.starts_with(b"-MASTERDOWN")
            }
            _ => false,
        }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A synchronous `redis` crate connection.
    pub fn client(&self) -> redis::Connection {
        let c = redis::Client::open(self.url()).expect("client open");
        c.get_connection_with_timeout(Duration::from_secs(5))
            .expect("get_connection")
    }

    /// A raw socket connection speaking RESP by hand.
    pub fn raw(&self) -> RawConn {
        RawConn::connect(&self.addr())
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Last `n` lines of the server log.
    pub fn log_tail(&self, n: usize) -> String {
        let text = fs::read(&self.log_path).unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.len().saturating_sub(n);
        lines[start..].join("\n")
    }

    /// Poll for the process to exit within `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(st)) = child.try_wait() {
                return Some(st);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// True if the process has exited.
    pub fn has_exited(&mut self) -> bool {
        match self.child.as_mut() {
            None => true,
            Some(c) => matches!(c.try_wait(), Ok(Some(_))),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let failed = std::thread::panicking();
        if failed {
            eprintln!(
                "---- server log tail ({}) ----\n{}\n---- end ----",
                self.log_path.display(),
                self.log_tail(40)
            );
        }
        self.stop();
        // Keep the temp dir (with the full log) only when the test failed.
        if !failed {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

impl TestServer {
    /// Stop the process: SIGTERM, bounded wait, then SIGKILL.
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        // Polite SIGTERM first, then SIGKILL after a bounded wait.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            if Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

// ---------------------------------------------------------------------------
// RESP reply model
// ---------------------------------------------------------------------------

/// A parsed RESP2/RESP3 reply.
#[derive(Clone, PartialEq)]
pub enum Reply {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    /// `$-1`, `*-1` or RESP3 `_`.
    Nil,
    Array(Vec<Reply>),
    Map(Vec<(Reply, Reply)>),
    Set(Vec<Reply>),
    Push(Vec<Reply>),
    Double(String),
    Bool(bool),
    Verbatim(String, String),
    BigNum(String),
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Simple(s) => write!(f, "+{s}"),
            Reply::Error(s) => write!(f, "-{s}"),
            Reply::Int(i) => write!(f, ":{i}"),
            Reply::Bulk(b) => write!(f, "{:?}", String::from_utf8_lossy(b)),
            Reply::Nil => write!(f, "(nil)"),
            Reply::Array(a) => f.debug_list().entries(a).finish(),
            Reply::Map(m) => f
                .debug_map()
                .entries(m.iter().map(|(k, v)| (k, v)))
                .finish(),
            Reply::Set(a) => write!(f, "~{a:?}"),
            Reply::Push(a) => write!(f, ">{a:?}"),
            Reply::Double(d) => write!(f, ",{d}"),
            Reply::Bool(b) => write!(f, "#{b}"),
            Reply::Verbatim(k, s) => write!(f, "={k}:{s:?}"),
            Reply::BigNum(s) => write!(f, "({s}"),
        }
    }
}

impl Reply {
    pub fn ok() -> Reply {
        Reply::Simple("OK".into())
    }
    pub fn simple(s: &str) -> Reply {
        Reply::Simple(s.into())
    }
    pub fn bulk(s: impl AsRef<[u8]>) -> Reply {
        Reply::Bulk(s.as_ref().to_vec())
    }
    pub fn int(i: i64) -> Reply {
        Reply::Int(i)
    }
    pub fn err(s: &str) -> Reply {
        Reply::Error(s.into())
    }
    pub fn arr(items: Vec<Reply>) -> Reply {
        Reply::Array(items)
    }
    pub fn bulks(items: &[&str]) -> Reply {
        Reply::Array(items.iter().map(Reply::bulk).collect())
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// Error text (panics if not an error).
    pub fn err_text(&self) -> &str {
        match self {
            Reply::Error(s) => s,
            other => panic!("expected error reply, got {other:?}"),
        }
    }

    /// String view of Simple/Bulk/Verbatim/Double/BigNum replies.
    pub fn as_string(&self) -> String {
        match self {
            Reply::Simple(s) | Reply::Double(s) | Reply::BigNum(s) => s.clone(),
            Reply::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
            Reply::Verbatim(_, s) => s.clone(),
            other => panic!("expected string reply, got {other:?}"),
        }
    }

    pub fn as_bytes(&self) -> Vec<u8> {
        match self {
            Reply::Bulk(b) => b.clone(),
            Reply::Simple(s) => s.as_bytes().to_vec(),
            other => panic!("expected bulk reply, got {other:?}"),
        }
    }

    pub fn as_int(&self) -> i64 {
        match self {
            Reply::Int(i) => *i,
            Reply::Bulk(_) | Reply::Simple(_) => self
                .as_string()
                .parse()
                .unwrap_or_else(|_| panic!("not an integer: {self:?}")),
            other => panic!("expected integer reply, got {other:?}"),
        }
    }

    /// Elements of Array/Set/Push replies.
    pub fn as_array(&self) -> &[Reply] {
        match self {
            Reply::Array(a) | Reply::Set(a) | Reply::Push(a) => a,
            other => panic!("expected array reply, got {other:?}"),
        }
    }

    /// Key/value pairs of a Map or a flat key/value Array.
    pub fn as_pairs(&self) -> Vec<(Reply, Reply)> {
        match self {
            Reply::Map(m) => m.clone(),
            Reply::Array(a) => a
                .chunks(2)
                .map(|c| (c[0].clone(), c.get(1).cloned().unwrap_or(Reply::Nil)))
                .collect(),
            other => panic!("expected map reply, got {other:?}"),
        }
    }

    /// Lookup in a Map or flat key/value Array by string key.
    pub fn get(&self, key: &str) -> Option<Reply> {
        self.as_pairs()
            .into_iter()
            .find(|(k, _)| matches!(k, Reply::Simple(_) | Reply::Bulk(_)) && k.as_string() == key)
            .map(|(_, v)| v)
    }

    /// Array of bulk strings as Vec<String>.
    pub fn strings(&self) -> Vec<String> {
        self.as_array().iter().map(|r| r.as_string()).collect()
    }
}

/// Encode a command as a RESP array of bulk strings.
pub fn encode_cmd<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        let a = a.as_ref();
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Outcome of a read on a raw connection that did not yield a reply.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadErr {
    Timeout,
    Closed,
}

/// A raw TCP connection with a hand-written RESP parser.
pub struct RawConn {
    pub stream: TcpStream,
    buf: Vec<u8>,
    pos: usize,
}

impl RawConn {
    pub fn connect(addr: &str) -> RawConn {
        Self::from_stream(TcpStream::connect(addr).expect("raw connect"))
    }

    /// Wraps a connected stream (e.g. one bound to a chosen source address).
    pub fn from_stream(stream: TcpStream) -> RawConn {
        stream.set_nodelay(true).ok();
        stream.set_read_timeout(Some(RAW_TIMEOUT)).unwrap();
        stream
            .set_write_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        RawConn {
            stream,
            buf: Vec::new(),
            pos: 0,
        }
    }

    /// Send arbitrary bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("raw write");
    }

    /// Send bytes, returning an error instead of panicking.
    pub fn try_send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Send a command (as a RESP array) without reading the reply.
    pub fn send_cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        let b = encode_cmd(args);
        self.send(&b);
    }

    /// Send a command and read one reply (panics on timeout/close).
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Reply {
        self.send_cmd(args);
        self.read_reply()
    }

    /// Read one reply with the default timeout; panics on timeout/close.
    pub fn read_reply(&mut self) -> Reply {
        match self.try_read_reply(RAW_TIMEOUT) {
            Ok(r) => r,
            Err(e) => panic!("raw read failed: {e:?}"),
        }
    }

    /// Read one reply, waiting at most `timeout`.
    pub fn try_read_reply(&mut self, timeout: Duration) -> Result<Reply, ReadErr> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some((reply, used)) = parse_reply(&self.buf[self.pos..]) {
                self.pos += used;
                if self.pos == self.buf.len() {
                    self.buf.clear();
                    self.pos = 0;
                }
                return Ok(reply);
            }
            self.fill(deadline)?;
        }
    }

    /// Read exactly `n` raw bytes.
    pub fn read_bytes(&mut self, n: usize, timeout: Duration) -> Result<Vec<u8>, ReadErr> {
        let deadline = Instant::now() + timeout;
        while self.buf.len() - self.pos < n {
            self.fill(deadline)?;
        }
        let out = self.buf[self.pos..self.pos + n].to_vec();
        self.pos += n;
        Ok(out)
    }

    fn fill(&mut self, deadline: Instant) -> Result<(), ReadErr> {
        let now = Instant::now();
        if now >= deadline {
            return Err(ReadErr::Timeout);
        }
        let remaining = (deadline - now).max(Duration::from_millis(1));
        self.stream.set_read_timeout(Some(remaining)).unwrap();
        let mut tmp = [0u8; 64 * 1024];
        match self.stream.read(&mut tmp) {
            Ok(0) => Err(ReadErr::Closed),
            Ok(n) => {
                self.buf.extend_from_slice(&tmp[..n]);
                Ok(())
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {
                Err(ReadErr::Timeout)
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => Ok(()),
            Err(_) => Err(ReadErr::Closed),
        }
    }

    /// Wait (bounded) until the server closes the connection, discarding any
    /// data it sends first. Returns true if closed within `timeout`.
    pub fn wait_closed(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            match self.fill(deadline) {
                Ok(()) => {
                    self.buf.clear();
                    self.pos = 0;
                }
                Err(ReadErr::Closed) => return true,
                Err(ReadErr::Timeout) => return false,
            }
        }
    }

    /// Close the write half.
    pub fn shutdown_write(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}

fn find_crlf(b: &[u8]) -> Option<usize> {
    b.windows(2).position(|w| w == b"\r\n")
}

fn parse_line(b: &[u8]) -> Option<(String, usize)> {
    let i = find_crlf(b)?;
    Some((String::from_utf8_lossy(&b[..i]).into_owned(), i + 2))
}

/// Parse one reply from `b`; returns None if incomplete.
pub fn parse_reply(b: &[u8]) -> Option<(Reply, usize)> {
    if b.is_empty() {
        return None;
    }
    let t = b[0];
    let (line, used) = parse_line(&b[1..])?;
    let used = used + 1;
    let agg = |n: i64, b: &[u8], used: usize| -> Option<(Vec<Reply>, usize)> {
        let mut items = Vec::new();
        let mut off = used;
        for _ in 0..n {
            let (r, u) = parse_reply(&b[off..])?;
            items.push(r);
            off += u;
        }
        Some((items, off))
    };
    match t {
        b'+' => Some((Reply::Simple(line), used)),
        b'-' => Some((Reply::Error(line), used)),
        b':' => Some((Reply::Int(line.parse().expect("bad int")), used)),
        b',' => Some((Reply::Double(line), used)),
        b'(' => Some((Reply::BigNum(line), used)),
        b'#' => Some((Reply::Bool(line == "t"), used)),
        b'_' => Some((Reply::Nil, used)),
        b'$' | b'=' | b'!' => {
            let n: i64 = line.parse().expect("bad bulk len");
            if n < 0 {
                return Some((Reply::Nil, used));
            }
            let n = n as usize;
            if b.len() < used + n + 2 {
                return None;
            }
            let data = b[used..used + n].to_vec();
            let total = used + n + 2;
            match t {
                b'$' => Some((Reply::Bulk(data), total)),
                b'!' => Some((Reply::Error(String::from_utf8_lossy(&data).into()), total)),
                _ => {
                    let s = String::from_utf8_lossy(&data).into_owned();
                    let (fmt, text) = s.split_at(3.min(s.len()));
                    Some((
                        Reply::Verbatim(fmt.to_string(), text.trim_start_matches(':').into()),
                        total,
                    ))
                }
            }
        }
        b'*' | b'~' | b'>' => {
            let n: i64 = line.parse().expect("bad array len");
            if n < 0 {
                return Some((Reply::Nil, used));
            }
            let (items, off) = agg(n, b, used)?;
            Some((
                match t {
                    b'*' => Reply::Array(items),
                    b'~' => Reply::Set(items),
                    _ => Reply::Push(items),
                },
                off,
            ))
        }
        b'%' | b'|' => {
            let n: i64 = line.parse().expect("bad map len");
            let (items, off) = agg(n * 2, b, used)?;
            let mut pairs = Vec::new();
            let mut it = items.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                pairs.push((k, v));
            }
            if t == b'|' {
                // Attribute: skip it and return the following reply.
                let (r, u) = parse_reply(&b[off..])?;
                return Some((r, off + u));
            }
            Some((Reply::Map(pairs), off))
        }
        other => panic!(
            "unexpected RESP type byte {:?} in {:?}",
            other as char,
            String::from_utf8_lossy(&b[..b.len().min(200)])
        ),
    }
}

/// Full error text ("CODE detail") of a `redis` crate error from the server.
pub fn err_text(e: &redis::RedisError) -> String {
    match (e.code(), e.detail()) {
        (Some(c), Some(d)) => format!("{c} {d}"),
        (Some(c), None) => c.to_string(),
        _ => e.to_string(),
    }
}

/// Parse an `INFO` text into (field, value) pairs.
pub fn parse_info(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && l.contains(':'))
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            (k.trim().to_string(), v.trim().to_string())
        })
        .collect()
}

/// Lookup a field of an `INFO` reply.
pub fn info_field(text: &str, field: &str) -> Option<String> {
    parse_info(text)
        .into_iter()
        .find(|(k, _)| k == field)
        .map(|(_, v)| v)
}

/// A direction through a [`FaultProxy`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Dir {
    /// Bytes from the connecting client to the target.
    ToTarget,
    /// Bytes from the target back to the client.
    ToClient,
}

#[derive(Default)]
struct Faults {
    blocked: std::sync::atomic::AtomicBool,
    delay_ms: std::sync::atomic::AtomicU64,
    /// Silently discard bytes in a direction (a black hole: no error, no data).
    drop: [std::sync::atomic::AtomicBool; 2],
    stop: std::sync::atomic::AtomicBool,
}

/// A fault-injecting TCP proxy for failure tests: forwards 127.0.0.1:`port` to a target,
/// and can delay traffic, silently drop it in one or both directions, cut every live
/// connection (both ways or one way), or refuse new connections for a while. No root
/// needed: partitions are made by putting a proxy between the nodes.
pub struct FaultProxy {
    /// The port clients connect to.
    pub port: u16,
    /// Live connections: (client side, target side).
    conns: std::sync::Arc<std::sync::Mutex<Vec<(TcpStream, TcpStream)>>>,
    faults: std::sync::Arc<Faults>,
}

impl FaultProxy {
    /// Starts forwarding to `target_port` on loopback.
    pub fn start(target_port: u16) -> FaultProxy {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let conns: std::sync::Arc<std::sync::Mutex<Vec<(TcpStream, TcpStream)>>> =
            Default::default();
        let faults: std::sync::Arc<Faults> = Default::default();
        let (c2, f2) = (conns.clone(), faults.clone());
        std::thread::spawn(move || {
            while !f2.stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        if f2.blocked.load(Ordering::Relaxed) {
                            drop(client);
                            continue;
                        }
                        let _ = client.set_nonblocking(false);
                        let Ok(server) = TcpStream::connect(("127.0.0.1", target_port)) else {
                            continue;
                        };
                        let _ = client.set_nodelay(true);
                        let _ = server.set_nodelay(true);
                        c2.lock()
                            .unwrap()
                            .push((client.try_clone().unwrap(), server.try_clone().unwrap()));
                        for (from, to, dir) in [
                            (client.try_clone().unwrap(), server.try_clone().unwrap(), 0),
                            (server, client, 1),
                        ] {
                            let f3 = f2.clone();
                            std::thread::spawn(move || pipe(from, to, &f3, dir));
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        FaultProxy {
            port,
            conns,
            faults,
        }
    }

    /// Closes every connection going through the proxy (a network cut).
    pub fn cut(&self) {
        for (c, s) in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(std::net::Shutdown::Both);
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }

    /// Ends one direction of every live connection: the receiving side reads EOF while
    /// the other direction keeps flowing.
    pub fn cut_one_way(&self, dir: Dir) {
        for (c, s) in self.conns.lock().unwrap().iter() {
            let _ = match dir {
                Dir::ToTarget => s.shutdown(std::net::Shutdown::Write),
                Dir::ToClient => c.shutdown(std::net::Shutdown::Write),
            };
        }
    }

    /// While blocked, new connections are accepted and closed at once.
    pub fn set_blocked(&self, on: bool) {
        self.faults
            .blocked
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Silently drops (or stops dropping) the bytes going one way: connections stay
    /// open, nothing arrives, as behind a black-holing firewall.
    pub fn set_drop(&self, dir: Dir, on: bool) {
        let i = usize::from(dir == Dir::ToClient);
        self.faults.drop[i].store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Delays every forwarded chunk by `d` (both ways).
    pub fn set_delay(&self, d: Duration) {
        self.faults
            .delay_ms
            .store(d.as_millis() as u64, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Forwards one direction, applying the current faults to each chunk.
fn pipe(mut from: TcpStream, mut to: TcpStream, faults: &Faults, dir: usize) {
    use std::sync::atomic::Ordering;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if faults.drop[dir].load(Ordering::Relaxed) {
            continue;
        }
        let delay = faults.delay_ms.load(Ordering::Relaxed);
        if delay > 0 {
            std::thread::sleep(Duration::from_millis(delay));
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.faults
            .stop
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.cut();
    }
}

/// Runs `fill` on a leader followed by one of our followers and a stock replica, then
/// waits (bounded) until both report the leader's DEBUG DIGEST.
pub fn assert_followers_converge(fill: impl Fn(&mut RawConn)) {
    let leader = TestServer::start(&[]);
    let lp = leader.port.to_string();
    let follower = TestServer::start(&["--replicaof", "127.0.0.1", &lp]);
    let stock = TestServer::start_stock(&[
        "--replicaof",
        "127.0.0.1",
        &lp,
        "--enable-debug-command",
        "yes",
    ]);
    let mut l = leader.raw();
    fill(&mut l);
    let digest = l.cmd(&["DEBUG", "DIGEST"]);
    for s in [&follower, &stock] {
        let mut f = s.raw();
        assert!(
            poll_until(Duration::from_secs(20), Duration::from_millis(50), || {
                f.cmd(&["DEBUG", "DIGEST"]) == digest
            }),
            "follower on {} diverged",
            s.port
        );
    }
}

/// Runs `fill`, SAVEs, checks the file with redis-check-rdb, loads it in a stock
/// redis-server (same digest; `check_stock` runs there), has stock Redis save its own
/// encodings, and loads that back into ours (same digest; `check_back` runs there).
pub fn assert_rdb_round_trip(
    fill: impl Fn(&mut RawConn),
    check_stock: impl Fn(&mut RawConn),
    check_back: impl Fn(&mut RawConn),
) {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    fill(&mut r);
    let digest = r.cmd(&["DEBUG", "DIGEST"]);
    assert_eq!(r.cmd(&["SAVE"]), Reply::ok());
    let check = Command::new(stock_bin("redis-check-rdb"))
        .arg(s.dir().join("dump.rdb"))
        .output()
        .expect("redis-check-rdb");
    let out = String::from_utf8_lossy(&check.stdout);
    assert!(out.contains("RDB looks OK"), "{out}");
    let dir = s.dir().display().to_string();
    let stock = TestServer::start_stock(&["--dir", &dir, "--enable-debug-command", "yes"]);
    let mut st = stock.raw();
    assert_eq!(st.cmd(&["DEBUG", "DIGEST"]), digest);
    check_stock(&mut st);
    assert_eq!(st.cmd(&["SAVE"]), Reply::ok());
    drop(st);
    drop(stock);
    let back = TestServer::start(&["--dir", &dir]);
    let mut b = back.raw();
    assert_eq!(b.cmd(&["DEBUG", "DIGEST"]), digest);
    check_back(&mut b);
}
