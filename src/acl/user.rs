//! An ACL user: on/off, password hashes, and selectors (the root one plus any added in
//! parentheses), each a set of allowed commands, key patterns and channel patterns.
//! Rules follow Redis 7.0's ACL SETUSER grammar and error texts; descriptions (ACL LIST,
//! GETUSER, the ACL file) are built the way Redis builds them, so they read back equal.

use super::catalog::{Access, Catalog};
use sha2::{Digest, Sha256};

/// Why a rule was refused; `Display` is Redis's text for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// An unknown command or category.
    #[error("Unknown command or category name in ACL")]
    Unknown,
    /// Anything not understood.
    #[error("Syntax error")]
    Syntax,
    /// A key pattern after `~*` / allkeys.
    #[error(
        "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns"
    )]
    AfterAllKeys,
    /// A channel pattern after `&*` / allchannels.
    #[error(
        "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels"
    )]
    AfterAllChannels,
    /// `<pass` / `!hash` naming no password of the user.
    #[error("The password you are trying to remove from the user does not exist")]
    NoSuchPassword,
    /// `#hash` that is not 64 lowercase hex digits.
    #[error(
        "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"
    )]
    BadHash,
    /// `+container|sub|arg`.
    #[error("Allowing first-arg of a subcommand is not supported")]
    FirstArgOfSubcommand,
}

/// A key pattern with the access it grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPattern {
    /// Glob pattern.
    pub pattern: Vec<u8>,
    /// `%R~`.
    pub read: bool,
    /// `%W~`.
    pub write: bool,
}

impl KeyPattern {
    fn describe(&self) -> String {
        let p = String::from_utf8_lossy(&self.pattern);
        match (self.read, self.write) {
            (true, true) => format!("~{p}"),
            (true, false) => format!("%R~{p}"),
            _ => format!("%W~{p}"),
        }
    }
}

/// One set of permissions; a command runs when one selector allows all of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    /// Allowed command ids (see [`Catalog`]).
    allowed: Vec<u64>,
    /// `+@all` was the last word on commands: commands added later are allowed too.
    pub all_commands: bool,
    /// Allowed first arguments of otherwise denied commands (`+select|0`), by id.
    first_args: Vec<(usize, Vec<String>)>,
    /// `~*` / allkeys.
    pub all_keys: bool,
    /// Key patterns, in the order given.
    pub keys: Vec<KeyPattern>,
    /// `&*` / allchannels.
    pub all_channels: bool,
    /// Channel patterns, in the order given.
    pub channels: Vec<Vec<u8>>,
}

impl Selector {
    fn allowed(&self, id: usize) -> bool {
        self.allowed
            .get(id / 64)
            .is_some_and(|w| w & (1 << (id % 64)) != 0)
    }

    fn set(&mut self, id: usize, on: bool) {
        let word = id / 64;
        if self.allowed.len() <= word {
            self.allowed.resize(word + 1, 0);
        }
        if on {
            self.allowed[word] |= 1 << (id % 64);
        } else {
            self.allowed[word] &= !(1 << (id % 64));
            self.all_commands = false;
        }
    }

    /// Allows or denies a command with its subcommands (Redis's ACLChangeSelectorPerm).
    fn change(&mut self, cat: &Catalog, id: usize, on: bool) {
        self.set(id, on);
        self.first_args.retain(|(i, _)| *i != id);
        for &s in &cat.entries[id].subs {
            self.set(s, on);
        }
    }

    fn set_all(&mut self, cat: &Catalog, on: bool) {
        self.allowed = vec![if on { u64::MAX } else { 0 }; cat.len().div_ceil(64)];
        self.all_commands = on;
        self.first_args.clear();
    }

    fn set_category(&mut self, cat: &Catalog, bit: u32, on: bool) {
        for id in 0..cat.len() {
            if cat.entries[id].categories & bit != 0 {
                self.change(cat, id, on);
            }
        }
    }

