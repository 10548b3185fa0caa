//! Every command and subcommand we implement describes itself as stock Redis 7.0 does:
//! COMMAND INFO (arity, flags, legacy key range, ACL categories, tips, key specs) and
//! COMMAND GETKEYS over generated argument lists are compared with a stock redis-server.

mod common;

use common::*;
use std::collections::BTreeSet;

/// Subcommands we have and stock 7.0.15 does not, on purpose.
const EXTRA_SUBCOMMANDS: &[(&str, &str)] = &[(
    "client|setinfo",
    "Redis 7.2's CLIENT SETINFO, which current client libraries (redis-py 5, go-redis 9) \
     send on connect; stock 7.0 refuses it and they carry on, we record the name",
)];

fn is_extra(name: &str) -> bool {
    EXTRA_SUBCOMMANDS.iter().any(|(n, _)| *n == name)
}

/// One COMMAND INFO entry, made comparable: sets sorted, key spec notes reduced to
/// whether there are any (ours are worded independently).
#[derive(Debug, PartialEq)]
struct Info {
    name: String,
    arity: i64,
    flags: BTreeSet<String>,
    range: (i64, i64, i64),
    categories: BTreeSet<String>,
    tips: BTreeSet<String>,
    key_specs: Vec<String>,
    subcommands: Vec<Info>,
}

fn strings_of(r: &Reply) -> BTreeSet<String> {
    r.as_array().iter().map(|x| x.as_string()).collect()
}

/// A key spec flattened to text, notes replaced by a marker.
fn key_spec_text(r: &Reply) -> String {
    let mut out = Vec::new();
    for (k, v) in r.as_pairs() {
        let k = k.as_string();
        if k == "notes" {
            out.push("notes:yes".to_string());
            continue;
        }
        out.push(format!("{k}:{}", flat(&v)));
    }
    out.sort();
    out.join(" ")
}

