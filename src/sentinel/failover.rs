//! The sentinel's timer (every 100 ms): subjective and objective down detection, the vote
//! (one per epoch, as stock Sentinel), and the failover state machine:
//! wait_start (elected?) -> select_slave -> send_slaveof_noone -> wait_promotion ->
//! reconf_slaves -> update_config (+switch-master), one function per state as stock's
//! `sentinelFailoverStateMachine`.

use super::Sentinel;
use super::events::Event;
use super::link::Auth;
use super::monitor::send_replicaof;
use super::state::{
    ELECTION_TIMEOUT, FailoverState, Master, Node, PING_PERIOD, Reconf, Role, SLAVE_RECONF_TIMEOUT,
    State, TiltNow,
};
use crate::base::now_ms;
use rand::RngExt;
use std::sync::Arc;
use std::time::Duration;

/// Other sentinels' down opinions older than this are ignored (stock: 5 s).
const OPINION_VALID_MS: u64 = 5000;
/// The pause before trying to lead a failover grows by this per reachable sentinel with
/// a smaller run id: sentinels that see the leader down together try one after the
/// other, the first at once, so they do not split the vote (stock pauses a random 0-1 s,
/// half a second lost on average). Vote requests leave at once (`Sentinel::vote_wanted`),
/// far within this step.
const RANK_STEP_MS: u64 = 100;
/// Random jitter on top, in case two sentinels rank the same (one not yet knowing the
/// other).
const START_JITTER_MS: u64 = 25;
/// The longest selection waits for followers' offsets read after the leader went down
/// (`awaiting_fresh_offsets`); they are asked for at once, so this is rarely reached.
const FRESH_OFFSETS_WAIT_MS: u64 = 1000;

/// Runs the timer until shutdown: down detection and failovers progress only here (and
/// in the `step` SENTINEL FAILOVER runs, so a forced failover starts at once).
pub async fn run(sh: Arc<Sentinel>) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut shutdown = sh.shutdown.subscribe();
    let mut last_flush = 0u64;
    loop {
        // A pending failover start is run at its own instant rather than at the next
        // tick: quantized to ticks, the sentinels' random pauses collapse onto the same
        // 100 ms slot and all vote for themselves (a split vote costs a whole retry).
        let start_in = next_failover_start(&sh).map(|at| at.saturating_sub(now_ms()));
        tokio::select! {
            _ = tick.tick() => {}
            _ = sh.progress.notified() => {}
            _ = async {
                match start_in {
                    Some(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
                    None => std::future::pending().await,
                }
            } => {}
            _ = shutdown.changed() => return,
        }
        super::monitor::spawn_missing(&sh);
        step(&sh);
        let now = now_ms();
        if now.saturating_sub(last_flush) >= 200 {
            last_flush = now;
            sh.flush_config();
        }
    }
}

/// The earliest moment a group waits for before trying to start its failover.
fn next_failover_start(sh: &Sentinel) -> Option<u64> {
    let now = now_ms();
    sh.state
        .lock()
        .masters
        .values()
        .filter(|m| {
            m.o_down_since_ms > 0
                && m.failover == FailoverState::None
                && m.failover_delay_until_ms > now
        })
        .map(|m| m.failover_delay_until_ms)
        .min()
}

type Events = Vec<Event>;
type Commands = Vec<Action>;

/// What the timer asks the nodes to do, sent after the state lock is released.
pub enum Action {
    /// REPLICAOF on a node (None: promote it).
    Repoint(super::monitor::Repoint),
    /// A manual failover while the leader is reachable: `FAILOVER TO <promoted>` on the
    /// leader hands over with no write lost (writes pause until the promoted follower
    /// has them all); if the leader refuses, the follower is promoted directly.
    Switchover {
        /// The leader's address.
        leader: String,
        /// The follower to promote ("ip:port").
        promoted: String,
        /// Credentials.
        auth: Auth,
        /// Hand-over timeout.
        timeout_ms: u64,
    },
}

