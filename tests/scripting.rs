//! Lua scripting (EVAL, EVALSHA, EVAL_RO, SCRIPT) and functions (FUNCTION, FCALL):
//! replies compared with stock Redis, effects and libraries on followers and a stock
//! replica, snapshots, BUSY and SCRIPT/FUNCTION KILL, MULTI, tracking.

mod common;

use common::*;
use std::time::Duration;

/// Requests whose replies must equal stock's byte for byte (errors included).
const CASES: &[&[&str]] = &[
    &["SET", "s", "foo"],
    &["EVAL", "return redis.call('incr','x')", "0"],
    &["EVAL", "return redis.call('incr','s')", "0"],
    &["EVAL", "return redis.pcall('incr','s')", "0"],
    &["EVAL", "return redis.call('nosuch')", "0"],
    &["EVAL", "return redis.call('get')", "0"],
    &["EVAL", "return redis.call('config')", "0"],
    &["EVAL", "return redis.call('config', 'nosuch')", "0"],
    &["EVAL", "return redis.call()", "0"],
    &["EVAL", "return redis.call('set','a',{})", "0"],
    &["EVAL", "return redis.call('eval','return 1','0')", "0"],
    &["EVAL", "return redis.call('blpop','l','0')", "0"],
    &["EVAL", "return {1,2,3.5,'a',false,true,{err='x'}}", "0"],
    &["EVAL", "return {1,2,nil,4}", "0"],
    &["EVAL", "return {ok='fine'}", "0"],
    &["EVAL", "return {err='bad thing'}", "0"],
    &["EVAL", "return redis.error_reply('My Error')", "0"],
    &["EVAL", "return redis.error_reply('x')", "0"],
    &["EVAL", "return redis.status_reply('FINE')", "0"],
    &["EVAL", "return {double=3.14}", "0"],
    &["EVAL", "return 3.99", "0"],
    &["EVAL", "return -3.7", "0"],
    &["EVAL", "return 1e20", "0"],
    &["EVAL", "return nil", "0"],
    &["EVAL", "return redis.call('get','nokey')", "0"],
    &["EVAL", "return redis.sha1hex('abc')", "0"],
    &["EVAL", "return redis.REDIS_VERSION_NUM", "0"],
    &["EVAL", "syntax error here", "0"],
    &["EVAL", "error('boom')", "0"],
    &["EVAL", "error({err='TABLEERR x'})", "0"],
    &["EVAL", "\nlocal a = 1\nerror('on line three')", "0"],
    &["EVAL", "return a_global", "0"],
    &["EVAL", "x = 5", "0"],
    &["EVAL", "string.x = 1", "0"],
    &["EVAL", "redis.call = 1", "0"],
    &["EVAL", "setmetatable(_G, {})", "0"],
    &["EVAL", "return type(print)", "0"],
    &["EVAL", "return type(os)", "0"],
    &["EVAL", "return loadstring('return 5')()", "0"],
    &[
        "EVAL",
        "local ok, e = pcall(redis.call, 'incr', 's') return {tostring(ok), e}",
        "0",
    ],
    &[
        "EVAL",
        "return {KEYS[1], ARGV[1], #KEYS, #ARGV}",
        "2",
        "k1",
        "k2",
        "a1",
    ],
    &["EVAL", "return redis.call('get', KEYS[1])", "3", "a", "b"],
    &["EVAL", "return redis.call('get', KEYS[1])", "-1"],
    &["EVAL", "return 1", "x"],
    &[
        "EVAL",
        "redis.call('select', 5) return redis.call('set','indb5','x')",
        "0",
    ],
    &["GET", "indb5"],
    &["EVAL", "return redis.call('hset','h','a','1','b','2')", "0"],
    &[
        "EVAL",
        "redis.setresp(3) return redis.call('hgetall','h')",
        "0",
    ],
    &[
        "EVAL",
        "redis.setresp(3) return redis.call('hgetall','nokey')",
        "0",
    ],
    &["EVAL", "redis.setresp(4)", "0"],
    &["EVAL", "return redis.set_repl(9)", "0"],
    &["EVAL", "return math.random(10)", "0"],
    &["EVAL", "return math.random(0)", "0"],
    &["EVAL", "return math.random(5, 1)", "0"],
    &["EVAL", "return redis.sha1hex()", "0"],
    &["EVAL", "return redis.log(redis.LOG_WARNING)", "0"],
    &["EVAL", "return redis.log('x', 'y')", "0"],
    &["EVAL", "return redis.log(9, 'y')", "0"],
    &[
        "EVAL",
        "return redis.log(redis.LOG_NOTICE, 'hello from a test script')",
        "0",
    ],
    &["EVAL", "return redis.setresp()", "0"],
    &["EVAL", "return redis.status_reply(1)", "0"],
    &["EVAL", "return redis.error_reply()", "0"],
    &[
        "EVAL",
        "#!lua flags=no-writes\nreturn redis.call('set','x','1')",
        "0",
    ],
    &["EVAL", "#!lua flags=bogus\nreturn 1", "0"],
    &["EVAL", "#!lua\nreturn redis.call('set','x','2')", "0"],
    &["EVAL_RO", "return redis.call('set','x','1')", "0"],
    &["EVAL_RO", "return redis.call('get','s')", "0"],
    &["EVAL_RO", "#!lua\nreturn 1", "0"],
    &["SCRIPT", "LOAD", "return 'loaded'"],
    &["EVALSHA", "b534286061d4b9e4026607613b95c06c06015ae8", "0"],
    &["EVALSHA", "B534286061D4B9E4026607613B95C06C06015AE8", "0"],
    &[
        "SCRIPT",
        "EXISTS",
        "b534286061d4b9e4026607613b95c06c06015ae8",
        "ffff",
    ],
    &["SCRIPT", "KILL"],
    &["SCRIPT", "FLUSH", "BOGUS"],
    &["SCRIPT", "FLUSH", "ASYNC"],
    &[
        "SCRIPT",
        "EXISTS",
        "b534286061d4b9e4026607613b95c06c06015ae8",
    ],
    &["EVALSHA", "b534286061d4b9e4026607613b95c06c06015ae8", "0"],
    &["SCRIPT", "LOAD", "return"],
];

