//! Link tasks: one per node (leader or follower) and one per other sentinel of a group.
//!
//! A node task keeps a command link (PING every second, INFO every 10 s or every second
//! while the group is in trouble, a hello PUBLISH every 2 s) and a pub/sub link subscribed
//! to `__sentinel__:hello` to discover the other sentinels. A peer task PINGs its sentinel,
//! sends it our hello, and while the leader is subjectively down asks it
//! `SENTINEL is-master-down-by-addr` every second (with our run id when asking for a vote).
//! Tasks stop by themselves when the instance leaves the state or the group's generation
//! changes (reset, address switch).

use super::Sentinel;
use super::events::{Event, Reconfig};
use super::link::{Auth, Frame, Link, frame_text};
use super::state::{
    ASK_PERIOD, FailoverState, INFO_PERIOD, MIN_LINK_RECONNECT_PERIOD, Master, Node, PING_PERIOD,
    PUBLISH_PERIOD, Peer, Reconf, Role,
};
use crate::base::now_ms;
use std::sync::Arc;
use std::time::Duration;

/// INFO period for nodes a failover in progress waits on (and their link task's pause
/// between rounds): each report it waits for comes this much sooner.
const FAILOVER_INFO_PERIOD_MS: u64 = 25;
/// The pause between rounds of a link task otherwise.
const ROUND_PAUSE_MS: u64 = 100;

/// The hello channel every sentinel publishes on and listens to.
pub const HELLO_CHANNEL: &str = "__sentinel__:hello";

/// Which instance a task watches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// The group's leader.
    Leader,
    /// A follower, by "ip:port".
    Replica(String),
    /// Another sentinel, by run id.
    Peer(String),
}

impl Target {
    fn key(&self, master: &str, generation: u64) -> String {
        match self {
            Target::Leader => format!("{master}/{generation}/leader"),
            Target::Replica(a) => format!("{master}/{generation}/replica/{a}"),
            Target::Peer(id) => format!("{master}/{generation}/peer/{id}"),
        }
    }
}

/// Starts the tasks missing for the current state (called by the timer).
pub fn spawn_missing(sh: &Arc<Sentinel>) {
    let wanted: Vec<(String, u64, Target)> = {
        let st = sh.state.lock();
        let mut v = Vec::new();
        for m in st.masters.values() {
            v.push((m.name().to_string(), m.generation, Target::Leader));
            for a in m.replicas.keys() {
                v.push((
                    m.name().to_string(),
                    m.generation,
                    Target::Replica(a.clone()),
                ));
            }
            for id in m.sentinels.keys() {
                v.push((m.name().to_string(), m.generation, Target::Peer(id.clone())));
            }
        }
        v
    };
    for (name, generation, target) in wanted {
        let key = target.key(&name, generation);
        if !sh.tasks.lock().insert(key.clone()) {
            continue;
        }
        let sh2 = sh.clone();
        tokio::spawn(async move {
            match &target {
                Target::Peer(_) => peer_task(&sh2, &name, generation, &target).await,
                _ => node_task(&sh2, &name, generation, &target).await,
            }
            sh2.tasks.lock().remove(&key);
        });
    }
}

/// Runs `f` on the watched node if it is still part of the state.
fn with_node<R>(
    sh: &Sentinel,
    name: &str,
    generation: u64,
    target: &Target,
    f: impl FnOnce(&mut Master, &mut Node) -> R,
) -> Option<R> {
    let mut st = sh.state.lock();
    let m = st.masters.get_mut(name)?;
    if m.generation != generation {
        return None;
    }
    match target {
        Target::Leader => {
            // The closure sees the group whole (its hello names the leader's address), so
            // it works on a copy of the leader that is written back unless the group moved
            // to another leader meanwhile.
            let mut node = m.node.clone();
            let r = f(m, &mut node);
            if m.generation == generation {
                m.node = node;
            }
            Some(r)
        }
        Target::Replica(a) => {
            let mut node = m.replicas.remove(a)?;
            let r = f(m, &mut node);
            m.replicas.insert(a.clone(), node);
            Some(r)
        }
        Target::Peer(id) => {
            let mut peer = m.sentinels.remove(id)?;
            let r = f(m, &mut peer.node);
            m.sentinels.insert(id.clone(), peer);
            Some(r)
        }
    }
}

fn link_timeout(down_after: u64) -> Duration {
    Duration::from_millis((down_after / 2).clamp(100, 2000))
}

