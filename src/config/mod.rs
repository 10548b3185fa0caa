//! Configuration: a redis.conf-style file, `--name value` overrides, and the live registry
//! behind CONFIG GET/SET/REWRITE. Hot values are mirrored into atomics ([`Live`]) so the
//! request path never takes a lock to read a limit.

pub mod params;

use params::{Kind, Param};
use parking_lot::RwLock;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize};

/// Why a configuration value or file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The directive is not a known parameter.
    #[error("Bad directive or wrong number of arguments")]
    UnknownDirective,
    /// The value did not parse or was out of range.
    #[error("{0}")]
    BadValue(String),
    /// The parameter cannot change at runtime.
    #[error("can't set immutable config")]
    Immutable,
    /// The parameter is protected and `enable-protected-configs` does not allow the client.
    #[error("can't set protected config")]
    Protected,
    /// A problem reading the file, with its location.
    #[error("{file}:{line}: {msg}\n>>> '{text}'")]
    AtLine {
        /// File path.
        file: String,
        /// 1-based line.
        line: usize,
        /// The offending line.
        text: String,
        /// What went wrong.
        msg: String,
    },
    /// The config file could not be read or written.
    #[error("{0}")]
    Io(String),
}

/// Output buffer limits of one client class (`client-output-buffer-limit`).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct OutputLimit {
    /// Disconnect as soon as pending output exceeds this (0 = none).
    pub hard: u64,
    /// Disconnect when pending output stays above this for `soft_seconds` (0 = none).
    pub soft: u64,
    /// How long the soft limit may be exceeded.
    pub soft_seconds: u64,
}

/// Hot configuration values read on every request.
#[derive(Debug, Default)]
pub struct Live {
    /// `maxclients`.
    pub maxclients: AtomicUsize,
    /// `timeout` in seconds (0 = never).
    pub timeout: AtomicU64,
    /// `proto-max-bulk-len`.
    pub proto_max_bulk_len: AtomicUsize,
    /// `proto-max-multibulk-len`.
    pub proto_max_multibulk_len: AtomicUsize,
    /// `client-query-buffer-limit`.
    pub query_buffer_limit: AtomicUsize,
    /// `hz`.
    pub hz: AtomicU64,
    /// `slowlog-log-slower-than` in microseconds (-1 disables).
    pub slowlog_slower_than: AtomicI64,
    /// `slowlog-max-len`.
    pub slowlog_max_len: AtomicUsize,
    /// `protected-mode`.
    pub protected_mode: AtomicBool,
    /// `active-expire-effort`.
    pub expire_effort: AtomicU64,
    /// `min-replicas-to-write` (read on every write, so mirrored here).
    pub min_replicas_to_write: AtomicU64,
    /// `min-replicas-max-lag` in seconds (read with the above).
    pub min_replicas_max_lag: AtomicU64,
    /// `replica-serve-stale-data` (read by every command on a follower whose link is down).
    pub replica_serve_stale_data: AtomicBool,
    /// `acllog-max-len`.
    pub acllog_max_len: AtomicUsize,
    /// `tracking-table-max-keys`.
    pub tracking_table_max_keys: AtomicUsize,
    /// `dynamic-hz`.
    pub dynamic_hz: AtomicBool,
    /// `latency-tracking` (per-command latency histograms).
    pub latency_tracking: AtomicBool,
    /// `latency-monitor-threshold` in milliseconds (0: the latency monitor is off).
    pub latency_monitor_threshold: AtomicU64,
    /// `busy-reply-threshold` (ms a script runs before other clients get `-BUSY`).
    pub busy_reply_threshold: AtomicI64,
    /// `client-output-buffer-limit` for normal clients.
    pub normal_limit: RwLock<OutputLimit>,
    /// `client-output-buffer-limit` for pub/sub clients.
    pub pubsub_limit: RwLock<OutputLimit>,
    /// `client-output-buffer-limit` for replicas.
    pub replica_limit: RwLock<OutputLimit>,
}

