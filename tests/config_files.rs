//! Existing deployments' config files: Debian's and Redis 7.0.15's own redis.conf and
//! sentinel.conf start our server and sentinel unchanged (port and dir overridden on the
//! command line, as an operator moving a node would), daemonizing where they say so, and
//! every directive survives CONFIG REWRITE and a restart.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server or sentinel started from a config file: in the foreground, or daemonized
/// (the launcher exits 0 and the pidfile names the daemon). Killed on drop.
struct Node {
    child: Option<Child>,
    pid: u32,
    port: u16,
    dir: PathBuf,
}

impl Node {
    fn start(bin: &Path, file: &Path, extra: &[&str]) -> Node {
        let port = free_port();
        let dir = make_temp_dir();
        let pidfile = dir.join("node.pid");
        let logfile = dir.join("node.log");
        let mut args: Vec<String> = vec![file.display().to_string()];
        for (k, v) in [
            ("--port", port.to_string()),
            ("--dir", dir.display().to_string()),
            ("--pidfile", pidfile.display().to_string()),
            ("--logfile", logfile.display().to_string()),
        ] {
            args.push(k.into());
            args.push(v);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut child = Command::new(bin)
            .args(&args)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut daemonized = false;
        let log = || std::fs::read_to_string(&logfile).unwrap_or_default();
        loop {
            if !daemonized && let Some(status) = child.try_wait().unwrap() {
                let mut err = String::new();
                use std::io::Read;
                let _ = child.stderr.take().unwrap().read_to_string(&mut err);
                assert!(
                    status.success(),
                    "{} {:?} exited with {status}:\n{err}\n{}",
                    bin.display(),
                    args,
                    log()
                );
                daemonized = true;
            }
            let ready = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
            if ready && let Ok(pid) = std::fs::read_to_string(&pidfile) {
                let pid: u32 = pid.trim().parse().expect("pid in pidfile");
                let node = Node {
                    child: (!daemonized).then_some(child),
                    pid,
                    port,
                    dir,
                };
                if daemonized {
                    assert_ne!(pid, node_launcher_pid(&node), "the daemon is a new process");
                }
                return node;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not become ready:\n{}",
                bin.display(),
                log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn raw(&self) -> RawConn {
        RawConn::connect(&format!("127.0.0.1:{}", self.port))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("node.log")).unwrap_or_default()
    }

    fn alive(&self) -> bool {
        // SAFETY: signal 0 only checks that the process exists.
        let exists = unsafe { libc::kill(self.pid as i32, 0) == 0 };
        exists
            && !std::fs::read_to_string(format!("/proc/{}/stat", self.pid))
                .unwrap_or_default()
                .contains(") Z ")
    }
}

fn node_launcher_pid(node: &Node) -> u32 {
    node.child.as_ref().map_or(0, |c| c.id())
}

impl Drop for Node {
    fn drop(&mut self) {
        // SAFETY: killing the process this test started.
        unsafe {
            libc::kill(self.pid as i32, libc::SIGKILL);
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.wait();
        }
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Debian's files come with its redis-server / redis-sentinel packages.
fn debian_file(name: &str) -> PathBuf {
    ensure_stock_redis();
    let p = Path::new("/etc/redis").join(name);
    assert!(
        p.exists(),
        "{} missing after installing the Debian packages",
        p.display()
    );
    p
}

/// A private copy (sentinels rewrite their file).
fn copy_to_temp(file: &Path) -> PathBuf {
    let dst = make_temp_dir().join(file.file_name().unwrap());
    std::fs::copy(file, &dst).expect("copy config");
    dst
}

/// The directive names a config file sets (first word of each non-comment line).
fn directives(file: &Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split_whitespace().next().unwrap().to_ascii_lowercase())
        .collect()
}

fn config_all(r: &mut RawConn) -> BTreeMap<String, String> {
    r.cmd(&["CONFIG", "GET", "*"])
        .as_pairs()
        .into_iter()
        .map(|(k, v)| (k.as_string(), v.as_string()))
        .collect()
}

/// Asserts every parameter directive of `file` is reported by CONFIG GET.
fn assert_reported(r: &mut RawConn, file: &Path) {
    let all = config_all(r);
    for d in directives(file) {
        if matches!(
            d.as_str(),
            "user" | "rename-command" | "include" | "sentinel"
        ) {
            continue;
        }
        assert!(
            all.contains_key(&d),
            "{}: CONFIG GET does not report '{d}'",
            file.display()
        );
    }
}

fn wait_gone(node: &Node) {
    assert!(
        poll_until(READY_TIMEOUT, Duration::from_millis(20), || !node.alive()),
        "process {} still running",
        node.pid
    );
}

#[test]
fn debian_redis_conf_starts_a_daemon_that_keeps_its_settings() {
    let file = debian_file("redis.conf");
    let node = Node::start(Path::new(&server_bin()), &file, &[]);
    assert!(node.child.is_none(), "Debian's file says daemonize yes");
    let mut r = node.raw();
    assert_eq!(r.cmd(&["PING"]), Reply::simple("PONG"));
    assert_reported(&mut r, &file);
    let all = config_all(&mut r);
    assert_eq!(all["daemonize"], "yes");
    assert_eq!(all["jemalloc-bg-thread"], "yes");
    assert_eq!(
        all["proc-title-template"],
        "{title} {listen-addr} {server-mode}"
    );
    assert_eq!(all["oom-score-adj-values"], "0 200 800");
    assert_eq!(all["auto-aof-rewrite-min-size"], "67108864");
    // The settings that change nothing here are named once at startup.
    let log = node.log();
    assert_eq!(log.matches("no effect in Ferrocache").count(), 1, "{log}");
    assert!(
        log.contains("appendfsync") && log.contains("set-proc-title"),
        "{log}"
    );
    r.send_cmd(&["SHUTDOWN", "NOSAVE"]);
    wait_gone(&node);
    assert!(
        !node.dir.join("node.pid").exists(),
        "pidfile removed at exit"
    );
}

#[test]
fn debian_sentinel_conf_starts_a_sentinel_daemon() {
    let file = copy_to_temp(&debian_file("sentinel.conf"));
    let node = Node::start(Path::new(&sentinel_bin()), &file, &[]);
    assert!(node.child.is_none(), "Debian's file says daemonize yes");
    let mut r = node.raw();
    assert_eq!(r.cmd(&["PING"]), Reply::simple("PONG"));
    let masters = r.cmd(&["SENTINEL", "MASTERS"]);
    assert_eq!(masters.as_array().len(), 1, "{masters:?}");
    assert_eq!(
        r.cmd(&["SENTINEL", "CONFIG", "GET", "resolve-hostnames"])
            .as_array()[1],
        Reply::bulk("no")
    );
    let log = node.log();
    assert!(
        log.contains("no effect in Ferrocache sentinel") && log.contains("acllog-max-len"),
        "{log}"
    );
}

#[test]
fn redis_7_0_15_sentinel_files_start_a_sentinel() {
    for name in ["sentinel-7.0.15.conf", "sentinel-7.0.15-examples.conf"] {
        let file = copy_to_temp(&fixture(name));
        // The examples name scripts under /var/redis; as stock, a sentinel refuses a
        // script that is not there and executable, so they are put next to the file.
        let text = std::fs::read_to_string(&file).unwrap();
        let dir = file.parent().unwrap().to_path_buf();
        let mut text = text.clone();
        for script in ["notify.sh", "reconfig.sh"] {
            let path = dir.join(script);
            std::fs::write(&path, "#!/bin/sh\nexit 0\n").unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
            text = text.replace(&format!("/var/redis/{script}"), &path.display().to_string());
        }
        std::fs::write(&file, &text).unwrap();
        let node = Node::start(Path::new(&sentinel_bin()), &file, &[]);
        let mut r = node.raw();
        assert_eq!(r.cmd(&["PING"]), Reply::simple("PONG"), "{name}");
        let masters = r.cmd(&["SENTINEL", "MASTERS"]);
        assert_eq!(masters.as_array().len(), 1, "{name}: {masters:?}");
        if name.contains("examples") {
            let user = r.cmd(&["SENTINEL", "CONFIG", "GET", "sentinel-user"]);
            assert_eq!(user.as_array()[1], Reply::bulk("sentinel-peer"));
            let master = masters.as_array()[0].clone();
            assert_eq!(
                master.get("notification-script"),
                Some(Reply::bulk(dir.join("notify.sh").display().to_string())),
                "{master:?}"
            );
        }
    }
}

/// Starts the server on `file`, checks every directive is reported, rewrites the file,
/// restarts on the rewritten file and checks nothing changed.
fn round_trip(file: &Path) {
    let node = Node::start(Path::new(&server_bin()), file, &[]);
    let mut r = node.raw();
    assert_eq!(r.cmd(&["PING"]), Reply::simple("PONG"));
    assert_reported(&mut r, file);
    // Also move every settable parameter that has an obvious other value off its
    // current one, so the rewrite has more than the file's own values to carry.
    for (k, v) in [
        ("lazyfree-lazy-user-del", "yes"),
        ("rdbcompression", "no"),
        ("stop-writes-on-bgsave-error", "no"),
        ("appendfsync", "always"),
        ("shutdown-on-sigterm", "nosave now"),
        ("oom-score-adj-values", "0 300 900"),
        ("latency-tracking-info-percentiles", "50 99.99"),
        ("maxmemory-clients", "10%"),
        ("proc-title-template", "{title} {port}"),
        ("list-max-listpack-size", "-3"),
        ("busy-reply-threshold", "7000"),
    ] {
        assert_eq!(
            r.cmd(&["CONFIG", "SET", k, v]),
            Reply::ok(),
            "CONFIG SET {k} {v}"
        );
    }
    let before = config_all(&mut r);
    assert_eq!(r.cmd(&["CONFIG", "REWRITE"]), Reply::ok());
    let rewritten = node.dir.join("rewritten.conf");
    std::fs::copy(file, &rewritten).unwrap();
    r.send_cmd(&["SHUTDOWN", "NOSAVE"]);
    wait_gone(&node);
    let again = Node::start(Path::new(&server_bin()), &rewritten, &[]);
    let after = config_all(&mut again.raw());
    for (k, v) in &before {
        if matches!(k.as_str(), "port" | "dir" | "pidfile" | "logfile") {
            continue;
        }
        assert_eq!(
            after.get(k),
            Some(v),
            "{}: '{k}' changed across CONFIG REWRITE and restart",
            file.display()
        );
    }
}

#[test]
fn redis_7_0_15_conf_round_trips_through_config_rewrite() {
    round_trip(&copy_to_temp(&fixture("redis-7.0.15.conf")));
}

#[test]
fn every_example_directive_of_redis_7_0_15_conf_round_trips() {
    round_trip(&copy_to_temp(&fixture("redis-7.0.15-examples.conf")));
}

#[test]
fn config_get_knows_every_stock_parameter_with_stock_defaults() {
    ensure_stock_redis();
    let ours = TestServer::start(&[]);
    let stock = TestServer::start_stock(&[]);
    let theirs = config_all(&mut stock.raw());
    let mine = config_all(&mut ours.raw());
    // Set by the harness, by the machine, or (TLS) only built into some stock binaries.
    let differ_by_setup = [
        "dir",
        "pidfile",
        "port",
        "enable-debug-command",
        "repl-diskless-sync-delay",
        "bind",
        "save",
        "tls-port",
    ];
    let mut missing = Vec::new();
    let mut different = Vec::new();
    for (k, v) in &theirs {
        match mine.get(k) {
            None => missing.push(k.clone()),
            Some(m) if m != v && !differ_by_setup.contains(&k.as_str()) => {
                different.push(format!("{k}: stock '{v}', ours '{m}'"))
            }
            _ => {}
        }
    }
    assert!(
        missing.is_empty(),
        "CONFIG GET lacks stock parameters: {missing:?}"
    );
    assert!(
        different.is_empty(),
        "defaults differ from stock: {different:#?}"
    );
}

#[test]
fn cluster_mode_and_modules_are_refused_with_the_reason() {
    if is_stock_redis() {
        return;
    }
    let dir = make_temp_dir();
    let out = Command::new(server_bin())
        .args([
            "--port",
            &free_port().to_string(),
            "--cluster-enabled",
            "yes",
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Redis Cluster"), "{err}");
    let out = Command::new(server_bin())
        .args([
            "--port",
            &free_port().to_string(),
            "--loadmodule",
            "/x/m.so",
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not load Redis modules"));
}
