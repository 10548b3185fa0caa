//! sentinel.conf: the stock directives, `--name value` overrides, and rewriting the file
//! with what the sentinel learned so a restart resumes with the current topology.

use std::path::{Path, PathBuf};

/// One monitored group as configured (and as learned, after a rewrite).
#[derive(Debug, Clone)]
pub struct MasterConfig {
    /// The group name clients ask for.
    pub name: String,
    /// Leader address.
    pub ip: String,
    /// Leader port.
    pub port: u16,
    /// Sentinels that must agree the leader is down.
    pub quorum: usize,
    /// `down-after-milliseconds`.
    pub down_after_ms: u64,
    /// `failover-timeout`.
    pub failover_timeout_ms: u64,
    /// `parallel-syncs`.
    pub parallel_syncs: usize,
    /// `auth-pass` toward the group's nodes.
    pub auth_pass: Option<String>,
    /// `auth-user` toward the group's nodes.
    pub auth_user: Option<String>,
    /// Learned: configuration epoch of the current leader address.
    pub config_epoch: u64,
    /// Learned: epoch of our last vote.
    pub leader_epoch: u64,
    /// Learned followers (`known-replica`).
    pub known_replicas: Vec<(String, u16)>,
    /// Learned sentinels (`known-sentinel`): ip, port, run id.
    pub known_sentinels: Vec<(String, u16, String)>,
    /// `notification-script`: run with (event, payload) on warning-level events.
    pub notification_script: Option<String>,
    /// `client-reconfig-script`: run when the leader address changes.
    pub client_reconfig_script: Option<String>,
}

impl MasterConfig {
    /// A group with stock Sentinel's defaults.
    pub fn new(name: &str, ip: &str, port: u16, quorum: usize) -> Self {
        MasterConfig {
            name: name.into(),
            ip: ip.into(),
            port,
            quorum,
            down_after_ms: crate::sentinel::state::DEFAULT_DOWN_AFTER.get(),
            failover_timeout_ms: crate::sentinel::state::DEFAULT_FAILOVER_TIMEOUT.get(),
            parallel_syncs: 1,
            auth_pass: None,
            auth_user: None,
            config_epoch: 0,
            leader_epoch: 0,
            known_replicas: Vec::new(),
            known_sentinels: Vec::new(),
            notification_script: None,
            client_reconfig_script: None,
        }
    }
}

/// Stock's check on a script path: it must exist and be executable by us.
pub fn executable(path: &str) -> bool {
    std::ffi::CString::new(path).is_ok_and(|p| unsafe { libc::access(p.as_ptr(), libc::X_OK) } == 0)
}

/// The whole sentinel configuration.
#[derive(Debug, Clone)]
pub struct SentinelConfig {
    /// The file it came from (rewritten in place), if any.
    pub file: Option<PathBuf>,
    /// Listening port (26379 by default).
    pub port: u16,
    /// Addresses to bind.
    pub bind: Vec<String>,
    /// Log file ("" = stdout).
    pub logfile: String,
    /// `loglevel`.
    pub loglevel: String,
    /// Working directory.
    pub dir: Option<String>,
    /// PID file.
    pub pidfile: Option<String>,
    /// `sentinel announce-ip`.
    pub announce_ip: Option<String>,
    /// `sentinel announce-port`.
    pub announce_port: Option<u16>,
    /// `sentinel myid` (40 hex chars), generated when absent.
    pub myid: Option<String>,
    /// `sentinel current-epoch`.
    pub current_epoch: u64,
    /// `requirepass` for clients of the sentinel itself.
    pub requirepass: Option<String>,
    /// Monitored groups, in configuration order.
    pub masters: Vec<MasterConfig>,
    /// `tls-*` directives (as Redis names them): `tls-port` for clients,
    /// `tls-replication yes` for TLS links to nodes and other sentinels.
    pub tls: std::collections::BTreeMap<String, String>,
    /// Other redis-server directives a stock sentinel.conf may carry (`daemonize`,
    /// `acllog-max-len`, ...): validated as the server validates them and kept.
    pub server_settings: std::collections::BTreeMap<&'static str, String>,
    /// `sentinel sentinel-user` / `sentinel sentinel-pass`: credentials for links to
    /// other sentinels.
    pub sentinel_auth: (Option<String>, Option<String>),
    /// `sentinel deny-scripts-reconfig` (default yes): SENTINEL SET may not change script
    /// paths, so a client of the sentinel cannot make it run a program of its choice.
    pub deny_scripts_reconfig: bool,
    /// `sentinel resolve-hostnames`: node addresses may be hostnames.
    pub resolve_hostnames: bool,
    /// `sentinel announce-hostnames`: tell others hostnames rather than IPs.
    pub announce_hostnames: bool,
}