    /// Applies one selector rule (keys, channels, commands).
    pub fn apply(&mut self, cat: &Catalog, op: &[u8]) -> Result<(), RuleError> {
        let text = String::from_utf8_lossy(op);
        let lower = text.to_ascii_lowercase();
        match lower.as_str() {
            "allkeys" | "~*" => {
                self.all_keys = true;
                self.keys.clear();
                return Ok(());
            }
            "resetkeys" => {
                self.all_keys = false;
                self.keys.clear();
                return Ok(());
            }
            "allchannels" | "&*" => {
                self.all_channels = true;
                self.channels.clear();
                return Ok(());
            }
            "resetchannels" => {
                self.all_channels = false;
                self.channels.clear();
                return Ok(());
            }
            "allcommands" | "+@all" => {
                self.set_all(cat, true);
                return Ok(());
            }
            "nocommands" | "-@all" => {
                self.set_all(cat, false);
                return Ok(());
            }
            _ => {}
        }
        match op.first() {
            Some(b'~') | Some(b'%') => self.add_key_pattern(op),
            Some(b'&') => {
                if self.all_channels {
                    return Err(RuleError::AfterAllChannels);
                }
                let p = &op[1..];
                if has_spaces(p) {
                    return Err(RuleError::Syntax);
                }
                if !self.channels.iter().any(|c| c == p) {
                    self.channels.push(p.to_vec());
                }
                self.all_channels = false;
                Ok(())
            }
            Some(b'+') | Some(b'-') if op.get(1) == Some(&b'@') => {
                let bit = super::catalog::category_bit(&text[2..]).ok_or(RuleError::Unknown)?;
                self.set_category(cat, bit, op[0] == b'+');
                Ok(())
            }
            Some(b'+') => self.allow_command(cat, &text[1..]),
            Some(b'-') => {
                let id = cat.id(&text[1..]).ok_or(RuleError::Unknown)?;
                self.change(cat, id, false);
                Ok(())
            }
            _ => Err(RuleError::Syntax),
        }
    }

    fn add_key_pattern(&mut self, op: &[u8]) -> Result<(), RuleError> {
        if self.all_keys {
            return Err(RuleError::AfterAllKeys);
        }
        let (mut read, mut write) = (false, false);
        let mut offset = 1;
        if op[0] == b'%' {
            loop {
                match op.get(offset).map(|c| c.to_ascii_uppercase()) {
                    Some(b'R') if !read => read = true,
                    Some(b'W') if !write => write = true,
                    Some(b'~') => {
                        offset += 1;
                        break;
                    }
                    _ => return Err(RuleError::Syntax),
                }
                offset += 1;
            }
        } else {
            (read, write) = (true, true);
        }
        let pattern = &op[offset..];
        if has_spaces(pattern) {
            return Err(RuleError::Syntax);
        }
        match self.keys.iter_mut().find(|k| k.pattern == pattern) {
            Some(k) => {
                k.read |= read;
                k.write |= write;
            }
            None => self.keys.push(KeyPattern {
                pattern: pattern.to_vec(),
                read,
                write,
            }),
        }
        Ok(())
    }

    fn allow_command(&mut self, cat: &Catalog, name: &str) -> Result<(), RuleError> {
        let Some((container, first)) = name.rsplit_once('|') else {
            let id = cat.id(name).ok_or(RuleError::Unknown)?;
            self.change(cat, id, true);
            return Ok(());
        };
        let id = cat.id(container).ok_or(RuleError::Unknown)?;
        if cat.entries[id].parent.is_some() {
            return Err(RuleError::FirstArgOfSubcommand);
        }
        if first.is_empty() {
            return Err(RuleError::Syntax);
        }
        if !cat.entries[id].subs.is_empty() {
            let sid = cat.id(name).ok_or(RuleError::Unknown)?;
            self.change(cat, sid, true);
            return Ok(());
        }
        if !self.allowed(id) {
            let first = first.to_ascii_lowercase();
            match self.first_args.iter_mut().find(|(i, _)| *i == id) {
                Some((_, v)) if !v.contains(&first) => v.push(first),
                Some(_) => {}
                None => self.first_args.push((id, vec![first])),
            }
        }
        Ok(())
    }

