//! Background jobs run `hz` times per second: active expiry and stats sampling.

use crate::server::Server;
use crate::store::NUM_DBS;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Keys sampled per database per step (Redis's ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP).
const SAMPLES_PER_STEP: usize = 20;

/// One active expiry cycle, bounded in time like Redis's slow cycle: at most 25% of the
/// cron period (scaled by `active-expire-effort`). Repeats a database while more than 10%
/// of its sample was expired. The sequencer is taken per step, so writers interleave.
pub fn active_expire_cycle(srv: &Server, budget: Duration) -> usize {
    let start = Instant::now();
    let mut total = 0;
    for db in 0..NUM_DBS {
        loop {
            let now = crate::base::now_ms();
            // Not while a script runs (it holds the keyspace; Redis's cron waits too).
            let Some(mut txn) = srv.store.write_unless(now, || srv.scripts.run.is_running()) else {
                return total;
            };
            let (sampled, expired) = txn.expire_sample(db, SAMPLES_PER_STEP);
            drop(txn);
            total += expired;
            if sampled == 0 || expired * 10 <= sampled || start.elapsed() >= budget {
                break;
            }
        }
        if start.elapsed() >= budget {
            break;
        }
    }
    total
}

/// The cron frequency: `hz`, doubled (up to 500) under `dynamic-hz` while there are
/// more than 200 clients per tick, as Redis does, so per-client housekeeping (timeouts,
/// output limits) keeps its pace with many connections.
fn effective_hz(srv: &Server) -> u64 {
    let mut hz = srv.config.live.hz.load(Ordering::Relaxed).clamp(1, 500);
    if srv.config.live.dynamic_hz.load(Ordering::Relaxed) {
        let clients = srv.clients.lock().len() as u64;
        while clients / hz > 200 && hz < 500 {
            hz = (hz * 2).min(500);
        }
    }
    hz
}

/// Runs the cron until shutdown.
pub async fn run(srv: Arc<Server>) {
    let mut shutdown = srv.shutdown.subscribe();
    let mut last_cmds = srv.stats.commands_processed.load(Ordering::Relaxed);
    let mut last_sample = Instant::now();
    loop {
        let hz = effective_hz(&srv);
        srv.effective_hz.store(hz, Ordering::Relaxed);
        let period = Duration::from_millis(1000 / hz);
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = shutdown.changed() => return,
        }
        if srv.cron_paused.load(Ordering::Relaxed) {
            continue;
        }
        crate::store::value::refresh_lru_clock();
        crate::replication::leader::ping_followers(&srv);
        srv.lease.log_changes(!srv.store.follower_mode());
        crate::replication::switchover::tick(&srv);
        srv.migrate_sockets.close_idle();
        let scheduled =
            srv.bgsave_scheduled.load(Ordering::Relaxed) && !srv.store.snapshot_in_progress();
        if scheduled || crate::server::persistence::save_point_due(&srv) {
            let Some(seq) = srv.store.read_lock_unless(|| srv.scripts.run.is_running()) else {
                // A script runs: the save is tried again on the next tick.
                continue;
            };
            srv.bgsave_scheduled.store(false, Ordering::Relaxed);
            if let Err(e) = crate::server::persistence::bgsave(&srv, &seq) {
                tracing::warn!(error = %e, "Can't start a background save for a save point");
                srv.last_bgsave_ok.store(false, Ordering::Relaxed);
                srv.last_bgsave_try
                    .store(crate::base::now_ms() / 1000, Ordering::Relaxed);
            }
        }
        if srv.aof_rewrite.scheduled.load(Ordering::Relaxed)
            && !srv.store.snapshot_in_progress()
            && let Some(seq) = srv.store.read_lock_unless(|| srv.scripts.run.is_running())
            && let Err(e) = crate::server::persistence::bgrewriteaof(&srv, &seq)
        {
            tracing::warn!(error = %e, "Can't start a scheduled AOF rewrite");
        }
        let effort = srv
            .config
            .live
            .expire_effort
            .load(Ordering::Relaxed)
            .clamp(1, 10);
        let budget = period * (25 + 2 * (effort as u32 - 1)) / 100;
        let srv2 = srv.clone();
        // The cycle takes locks and may run for its whole budget: keep it off the reactor.
        // CLIENT PAUSE keeps the dataset static (and ends here once its time is up).
        if srv.pause_remaining_ms().is_none() && srv.active_expire.load(Ordering::Relaxed) {
            let _ = tokio::task::spawn_blocking(move || {
                let started = Instant::now();
                active_expire_cycle(&srv2, budget);
                srv2.latency_sample("expire-cycle", started.elapsed());
            })
            .await;
        }
        srv.deliver_invalidations(None);
        let max_tracked = srv
            .config
            .live
            .tracking_table_max_keys
            .load(Ordering::Relaxed);
        srv.tracking.enforce_limit(&srv, max_tracked, None);
        if last_sample.elapsed() >= Duration::from_millis(100) {
            let cmds = srv.stats.commands_processed.load(Ordering::Relaxed);
            let secs = last_sample.elapsed().as_secs_f64();
            srv.stats.instantaneous_ops.store(
                (cmds.saturating_sub(last_cmds) as f64 / secs) as u64,
                Ordering::Relaxed,
            );
            last_cmds = cmds;
            last_sample = Instant::now();
        }
    }
}
