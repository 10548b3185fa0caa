//! Keyspace notifications (`notify-keyspace-events`): writes announce what they did to a
//! key on pub/sub channels, which applications use for cache invalidation, session expiry
//! and job timeouts.
//!
//! The store does not know clients, so it publishes through a sink the server installs.
//! Events are emitted inside the write section that makes the change, so subscribers see
//! them in exactly the order the changes became visible.

use parking_lot::RwLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// `K`: publish on `__keyspace@<db>__:<key>` with the event as the message.
pub const KEYSPACE: u32 = 1 << 0;
/// `E`: publish on `__keyevent@<db>__:<event>` with the key as the message.
pub const KEYEVENT: u32 = 1 << 1;
/// `g`: type-independent commands (DEL, EXPIRE, RENAME, ...).
pub const GENERIC: u32 = 1 << 2;
/// `$`: string commands.
pub const STRING: u32 = 1 << 3;
/// `l`: list commands.
pub const LIST: u32 = 1 << 4;
/// `s`: set commands.
pub const SET: u32 = 1 << 5;
/// `h`: hash commands.
pub const HASH: u32 = 1 << 6;
/// `z`: sorted set commands.
pub const ZSET: u32 = 1 << 7;
/// `x`: a key expired (lazily on access or by active expiry).
pub const EXPIRED: u32 = 1 << 8;
/// `e`: a key was evicted for `maxmemory`.
pub const EVICTED: u32 = 1 << 9;
/// `t`: stream commands.
pub const STREAM: u32 = 1 << 10;
/// `m`: a read found no key (not part of `A`, as in Redis).
pub const KEY_MISS: u32 = 1 << 11;
/// `d`: module events (no modules here; kept so the flag round-trips).
pub const MODULE: u32 = 1 << 13;
/// `n`: a key was created (not part of `A`, as in Redis).
pub const NEW: u32 = 1 << 14;
/// `A`: every class except `m` and `n`.
pub const ALL: u32 =
    GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

/// The error CONFIG SET gives for a class character it does not know (Redis 7.0's text).
pub const BAD_CLASS: &str = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.";

/// Parses a class string (`KEA`, `Kx`, ``) into flags; None on an unknown character.
pub fn parse_classes(classes: &str) -> Option<u32> {
    classes.chars().try_fold(0, |flags, c| {
        Some(
            flags
                | match c {
                    'A' => ALL,
                    'g' => GENERIC,
                    '$' => STRING,
                    'l' => LIST,
                    's' => SET,
                    'h' => HASH,
                    'z' => ZSET,
                    'x' => EXPIRED,
                    'e' => EVICTED,
                    'K' => KEYSPACE,
                    'E' => KEYEVENT,
                    't' => STREAM,
                    'm' => KEY_MISS,
                    'd' => MODULE,
                    'n' => NEW,
                    _ => return None,
                },
        )
    })
}

/// The canonical class string CONFIG GET reports (`AKE` for `KEA`), as Redis writes it.
pub fn classes_text(flags: u32) -> String {
    let mut s = String::new();
    if flags & ALL == ALL {
        s.push('A');
    } else {
        for (bit, c) in [
            (GENERIC, 'g'),
            (STRING, '$'),
            (LIST, 'l'),
            (SET, 's'),
            (HASH, 'h'),
            (ZSET, 'z'),
            (EXPIRED, 'x'),
            (EVICTED, 'e'),
            (STREAM, 't'),
            (MODULE, 'd'),
            (NEW, 'n'),
        ] {
            if flags & bit != 0 {
                s.push(c);
            }
        }
    }
    for (bit, c) in [(KEYSPACE, 'K'), (KEYEVENT, 'E'), (KEY_MISS, 'm')] {
        if flags & bit != 0 {
            s.push(c);
        }
    }
    s
}

/// Publishes one message on one channel (the server's pub/sub).
pub type Sink = Box<dyn Fn(&[u8], &[u8]) + Send + Sync>;

/// The configured classes and where events go.
#[derive(Default)]
pub struct KeyspaceEvents {
    flags: AtomicU32,
    sink: RwLock<Option<Sink>>,
}

impl KeyspaceEvents {
    /// Sets the enabled classes (`notify-keyspace-events`).
    pub fn set_flags(&self, flags: u32) {
        self.flags.store(flags, Ordering::Relaxed);
    }

    /// Installs the publisher (the server's pub/sub), replacing any earlier one.
    pub fn set_sink(&self, sink: Sink) {
        *self.sink.write() = Some(sink);
    }

    /// True when events of `class` are published (one atomic load: the write path's cost
    /// when notifications are off).
    pub fn wants(&self, class: u32) -> bool {
        let flags = self.flags.load(Ordering::Relaxed);
        flags & class != 0 && flags & (KEYSPACE | KEYEVENT) != 0
    }

    /// Publishes `event` on `key` of logical database `db`, if `class` is enabled.
    pub fn emit(&self, class: u32, event: &str, db: usize, key: &[u8]) {
        if !self.wants(class) {
            return;
        }
        let flags = self.flags.load(Ordering::Relaxed);
        let sink = self.sink.read();
        let Some(publish) = sink.as_ref() else {
            return;
        };
        if flags & KEYSPACE != 0 {
            let mut channel = format!("__keyspace@{db}__:").into_bytes();
            channel.extend_from_slice(key);
            publish(&channel, event.as_bytes());
        }
        if flags & KEYEVENT != 0 {
            let channel = format!("__keyevent@{db}__:{event}");
            publish(channel.as_bytes(), key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_round_trip_as_redis_prints_them() {
        assert_eq!(classes_text(parse_classes("KEA").unwrap()), "AKE");
        assert_eq!(classes_text(parse_classes("Ex$").unwrap()), "$xE");
        // As Redis: `A` hides `n` in the text (the flag itself stays on).
        assert_eq!(classes_text(parse_classes("gAmn").unwrap()), "Am");
        assert_eq!(classes_text(parse_classes("").unwrap()), "");
        assert_eq!(classes_text(parse_classes("nK").unwrap()), "nK");
        assert!(parse_classes("KEw").is_none());
    }
}
