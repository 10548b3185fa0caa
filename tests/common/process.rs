//! Server processes: binaries (ours, or stock through `FC_SERVER_BIN`), free ports,
//! temp dirs, readiness, sentinels, and installing stock Redis when missing.

#![allow(dead_code)]

use super::*;
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
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

/// True when the sentinel under test is a stock `redis-sentinel` (`FC_SENTINEL_BIN`).
pub fn is_stock_sentinel() -> bool {
    sentinel_bin()
        .file_name()
        .is_some_and(|n| n.to_string_lossy().ends_with("redis-sentinel"))
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

    /// Like [`TestServer::start_sentinel`], with stock `redis-sentinel` whatever
    /// `FC_SENTINEL_BIN` says (for tests that need both kinds side by side).
    pub fn start_stock_sentinel(config: &str) -> TestServer {
        Self::start_kind(
            stock_bin("redis-sentinel"),
            Kind::Sentinel,
            Some(config),
            &[],
        )
    }

    /// Restart a stopped sentinel on the same port with its (rewritten) config file.
    pub fn restart_sentinel(&mut self) {
        self.restart_sentinel_at(self.port);
    }

    /// Restart a sentinel with its (rewritten) config file on `port`: the same sentinel
    /// (its `myid` is in the file) at a new address.
    pub fn restart_sentinel_at(&mut self, port: u16) {
        self.stop();
        let conf = self.dir.join("server.conf");
        if port != self.port {
            let text = fs::read_to_string(&conf).expect("read sentinel config");
            let moved: Vec<String> = text
                .lines()
                .map(|l| {
                    if l.starts_with("port ") {
                        format!("port {port}")
                    } else {
                        l.to_string()
                    }
                })
                .collect();
            fs::write(&conf, moved.join("\n") + "\n").expect("write sentinel config");
            self.port = port;
        }
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