/// The whole configuration.
#[derive(Debug)]
pub struct Config {
    values: RwLock<HashMap<&'static str, String>>,
    /// The file the server was started with, if any (CONFIG REWRITE target).
    pub file: Option<PathBuf>,
    /// Mirrors of hot values.
    pub live: Live,
    /// `user <name> <rules...>` directives, in order (the ACL users to create at
    /// startup when no `aclfile` is set).
    pub users: parking_lot::Mutex<Vec<Vec<String>>>,
    /// `rename-command old new` directives, in order (applied to the command table when
    /// the server starts).
    pub renames: parking_lot::Mutex<Vec<(String, String)>>,
    /// Parameters the file or command line named (startup lists those with no effect).
    pub given: parking_lot::Mutex<Vec<&'static str>>,
}

/// Parses Redis memory notation: `1gb` = 1024^3, `1g` = 1000^3, plain bytes.
pub fn parse_memory(s: &str) -> Option<u64> {
    let l = s.trim().to_ascii_lowercase();
    let units: [(&str, u64); 8] = [
        ("kb", 1024),
        ("mb", 1024 * 1024),
        ("gb", 1024 * 1024 * 1024),
        ("k", 1000),
        ("m", 1000 * 1000),
        ("g", 1000 * 1000 * 1000),
        ("b", 1),
        ("", 1),
    ];
    for (suffix, mul) in units {
        if let Some(num) = l.strip_suffix(suffix) {
            if num.is_empty() {
                return None;
            }
            if let Ok(n) = num.parse::<u64>() {
                return n.checked_mul(mul);
            }
            if suffix.is_empty() {
                return None;
            }
        }
    }
    None
}

/// A percentile as Redis prints it: shortest form, no trailing zeros (`99.9`, `50`).
fn format_percentile(v: f64) -> String {
    let mut buf = ryu::Buffer::new();
    buf.format(v).trim_end_matches(".0").to_string()
}

fn parse_seconds(s: &str) -> Option<u64> {
    s.parse::<u64>()
        .ok()
        .or_else(|| humantime::parse_duration(s).ok().map(|d| d.as_secs()))
}

/// Parses `client-output-buffer-limit` groups into (class, limit) pairs.
pub fn parse_output_limits(s: &str) -> Result<Vec<(String, OutputLimit)>, String> {
    let words: Vec<&str> = s.split_whitespace().collect();
    if words.is_empty() || !words.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut out = Vec::new();
    for g in words.chunks(4) {
        let class = match g[0].to_ascii_lowercase().as_str() {
            "normal" => "normal",
            "slave" | "replica" => "slave",
            "pubsub" => "pubsub",
            _ => {
                return Err("Invalid client class specified in buffer limit configuration.".into());
            }
        };
        let hard = parse_memory(g[1]);
        let soft = parse_memory(g[2]);
        let secs = g[3].parse::<u64>().ok();
        match (hard, soft, secs) {
            (Some(hard), Some(soft), Some(soft_seconds)) => out.push((
                class.to_string(),
                OutputLimit {
                    hard,
                    soft,
                    soft_seconds,
                },
            )),
            _ => {
                return Err(
                    "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                        .into(),
                );
            }
        }
    }
    Ok(out)
}

/// Merges `client-output-buffer-limit` groups into the current limits (a directive or
/// CONFIG SET may name one class only); returns the whole setting as CONFIG GET prints it.
pub fn merge_output_limit(live: &Live, value: &str) -> Result<String, String> {
    let groups = parse_output_limits(value)?;
    for (class, lim) in groups {
        *match class.as_str() {
            "normal" => &live.normal_limit,
            "pubsub" => &live.pubsub_limit,
            _ => &live.replica_limit,
        }
        .write() = lim;
    }
    Ok(format_output_limits(live))
}

fn format_output_limits(l: &Live) -> String {
    let f =
        |name: &str, o: &OutputLimit| format!("{} {} {} {}", name, o.hard, o.soft, o.soft_seconds);
    format!(
        "{} {} {}",
        f("normal", &l.normal_limit.read()),
        f("slave", &l.replica_limit.read()),
        f("pubsub", &l.pubsub_limit.read())
    )
}

