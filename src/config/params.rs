//! The table of configuration parameters: names, defaults, value kinds and mutability.
//! CONFIG GET/SET, the config file and `--name value` overrides all read this one table.

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
}

const fn p(name: &'static str, default: &'static str, kind: Kind, mutable: bool) -> Param {
    Param {
        name,
        aliases: &[],
        default,
        kind,
        mutable,
    }
}

impl Param {
    /// The same parameter under its older names (Redis keeps `slave-*` and `*-ziplist-*`
    /// spellings working, and CONFIG GET lists them when a pattern matches them).
    const fn alias(mut self, aliases: &'static [&'static str]) -> Param {
        self.aliases = aliases;
        self
    }
}

const INT: Kind = Kind::Int {
    min: 0,
    max: i32::MAX as i64,
};

/// Every parameter the server knows, with Redis 7.0's names and defaults.
pub static PARAMS: &[Param] = &[
    p("port", "6379", Kind::Int { min: 0, max: 65535 }, false),
    p("bind", "* -::*", Kind::Str, false),
    p("protected-mode", "yes", Kind::Bool, true),
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
    ),
    p("databases", "16", Kind::Int { min: 16, max: 16 }, false),
    p(
        "loglevel",
        "notice",
        Kind::Enum(&["debug", "verbose", "notice", "warning", "nothing"]),
        true,
    ),
    p("logfile", "", Kind::Str, false),
    p("daemonize", "no", Kind::Enum(&["no"]), false),
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
    p("acllog-max-len", "128", INT, true),
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
    ),
    p("hz", "10", Kind::Int { min: 1, max: 500 }, true),
    p(
        "proto-max-bulk-len",
        "536870912",
        Kind::Memory { min: 1024 * 1024 },
        true,
    ),
    p(
        "proto-max-multibulk-len",
        "1048576",
        Kind::Int {
            min: 1024,
            max: i32::MAX as i64,
        },
        true,
    ),
    p(
        "client-query-buffer-limit",
        "1073741824",
        Kind::Memory { min: 1024 * 1024 },
        true,
    ),
    p(
        "client-output-buffer-limit",
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        Kind::OutputBufferLimit,
        true,
    ),
    p(
        "slowlog-log-slower-than",
        "10000",
        Kind::Int {
            min: -1,
            max: i64::MAX,
        },
        true,
    ),
    p("slowlog-max-len", "128", INT, true),
    p("save", "3600 1 300 100 60 10000", Kind::SavePoints, true),
    p("dbfilename", "dump.rdb", Kind::Str, true),
    p("replicaof", "", Kind::Str, false).alias(&["slaveof"]),
    p("masterauth", "", Kind::Str, true),
    p("masteruser", "", Kind::Str, true),
    p("replica-priority", "100", INT, true).alias(&["slave-priority"]),
    p("replica-read-only", "yes", Kind::Enum(&["yes"]), true).alias(&["slave-read-only"]),
    p("replica-serve-stale-data", "yes", Kind::Bool, true).alias(&["slave-serve-stale-data"]),
    p("min-replicas-to-write", "0", INT, true).alias(&["min-slaves-to-write"]),
    p("min-replicas-max-lag", "10", INT, true).alias(&["min-slaves-max-lag"]),
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
    ),
    p("dir", "", Kind::Str, true),
    p("appendonly", "no", Kind::Enum(&["no"]), true),
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
    ),
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
    ),
];

/// Finds a parameter by name or alias, case-insensitively.
pub fn find(name: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| {
        p.name.eq_ignore_ascii_case(name) || p.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    })
}