/// What a node task needs to know about its group at each step.
struct Plan {
    addr: String,
    auth: Auth,
    down_after: u64,
    ping_due: bool,
    info_due: bool,
    hello: Option<String>,
    /// How long to wait before the next round.
    pause: Duration,
}

fn plan(
    sh: &Sentinel,
    name: &str,
    generation: u64,
    target: &Target,
    local_ip: &str,
) -> Option<Plan> {
    let now = now_ms();
    let (myid, epoch) = {
        let st = sh.state.lock();
        (st.myid.clone(), st.current_epoch)
    };
    let (announce_ip, announce_port) = {
        let c = sh.config.lock();
        // Peers reach us where our links go: the TLS port when links are TLS (as Redis).
        let port = if c.tls_links() { c.tls_port() } else { c.port };
        (c.announce_ip.clone(), c.announce_port.unwrap_or(port))
    };
    with_node(sh, name, generation, target, |m, n| {
        let troubled = m.node.s_down_since_ms > 0 || m.failover != FailoverState::None;
        // Nodes a running failover waits on (the promoted follower reporting its new
        // role, followers reporting the new leader) are polled faster than stock's 1 s:
        // each poll saved is time clients spend without a leader.
        let waited_on = matches!(
            m.failover,
            FailoverState::SelectSlave | FailoverState::WaitPromotion | FailoverState::ReconfSlaves
        ) && matches!(target, Target::Replica(_));
        // A follower's offset from before the leader went down cannot rank it for
        // promotion (`failover::awaiting_fresh_offsets`): read it again at once.
        let offset_stale = matches!(target, Target::Replica(_)) && m.offset_predates_down(n);
        let info_period = if waited_on {
            FAILOVER_INFO_PERIOD_MS
        } else if troubled {
            1000
        } else {
            INFO_PERIOD.get()
        };
        Plan {
            addr: n.addr(),
            auth: Auth {
                user: m.cfg.auth_user.clone(),
                pass: m.cfg.auth_pass.clone(),
            },
            down_after: m.cfg.down_after_ms,
            ping_due: now.saturating_sub(n.last_ping_ms)
                >= PING_PERIOD.get().min(m.cfg.down_after_ms),
            info_due: offset_stale || now.saturating_sub(n.info_refresh_ms) >= info_period,
            pause: Duration::from_millis(if waited_on {
                FAILOVER_INFO_PERIOD_MS
            } else {
                ROUND_PAUSE_MS
            }),
            hello: {
                let (mip, mport) = m.current_address();
                Some(
                    super::hello::Hello {
                        ip: announce_ip.as_deref().unwrap_or(local_ip),
                        port: announce_port,
                        run_id: &myid,
                        current_epoch: epoch,
                        master_name: &m.cfg.name,
                        master_ip: &mip,
                        master_port: mport,
                        config_epoch: m.cfg.config_epoch,
                    }
                    .to_string(),
                )
            },
        }
    })
}

/// Sends a PING on a link, recording the send and whether the reply was valid (what
/// down detection measures), for nodes and peers alike.
async fn ping(
    sh: &Sentinel,
    name: &str,
    generation: u64,
    target: &Target,
    link: &mut Link,
    now: u64,
    timeout: Duration,
) -> Result<(), super::link::LinkError> {
    let mut unanswered_before = 0;
    with_node(sh, name, generation, target, |_, n| {
        unanswered_before = n.act_ping_ms;
        n.ping_sent(now);
    });
    let r = match link.call(&["PING"], timeout).await {
        Ok(r) => r,
        Err(e) => {
            if !matches!(e, super::link::LinkError::Timeout) {
                // The link was already broken (the node died, its socket closed): stock
                // sees that at once and measures from the last valid reply, so this
                // PING, which never had a chance, starts no unanswered-PING clock.
                with_node(sh, name, generation, target, |_, n| {
                    n.act_ping_ms = unanswered_before
                });
            }
            return Err(e);
        }
    };
    let ok = ping_ok(&r);
    with_node(sh, name, generation, target, |_, n| n.pong(now_ms(), ok));
    Ok(())
}

