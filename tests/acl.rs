//! ACL users: SETUSER/GETUSER/LIST/DELUSER shapes and errors, permission checks on
//! commands, keys (%R~/%W~), channels and selectors, AUTH / HELLO AUTH, the ACL LOG,
//! `user` directives and the ACL file, replication with masteruser/masterauth.
//! Every test also passes against stock Redis 7.0 (`FC_SERVER_BIN=$(which redis-server)`).

mod common;

use common::*;
use std::time::Duration;

const NOPERM_KEY: &str =
    "NOPERM this user has no permissions to access one of the keys used as arguments";
const NOPERM_CHANNEL: &str =
    "NOPERM this user has no permissions to access one of the channels used as arguments";
const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

fn noperm_cmd(name: &str) -> Reply {
    Reply::err(&format!(
        "NOPERM this user has no permissions to run the '{name}' command"
    ))
}

/// A map reply (RESP2 flat pairs or RESP3 map) as (key, value) pairs.
fn pairs(r: &Reply) -> Vec<(String, Reply)> {
    match r {
        Reply::Map(m) => m.iter().map(|(k, v)| (k.as_string(), v.clone())).collect(),
        Reply::Array(a) => a
            .chunks(2)
            .map(|c| (c[0].as_string(), c[1].clone()))
            .collect(),
        other => panic!("not a map: {other:?}"),
    }
}

fn field(r: &Reply, name: &str) -> Reply {
    pairs(r)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no field {name} in {r:?}"))
}

fn set_members(r: &Reply) -> Vec<String> {
    match r {
        Reply::Set(a) | Reply::Array(a) => a.iter().map(|x| x.as_string()).collect(),
        other => panic!("not a set: {other:?}"),
    }
}

