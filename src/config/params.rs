//! The table of configuration parameters: names, defaults, value kinds and mutability.
//! CONFIG GET/SET, the config file and `--name value` overrides all read this one table.

use super::Live;
use std::sync::atomic::Ordering::Relaxed;

/// How a parameter's value is parsed and validated.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// A decimal integer within bounds.
    Int { min: i64, max: i64 },
    /// Bytes, accepting Redis's unit suffixes (`100mb`, `1gb`, `512k`).
    Memory { min: u64 },
    /// `yes` / `no`.
    Bool,
    /// One of a fixed set of words.
    Enum(&'static [&'static str]),
    /// Free text.
    Str,
    /// Seconds; accepts plain integers as Redis does and humantime forms (`10s`, `2m`).
    Seconds { max: u64 },
    /// `client-output-buffer-limit`: `<class> <hard> <soft> <seconds>` groups.
    OutputBufferLimit,
    /// `save`: `<seconds> <changes>` pairs or empty.
    SavePoints,
    /// An unsigned integer written in octal (`unixsocketperm 700`).
    Octal { max: u32 },
    /// Bytes as [`Kind::Memory`], or a percentage of `maxmemory` (`10%`).
    MemoryOrPercent,
    /// Several words of a fixed set, in any combination (`shutdown-on-sigint nosave now`).
    Flags(&'static [&'static str]),
    /// A fixed number of integers within bounds (`oom-score-adj-values 0 200 800`).
    IntList { count: usize, min: i64, max: i64 },
    /// Percentiles between 0 and 100 (`latency-tracking-info-percentiles 50 99 99.9`).
    Percentiles,
    /// Keyspace notification classes (`notify-keyspace-events KEA`), kept in Redis's
    /// canonical order (`AKE`).
    KeyspaceEvents,
}

/// One configuration parameter.
#[derive(Debug)]
pub struct Param {
    /// Canonical name (as CONFIG GET reports it).
    pub name: &'static str,
    /// Other accepted names.
    pub aliases: &'static [&'static str],
    /// Default value text.
    pub default: &'static str,
    /// Value kind.
    pub kind: Kind,
    /// False when the value can only be set at startup.
    pub mutable: bool,
    /// Accepted, kept and reported, but changes nothing here (the behaviour it tunes does
    /// not exist in Ferrocache); listed once at startup so nobody relies on it unknowingly.
    pub inert: bool,
    /// CONFIG SET refuses it unless `enable-protected-configs` allows the client: with
    /// `dir` and `dbfilename` a connection could make SAVE write a file of its choosing.
    pub protected: bool,
    /// Left out of CONFIG GET patterns (returned only when named), as Redis hides its
    /// debugging and test knobs.
    pub hidden: bool,
    /// Where the value lives for the code that reads it often: called with the new
    /// (validated, normalized) text at startup and after every change, as Redis binds a
    /// parameter to its `server.*` field and apply function. Parameters read rarely
    /// (at a save, at a link's start) are read from the config by name instead, and those
    /// that act on the store or the process are carried by `Server::apply_setting`.
    pub live: Option<fn(&Live, &str)>,
}

const fn p(name: &'static str, default: &'static str, kind: Kind, mutable: bool) -> Param {
    Param {
        name,
        aliases: &[],
        default,
        kind,
        mutable,
        inert: false,
        protected: false,
        hidden: false,
        live: None,
    }
}

impl Param {
    /// The same parameter under its older names (Redis keeps `slave-*` and `*-ziplist-*`
    /// spellings working, and CONFIG GET lists them when a pattern matches them).
    const fn alias(mut self, aliases: &'static [&'static str]) -> Param {
        self.aliases = aliases;
        self
    }

    /// Accepted for compatibility, with no effect here (see [`Param::inert`]).
    const fn inert(mut self) -> Param {
        self.inert = true;
        self
    }

    /// Only settable at startup.
    const fn fixed(mut self) -> Param {
        self.mutable = false;
        self
    }

    /// Guarded by `enable-protected-configs` (see [`Param::protected`]).
    const fn protected(mut self) -> Param {
        self.protected = true;
        self
    }

    /// Hidden from CONFIG GET patterns (see [`Param::hidden`]).
    const fn hidden(mut self) -> Param {
        self.hidden = true;
        self
    }

    /// Bound to a field of [`Live`] (see [`Param::live`]).
    const fn live(mut self, bind: fn(&Live, &str)) -> Param {
        self.live = Some(bind);
        self
    }
}

