//! What a sentinel knows: its monitored groups, each with the leader, its followers and
//! the other sentinels watching it, and the failover in progress. One `Mutex` guards it
//! all; link tasks update it after each reply and the timer acts on it every 100 ms.

use super::config::MasterConfig;
use crate::base::now_ms;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// A timing parameter stock Sentinel keeps in a global that `SENTINEL DEBUG` changes
/// (tests shorten them), read where stock reads it. In ms.
pub struct Timing {
    /// The name SENTINEL DEBUG takes.
    pub name: &'static str,
    value: AtomicU64,
}

impl Timing {
    const fn new(name: &'static str, ms: u64) -> Self {
        Timing {
            name,
            value: AtomicU64::new(ms),
        }
    }

    /// The current value.
    pub fn get(&self) -> u64 {
        self.value.load(Ordering::Relaxed)
    }

    /// Sets it (SENTINEL DEBUG).
    pub fn set(&self, ms: u64) {
        self.value.store(ms, Ordering::Relaxed);
    }
}

/// INFO period in steady state (stock: 10 s).
pub static INFO_PERIOD: Timing = Timing::new("info-period", 10_000);
/// The PING period toward every instance (stock: 1 s).
pub static PING_PERIOD: Timing = Timing::new("ping-period", 1000);
/// How often a sentinel that sees the leader down asks the others (stock: 1 s).
pub static ASK_PERIOD: Timing = Timing::new("ask-period", 1000);
/// Hello period (stock: 2 s).
pub static PUBLISH_PERIOD: Timing = Timing::new("publish-period", 2000);
/// `down-after-milliseconds` of a group that does not set it.
pub static DEFAULT_DOWN_AFTER: Timing = Timing::new("default-down-after", 30_000);
/// `failover-timeout` of a group that does not set it.
pub static DEFAULT_FAILOVER_TIMEOUT: Timing = Timing::new("default-failover-timeout", 180_000);
/// How long a follower sent REPLICAOF during a failover may take to report it.
pub static SLAVE_RECONF_TIMEOUT: Timing = Timing::new("slave-reconf-timeout", 10_000);
/// Stock closes a link whose PINGs go unanswered at most this often; ours reconnect at
/// once after a reply times out, so it is kept and shown only.
pub static MIN_LINK_RECONNECT_PERIOD: Timing = Timing::new("min-link-reconnect-period", 15_000);
/// How long a sentinel trying to lead a failover waits to be elected (capped by the
/// group's failover-timeout).
pub static ELECTION_TIMEOUT: Timing = Timing::new("election-timeout", 10_000);

/// The globals above in stock's SENTINEL DEBUG order (the TILT and script parameters,
/// which live with TILT and the script queue, come after them).
pub static TIMINGS: [&Timing; 9] = [
    &INFO_PERIOD,
    &PING_PERIOD,
    &ASK_PERIOD,
    &PUBLISH_PERIOD,
    &DEFAULT_DOWN_AFTER,
    &DEFAULT_FAILOVER_TIMEOUT,
    &SLAVE_RECONF_TIMEOUT,
    &MIN_LINK_RECONNECT_PERIOD,
    &ELECTION_TIMEOUT,
];

/// `resolve-hostnames`: node addresses may be hostnames, resolved when a node is
/// created. Process-wide, as stock's, because every address created reads it.
pub static RESOLVE_HOSTNAMES: AtomicBool = AtomicBool::new(false);
/// `announce-hostnames`: replies, events, hellos and REPLICAOF name nodes by the
/// hostname they were given rather than their IP (for TLS name checks and for clients
/// outside the network that cannot reach the IPs).
pub static ANNOUNCE_HOSTNAMES: AtomicBool = AtomicBool::new(false);

