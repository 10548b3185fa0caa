//! Access control as Redis 7.0 has it: users with passwords and selectors, checked on
//! every command before it runs or is queued; the ACL log of denials; users from
//! `user` directives or an `aclfile`. `requirepass` is the default user's password.

pub mod catalog;
pub mod user;

use crate::commands::table::{Command, CommandTable, flags};
use bytes::Bytes;
use catalog::Catalog;
use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
pub use user::{RuleError, User};

/// A user shared by the registry and the connections authenticated as it: rule changes
/// apply to those connections at once, as in Redis.
#[derive(Debug)]
pub struct UserRef {
    /// The user name (never changes).
    pub name: String,
    user: RwLock<User>,
    /// Mirrors `User::unrestricted`: the per-command check is skipped without a lock.
    unrestricted: AtomicBool,
}

impl UserRef {
    fn new(u: User) -> Arc<UserRef> {
        Arc::new(UserRef {
            name: u.name.clone(),
            unrestricted: AtomicBool::new(u.unrestricted()),
            user: RwLock::new(u),
        })
    }

    /// A copy of the user's current rules.
    pub fn snapshot(&self) -> User {
        self.user.read().clone()
    }

    fn replace(&self, u: User) {
        self.unrestricted.store(u.unrestricted(), Ordering::Release);
        *self.user.write() = u;
    }

    /// True when every command, key and channel is allowed (the hot path's test).
    pub fn unrestricted(&self) -> bool {
        self.unrestricted.load(Ordering::Acquire)
    }

    /// `nopass` (protected mode applies only to a default user without a password).
    pub fn nopass(&self) -> bool {
        self.user.read().nopass
    }

    /// True when a new connection starts authenticated as this user (nopass and on).
    pub fn open_without_auth(&self) -> bool {
        let u = self.user.read();
        u.nopass && u.enabled
    }
}

/// Why a command was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// The command (or subcommand) is not allowed.
    Command,
    /// The key argument at this position is not allowed.
    Key(usize),
    /// The channel argument at this position is not allowed.
    Channel(usize),
}

impl Denied {
    fn rank(&self) -> (u8, usize) {
        match *self {
            Denied::Command => (0, 0),
            Denied::Key(p) => (1, p),
            Denied::Channel(p) => (2, p),
        }
    }

    /// Why, as a script's `redis.call` reports it (Redis's getAclErrorMessage).
    pub fn reason(&self) -> &'static str {
        match self {
            Denied::Command => "can't run this command or subcommand",
            Denied::Key(_) => "can't access at least one of the keys mentioned in the command",
            Denied::Channel(_) => "can't publish to the channel mentioned in the command",
        }
    }

    /// The error a client gets (Redis's processCommand texts).
    pub fn message(&self, full_name: &str) -> String {
        match self {
            Denied::Command => format!(
                "NOPERM this user has no permissions to run the '{full_name}' command"
            ),
            Denied::Key(_) => {
                "NOPERM this user has no permissions to access one of the keys used as arguments"
                    .into()
            }
            Denied::Channel(_) => "NOPERM this user has no permissions to access one of the channels used as arguments".into(),
        }
    }
}

/// Where a denial happened (ACL LOG `context`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogContext {
    /// A command on its own.
    Toplevel,
    /// Inside MULTI / at EXEC.
    Multi,
    /// Called from a Lua script.
    Lua,
}

/// One ACL LOG entry; similar denials within a minute are counted in one entry.
#[derive(Debug, Clone)]
pub struct LogEntry {
    /// Occurrences.
    pub count: u64,
    /// `command`, `key`, `channel` or `auth`.
    pub reason: &'static str,
    /// `toplevel` or `multi`.
    pub context: &'static str,
    /// The command, key, channel or (for auth) `AUTH`/`HELLO` involved.
    pub object: String,
    /// The user involved.
    pub username: String,
    /// Unix ms of the last occurrence.
    pub ctime_ms: u64,
    /// CLIENT INFO line of the last client involved.
    pub client_info: String,
}

/// Users, the command catalog their rules refer to, and the denial log.
#[derive(Debug)]
pub struct Acl {
    /// Commands and categories.
    pub catalog: Catalog,
    users: RwLock<BTreeMap<String, Arc<UserRef>>>,
    log: Mutex<VecDeque<LogEntry>>,
}

/// Denials closer than this (ms) with the same reason, object and user share an entry.
const LOG_GROUPING_MS: u64 = 60_000;