#[test]
fn replies_match_stock() {
    ensure_stock_redis();
    let ours = TestServer::start(&[]);
    let stock = TestServer::start_stock(&[]);
    let (mut o, mut s) = (ours.raw(), stock.raw());
    let mut diffs = Vec::new();
    for case in CASES {
        let (a, b) = (o.cmd(case), s.cmd(case));
        if a != b {
            diffs.push(format!("{case:?}\n  stock: {b:?}\n   ours: {a:?}"));
        }
    }
    assert!(
        diffs.is_empty(),
        "{} differ:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

#[test]
fn script_effects_reach_followers_and_a_stock_replica() {
    ensure_stock_redis();
    assert_followers_converge(|l| {
        for i in 0..50 {
            let n = i.to_string();
            l.cmd(&[
                "EVAL",
                "redis.call('incrbyfloat', KEYS[1], ARGV[1]) redis.call('sadd', KEYS[2], ARGV[1]) \
                 redis.call('spop', KEYS[2]) redis.call('expire', KEYS[1], 100) \
                 return redis.call('rpush', KEYS[3], ARGV[1])",
                "3",
                "f",
                "set",
                "list",
                &n,
            ]);
        }
        l.cmd(&[
            "EVAL",
            "redis.call('select', 3) redis.call('set', 'in3', 'v')",
            "0",
        ]);
        l.cmd(&["MULTI"]);
        l.cmd(&["EVAL", "return redis.call('incr', 'm')", "0"]);
        l.cmd(&["INCR", "m"]);
        l.cmd(&["EXEC"]);
    });
}

#[test]
fn busy_script_is_killed_and_others_get_busy() {
    let server = TestServer::start(&["--busy-reply-threshold", "100"]);
    let mut a = server.raw();
    let mut b = server.raw();
    a.send_cmd(&["EVAL", "local i = 0 while true do i = i + 1 end", "0"]);
    // Other clients wait, then get BUSY once the threshold has passed.
    assert!(poll_until(
        Duration::from_secs(10),
        Duration::from_millis(20),
        || { b.cmd(&["PING"]).is_error() }
    ));
    expect(
        &mut b,
        &["GET", "x"],
        Reply::err(
            "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
        ),
    );
    expect(&mut b, &["SCRIPT", "KILL"], Reply::ok());
    let killed = a.read_reply();
    assert!(
        killed
            .err_text()
            .starts_with("ERR Script killed by user with SCRIPT KILL..."),
        "{killed:?}"
    );
    expect(&mut b, &["PING"], Reply::simple("PONG"));
    expect(
        &mut b,
        &["SCRIPT", "KILL"],
        Reply::err("NOTBUSY No scripts in execution right now."),
    );
}

#[test]
fn a_script_that_wrote_cannot_be_killed_but_shutdown_nosave_works() {
    let mut server = TestServer::start(&["--busy-reply-threshold", "100"]);
    let mut a = server.raw();
    let mut b = server.raw();
    a.send_cmd(&["EVAL", "redis.call('set','x','1') while true do end", "0"]);
    assert!(poll_until(
        Duration::from_secs(10),
        Duration::from_millis(20),
        || { b.cmd(&["PING"]).is_error() }
    ));
    let r = b.cmd(&["SCRIPT", "KILL"]);
    assert!(r.err_text().starts_with("UNKILLABLE"), "{r:?}");
    b.send_cmd(&["SHUTDOWN", "NOSAVE"]);
    assert!(server.wait_exit(Duration::from_secs(10)).is_some());
}

#[test]
fn clients_wait_for_a_short_script() {
    let server = TestServer::start(&[]);
    let mut a = server.raw();
    let mut b = server.raw();
    // The script holds the keyspace for ~300 ms; a GET sent meanwhile sees its end state.
    a.send_cmd(&[
        "EVAL",
        "redis.call('set','k','before') local t = redis.call('time') \
         while true do local n = redis.call('time') \
         if (n[1]-t[1])*1000000 + (n[2]-t[2]) > 300000 then break end end \
         return redis.call('set','k','after')",
        "0",
    ]);
    std::thread::sleep(Duration::from_millis(50));
    expect(&mut b, &["GET", "k"], Reply::bulk("after"));
    assert_eq!(a.read_reply(), Reply::ok());
}

#[test]
fn followers_run_read_only_scripts_and_refuse_writes() {
    let leader = TestServer::start(&[]);
    let follower = TestServer::start(&["--replicaof", "127.0.0.1", &leader.port.to_string()]);
    let mut l = leader.raw();
    let mut f = follower.raw();
    l.cmd(&["SET", "k", "v"]);
    assert!(poll_until(
        Duration::from_secs(10),
        Duration::from_millis(20),
        || { f.cmd(&["GET", "k"]) == Reply::bulk("v") }
    ));
    expect(
        &mut f,
        &["EVAL_RO", "return redis.call('get', KEYS[1])", "1", "k"],
        Reply::bulk("v"),
    );
    expect(
        &mut f,
        &["EVAL", "return redis.call('get', KEYS[1])", "1", "k"],
        Reply::bulk("v"),
    );
    let w = f.cmd(&["EVAL", "return redis.call('set', 'k', 'x')", "0"]);
    assert!(
        w.err_text()
            .starts_with("READONLY You can't write against a read only replica."),
        "{w:?}"
    );
    // A script that declares flags is refused up front, as a write command (stock's text).
    expect(
        &mut f,
        &["EVAL", "#!lua\nreturn 1", "0"],
        Reply::err("READONLY You can't write against a read only replica."),
    );
    expect(
        &mut f,
        &["EVAL", "#!lua flags=no-writes\nreturn 1", "0"],
        Reply::int(1),
    );
}

#[test]
fn keys_a_script_reads_are_tracked_for_the_caller() {
    // As in Redis 7.0: a script that calls a read command tracks its declared KEYS (the
    // caller's command), whatever it read; one that reads nothing tracks nothing.
    let server = TestServer::start(&[]);
    let mut reader = server.raw();
    let mut writer = server.raw();
    reader.cmd(&["HELLO", "3"]);
    expect(&mut reader, &["CLIENT", "TRACKING", "on"], Reply::ok());
    writer.cmd(&["SET", "tk", "1"]);
    expect(
        &mut reader,
        &["EVAL", "return redis.call('get', 'undeclared')", "1", "tk"],
        Reply::Nil,
    );
    expect(
        &mut reader,
        &["EVAL", "return redis.call('set', 'w', '1')", "1", "notread"],
        Reply::ok(),
    );
    writer.cmd(&["SET", "undeclared", "2"]);
    writer.cmd(&["SET", "notread", "2"]);
    writer.cmd(&["SET", "tk", "2"]);
    let push = reader.read_reply();
    assert!(format!("{push:?}").contains("tk"), "{push:?}");
    assert!(
        reader
            .try_read_reply(std::time::Duration::from_millis(100))
            .is_err(),
        "only the declared key of the reading script is tracked"
    );
}

#[test]
fn acl_applies_to_every_call() {
    let server = TestServer::start(&[]);
    let mut admin = server.raw();
    expect(
        &mut admin,
        &["ACL", "SETUSER", "u", "on", "nopass", "+eval", "+get", "~*"],
        Reply::ok(),
    );
    let mut u = server.raw();
    expect(&mut u, &["AUTH", "u", "x"], Reply::ok());
    expect(
        &mut u,
        &["EVAL", "return redis.call('get', 'k')", "0"],
        Reply::Nil,
    );
    let r = u.cmd(&["EVAL", "return redis.call('set', 'k', 'v')", "0"]);
    assert!(
        r.err_text()
            .starts_with("ERR The user executing the script can't run this command or subcommand"),
        "{r:?}"
    );
    expect(
        &mut u,
        &["EVAL", "return redis.acl_check_cmd('set', 'k', 'v')", "0"],
        Reply::Nil,
    );
    expect(
        &mut u,
        &["EVAL", "return redis.acl_check_cmd('get', 'k')", "0"],
        Reply::int(1),
    );
}

/// A library with a write function, a read-only one and one that fails.
const LIB: &str = "#!lua name=mylib
redis.register_function('setter', function(keys, args) return redis.call('set', keys[1], args[1]) end)
redis.register_function{function_name='getter', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}, description='reads a key'}
redis.register_function('failer', function() return nosuch end)";

/// FUNCTION and FCALL requests whose replies must equal stock's byte for byte.
const FUNCTION_CASES: &[&[&str]] = &[
    &["FUNCTION", "LOAD", LIB],
    &["FCALL", "setter", "1", "k", "v"],
    &["FCALL", "GETTER", "1", "k"],
    &["FCALL_RO", "getter", "1", "k"],
    &["FCALL_RO", "setter", "1", "k", "v"],
    &["FCALL", "failer", "0"],
    &["FCALL", "nosuch", "0"],
    &["FCALL", "setter", "x"],
    &["FCALL", "setter", "3", "a"],
    &["FCALL", "setter", "-1"],
    &["FUNCTION", "LIST"],
    &["FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "my*"],
    &["FUNCTION", "LIST", "LIBRARYNAME"],
    &["FUNCTION", "LIST", "bogus"],
    &["FUNCTION", "STATS"],
    &["FUNCTION", "LOAD", LIB],
    &["FUNCTION", "LOAD", "BOGUS", LIB],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=other\nredis.register_function('setter', function() return 1 end)",
    ],
    &["FUNCTION", "LOAD", "return 1"],
    &["FUNCTION", "LOAD", "#!lua"],
    &["FUNCTION", "LOAD", "#!lua\n"],
    &["FUNCTION", "LOAD", "#!lua name=a name=b\n"],
    &["FUNCTION", "LOAD", "#!lua foo=bar\n"],
    &["FUNCTION", "LOAD", "#!py name=x\n"],
    &["FUNCTION", "LOAD", "#!lua name=a-b\n"],
    &["FUNCTION", "LOAD", "#!lua name=empty\nreturn 1"],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=bad\nredis.register_function('f', function() end",
    ],
    &["FUNCTION", "LOAD", "#!lua name=bad\nerror('boom')"],
    &["FUNCTION", "LOAD", "#!lua name=bad\nredis.call('ping')"],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=bad\nlocal x = string.len('a')",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=bad\nredis.register_function('f')",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=bad\nredis.register_function('f', 1)",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=bad\nredis.register_function({})",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=bad\nredis.register_function{function_name='f', callback=function() end, flags={'bogus'}}",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=bad\nredis.register_function('a-b', function() end)",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=bad\nredis.register_function('f', function() end)\nredis.register_function('f', function() end)",
    ],
    &["FUNCTION", "LOAD", "#!lua name=bad\nwhile true do end"],
    &["FUNCTION", "RESTORE", "bogus"],
    &["FUNCTION", "RESTORE", "x", "bogus"],
    &["FUNCTION", "FLUSH", "bogus"],
    &["FUNCTION", "KILL"],
    &["FUNCTION", "DELETE", "nosuch"],
    &["FUNCTION", "DELETE", "mylib"],
    &["FCALL", "setter", "1", "k", "v"],
    &["FUNCTION", "HELP"],
    &["FUNCTION", "NOSUCH"],
];