/// `host` as an IP address: itself when it is one; with `dns`, the system resolver's
/// first IPv4 answer (else its first answer). None when it cannot be resolved.
pub fn resolve_with(host: &str, dns: bool) -> Option<String> {
    if host.parse::<std::net::IpAddr>().is_ok() {
        return Some(host.to_string());
    }
    if !dns {
        return None;
    }
    let addrs: Vec<std::net::SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(&(host, 0))
        .ok()?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .map(|a| a.ip().to_string())
}

/// [`resolve_with`] under the current `resolve-hostnames`.
pub fn resolve(host: &str) -> Option<String> {
    resolve_with(host, RESOLVE_HOSTNAMES.load(Ordering::Relaxed))
}

/// Role an instance reports in INFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `role:master`.
    Master,
    /// `role:slave`.
    Slave,
    /// Not known yet.
    Unknown,
}

/// A node (leader or follower) as seen through PING and INFO.
#[derive(Debug, Clone)]
pub struct Node {
    /// Address as given (configuration, INFO, hello): an IP, or a hostname with
    /// `resolve-hostnames`.
    pub host: String,
    /// `host` resolved (or `host` itself if it could not be): what links dial and what
    /// addresses are compared with.
    pub ip: String,
    /// Port.
    pub port: u16,
    /// `run_id` from INFO.
    pub run_id: Option<String>,
    /// A link to the node is established.
    pub connected: bool,
    /// When the current link came up, or when we started trying.
    pub link_since_ms: u64,
    /// Last valid PING reply (+PONG, -LOADING, -MASTERDOWN count as valid, as in stock).
    pub last_ok_ping_ms: u64,
    /// Last PING reply of any kind.
    pub last_pong_ms: u64,
    /// Last PING sent.
    pub last_ping_ms: u64,
    /// When the oldest PING still without a reply was sent (0: none pending). Down
    /// detection measures from here, as stock Sentinel's `act_ping_time`.
    pub act_ping_ms: u64,
    /// Last INFO parsed.
    pub info_refresh_ms: u64,
    /// The text of that INFO reply, kept for SENTINEL INFO-CACHE.
    pub info: Option<String>,
    /// Subjectively down since (0: up).
    pub s_down_since_ms: u64,
    /// Reported role and since when.
    pub role: Role,
    /// When `role` last changed.
    pub role_reported_ms: u64,
    /// As a follower: its leader's address, link state and how long the link was down.
    pub master_host: Option<String>,
    /// As a follower: its leader's port.
    pub master_port: u16,
    /// As a follower: `master_link_status:up`.
    pub master_link_up: bool,
    /// As a follower: `master_link_down_since_seconds` in ms.
    pub master_link_down_ms: u64,
    /// `slave_priority`.
    pub priority: i64,
    /// `slave_repl_offset`.
    pub repl_offset: u64,
    /// `replica_announced`.
    pub announced: bool,
    /// Failover bookkeeping for this follower.
    pub reconf: Reconf,
    /// When the current reconf step was sent.
    pub reconf_sent_ms: u64,
}

/// Where a follower is in being repointed to the promoted one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reconf {
    /// Nothing sent.
    None,
    /// REPLICAOF sent.
    Sent,
    /// It reports the new leader address.
    InProg,
    /// Its link to the new leader is up.
    Done,
}

impl Node {
    /// A node we have not talked to yet.
    pub fn new(host: &str, port: u16) -> Self {
        let now = now_ms();
        Node {
            host: host.into(),
            ip: resolve(host).unwrap_or_else(|| host.into()),
            port,
            run_id: None,
            connected: false,
            link_since_ms: now,
            last_ok_ping_ms: now,
            last_pong_ms: now,
            last_ping_ms: 0,
            act_ping_ms: 0,
            info_refresh_ms: 0,
            info: None,
            s_down_since_ms: 0,
            role: Role::Unknown,
            role_reported_ms: now,
            master_host: None,
            master_port: 0,
            master_link_up: false,
            master_link_down_ms: 0,
            priority: 100,
            repl_offset: 0,
            announced: true,
            reconf: Reconf::None,
            reconf_sent_ms: 0,
        }
    }