impl Acl {
    /// A registry with only the default user (on, nopass, everything allowed).
    pub fn new(table: &CommandTable) -> Acl {
        let catalog = Catalog::new(table);
        let default = UserRef::new(User::default_user(&catalog));
        let mut users = BTreeMap::new();
        users.insert("default".to_string(), default);
        Acl {
            catalog,
            users: RwLock::new(users),
            log: Mutex::new(VecDeque::new()),
        }
    }

    /// The default user (new connections start as it).
    pub fn default_user(&self) -> Arc<UserRef> {
        self.users.read()["default"].clone()
    }

    /// A user by name.
    pub fn get(&self, name: &str) -> Option<Arc<UserRef>> {
        self.users.read().get(name).cloned()
    }

    /// Names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.users.read().keys().cloned().collect()
    }

    /// `user <name> <rules>` for every user, sorted by name (ACL LIST, ACL SAVE).
    pub fn list(&self) -> Vec<String> {
        self.users
            .read()
            .values()
            .map(|u| format!("user {} {}", u.name, u.snapshot().describe(&self.catalog)))
            .collect()
    }

    /// ACL SETUSER: applies every rule to a copy, and only if all are valid, to the user
    /// (created when missing). `all_channels` is `acl-pubsub-default` for new users.
    pub fn set_user(
        &self,
        name: &str,
        rules: &[Vec<u8>],
        all_channels: bool,
    ) -> Result<(), String> {
        let rules = user::merge_selector_args(rules)?;
        let existing = self.get(name);
        let mut u = match &existing {
            Some(r) => r.snapshot(),
            None => {
                let mut u = User::new(name, &self.catalog);
                if all_channels {
                    let _ = u.apply(&self.catalog, b"allchannels");
                }
                u
            }
        };
        for r in &rules {
            u.apply(&self.catalog, r).map_err(|e| {
                format!(
                    "Error in ACL SETUSER modifier '{}': {e}",
                    String::from_utf8_lossy(r)
                )
            })?;
        }
        match existing {
            Some(r) => r.replace(u),
            None => {
                self.users.write().insert(name.to_string(), UserRef::new(u));
            }
        }
        Ok(())
    }

    /// ACL DELUSER: removes the users; returns how many existed.
    pub fn delete(&self, names: &[&str]) -> usize {
        let mut users = self.users.write();
        names.iter().filter(|n| users.remove(**n).is_some()).count()
    }

    /// `requirepass`: the default user's only password, or nopass when empty.
    pub fn set_default_password(&self, pass: &str) {
        let d = self.default_user();
        let mut u = d.snapshot();
        let _ = u.apply(&self.catalog, b"resetpass");
        if pass.is_empty() {
            let _ = u.apply(&self.catalog, b"nopass");
        } else {
            let mut op = b">".to_vec();
            op.extend_from_slice(pass.as_bytes());
            let _ = u.apply(&self.catalog, &op);
        }
        d.replace(u);
    }

    /// The user `name` when `pass` opens it.
    pub fn authenticate(&self, name: &[u8], pass: &[u8]) -> Option<Arc<UserRef>> {
        let u = self.get(std::str::from_utf8(name).ok()?)?;
        let ok = u.user.read().check_password(pass);
        ok.then_some(u)
    }

    /// Checks a request against the user's selectors: allowed when one selector allows
    /// the command, all its keys and all its channels.
    pub fn check(&self, user: &UserRef, cmd: &Command, args: &[Bytes]) -> Result<(), Denied> {
        if user.unrestricted() || cmd.has(flags::NO_AUTH) {
            return Ok(());
        }
        let id = self.catalog.id_of_request(cmd, args);
        let u = user.user.read();
        let mut worst: Option<Denied> = None;
        for s in &u.selectors {
            let r = check_selector(s, cmd, id, args);
            match r {
                Ok(()) => return Ok(()),
                Err(d) => {
                    if worst.is_none_or(|w| d.rank() > w.rank()) {
                        worst = Some(d);
                    }
                }
            }
        }
        Err(worst.unwrap_or(Denied::Command))
    }

    /// True when one selector allows the request and reads every key (Redis's
    /// ACLUserCheckCmdWithUnrestrictedKeyAccess): SORT's BY and GET patterns name keys
    /// no key spec can declare, so only such a user may use them.
    pub fn full_key_access(&self, user: &UserRef, cmd: &Command, args: &[Bytes]) -> bool {
        self.any_selector(user, cmd, args, |s| {
            s.all_keys || s.keys.iter().any(|p| p.read && p.pattern == b"*")
        })
    }

    /// True when one selector allows the request and `key` with `access`: for a key
    /// only the command can find (SORT's STORE destination).
    pub fn allows_key_for(
        &self,
        user: &UserRef,
        cmd: &Command,
        args: &[Bytes],
        key: &[u8],
        access: catalog::Access,
    ) -> bool {
        self.any_selector(user, cmd, args, |s| s.allows_key(key, access))
    }

    fn any_selector(
        &self,
        user: &UserRef,
        cmd: &Command,
        args: &[Bytes],
        keys_ok: impl Fn(&user::Selector) -> bool,
    ) -> bool {
        if user.unrestricted() {
            return true;
        }
        let id = self.catalog.id_of_request(cmd, args);
        let u = user.user.read();
        u.selectors.iter().any(|s| {
            id.is_some_and(|id| s.allows_command(id, args.get(1).map(|a| &a[..]))) && keys_ok(s)
        })
    }

    /// True when one of the user's selectors allows the channel (or, for a pattern
    /// subscription, that exact pattern).
    pub fn allows_channel(&self, user: &UserRef, channel: &[u8], is_pattern: bool) -> bool {
        user.user
            .read()
            .selectors
            .iter()
            .any(|s| s.allows_channel(channel, is_pattern))
    }

    /// Records a denial (or a failed AUTH) in the ACL LOG, merging it into a recent
    /// similar entry.
    pub fn log_denial(
        &self,
        reason: &'static str,
        context: LogContext,
        object: String,
        username: String,
        client_info: String,
        max_len: usize,
    ) {
        let now = crate::base::now_ms();
        let context = match context {
            LogContext::Toplevel => "toplevel",
            LogContext::Multi => "multi",
            LogContext::Lua => "lua",
        };
        let mut log = self.log.lock();
        let found = log.iter().take(10).position(|e| {
            e.reason == reason
                && e.context == context
                && e.object == object
                && e.username == username
                && now.abs_diff(e.ctime_ms) <= LOG_GROUPING_MS
        });
        if let Some(i) = found {
            let mut e = log.remove(i).expect("found");
            e.count += 1;
            e.ctime_ms = now;
            e.client_info = client_info;
            log.push_front(e);
            return;
        }
        log.push_front(LogEntry {
            count: 1,
            reason,
            context,
            object,
            username,
            ctime_ms: now,
            client_info,
        });
        log.truncate(max_len);
    }

    /// The newest `count` log entries.
    pub fn log_entries(&self, count: usize) -> Vec<LogEntry> {
        self.log.lock().iter().take(count).cloned().collect()
    }

    /// ACL LOG RESET.
    pub fn log_reset(&self) {
        self.log.lock().clear();
    }

    /// Replaces every user with the definitions given (ACL LOAD, startup): all or
    /// nothing; the default user is recreated when the definitions leave it out.
    /// `lines` are (origin, line number, words); errors are Redis's texts. With
    /// `keep_default`, a default user left out keeps its current rules (`user` directives
    /// in the config file) instead of being recreated (an ACL file).
    pub fn replace_all(
        &self,
        defs: &[(String, usize, Vec<Vec<u8>>)],
        keep_default: bool,
    ) -> Result<(), String> {
        let mut staged: BTreeMap<String, User> = BTreeMap::new();
        let mut errors = String::new();
        for (origin, line, words) in defs {
            if words.len() < 2 || words[0] != b"user" {
                errors.push_str(&format!(
                    "{origin}:{line} should start with user keyword followed by the username. "
                ));
                continue;
            }
            let name = String::from_utf8_lossy(&words[1]).into_owned();
            if words[1].iter().any(|c| c.is_ascii_whitespace() || *c == 0) {
                errors.push_str(&format!(
                    "'{origin}:{line}: username '{name}' contains invalid characters. "
                ));
                continue;
            }
            if staged.contains_key(&name) {
                errors.push_str(&format!(
                    "WARNING: Duplicate user '{name}' found on line {line}. "
                ));
                continue;
            }
            let mut u = User::new(&name, &self.catalog);
            let rules = match user::merge_selector_args(&words[2..]) {
                Ok(r) => r,
                Err(_) => {
                    errors.push_str(&format!(
                        "{origin}:{line}: Unmatched parenthesis in selector definition."
                    ));
                    continue;
                }
            };
            let mut syntax_reported = false;
            for r in &rules {
                match u.apply(&self.catalog, r) {
                    Ok(()) => {}
                    Err(RuleError::Unknown) => errors.push_str(&format!(
                        "{origin}:{line}: Error in applying operation '{}': {}. ",
                        String::from_utf8_lossy(r),
                        RuleError::Unknown
                    )),
                    Err(e) if !syntax_reported => {
                        errors.push_str(&format!("{origin}:{line}: {e}. "));
                        syntax_reported = true;
                    }
                    Err(_) => {}
                }
            }
            staged.insert(name, u);
        }
        if !errors.is_empty() {
            errors.push_str(
                "WARNING: ACL errors detected, no change to the previously active ACL rules was performed",
            );
            return Err(errors);
        }
        let mut users = self.users.write();
        let d = users["default"].clone();
        match staged.remove("default") {
            Some(u) => d.replace(u),
            None if keep_default => {}
            None => d.replace(User::default_user(&self.catalog)),
        }
        users.clear();
        users.insert("default".into(), d);
        for (n, u) in staged {
            users.insert(n, UserRef::new(u));
        }
        Ok(())
    }
}

