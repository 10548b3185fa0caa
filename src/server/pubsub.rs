//! The pub/sub registry: channel, pattern and shard-channel subscriptions and message
//! fan-out. Shard channels (SSUBSCRIBE, SPUBLISH) are a namespace of their own, as in a
//! stock server without cluster mode: a message reaches the subscribers of its shard
//! channel only, never patterns or plain channels of the same name.

use crate::base::glob::glob_match;
use crate::protocol::ReplyBuf;
use crate::server::client::ClientHandle;
use bytes::Bytes;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::Arc;

type Subscribers = HashMap<u64, Arc<ClientHandle>>;

/// Which namespace a subscription lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// SUBSCRIBE / PUBLISH channels.
    Channel,
    /// PSUBSCRIBE patterns (matched against PUBLISH channels).
    Pattern,
    /// SSUBSCRIBE / SPUBLISH shard channels.
    Shard,
}

/// Who listens to what.
#[derive(Default)]
pub struct PubSub {
    channels: RwLock<HashMap<Bytes, Subscribers>>,
    patterns: RwLock<HashMap<Bytes, Subscribers>>,
    shard: RwLock<HashMap<Bytes, Subscribers>>,
}

/// Encodes a pub/sub message for a client of the given protocol version.
pub fn encode_message(resp3: bool, parts: &[&[u8]]) -> Bytes {
    let mut r = ReplyBuf {
        resp3,
        ..Default::default()
    };
    r.push(parts.len());
    for p in parts {
        r.bulk(p);
    }
    r.buf.freeze()
}

impl PubSub {
    fn map(&self, kind: Kind) -> &RwLock<HashMap<Bytes, Subscribers>> {
        match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
            Kind::Shard => &self.shard,
        }
    }

    /// Subscribes; returns false if already subscribed.
    pub fn subscribe(&self, client: &Arc<ClientHandle>, channel: &Bytes, kind: Kind) -> bool {
        self.map(kind)
            .write()
            .entry(channel.clone())
            .or_default()
            .insert(client.id, client.clone())
            .is_none()
    }

    /// Unsubscribes; returns false if not subscribed.
    pub fn unsubscribe(&self, client_id: u64, channel: &[u8], kind: Kind) -> bool {
        let mut m = self.map(kind).write();
        let Some(subs) = m.get_mut(channel) else {
            return false;
        };
        let removed = subs.remove(&client_id).is_some();
        if subs.is_empty() {
            m.remove(channel);
        }
        removed
    }

    /// Every subscription of clients authenticated as `user`: (client, channel or
    /// pattern, is a pattern), for revoking ones an ACL change no longer allows (shard
    /// channels are checked as channels, as stock checks them).
    pub fn subscriptions_of_user(&self, user: &str) -> Vec<(Arc<ClientHandle>, Bytes, bool)> {
        let mut out = Vec::new();
        for (map, pattern) in [
            (&self.channels, false),
            (&self.patterns, true),
            (&self.shard, false),
        ] {
            for (ch, subs) in map.read().iter() {
                for c in subs.values() {
                    if *c.user.lock() == user {
                        out.push((c.clone(), ch.clone(), pattern));
                    }
                }
            }
        }
        out
    }

    /// Delivers a message; returns how many clients received it.
    pub fn publish(
        &self,
        channel: &[u8],
        message: &[u8],
        mut deliver: impl FnMut(&ClientHandle, Bytes),
    ) -> usize {
        let mut n = 0;
        if let Some(subs) = self.channels.read().get(channel) {
            for c in subs.values() {
                let resp3 = c.resp.load(std::sync::atomic::Ordering::Relaxed) == 3;
                deliver(c, encode_message(resp3, &[b"message", channel, message]));
                n += 1;
            }
        }
        for (pat, subs) in self.patterns.read().iter() {
            if glob_match(pat, channel, false) {
                for c in subs.values() {
                    let resp3 = c.resp.load(std::sync::atomic::Ordering::Relaxed) == 3;
                    deliver(
                        c,
                        encode_message(resp3, &[b"pmessage", pat, channel, message]),
                    );
                    n += 1;
                }
            }
        }
        n
    }

    /// Delivers a shard-channel message (SPUBLISH) to that shard channel's subscribers
    /// only, as `smessage`; returns how many received it.
    pub fn spublish(
        &self,
        channel: &[u8],
        message: &[u8],
        mut deliver: impl FnMut(&ClientHandle, Bytes),
    ) -> usize {
        let map = self.shard.read();
        let Some(subs) = map.get(channel) else {
            return 0;
        };
        for c in subs.values() {
            let resp3 = c.resp.load(std::sync::atomic::Ordering::Relaxed) == 3;
            deliver(c, encode_message(resp3, &[b"smessage", channel, message]));
        }
        subs.len()
    }

    /// Active channels (or shard channels) matching an optional pattern (PUBSUB
    /// CHANNELS, SHARDCHANNELS).
    pub fn channels(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Bytes> {
        self.map(kind)
            .read()
            .keys()
            .filter(|c| pattern.is_none_or(|p| glob_match(p, c, false)))
            .cloned()
            .collect()
    }

    /// Subscriber count of a channel or shard channel (PUBSUB NUMSUB, SHARDNUMSUB).
    pub fn numsub(&self, kind: Kind, channel: &[u8]) -> usize {
        self.map(kind).read().get(channel).map_or(0, |s| s.len())
    }

    /// Number of distinct patterns (PUBSUB NUMPAT).
    pub fn numpat(&self) -> usize {
        self.patterns.read().len()
    }

    /// Channel, pattern and shard-channel counts for INFO stats.
    pub fn counts(&self) -> (usize, usize, usize) {
        (
            self.channels.read().len(),
            self.patterns.read().len(),
            self.shard.read().len(),
        )
    }
}