    /// "ip:port", the key followers are stored under and the address links dial.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.ip, self.port)
    }

    /// The address others are told: the hostname with `announce-hostnames`, else the IP
    /// (stock `announceSentinelAddr`).
    pub fn shown(&self) -> &str {
        if ANNOUNCE_HOSTNAMES.load(Ordering::Relaxed) {
            &self.host
        } else {
            &self.ip
        }
    }

    /// "shown:port", the instance name replies and events use.
    pub fn name(&self) -> String {
        format!("{}:{}", self.shown(), self.port)
    }

    /// Whether `host` (an IP or a hostname, as a node or a peer reports it) and `port`
    /// name this node: the same IP, the same hostname, or a hostname resolving to our IP.
    pub fn is_at(&self, host: &str, port: u16) -> bool {
        port == self.port
            && (host == self.ip
                || host.eq_ignore_ascii_case(&self.host)
                || resolve(host).as_deref() == Some(self.ip.as_str()))
    }

    /// Applies an INFO reply. Returns the followers a leader lists (ip, port).
    pub fn apply_info(&mut self, info: &str) -> Vec<(String, u16)> {
        let now = now_ms();
        self.info_refresh_ms = now;
        self.info = Some(info.to_string());
        let mut replicas = Vec::new();
        let mut role = Role::Unknown;
        let mut link_down_s: Option<u64> = None;
        for line in info.lines() {
            let line = line.trim_end_matches('\r');
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            match k {
                "run_id" => self.run_id = Some(v.to_string()),
                "role" => {
                    role = if v == "master" {
                        Role::Master
                    } else {
                        Role::Slave
                    }
                }
                "master_host" => self.master_host = Some(v.to_string()),
                "master_port" => self.master_port = v.parse().unwrap_or(0),
                "master_link_status" => self.master_link_up = v == "up",
                "master_link_down_since_seconds" => link_down_s = v.parse().ok(),
                "slave_priority" | "replica_priority" => self.priority = v.parse().unwrap_or(100),
                "slave_repl_offset" => self.repl_offset = v.parse().unwrap_or(0),
                "replica_announced" => self.announced = v != "0",
                _ if k.starts_with("slave") && k[5..].chars().all(|c| c.is_ascii_digit()) => {
                    // slaveN:ip=...,port=...,state=...,offset=...,lag=...
                    let mut ip = None;
                    let mut port = None;
                    for kv in v.split(',') {
                        match kv.split_once('=') {
                            Some(("ip", x)) => ip = Some(x.to_string()),
                            Some(("port", x)) => port = x.parse().ok(),
                            _ => {}
                        }
                    }
                    if let (Some(ip), Some(port)) = (ip, port) {
                        replicas.push((ip, port));
                    }
                }
                _ => {}
            }
        }
        if role == Role::Master {
            self.master_host = None;
            self.master_port = 0;
            self.master_link_up = false;
        }
        self.master_link_down_ms = if self.master_link_up {
            0
        } else {
            link_down_s.map_or(0, |s| s.saturating_mul(1000))
        };
        if role != self.role {
            self.role = role;
            self.role_reported_ms = now;
        }
        replicas
    }

    /// Subjectively down: a PING unanswered (validly) for `down_after` ms, or no link
    /// and no valid reply for that long.
    pub fn check_sdown(&self, now: u64, down_after: u64) -> bool {
        if self.act_ping_ms > 0 {
            now.saturating_sub(self.act_ping_ms) > down_after
        } else if !self.connected {
            now.saturating_sub(self.last_ok_ping_ms) > down_after
        } else {
            false
        }
    }

    /// A PING is about to be sent.
    pub fn ping_sent(&mut self, now: u64) {
        self.last_ping_ms = now;
        if self.act_ping_ms == 0 {
            self.act_ping_ms = now;
        }
    }

    /// A PING reply arrived; `valid` for +PONG, -LOADING, -MASTERDOWN.
    pub fn pong(&mut self, now: u64, valid: bool) {
        self.last_pong_ms = now;
        if valid {
            self.last_ok_ping_ms = now;
            self.act_ping_ms = 0;
        }
    }
}