#[test]
fn setuser_getuser_list_and_rule_errors() {
    let (_s, mut r) = setup();
    assert_eq!(
        r.cmd(&["ACL", "LIST"]),
        Reply::bulks(&["user default on nopass ~* &* +@all"])
    );
    assert_eq!(r.cmd(&["ACL", "WHOAMI"]), Reply::bulk("default"));
    assert_eq!(r.cmd(&["ACL", "SETUSER", "alice"]), Reply::ok());
    assert_eq!(
        r.cmd(&["ACL", "LIST"]),
        Reply::bulks(&[
            "user alice off resetchannels -@all",
            "user default on nopass ~* &* +@all"
        ])
    );
    assert_eq!(
        r.cmd(&[
            "ACL", "SETUSER", "alice", "on", ">p1", "~cache:*", "%R~ro:*", "&news", "+get"
        ]),
        Reply::ok()
    );
    let u = r.cmd(&["ACL", "GETUSER", "alice"]);
    assert_eq!(set_members(&field(&u, "flags")), ["on"]);
    // SHA-256 of "p1".
    assert_eq!(
        field(&u, "passwords"),
        Reply::bulks(&["f64551fcd6f07823cb87971cfb91446425da18286b3ab1ef935e0cbd7a69f68a"])
    );
    assert_eq!(field(&u, "commands"), Reply::bulk("-@all +get"));
    assert_eq!(field(&u, "keys"), Reply::bulk("~cache:* %R~ro:*"));
    assert_eq!(field(&u, "channels"), Reply::bulk("&news"));
    assert_eq!(field(&u, "selectors"), Reply::arr(vec![]));
    assert_eq!(r.cmd(&["ACL", "GETUSER", "nobody"]), Reply::Nil);
    // Selectors, written across arguments; "reset" wipes everything.
    assert_eq!(
        r.cmd(&[
            "ACL",
            "SETUSER",
            "sel",
            "on",
            "nopass",
            "(~a:*",
            "+get)",
            "(+set ~b:*)"
        ]),
        Reply::ok()
    );
    let u = r.cmd(&["ACL", "GETUSER", "sel"]);
    let sels = field(&u, "selectors");
    assert_eq!(sels.as_array().len(), 2);
    assert_eq!(field(&sels.as_array()[0], "keys"), Reply::bulk("~a:*"));
    assert_eq!(
        field(&sels.as_array()[1], "commands"),
        Reply::bulk("-@all +set")
    );
    assert_eq!(r.cmd(&["ACL", "SETUSER", "sel", "reset"]), Reply::ok());
    assert_eq!(
        r.cmd(&["ACL", "LIST"]).as_array()[2],
        Reply::bulk("user sel off sanitize-payload resetchannels -@all")
    );
    // Rule errors: nothing of a refused SETUSER is applied.
    let cases: &[(&[&str], &str)] = &[
        (
            &["+nosuchcommand"],
            "'+nosuchcommand': Unknown command or category name in ACL",
        ),
        (
            &["+@nosuchcat"],
            "'+@nosuchcat': Unknown command or category name in ACL",
        ),
        (&["bogus"], "'bogus': Syntax error"),
        (&["%X~k"], "'%X~k': Syntax error"),
        (
            &["~*", "~k"],
            "'~k': Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
        ),
        (
            &["&*", "&c"],
            "'&c': Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
        ),
        (
            &["<notapassword"],
            "'<notapassword': The password you are trying to remove from the user does not exist",
        ),
        (
            &["#abc"],
            "'#abc': The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
        ),
        (
            &["+config|get|x"],
            "'+config|get|x': Allowing first-arg of a subcommand is not supported",
        ),
    ];
    for (rules, msg) in cases {
        let mut args = vec!["ACL", "SETUSER", "alice", "on", "+set"];
        args.extend_from_slice(rules);
        assert_eq!(
            r.cmd(&args),
            Reply::err(&format!("ERR Error in ACL SETUSER modifier {msg}")),
            "{rules:?}"
        );
    }
    assert_eq!(
        r.cmd(&["ACL", "SETUSER", "alice", "(~x", "+get"]),
        Reply::err("ERR Unmatched parenthesis in acl selector starting at '(~x'.")
    );
    assert_eq!(
        field(&r.cmd(&["ACL", "GETUSER", "alice"]), "commands"),
        Reply::bulk("-@all +get"),
        "a refused SETUSER changed nothing"
    );
    assert_eq!(
        r.cmd(&["ACL", "SETUSER", "bad name"]),
        Reply::err("ERR Usernames can't contain spaces or null characters")
    );
    // DELUSER, USERS, CAT, GENPASS.
    assert_eq!(
        r.cmd(&["ACL", "DELUSER", "default"]),
        Reply::err("ERR The 'default' user cannot be removed")
    );
    assert_eq!(r.cmd(&["ACL", "DELUSER", "sel", "nobody"]), Reply::int(1));
    assert_eq!(
        r.cmd(&["ACL", "USERS"]),
        Reply::bulks(&["alice", "default"])
    );
    let cats = r.cmd(&["ACL", "CAT"]).strings();
    assert_eq!(cats.len(), 21);
    assert_eq!(&cats[..3], ["keyspace", "read", "write"]);
    let strings = r.cmd(&["ACL", "CAT", "string"]).strings();
    assert!(strings.contains(&"incrbyfloat".to_string()) && !strings.contains(&"hset".to_string()));
    let dangerous = r.cmd(&["ACL", "CAT", "dangerous"]).strings();
    for c in ["flushall", "keys", "config|set", "debug", "info"] {
        assert!(dangerous.contains(&c.to_string()), "{c} is @dangerous");
    }
    assert_eq!(
        r.cmd(&["ACL", "CAT", "nope"]),
        Reply::err("ERR Unknown category 'nope'")
    );
    assert_eq!(r.cmd(&["ACL", "GENPASS"]).as_string().len(), 64);
    assert_eq!(r.cmd(&["ACL", "GENPASS", "5"]).as_string().len(), 2);
    assert_eq!(
        r.cmd(&["ACL", "GENPASS", "0"]),
        Reply::err(
            "ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096"
        )
    );
    assert_eq!(
        r.cmd(&["ACL", "LOAD"]).err_text(),
        "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration."
    );
    assert_eq!(
        r.cmd(&["ACL", "NOPE"]).err_text(),
        "ERR unknown subcommand 'NOPE'. Try ACL HELP."
    );
}

