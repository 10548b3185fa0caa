//! Process-level behaviour: config file plus overrides, startup errors, CONFIG REWRITE,
//! graceful shutdown on signals, and the startup log line.
//! ferrocache-specific: log texts and error formats are Ferrocache's own (stock
//! redis-server words them differently), so these tests skip on stock Redis.

mod common;

use common::*;
use std::process::{Command, Stdio};
use std::time::Duration;

fn skip_on_stock() -> bool {
    is_stock_redis()
}

#[test]
fn config_file_then_command_line_overrides() {
    if skip_on_stock() {
        return;
    }
    let s = TestServer::start_with_config(
        Some("# a comment\nmaxclients 7\ntimeout 30s\nhz 20\n"),
        &["--maxclients", "100"],
    );
    let mut r = s.raw();
    // The command line wins over the file; the file wins over the defaults.
    assert_eq!(
        r.cmd(&["CONFIG", "GET", "maxclients"]),
        Reply::bulks(&["maxclients", "100"])
    );
    assert_eq!(r.cmd(&["CONFIG", "GET", "hz"]), Reply::bulks(&["hz", "20"]));
    // Humantime durations are accepted and reported in seconds.
    assert_eq!(
        r.cmd(&["CONFIG", "GET", "timeout"]),
        Reply::bulks(&["timeout", "30"])
    );
    let log = s.log_tail(50);
    assert!(
        log.contains("server.conf"),
        "startup line names the config file:\n{log}"
    );
    assert!(
        log.contains(&format!("port={}", s.port)),
        "startup line names the port:\n{log}"
    );
    assert!(log.contains("pid="), "startup line names the pid:\n{log}");
    assert!(
        log.contains("version="),
        "startup line names the version:\n{log}"
    );
}

#[test]
fn unknown_directive_is_a_startup_error_naming_file_and_line() {
    if skip_on_stock() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("fc-badconf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("bad.conf");
    std::fs::write(&conf, "port 0\n\nnot-a-directive yes\n").unwrap();
    let out = Command::new(server_bin())
        .arg(&conf)
        .stdin(Stdio::null())
        .output()
        .expect("run server");
    assert!(!out.status.success(), "server must refuse to start");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.conf:3"),
        "error names file and line: {err}"
    );
    assert!(
        err.contains("not-a-directive"),
        "error quotes the line: {err}"
    );
    // A bad value on the command line is refused too.
    let out = Command::new(server_bin())
        .args(["--port", "0", "--maxclients", "lots"])
        .stdin(Stdio::null())
        .output()
        .expect("run server");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("maxclients"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn config_rewrite_updates_the_file() {
    if skip_on_stock() {
        return;
    }
    let s = TestServer::start_with_config(Some("# keep me\nmaxclients 50\n"), &[]);
    let mut r = s.raw();
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "maxclients", "60", "hz", "15"]),
        Reply::ok()
    );
    assert_eq!(r.cmd(&["CONFIG", "REWRITE"]), Reply::ok());
    let text = std::fs::read_to_string(s.dir().join("server.conf")).unwrap();
    assert!(text.contains("# keep me"), "comments survive:\n{text}");
    assert!(
        text.contains("maxclients 60"),
        "value replaced in place:\n{text}"
    );
    assert!(!text.contains("maxclients 50"), "old value gone:\n{text}");
    assert!(text.contains("hz 15"), "changed params appended:\n{text}");
    // Without a config file, REWRITE is an error as in Redis.
    let plain = TestServer::start(&[]);
    let e = plain.raw().cmd(&["CONFIG", "REWRITE"]);
    assert_eq!(
        e,
        Reply::err("ERR The server is running without a config file")
    );
}

#[test]
fn sigterm_shuts_down_gracefully() {
    if skip_on_stock() {
        return;
    }
    let mut s = TestServer::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.cmd(&["SET", "k", "v"]), Reply::ok());
    let pid = s.pid().unwrap().to_string();
    let st = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(st.success());
    let status = s
        .wait_exit(Duration::from_secs(10))
        .expect("exits after SIGTERM");
    assert!(status.success(), "clean exit code, got {status}");
    let log = s.log_tail(20);
    assert!(log.contains("SIGTERM"), "{log}");
    assert!(log.contains("ready to exit"), "{log}");
}