/// Another sentinel watching the same group.
#[derive(Debug, Clone)]
pub struct Peer {
    /// Announced address.
    pub ip: String,
    /// Announced port.
    pub port: u16,
    /// Its run id.
    pub run_id: String,
    /// Last hello received from it.
    pub last_hello_ms: u64,
    /// Link bookkeeping (PING).
    pub node: Node,
    /// Its answer to is-master-down-by-addr: leader down, when answered.
    pub says_down: bool,
    /// When it last answered.
    pub reply_ms: u64,
    /// The leader it voted for in `leader_epoch`.
    pub leader: Option<String>,
    /// Epoch of that vote.
    pub leader_epoch: u64,
}

/// Failover progress (stock state names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailoverState {
    /// No failover.
    None,
    /// Waiting to be elected.
    WaitStart,
    /// Choosing the follower to promote.
    SelectSlave,
    /// Sending REPLICAOF NO ONE.
    SendSlaveofNoone,
    /// Waiting for the follower to report role master.
    WaitPromotion,
    /// Repointing the other followers.
    ReconfSlaves,
    /// Done: switching the configuration to the new leader.
    UpdateConfig,
}

impl FailoverState {
    /// The name INFO and SENTINEL MASTER print.
    pub fn name(self) -> &'static str {
        match self {
            FailoverState::None => "none",
            FailoverState::WaitStart => "wait_start",
            FailoverState::SelectSlave => "select_slave",
            FailoverState::SendSlaveofNoone => "send_slaveof_noone",
            FailoverState::WaitPromotion => "wait_promotion",
            FailoverState::ReconfSlaves => "reconf_slaves",
            FailoverState::UpdateConfig => "update_config",
        }
    }
}

/// One monitored group.
#[derive(Debug, Clone)]
pub struct Master {
    /// Settings (and the learned state persisted by a rewrite).
    pub cfg: MasterConfig,
    /// The leader node.
    pub node: Node,
    /// Followers by "ip:port".
    pub replicas: BTreeMap<String, Node>,
    /// Other sentinels by run id.
    pub sentinels: BTreeMap<String, Peer>,
    /// Objectively down since (0: not).
    pub o_down_since_ms: u64,
    /// Our vote: run id and epoch (`leader`/`leader_epoch` in stock).
    pub leader: Option<String>,
    /// Failover state.
    pub failover: FailoverState,
    /// Epoch of the failover we run.
    pub failover_epoch: u64,
    /// When the failover (or the last attempt) started.
    pub failover_start_ms: u64,
    /// When the state last changed.
    pub failover_state_ms: u64,
    /// Manual failover: no agreement needed.
    pub force_failover: bool,
    /// After the leader became objectively down, a random pause (under 250 ms) before
    /// trying to lead the failover, so sentinels that saw it together do not split the
    /// vote by all voting for themselves.
    pub failover_delay_until_ms: u64,
    /// The follower chosen for promotion.
    pub promoted: Option<String>,
    /// Bumped on SENTINEL RESET / address switch so link tasks of the old shape stop.
    pub generation: u64,
}

impl Master {
    /// Whether follower `n`'s last INFO predates the leader going (subjectively) down:
    /// its offset then cannot rank it for promotion (`failover::awaiting_fresh_offsets`).
    pub fn offset_predates_down(&self, n: &Node) -> bool {
        self.node.s_down_since_ms > 0 && n.info_refresh_ms < self.node.s_down_since_ms
    }