#[test]
fn commands_keys_channels_and_selectors_are_enforced() {
    let (s, mut admin) = setup();
    let ok = |r: &mut RawConn, args: &[&str]| assert_eq!(r.cmd(args), Reply::ok(), "{args:?}");
    ok(
        &mut admin,
        &[
            "ACL",
            "SETUSER",
            "app",
            "on",
            ">pw",
            "~cache:*",
            "&news.*",
            "+@read",
            "+set",
            "+publish",
            "+subscribe",
            "+psubscribe",
            "+multi",
            "+exec",
            "+select|0",
            "-debug",
        ],
    );
    ok(
        &mut admin,
        &[
            "ACL", "SETUSER", "rw", "on", ">pw", "%R~r:*", "%W~w:*", "~both:*", "+@all",
        ],
    );
    ok(
        &mut admin,
        &[
            "ACL",
            "SETUSER",
            "multi",
            "on",
            ">pw",
            "+get",
            "~a:*",
            "(+set ~b:*)",
        ],
    );
    ok(
        &mut admin,
        &[
            "ACL",
            "SETUSER",
            "cfg",
            "on",
            ">pw",
            "-@all",
            "+config|get",
            "+client",
        ],
    );

    let mut app = s.raw();
    ok(&mut app, &["AUTH", "app", "pw"]);
    assert_eq!(app.cmd(&["ACL", "WHOAMI"]), noperm_cmd("acl|whoami"));
    assert_eq!(app.cmd(&["GET", "cache:1"]), Reply::Nil);
    ok(&mut app, &["SET", "cache:1", "v"]);
    assert_eq!(app.cmd(&["GET", "other"]), Reply::err(NOPERM_KEY));
    assert_eq!(
        app.cmd(&["MGET", "cache:1", "other"]),
        Reply::err(NOPERM_KEY)
    );
    assert_eq!(app.cmd(&["DEL", "cache:1"]), noperm_cmd("del"));
    assert_eq!(app.cmd(&["FLUSHALL"]), noperm_cmd("flushall"));
    assert_eq!(app.cmd(&["PUBLISH", "news.eu", "x"]), Reply::int(0));
    assert_eq!(
        app.cmd(&["PUBLISH", "sport", "x"]),
        Reply::err(NOPERM_CHANNEL)
    );
    // +select|0: only that first argument.
    ok(&mut app, &["SELECT", "0"]);
    assert_eq!(app.cmd(&["SELECT", "1"]), noperm_cmd("select"));
    // Inside MULTI a denied command aborts the transaction.
    ok(&mut app, &["MULTI"]);
    assert_eq!(app.cmd(&["GET", "other"]), Reply::err(NOPERM_KEY));
    assert_eq!(app.cmd(&["SET", "cache:2", "x"]), Reply::simple("QUEUED"));
    assert_eq!(
        app.cmd(&["EXEC"]),
        Reply::err("EXECABORT Transaction discarded because of previous errors.")
    );
    // Rules changed between queueing and EXEC: checked again, per command.
    ok(&mut app, &["MULTI"]);
    assert_eq!(app.cmd(&["SET", "cache:3", "x"]), Reply::simple("QUEUED"));
    assert_eq!(app.cmd(&["GET", "cache:3"]), Reply::simple("QUEUED"));
    ok(&mut admin, &["ACL", "SETUSER", "app", "-set"]);
    assert_eq!(
        app.cmd(&["EXEC"]),
        Reply::arr(vec![
            Reply::err(
                "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: no permission to execute the command or subcommand"
            ),
            Reply::Nil,
        ])
    );
    // Channel patterns: SUBSCRIBE matches them, PSUBSCRIBE must name one literally.
    let mut sub = s.raw();
    ok(&mut sub, &["AUTH", "app", "pw"]);
    assert_eq!(sub.cmd(&["SUBSCRIBE", "other"]), Reply::err(NOPERM_CHANNEL));
    assert_eq!(
        sub.cmd(&["PSUBSCRIBE", "news.e*"]),
        Reply::err(NOPERM_CHANNEL)
    );
    assert_eq!(
        sub.cmd(&["PSUBSCRIBE", "news.*"]),
        Reply::arr(vec![
            Reply::bulk("psubscribe"),
            Reply::bulk("news.*"),
            Reply::int(1)
        ])
    );

    // %R~ / %W~: reads need R, writes W, reads that return what a write changed need both;
    // EXISTS / TYPE / STRLEN need neither, only a matching name.
    let mut rw = s.raw();
    ok(&mut rw, &["AUTH", "rw", "pw"]);
    ok(&mut rw, &["SET", "w:1", "1"]);
    assert_eq!(rw.cmd(&["SET", "r:1", "1"]), Reply::err(NOPERM_KEY));
    assert_eq!(rw.cmd(&["GET", "w:1"]), Reply::err(NOPERM_KEY));
    assert_eq!(rw.cmd(&["GET", "r:1"]), Reply::Nil);
    assert_eq!(rw.cmd(&["INCR", "w:1"]), Reply::err(NOPERM_KEY));
    assert_eq!(rw.cmd(&["INCR", "both:1"]), Reply::int(1));
    assert_eq!(rw.cmd(&["SET", "w:1", "2", "GET"]), Reply::err(NOPERM_KEY));
    assert_eq!(rw.cmd(&["EXISTS", "w:1", "r:1"]), Reply::int(1));
    assert_eq!(rw.cmd(&["STRLEN", "w:1"]), Reply::int(1));
    assert_eq!(rw.cmd(&["SUNIONSTORE", "w:s", "r:a", "r:b"]), Reply::int(0));
    assert_eq!(
        rw.cmd(&["SUNIONSTORE", "r:s", "r:a", "r:b"]),
        Reply::err(NOPERM_KEY)
    );
    assert_eq!(
        rw.cmd(&["ZUNIONSTORE", "w:z", "2", "r:a", "w:b"]),
        Reply::err(NOPERM_KEY)
    );
    assert_eq!(
        rw.cmd(&["LMOVE", "w:l", "w:m", "LEFT", "LEFT"]),
        Reply::err(NOPERM_KEY)
    );
    assert_eq!(
        rw.cmd(&["LMOVE", "both:l", "w:m", "LEFT", "LEFT"]),
        Reply::Nil
    );

    // Selectors: a command runs when one selector allows all of it.
    let mut m = s.raw();
    ok(&mut m, &["AUTH", "multi", "pw"]);
    assert_eq!(m.cmd(&["GET", "a:1"]), Reply::Nil);
    ok(&mut m, &["SET", "b:1", "x"]);
    assert_eq!(m.cmd(&["SET", "a:1", "x"]), Reply::err(NOPERM_KEY));
    assert_eq!(m.cmd(&["GET", "b:1"]), Reply::err(NOPERM_KEY));
    assert_eq!(m.cmd(&["DEL", "a:1"]), noperm_cmd("del"));

    // Subcommand rules.
    let mut c = s.raw();
    ok(&mut c, &["AUTH", "cfg", "pw"]);
    assert_eq!(c.cmd(&["CONFIG", "GET", "maxclients"]).as_array().len(), 2);
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "maxclients", "10"]),
        noperm_cmd("config|set")
    );
    assert!(c.cmd(&["CLIENT", "ID"]).as_int() > 0);

    // DRYRUN answers for another user without running anything.
    assert_eq!(
        admin.cmd(&["ACL", "DRYRUN", "rw", "GET", "r:1"]),
        Reply::ok()
    );
    assert_eq!(
        admin.cmd(&["ACL", "DRYRUN", "rw", "GET", "w:1"]),
        Reply::bulk("This user has no permissions to access the 'w:1' key")
    );
    assert_eq!(
        admin.cmd(&["ACL", "DRYRUN", "app", "DEL", "x"]),
        Reply::bulk("This user has no permissions to run the 'del' command")
    );
    assert_eq!(
        admin.cmd(&["ACL", "DRYRUN", "nobody", "GET", "x"]),
        Reply::err("ERR User 'nobody' not found")
    );
    assert_eq!(
        admin.cmd(&["ACL", "DRYRUN", "app", "NOPE", "x"]),
        Reply::err("ERR Command 'NOPE' not found")
    );
    // Revoking a channel disconnects its subscribers; others stay.
    ok(
        &mut admin,
        &["ACL", "SETUSER", "app", "resetchannels", "&other"],
    );
    assert!(
        sub.wait_closed(Duration::from_secs(5)),
        "subscriber of a revoked pattern closed"
    );
    assert_eq!(app.cmd(&["GET", "cache:1"]), Reply::bulk("v"));
    // DELUSER closes the user's connections.
    assert_eq!(admin.cmd(&["ACL", "DELUSER", "rw"]), Reply::int(1));
    assert!(
        rw.wait_closed(Duration::from_secs(5)),
        "connection of a deleted user closed"
    );
}