    /// True when this selector allows the command id, or its first argument.
    pub fn allows_command(&self, id: usize, first_arg: Option<&[u8]>) -> bool {
        if self.all_commands || self.allowed(id) {
            return true;
        }
        let Some(arg) = first_arg else {
            return false;
        };
        self.first_args
            .iter()
            .find(|(i, _)| *i == id)
            .is_some_and(|(_, v)| v.iter().any(|a| a.as_bytes().eq_ignore_ascii_case(arg)))
    }

    /// True when a key may be used with this access.
    pub fn allows_key(&self, key: &[u8], access: Access) -> bool {
        if self.all_keys {
            return true;
        }
        self.keys.iter().any(|p| {
            (!access.read || p.read)
                && (!access.write || p.write)
                && crate::base::glob::glob_match(&p.pattern, key, false)
        })
    }

    /// True when a channel (or, for PSUBSCRIBE, a pattern taken literally) is allowed.
    pub fn allows_channel(&self, channel: &[u8], is_pattern: bool) -> bool {
        if self.all_channels {
            return true;
        }
        self.channels.iter().any(|p| {
            if is_pattern {
                p == channel
            } else {
                crate::base::glob::glob_match(p, channel, false)
            }
        })
    }

    /// Nothing is off limits: the permission check can be skipped entirely.
    pub fn unrestricted(&self) -> bool {
        self.all_commands && self.all_keys && self.all_channels
    }

    /// Command rules as Redis describes them: `+@all` or `-@all`, then the categories
    /// that best fit, then single commands to make the set exact.
    pub fn describe_commands(&self, cat: &Catalog) -> String {
        let mut rules: Vec<String> = Vec::new();
        let mut fake = Selector::default();
        let additive = !self.all_commands;
        if additive {
            rules.push("-@all".into());
            fake.set_all(cat, false);
        } else {
            rules.push("+@all".into());
            fake.set_all(cat, true);
        }
        let mut temp = self.clone();
        let mut applied = vec![false; super::catalog::CATEGORIES.len()];
        loop {
            let mut best = None;
            let (mut mindiff, mut maxsame) = (usize::MAX, 0);
            for (j, _) in super::catalog::CATEGORIES.iter().enumerate() {
                if applied[j] {
                    continue;
                }
                let (mut on, mut off) = (0, 0);
                for id in 0..cat.len() {
                    if cat.entries[id].categories & (1 << j) != 0 {
                        if temp.allowed(id) {
                            on += 1;
                        } else {
                            off += 1;
                        }
                    }
                }
                let (diff, same) = if additive { (off, on) } else { (on, off) };
                if same > diff && (diff < mindiff || (diff == mindiff && same > maxsame)) {
                    best = Some(j);
                    mindiff = diff;
                    maxsame = same;
                }
            }
            let Some(j) = best else { break };
            let name = super::catalog::CATEGORIES[j];
            fake.set_category(cat, 1 << j, additive);
            temp.set_category(cat, 1 << j, !additive);
            rules.push(format!("{}@{name}", if additive { '+' } else { '-' }));
            applied[j] = true;
        }
        for id in 0..cat.len() {
            let (mine, theirs) = (self.allowed(id), fake.allowed(id));
            if mine != theirs {
                rules.push(format!(
                    "{}{}",
                    if mine { '+' } else { '-' },
                    cat.entries[id].full_name
                ));
                fake.change(cat, id, mine);
            }
            if !mine && let Some((_, v)) = self.first_args.iter().find(|(i, _)| *i == id) {
                for a in v {
                    rules.push(format!("+{}|{a}", cat.entries[id].full_name));
                }
            }
        }
        rules.join(" ")
    }

