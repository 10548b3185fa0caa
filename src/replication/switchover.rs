//! `FAILOVER [TO host port [FORCE]] [TIMEOUT ms] | ABORT`: a coordinated switchover with no
//! write lost by construction (Redis 6.2+). The leader pauses writes, waits until a
//! follower has acknowledged everything, then becomes that follower's follower, sending
//! `PSYNC <replid> <offset> FAILOVER`, which makes the follower promote itself and continue
//! the same history.

use crate::server::Server;
use std::sync::Arc;

/// Where a switchover is (INFO `master_failover_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SwitchState {
    /// None running.
    #[default]
    None,
    /// Writes paused, waiting for a follower to acknowledge the whole stream.
    WaitForSync,
    /// Handing over: we are connecting to the target as its follower.
    InProgress,
}

impl SwitchState {
    /// The name INFO prints.
    pub fn name(self) -> &'static str {
        match self {
            SwitchState::None => "no-failover",
            SwitchState::WaitForSync => "waiting-for-sync",
            SwitchState::InProgress => "failover-in-progress",
        }
    }
}

/// The switchover in progress, if any.
#[derive(Debug, Default)]
pub struct Switchover {
    /// Its state.
    pub state: SwitchState,
    /// The follower to hand over to (chosen when it catches up if not given).
    pub target: Option<(String, u16)>,
    /// Give up (or, with FORCE, hand over anyway) at this Unix ms.
    pub end_ms: Option<u64>,
    /// FORCE: hand over at the timeout even if the target is behind.
    pub force: bool,
    /// The stream offset when writes were paused: a follower that acknowledged it has
    /// every write (later bytes are only our own GETACK).
    pub wait_offset: u64,
}

/// Starts a switchover once FAILOVER has paused writes and read the stream offset:
/// the cron hands over when `target` (or any follower) has acknowledged `wait_offset`,
/// or gives up (with `force`, hands over anyway) at `end_ms`.
pub fn begin(
    srv: &Arc<Server>,
    target: Option<(String, u16)>,
    end_ms: Option<u64>,
    force: bool,
    wait_offset: u64,
) {
    *srv.switchover.lock() = Switchover {
        state: SwitchState::WaitForSync,
        target,
        end_ms,
        force,
        wait_offset,
    };
    crate::replication::leader::request_acks(srv);
}

/// Called by the cron: times out, or hands over once the target (or any follower) has
/// acknowledged the whole stream.
pub fn tick(srv: &Arc<Server>) {
    let (target, end_ms, force, wait_offset) = {
        let s = srv.switchover.lock();
        if s.state != SwitchState::WaitForSync {
            return;
        }
        (s.target.clone(), s.end_ms, s.force, s.wait_offset)
    };
    let now = crate::base::now_ms();
    if end_ms.is_some_and(|e| e <= now) {
        if force && let Some(t) = target {
            tracing::info!(target = %format!("{}:{}", t.0, t.1), "FAILOVER time out exceeded, failing over.");
            hand_over(srv, t);
        } else {
            abort(srv, "Replica never caught up before timeout");
        }
        return;
    }
    let offset = wait_offset;
    let caught_up = crate::replication::leader::follower_lines(srv)
        .into_iter()
        .find(|l| {
            l.offset >= offset
                && l.state == "online"
                && target
                    .as_ref()
                    .is_none_or(|(h, p)| &l.ip == h && l.port == *p)
        });
    // Without one, wait: followers also acknowledge every second on their own.
    if let Some(l) = caught_up {
        tracing::info!(target = %format!("{}:{}", l.ip, l.port), offset, "Failover target {}:{} is synced, failing over.", l.ip, l.port);
        hand_over(srv, (l.ip, l.port));
    }
}

fn hand_over(srv: &Arc<Server>, target: (String, u16)) {
    {
        let mut s = srv.switchover.lock();
        s.state = SwitchState::InProgress;
        s.target = Some(target.clone());
    }
    crate::replication::follower::set_leader(srv, Some(target));
}

/// The target answered our `PSYNC ... FAILOVER`: done when it accepted, else back to
/// leading.
pub fn psync_answered(srv: &Arc<Server>, accepted: bool) {
    if srv.switchover.lock().state != SwitchState::InProgress {
        return;
    }
    if accepted {
        tracing::warn!("FAILOVER completed: now following the promoted replica");
        clear(srv);
    } else {
        abort(srv, "Failover target rejected psync request");
    }
}

/// True while writes are paused for a FAILOVER and followers are catching up.
pub fn in_wait(srv: &Server) -> bool {
    srv.switchover.lock().state == SwitchState::WaitForSync
}

/// True while we must send `PSYNC ... FAILOVER` to our new leader.
pub fn in_progress(srv: &Server) -> bool {
    srv.switchover.lock().state == SwitchState::InProgress
}

pub fn abort(srv: &Arc<Server>, why: &str) {
    let state = srv.switchover.lock().state;
    tracing::warn!(reason = why, "FAILOVER aborted: {}", why);
    if state == SwitchState::InProgress {
        crate::replication::follower::set_leader(srv, None);
    }
    clear(srv);
}

fn clear(srv: &Server) {
    *srv.switchover.lock() = Switchover::default();
    srv.set_pause(None);
}