#[test]
fn auth_hello_requirepass_and_the_acl_log() {
    let (s, mut admin) = setup();
    assert_eq!(
        admin.cmd(&["AUTH", "x"]),
        Reply::err(
            "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"
        )
    );
    assert_eq!(
        admin.cmd(&["ACL", "SETUSER", "bob", "on", ">s3cret", "+@all", "~*"]),
        Reply::ok()
    );
    assert_eq!(
        admin.cmd(&["ACL", "SETUSER", "off", "off", ">pw", "+@all"]),
        Reply::ok()
    );
    assert_eq!(admin.cmd(&["ACL", "LOG", "RESET"]), Reply::ok());
    let mut c = s.raw();
    assert_eq!(c.cmd(&["AUTH", "bob", "wrong"]), Reply::err(WRONGPASS));
    assert_eq!(c.cmd(&["AUTH", "bob", "wrong"]), Reply::err(WRONGPASS));
    assert_eq!(c.cmd(&["AUTH", "nobody", "x"]), Reply::err(WRONGPASS));
    assert_eq!(
        c.cmd(&["AUTH", "off", "pw"]),
        Reply::err(WRONGPASS),
        "a disabled user"
    );
    assert_eq!(c.cmd(&["AUTH", "bob", "s3cret"]), Reply::ok());
    assert_eq!(c.cmd(&["ACL", "WHOAMI"]), Reply::bulk("bob"));
    assert!(
        c.cmd(&["CLIENT", "INFO"])
            .as_string()
            .contains(" user=bob ")
    );
    assert_eq!(c.cmd(&["RESET"]), Reply::simple("RESET"));
    assert_eq!(c.cmd(&["ACL", "WHOAMI"]), Reply::bulk("default"));
    // HELLO AUTH.
    let h = c.cmd(&["HELLO", "3", "AUTH", "bob", "s3cret"]);
    assert_eq!(field(&h, "proto"), Reply::int(3));
    assert_eq!(
        c.cmd(&["HELLO", "2", "AUTH", "bob", "nope"]),
        Reply::err(WRONGPASS)
    );
    // The log: newest first, equal failures counted in one entry.
    let log = admin.cmd(&["ACL", "LOG"]);
    let entries = log.as_array();
    assert_eq!(entries.len(), 4, "{log:?}");
    let first = &entries[0];
    assert_eq!(field(first, "reason").as_string(), "auth");
    assert_eq!(field(first, "object").as_string(), "HELLO");
    assert_eq!(field(first, "context").as_string(), "toplevel");
    let bob = &entries[3];
    assert_eq!(field(bob, "count"), Reply::int(2));
    assert_eq!(field(bob, "username").as_string(), "bob");
    assert_eq!(field(bob, "object").as_string(), "AUTH");
    assert!(field(bob, "client-info").as_string().starts_with("id="));
    assert_eq!(admin.cmd(&["ACL", "LOG", "1"]).as_array().len(), 1);
    // Denials are logged with their reason and object.
    assert_eq!(
        admin.cmd(&["ACL", "SETUSER", "ro", "on", ">pw", "+get", "~k"]),
        Reply::ok()
    );
    let mut ro = s.raw();
    assert_eq!(ro.cmd(&["AUTH", "ro", "pw"]), Reply::ok());
    assert!(ro.cmd(&["GET", "other"]).is_error());
    assert!(ro.cmd(&["SET", "k", "v"]).is_error());
    let log = admin.cmd(&["ACL", "LOG", "2"]);
    assert_eq!(field(&log.as_array()[0], "reason").as_string(), "command");
    assert_eq!(field(&log.as_array()[0], "object").as_string(), "set");
    assert_eq!(field(&log.as_array()[1], "reason").as_string(), "key");
    assert_eq!(field(&log.as_array()[1], "object").as_string(), "other");
    assert_eq!(admin.cmd(&["ACL", "LOG", "RESET"]), Reply::ok());
    assert_eq!(admin.cmd(&["ACL", "LOG"]), Reply::arr(vec![]));

    // requirepass is the default user's password.
    assert_eq!(
        admin.cmd(&["CONFIG", "SET", "requirepass", "pw1"]),
        Reply::ok()
    );
    assert_eq!(
        field(&admin.cmd(&["ACL", "GETUSER", "default"]), "passwords"),
        // SHA-256 of "pw1".
        Reply::bulks(&["c592df4a86933b92addc9842402ddf198c638ea9be58916ee6e3734e1e3152f8"])
    );
    let mut n = s.raw();
    assert_eq!(
        n.cmd(&["GET", "x"]),
        Reply::err("NOAUTH Authentication required.")
    );
    assert_eq!(n.cmd(&["AUTH", "pw1"]), Reply::ok());
    assert_eq!(n.cmd(&["AUTH", "default", "pw1"]), Reply::ok());
    assert_eq!(n.cmd(&["GET", "x"]), Reply::Nil);
}

