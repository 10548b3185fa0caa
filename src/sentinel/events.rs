//! Sentinel events: published to the sentinel's own pub/sub clients on channels named by
//! the event ("+sdown", "+switch-master", ...) with stock payloads, and logged as one
//! structured tracing line each. Warning-level ones about a group also run its
//! `notification-script`, as stock (see [`crate::sentinel::Sentinel::emit`]).

use crate::base::glob::glob_match;
use parking_lot::Mutex;
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Messages queued per subscriber before it is dropped as too slow.
const SUBSCRIBER_QUEUE: usize = 10_000;

/// A message for one subscriber: (matching pattern, channel, payload).
pub type Message = (Option<String>, String, String);

/// One client connection's subscriptions.
pub struct Subscriber {
    /// Exact channels.
    pub channels: Mutex<HashSet<String>>,
    /// Glob patterns.
    pub patterns: Mutex<HashSet<String>>,
    tx: mpsc::Sender<Message>,
}

impl Subscriber {
    /// Subscriptions of this connection.
    pub fn count(&self) -> usize {
        self.channels.lock().len() + self.patterns.lock().len()
    }
}

/// The event bus.
#[derive(Default)]
pub struct Events {
    subs: Mutex<Vec<Arc<Subscriber>>>,
}

impl Events {
    /// Registers a connection; its messages arrive on the returned receiver.
    pub fn subscriber(&self) -> (Arc<Subscriber>, mpsc::Receiver<Message>) {
        let (tx, rx) = mpsc::channel(SUBSCRIBER_QUEUE);
        let s = Arc::new(Subscriber {
            channels: Mutex::new(HashSet::new()),
            patterns: Mutex::new(HashSet::new()),
            tx,
        });
        self.subs.lock().push(s.clone());
        (s, rx)
    }

    /// Forgets a closed connection.
    pub fn remove(&self, s: &Arc<Subscriber>) {
        self.subs.lock().retain(|x| !Arc::ptr_eq(x, s));
    }

    /// Publishes `payload` on `channel`; returns how many received it.
    pub fn publish(&self, channel: &str, payload: &str) -> usize {
        let mut n = 0;
        for s in self.subs.lock().iter() {
            if s.channels.lock().contains(channel) {
                n += usize::from(
                    s.tx.try_send((None, channel.into(), payload.into()))
                        .is_ok(),
                );
            }
            for p in s.patterns.lock().iter() {
                if glob_match(p.as_bytes(), channel.as_bytes(), false) {
                    n += usize::from(
                        s.tx.try_send((Some(p.clone()), channel.into(), payload.into()))
                            .is_ok(),
                    );
                }
            }
        }
        n
    }

    /// Emits an event: a tracing line and a message on the channel named `kind`.
    pub fn emit(&self, kind: &str, payload: &str) {
        if is_warning(kind) {
            tracing::warn!(event = kind, "{kind} {payload}");
        } else {
            tracing::info!(event = kind, "{kind} {payload}");
        }
        self.publish(kind, payload);
    }
}

/// The events stock logs at warning level. Only these run a group's
/// `notification-script`, so the list decides what an operator's pager hears about.
const WARNING_EVENTS: &[&str] = &[
    "+config-update-from",
    "+elected-leader",
    "+failover-end",
    "+failover-end-for-timeout",
    "+failover-state-reconf-slaves",
    "+failover-state-select-slave",
    "+monitor",
    "+new-epoch",
    "+odown",
    "+promoted-slave",
    "+reset-master",
    "+sdown",
    "+selected-slave",
    "+set",
    "+switch-master",
    "+tilt",
    "+try-failover",
    "+vote-for-leader",
    "-monitor",
    "-odown",
    "-script-error",
    "-script-timeout",
    "-sdown",
    "-tilt",
];

/// Whether stock logs `kind` as a warning.
pub fn is_warning(kind: &str) -> bool {
    kind.starts_with("-failover-abort") || WARNING_EVENTS.contains(&kind)
}

/// A failover's client reconfiguration, for the group's `client-reconfig-script`
/// (`<master> <role> start <from-ip> <from-port> <to-ip> <to-port>`).
#[derive(Debug, Clone)]
pub struct Reconfig {
    /// True on the sentinel that led the failover ("leader"), false on the others
    /// ("observer").
    pub leader: bool,
    /// The old leader's address.
    pub from: (String, u16),
    /// The new leader's address.
    pub to: (String, u16),
}

/// One event as the timer and link tasks collect it under the state lock, to be emitted
/// after it is released.
#[derive(Debug, Clone)]
pub struct Event {
    /// The channel: "+sdown", "+switch-master", ...
    pub kind: String,
    /// Stock's payload.
    pub payload: String,
    /// The group it is about, if any: whose scripts it may run.
    pub master: Option<String>,
    /// Set on the event that tells of a new leader address.
    pub reconfig: Option<Reconfig>,
}

impl Event {
    /// An event whose group is named in its payload, as stock's instance prefix
    /// (`master <name> ...` or `... @ <master> <ip> <port>`) names it; none otherwise.
    pub fn new(kind: impl Into<String>, payload: impl Into<String>) -> Self {
        let payload = payload.into();
        let master = master_in_payload(&payload);
        Event {
            kind: kind.into(),
            payload,
            master,
            reconfig: None,
        }
    }

    /// An event about `master` whose payload does not name it (`+new-epoch`,
    /// `+vote-for-leader`, `+switch-master`).
    pub fn of_master(master: &str, kind: impl Into<String>, payload: impl Into<String>) -> Self {
        Event {
            master: Some(master.to_string()),
            ..Event::new(kind, payload)
        }
    }

    /// Marks the event as the one that runs the client reconfiguration script.
    pub fn with_reconfig(mut self, reconfig: Reconfig) -> Self {
        self.reconfig = Some(reconfig);
        self
    }
}

/// The group named by stock's instance prefix in a payload.
fn master_in_payload(payload: &str) -> Option<String> {
    let words: Vec<&str> = payload.split(' ').collect();
    if let Some(at) = words.iter().position(|w| *w == "@") {
        return words.get(at + 1).map(|w| w.to_string());
    }
    (words.first() == Some(&"master"))
        .then(|| words.get(1).map(|w| w.to_string()))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_group_comes_from_stocks_instance_prefix() {
        let e = Event::new("+sdown", "master mymaster 127.0.0.1 6379");
        assert_eq!(e.master.as_deref(), Some("mymaster"));
        let e = Event::new(
            "+sdown",
            "slave 127.0.0.1:6380 127.0.0.1 6380 @ mymaster 127.0.0.1 6379",
        );
        assert_eq!(e.master.as_deref(), Some("mymaster"));
        assert_eq!(Event::new("+tilt", "#tilt mode entered").master, None);
        assert_eq!(Event::new("+new-epoch", "7").master, None);
        assert!(is_warning("-failover-abort-not-elected") && is_warning("+sdown"));
        assert!(!is_warning("+slave") && !is_warning("+role-change"));
    }
}