/// Validates `value` for `param` and returns its canonical text.
pub fn normalize(param: &Param, value: &str) -> Result<String, String> {
    match param.kind {
        Kind::Int { min, max } => {
            let v: i64 = value
                .parse()
                .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
            if v < min || v > max {
                return Err(format!(
                    "argument must be between {} and {} inclusive",
                    min, max
                ));
            }
            Ok(v.to_string())
        }
        Kind::Memory { min } => {
            let v =
                parse_memory(value).ok_or_else(|| "argument must be a memory value".to_string())?;
            if v < min {
                return Err(format!(
                    "argument must be between {} and {} inclusive",
                    min,
                    i64::MAX
                ));
            }
            Ok(v.to_string())
        }
        Kind::Bool if param.name == "cluster-enabled" && value.eq_ignore_ascii_case("yes") => {
            Err("Ferrocache does not run Redis Cluster yet: use 'cluster-enabled no'".into())
        }
        Kind::Bool => match value.to_ascii_lowercase().as_str() {
            "yes" => Ok("yes".into()),
            "no" => Ok("no".into()),
            _ => Err("argument must be 'yes' or 'no'".into()),
        },
        Kind::Enum(opts) => {
            let l = value.to_ascii_lowercase();
            if opts.contains(&l.as_str()) {
                Ok(l)
            } else {
                Err("argument(s) must be one of the following: ".to_string() + &opts.join(", "))
            }
        }
        Kind::Octal { max } => match u32::from_str_radix(value, 8) {
            Ok(v) if v <= max => Ok(format!("{:o}", v)),
            _ => Err("argument couldn't be parsed into an integer".into()),
        },
        Kind::MemoryOrPercent => match value.strip_suffix('%') {
            Some(pct) => match pct.parse::<u64>() {
                Ok(v) if v <= 100 => Ok(format!("{}%", v)),
                Ok(_) => Err("percentage argument must be less or equal to 100".into()),
                _ => Err("argument must be a memory or percent value".into()),
            },
            None => parse_memory(value)
                .map(|v| v.to_string())
                .ok_or_else(|| "argument must be a memory or percent value".into()),
        },
        Kind::Flags(opts) => {
            let mut words: Vec<String> = Vec::new();
            for w in value.split_whitespace().map(str::to_ascii_lowercase) {
                if !opts.contains(&w.as_str()) {
                    return Err(
                        "argument(s) must be one of the following: ".to_string() + &opts.join(", ")
                    );
                }
                if !words.contains(&w) {
                    words.push(w);
                }
            }
            if words.is_empty() {
                return Err(
                    "argument(s) must be one of the following: ".to_string() + &opts.join(", ")
                );
            }
            if words.iter().any(|w| w == "save") && words.iter().any(|w| w == "nosave") {
                return Err("shutdown options SAVE and NOSAVE can't be used simultaneously".into());
            }
            // Listed in the table's order, as Redis prints a flag set.
            Ok(opts
                .iter()
                .filter(|o| words.iter().any(|w| w == *o))
                .copied()
                .collect::<Vec<_>>()
                .join(" "))
        }
        Kind::KeyspaceEvents => crate::store::notify::parse_classes(value)
            .map(crate::store::notify::classes_text)
            .ok_or_else(|| crate::store::notify::BAD_CLASS.to_string()),
        Kind::IntList { count, min, max } => {
            let words: Vec<&str> = value.split_whitespace().collect();
            if words.len() != count {
                return Err("wrong number of arguments".into());
            }
            let mut out = Vec::with_capacity(count);
            for w in words {
                let v: i64 = w
                    .parse()
                    .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
                if v < min || v > max {
                    return Err(format!(
                        "argument must be between {} and {} inclusive",
                        min, max
                    ));
                }
                out.push(v.to_string());
            }
            Ok(out.join(" "))
        }
        Kind::Percentiles => {
            let mut out = Vec::new();
            for w in value.split_whitespace() {
                match w.parse::<f64>() {
                    Ok(v) if (0.0..=100.0).contains(&v) => out.push(format_percentile(v)),
                    _ => {
                        return Err(
                            "latency tracking info percentiles must be between 0 and 100".into(),
                        );
                    }
                }
            }
            Ok(out.join(" "))
        }
        Kind::Str if param.name == "dir" => {
            if std::path::Path::new(value).is_dir() {
                Ok(value.to_string())
            } else {
                Err(format!("No such file or directory: '{}'", value))
            }
        }
        Kind::Str => Ok(value.to_string()),
        Kind::Seconds { max } => match parse_seconds(value) {
            Some(v) if v <= max => Ok(v.to_string()),
            _ => Err("argument couldn't be parsed into an integer".into()),
        },
        Kind::OutputBufferLimit => parse_output_limits(value).map(|_| value.to_string()),
        Kind::SavePoints => {
            let words: Vec<&str> = value.split_whitespace().collect();
            if !words.len().is_multiple_of(2) || words.iter().any(|w| w.parse::<u64>().is_err()) {
                return Err("Invalid save parameters".into());
            }
            Ok(words.join(" "))
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        let cfg = Config {
            values: RwLock::new(HashMap::new()),
            file: None,
            live: Live::default(),
            users: Default::default(),
            renames: Default::default(),
            given: Default::default(),
        };
        for p in params::PARAMS {
            cfg.values.write().insert(p.name, p.default.to_string());
            cfg.apply(p.name);
        }
        // Redis reports its working directory as `dir`.
        if let Ok(cwd) = std::env::current_dir() {
            cfg.values.write().insert("dir", cwd.display().to_string());
        }
        cfg
    }
}

impl Config {
    /// Loads `file` (if any), then applies `overrides` (`--name value...` pairs) on top.
    pub fn load(
        file: Option<&Path>,
        overrides: &[(String, Vec<String>)],
    ) -> Result<Self, ConfigError> {
        let mut cfg = Config::default();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                ConfigError::Io(format!(
                    "can't open config file '{}': {}",
                    path.display(),
                    e
                ))
            })?;
            cfg.apply_text(&text, &path.display().to_string())?;
            cfg.file = Some(path.to_path_buf());
        }
        for (i, (name, args)) in overrides.iter().enumerate() {
            cfg.set_directive(name, args)
                .map_err(|e| ConfigError::AtLine {
                    file: "(command line)".into(),
                    line: i + 1,
                    text: format!("--{} {}", name, args.join(" ")),
                    msg: e.to_string(),
                })?;
        }
        Ok(cfg)
    }

    /// Applies a config file's text, naming file and line on the first bad directive.
    pub fn apply_text(&mut self, text: &str, origin: &str) -> Result<(), ConfigError> {
        for (i, raw) in text.lines().enumerate() {
            let line = trim_config_line(raw);
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = |msg: String| ConfigError::AtLine {
                file: origin.to_string(),
                line: i + 1,
                text: line.to_string(),
                msg,
            };
            let words = crate::protocol::request::split_args(line.as_bytes())
                .ok_or_else(|| at("Unbalanced quotes in configuration line".into()))?;
            let words: Vec<String> = words
                .into_iter()
                .map(|w| String::from_utf8_lossy(&w).into_owned())
                .collect();
            let (name, args) = words.split_first().ok_or_else(|| at("empty".into()))?;
            if name.eq_ignore_ascii_case("include") {
                let [path] = args else {
                    return Err(at("include needs one file".into()));
                };
                let inc = std::fs::read_to_string(path)
                    .map_err(|e| at(format!("can't open include file: {}", e)))?;
                self.apply_text(&inc, path)?;
                continue;
            }
            self.set_directive(name, args)
                .map_err(|e| at(e.to_string()))?;
        }
        Ok(())
    }

    /// Sets one directive from the file or command line (immutable ones allowed).
    fn set_directive(&self, name: &str, args: &[String]) -> Result<(), ConfigError> {
        if name.eq_ignore_ascii_case("rename-command") {
            let [old, new] = args else {
                return Err(ConfigError::UnknownDirective);
            };
            self.renames.lock().push((old.clone(), new.clone()));
            return Ok(());
        }
        if name.eq_ignore_ascii_case("loadmodule") {
            return Err(ConfigError::BadValue(
                "Ferrocache does not load Redis modules".into(),
            ));
        }
        if name.eq_ignore_ascii_case("user") {
            if args.is_empty() {
                return Err(ConfigError::UnknownDirective);
            }
            self.users.lock().push(args.to_vec());
            return Ok(());
        }
        let param = params::find(name).ok_or(ConfigError::UnknownDirective)?;
        let multi = matches!(
            param.kind,
            Kind::OutputBufferLimit
                | Kind::SavePoints
                | Kind::Flags(_)
                | Kind::IntList { .. }
                | Kind::Percentiles
        ) || param.name == "bind"
            || param.name == "replicaof";
        if args.is_empty() || (!multi && args.len() != 1) {
            return Err(ConfigError::UnknownDirective);
        }
        let value = args.join(" ");
        let value = if param.name == "client-output-buffer-limit" {
            // A directive names one class; merge it into the current setting.
            merge_output_limit(&self.live, &value).map_err(ConfigError::BadValue)?
        } else {
            normalize(param, &value).map_err(ConfigError::BadValue)?
        };
        self.values.write().insert(param.name, value);
        self.apply(param.name);
        let mut given = self.given.lock();
        if !given.contains(&param.name) {
            given.push(param.name);
        }
        Ok(())
    }

    /// Sets a parameter before the server starts (immutable ones included), as if the
    /// file had named it.
    pub fn set_startup(&self, name: &str, value: &str) -> Result<(), ConfigError> {
        self.set_directive(name, &[value.to_string()])
    }

    /// CONFIG SET of one parameter at runtime.
    pub fn set(&self, name: &str, value: &str) -> Result<(), ConfigError> {
        let param = params::find(name).ok_or(ConfigError::UnknownDirective)?;
        if !param.mutable {
            return Err(ConfigError::Immutable);
        }
        let value = if param.name == "client-output-buffer-limit" {
            merge_output_limit(&self.live, value).map_err(ConfigError::BadValue)?
        } else {
            normalize(param, value).map_err(ConfigError::BadValue)?
        };
        self.values.write().insert(param.name, value);
        self.apply(param.name);
        Ok(())
    }

    /// Validates a value without setting it (CONFIG SET checks all pairs first).
    /// `protected_allowed`: whether `enable-protected-configs` allows this client.
    pub fn validate(
        &self,
        name: &str,
        value: &str,
        protected_allowed: bool,
    ) -> Result<(), ConfigError> {
        let param = params::find(name).ok_or(ConfigError::UnknownDirective)?;
        if !param.mutable {
            return Err(ConfigError::Immutable);
        }
        if param.protected && !protected_allowed {
            return Err(ConfigError::Protected);
        }
        if param.name != "client-output-buffer-limit" {
            normalize(param, value).map_err(ConfigError::BadValue)?;
        } else {
            parse_output_limits(value).map_err(ConfigError::BadValue)?;
        }
        Ok(())
    }

    /// The current value of a parameter.
    pub fn get(&self, name: &str) -> Option<String> {
        let p = params::find(name)?;
        self.values.read().get(p.name).cloned()
    }

    /// Parameter name/value pairs whose names match a glob (CONFIG GET).
    pub fn matching(&self, pattern: &[u8]) -> Vec<(&'static str, String)> {
        let values = self.values.read();
        // A hidden parameter answers its own name only, not a pattern.
        let exact = |n: &str| n.as_bytes().eq_ignore_ascii_case(pattern);
        params::PARAMS
            .iter()
            .flat_map(|p| {
                std::iter::once(p.name)
                    .chain(p.aliases.iter().copied())
                    .filter(move |n| {
                        if p.hidden {
                            exact(n)
                        } else {
                            crate::base::glob::glob_match(pattern, n.as_bytes(), true)
                        }
                    })
                    .map(|n| (n, values.get(p.name).cloned().unwrap_or_default()))
            })
            .collect()
    }

    /// An integer-valued parameter.
    pub fn get_i64(&self, name: &str) -> i64 {
        self.get(name).and_then(|v| v.parse().ok()).unwrap_or(0)
    }

    /// Runs the parameter's binding (see [`params::Param::live`]): its new value reaches
    /// the storage the server reads it from.
    fn apply(&self, name: &str) {
        if let Some(bind) = params::find(name).and_then(|p| p.live)
            && let Some(value) = self.get(name)
        {
            bind(&self.live, &value);
        }
    }

    /// CONFIG REWRITE: rewrites the startup file so it reflects the running configuration,
    /// keeping comments and unknown-to-us layout, replacing known directives in place.
    ///
    /// `users` are the `user ...` lines to keep (ACL users, when no aclfile holds them):
    /// they replace the file's `user` lines, as Redis rewrites them.
    pub fn rewrite(&self, users: &[String]) -> Result<(), ConfigError> {
        let path = self
            .file
            .as_ref()
            .ok_or_else(|| ConfigError::Io("The server is running without a config file".into()))?;
        let old = std::fs::read_to_string(path).unwrap_or_default();
        let values = self.values.read();
        let mut written: Vec<&'static str> = Vec::new();
        let mut out = String::new();
        let mut users_written = false;
        for raw in old.lines() {
            let line = trim_config_line(raw);
            let name = line.split_whitespace().next().unwrap_or("");
            if name.eq_ignore_ascii_case("user") {
                if !users_written {
                    users_written = true;
                    for u in users {
                        out.push_str(u);
                        out.push('\n');
                    }
                }
                continue;
            }
            if line.starts_with('#') || line.is_empty() || line == "# Generated by CONFIG REWRITE" {
                if line != "# Generated by CONFIG REWRITE" {
                    out.push_str(raw);
                    out.push('\n');
                }
                continue;
            }
            match params::find(name) {
                Some(p) => {
                    if !written.contains(&p.name) {
                        written.push(p.name);
                        out.push_str(&format_directive(p.name, &values[p.name]));
                    }
                }
                None => {
                    out.push_str(raw);
                    out.push('\n');
                }
            }
        }
        let mut header = false;
        for p in params::PARAMS {
            let v = &values[p.name];
            if !written.contains(&p.name) && v != p.default && !(p.name == "dir" && v.is_empty()) {
                if !header {
                    out.push_str("# Generated by CONFIG REWRITE\n");
                    header = true;
                }
                out.push_str(&format_directive(p.name, v));
            }
        }
        if !users_written && !users.is_empty() {
            if !header {
                out.push_str("# Generated by CONFIG REWRITE\n");
            }
            for u in users {
                out.push_str(u);
                out.push('\n');
            }
        }
        let tmp = path.with_extension("rewrite.tmp");
        std::fs::write(&tmp, out)
            .map_err(|e| ConfigError::Io(format!("Rewriting config file: {}", e)))?;
        std::fs::rename(&tmp, path)
            .map_err(|e| ConfigError::Io(format!("Rewriting config file: {}", e)))?;
        Ok(())
    }
}