#[test]
fn user_directives_acl_file_load_and_save() {
    // `user` directives in the config file (and on the command line).
    let s = TestServer::start_with_config(
        Some("user default off\nuser admin on >adminpw ~* &* +@all\n"),
        &["--user", "reader", "on", "nopass", "~*", "+@read"],
    );
    let mut r = s.raw();
    assert_eq!(
        r.cmd(&["GET", "x"]),
        Reply::err("NOAUTH Authentication required.")
    );
    assert_eq!(r.cmd(&["AUTH", "reader", "any"]), Reply::ok());
    assert_eq!(r.cmd(&["SET", "x", "1"]), noperm_cmd("set"));
    assert_eq!(r.cmd(&["AUTH", "admin", "adminpw"]), Reply::ok());
    assert_eq!(
        r.cmd(&["ACL", "USERS"]),
        Reply::bulks(&["admin", "default", "reader"])
    );
    // CONFIG REWRITE writes the users as they are now (hashed), replacing the old lines.
    assert_eq!(
        r.cmd(&["ACL", "SETUSER", "newu", "on", ">x", "+get"]),
        Reply::ok()
    );
    assert_eq!(r.cmd(&["CONFIG", "REWRITE"]), Reply::ok());
    let text = std::fs::read_to_string(s.dir().join("server.conf")).unwrap();
    let users: Vec<&str> = text.lines().filter(|l| l.starts_with("user ")).collect();
    assert_eq!(users.len(), 4, "{text}");
    assert!(
        users.iter().any(|l| l.starts_with("user newu on #")),
        "{text}"
    );
    assert!(
        users.iter().any(|l| l.starts_with("user admin on #")),
        "{text}"
    );
    assert!(!text.contains("adminpw"), "{text}");
    drop(r);
    drop(s);

    // An ACL file: loaded at startup, ACL SAVE writes it, ACL LOAD is all or nothing.
    let dir = make_temp_dir();
    let file = dir.join("users.acl");
    std::fs::write(
        &file,
        "user default on nopass ~* &* +@all\n\nuser app on >apppw ~app:* resetchannels -@all +get +set\n",
    )
    .unwrap();
    let file_arg = file.display().to_string();
    let s = TestServer::start(&["--aclfile", &file_arg]);
    let mut r = s.raw();
    assert_eq!(r.cmd(&["ACL", "USERS"]), Reply::bulks(&["app", "default"]));
    let mut app = s.raw();
    assert_eq!(app.cmd(&["AUTH", "app", "apppw"]), Reply::ok());
    assert_eq!(
        r.cmd(&["ACL", "SETUSER", "extra", "on", ">x", "+ping"]),
        Reply::ok()
    );
    assert_eq!(r.cmd(&["ACL", "SAVE"]), Reply::ok());
    let saved = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = saved.lines().collect();
    assert_eq!(lines.len(), 3, "{saved}");
    assert!(lines[0].starts_with("user app on #"), "{saved}");
    assert!(lines[1].starts_with("user default on nopass"), "{saved}");
    assert!(lines[2].starts_with("user extra on #"), "{saved}");
    // A file with an error changes nothing.
    std::fs::write(
        &file,
        "user default on nopass ~* +@all\nuser broken on +nosuch\nnotauser x\n",
    )
    .unwrap();
    let err = r.cmd(&["ACL", "LOAD"]).err_text().to_string();
    assert!(
        err.contains(
            ":2: Error in applying operation '+nosuch': Unknown command or category name in ACL."
        ),
        "{err}"
    );
    assert!(
        err.contains(":3 should start with user keyword followed by the username."),
        "{err}"
    );
    assert!(err.ends_with("WARNING: ACL errors detected, no change to the previously active ACL rules was performed"), "{err}");
    assert_eq!(
        r.cmd(&["ACL", "USERS"]),
        Reply::bulks(&["app", "default", "extra"])
    );
    // A good file replaces every user; connections of replaced users are closed.
    std::fs::write(&file, "user other on >o ~* +@all\n").unwrap();
    assert_eq!(r.cmd(&["ACL", "LOAD"]), Reply::ok());
    assert_eq!(
        r.cmd(&["ACL", "USERS"]),
        Reply::bulks(&["default", "other"])
    );
    assert_eq!(
        r.cmd(&["ACL", "LIST"]).as_array()[0],
        Reply::bulk("user default on nopass ~* &* +@all"),
        "a file without the default user recreates it"
    );
    assert!(app.wait_closed(Duration::from_secs(5)));
    drop(r);
    drop(s);

    // Startup refuses a broken file, and users both in the config and in a file.
    for args in [
        vec!["--aclfile", file_arg.as_str(), "--user", "x", "on"],
        vec!["--aclfile", "/nonexistent/users.acl"],
    ] {
        let mut full = vec!["--port", "0", "--save", ""];
        full.extend(args.iter());
        let out = std::process::Command::new(server_bin())
            .args(&full)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} must not start");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn follower_authenticates_with_masteruser_and_masterauth() {
    let leader = TestServer::start_with_config(
        Some("user default off\nuser repl on >replpw ~* &* +@all\n"),
        &[],
    );
    let lp = leader.port.to_string();
    let mut l = leader.raw();
    assert_eq!(l.cmd(&["AUTH", "repl", "replpw"]), Reply::ok());
    assert_eq!(l.cmd(&["SET", "k", "v"]), Reply::ok());
    let f = TestServer::start(&[
        "--replicaof",
        "127.0.0.1",
        &lp,
        "--masteruser",
        "repl",
        "--masterauth",
        "replpw",
    ]);
    let mut fr = f.raw();
    assert!(
        poll_until(Duration::from_secs(20), Duration::from_millis(20), || {
            fr.cmd(&["GET", "k"]) == Reply::bulk("v")
        }),
        "follower authenticated as repl and synced"
    );
    // A wrong password keeps the link down.
    let bad = TestServer::start(&[
        "--replicaof",
        "127.0.0.1",
        &lp,
        "--masteruser",
        "repl",
        "--masterauth",
        "nope",
    ]);
    // The leader logs the refused AUTH; the follower's link stays down.
    assert!(
        poll_until(Duration::from_secs(10), Duration::from_millis(20), || {
            l.cmd(&["ACL", "LOG"]).as_array().iter().any(|e| {
                field(e, "reason").as_string() == "auth"
                    && field(e, "username").as_string() == "repl"
            })
        }),
        "the follower tried to authenticate"
    );
    let info = bad.raw().cmd(&["INFO", "replication"]).as_string();
    assert_eq!(
        info_field(&info, "master_link_status").as_deref(),
        Some("down")
    );
}

