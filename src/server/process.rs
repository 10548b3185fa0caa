//! The process around the server, as redis.conf describes it: `daemonize`, `supervised`,
//! `disable-thp`, `oom-score-adj`. Existing deployments (init scripts, systemd units)
//! rely on these, so a config file written for Redis must behave the same here.

use super::Server;
use crate::config::Config;
use std::sync::atomic::{AtomicI64, Ordering};

/// `daemonize yes`: detaches from the terminal before any thread starts (a fork keeps
/// only the calling thread): the parent exits 0, the child starts a new session and
/// reads/writes nothing from the terminal. Call first thing in `main`, before the runtime.
pub fn daemonize() -> std::io::Result<()> {
    // SAFETY: called while the process has a single thread, so the child is a faithful
    // copy; no locks can be held by a thread that would not exist in the child.
    match unsafe { libc::fork() } {
        -1 => return Err(std::io::Error::last_os_error()),
        0 => {}
        _ => std::process::exit(0),
    }
    // SAFETY: plain system calls on this process's own descriptors.
    unsafe {
        libc::setsid();
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            libc::dup2(null, 0);
            libc::dup2(null, 1);
            libc::dup2(null, 2);
            if null > 2 {
                libc::close(null);
            }
        }
    }
    Ok(())
}

/// Whether this process should daemonize: `daemonize yes`, unless a supervisor that
/// expects to own the process (systemd, upstart) is in charge, as Redis decides.
pub fn should_daemonize(cfg: &Config) -> bool {
    cfg.get("daemonize").as_deref() == Some("yes") && supervisor(cfg).is_none()
}

/// The supervisor to tell when the server is ready (`supervised`), if any.
fn supervisor(cfg: &Config) -> Option<&'static str> {
    let systemd = std::env::var_os("NOTIFY_SOCKET").is_some();
    let upstart = std::env::var_os("UPSTART_JOB").is_some();
    match cfg.get("supervised").as_deref() {
        Some("systemd") if systemd => Some("systemd"),
        Some("upstart") if upstart => Some("upstart"),
        Some("auto") if systemd => Some("systemd"),
        Some("auto") if upstart => Some("upstart"),
        _ => None,
    }
}

/// Tells the supervisor the server accepts connections: systemd by `READY=1` on its
/// notify socket, upstart by stopping itself (upstart's `expect stop`).
pub fn notify_ready(cfg: &Config) {
    match supervisor(cfg) {
        Some("systemd") => {
            let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
                return;
            };
            let sent = std::os::unix::net::UnixDatagram::unbound()
                .and_then(|s| s.send_to(b"READY=1\nSTATUS=Ready to accept connections\n", &path));
            match sent {
                Ok(_) => tracing::info!("Supervised by systemd: told it we are ready"),
                Err(e) => tracing::warn!(error = %e, "could not notify systemd"),
            }
        }
        Some("upstart") => {
            tracing::info!("Supervised by upstart: stopping until it continues us");
            // SAFETY: raising a signal on ourselves.
            unsafe {
                libc::raise(libc::SIGSTOP);
            }
        }
        _ => {}
    }
}

/// `disable-thp yes`: opts this process out of transparent huge pages, which make memory
/// usage and latency spikier for a cache with many small allocations.
pub fn apply_thp(cfg: &Config) {
    if cfg.get("disable-thp").as_deref() != Some("yes") {
        return;
    }
    // SAFETY: prctl with integer arguments only.
    let rc = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
    if rc != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "could not disable transparent huge pages");
    }
}

/// The `oom_score_adj` the process had at startup, before any setting changed it
/// (`i64::MIN` until first read).
static BASE_OOM_SCORE: AtomicI64 = AtomicI64::new(i64::MIN);

const OOM_SCORE_FILE: &str = "/proc/self/oom_score_adj";

/// `oom-score-adj` and `oom-score-adj-values`: sets the kernel OOM killer's score for
/// this process's role (leader: first value, follower: second), relative to the score
/// it started with or absolute; `no` restores the starting score.
pub fn apply_oom_score(srv: &Server) {
    let read = || {
        std::fs::read_to_string(OOM_SCORE_FILE)
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
    };
    if BASE_OOM_SCORE.load(Ordering::Relaxed) == i64::MIN {
        let Some(base) = read() else {
            return;
        };
        BASE_OOM_SCORE.store(base, Ordering::Relaxed);
    }
    let base = BASE_OOM_SCORE.load(Ordering::Relaxed);
    let values: Vec<i64> = srv
        .config
        .get("oom-score-adj-values")
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    let for_role = values
        .get(usize::from(srv.store.follower_mode()))
        .copied()
        .unwrap_or(0);
    let target = match srv.config.get("oom-score-adj").as_deref() {
        Some("yes") | Some("relative") => (base + for_role).clamp(-1000, 1000),
        Some("absolute") => for_role,
        _ => base,
    };
    if read() == Some(target) {
        return;
    }
    if let Err(e) = std::fs::write(OOM_SCORE_FILE, target.to_string()) {
        tracing::warn!(error = %e, score = target, "Unable to write oom_score_adj");
    }
}

/// Logs, once at startup, the parameters the file or command line set that have no
/// effect here, so nobody relies on one unknowingly.
pub fn log_inert_settings(cfg: &Config) {
    let given = cfg.given.lock();
    let inert: Vec<&str> = crate::config::params::PARAMS
        .iter()
        .filter(|p| p.inert && given.contains(&p.name))
        .map(|p| p.name)
        .collect();
    if !inert.is_empty() {
        tracing::warn!(
            settings = %inert.join(" "),
            "Accepted for compatibility with Redis, no effect in Ferrocache"
        );
    }
}