/// One timer step over every group. State changes are made under the lock; events and
/// node commands are collected and sent after it is released, so no I/O ever holds it.
pub fn step(sh: &Arc<Sentinel>) {
    let mut events = Events::new();
    let mut commands = Commands::new();
    {
        let mut st = sh.state.lock();
        let now = now_ms();
        if st.tilt.check(now) {
            tracing::warn!(
                "entering TILT mode: the clock jumped or this process was stopped; acting on nothing for {} ms",
                st.tilt.period_ms
            );
            events.push(Event::new("+tilt", "#tilt mode entered"));
        }
        let names: Vec<String> = match st.tilt.poll(now) {
            TiltNow::On => Vec::new(),
            TiltNow::Ended => {
                events.push(Event::new("-tilt", "#tilt mode exited"));
                st.masters.keys().cloned().collect()
            }
            TiltNow::Off => st.masters.keys().cloned().collect(),
        };
        for name in names {
            check_down(&mut st, &name, &mut events);
            maybe_start_failover(&mut st, &name, &mut events);
            // Run consecutive states in one step (elected -> select -> send ...): each
            // tick saved is time clients spend without a leader.
            for _ in 0..8 {
                let before = st.masters.get(&name).map(|m| m.failover);
                run_failover(&mut st, &name, &mut events, &mut commands);
                if st.masters.get(&name).map(|m| m.failover) == before {
                    break;
                }
            }
        }
    }
    if events.iter().any(|e| e.kind == "+try-failover") {
        sh.vote_wanted.notify_waiters();
    }
    sh.emit_all(events);
    for action in commands {
        let tls = sh.link_tls();
        tokio::spawn(async move {
            match action {
                Action::Repoint((addr, auth, to)) => {
                    if let Err(e) = send_replicaof(&addr, &auth, &tls, to).await {
                        tracing::warn!(addr, error = %e, "could not send REPLICAOF");
                    }
                }
                Action::Switchover {
                    leader,
                    promoted,
                    auth,
                    timeout_ms,
                } => {
                    if let Err(e) = switchover(&leader, &promoted, &auth, &tls, timeout_ms).await {
                        tracing::warn!(leader, promoted, error = %e, "coordinated FAILOVER refused, promoting directly");
                        if let Err(e) = send_replicaof(&promoted, &auth, &tls, None).await {
                            tracing::warn!(promoted, error = %e, "could not send REPLICAOF NO ONE");
                        }
                    }
                }
            }
        });
    }
}

/// Sends `FAILOVER TO ip port TIMEOUT ms` to the leader; Ok when it accepted.
async fn switchover(
    leader: &str,
    promoted: &str,
    auth: &Auth,
    tls: &super::link::Tls,
    timeout_ms: u64,
) -> Result<(), String> {
    let (ip, port) = promoted.rsplit_once(':').ok_or("bad address")?;
    let t = Duration::from_secs(2);
    let mut link = super::link::Link::open(leader, auth, tls, None, t)
        .await
        .map_err(|e| e.to_string())?;
    let reply = link
        .call(
            &[
                "FAILOVER",
                "TO",
                ip,
                port,
                "TIMEOUT",
                &timeout_ms.to_string(),
            ],
            t,
        )
        .await
        .map_err(|e| e.to_string())?;
    match reply {
        super::link::Frame::SimpleString(_) => Ok(()),
        other => Err(super::link::frame_text(&other).unwrap_or_default()),
    }
}

fn node_event(n: &Node, m: &Master, kind: &str) -> String {
    if kind == "master" {
        format!("master {}", m.at())
    } else {
        format!("slave {} {} {} @ {}", n.name(), n.shown(), n.port, m.at())
    }
}

