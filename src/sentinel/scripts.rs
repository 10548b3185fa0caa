//! User scripts as stock Sentinel runs them: a group's `notification-script` on each
//! warning-level event about it, its `client-reconfig-script` when its leader address
//! changes. Scripts run as child processes, at most [`MAX_RUNNING`] at once from a queue
//! of at most [`MAX_QUEUE`]; exit code 1 or a signal means "try again later" (up to
//! [`MAX_RETRY`] runs, the delay doubling each time), any other non-zero exit is reported
//! as `-script-error`, and a script running longer than the limit is killed
//! (`-script-timeout`). Operators rely on these semantics to page and to repoint proxies,
//! so they follow stock's exactly.

use super::Sentinel;
use crate::base::now_ms;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::os::unix::process::ExitStatusExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Scripts running at once.
pub const MAX_RUNNING: usize = 16;
/// Scripts queued (running included); the oldest waiting one is dropped beyond it.
pub const MAX_QUEUE: usize = 256;
/// Runs of one script before a failure is final.
pub const MAX_RETRY: u32 = 10;

/// One queued script run.
struct Job {
    id: u64,
    argv: Vec<String>,
    running: bool,
    pid: u32,
    /// While running: when it started; while waiting: the earliest next start (0: now).
    start_ms: u64,
    retry_num: u32,
}

/// What `SENTINEL PENDING-SCRIPTS` shows of a job.
pub struct JobView {
    /// Script path and arguments.
    pub argv: Vec<String>,
    /// Running now (else scheduled).
    pub running: bool,
    /// Its process id while running, else 0.
    pub pid: u32,
    /// Running: ms since it started; scheduled: ms until it may start.
    pub ms: u64,
    /// Runs started so far.
    pub retry_num: u32,
}

/// The script queue and its limits.
pub struct Scripts {
    jobs: Mutex<VecDeque<Job>>,
    next_id: AtomicU64,
    wake: tokio::sync::Notify,
    /// `SENTINEL DEBUG script-max-runtime`: a run is killed after this long.
    pub max_runtime_ms: AtomicU64,
    /// `SENTINEL DEBUG script-retry-delay`: the first retry's delay (doubled each time).
    pub retry_delay_ms: AtomicU64,
}

impl Default for Scripts {
    fn default() -> Self {
        Scripts {
            jobs: Mutex::new(VecDeque::new()),
            next_id: AtomicU64::new(1),
            wake: tokio::sync::Notify::new(),
            max_runtime_ms: AtomicU64::new(60_000),
            retry_delay_ms: AtomicU64::new(30_000),
        }
    }
}

impl Scripts {
    /// Queues a run of `path` with `args`; when the queue is full the oldest job not
    /// running is dropped, so a flood of events cannot grow memory without bound.
    pub fn schedule(&self, path: &str, args: &[&str]) {
        let mut argv = vec![path.to_string()];
        argv.extend(args.iter().map(|a| a.to_string()));
        let mut jobs = self.jobs.lock();
        jobs.push_back(Job {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            argv,
            running: false,
            pid: 0,
            start_ms: 0,
            retry_num: 0,
        });
        if jobs.len() > MAX_QUEUE
            && let Some(i) = jobs.iter().position(|j| !j.running)
        {
            jobs.remove(i);
        }
        drop(jobs);
        self.wake.notify_one();
    }

    /// (running, queued) for INFO.
    pub fn counts(&self) -> (usize, usize) {
        let jobs = self.jobs.lock();
        (jobs.iter().filter(|j| j.running).count(), jobs.len())
    }

    /// The queue, oldest first.
    pub fn pending(&self) -> Vec<JobView> {
        let now = now_ms();
        self.jobs
            .lock()
            .iter()
            .map(|j| JobView {
                argv: j.argv.clone(),
                running: j.running,
                pid: j.pid,
                ms: if j.running {
                    now.saturating_sub(j.start_ms)
                } else {
                    j.start_ms.saturating_sub(now)
                },
                retry_num: j.retry_num,
            })
            .collect()
    }

    /// The delay before run `retry_num + 1`: the base delay, doubled for every run
    /// after the first.
    fn retry_delay(&self, retry_num: u32) -> u64 {
        let base = self.retry_delay_ms.load(Ordering::Relaxed);
        base.saturating_mul(1u64 << retry_num.saturating_sub(1).min(32))
    }