fn flat(r: &Reply) -> String {
    match r {
        Reply::Array(a) | Reply::Set(a) => {
            let parts: Vec<String> = a.iter().map(flat).collect();
            format!("[{}]", parts.join(","))
        }
        Reply::Map(m) => {
            let parts: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{}={}", flat(k), flat(v)))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Reply::Int(i) => i.to_string(),
        other => other.as_string(),
    }
}

fn info_of(r: &Reply) -> Info {
    let a = r.as_array();
    let mut subcommands: Vec<Info> = a[9].as_array().iter().map(info_of).collect();
    subcommands.sort_by(|x, y| x.name.cmp(&y.name));
    Info {
        name: a[0].as_string(),
        arity: a[1].as_int(),
        flags: strings_of(&a[2]),
        range: (a[3].as_int(), a[4].as_int(), a[5].as_int()),
        categories: strings_of(&a[6]),
        tips: strings_of(&a[7]),
        key_specs: a[8].as_array().iter().map(key_spec_text).collect(),
        subcommands,
    }
}

/// Our top-level command names (COMMAND LIST, without the `container|sub` entries).
fn our_commands(ours: &mut RawConn) -> Vec<String> {
    let mut names = ours.cmd(&["COMMAND", "LIST"]).strings();
    names.retain(|n| !n.contains('|'));
    names.sort();
    names
}

#[test]
fn command_info_matches_stock_for_every_command_we_implement() {
    let stock = TestServer::start_stock(&[]);
    let ours = TestServer::start(&[]);
    let (mut s, mut o) = (stock.raw(), ours.raw());
    let names = our_commands(&mut o);
    assert!(names.len() > 150);
    let mut differences = Vec::new();
    for name in &names {
        let theirs = info_of(&s.cmd(&["COMMAND", "INFO", name]).as_array()[0]);
        let mut mine = info_of(&o.cmd(&["COMMAND", "INFO", name]).as_array()[0]);
        mine.subcommands.retain(|m| !is_extra(&m.name));
        // Subcommands we do not implement are compared only by their absence.
        let mut theirs = theirs;
        theirs
            .subcommands
            .retain(|t| mine.subcommands.iter().any(|m| m.name == t.name));
        if theirs != mine {
            differences.push(format!("stock: {theirs:?}\n ours: {mine:?}"));
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {} commands differ:\n{}",
        differences.len(),
        names.len(),
        differences.join("\n")
    );
}

/// Argument lists to ask GETKEYS about: every length from the arity up to four more
/// arguments, each with a "2" (a key count, where one is expected) at every position.
fn sample_requests(name: &str, arity: i64) -> Vec<Vec<String>> {
    let min = arity.unsigned_abs() as usize;
    let max = if arity > 0 { min } else { min + 4 };
    let mut out = Vec::new();
    for argc in min.max(2)..=max {
        for two_at in 1..argc {
            let mut args: Vec<String> = (0..argc).map(|i| format!("a{i}")).collect();
            args[0] = name.to_string();
            args[two_at] = "2".into();
            out.push(args);
        }
    }
    out
}

#[test]
fn getkeys_finds_the_keys_stock_finds() {
    let stock = TestServer::start_stock(&[]);
    let ours = TestServer::start(&[]);
    let (mut s, mut o) = (stock.raw(), ours.raw());
    let mut differences = Vec::new();
    let mut compared = 0;
    for name in our_commands(&mut o) {
        let info = o.cmd(&["COMMAND", "INFO", &name]).as_array()[0].clone();
        let a = info.as_array();
        let mut requests = sample_requests(&name, a[1].as_int());
        // A container's requests go through each subcommand.
        for sub in a[9].as_array() {
            let full = sub.as_array()[0].as_string();
            if is_extra(&full) {
                continue;
            }
            let sub_name = full.split('|').nth(1).unwrap().to_string();
            for mut args in sample_requests(&name, sub.as_array()[1].as_int()) {
                if args.len() >= 2 {
                    args[1] = sub_name.clone();
                    requests.push(args);
                }
            }
        }
        for args in requests {
            let mut req = vec!["COMMAND".to_string(), "GETKEYS".to_string()];
            req.extend(args.iter().cloned());
            let (theirs, mine) = (s.cmd(&req), o.cmd(&req));
            compared += 1;
            if theirs != mine {
                differences.push(format!("{args:?}: stock {theirs:?}, ours {mine:?}"));
            }
        }
    }
    assert!(compared > 2000, "{compared}");
    assert!(
        differences.is_empty(),
        "{} of {compared} differ:\n{}",
        differences.len(),
        differences.join("\n")
    );
}

#[test]
fn numkeys_commands_report_their_keys() {
    // ferrocache and stock alike: the keys after a count are keys.
    let (_s, mut r) = setup();
    for (req, keys) in [
        (vec!["ZUNION", "2", "a", "b", "WITHSCORES"], vec!["a", "b"]),
        (vec!["ZUNIONSTORE", "d", "2", "a", "b"], vec!["d", "a", "b"]),
        (
            vec!["SINTERCARD", "2", "a", "b", "LIMIT", "1"],
            vec!["a", "b"],
        ),
        (vec!["LMPOP", "2", "a", "b", "LEFT"], vec!["a", "b"]),
        (vec!["BLMPOP", "0", "1", "a", "LEFT"], vec!["a"]),
        (vec!["ZMPOP", "1", "a", "MIN"], vec!["a"]),
    ] {
        let mut cmd = vec!["COMMAND", "GETKEYS"];
        cmd.extend(&req);
        assert_eq!(r.cmd(&cmd), Reply::bulks(&keys), "{req:?}");
    }
    assert_eq!(
        r.cmd(&["COMMAND", "GETKEYS", "ZUNION", "x", "a"]),
        Reply::err("ERR Invalid arguments specified for command")
    );
}

#[test]
fn command_list_names_subcommands_as_stock() {
    let stock = TestServer::start_stock(&[]);
    let ours = TestServer::start(&[]);
    let (mut s, mut o) = (stock.raw(), ours.raw());
    let stock_names: std::collections::BTreeSet<String> =
        s.cmd(&["COMMAND", "LIST"]).strings().into_iter().collect();
    let our_names: std::collections::BTreeSet<String> =
        o.cmd(&["COMMAND", "LIST"]).strings().into_iter().collect();
    for sub in [
        "config|get",
        "acl|cat",
        "client|list",
        "function|load",
        "memory|usage",
    ] {
        assert!(
            our_names.contains(sub) && stock_names.contains(sub),
            "{sub}"
        );
    }
    // Every subcommand we list is one stock lists, but CLIENT SETINFO (Redis 7.2's,
    // which client libraries send on connect; README lists it).
    let extra: Vec<&String> = our_names
        .iter()
        .filter(|n| n.contains('|') && !stock_names.contains(*n) && *n != "client|setinfo")
        .collect();
    assert!(
        extra.is_empty(),
        "subcommands stock does not have: {extra:?}"
    );
}