#[test]
fn monitor_and_slowlog_redact_acl_secrets() {
    let (s, mut r) = setup();
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]),
        Reply::ok()
    );
    let mut mon = s.raw();
    assert_eq!(mon.cmd(&["MONITOR"]), Reply::ok());
    // Admin commands are not shown to MONITOR at all (the next line is the GET).
    assert_eq!(
        r.cmd(&["ACL", "SETUSER", "u", "on", ">topsecret"]),
        Reply::ok()
    );
    assert_eq!(r.cmd(&["CONFIG", "SET", "requirepass", ""]), Reply::ok());
    assert_eq!(r.cmd(&["GET", "marker"]), Reply::Nil);
    let line = mon.read_reply().as_string();
    assert!(line.ends_with("\"GET\" \"marker\""), "{line}");
    let log = format!("{:?}", r.cmd(&["SLOWLOG", "GET", "2"]));
    assert!(!log.contains("topsecret"), "{log}");
    assert!(log.contains("(redacted)"), "{log}");
    // AUTH and HELLO ... AUTH are shown with their secrets redacted, as stock 7.0 does.
    assert_eq!(r.cmd(&["AUTH", "u", "topsecret"]), Reply::ok());
    let line = mon.read_reply().as_string();
    assert!(
        line.ends_with("\"AUTH\" \"(redacted)\" \"(redacted)\""),
        "{line}"
    );
    assert!(
        !r.cmd(&["HELLO", "2", "AUTH", "u", "topsecret", "SETNAME", "n"])
            .is_error()
    );
    let line = mon.read_reply().as_string();
    assert!(
        line.ends_with("\"HELLO\" \"2\" \"AUTH\" \"(redacted)\" \"(redacted)\" \"SETNAME\" \"n\""),
        "{line}"
    );
    let log = format!("{:?}", r.cmd(&["SLOWLOG", "GET", "10"]));
    assert!(!log.contains("topsecret"), "{log}");
}