impl Default for SentinelConfig {
    fn default() -> Self {
        SentinelConfig {
            file: None,
            port: 26379,
            bind: Vec::new(),
            logfile: String::new(),
            loglevel: "notice".into(),
            dir: None,
            pidfile: None,
            announce_ip: None,
            announce_port: None,
            myid: None,
            current_epoch: 0,
            requirepass: None,
            masters: Vec::new(),
            tls: Default::default(),
            server_settings: Default::default(),
            sentinel_auth: (None, None),
            deny_scripts_reconfig: true,
            resolve_hostnames: false,
            announce_hostnames: false,
        }
    }
}

/// A configuration error with where it happened.
#[derive(Debug, thiserror::Error)]
#[error("{origin}:{line}: {msg}\n>>> '{text}'")]
pub struct ConfigError {
    /// File name or "(command line)".
    pub origin: String,
    /// 1-based line number.
    pub line: usize,
    /// The offending line.
    pub text: String,
    /// What is wrong.
    pub msg: String,
}

fn origin_of(file: Option<&Path>) -> String {
    file.map_or_else(|| "(command line)".into(), |f| f.display().to_string())
}

/// A stock yes/no setting value (case-insensitive).
pub fn yes_no(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    }
}

fn num<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, String> {
    s.parse().map_err(|_| format!("Invalid {what}"))
}

/// The TLS directives a sentinel accepts (those of redis-server it uses).
const TLS_DIRECTIVES: &[&str] = &[
    "tls-port",
    "tls-cert-file",
    "tls-key-file",
    "tls-client-cert-file",
    "tls-client-key-file",
    "tls-ca-cert-file",
    "tls-ca-cert-dir",
    "tls-auth-clients",
    "tls-replication",
    "tls-protocols",
];

impl SentinelConfig {
    /// Credentials for links to other sentinels, as stock: `sentinel-user` /
    /// `sentinel-pass` when set, else `requirepass` (the same password both ways).
    pub fn peer_auth(&self) -> crate::sentinel::link::Auth {
        match &self.sentinel_auth {
            (user, Some(pass)) => crate::sentinel::link::Auth {
                user: user.clone(),
                pass: Some(pass.clone()),
            },
            _ => crate::sentinel::link::Auth {
                user: None,
                pass: self.requirepass.clone(),
            },
        }
    }

    /// `tls-port` (0: no TLS listener).
    pub fn tls_port(&self) -> u16 {
        self.tls
            .get("tls-port")
            .and_then(|p| p.parse().ok())
            .unwrap_or(0)
    }

    /// `tls-replication yes`: links to nodes and sentinels use TLS.
    pub fn tls_links(&self) -> bool {
        self.tls.get("tls-replication").map(String::as_str) == Some("yes")
    }

    /// The TLS files and modes.
    pub fn tls_settings(&self) -> crate::server::tls::TlsSettings {
        crate::server::tls::TlsSettings::from_lookup(|n| {
            self.tls.get(n).cloned().unwrap_or_default()
        })
    }