/// Loads the users of the configuration at startup: `user` directives or the `aclfile`
/// (not both, as in Redis). Errors stop the server.
pub fn load_at_startup(acl: &Acl, cfg: &crate::config::Config) -> Result<(), String> {
    let file = cfg.get("aclfile").unwrap_or_default();
    let directives = cfg.users.lock().clone();
    if !file.is_empty() && !directives.is_empty() {
        return Err("Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.".into());
    }
    if !directives.is_empty() {
        let defs: Vec<(String, usize, Vec<Vec<u8>>)> = directives
            .iter()
            .enumerate()
            .map(|(i, words)| {
                let mut w = vec![b"user".to_vec()];
                w.extend(words.iter().map(|s| s.as_bytes().to_vec()));
                ("redis.conf".to_string(), i + 1, w)
            })
            .collect();
        return acl.replace_all(&defs, true);
    }
    if !file.is_empty() {
        return load_file(acl, &file);
    }
    Ok(())
}

/// ACL LOAD: replaces every user with the file's (all or nothing).
pub fn load_file(acl: &Acl, path: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("Error loading ACLs, opening file '{path}': {e}"))?;
    acl.replace_all(&parse_acl_file(&text, path), false)
}

/// ACL SAVE: every user, one `user` line each, written to a temporary file renamed over
/// the ACL file so a crash never leaves half a file.
pub fn save_file(acl: &Acl, path: &str) -> std::io::Result<()> {
    let mut text = String::new();
    for l in acl.list() {
        text.push_str(&l);
        text.push('\n');
    }
    let tmp = format!(
        "{path}.tmp-{}-{}",
        std::process::id(),
        crate::base::now_ms()
    );
    let r = std::fs::write(&tmp, text).and_then(|_| std::fs::rename(&tmp, path));
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
}