    /// Key patterns as GETUSER shows them.
    pub fn describe_keys(&self) -> String {
        if self.all_keys {
            return "~*".into();
        }
        let v: Vec<String> = self.keys.iter().map(KeyPattern::describe).collect();
        v.join(" ")
    }

    /// Channel patterns as GETUSER shows them.
    pub fn describe_channels(&self) -> String {
        if self.all_channels {
            return "&*".into();
        }
        let v: Vec<String> = self
            .channels
            .iter()
            .map(|c| format!("&{}", String::from_utf8_lossy(c)))
            .collect();
        v.join(" ")
    }

    /// The whole selector as ACL LIST writes it.
    fn describe(&self, cat: &Catalog) -> String {
        let mut words: Vec<String> = Vec::new();
        let keys = self.describe_keys();
        if !keys.is_empty() {
            words.push(keys);
        }
        if !self.all_channels {
            // Redis states the empty start so the list reads back the same whatever
            // acl-pubsub-default says.
            words.push("resetchannels".into());
        }
        let channels = self.describe_channels();
        if !channels.is_empty() {
            words.push(channels);
        }
        words.push(self.describe_commands(cat));
        words.join(" ")
    }
}

fn has_spaces(s: &[u8]) -> bool {
    s.iter().any(|c| c.is_ascii_whitespace() || *c == 0)
}

/// The SHA-256 of a password, as the 64 lowercase hex digits Redis stores.
pub fn hash_password(pass: &[u8]) -> String {
    crate::base::hex(&Sha256::digest(pass))
}

fn valid_hash(h: &[u8]) -> bool {
    h.len() == 64 && h.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

/// The stored hash a password rule names: `>pass` / `<pass` hash a clear text,
/// `#hash` / `!hash` give the hash itself.
fn password_of_rule(op: &[u8]) -> Result<String, RuleError> {
    let rest = &op[1..];
    match op[0] {
        b'>' | b'<' => Ok(hash_password(rest)),
        _ if valid_hash(rest) => Ok(String::from_utf8_lossy(rest).into_owned()),
        _ => Err(RuleError::BadHash),
    }
}

/// An ACL user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// User name.
    pub name: String,
    /// `on`: may authenticate.
    pub enabled: bool,
    /// `nopass`: any password works.
    pub nopass: bool,
    /// `sanitize-payload` (Some(false)) or `skip-sanitize-payload` (Some(true)); neither
    /// until one is given. Kept and shown; RESTORE payloads are always checked.
    pub skip_sanitize: Option<bool>,
    /// SHA-256 hex of each password.
    pub passwords: Vec<String>,
    /// The root selector first, then the ones added in parentheses.
    pub selectors: Vec<Selector>,
}

impl User {
    /// A new user as ACL SETUSER creates it: off, no password, no permissions.
    pub fn new(name: &str, cat: &Catalog) -> User {
        let mut root = Selector::default();
        root.set_all(cat, false);
        User {
            name: name.into(),
            enabled: false,
            nopass: false,
            skip_sanitize: None,
            passwords: Vec::new(),
            selectors: vec![root],
        }
    }

    /// The default user of a fresh server: on, nopass, everything allowed.
    pub fn default_user(cat: &Catalog) -> User {
        let mut u = User::new("default", cat);
        for op in ["+@all", "~*", "&*", "on", "nopass"] {
            let _ = u.apply(cat, op.as_bytes());
        }
        u
    }