fn check_down(st: &mut State, name: &str, events: &mut Events) {
    let now = now_ms();
    let myid = st.myid.clone();
    let Some(m) = st.masters.get_mut(name) else {
        return;
    };
    let down_after = m.cfg.down_after_ms;
    // Subjectively down: leader, followers, peers.
    let sdown = m.node.check_sdown(now, down_after)
        || (m.node.role == Role::Slave
            && now.saturating_sub(m.node.role_reported_ms) > down_after + 2 * 10_000);
    if sdown && m.node.s_down_since_ms == 0 {
        m.node.s_down_since_ms = now;
        events.push(Event::new("+sdown", format!("master {}", m.at())));
    } else if !sdown && m.node.s_down_since_ms > 0 {
        m.node.s_down_since_ms = 0;
        events.push(Event::new("-sdown", format!("master {}", m.at())));
    }
    let at = m.at();
    for n in m.replicas.values_mut() {
        let d = n.check_sdown(now, down_after);
        let ev = format!("slave {} {} {} @ {}", n.name(), n.shown(), n.port, at);
        if d && n.s_down_since_ms == 0 {
            n.s_down_since_ms = now;
            events.push(Event::new("+sdown", ev));
        } else if !d && n.s_down_since_ms > 0 {
            n.s_down_since_ms = 0;
            events.push(Event::new("-sdown", ev));
        }
    }
    for p in m.sentinels.values_mut() {
        let d = p.node.check_sdown(now, down_after);
        let ev = format!("sentinel {} {} {} @ {}", p.run_id, p.ip, p.port, at);
        if d && p.node.s_down_since_ms == 0 {
            p.node.s_down_since_ms = now;
            events.push(Event::new("+sdown", ev));
        } else if !d && p.node.s_down_since_ms > 0 {
            p.node.s_down_since_ms = 0;
            events.push(Event::new("-sdown", ev));
        }
    }
    // Objectively down: quorum of sentinels (us included) say so.
    let mut agree = 0;
    if m.node.s_down_since_ms > 0 {
        agree = 1 + m
            .sentinels
            .values()
            .filter(|p| p.says_down && now.saturating_sub(p.reply_ms) < OPINION_VALID_MS)
            .count();
    }
    let odown = m.node.s_down_since_ms > 0 && agree >= m.cfg.quorum;
    if odown && m.o_down_since_ms == 0 {
        m.o_down_since_ms = now;
        let rank = m
            .sentinels
            .values()
            .filter(|p| p.node.s_down_since_ms == 0 && p.run_id < myid)
            .count() as u64;
        m.failover_delay_until_ms =
            now + rank * RANK_STEP_MS + rand::rng().random_range(0..START_JITTER_MS);
        events.push(Event::new(
            "+odown",
            format!("master {} #quorum {}/{}", m.at(), agree, m.cfg.quorum),
        ));
    } else if !odown && m.o_down_since_ms > 0 {
        m.o_down_since_ms = 0;
        events.push(Event::new("-odown", format!("master {}", m.at())));
    }
}

/// Stock `sentinelVoteLeader`: one vote per epoch, for the first sentinel that asks.
/// Returns our current vote for `epoch` (run id).
pub fn vote(
    st: &mut State,
    name: &str,
    req_epoch: u64,
    req_runid: &str,
    events: &mut Events,
) -> (Option<String>, u64) {
    if req_epoch > st.current_epoch {
        st.current_epoch = req_epoch;
        st.dirty = true;
        events.push(Event::of_master(name, "+new-epoch", req_epoch.to_string()));
    }
    let current = st.current_epoch;
    let myid = st.myid.clone();
    let Some(m) = st.masters.get_mut(name) else {
        return (None, 0);
    };
    if m.cfg.leader_epoch < req_epoch && current <= req_epoch {
        m.leader = Some(req_runid.to_string());
        m.cfg.leader_epoch = current;
        st.dirty = true;
        let m = st.masters.get_mut(name).expect("present");
        events.push(Event::of_master(
            name,
            "+vote-for-leader",
            format!("{} {}", req_runid, m.cfg.leader_epoch),
        ));
        // Voting for someone else: do not start our own failover for a while.
        if req_runid != myid {
            m.failover_start_ms = now_ms() + rand::rng().random_range(0..1000);
        }
    }
    let m = st.masters.get(name).expect("present");
    (m.leader.clone(), m.cfg.leader_epoch)
}