fn format_directive(name: &str, value: &str) -> String {
    if value.is_empty() {
        format!("{} \"\"\n", name)
    } else if name == "client-output-buffer-limit" {
        let words: Vec<&str> = value.split_whitespace().collect();
        words
            .chunks(4)
            .map(|g| format!("{} {}\n", name, g.join(" ")))
            .collect()
    } else if name == "save"
        || params::find(name).is_some_and(|p| {
            matches!(
                p.kind,
                Kind::Flags(_) | Kind::IntList { .. } | Kind::Percentiles
            )
        })
    {
        // Several plain words, read back as several arguments.
        format!("{} {}\n", name, value)
    } else if name == "bind" {
        // One address per word, each quoted if it needs to be (as Redis rewrites
        // multi-argument directives).
        let words: Vec<String> = value.split(' ').map(quote_if_needed).collect();
        format!("{} {}\n", name, words.join(" "))
    } else {
        format!("{} {}\n", name, quote_if_needed(value))
    }
}

/// `value` as is when it reads back unchanged as one word, else [`quote_value`]d.
fn quote_if_needed(value: &str) -> String {
    let plain = !value.is_empty()
        && !value
            .bytes()
            .any(|b| b <= b' ' || b == b'"' || b == b'\\' || b == b'\'' || b == 0x7f);
    if plain {
        value.to_string()
    } else {
        quote_value(value)
    }
}