#[test]
fn port_zero_picks_a_free_port_and_logs_it() {
    if skip_on_stock() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("fc-port0-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log_path = dir.join("log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new(server_bin())
        .args(["--port", "0", "--bind", "127.0.0.1", "--save", ""])
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut port = None;
    let found = poll_until(Duration::from_secs(10), Duration::from_millis(10), || {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        port = text
            .lines()
            .find(|l| l.contains("Ready to accept connections"))
            .and_then(|l| l.split("port=").nth(1))
            .and_then(|p| p.split_whitespace().next())
            .and_then(|p| {
                p.trim_matches(|c: char| !c.is_ascii_digit())
                    .parse::<u16>()
                    .ok()
            });
        port.is_some()
    });
    assert!(found, "ready line with the bound port");
    let port = port.unwrap();
    assert_ne!(port, 0);
    let mut r = RawConn::connect(&format!("127.0.0.1:{port}"));
    assert_eq!(r.cmd(&["PING"]), Reply::simple("PONG"));
    assert_eq!(
        r.cmd(&["CONFIG", "GET", "port"]),
        Reply::bulks(&["port", "0"])
    );
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn save_then_restart_loads_the_snapshot() {
    if skip_on_stock() {
        return;
    }
    let mut s = TestServer::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.cmd(&["SET", "plain", "v"]), Reply::ok());
    assert_eq!(r.cmd(&["SET", "num", "12345"]), Reply::ok());
    assert_eq!(r.cmd(&["SET", "ttl", "x", "EX", "1000"]), Reply::ok());
    assert_eq!(r.cmd(&["SELECT", "3"]), Reply::ok());
    assert_eq!(r.cmd(&["SET", "db3", &"long ".repeat(100)]), Reply::ok());
    let info = r.cmd(&["INFO", "persistence"]).as_string();
    assert_eq!(
        info_field(&info, "rdb_changes_since_last_save").as_deref(),
        Some("4")
    );
    let before = r.cmd(&["LASTSAVE"]).as_int();
    assert_eq!(r.cmd(&["SAVE"]), Reply::ok());
    assert!(r.cmd(&["LASTSAVE"]).as_int() >= before);
    let info = r.cmd(&["INFO", "persistence"]).as_string();
    assert_eq!(
        info_field(&info, "rdb_changes_since_last_save").as_deref(),
        Some("0")
    );
    assert_eq!(info_field(&info, "rdb_saves").as_deref(), Some("1"));
    let digest = r.cmd(&["DEBUG", "DIGEST"]);
    let file = s.dir().join("dump.rdb");
    assert!(file.exists());
    // Stock redis-check-rdb accepts it.
    let check = Command::new(stock_bin("redis-check-rdb"))
        .arg(&file)
        .output()
        .expect("run redis-check-rdb");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    r.send_cmd(&["SHUTDOWN", "NOSAVE"]);
    assert!(s.wait_exit(Duration::from_secs(10)).is_some());
    // A new server started in that directory loads it: same data, TTL kept.
    let dir = s.dir().display().to_string();
    let s2 = TestServer::start(&["--dir", &dir]);
    let mut r2 = s2.raw();
    assert_eq!(r2.cmd(&["DEBUG", "DIGEST"]), digest);
    assert_eq!(r2.cmd(&["GET", "num"]), Reply::bulk("12345"));
    let ttl = r2.cmd(&["TTL", "ttl"]).as_int();
    assert!((990..=1000).contains(&ttl), "{ttl}");
    assert!(s2.log_tail(50).contains("DB loaded from disk"));
}

#[test]
fn shutdown_save_and_sigterm_with_save_points_write_the_snapshot() {
    if skip_on_stock() {
        return;
    }
    let mut s = TestServer::start(&[]);
    let mut r = s.raw();
    r.cmd(&["SET", "k", "v"]);
    assert_eq!(
        r.cmd(&["SHUTDOWN", "SAVE", "NOSAVE"]),
        Reply::err("ERR syntax error")
    );
    r.send_cmd(&["SHUTDOWN", "SAVE"]);
    assert!(
        s.wait_exit(Duration::from_secs(10))
            .expect("exits")
            .success()
    );
    assert!(s.dir().join("dump.rdb").exists());

    // NOSAVE writes nothing.
    let mut s = TestServer::start(&["--save", "3600 1"]);
    let mut r = s.raw();
    r.cmd(&["SET", "k", "v"]);
    r.send_cmd(&["SHUTDOWN", "NOSAVE"]);
    assert!(s.wait_exit(Duration::from_secs(10)).is_some());
    assert!(!s.dir().join("dump.rdb").exists());

    // SIGTERM saves when save points are configured.
    let mut s = TestServer::start(&["--save", "3600 1"]);
    let mut r = s.raw();
    r.cmd(&["SET", "k", "v"]);
    let pid = s.pid().unwrap().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(
        s.wait_exit(Duration::from_secs(10))
            .expect("exits")
            .success()
    );
    assert!(s.dir().join("dump.rdb").exists());
}

#[test]
fn corrupt_snapshot_refuses_to_start() {
    if skip_on_stock() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("fc-corrupt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("dump.rdb"),
        b"REDIS0010\xfa\x09redis-ver\x067.0.15garbage",
    )
    .unwrap();
    let log_path = dir.join("log");
    let mut child = Command::new(server_bin())
        .args([
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--dir",
            &dir.display().to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::from(std::fs::File::create(&log_path).unwrap()))
        .stderr(Stdio::null())
        .spawn()
        .expect("run server");
    let mut status = None;
    poll_until(Duration::from_secs(10), Duration::from_millis(10), || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("server kept running with a corrupt snapshot");
    }
    assert!(
        !status.unwrap().success(),
        "must not start with a corrupt snapshot"
    );
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("Fatal error loading the DB"), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}