/// Stock `sentinelGetLeader`: the sentinel with a majority of all known sentinels' votes
/// (and at least the quorum) for `epoch`, if any.
fn leader_for(st: &mut State, name: &str, epoch: u64, events: &mut Events) -> Option<String> {
    let m = st.masters.get(name)?;
    let voters = m.sentinels.len() + 1;
    let quorum = m.cfg.quorum;
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for p in m.sentinels.values() {
        if let Some(l) = &p.leader
            && p.leader_epoch == epoch
        {
            *counts.entry(l.clone()).or_default() += 1;
        }
    }
    let best = counts
        .iter()
        .max_by_key(|(_, c)| **c)
        .map(|(k, _)| k.clone());
    let myid = st.myid.clone();
    let (my_vote, my_epoch) = vote(st, name, epoch, best.as_deref().unwrap_or(&myid), events);
    if let Some(v) = my_vote
        && my_epoch == epoch
    {
        *counts.entry(v).or_default() += 1;
    }
    let (winner, votes) = counts.into_iter().max_by_key(|(_, c)| *c)?;
    (votes > voters / 2 && votes >= quorum).then_some(winner)
}

fn maybe_start_failover(st: &mut State, name: &str, events: &mut Events) {
    let now = now_ms();
    let Some(m) = st.masters.get(name) else {
        return;
    };
    if m.failover != FailoverState::None || (m.o_down_since_ms == 0 && !m.force_failover) {
        return;
    }
    if !m.force_failover && now < m.failover_delay_until_ms {
        return;
    }
    if !m.force_failover
        && now.saturating_sub(m.failover_start_ms) < 2 * m.cfg.failover_timeout_ms
        && m.failover_start_ms > 0
    {
        return;
    }
    st.current_epoch += 1;
    st.dirty = true;
    let epoch = st.current_epoch;
    let m = st.masters.get_mut(name).expect("present");
    m.failover = FailoverState::WaitStart;
    m.failover_epoch = epoch;
    m.failover_state_ms = now;
    m.failover_start_ms = now
        + if m.force_failover {
            0
        } else {
            rand::rng().random_range(0..1000)
        };
    events.push(Event::of_master(name, "+new-epoch", epoch.to_string()));
    events.push(Event::new("+try-failover", format!("master {}", m.at())));
}

fn abort(m: &mut Master, why: &str, events: &mut Events) {
    events.push(Event::new(
        format!("-failover-abort-{why}"),
        format!("master {}", m.at()),
    ));
    m.failover = FailoverState::None;
    m.failover_state_ms = now_ms();
    m.force_failover = false;
    if let Some(p) = m.promoted.take()
        && let Some(n) = m.replicas.get_mut(&p)
    {
        n.reconf = Reconf::None;
    }
    for n in m.replicas.values_mut() {
        n.reconf = Reconf::None;
    }
}

/// Stock `sentinelSelectSlave`'s filter: not down, recently seen, link to the leader not
/// down too long, priority not 0.
fn promotable(m: &Master, now: u64) -> Vec<&Node> {
    let info_validity = if m.node.s_down_since_ms > 0 {
        5 * PING_PERIOD.get()
    } else {
        3 * 10_000
    };
    let max_link_down = now.saturating_sub(m.node.s_down_since_ms) + m.cfg.down_after_ms * 10;
    m.replicas
        .values()
        .filter(|n| {
            n.s_down_since_ms == 0
                && n.connected
                && now.saturating_sub(n.last_ok_ping_ms) <= 5 * PING_PERIOD.get()
                && n.info_refresh_ms > 0
                && now.saturating_sub(n.info_refresh_ms) <= info_validity
                && n.priority != 0
                && n.master_link_down_ms <= max_link_down
        })
        .collect()
}

/// Whether selection should wait for offsets read after the leader went down. Offsets
/// read before it (up to an INFO period earlier, at different moments per follower) may
/// rank a follower that lacks writes another one received, and acknowledged through
/// WAIT, first; promoted, it makes the other drop them in its resync. Once the leader
/// is down the followers' offsets stop moving, so one INFO each after that ranks them
/// truly (stock ranks by whatever INFO it last had). Bounded by `FRESH_OFFSETS_WAIT_MS`.
fn awaiting_fresh_offsets(m: &Master, now: u64) -> bool {
    m.node.s_down_since_ms > 0
        && now.saturating_sub(m.failover_state_ms) < FRESH_OFFSETS_WAIT_MS
        && promotable(m, now).iter().any(|n| m.offset_predates_down(n))
}