    /// A group from its configuration.
    pub fn new(cfg: MasterConfig) -> Self {
        let mut m = Master {
            node: Node::new(&cfg.ip, cfg.port),
            replicas: BTreeMap::new(),
            sentinels: BTreeMap::new(),
            o_down_since_ms: 0,
            leader: None,
            failover: FailoverState::None,
            failover_epoch: 0,
            failover_start_ms: 0,
            failover_state_ms: 0,
            force_failover: false,
            failover_delay_until_ms: 0,
            promoted: None,
            generation: 0,
            cfg,
        };
        for (ip, port) in m.cfg.known_replicas.clone() {
            let n = Node::new(&ip, port);
            m.replicas.insert(n.addr(), n);
        }
        for (ip, port, id) in m.cfg.known_sentinels.clone() {
            m.sentinels.insert(id.clone(), Peer::new(&ip, port, &id));
        }
        m
    }

    /// Group name.
    pub fn name(&self) -> &str {
        &self.cfg.name
    }

    /// Stock flag list: master,s_down,o_down,failover_in_progress,...
    pub fn flags(&self) -> String {
        let mut f = vec!["master"];
        if self.node.s_down_since_ms > 0 {
            f.push("s_down");
        }
        if self.o_down_since_ms > 0 {
            f.push("o_down");
        }
        if !self.node.connected {
            f.push("disconnected");
        }
        if self.failover != FailoverState::None {
            f.push("failover_in_progress");
        }
        if self.promoted.is_some() && self.failover != FailoverState::None {
            // The promoted follower carries "promoted"; the leader just shows progress.
        }
        f.join(",")
    }

    /// Where the group's leader is, as clients and hellos should be told: the promoted
    /// follower once a failover is reconfiguring the others (stock
    /// `sentinelGetCurrentMasterAddress`). A hello naming the old, failed leader with the
    /// new config epoch would send peers to a dead node.
    pub fn current_address(&self) -> (String, u16) {
        if matches!(
            self.failover,
            FailoverState::ReconfSlaves | FailoverState::UpdateConfig
        ) {
            if let Some(n) = self.promoted_node() {
                return (n.shown().to_string(), n.port);
            }
            // The promoted follower's own link task works on it outside the map (see
            // `monitor::with_node`): its key still gives the address. Falling back to
            // the old leader here would pair it with the new config epoch in a hello,
            // and a sentinel taking that hello first would never switch.
            if let Some((ip, port)) = self
                .promoted
                .as_deref()
                .and_then(|p| p.rsplit_once(':'))
                .and_then(|(i, p)| Some((i.to_string(), p.parse().ok()?)))
            {
                return (ip, port);
            }
        }
        (self.node.shown().to_string(), self.node.port)
    }

    /// The follower chosen for promotion.
    pub fn promoted_node(&self) -> Option<&Node> {
        self.replicas.get(self.promoted.as_deref()?)
    }

    /// "name ip port", the tail stock events put after "@".
    pub fn at(&self) -> String {
        format!("{} {} {}", self.cfg.name, self.node.shown(), self.node.port)
    }

    /// Copies learned state into the configuration, for a rewrite (addresses as they
    /// are announced, as stock writes them).
    pub fn sync_cfg(&mut self) {
        self.cfg.ip = self.node.shown().to_string();
        self.cfg.port = self.node.port;
        self.cfg.known_replicas = self
            .replicas
            .values()
            .map(|n| (n.shown().to_string(), n.port))
            .collect();
        self.cfg.known_sentinels = self
            .sentinels
            .values()
            .map(|p| (p.ip.clone(), p.port, p.run_id.clone()))
            .collect();
    }