    /// Marks the jobs that may start now as running and returns their (id, argv).
    fn take_startable(&self) -> Vec<(u64, Vec<String>)> {
        let now = now_ms();
        let mut jobs = self.jobs.lock();
        let mut running = jobs.iter().filter(|j| j.running).count();
        let mut out = Vec::new();
        for j in jobs.iter_mut() {
            if running >= MAX_RUNNING {
                break;
            }
            if j.running || j.start_ms > now {
                continue;
            }
            j.running = true;
            j.start_ms = now;
            j.retry_num += 1;
            running += 1;
            out.push((j.id, j.argv.clone()));
        }
        out
    }

    /// Records how a run ended; returns the `-script-error` payload when the failure
    /// is final.
    fn finished(&self, id: u64, signal: i32, code: i32) -> Option<String> {
        let mut jobs = self.jobs.lock();
        let i = jobs.iter().position(|j| j.id == id)?;
        let j = &mut jobs[i];
        if (signal != 0 || code == 1) && j.retry_num != MAX_RETRY {
            j.running = false;
            j.pid = 0;
            j.start_ms = now_ms() + self.retry_delay(j.retry_num);
            return None;
        }
        let failed = signal != 0 || code != 0;
        let path = j.argv[0].clone();
        jobs.remove(i);
        failed.then(|| format!("{path} {signal} {code}"))
    }
}

/// Starts queued scripts as they become due, until shutdown.
pub async fn run(sh: Arc<Sentinel>) {
    let mut shutdown = sh.shutdown.subscribe();
    loop {
        for (id, argv) in sh.scripts.take_startable() {
            start(&sh, id, argv);
        }
        tokio::select! {
            _ = sh.scripts.wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Runs one job as a child process and records its end.
fn start(sh: &Arc<Sentinel>, id: u64, argv: Vec<String>) {
    let child = tokio::process::Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            // Stock's child exits with 2 when exec fails: a final error, not retried.
            tracing::warn!(script = %argv[0], error = %e, "could not run the script");
            if let Some(p) = sh.scripts.finished(id, 0, 2) {
                sh.events.emit("-script-error", &p);
            }
            return;
        }
    };
    let pid = child.id().unwrap_or(0);
    if let Some(j) = sh.scripts.jobs.lock().iter_mut().find(|j| j.id == id) {
        j.pid = pid;
    }
    tracing::debug!(event = "+script-child", "+script-child {pid}");
    let sh = sh.clone();
    tokio::spawn(async move {
        let limit = Duration::from_millis(sh.scripts.max_runtime_ms.load(Ordering::Relaxed));
        let status = match tokio::time::timeout(limit, child.wait()).await {
            Ok(status) => status,
            Err(_) => {
                sh.events
                    .emit("-script-timeout", &format!("{} {pid}", argv[0]));
                let _ = child.start_kill();
                child.wait().await
            }
        };
        let (signal, code) = match status {
            Ok(s) => (s.signal().unwrap_or(0), s.code().unwrap_or(0)),
            Err(_) => (99, 0),
        };
        tracing::debug!(
            event = "-script-child",
            "-script-child {pid} {code} {signal}"
        );
        if let Some(p) = sh.scripts.finished(id, signal, code) {
            sh.events.emit("-script-error", &p);
        }
        sh.scripts.wake.notify_one();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_double_and_failures_end_the_job() {
        let s = Scripts::default();
        s.retry_delay_ms.store(100, Ordering::Relaxed);
        assert_eq!(
            (s.retry_delay(1), s.retry_delay(2), s.retry_delay(4)),
            (100, 200, 800)
        );
        s.schedule("/bin/true", &["a"]);
        let (id, argv) = s.take_startable().pop().unwrap();
        assert_eq!(argv, vec!["/bin/true", "a"]);
        // Exit code 1: scheduled again, after the delay.
        assert_eq!(s.finished(id, 0, 1), None);
        assert!(s.take_startable().is_empty());
        let p = s.pending();
        assert!(!p[0].running && p[0].retry_num == 1 && p[0].ms > 0);
        s.jobs.lock()[0].start_ms = 0;
        let (id, _) = s.take_startable().pop().unwrap();
        // Exit code 2: final, reported.
        assert_eq!(s.finished(id, 0, 2), Some("/bin/true 0 2".into()));
        assert_eq!(s.counts(), (0, 0));
    }

    #[test]
    fn the_queue_is_bounded_and_drops_the_oldest_waiting_job() {
        let s = Scripts::default();
        for i in 0..MAX_QUEUE + 5 {
            s.schedule("/bin/true", &[&i.to_string()]);
        }
        let p = s.pending();
        assert_eq!(p.len(), MAX_QUEUE);
        assert_eq!(p[0].argv[1], "5");
        assert_eq!(s.take_startable().len(), MAX_RUNNING);
    }
}