/// Stock `sentinelSelectSlave`: among the promotable followers, lowest priority, highest
/// offset, lowest run id.
fn select_replica(m: &Master, now: u64) -> Option<String> {
    let mut candidates = promotable(m, now);
    candidates.sort_by(|a, b| {
        a.priority
            .cmp(&b.priority)
            .then(b.repl_offset.cmp(&a.repl_offset))
            .then_with(|| match (&a.run_id, &b.run_id) {
                (Some(x), Some(y)) => x.cmp(y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            })
    });
    candidates.first().map(|n| n.addr())
}

/// Stock `sentinelFailoverStateMachine`: one step of `name`'s failover. Each state is its
/// own function so that what ends it (and what aborts it) reads on its own; `step` calls
/// this again while the state keeps changing.
fn run_failover(st: &mut State, name: &str, events: &mut Events, commands: &mut Commands) {
    let now = now_ms();
    let Some(state) = st.masters.get(name).map(|m| m.failover) else {
        return;
    };
    match state {
        FailoverState::None => {}
        FailoverState::WaitStart => failover_wait_start(st, name, now, events),
        FailoverState::SelectSlave => failover_select_slave(group(st, name), now, events),
        FailoverState::SendSlaveofNoone => {
            failover_send_slaveof_noone(group(st, name), now, events, commands)
        }
        FailoverState::WaitPromotion => failover_wait_promotion(group(st, name), now, events),
        FailoverState::ReconfSlaves => {
            failover_reconf_next_slave(group(st, name), now, events, commands)
        }
        FailoverState::UpdateConfig => failover_switch_to_promoted(st, name, events),
    }
}

/// The group a failover step runs on, known to exist (`run_failover` checked).
fn group<'a>(st: &'a mut State, name: &str) -> &'a mut Master {
    st.masters.get_mut(name).expect("present")
}

/// The credentials the group's nodes want, for the commands a step sends.
fn node_auth(m: &Master) -> Auth {
    Auth {
        user: m.cfg.auth_user.clone(),
        pass: m.cfg.auth_pass.clone(),
    }
}

/// Stock `sentinelFailoverWaitStart`: go on only once elected (or at once when forced);
/// give up when no leader emerged within the election timeout.
fn failover_wait_start(st: &mut State, name: &str, now: u64, events: &mut Events) {
    let m = st.masters.get(name).expect("present");
    let epoch = m.failover_epoch;
    let force = m.force_failover;
    let election_timeout = m.cfg.failover_timeout_ms.min(ELECTION_TIMEOUT.get());
    // Taken before counting votes: voting for another sentinel moves the start time.
    let started = m.failover_start_ms;
    let myid = st.myid.clone();
    let leader = if force {
        Some(myid.clone())
    } else {
        leader_for(st, name, epoch, events)
    };
    let m = group(st, name);
    if leader.as_deref() != Some(myid.as_str()) {
        if now.saturating_sub(started) > election_timeout && now > started {
            abort(m, "not-elected", events);
            m.failover_start_ms = now;
        }
        return;
    }
    events.push(Event::new("+elected-leader", format!("master {}", m.at())));
    m.failover = FailoverState::SelectSlave;
    m.failover_state_ms = now;
    events.push(Event::new(
        "+failover-state-select-slave",
        format!("master {}", m.at()),
    ));
}

/// Stock `sentinelFailoverSelectSlave`: pick the follower to promote, or abort when none
/// qualifies.
fn failover_select_slave(m: &mut Master, now: u64, events: &mut Events) {
    if awaiting_fresh_offsets(m, now) {
        return;
    }
    match select_replica(m, now) {
        None => {
            abort(m, "no-good-slave", events);
            m.failover_start_ms = now;
        }
        Some(addr) => {
            let n = &m.replicas[&addr];
            events.push(Event::new("+selected-slave", node_event(n, m, "slave")));
            m.promoted = Some(addr);
            m.failover = FailoverState::SendSlaveofNoone;
            m.failover_state_ms = now;
            events.push(Event::new(
                "+failover-state-send-slaveof-noone",
                node_event(n, m, "slave"),
            ));
        }
    }
}