    /// Applies one rule (Redis's ACLSetUser).
    pub fn apply(&mut self, cat: &Catalog, op: &[u8]) -> Result<(), RuleError> {
        if op.is_empty() {
            return Ok(());
        }
        let lower = String::from_utf8_lossy(op).to_ascii_lowercase();
        match lower.as_str() {
            "on" => self.enabled = true,
            "off" => self.enabled = false,
            "skip-sanitize-payload" => self.skip_sanitize = Some(true),
            "sanitize-payload" => self.skip_sanitize = Some(false),
            "nopass" => {
                self.nopass = true;
                self.passwords.clear();
            }
            "resetpass" => {
                self.nopass = false;
                self.passwords.clear();
            }
            "clearselectors" => self.selectors.truncate(1),
            "reset" => {
                for r in [
                    "resetpass",
                    "resetkeys",
                    "resetchannels",
                    "off",
                    "sanitize-payload",
                    "clearselectors",
                    "-@all",
                ] {
                    self.apply(cat, r.as_bytes())?;
                }
            }
            _ => match op[0] {
                b'>' | b'#' => {
                    let h = password_of_rule(op)?;
                    if !self.passwords.contains(&h) {
                        self.passwords.push(h);
                    }
                    self.nopass = false;
                }
                b'<' | b'!' => {
                    let h = password_of_rule(op)?;
                    let before = self.passwords.len();
                    self.passwords.retain(|p| *p != h);
                    if self.passwords.len() == before {
                        return Err(RuleError::NoSuchPassword);
                    }
                }
                b'(' if op.last() == Some(&b')') => {
                    let mut s = Selector::default();
                    s.set_all(cat, false);
                    let inner = &op[1..op.len() - 1];
                    let words =
                        crate::protocol::request::split_args(inner).ok_or(RuleError::Syntax)?;
                    for w in words {
                        s.apply(cat, &w)?;
                    }
                    self.selectors.push(s);
                }
                _ => self.selectors[0].apply(cat, op)?,
            },
        }
        Ok(())
    }

    /// True when `pass` opens this user (disabled users never open).
    pub fn check_password(&self, pass: &[u8]) -> bool {
        if !self.enabled {
            return false;
        }
        if self.nopass {
            return true;
        }
        let h = hash_password(pass);
        // Every stored hash is compared whole, so the time taken does not tell which
        // (or how much of one) matched.
        let mut ok = false;
        for p in &self.passwords {
            ok |= crate::base::constant_time_eq(p.as_bytes(), h.as_bytes());
        }
        ok
    }

    /// Flags as GETUSER lists them.
    pub fn flag_names(&self) -> Vec<&'static str> {
        let mut v = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            v.push("nopass");
        }
        match self.skip_sanitize {
            Some(true) => v.push("skip-sanitize-payload"),
            Some(false) => v.push("sanitize-payload"),
            None => {}
        }
        v
    }

    /// The rules after `user <name>` in ACL LIST and the ACL file.
    pub fn describe(&self, cat: &Catalog) -> String {
        let mut s = String::new();
        for f in self.flag_names() {
            s.push_str(f);
            s.push(' ');
        }
        for p in &self.passwords {
            s.push('#');
            s.push_str(p);
            s.push(' ');
        }
        s.push_str(&self.selectors[0].describe(cat));
        for sel in &self.selectors[1..] {
            s.push_str(" (");
            s.push_str(&sel.describe(cat));
            s.push(')');
        }
        s
    }

    /// True when no check can refuse anything to this user.
    pub fn unrestricted(&self) -> bool {
        self.selectors[0].unrestricted()
    }
}

/// Joins the words of a selector written across several arguments, `(~x` `+get)`, as
/// Redis does; an unclosed one is an error naming where it started.
pub fn merge_selector_args(args: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    let mut open: Option<(usize, Vec<u8>)> = None;
    for (i, a) in args.iter().enumerate() {
        if let Some((_, buf)) = open.as_mut() {
            buf.push(b' ');
            buf.extend_from_slice(a);
            if a.last() == Some(&b')') {
                out.push(open.take().map(|(_, b)| b).unwrap_or_default());
            }
            continue;
        }
        if a.first() == Some(&b'(') && a.last() != Some(&b')') {
            open = Some((i, a.clone()));
            continue;
        }
        out.push(a.clone());
    }
    if let Some((i, _)) = open {
        return Err(format!(
            "Unmatched parenthesis in acl selector starting at '{}'.",
            String::from_utf8_lossy(&args[i])
        ));
    }
    Ok(out)
}