/// Dangerous commands taken away: by ACL rules (`-@dangerous`, `-flushall`) or by
/// `rename-command` in the config file.
#[test]
fn dangerous_commands_disabled_by_acl_or_rename() {
    let s = TestServer::start_with_config(
        Some(
            "rename-command FLUSHALL \"\"\nrename-command CONFIG myconfig\nuser default on nopass ~* &* +@all -@dangerous +config|get\n",
        ),
        &[],
    );
    let mut r = s.raw();
    assert_eq!(
        r.cmd(&["FLUSHALL"]),
        Reply::err("ERR unknown command 'FLUSHALL', with args beginning with: ")
    );
    assert_eq!(
        r.cmd(&["CONFIG", "GET", "port"]),
        Reply::err("ERR unknown command 'CONFIG', with args beginning with: 'GET' 'port' ")
    );
    // ACL rules name commands by their original names.
    assert_eq!(
        r.cmd(&["MYCONFIG", "SET", "maxclients", "5"]),
        noperm_cmd("config|set")
    );
    assert_eq!(r.cmd(&["KEYS", "*"]), noperm_cmd("keys"));
    assert!(r.cmd(&["DEBUG", "DIGEST"]).is_error());
    assert_eq!(r.cmd(&["SET", "k", "v"]), Reply::ok());
    drop(r);
    drop(s);
    // A rename naming no command stops the server.
    let out = std::process::Command::new(server_bin())
        .args(["--port", "0", "--rename-command", "NOSUCH", "x"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
}