    /// Loads `file` (if any) then applies the command-line lines.
    pub fn load(
        file: Option<&Path>,
        overrides: &[(String, Vec<String>)],
    ) -> Result<Self, ConfigError> {
        let mut cfg = SentinelConfig {
            file: file.map(Path::to_path_buf),
            ..Default::default()
        };
        if let Some(f) = file {
            let origin = f.display().to_string();
            let text = std::fs::read_to_string(f).map_err(|e| ConfigError {
                origin: origin.clone(),
                line: 0,
                text: String::new(),
                msg: format!("cannot read the config file: {e}"),
            })?;
            for (i, line) in text.lines().enumerate() {
                cfg.apply_line(line).map_err(|msg| ConfigError {
                    origin: origin.clone(),
                    line: i + 1,
                    text: line.into(),
                    msg,
                })?;
            }
        }
        for (i, (name, vals)) in overrides.iter().enumerate() {
            let line = format!("{} {}", name, vals.join(" "));
            cfg.apply_line(&line).map_err(|msg| ConfigError {
                origin: "(command line)".into(),
                line: i + 1,
                text: format!("--{line}"),
                msg,
            })?;
        }
        // Stock reads resolve-hostnames before any monitor line, wherever it is written,
        // so addresses are checked once the whole configuration is known.
        for m in &cfg.masters {
            if crate::sentinel::state::resolve_with(&m.ip, cfg.resolve_hostnames).is_none() {
                return Err(ConfigError {
                    origin: origin_of(file),
                    line: 0,
                    text: format!(
                        "sentinel monitor {} {} {} {}",
                        m.name, m.ip, m.port, m.quorum
                    ),
                    msg: "Can't resolve instance hostname.".into(),
                });
            }
        }
        cfg.apply_hostnames();
        Ok(cfg)
    }

    /// Makes `resolve-hostnames` / `announce-hostnames` the process-wide settings that
    /// address creation and display read.
    pub fn apply_hostnames(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        crate::sentinel::state::RESOLVE_HOSTNAMES.store(self.resolve_hostnames, Relaxed);
        crate::sentinel::state::ANNOUNCE_HOSTNAMES.store(self.announce_hostnames, Relaxed);
    }

    fn master_mut(&mut self, name: &str) -> Result<&mut MasterConfig, String> {
        self.masters
            .iter_mut()
            .find(|m| m.name == name)
            .ok_or_else(|| "No such master with specified name.".to_string())
    }

