//! What ACL rules refer to, derived from the command table: categories (from each
//! command's flags and group, or the categories a declaration names with `.acl(...)`), a
//! numeric id per command and subcommand (bit positions in a selector), and what a key
//! spec's flags (declared with each command) ask of `%R~` / `%W~` patterns.

use crate::commands::table::{Command, CommandTable, SubCommand, flags};
use std::collections::HashMap;

/// Category names in Redis's order (ACL CAT, COMMAND INFO); bit `i` is `CATEGORIES[i]`.
pub const CATEGORIES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// The bit of a category name (case-insensitive), if it exists.
pub fn category_bit(name: &str) -> Option<u32> {
    CATEGORIES
        .iter()
        .position(|c| c.eq_ignore_ascii_case(name))
        .map(|i| 1 << i)
}

fn bit(name: &str) -> u32 {
    category_bit(name).unwrap_or(0)
}

/// The data-type category of a command group.
fn group_category(group: &str) -> u32 {
    match group {
        "string" => bit("string"),
        "hash" => bit("hash"),
        "list" => bit("list"),
        "set" => bit("set"),
        "sorted-set" => bit("sortedset"),
        "generic" => bit("keyspace"),
        "transactions" => bit("transaction"),
        "connection" => bit("connection"),
        "scripting" => bit("scripting"),
        "bitmap" => bit("bitmap"),
        "hyperloglog" => bit("hyperloglog"),
        "geo" => bit("geo"),
        "stream" => bit("stream"),
        _ => 0,
    }
}

fn names_to_bits(names: &str) -> u32 {
    names.split_whitespace().map(bit).fold(0, |a, b| a | b)
}

/// Categories implied by command flags, as Redis's `setImplicitACLCategories`.
fn implicit(f: u32) -> u32 {
    let mut c = 0;
    if f & flags::WRITE != 0 {
        c |= bit("write");
    }
    if f & flags::READONLY != 0 {
        c |= bit("read");
    }
    if f & flags::ADMIN != 0 {
        c |= bit("admin") | bit("dangerous");
    }
    if f & flags::PUBSUB != 0 {
        c |= bit("pubsub");
    }
    if f & flags::FAST != 0 {
        c |= bit("fast");
    } else {
        c |= bit("slow");
    }
    if f & flags::BLOCKING != 0 {
        c |= bit("blocking");
    }
    c
}

/// The categories of a command (container commands count as their own entry).
pub fn command_categories(c: &Command) -> u32 {
    let flags_bits = if c.subcommands.is_empty() { c.flags } else { 0 };
    let family = c.acl.map_or_else(|| group_category(c.group), names_to_bits);
    let mut own = implicit(flags_bits);
    // Read-only scripting commands are not @read (the script may read anything), as Redis
    // leaves them.
    if family & bit("scripting") != 0 {
        own &= !bit("read");
    }
    own | family
}

/// The categories of a subcommand: its own flags, the family of its container.
pub fn subcommand_categories(c: &Command, s: &SubCommand) -> u32 {
    let family = match c.group {
        // CLIENT and COMMAND subcommands are connection commands in Redis; OBJECT's read
        // the keyspace.
        _ if c.name == "client" || c.name == "command" => bit("connection"),
        _ if c.name == "object" => bit("keyspace"),
        g => group_category(g),
    };
    implicit(s.flags) | family
}

/// Category names of a bit set, in Redis's order.
pub fn category_names(bits: u32) -> impl Iterator<Item = &'static str> {
    CATEGORIES
        .iter()
        .enumerate()
        .filter(move |(i, _)| bits & (1 << i) != 0)
        .map(|(_, n)| *n)
}

/// One command or subcommand as ACL rules see it.
#[derive(Debug)]
pub struct Entry {
    /// `name` or `container|sub`.
    pub full_name: String,
    /// Category bits.
    pub categories: u32,
    /// Ids of its subcommands (a rule on a container applies to them too).
    pub subs: Vec<usize>,
    /// Id of its container, for subcommands.
    pub parent: Option<usize>,
}

/// Every command and subcommand with a stable id: the bit it owns in a selector.
#[derive(Debug)]
pub struct Catalog {
    /// By id.
    pub entries: Vec<Entry>,
    by_name: HashMap<String, usize>,
}

impl Catalog {
    /// Numbers the command table: each command, then its subcommands.
    pub fn new(table: &CommandTable) -> Catalog {
        let mut entries = Vec::new();
        let mut by_name = HashMap::new();
        for c in &table.all {
            let id = entries.len();
            by_name.insert(c.name.to_string(), id);
            entries.push(Entry {
                full_name: c.name.to_string(),
                categories: command_categories(c),
                subs: Vec::new(),
                parent: None,
            });
            for s in c.subcommands {
                let sid = entries.len();
                let full = format!("{}|{}", c.name, s.name);
                by_name.insert(full.clone(), sid);
                entries.push(Entry {
                    full_name: full,
                    categories: subcommand_categories(c, s),
                    subs: Vec::new(),
                    parent: Some(id),
                });
                entries[id].subs.push(sid);
            }
        }
        Catalog { entries, by_name }
    }

    /// Id of `name` or `container|sub` (case-insensitive).
    pub fn id(&self, name: &str) -> Option<usize> {
        self.by_name.get(&name.to_ascii_lowercase()).copied()
    }

    /// Id of the command (or subcommand) a request runs.
    pub fn id_of_request(&self, cmd: &Command, args: &[bytes::Bytes]) -> Option<usize> {
        let id = self.id(cmd.name)?;
        if cmd.subcommands.is_empty() || args.len() < 2 {
            return Some(id);
        }
        let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
        Some(self.id(&format!("{}|{}", cmd.name, sub)).unwrap_or(id))
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the table is empty (never, in a server).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// How a command uses one of its keys: `%R~` patterns cover reads, `%W~` writes; a key
/// that is neither (EXISTS, TYPE, a STRLEN) only needs its name to match a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// The value is read and returned (Redis's ACCESS key flag).
    pub read: bool,
    /// The key is inserted, updated or deleted.
    pub write: bool,
}

impl Access {
    /// What a key spec's flags ask of a `%R~`/`%W~` pattern, as Redis's ACL: reading
    /// the value (`ACCESS`) needs read permission; inserting, deleting or updating
    /// needs write permission.
    pub fn of_key_flags(flags: u32) -> Access {
        use crate::commands::table::key;
        Access {
            read: flags & key::ACCESS != 0,
            write: flags & (key::INSERT | key::DELETE | key::UPDATE) != 0,
        }
    }
}