    /// Points the group at a new leader (after a failover, or learned from a hello with
    /// a newer config epoch): the old leader and the other followers become its followers.
    pub fn switch_to(&mut self, host: &str, port: u16) {
        let mut hosts: Vec<(String, u16)> = self
            .replicas
            .values()
            .map(|n| (n.host.clone(), n.port))
            .collect();
        hosts.push((self.node.host.clone(), self.node.port));
        let leader = Node::new(host, port);
        self.replicas = hosts
            .into_iter()
            .map(|(h, p)| Node::new(&h, p))
            .filter(|n| !leader.is_at(&n.ip, n.port))
            .map(|n| (n.addr(), n))
            .collect();
        self.node = leader;
        self.o_down_since_ms = 0;
        self.failover = FailoverState::None;
        self.failover_start_ms = 0;
        self.failover_delay_until_ms = 0;
        self.force_failover = false;
        self.promoted = None;
        self.generation += 1;
        for p in self.sentinels.values_mut() {
            p.says_down = false;
        }
    }
}

impl Peer {
    /// A sentinel learned from a hello or the config.
    pub fn new(ip: &str, port: u16, run_id: &str) -> Self {
        Peer {
            ip: ip.into(),
            port,
            run_id: run_id.into(),
            last_hello_ms: now_ms(),
            node: Node::new(ip, port),
            says_down: false,
            reply_ms: 0,
            leader: None,
            leader_epoch: 0,
        }
    }

    /// The same sentinel (same id) now announced at another address.
    pub fn move_to(&mut self, ip: &str, port: u16) {
        self.ip = ip.into();
        self.port = port;
        self.node = Node::new(ip, port);
    }
}

/// TILT mode, as stock Sentinel: when the timer sees the clock go back or jump forward
/// by more than `trigger_ms` between two ticks (the process was stopped or starved, or
/// the system clock was changed), every timeout it measures is suspect, so for
/// `period_ms` it goes on collecting information but acts on none of it (no down
/// verdicts, no failover, no repointing, "not down" to peers that ask).
#[derive(Debug, Clone)]
pub struct Tilt {
    /// Wall-clock ms when TILT was entered; None when not in TILT.
    pub since_ms: Option<u64>,
    /// Wall-clock ms of the previous timer tick (0 before the first).
    pub previous_tick_ms: u64,
    /// The jump that triggers TILT (SENTINEL DEBUG tilt-trigger; stock default 2000).
    pub trigger_ms: u64,
    /// How long TILT lasts (SENTINEL DEBUG tilt-period; stock default 30 PING periods).
    pub period_ms: u64,
}

/// What [`Tilt::poll`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TiltNow {
    /// Not in TILT: act.
    Off,
    /// In TILT: collect, do not act.
    On,
    /// TILT just ended (announce `-tilt`), act again.
    Ended,
}

impl Default for Tilt {
    fn default() -> Self {
        Tilt {
            since_ms: None,
            previous_tick_ms: 0,
            trigger_ms: 2000,
            period_ms: 30_000,
        }
    }
}

impl Tilt {
    /// Called at each timer tick with the wall clock: true when TILT starts now.
    pub fn check(&mut self, now_ms: u64) -> bool {
        let previous = std::mem::replace(&mut self.previous_tick_ms, now_ms);
        let jumped = previous != 0 && (now_ms < previous || now_ms - previous > self.trigger_ms);
        if jumped {
            self.since_ms = Some(now_ms);
        }
        jumped
    }

    /// Whether actions are suspended now; ends TILT once its period is over.
    pub fn poll(&mut self, now_ms: u64) -> TiltNow {
        match self.since_ms {
            None => TiltNow::Off,
            Some(since) if now_ms >= since && now_ms - since < self.period_ms => TiltNow::On,
            Some(_) => {
                self.since_ms = None;
                TiltNow::Ended
            }
        }
    }

    /// True while in TILT (a read, for command replies).
    pub fn active(&self) -> bool {
        self.since_ms.is_some()
    }

    /// INFO's `sentinel_tilt` and `sentinel_tilt_since_seconds`.
    pub fn info(&self, now_ms: u64) -> (u8, i64) {
        match self.since_ms {
            Some(since) => (1, (now_ms.saturating_sub(since) / 1000) as i64),
            None => (0, -1),
        }
    }
}