/// The start of each round of a node's or peer's link task: what is due now (None: the
/// target left the state and the task stops) and the time it was planned at, with the
/// PING already sent when one was due.
async fn begin_round(
    sh: &Sentinel,
    name: &str,
    generation: u64,
    target: &Target,
    local_ip: &str,
    link: &mut Link,
    timeout: Duration,
) -> Result<Option<(Plan, u64)>, super::link::LinkError> {
    let Some(p) = plan(sh, name, generation, target, local_ip) else {
        return Ok(None);
    };
    let now = now_ms();
    if p.ping_due {
        ping(sh, name, generation, target, link, now, timeout).await?;
    }
    Ok(Some((p, now)))
}

/// Publishes our hello on a link every publish period.
async fn hello_if_due(
    link: &mut Link,
    hello: Option<&str>,
    now: u64,
    last_hello: &mut u64,
    timeout: Duration,
) -> Result<(), super::link::LinkError> {
    if let Some(h) = hello
        && now.saturating_sub(*last_hello) >= PUBLISH_PERIOD.get()
    {
        *last_hello = now;
        link.call(&["PUBLISH", HELLO_CHANNEL, h], timeout).await?;
    }
    Ok(())
}

/// A PING reply counts as "available" when it is +PONG, -LOADING or -MASTERDOWN (stock).
fn ping_ok(f: &Frame) -> bool {
    match f {
        Frame::SimpleString(s) => &s[..] == b"PONG",
        Frame::Error(e) => e.starts_with("LOADING") || e.starts_with("MASTERDOWN"),
        _ => false,
    }
}

fn short_id(sh: &Sentinel) -> String {
    sh.state.lock().myid[..8].to_string()
}

async fn node_task(sh: &Arc<Sentinel>, name: &str, generation: u64, target: &Target) {
    let id8 = short_id(sh);
    let mut last_hello = 0u64;
    loop {
        let Some(p) = plan(sh, name, generation, target, "127.0.0.1") else {
            return;
        };
        let timeout = link_timeout(p.down_after);
        let mut link = match Link::open(
            &p.addr,
            &p.auth,
            &sh.link_tls(),
            Some(&format!("sentinel-{id8}-cmd")),
            timeout,
        )
        .await
        {
            Ok(l) => l,
            Err(_) => {
                with_node(sh, name, generation, target, |_, n| n.connected = false);
                tokio::time::sleep(Duration::from_millis(250)).await;
                continue;
            }
        };
        let local_ip = link.local_ip();
        with_node(sh, name, generation, target, |_, n| {
            n.connected = true;
            n.info_refresh_ms = 0;
        });
        let hello_task = tokio::spawn(hello_listener(
            sh.clone(),
            p.addr.clone(),
            p.auth.clone(),
            id8.clone(),
            name.to_string(),
            generation,
            target.clone(),
        ));
        let result: Result<(), super::link::LinkError> = async {
            loop {
                let round =
                    begin_round(sh, name, generation, target, &local_ip, &mut link, timeout);
                let Some((p, now)) = round.await? else {
                    return Ok(());
                };
                if p.info_due {
                    let r = link
                        .call(&["INFO"], timeout.max(Duration::from_millis(1000)))
                        .await?;
                    if let Some(text) = frame_text(&r) {
                        on_info(sh, name, generation, target, &text);
                    }
                }
                hello_if_due(&mut link, p.hello.as_deref(), now, &mut last_hello, timeout).await?;
                tokio::time::sleep(p.pause).await;
            }
        }
        .await;
        hello_task.abort();
        with_node(sh, name, generation, target, |_, n| n.connected = false);
        if let Err(e) = result {
            tracing::debug!(master = name, addr = %p.addr, error = %e, "link to node lost");
        } else {
            return;
        }
    }
}