/// Stock `sentinelFailoverSendSlaveOfNoOne`: promote the chosen follower once it is
/// reachable; a forced failover with the leader still up hands over with `FAILOVER TO`
/// instead, so no acknowledged write is lost.
fn failover_send_slaveof_noone(
    m: &mut Master,
    now: u64,
    events: &mut Events,
    commands: &mut Commands,
) {
    let auth = node_auth(m);
    let Some(addr) = m.promoted.clone() else {
        abort(m, "no-good-slave", events);
        return;
    };
    let connected = m.replicas.get(&addr).is_some_and(|n| n.connected);
    if !connected {
        if now.saturating_sub(m.failover_state_ms) > m.cfg.failover_timeout_ms {
            abort(m, "slave-timeout", events);
            m.failover_start_ms = now;
        }
        return;
    }
    let leader_up = m.node.connected && m.node.s_down_since_ms == 0 && m.node.role == Role::Master;
    if m.force_failover && leader_up {
        commands.push(Action::Switchover {
            leader: m.node.addr(),
            promoted: addr.clone(),
            auth,
            timeout_ms: m.cfg.failover_timeout_ms / 2,
        });
    } else {
        commands.push(Action::Repoint((addr.clone(), auth, None)));
    }
    let n = &m.replicas[&addr];
    events.push(Event::new(
        "+failover-state-wait-promotion",
        node_event(n, m, "slave"),
    ));
    m.failover = FailoverState::WaitPromotion;
    m.failover_state_ms = now;
}

/// Stock `sentinelFailoverWaitPromotion`: only the timeout is checked here; the promotion
/// itself is seen in the follower's INFO (`monitor::on_info`), which moves the state on.
fn failover_wait_promotion(m: &mut Master, now: u64, events: &mut Events) {
    if now.saturating_sub(m.failover_state_ms) > m.cfg.failover_timeout_ms {
        abort(m, "slave-timeout", events);
        m.failover_start_ms = now;
    }
}

/// Stock `sentinelFailoverReconfNextSlave` and `sentinelFailoverDetectEnd`: repoint the
/// other followers at most `parallel-syncs` at a time (all at once after the failover
/// timeout), and end the failover when every reachable one is done.
fn failover_reconf_next_slave(
    m: &mut Master,
    now: u64,
    events: &mut Events,
    commands: &mut Commands,
) {
    let auth = node_auth(m);
    let promoted = m.promoted.clone().unwrap_or_default();
    let Some((pip, pport)) = m.promoted_node().map(|n| (n.shown().to_string(), n.port)) else {
        return;
    };
    let timed_out = now.saturating_sub(m.failover_state_ms) > m.cfg.failover_timeout_ms;
    let at = m.at();
    let mut in_progress = m
        .replicas
        .values()
        .filter(|n| matches!(n.reconf, Reconf::Sent | Reconf::InProg))
        .count();
    for (addr, n) in m.replicas.iter_mut() {
        if *addr == promoted {
            continue;
        }
        let ev = format!("slave {} {} {} @ {}", n.name(), n.shown(), n.port, at);
        if n.reconf == Reconf::Sent
            && now.saturating_sub(n.reconf_sent_ms) > SLAVE_RECONF_TIMEOUT.get()
        {
            n.reconf = Reconf::Done;
            events.push(Event::new("-slave-reconf-sent-timeout", ev.clone()));
            in_progress = in_progress.saturating_sub(1);
        }
        let within_parallel_syncs = in_progress < m.cfg.parallel_syncs.max(1);
        if n.reconf == Reconf::None
            && (within_parallel_syncs || timed_out)
            && n.s_down_since_ms == 0
            && n.connected
        {
            // Past parallel-syncs, only the failover timeout sends it: stock's "best
            // effort" REPLICAOF to every follower left.
            let kind = if within_parallel_syncs {
                "+slave-reconf-sent"
            } else {
                "+slave-reconf-sent-be"
            };
            n.reconf = Reconf::Sent;
            n.reconf_sent_ms = now;
            in_progress += 1;
            commands.push(Action::Repoint((
                addr.clone(),
                auth.clone(),
                Some((pip.clone(), pport)),
            )));
            events.push(Event::new(kind, ev));
        }
    }
    let all_done = m
        .replicas
        .iter()
        .filter(|(a, _)| **a != promoted)
        .all(|(_, n)| n.reconf == Reconf::Done || n.s_down_since_ms > 0);
    if all_done || timed_out {
        if timed_out && !all_done {
            events.push(Event::new(
                "+failover-end-for-timeout",
                format!("master {}", m.at()),
            ));
        }
        events.push(Event::new("+failover-end", format!("master {}", m.at())));
        m.failover = FailoverState::UpdateConfig;
        m.failover_state_ms = now;
    }
}

