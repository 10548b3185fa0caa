//! `ferrocache-sentinel`: watches leader/follower groups and fails them over, speaking the
//! Redis Sentinel protocol so client libraries' Sentinel support and stock sentinels work
//! with it unchanged.
//!
//! - [`config`]: sentinel.conf, overrides, rewriting learned state.
//! - [`state`]: groups, nodes, peers, failover state (one mutex).
//! - [`link`]: the RESP client used toward nodes and other sentinels.
//! - [`monitor`]: one task per node and per peer: PING, INFO, hello, is-master-down queries.
//! - [`failover`]: the 100 ms timer: down detection, votes, the failover state machine.
//! - [`commands`] and [`server`]: the client-facing side (SENTINEL, INFO, pub/sub events).
//! - [`events`]: stock event names and payloads, published and logged.
//! - [`scripts`]: `notification-script` and `client-reconfig-script` runs.

pub mod commands;
pub mod config;
pub mod events;
pub mod failover;
pub mod hello;
pub mod link;
pub mod monitor;
pub mod scripts;
pub mod server;
pub mod state;

use parking_lot::Mutex;
use state::{Master, State};
use std::collections::HashSet;
use std::sync::Arc;

/// The sentinel process: state, configuration and event bus shared by every task.
pub struct Sentinel {
    /// What it knows.
    pub state: Mutex<State>,
    /// Its configuration (rewritten with learned state).
    pub config: Mutex<config::SentinelConfig>,
    /// Pub/sub for events.
    pub events: events::Events,
    /// User scripts queued and running.
    pub scripts: scripts::Scripts,
    /// Link tasks running, by key, so the timer starts each exactly once.
    pub tasks: Mutex<HashSet<String>>,
    /// Unix ms at start (INFO uptime).
    pub started_ms: u64,
    /// Client id counter.
    pub next_client_id: std::sync::atomic::AtomicU64,
    /// Asks every task to stop.
    pub shutdown: tokio::sync::watch::Sender<bool>,
    /// Woken when we start trying to lead a failover: peer tasks ask for votes at once
    /// rather than at their next 100 ms poll, before the other sentinels' own random
    /// pauses run out and they vote for themselves (a split vote costs a whole retry).
    pub vote_wanted: tokio::sync::Notify,
    /// Woken when a vote, an opinion or an INFO report arrives: the timer steps at once
    /// rather than at its next tick (each tick waited for is time without a leader).
    pub progress: tokio::sync::Notify,
    /// TLS for the links this sentinel opens, set once at startup (`tls-replication yes`).
    pub tls: std::sync::OnceLock<tokio_rustls::TlsConnector>,
}

impl Sentinel {
    /// What every outgoing link dials with.
    pub fn link_tls(&self) -> link::Tls {
        self.tls.get().cloned()
    }

    /// Builds the sentinel from its configuration; generates and persists a run id if the
    /// file had none.
    pub fn new(mut cfg: config::SentinelConfig) -> Arc<Self> {
        let myid = cfg
            .myid
            .clone()
            .unwrap_or_else(crate::replication::log::new_replid);
        cfg.myid = Some(myid.clone());
        let masters = cfg
            .masters
            .iter()
            .map(|m| (m.name.clone(), Master::new(m.clone())))
            .collect();
        let state = State {
            myid,
            current_epoch: cfg.current_epoch,
            masters,
            dirty: true,
            tilt: Default::default(),
            simulate_crash_after_election: false,
            simulate_crash_after_promotion: false,
        };
        let (shutdown, _) = tokio::sync::watch::channel(false);
        Arc::new(Sentinel {
            state: Mutex::new(state),
            config: Mutex::new(cfg),
            events: events::Events::default(),
            scripts: scripts::Scripts::default(),
            tasks: Mutex::new(HashSet::new()),
            started_ms: crate::base::now_ms(),
            next_client_id: std::sync::atomic::AtomicU64::new(1),
            shutdown,
            vote_wanted: tokio::sync::Notify::new(),
            progress: tokio::sync::Notify::new(),
            tls: std::sync::OnceLock::new(),
        })
    }

    /// Emits an event (log line, pub/sub message) and queues the scripts it runs: the
    /// group's `notification-script` for a warning-level event, its
    /// `client-reconfig-script` for a leader change. Called with the state lock released.
    pub fn emit(&self, e: events::Event) {
        let Some(master) = &e.master else {
            self.events.emit(&e.kind, &e.payload);
            return;
        };
        let scripts = self.state.lock().masters.get(master).map(|m| {
            (
                m.cfg.notification_script.clone(),
                m.cfg.client_reconfig_script.clone(),
            )
        });
        match scripts {
            Some((notify, reconfig)) => {
                self.emit_with_scripts(&e, master, notify.as_deref(), reconfig.as_deref())
            }
            None => self.events.emit(&e.kind, &e.payload),
        }
    }

    /// [`Sentinel::emit`] for an event of the group configured as `cfg`, which may no
    /// longer be monitored (SENTINEL REMOVE's `-monitor` still runs its script, as stock).
    pub fn emit_for(&self, e: events::Event, cfg: &config::MasterConfig) {
        self.emit_with_scripts(
            &e,
            &cfg.name,
            cfg.notification_script.as_deref(),
            cfg.client_reconfig_script.as_deref(),
        );
    }

    fn emit_with_scripts(
        &self,
        e: &events::Event,
        master: &str,
        notify: Option<&str>,
        reconfig: Option<&str>,
    ) {
        self.events.emit(&e.kind, &e.payload);
        if let Some(path) = notify.filter(|_| events::is_warning(&e.kind)) {
            self.scripts.schedule(path, &[&e.kind, &e.payload]);
        }
        if let (Some(path), Some(r)) = (reconfig, &e.reconfig) {
            let (from_port, to_port) = (r.from.1.to_string(), r.to.1.to_string());
            let role = if r.leader { "leader" } else { "observer" };
            self.scripts.schedule(
                path,
                &[
                    master, role, "start", &r.from.0, &from_port, &r.to.0, &to_port,
                ],
            );
        }
    }

    /// Emits events collected under the state lock, in order.
    pub fn emit_all(&self, events: Vec<events::Event>) {
        for e in events {
            self.emit(e);
        }
    }

    /// Writes the learned state to the config file (when it changed).
    pub fn flush_config(&self) {
        let snapshot = {
            let mut st = self.state.lock();
            if !st.dirty {
                return;
            }
            st.dirty = false;
            let mut cfg = self.config.lock().clone();
            cfg.current_epoch = st.current_epoch;
            cfg.myid = Some(st.myid.clone());
            cfg.masters = st
                .masters
                .values_mut()
                .map(|m| {
                    m.sync_cfg();
                    m.cfg.clone()
                })
                .collect();
            *self.config.lock() = cfg.clone();
            cfg
        };
        if let Err(e) = snapshot.rewrite() {
            tracing::warn!(error = %e, "could not rewrite the sentinel config file");
        }
    }
}