/// Subscribes to the hello channel on a node and processes what other sentinels announce.
async fn hello_listener(
    sh: Arc<Sentinel>,
    addr: String,
    auth: Auth,
    id8: String,
    name: String,
    generation: u64,
    target: Target,
) {
    let timeout = Duration::from_secs(2);
    loop {
        if with_node(&sh, &name, generation, &target, |_, _| ()).is_none() {
            return;
        }
        let Ok(mut link) = Link::open(
            &addr,
            &auth,
            &sh.link_tls(),
            Some(&format!("sentinel-{id8}-pubsub")),
            timeout,
        )
        .await
        else {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        if link.send(&["SUBSCRIBE", HELLO_CHANNEL]).await.is_err() {
            continue;
        }
        let opened = std::time::Instant::now();
        loop {
            // Our own hello comes back on this channel every publish period: a link silent
            // for three of them, once older than min-link-reconnect-period, is taken for
            // dead (a peer gone without closing, a connection a firewall dropped) and
            // opened again, as stock does; a read error ends it at once.
            let silence = Duration::from_millis(3 * PUBLISH_PERIOD.get());
            let frame = match tokio::time::timeout(silence, link.read()).await {
                Ok(Ok(frame)) => frame,
                Ok(Err(_)) => break,
                Err(_) if opened.elapsed().as_millis() as u64 > MIN_LINK_RECONNECT_PERIOD.get() => {
                    tracing::debug!(master = %name, addr = %addr, "hello link silent: reconnecting");
                    break;
                }
                Err(_) => continue,
            };
            if let Frame::Array(parts) = frame
                && parts.len() == 3
                && frame_text(&parts[0]).as_deref() == Some("message")
                && let Some(payload) = frame_text(&parts[2])
            {
                process_hello(&sh, &payload);
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Handles a hello (from a node's channel, or PUBLISHed to us directly): learns the
/// sentinel, its epoch, and a newer configuration of the group it talks about.
pub fn process_hello(sh: &Arc<Sentinel>, payload: &str) {
    let Some(h) = super::hello::Hello::parse(payload) else {
        return;
    };
    let (ip, port, runid, epoch) = (h.ip, h.port, h.run_id, h.current_epoch);
    let (mname, mip, mport, mepoch) = (h.master_name, h.master_ip, h.master_port, h.config_epoch);
    // A hello naming no address (or port 0) describes no usable configuration.
    if ip.is_empty() || port == 0 || mip.is_empty() || mport == 0 {
        return;
    }
    let mut st = sh.state.lock();
    // A hello about a group we do not monitor says nothing to us, its epoch included
    // (stock skips it whole): another deployment's epochs must not move ours.
    if runid == st.myid || !st.masters.contains_key(mname) {
        return;
    }
    let mut events: Vec<Event> = Vec::new();
    let epoch_raised = epoch > st.current_epoch;
    if epoch_raised {
        st.current_epoch = epoch;
        st.dirty = true;
    }
    let Some(m) = st.masters.get_mut(mname) else {
        return;
    };
    let now = now_ms();
    let at = m.at();
    // A sentinel known by another address, or a new one: stock's two cases.
    let mut moved = false;
    let mut obsolete: Option<String> = None;
    match m.sentinels.get_mut(runid) {
        Some(p) => {
            p.last_hello_ms = now;
            if p.ip != ip || p.port != port {
                p.move_to(ip, port);
                events.push(Event::new(
                    "+sentinel-address-switch",
                    format!("master {at} ip {ip} port {port} for {runid}"),
                ));
                moved = true;
                st.dirty = true;
            }
        }
        None => {
            // Another id at the same address: that sentinel restarted with a new id (or
            // the address moved to another one); its old id is dropped everywhere.
            obsolete = m
                .sentinels
                .values()
                .find(|p| p.ip == ip && p.port == port)
                .map(|p| p.run_id.clone());
            if let Some(old) = &obsolete {
                events.push(Event::new(
                    "+sentinel-invalid-addr",
                    format!("sentinel {old} {ip} {port} @ {at}"),
                ));
            }
            m.sentinels.insert(runid.into(), Peer::new(ip, port, runid));
            events.push(Event::new(
                "+sentinel",
                format!("sentinel {runid} {ip} {port} @ {at}"),
            ));
            st.dirty = true;
        }
    }
    if let Some(old) = obsolete {
        for other in st.masters.values_mut() {
            other.sentinels.remove(&old);
        }
    }
    if moved {
        // The same sentinel watching other groups has moved there too.
        let mut updated = 0;
        for (name, other) in st.masters.iter_mut() {
            if name.as_str() == mname {
                continue;
            }
            if let Some(p) = other.sentinels.get_mut(runid) {
                p.move_to(ip, port);
                updated += 1;
            }
        }
        if updated > 0 {
            events.push(Event::new(
                "+sentinel-address-update",
                format!(
                    "sentinel {runid} {ip} {port} @ {at} {updated} additional matching instances"
                ),
            ));
        }
    }
    // As stock: what a hello says about the sentinel comes first, then +new-epoch.
    if epoch_raised {
        events.push(Event::of_master(mname, "+new-epoch", epoch.to_string()));
    }
    let Some(m) = st.masters.get_mut(mname) else {
        return;
    };
    if mepoch > m.cfg.config_epoch {
        m.cfg.config_epoch = mepoch;
        if !m.node.is_at(mip, mport) {
            let (oip, oport) = (m.node.shown().to_string(), m.node.port);
            events.push(Event::new(
                "+config-update-from",
                format!("sentinel {runid} {ip} {port} @ {}", m.at()),
            ));
            m.switch_to(mip, mport);
            events.push(
                Event::of_master(
                    mname,
                    "+switch-master",
                    format!("{mname} {oip} {oport} {mip} {mport}"),
                )
                .with_reconfig(Reconfig {
                    leader: false,
                    from: (oip, oport),
                    to: (mip.to_string(), mport),
                }),
            );
        }
        st.dirty = true;
    }
    drop(st);
    sh.emit_all(events);
}

/// The events an INFO reply gives as stock's `sentinelRefreshInstanceInfo` does:
/// `+reboot` when the run id changed, and `+role-change` (the role we have it in) or
/// `-role-change` (another) when the reported role changed. A node's first report is
/// compared with the role we have it in, as stock starts from that.
fn reported_changes(
    n: &Node,
    role_before: Role,
    configured: Role,
    run_before: Option<String>,
    who: &str,
) -> Vec<Event> {
    let mut events = Vec::new();
    if run_before.is_some() && n.run_id != run_before {
        events.push(Event::new("+reboot", who.to_string()));
    }
    let before = if role_before == Role::Unknown {
        configured
    } else {
        role_before
    };
    if n.role != Role::Unknown && n.role != before {
        let kind = if n.role == configured {
            "+role-change"
        } else {
            "-role-change"
        };
        let reported = if n.role == Role::Master {
            "master"
        } else {
            "slave"
        };
        events.push(Event::new(
            kind,
            format!("{who} new reported role is {reported}"),
        ));
    }
    events
}

/// A node to repoint: address, credentials, new leader (None: promote it).
pub type Repoint = (String, Auth, Option<(String, u16)>);

/// Applies an INFO reply from a node: followers discovered, role changes, failover
/// progress, and repointing nodes that follow the wrong leader.
fn on_info(sh: &Arc<Sentinel>, name: &str, generation: u64, target: &Target, text: &str) {
    let mut events: Vec<Event> = Vec::new();
    let mut commands: Vec<Repoint> = Vec::new();
    let now = now_ms();
    {
        let mut st = sh.state.lock();
        let failover_epoch_for_promotion;
        {
            let Some(m) = st.masters.get_mut(name) else {
                return;
            };
            if m.generation != generation {
                return;
            }
            failover_epoch_for_promotion = m.failover_epoch;
        }
        let mut dirty = false;
        let tilt = st.tilt.active();
        let m = st.masters.get_mut(name).expect("checked above");
        let auth = Auth {
            user: m.cfg.auth_user.clone(),
            pass: m.cfg.auth_pass.clone(),
        };
        match target {
            Target::Leader => {
                let (role_before, run_before) = (m.node.role, m.node.run_id.clone());
                let found = m.node.apply_info(text);
                let who = format!("master {}", m.at());
                events.extend(reported_changes(
                    &m.node,
                    role_before,
                    Role::Master,
                    run_before,
                    &who,
                ));
                for (ip, port) in found {
                    let n = Node::new(&ip, port);
                    let addr = n.addr();
                    if addr == m.node.addr() || m.replicas.contains_key(&addr) {
                        continue;
                    }
                    events.push(Event::new(
                        "+slave",
                        format!("slave {} {} {port} @ {}", n.name(), n.shown(), m.at()),
                    ));
                    m.replicas.insert(addr, n);
                    dirty = true;
                }
            }
            Target::Replica(a) => {
                let master_addr = (m.node.shown().to_string(), m.node.port);
                let master_node = m.node.clone();
                let promoted_node = m.promoted_node().cloned();
                let master_sane = m.node.role == Role::Master
                    && m.node.s_down_since_ms == 0
                    && m.o_down_since_ms == 0;
                let in_failover = m.failover != FailoverState::None;
                let promoted = m.promoted.clone();
                let state = m.failover;
                let at = m.at();
                let Some(n) = m.replicas.get_mut(a) else {
                    return;
                };
                let (role_before, run_before) = (n.role, n.run_id.clone());
                n.apply_info(text);
                let ev_name = format!("slave {} {} {} @ {}", n.name(), n.shown(), n.port, at);
                events.extend(reported_changes(
                    n,
                    role_before,
                    Role::Slave,
                    run_before,
                    &ev_name,
                ));
                let is_promoted = promoted.as_deref() == Some(a.as_str());
                if tilt {
                    // In TILT what INFO says is recorded, not acted on.
                } else if is_promoted
                    && state == FailoverState::WaitPromotion
                    && n.role == Role::Master
                {
                    m.cfg.config_epoch = failover_epoch_for_promotion;
                    m.failover = FailoverState::ReconfSlaves;
                    m.failover_state_ms = now;
                    events.push(Event::new("+promoted-slave", ev_name.clone()));
                    events.push(
                        Event::new("+failover-state-reconf-slaves", format!("master {at}"))
                            .with_reconfig(Reconfig {
                                leader: true,
                                from: master_addr.clone(),
                                to: (n.shown().to_string(), n.port),
                            }),
                    );
                    dirty = true;
                } else if in_failover && state == FailoverState::ReconfSlaves && !is_promoted {
                    let points_at_new = n.role == Role::Slave
                        && n.master_host.as_deref().is_some_and(|h| {
                            promoted_node
                                .as_ref()
                                .is_some_and(|p| p.is_at(h, n.master_port))
                        });
                    if n.reconf == Reconf::Sent && points_at_new {
                        n.reconf = Reconf::InProg;
                        events.push(Event::new("+slave-reconf-inprog", ev_name.clone()));
                    }
                    if n.reconf == Reconf::InProg && points_at_new && n.master_link_up {
                        n.reconf = Reconf::Done;
                        events.push(Event::new("+slave-reconf-done", ev_name.clone()));
                    }
                } else if !in_failover && master_sane {
                    let wait = PUBLISH_PERIOD.get() * 4;
                    let settled = now.saturating_sub(n.role_reported_ms) > wait
                        && n.s_down_since_ms == 0
                        && now.saturating_sub(n.reconf_sent_ms) > wait;
                    if n.role == Role::Master && settled {
                        // An old leader that came back: make it follow the current one.
                        n.reconf_sent_ms = now;
                        commands.push((n.addr(), auth.clone(), Some(master_addr.clone())));
                        events.push(Event::new("+convert-to-slave", ev_name.clone()));
                    } else if n.role == Role::Slave
                        && settled
                        && !n
                            .master_host
                            .as_deref()
                            .is_some_and(|h| master_node.is_at(h, n.master_port))
                    {
                        n.reconf_sent_ms = now;
                        commands.push((n.addr(), auth.clone(), Some(master_addr.clone())));
                        events.push(Event::new("+fix-slave-config", ev_name.clone()));
                    }
                }
            }
            Target::Peer(_) => {}
        }
        if dirty {
            st.dirty = true;
        }
    }
    sh.emit_all(events);
    // A report may move a failover on (promotion seen, a follower reconfigured).
    sh.progress.notify_one();
    for (addr, auth, to) in commands {
        let tls = sh.link_tls();
        tokio::spawn(async move {
            let _ = send_replicaof(&addr, &auth, &tls, to).await;
        });
    }
}

/// Repoints a node the way stock Sentinel does, in one transaction so the node also
/// persists it and drops its clients (who then ask the sentinels again):
/// MULTI, SLAVEOF host port | NO ONE, CONFIG REWRITE, CLIENT KILL TYPE normal,
/// CLIENT KILL TYPE pubsub, EXEC.
pub async fn send_replicaof(
    addr: &str,
    auth: &Auth,
    tls: &super::link::Tls,
    to: Option<(String, u16)>,
) -> Result<(), super::link::LinkError> {
    let timeout = Duration::from_secs(2);
    let mut link = Link::open(addr, auth, tls, None, timeout).await?;
    let port;
    let slaveof: Vec<&str> = match &to {
        Some((ip, p)) => {
            port = p.to_string();
            vec!["SLAVEOF", ip, &port]
        }
        None => vec!["SLAVEOF", "NO", "ONE"],
    };
    link.send(&["MULTI"]).await?;
    link.send(&slaveof).await?;
    link.send(&["CONFIG", "REWRITE"]).await?;
    link.send(&["CLIENT", "KILL", "TYPE", "normal"]).await?;
    link.send(&["CLIENT", "KILL", "TYPE", "pubsub"]).await?;
    link.send(&["EXEC"]).await?;
    for _ in 0..6 {
        tokio::time::timeout(timeout, link.read())
            .await
            .map_err(|_| super::link::LinkError::Timeout)??;
    }
    Ok(())
}

async fn peer_task(sh: &Arc<Sentinel>, name: &str, generation: u64, target: &Target) {
    let Target::Peer(runid) = target else {
        return;
    };
    let id8 = short_id(sh);
    let mut last_hello = 0u64;
    let mut last_ask = 0u64;
    let mut asked_epoch = 0u64;
    loop {
        let Some(p) = plan(sh, name, generation, target, "127.0.0.1") else {
            return;
        };
        let timeout = link_timeout(p.down_after);
        let auth = sh.config.lock().peer_auth();
        let Ok(mut link) = Link::open(
            &p.addr,
            &auth,
            &sh.link_tls(),
            Some(&format!("sentinel-{id8}-cmd")),
            timeout,
        )
        .await
        else {
            with_node(sh, name, generation, target, |_, n| n.connected = false);
            tokio::time::sleep(Duration::from_millis(250)).await;
            continue;
        };
        with_node(sh, name, generation, target, |_, n| n.connected = true);
        let local_ip = link.local_ip();
        let result: Result<(), super::link::LinkError> = async {
            loop {
                let round =
                    begin_round(sh, name, generation, target, &local_ip, &mut link, timeout);
                let Some((p, now)) = round.await? else {
                    return Ok(());
                };
                hello_if_due(&mut link, p.hello.as_deref(), now, &mut last_hello, timeout).await?;
                let (vote_epoch, down_since) = waiting_vote_epoch(sh, name);
                // Ask at once when the leader just went down for us or a vote is wanted,
                // else every ask period while it stays down.
                if (now.saturating_sub(last_ask) >= ASK_PERIOD.get()
                    || vote_epoch > asked_epoch
                    || down_since > last_ask)
                    && let Some(q) = ask_args(sh, name)
                {
                    last_ask = now;
                    asked_epoch = asked_epoch.max(vote_epoch);
                    let r = link.call(&q, timeout).await?;
                    on_is_down_reply(sh, name, runid, &r);
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                    _ = sh.vote_wanted.notified() => {}
                }
            }
        }
        .await;
        with_node(sh, name, generation, target, |_, n| n.connected = false);
        if result.is_ok() {
            return;
        }
    }
}

/// The epoch of the failover we are waiting to be elected for (0: none) and since when
/// the leader is subjectively down (0: it is not): either changing makes peer tasks ask
/// at once instead of at their next period.
fn waiting_vote_epoch(sh: &Sentinel, name: &str) -> (u64, u64) {
    let st = sh.state.lock();
    st.masters.get(name).map_or((0, 0), |m| {
        let epoch = if m.failover == FailoverState::WaitStart {
            m.failover_epoch
        } else {
            0
        };
        (epoch, m.node.s_down_since_ms)
    })
}

/// `SENTINEL is-master-down-by-addr ip port epoch runid|*` while the leader is
/// subjectively down (with our id when we are waiting to be elected).
fn ask_args(sh: &Sentinel, name: &str) -> Option<Vec<String>> {
    let st = sh.state.lock();
    let m = st.masters.get(name)?;
    if m.node.s_down_since_ms == 0 {
        return None;
    }
    let runid = if m.failover == FailoverState::WaitStart {
        st.myid.clone()
    } else {
        "*".into()
    };
    Some(vec![
        "SENTINEL".into(),
        "is-master-down-by-addr".into(),
        m.node.shown().to_string(),
        m.node.port.to_string(),
        st.current_epoch.to_string(),
        runid,
    ])
}

fn on_is_down_reply(sh: &Sentinel, name: &str, runid: &str, r: &Frame) {
    let Frame::Array(parts) = r else {
        return;
    };
    if parts.len() != 3 {
        return;
    }
    let (Frame::Integer(down), Some(leader), Frame::Integer(epoch)) =
        (&parts[0], frame_text(&parts[1]), &parts[2])
    else {
        return;
    };
    let mut st = sh.state.lock();
    let Some(m) = st.masters.get_mut(name) else {
        return;
    };
    if let Some(p) = m.sentinels.get_mut(runid) {
        p.says_down = *down == 1;
        p.reply_ms = now_ms();
        if leader != "*" {
            p.leader = Some(leader);
            p.leader_epoch = *epoch as u64;
        }
    }
    drop(st);
    // An opinion or a vote may complete the quorum or an election: no need to wait for
    // the next tick.
    sh.progress.notify_one();
}