/// Stock `sentinelFailoverSwitchToPromotedSlave`: the group now names the promoted
/// follower as its leader (+switch-master), and the file is rewritten.
fn failover_switch_to_promoted(st: &mut State, name: &str, events: &mut Events) {
    let m = group(st, name);
    if let Some((host, ip, port)) = m
        .promoted_node()
        .map(|n| (n.host.clone(), n.shown().to_string(), n.port))
    {
        let (oip, oport) = (m.node.shown().to_string(), m.node.port);
        events.push(Event::of_master(
            name,
            "+switch-master",
            format!("{} {} {} {} {}", m.cfg.name, oip, oport, ip, port),
        ));
        m.switch_to(&host, port);
        for n in m.replicas.values() {
            events.push(Event::new("+slave", node_event(n, m, "slave")));
        }
        st.dirty = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sentinel::config::MasterConfig;

    /// A leader down since `down_since` with two followers whose last INFO replies were
    /// read at `infos` (time, offset).
    fn group(down_since: u64, infos: [(u64, &str); 2]) -> Master {
        let mut m = Master::new(MasterConfig::new("g", "127.0.0.1", 6379, 2));
        m.node.s_down_since_ms = down_since;
        m.failover = FailoverState::SelectSlave;
        m.failover_state_ms = down_since + 100;
        for (i, (at, offset)) in infos.into_iter().enumerate() {
            let mut n = Node::new("127.0.0.1", 6380 + i as u16);
            n.apply_info(&format!(
                "role:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:6379\r\nmaster_link_status:up\r\nslave_repl_offset:{offset}\r\nrun_id:{i}\r\n"
            ));
            n.info_refresh_ms = at;
            n.connected = true;
            n.last_ok_ping_ms = down_since + 100;
            m.replicas.insert(n.addr(), n);
        }
        m
    }

    #[test]
    fn selection_waits_for_offsets_read_after_the_leader_went_down() {
        let down = now_ms();
        // Follower 6381's INFO was read later than 6380's, both before the leader went
        // down: its higher offset says nothing about where each one stopped.
        let mut m = group(down, [(down - 4000, "100"), (down - 500, "150")]);
        let now = down + 200;
        assert!(awaiting_fresh_offsets(&m, now));
        let mut events = Events::new();
        failover_select_slave(&mut m, now, &mut events);
        assert_eq!(m.failover, FailoverState::SelectSlave, "no choice yet");
        // Both read again after the leader went down: 6380 received more.
        for (port, offset) in [(6380, "180"), (6381, "150")] {
            let n = m.replicas.get_mut(&format!("127.0.0.1:{port}")).unwrap();
            n.apply_info(&format!("role:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:6379\r\nmaster_link_status:up\r\nslave_repl_offset:{offset}\r\n"));
            n.info_refresh_ms = down + 150;
        }
        assert!(!awaiting_fresh_offsets(&m, now));
        failover_select_slave(&mut m, now, &mut events);
        assert_eq!(m.promoted.as_deref(), Some("127.0.0.1:6380"));
    }

    #[test]
    fn selection_waits_for_fresh_offsets_only_so_long() {
        let down = now_ms();
        let m = group(down, [(down - 4000, "100"), (down - 500, "150")]);
        assert!(!awaiting_fresh_offsets(
            &m,
            down + 100 + FRESH_OFFSETS_WAIT_MS
        ));
        assert_eq!(
            select_replica(&m, down + 100 + FRESH_OFFSETS_WAIT_MS).as_deref(),
            Some("127.0.0.1:6381")
        );
        // A forced failover (leader not down) ranks by what it has.
        let mut up = group(down, [(down - 4000, "100"), (down - 500, "150")]);
        up.node.s_down_since_ms = 0;
        assert!(!awaiting_fresh_offsets(&up, down + 200));
    }
}