/// An integer value as validated by its kind (0 if it somehow is not one).
fn num(v: &str) -> i64 {
    v.parse().unwrap_or(0)
}

/// A `yes`/`no` value.
fn yes(v: &str) -> bool {
    v == "yes"
}

/// A `yes`/`no` parameter, settable at run time.
const fn flag(name: &'static str, default: &'static str) -> Param {
    p(name, default, Kind::Bool, true)
}

/// An integer parameter, settable at run time.
const fn int(name: &'static str, default: &'static str, min: i64, max: i64) -> Param {
    p(name, default, Kind::Int { min, max }, true)
}

/// A byte-size parameter, settable at run time.
const fn mem(name: &'static str, default: &'static str, min: u64) -> Param {
    p(name, default, Kind::Memory { min }, true)
}

/// A parameter taking one of `words`, settable at run time.
const fn word(name: &'static str, default: &'static str, words: &'static [&'static str]) -> Param {
    p(name, default, Kind::Enum(words), true)
}

/// A free-text parameter, settable at run time.
const fn text(name: &'static str, default: &'static str) -> Param {
    p(name, default, Kind::Str, true)
}

const I32: i64 = i32::MAX as i64;
const I64: i64 = i64::MAX;
const PROTECTED_ACTION: &[&str] = &["no", "yes", "local"];

const INT: Kind = Kind::Int {
    min: 0,
    max: i32::MAX as i64,
};