#[test]
fn function_replies_match_stock() {
    ensure_stock_redis();
    let ours = TestServer::start(&[]);
    let stock = TestServer::start_stock(&[]);
    let (mut o, mut s) = (ours.raw(), stock.raw());
    let mut diffs = Vec::new();
    for case in FUNCTION_CASES {
        let (mut a, mut b) = (o.cmd(case), s.cmd(case));
        if case[1] == "LIST" {
            // A library's functions come in no set order (stock's hash order).
            (a, b) = (functions_sorted(a), functions_sorted(b));
        }
        if a != b {
            diffs.push(format!("{case:?}\n  stock: {b:?}\n   ours: {a:?}"));
        }
    }
    assert!(
        diffs.is_empty(),
        "{} differ:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

/// FUNCTION LIST with each library's functions in name order.
fn functions_sorted(list: Reply) -> Reply {
    let Reply::Array(libs) = list else {
        return list;
    };
    Reply::Array(
        libs.into_iter()
            .map(|lib| match lib {
                Reply::Array(mut fields) => {
                    for i in (1..fields.len()).step_by(2) {
                        if fields[i - 1] == Reply::bulk("functions")
                            && let Reply::Array(fs) = &mut fields[i]
                        {
                            fs.sort_by_key(|f| format!("{f:?}"));
                        }
                    }
                    Reply::Array(fields)
                }
                other => other,
            })
            .collect(),
    )
}

#[test]
fn function_dump_restores_both_ways_with_stock() {
    ensure_stock_redis();
    let ours = TestServer::start(&[]);
    let stock = TestServer::start_stock(&[]);
    let (mut o, mut s) = (ours.raw(), stock.raw());
    expect(&mut o, &["FUNCTION", "LOAD", LIB], Reply::bulk("mylib"));
    let other =
        "#!lua name=stocklib\nredis.register_function('from_stock', function() return 'stock' end)";
    expect(
        &mut s,
        &["FUNCTION", "LOAD", other],
        Reply::bulk("stocklib"),
    );
    let ours_dump = o.cmd(&["FUNCTION", "DUMP"]).as_bytes();
    let stock_dump = s.cmd(&["FUNCTION", "DUMP"]).as_bytes();
    let restore = |c: &mut RawConn, payload: &[u8], policy: &str| {
        c.cmd(&[
            b"FUNCTION".as_slice(),
            b"RESTORE",
            payload,
            policy.as_bytes(),
        ])
    };
    assert_eq!(restore(&mut s, &ours_dump, "APPEND"), Reply::ok());
    assert_eq!(restore(&mut o, &stock_dump, "APPEND"), Reply::ok());
    expect(&mut s, &["FCALL", "setter", "1", "k", "v"], Reply::ok());
    expect(&mut o, &["FCALL", "from_stock", "0"], Reply::bulk("stock"));
    // Collisions and a corrupt payload are refused as stock refuses them.
    for policy in ["APPEND", "REPLACE"] {
        assert_eq!(
            restore(&mut o, &ours_dump, policy),
            restore(&mut s, &ours_dump, policy),
            "{policy}"
        );
    }
    let mut bad = ours_dump.clone();
    let n = bad.len();
    bad[n - 1] ^= 0xff;
    assert_eq!(
        restore(&mut o, &bad, "FLUSH"),
        restore(&mut s, &bad, "FLUSH")
    );
    assert_eq!(restore(&mut o, &stock_dump, "FLUSH"), Reply::ok());
    let libs = o.cmd(&["FUNCTION", "STATS"]);
    assert!(format!("{libs:?}").contains("libraries_count"), "{libs:?}");
    expect(
        &mut o,
        &["FCALL", "setter", "1", "k", "v"],
        Reply::err("ERR Function not found"),
    );
}

#[test]
fn functions_reach_followers_and_a_stock_replica() {
    ensure_stock_redis();
    assert_followers_converge(|l| {
        expect(l, &["FUNCTION", "LOAD", LIB], Reply::bulk("mylib"));
        let counter = "#!lua name=counter\nredis.register_function('bump', function(keys, args) \
                       redis.call('incrby', keys[1], args[1]) redis.call('rpush', keys[2], args[1]) \
                       return redis.call('get', keys[1]) end)";
        expect(l, &["FUNCTION", "LOAD", counter], Reply::bulk("counter"));
        // Several clients at once: functions, scripts and plain writes interleave.
        std::thread::scope(|scope| {
            for t in 0..4 {
                let addr = l.stream.peer_addr().unwrap().to_string();
                scope.spawn(move || {
                    let mut c = RawConn::connect(&addr);
                    for i in 0..100 {
                        let n = (t * 1000 + i).to_string();
                        c.cmd(&["FCALL", "bump", "2", "total", "log", &n]);
                        c.cmd(&["FCALL", "setter", "1", &format!("k{t}"), &n]);
                        c.cmd(&[
                            "EVAL",
                            "return redis.call('sadd', KEYS[1], ARGV[1])",
                            "1",
                            "s",
                            &n,
                        ]);
                        c.cmd(&["INCR", "plain"]);
                    }
                });
            }
        });
        expect(l, &["FUNCTION", "DELETE", "mylib"], Reply::ok());
        expect(l, &["FUNCTION", "LOAD", LIB], Reply::bulk("mylib"));
    });
}

#[test]
fn followers_get_the_libraries_by_full_sync_and_stream() {
    ensure_stock_redis();
    let leader = TestServer::start(&[]);
    let mut l = leader.raw();
    expect(&mut l, &["FUNCTION", "LOAD", LIB], Reply::bulk("mylib"));
    let lp = leader.port.to_string();
    let follower = TestServer::start(&["--replicaof", "127.0.0.1", &lp]);
    let stock = TestServer::start_stock(&["--replicaof", "127.0.0.1", &lp]);
    let later = "#!lua name=later\nredis.register_function{function_name='later', \
                 callback=function() return 'later' end, flags={'no-writes'}}";
    expect(&mut l, &["FUNCTION", "LOAD", later], Reply::bulk("later"));
    expect(&mut l, &["FCALL", "setter", "1", "k", "v"], Reply::ok());
    for s in [&follower, &stock] {
        let mut f = s.raw();
        assert!(
            poll_until(Duration::from_secs(20), Duration::from_millis(50), || {
                f.cmd(&["FCALL_RO", "getter", "1", "k"]) == Reply::bulk("v")
                    && f.cmd(&["FCALL", "later", "0"]) == Reply::bulk("later")
            }),
            "libraries missing on {}",
            s.port
        );
        let w = f.cmd(&["FCALL", "setter", "1", "k", "x"]);
        assert_eq!(
            w,
            Reply::err("READONLY You can't write against a read only replica."),
            "on {}",
            s.port
        );
    }
    expect(&mut l, &["FUNCTION", "FLUSH"], Reply::ok());
    for s in [&follower, &stock] {
        let mut f = s.raw();
        assert!(poll_until(
            Duration::from_secs(20),
            Duration::from_millis(50),
            || f.cmd(&["FUNCTION", "LIST"]) == Reply::Array(vec![])
        ));
    }
}

#[test]
fn libraries_survive_a_restart_and_stock_tools_accept_the_file() {
    ensure_stock_redis();
    assert_rdb_round_trip(
        |r| {
            expect(r, &["FUNCTION", "LOAD", LIB], Reply::bulk("mylib"));
            r.cmd(&["SET", "k", "v"]);
        },
        |st| expect(st, &["FCALL_RO", "getter", "1", "k"], Reply::bulk("v")),
        |b| {
            expect(b, &["FCALL", "setter", "1", "k", "w"], Reply::ok());
            let list = b.cmd(&["FUNCTION", "LIST", "WITHCODE"]);
            assert!(format!("{list:?}").contains("reads a key"), "{list:?}");
        },
    );
}

#[test]
fn a_busy_function_is_killed_by_function_kill_only() {
    let server = TestServer::start(&["--busy-reply-threshold", "100"]);
    let mut a = server.raw();
    let mut b = server.raw();
    let spin = "#!lua name=spin\nredis.register_function{function_name='spin', flags={'no-writes'}, \
                callback=function() local f = function() while true do end end while true do pcall(f) end end}";
    expect(&mut b, &["FUNCTION", "LOAD", spin], Reply::bulk("spin"));
    a.send_cmd(&["FCALL", "spin", "0"]);
    assert!(poll_until(
        Duration::from_secs(10),
        Duration::from_millis(20),
        || { b.cmd(&["PING"]).is_error() }
    ));
    expect(
        &mut b,
        &["GET", "x"],
        Reply::err(
            "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.",
        ),
    );
    let stats = b.cmd(&["FUNCTION", "STATS"]);
    assert!(format!("{stats:?}").contains("spin"), "{stats:?}");
    expect(
        &mut b,
        &["SCRIPT", "KILL"],
        Reply::err(
            "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.",
        ),
    );
    // pcall cannot swallow the kill.
    expect(&mut b, &["FUNCTION", "KILL"], Reply::ok());
    let killed = a.read_reply();
    assert!(
        killed.err_text().contains("Script killed by user"),
        "{killed:?}"
    );
    expect(&mut b, &["PING"], Reply::simple("PONG"));
}

#[test]
fn set_repl_keeps_chosen_effects_off_followers() {
    ensure_stock_redis();
    let leader = TestServer::start(&[]);
    let lp = leader.port.to_string();
    let follower = TestServer::start(&["--replicaof", "127.0.0.1", &lp]);
    let stock = TestServer::start_stock(&["--replicaof", "127.0.0.1", &lp]);
    let mut l = leader.raw();
    // Both in sync first: a later full sync would carry the unreplicated keys along.
    l.cmd(&["SET", "ready", "1"]);
    for s in [&follower, &stock] {
        let mut f = s.raw();
        assert!(poll_until(
            Duration::from_secs(20),
            Duration::from_millis(50),
            || f.cmd(&["GET", "ready"]) == Reply::bulk("1")
        ));
    }
    expect(
        &mut l,
        &[
            "EVAL",
            "redis.set_repl(redis.REPL_NONE) redis.call('set', 'local', '1') \
             redis.set_repl(redis.REPL_AOF) redis.call('set', 'aof', '1') \
             redis.set_repl(redis.REPL_ALL) return redis.call('set', 'both', '1')",
            "0",
        ],
        Reply::ok(),
    );
    expect(&mut l, &["GET", "local"], Reply::bulk("1"));
    let err = l.cmd(&["EVAL", "redis.set_repl(8)", "0"]);
    assert!(
        err.err_text().contains("Invalid replication flags"),
        "{err:?}"
    );
    for s in [&follower, &stock] {
        let mut f = s.raw();
        assert!(poll_until(
            Duration::from_secs(20),
            Duration::from_millis(50),
            || f.cmd(&["GET", "both"]) == Reply::bulk("1")
        ));
        assert_eq!(f.cmd(&["GET", "local"]), Reply::Nil, "on {}", s.port);
        assert_eq!(f.cmd(&["GET", "aof"]), Reply::Nil, "on {}", s.port);
    }
}