/// A config line without the leading and trailing spaces, tabs, CRs and LFs Redis trims
/// (only those: other whitespace, ASCII or Unicode, belongs to the value).
fn trim_config_line(raw: &str) -> &str {
    raw.trim_matches([' ', '\t', '\r', '\n'])
}

/// A value in double quotes with Redis's escapes (as `sdscatrepr`), so that whatever it
/// holds — spaces, quotes, newlines, control bytes — reads back the same.
fn quote_value(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `--name value...` pairs from the command line, applied after the config file.
pub type Overrides = Vec<(String, Vec<String>)>;

/// Splits `ferrocache-server [file] [--name value ...]` into the file and override pairs.
pub fn parse_args(args: &[String]) -> Result<(Option<PathBuf>, Overrides), String> {
    let mut file = None;
    let mut rest = args;
    if let Some(first) = args.first()
        && !first.starts_with("--")
    {
        file = Some(PathBuf::from(first));
        rest = &args[1..];
    }
    let mut pairs: Vec<(String, Vec<String>)> = Vec::new();
    for a in rest {
        if let Some(name) = a.strip_prefix("--")
            && !name.is_empty()
            && !name.starts_with('-')
            && (pairs.last().is_none_or(|(_, v)| !v.is_empty()) || params::find(name).is_some())
        {
            pairs.push((name.to_string(), Vec::new()));
            continue;
        }
        match pairs.last_mut() {
            Some((_, vals)) => vals.push(a.clone()),
            None => return Err(format!("unexpected argument '{}'", a)),
        }
    }
    // `--save ""` style: an option given an empty string keeps it as one empty value.
    for (_, v) in pairs.iter_mut() {
        if v.is_empty() {
            v.push(String::new());
        }
    }
    Ok((file, pairs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("1gb"), Some(1 << 30));
        assert_eq!(parse_memory("100mb"), Some(100 << 20));
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("12345"), Some(12345));
        assert_eq!(parse_memory("x"), None);
    }

    #[test]
    fn file_errors_name_the_line() {
        let mut c = Config::default();
        let err = c.apply_text("port 7000\nbogus 1\n", "f.conf").unwrap_err();
        assert!(err.to_string().contains("f.conf:2"), "{}", err);
        assert_eq!(c.get("port").unwrap(), "7000");
    }

    #[test]
    fn args_and_overrides() {
        let args: Vec<String> = [
            "x.conf",
            "--port",
            "7000",
            "--save",
            "",
            "--maxclients",
            "5",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let (f, pairs) = parse_args(&args).unwrap();
        assert_eq!(f.unwrap().to_str(), Some("x.conf"));
        assert_eq!(pairs.len(), 3);
        let c = Config::load(None, &pairs).unwrap();
        assert_eq!(c.get("port").unwrap(), "7000");
        assert_eq!(c.get("save").unwrap(), "");
        assert_eq!(
            c.live.maxclients.load(std::sync::atomic::Ordering::Relaxed),
            5
        );
    }

    #[test]
    fn humantime_seconds() {
        let c = Config::default();
        c.set("timeout", "2m").unwrap();
        assert_eq!(c.get("timeout").unwrap(), "120");
    }
}