    /// Applies one configuration line (directive and arguments, sdssplitargs quoting).
    pub fn apply_line(&mut self, line: &str) -> Result<(), String> {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return Ok(());
        }
        let args: Vec<String> = crate::protocol::request::split_args(line.as_bytes())
            .ok_or("Unbalanced quotes in configuration line")?
            .into_iter()
            .map(|a| String::from_utf8_lossy(&a).into_owned())
            .collect();
        let Some(first) = args.first() else {
            return Ok(());
        };
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        match (first.to_ascii_lowercase().as_str(), a.len()) {
            ("port", 2) => self.port = num(a[1], "port")?,
            ("bind", n) if n >= 2 => self.bind = a[1..].iter().map(|s| s.to_string()).collect(),
            ("logfile", 2) => self.logfile = a[1].into(),
            ("loglevel", 2) => self.loglevel = a[1].into(),
            ("dir", 2) => self.dir = Some(a[1].into()),
            ("pidfile", 2) => self.pidfile = Some(a[1].into()),
            ("requirepass", 2) => self.requirepass = (!a[1].is_empty()).then(|| a[1].into()),
            (d, 2) if TLS_DIRECTIVES.contains(&d) => {
                if d == "tls-port" {
                    num::<u16>(a[1], "tls-port")?;
                }
                self.tls.insert(d.to_string(), a[1].to_string());
            }
            ("sentinel", n) if n >= 2 => return self.apply_sentinel(&a[1..]),
            // Any other redis-server directive, as a stock sentinel accepts its file.
            (name, n) if n >= 2 => {
                let param = crate::config::params::find(name)
                    .ok_or("Bad directive or wrong number of arguments")?;
                let value = crate::config::normalize(param, &a[1..].join(" "))?;
                self.server_settings.insert(param.name, value);
            }
            _ => return Err("Bad directive or wrong number of arguments".into()),
        }
        Ok(())
    }

    fn apply_sentinel(&mut self, a: &[&str]) -> Result<(), String> {
        let n = a.len();
        match (a[0].to_ascii_lowercase().as_str(), n) {
            ("monitor", 5) => {
                let quorum: usize = num(a[4], "quorum")?;
                if quorum == 0 {
                    return Err("Quorum must be 1 or greater.".into());
                }
                if self.masters.iter().any(|m| m.name == a[1]) {
                    return Err("Duplicated master name.".into());
                }
                self.masters
                    .push(MasterConfig::new(a[1], a[2], num(a[3], "port")?, quorum));
            }
            ("down-after-milliseconds", 3) => {
                let v = num(a[2], "down-after-milliseconds")?;
                if v == 0 {
                    return Err("Invalid down-after-milliseconds".into());
                }
                self.master_mut(a[1])?.down_after_ms = v;
            }
            ("failover-timeout", 3) => {
                let v = num(a[2], "failover-timeout")?;
                if v == 0 {
                    return Err("Invalid failover-timeout".into());
                }
                self.master_mut(a[1])?.failover_timeout_ms = v;
            }
            ("parallel-syncs", 3) => {
                self.master_mut(a[1])?.parallel_syncs = num(a[2], "parallel-syncs")?
            }
            ("auth-pass", 3) => self.master_mut(a[1])?.auth_pass = Some(a[2].into()),
            ("auth-user", 3) => self.master_mut(a[1])?.auth_user = Some(a[2].into()),
            ("config-epoch", 3) => self.master_mut(a[1])?.config_epoch = num(a[2], "config-epoch")?,
            ("leader-epoch", 3) => self.master_mut(a[1])?.leader_epoch = num(a[2], "leader-epoch")?,
            ("known-replica", 4) | ("known-slave", 4) => {
                let port = num(a[3], "port")?;
                self.master_mut(a[1])?
                    .known_replicas
                    .push((a[2].into(), port));
            }
            ("known-sentinel", 5) => {
                let port = num(a[3], "port")?;
                self.master_mut(a[1])?
                    .known_sentinels
                    .push((a[2].into(), port, a[4].into()));
            }
            ("current-epoch", 2) => self.current_epoch = num(a[1], "current-epoch")?,
            ("myid", 2) => {
                if a[1].len() != 40 {
                    return Err("Malformed Sentinel id in myid option.".into());
                }
                self.myid = Some(a[1].into());
            }
            ("announce-ip", 2) => self.announce_ip = (!a[1].is_empty()).then(|| a[1].into()),
            ("announce-port", 2) => {
                let p: u16 = num(a[1], "port")?;
                self.announce_port = (p != 0).then_some(p);
            }
            ("sentinel-user", 2) => self.sentinel_auth.0 = Some(a[1].into()),
            ("sentinel-pass", 2) => self.sentinel_auth.1 = Some(a[1].into()),
            ("notification-script", 3) => {
                let m = self.master_mut(a[1])?;
                if !executable(a[2]) {
                    return Err("Notification script seems non existing or non executable.".into());
                }
                m.notification_script = Some(a[2].into());
            }
            ("client-reconfig-script", 3) => {
                let m = self.master_mut(a[1])?;
                if !executable(a[2]) {
                    return Err(
                        "Client reconfiguration script seems non existing or non executable."
                            .into(),
                    );
                }
                m.client_reconfig_script = Some(a[2].into());
            }
            ("deny-scripts-reconfig", 2) => {
                self.deny_scripts_reconfig = yes_no(a[1])
                    .ok_or("Please specify yes or no for the deny-scripts-reconfig options.")?
            }
            ("resolve-hostnames", 2) => {
                self.resolve_hostnames = yes_no(a[1])
                    .ok_or("Please specify yes or no for the resolve-hostnames option.")?
            }
            ("announce-hostnames", 2) => {
                self.announce_hostnames = yes_no(a[1])
                    .ok_or("Please specify yes or no for the announce-hostnames option.")?
            }
            // Stock options without effect here.
            ("rename-command", 4) | ("master-reboot-down-after-period", 3) => {}
            _ => return Err("Unrecognized sentinel configuration statement.".into()),
        }
        Ok(())
    }

    /// The `sentinel ...` lines that describe the current state, in stock order.
    pub fn state_lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(id) = &self.myid {
            out.push(format!("sentinel myid {id}"));
        }
        for m in &self.masters {
            out.push(format!(
                "sentinel monitor {} {} {} {}",
                m.name, m.ip, m.port, m.quorum
            ));
            if m.down_after_ms != crate::sentinel::state::DEFAULT_DOWN_AFTER.get() {
                out.push(format!(
                    "sentinel down-after-milliseconds {} {}",
                    m.name, m.down_after_ms
                ));
            }
            if m.failover_timeout_ms != crate::sentinel::state::DEFAULT_FAILOVER_TIMEOUT.get() {
                out.push(format!(
                    "sentinel failover-timeout {} {}",
                    m.name, m.failover_timeout_ms
                ));
            }
            if m.parallel_syncs != 1 {
                out.push(format!(
                    "sentinel parallel-syncs {} {}",
                    m.name, m.parallel_syncs
                ));
            }
            if let Some(p) = &m.notification_script {
                out.push(format!("sentinel notification-script {} {}", m.name, p));
            }
            if let Some(p) = &m.client_reconfig_script {
                out.push(format!("sentinel client-reconfig-script {} {}", m.name, p));
            }
            if let Some(u) = &m.auth_user {
                out.push(format!("sentinel auth-user {} {}", m.name, u));
            }
            if let Some(p) = &m.auth_pass {
                out.push(format!("sentinel auth-pass {} {}", m.name, p));
            }
            out.push(format!(
                "sentinel config-epoch {} {}",
                m.name, m.config_epoch
            ));
            out.push(format!(
                "sentinel leader-epoch {} {}",
                m.name, m.leader_epoch
            ));
            for (ip, port) in &m.known_replicas {
                out.push(format!("sentinel known-replica {} {} {}", m.name, ip, port));
            }
            for (ip, port, id) in &m.known_sentinels {
                out.push(format!(
                    "sentinel known-sentinel {} {} {} {}",
                    m.name, ip, port, id
                ));
            }
        }
        if !self.deny_scripts_reconfig {
            out.push("sentinel deny-scripts-reconfig no".into());
        }
        if self.resolve_hostnames {
            out.push("sentinel resolve-hostnames yes".into());
        }
        if self.announce_hostnames {
            out.push("sentinel announce-hostnames yes".into());
        }
        if let Some(ip) = &self.announce_ip {
            out.push(format!("sentinel announce-ip {ip}"));
        }
        if let Some(p) = self.announce_port {
            out.push(format!("sentinel announce-port {p}"));
        }
        out.push(format!("sentinel current-epoch {}", self.current_epoch));
        out
    }

    /// Rewrites the config file: user lines other than the state kept in place, the
    /// state lines regenerated at the end. Written to a temporary file then renamed, so
    /// a crash never leaves half a file.
    pub fn rewrite(&self) -> std::io::Result<()> {
        let Some(path) = &self.file else {
            return Ok(());
        };
        let old = std::fs::read_to_string(path).unwrap_or_default();
        let mut lines: Vec<String> = old
            .lines()
            .filter(|l| {
                let t = l.trim_start().to_ascii_lowercase();
                !(t.starts_with("sentinel ") || t.starts_with("# generated by config rewrite"))
            })
            .map(str::to_string)
            .collect();
        while lines.last().is_some_and(|l| l.trim().is_empty()) {
            lines.pop();
        }
        if !lines
            .iter()
            .any(|l| l.trim_start().to_ascii_lowercase().starts_with("port "))
        {
            lines.push(format!("port {}", self.port));
        }
        lines.push("# Generated by CONFIG REWRITE".into());
        lines.extend(self.state_lines());
        let tmp = path.with_extension("rewrite.tmp");
        std::fs::write(&tmp, lines.join("\n") + "\n")?;
        std::fs::rename(&tmp, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stock_directives_and_rewrites_state() {
        let mut c = SentinelConfig::default();
        for l in [
            "port 26380",
            "sentinel monitor mymaster 127.0.0.1 6379 2",
            "sentinel down-after-milliseconds mymaster 500",
            "sentinel failover-timeout mymaster 5000",
            "sentinel parallel-syncs mymaster 2",
            "sentinel known-replica mymaster 127.0.0.1 6380",
            "sentinel known-sentinel mymaster 127.0.0.1 26381 0123456789012345678901234567890123456789",
            "sentinel current-epoch 7",
        ] {
            c.apply_line(l).unwrap();
        }
        assert_eq!(c.port, 26380);
        let m = &c.masters[0];
        assert_eq!(
            (m.down_after_ms, m.failover_timeout_ms, m.parallel_syncs),
            (500, 5000, 2)
        );
        assert_eq!(m.known_replicas, vec![("127.0.0.1".to_string(), 6380)]);
        assert_eq!(c.current_epoch, 7);
        let lines = c.state_lines();
        assert!(lines.contains(&"sentinel known-replica mymaster 127.0.0.1 6380".to_string()));
        assert!(
            c.apply_line("sentinel monitor mymaster 127.0.0.1 6379 2")
                .is_err()
        );
        assert!(
            c.apply_line("sentinel down-after-milliseconds nosuch 5")
                .is_err()
        );
        assert!(c.apply_line("sentinel bogus").is_err());
        assert!(c.apply_line("sentinel monitor x 127.0.0.1 6379 0").is_err());
        assert_eq!(
            c.apply_line("sentinel notification-script mymaster /nonexistent/notify.sh"),
            Err("Notification script seems non existing or non executable.".into())
        );
        c.apply_line("sentinel client-reconfig-script mymaster /bin/true")
            .unwrap();
        c.apply_line("sentinel deny-scripts-reconfig no").unwrap();
        let lines = c.state_lines();
        assert!(lines.contains(&"sentinel client-reconfig-script mymaster /bin/true".to_string()));
        assert!(lines.contains(&"sentinel deny-scripts-reconfig no".to_string()));
    }

    #[test]
    fn hostnames_need_resolve_hostnames_wherever_it_is_written() {
        let dir = std::env::temp_dir().join(format!("fc-sentinel-conf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("sentinel.conf");
        std::fs::write(&file, "sentinel monitor m localhost 6379 1\n").unwrap();
        let e = SentinelConfig::load(Some(&file), &[]).unwrap_err();
        assert_eq!(e.msg, "Can't resolve instance hostname.");
        // resolve-hostnames after the monitor line still counts, as stock.
        std::fs::write(
            &file,
            "sentinel monitor m localhost 6379 1\nsentinel resolve-hostnames yes\n",
        )
        .unwrap();
        let mut c = SentinelConfig::load(Some(&file), &[]).unwrap();
        assert!(c.resolve_hostnames && !c.announce_hostnames);
        assert!(
            c.state_lines()
                .contains(&"sentinel resolve-hostnames yes".to_string())
        );
        assert!(c.apply_line("sentinel announce-hostnames perhaps").is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