/// The whole sentinel state.
#[derive(Debug)]
pub struct State {
    /// Our 40-hex run id.
    pub myid: String,
    /// The highest epoch seen.
    pub current_epoch: u64,
    /// Groups by name (configuration order kept by `order`).
    pub masters: BTreeMap<String, Master>,
    /// The learned state changed: rewrite the config file soon.
    pub dirty: bool,
    /// TILT mode (see [`Tilt`]).
    pub tilt: Tilt,
    /// Simulated failure flags (SENTINEL SIMULATE-FAILURE).
    pub simulate_crash_after_election: bool,
    /// As above, after promotion.
    pub simulate_crash_after_promotion: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tilt_on_a_jump_or_a_clock_going_back_for_its_period() {
        let mut t = Tilt::default();
        assert!(!t.check(10_000));
        assert!(!t.check(10_100));
        assert_eq!(t.poll(10_100), TiltNow::Off);
        // A stall of 2.5 s between ticks.
        assert!(t.check(12_600));
        assert_eq!(t.poll(12_700), TiltNow::On);
        assert_eq!(t.info(14_700), (1, 2));
        assert_eq!(t.poll(12_600 + 30_000), TiltNow::Ended);
        assert_eq!(t.poll(12_600 + 30_100), TiltNow::Off);
        assert_eq!(t.info(50_000), (0, -1));
        // The clock going back.
        t.previous_tick_ms = 50_000;
        assert!(t.check(49_000));
        assert!(t.active());
    }

    #[test]
    fn info_parsing_reads_role_followers_and_link() {
        let mut n = Node::new("127.0.0.1", 6379);
        let r = n.apply_info(
            "# Replication\r\nrole:master\r\nconnected_slaves:2\r\nslave0:ip=127.0.0.1,port=6380,state=online,offset=10,lag=0\r\nslave1:ip=127.0.0.1,port=6381,state=online,offset=10,lag=1\r\nrun_id:abc\r\n",
        );
        assert_eq!(
            r,
            vec![("127.0.0.1".into(), 6380), ("127.0.0.1".into(), 6381)]
        );
        assert_eq!(n.role, Role::Master);
        assert_eq!(n.run_id.as_deref(), Some("abc"));
        let mut f = Node::new("127.0.0.1", 6380);
        f.apply_info("role:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:6379\r\nmaster_link_status:down\r\nmaster_link_down_since_seconds:3\r\nslave_repl_offset:99\r\nslave_priority:0\r\n");
        assert_eq!(f.role, Role::Slave);
        assert_eq!(
            (f.master_port, f.master_link_up, f.master_link_down_ms),
            (6379, false, 3000)
        );
        assert_eq!((f.repl_offset, f.priority), (99, 0));
    }

    #[test]
    fn the_promoted_follower_is_the_address_once_the_others_are_repointed() {
        let cfg = MasterConfig::new("g", "127.0.0.1", 6379, 2);
        let mut m = Master::new(cfg);
        let f = Node::new("127.0.0.1", 6380);
        m.promoted = Some(f.addr());
        m.replicas.insert(f.addr(), f);
        for (state, port) in [
            (FailoverState::SelectSlave, 6379),
            (FailoverState::WaitPromotion, 6379),
            (FailoverState::ReconfSlaves, 6380),
            (FailoverState::UpdateConfig, 6380),
        ] {
            m.failover = state;
            assert_eq!(
                m.current_address(),
                ("127.0.0.1".to_string(), port),
                "{state:?}"
            );
        }
        // While the promoted follower's own task holds it outside the map, the hello it
        // builds must still name it, never the old leader.
        let key = m.promoted.clone().unwrap();
        let taken = m.replicas.remove(&key).unwrap();
        assert_eq!(m.current_address(), ("127.0.0.1".to_string(), 6380));
        m.replicas.insert(key, taken);
    }
}