/// The words of an ACL file's lines, numbered from 1; blank lines skipped. Words are split
/// on spaces only, as Redis does for this file.
pub fn parse_acl_file(text: &str, origin: &str) -> Vec<(String, usize, Vec<Vec<u8>>)> {
    text.split('\n')
        .enumerate()
        .filter_map(|(i, l)| {
            let l = l.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'));
            if l.is_empty() {
                return None;
            }
            let words: Vec<Vec<u8>> = l
                .split(' ')
                .filter(|w| !w.is_empty())
                .map(|w| {
                    w.trim_matches(|c| matches!(c, '\t' | '\r' | '\n'))
                        .as_bytes()
                        .to_vec()
                })
                .collect();
            Some((origin.to_string(), i + 1, words))
        })
        .collect()
}

fn check_selector(
    s: &user::Selector,
    cmd: &Command,
    id: Option<usize>,
    args: &[Bytes],
) -> Result<(), Denied> {
    let first_arg_at = if cmd.subcommands.is_empty() { 1 } else { 2 };
    let allowed = id.is_some_and(|id| s.allows_command(id, args.get(first_arg_at).map(|a| &a[..])));
    if !allowed {
        return Err(Denied::Command);
    }
    if !s.all_keys {
        // Arguments that contradict the key specs find no keys: the command itself
        // refuses them, as in Redis.
        for k in cmd.key_refs(args).unwrap_or_default() {
            let Some(key) = args.get(k.pos) else { continue };
            if !s.allows_key(key, catalog::Access::of_key_flags(k.flags)) {
                return Err(Denied::Key(k.pos));
            }
        }
    }
    if !s.all_channels {
        let (from, is_pattern) = match cmd.name {
            "subscribe" | "ssubscribe" => (1, false),
            "psubscribe" => (1, true),
            "publish" | "spublish" => (1, false),
            _ => return Ok(()),
        };
        let to = if matches!(cmd.name, "publish" | "spublish") {
            2
        } else {
            args.len()
        };
        for (pos, ch) in args.iter().enumerate().take(to).skip(from) {
            if !s.allows_channel(ch, is_pattern) {
                return Err(Denied::Channel(pos));
            }
        }
    }
    Ok(())
}
