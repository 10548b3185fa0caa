//! Sentinel events: published to the sentinel's own pub/sub clients on channels named by
//! the event ("+sdown", "+switch-master", ...) with stock payloads, and logged as one
//! structured tracing line each.

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
        if kind.starts_with("-failover-abort") || kind == "+sdown" || kind == "+odown" {
            tracing::warn!(event = kind, "{kind} {payload}");
        } else {
            tracing::info!(event = kind, "{kind} {payload}");
        }
        self.publish(kind, payload);
    }
}