/// Every parameter the server knows, with Redis 7.0's names and defaults.
pub static PARAMS: &[Param] = &[
    p("port", "6379", Kind::Int { min: 0, max: 65535 }, true),
    p("bind", "* -::*", Kind::Str, true),
    p("protected-mode", "yes", Kind::Bool, true)
        .live(|l, v| l.protected_mode.store(yes(v), Relaxed)),
    p(
        "enable-debug-command",
        "no",
        Kind::Enum(&["no", "yes", "local"]),
        false,
    ),
    p("tcp-backlog", "511", INT, false),
    p("tcp-keepalive", "300", INT, true),
    p(
        "timeout",
        "0",
        Kind::Seconds {
            max: i32::MAX as u64,
        },
        true,
    )
    .live(|l, v| l.timeout.store(num(v) as u64, Relaxed)),
    p("databases", "16", Kind::Int { min: 16, max: 16 }, false),
    p(
        "loglevel",
        "notice",
        Kind::Enum(&["debug", "verbose", "notice", "warning", "nothing"]),
        true,
    ),
    p("logfile", "", Kind::Str, false),
    p("daemonize", "no", Kind::Bool, false),
    p("pidfile", "", Kind::Str, false),
    p("requirepass", "", Kind::Str, true),
    p("aclfile", "", Kind::Str, false),
    p("tls-port", "0", Kind::Int { min: 0, max: 65535 }, false),
    p("tls-cert-file", "", Kind::Str, false),
    p("tls-key-file", "", Kind::Str, false),
    p("tls-client-cert-file", "", Kind::Str, false),
    p("tls-client-key-file", "", Kind::Str, false),
    p("tls-ca-cert-file", "", Kind::Str, false),
    p("tls-ca-cert-dir", "", Kind::Str, false),
    p(
        "tls-auth-clients",
        "yes",
        Kind::Enum(&["yes", "no", "optional"]),
        false,
    ),
    p("tls-replication", "no", Kind::Bool, false),
    p("tls-cluster", "no", Kind::Bool, false),
    p("tls-protocols", "", Kind::Str, false),
    p("acllog-max-len", "128", INT, true)
        .live(|l, v| l.acllog_max_len.store(num(v).max(0) as usize, Relaxed)),
    p(
        "acl-pubsub-default",
        "resetchannels",
        Kind::Enum(&["allchannels", "resetchannels"]),
        true,
    ),
    p(
        "maxclients",
        "10000",
        Kind::Int {
            min: 1,
            max: i32::MAX as i64,
        },
        true,
    )
    .live(|l, v| l.maxclients.store(num(v) as usize, Relaxed)),
    p("hz", "10", Kind::Int { min: 1, max: 500 }, true)
        .live(|l, v| l.hz.store(num(v) as u64, Relaxed)),
    p(
        "proto-max-bulk-len",
        "536870912",
        Kind::Memory { min: 1024 * 1024 },
        true,
    )
    .live(|l, v| l.proto_max_bulk_len.store(num(v) as usize, Relaxed)),
    p(
        "proto-max-multibulk-len",
        "1048576",
        Kind::Int {
            min: 1024,
            max: i32::MAX as i64,
        },
        true,
    )
    .live(|l, v| l.proto_max_multibulk_len.store(num(v) as usize, Relaxed)),
    p(
        "client-query-buffer-limit",
        "1073741824",
        Kind::Memory { min: 1024 * 1024 },
        true,
    )
    .live(|l, v| l.query_buffer_limit.store(num(v) as usize, Relaxed)),
    p(
        "client-output-buffer-limit",
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        Kind::OutputBufferLimit,
        true,
    )
    .live(|l, v| {
        let _ = super::merge_output_limit(l, v);
    }),
    p(
        "slowlog-log-slower-than",
        "10000",
        Kind::Int {
            min: -1,
            max: i64::MAX,
        },
        true,
    )
    .live(|l, v| l.slowlog_slower_than.store(num(v), Relaxed)),
    p("slowlog-max-len", "128", INT, true)
        .live(|l, v| l.slowlog_max_len.store(num(v) as usize, Relaxed)),
    p("save", "3600 1 300 100 60 10000", Kind::SavePoints, true),
    p("dbfilename", "dump.rdb", Kind::Str, true).protected(),
    p("replicaof", "", Kind::Str, false).alias(&["slaveof"]),
    p("masterauth", "", Kind::Str, true),
    p("masteruser", "", Kind::Str, true),
    p("replica-priority", "100", INT, true).alias(&["slave-priority"]),
    p("replica-read-only", "yes", Kind::Enum(&["yes"]), true).alias(&["slave-read-only"]),
    p("replica-serve-stale-data", "yes", Kind::Bool, true)
        .alias(&["slave-serve-stale-data"])
        .live(|l, v| l.replica_serve_stale_data.store(yes(v), Relaxed)),
    p("min-replicas-to-write", "0", INT, true)
        .alias(&["min-slaves-to-write"])
        .live(|l, v| l.min_replicas_to_write.store(num(v) as u64, Relaxed)),
    p("min-replicas-max-lag", "10", INT, true)
        .alias(&["min-slaves-max-lag"])
        .live(|l, v| l.min_replicas_max_lag.store(num(v).max(0) as u64, Relaxed)),
    // Ferrocache's own: writes only while a majority of the sentinels reached us within
    // this many ms (0: off, as stock). See replication/lease.rs.
    int("leader-lease-ms", "0", 0, 3_600_000),
    p("replica-announce-ip", "", Kind::Str, true).alias(&["slave-announce-ip"]),
    p(
        "replica-announce-port",
        "0",
        Kind::Int { min: 0, max: 65535 },
        true,
    )
    .alias(&["slave-announce-port"]),
    p(
        "repl-backlog-size",
        "1048576",
        Kind::Memory { min: 16 * 1024 },
        true,
    ),
    p(
        "repl-ping-replica-period",
        "10",
        Kind::Int {
            min: 1,
            max: i32::MAX as i64,
        },
        true,
    )
    .alias(&["repl-ping-slave-period"]),
    p("repl-diskless-sync", "yes", Kind::Bool, true),
    p(
        "repl-diskless-sync-delay",
        "5",
        Kind::Int {
            min: 0,
            max: i32::MAX as i64,
        },
        true,
    ),
    p(
        "repl-diskless-sync-max-replicas",
        "0",
        Kind::Int {
            min: 0,
            max: i32::MAX as i64,
        },
        true,
    ),
    p(
        "rdb-key-save-delay",
        "0",
        Kind::Int {
            min: -1_000_000,
            max: i32::MAX as i64,
        },
        true,
    )
    .hidden(),
    p("dir", "", Kind::Str, true).protected().live(|_, v| {
        if !v.is_empty() {
            let _ = std::env::set_current_dir(v);
        }
    }),
    flag("appendonly", "no"),
    p(
        "shutdown-timeout",
        "10",
        Kind::Seconds {
            max: i32::MAX as u64,
        },
        true,
    ),
    p("maxmemory", "0", Kind::Memory { min: 0 }, true),
    p(
        "maxmemory-samples",
        "5",
        Kind::Int { min: 1, max: 64 },
        true,
    ),
    p(
        "maxmemory-eviction-tenacity",
        "10",
        Kind::Int { min: 0, max: 100 },
        true,
    ),
    p("replica-ignore-maxmemory", "yes", Kind::Bool, true).alias(&["slave-ignore-maxmemory"]),
    p(
        "hash-max-listpack-entries",
        "512",
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        true,
    )
    .alias(&["hash-max-ziplist-entries"]),
    p(
        "hash-max-listpack-value",
        "64",
        Kind::Memory { min: 0 },
        true,
    )
    .alias(&["hash-max-ziplist-value"]),
    p(
        "zset-max-listpack-entries",
        "128",
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        true,
    )
    .alias(&["zset-max-ziplist-entries"]),
    p(
        "zset-max-listpack-value",
        "64",
        Kind::Memory { min: 0 },
        true,
    )
    .alias(&["zset-max-ziplist-value"]),
    p(
        "set-max-intset-entries",
        "512",
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        true,
    ),
    p(
        "tracking-table-max-keys",
        "1000000",
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        true,
    )
    .live(|l, v| {
        l.tracking_table_max_keys
            .store(num(v).max(0) as usize, Relaxed)
    }),
    p(
        "maxmemory-policy",
        "noeviction",
        Kind::Enum(&[
            "volatile-lru",
            "volatile-lfu",
            "volatile-random",
            "volatile-ttl",
            "allkeys-lru",
            "allkeys-lfu",
            "allkeys-random",
            "noeviction",
        ]),
        true,
    ),
    p("lfu-log-factor", "10", INT, true),
    p("lfu-decay-time", "1", INT, true),
    p(
        "active-expire-effort",
        "1",
        Kind::Int { min: 1, max: 10 },
        true,
    )
    .live(|l, v| l.expire_effort.store(num(v) as u64, Relaxed)),
    // Persistence and process.
    p("rdbchecksum", "yes", Kind::Bool, false),
    flag("rdbcompression", "yes"),
    flag("stop-writes-on-bgsave-error", "yes"),
    flag("rdb-del-sync-files", "no").inert(),
    flag("rdb-save-incremental-fsync", "yes").inert(),
    p(
        "supervised",
        "no",
        Kind::Enum(&["upstart", "systemd", "auto", "no"]),
        false,
    ),
    flag("disable-thp", "yes").fixed(),
    flag("jemalloc-bg-thread", "yes"),
    flag("dynamic-hz", "yes").live(|l, v| l.dynamic_hz.store(yes(v), Relaxed)),
    word(
        "oom-score-adj",
        "no",
        &["no", "yes", "relative", "absolute"],
    ),
    p(
        "oom-score-adj-values",
        "0 200 800",
        Kind::IntList {
            count: 3,
            min: -2000,
            max: 2000,
        },
        true,
    ),
    p(
        "shutdown-on-sigint",
        "default",
        Kind::Flags(SHUTDOWN_FLAGS),
        true,
    ),
    p(
        "shutdown-on-sigterm",
        "default",
        Kind::Flags(SHUTDOWN_FLAGS),
        true,
    ),
    p(
        "enable-protected-configs",
        "no",
        Kind::Enum(PROTECTED_ACTION),
        false,
    ),
    p(
        "enable-module-command",
        "no",
        Kind::Enum(PROTECTED_ACTION),
        false,
    )
    .inert(),
    // Freeing off the write path.
    flag("lazyfree-lazy-eviction", "no"),
    flag("lazyfree-lazy-expire", "no"),
    flag("lazyfree-lazy-server-del", "no"),
    flag("lazyfree-lazy-user-del", "no"),
    flag("lazyfree-lazy-user-flush", "no"),
    flag("replica-lazy-flush", "no").alias(&["slave-lazy-flush"]),
    // Where BGREWRITEAOF writes its base snapshot and manifest.
    p("appendfilename", "appendonly.aof", Kind::Str, false),
    p("appenddirname", "appendonlydir", Kind::Str, false),
    // Accepted for compatibility, no effect here: AOF logging (Ferrocache persists by RDB).
    word("appendfsync", "everysec", &["everysec", "always", "no"]),
    flag("no-appendfsync-on-rewrite", "no").inert(),
    int("auto-aof-rewrite-percentage", "100", 0, I32).inert(),
    mem("auto-aof-rewrite-min-size", "67108864", 0).inert(),
    flag("aof-load-truncated", "yes").inert(),
    flag("aof-use-rdb-preamble", "yes"),
    flag("aof-timestamp-enabled", "no").inert(),
    flag("aof-rewrite-incremental-fsync", "yes").inert(),
    flag("aof-disable-auto-gc", "no").inert(),
    // No effect here: process presentation, logging targets, CPU pinning, crash reports.
    p("always-show-logo", "no", Kind::Bool, false).inert(),
    p("set-proc-title", "yes", Kind::Bool, false).inert(),
    text("proc-title-template", "{title} {listen-addr} {server-mode}").inert(),
    p("syslog-enabled", "no", Kind::Bool, false).inert(),
    p("syslog-ident", "redis", Kind::Str, false).inert(),
    p(
        "syslog-facility",
        "local0",
        Kind::Enum(SYSLOG_FACILITIES),
        false,
    )
    .inert(),
    p("server_cpulist", "", Kind::Str, false).inert(),
    p("bio_cpulist", "", Kind::Str, false).inert(),
    p("aof_rewrite_cpulist", "", Kind::Str, false).inert(),
    p("bgsave_cpulist", "", Kind::Str, false).inert(),
    flag("crash-log-enabled", "yes").inert(),
    flag("crash-memcheck-enabled", "yes").inert(),
    flag("use-exit-on-panic", "no").inert().hidden(),
    int("watchdog-period", "0", 0, I32).inert().hidden(),
    text("ignore-warnings", "").inert(),
    // No effect here: networking extras Ferrocache does not offer.
    p("unixsocket", "", Kind::Str, false).inert(),
    p("unixsocketperm", "0", Kind::Octal { max: 0o777 }, false).inert(),
    p(
        "socket-mark-id",
        "0",
        Kind::Int {
            min: 0,
            max: u32::MAX as i64,
        },
        false,
    )
    .inert(),
    text("bind-source-addr", "").inert(),
    p("io-threads", "1", Kind::Int { min: 1, max: 128 }, false).inert(),
    p("io-threads-do-reads", "no", Kind::Bool, false).inert(),
    // No effect here: encodings and internals that differ from Redis's.
    flag("activerehashing", "yes").inert(),
    int("list-max-listpack-size", "-2", i32::MIN as i64, I32)
        .alias(&["list-max-ziplist-size"])
        .inert(),
    int("list-compress-depth", "0", 0, I32).inert(),
    mem("hll-sparse-max-bytes", "3000", 0),
    mem("stream-node-max-bytes", "4096", 0),
    int("stream-node-max-entries", "100", 0, I64),
    flag("activedefrag", "no").inert(),
    int("active-defrag-cycle-min", "1", 1, 99).inert(),
    int("active-defrag-cycle-max", "25", 1, 99).inert(),
    int("active-defrag-threshold-lower", "10", 0, 1000).inert(),
    int("active-defrag-threshold-upper", "100", 0, 1000).inert(),
    mem("active-defrag-ignore-bytes", "104857600", 1).inert(),
    int("active-defrag-max-scan-fields", "1000", 1, I64).inert(),
    p("maxmemory-clients", "0", Kind::MemoryOrPercent, true).inert(),
    int("latency-monitor-threshold", "0", 0, I64)
        .live(|l, v| l.latency_monitor_threshold.store(num(v) as u64, Relaxed)),
    flag("latency-tracking", "yes").live(|l, v| l.latency_tracking.store(yes(v), Relaxed)),
    p(
        "latency-tracking-info-percentiles",
        "50 99 99.9",
        Kind::Percentiles,
        true,
    ),
    int("key-load-delay", "0", i32::MIN as i64, I32)
        .inert()
        .hidden(),
    int(
        "loading-process-events-interval-bytes",
        "2097152",
        1024,
        I32,
    )
    .inert()
    .hidden(),
    word("sanitize-dump-payload", "no", &["no", "yes", "clients"]).inert(),
    int("busy-reply-threshold", "5000", 0, I64)
        .alias(&["lua-time-limit"])
        .live(|l, v| l.busy_reply_threshold.store(num(v), Relaxed)),
    // No effect here: replication tuning for mechanisms Ferrocache does differently.
    int("repl-timeout", "60", 1, I32),
    int("repl-backlog-ttl", "3600", 0, I64).inert(),
    flag("repl-disable-tcp-nodelay", "no").inert(),
    word(
        "repl-diskless-load",
        "disabled",
        &["disabled", "on-empty-db", "swapdb"],
    )
    .inert(),
    flag("replica-announced", "yes").inert(),
    flag("replica-ignore-disk-write-errors", "no").inert(),
    word("propagation-error-behavior", "ignore", PROPAGATION).inert(),
    // No effect here: Redis Cluster (not built yet).
    p("cluster-enabled", "no", Kind::Bool, false),
    p("cluster-config-file", "nodes.conf", Kind::Str, false).inert(),
    p("cluster-port", "0", Kind::Int { min: 0, max: 65535 }, false).inert(),
    int("cluster-node-timeout", "15000", 0, I64).inert(),
    int("cluster-announce-port", "0", 0, 65535).inert(),
    int("cluster-announce-bus-port", "0", 0, 65535).inert(),
    int("cluster-announce-tls-port", "0", 0, 65535).inert(),
    text("cluster-announce-ip", "").inert(),
    text("cluster-announce-hostname", "").inert(),
    word("cluster-preferred-endpoint-type", "ip", ENDPOINT_TYPES).inert(),
    flag("cluster-require-full-coverage", "yes").inert(),
    flag("cluster-allow-reads-when-down", "no").inert(),
    flag("cluster-allow-pubsubshard-when-down", "yes").inert(),
    flag("cluster-allow-replica-migration", "yes").inert(),
    flag("cluster-replica-no-failover", "no")
        .alias(&["cluster-slave-no-failover"])
        .inert(),
    int("cluster-replica-validity-factor", "10", 0, I32)
        .alias(&["cluster-slave-validity-factor"])
        .inert(),
    int("cluster-migration-barrier", "1", 0, I32).inert(),
    mem("cluster-link-sendbuf-limit", "0", 0).inert(),
    // No effect here: TLS knobs rustls decides for itself.
    text("tls-ciphers", "").inert(),
    text("tls-ciphersuites", "").inert(),
    text("tls-dh-params-file", "").inert(),
    text("tls-key-file-pass", "").inert(),
    text("tls-client-key-file-pass", "").inert(),
    flag("tls-prefer-server-ciphers", "no").inert(),
    flag("tls-session-caching", "yes").inert(),
    int("tls-session-cache-size", "20480", 0, I32).inert(),
    int("tls-session-cache-timeout", "300", 0, I32).inert(),
    p("notify-keyspace-events", "", Kind::KeyspaceEvents, true),
];

const SHUTDOWN_FLAGS: &[&str] = &["default", "save", "nosave", "now", "force"];
const SYSLOG_FACILITIES: &[&str] = &[
    "user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
];
const PROPAGATION: &[&str] = &["ignore", "panic", "panic-on-replicas"];
const ENDPOINT_TYPES: &[&str] = &["ip", "hostname", "unknown-endpoint"];

/// Finds a parameter by name or alias, case-insensitively.
pub fn find(name: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| {
        p.name.eq_ignore_ascii_case(name) || p.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    })
}
