//! Publish/subscribe in RESP2 and RESP3.

mod common;

use common::{RawConn, Reply, TestServer, encode_cmd, poll_until};
use std::time::Duration;

const T: Duration = Duration::from_secs(5);

fn msg(channel: &str, payload: &str) -> Reply {
    Reply::bulks(&["message", channel, payload])
}

fn pmsg(pattern: &str, channel: &str, payload: &str) -> Reply {
    Reply::bulks(&["pmessage", pattern, channel, payload])
}

fn ack(kind: &str, name: Option<&str>, count: i64) -> Reply {
    Reply::arr(vec![
        Reply::bulk(kind),
        name.map(Reply::bulk).unwrap_or(Reply::Nil),
        Reply::int(count),
    ])
}

fn subscribe(r: &mut RawConn, cmd: &str, names: &[&str]) {
    let mut args = vec![cmd];
    args.extend_from_slice(names);
    r.send_cmd(&args);
    for (i, n) in names.iter().enumerate() {
        let reply = r.read_reply();
        let items = reply.as_array();
        assert_eq!(items[0].as_string(), cmd.to_lowercase());
        assert_eq!(items[1].as_string(), *n);
        assert!(items[2].as_int() > i as i64 - 1);
    }
}

#[test]
fn subscribe_confirmations() {
    let s = TestServer::start(&[]);
    let mut sub = s.raw();
    sub.send_cmd(&["SUBSCRIBE", "c1", "c2"]);
    assert_eq!(sub.read_reply(), ack("subscribe", Some("c1"), 1));
    assert_eq!(sub.read_reply(), ack("subscribe", Some("c2"), 2));
    // Subscribing again to the same channel does not increase the count.
    sub.send_cmd(&["SUBSCRIBE", "c1"]);
    assert_eq!(sub.read_reply(), ack("subscribe", Some("c1"), 2));
    sub.send_cmd(&["PSUBSCRIBE", "p*"]);
    assert_eq!(sub.read_reply(), ack("psubscribe", Some("p*"), 3));
}

#[test]
fn publish_and_receive() {
    let s = TestServer::start(&[]);
    let mut sub = s.raw();
    let mut p = s.raw();
    subscribe(&mut sub, "SUBSCRIBE", &["c1", "c2"]);
    assert_eq!(p.cmd(&["PUBLISH", "c1", "hello"]), Reply::int(1));
    assert_eq!(p.cmd(&["PUBLISH", "c2", "world"]), Reply::int(1));
    assert_eq!(p.cmd(&["PUBLISH", "c3", "nobody"]), Reply::int(0));
    assert_eq!(sub.read_reply(), msg("c1", "hello"));
    assert_eq!(sub.read_reply(), msg("c2", "world"));
    assert_eq!(
        sub.try_read_reply(Duration::from_millis(100)),
        Err(common::ReadErr::Timeout)
    );
}

#[test]
fn publish_exact_resp2_bytes() {
    let s = TestServer::start(&[]);
    let mut sub = s.raw();
    let mut p = s.raw();
    subscribe(&mut sub, "SUBSCRIBE", &["c1"]);
    p.cmd(&["PUBLISH", "c1", "hi"]);
    let expected = b"*3\r\n$7\r\nmessage\r\n$2\r\nc1\r\n$2\r\nhi\r\n";
    assert_eq!(sub.read_bytes(expected.len(), T).unwrap(), expected);
}

#[test]
fn publish_counts_all_receivers() {
    let s = TestServer::start(&[]);
    let mut a = s.raw();
    let mut b = s.raw();
    let mut c = s.raw();
    let mut p = s.raw();
    subscribe(&mut a, "SUBSCRIBE", &["news"]);
    subscribe(&mut b, "SUBSCRIBE", &["news"]);
    subscribe(&mut c, "PSUBSCRIBE", &["n*"]);
    assert_eq!(p.cmd(&["PUBLISH", "news", "x"]), Reply::int(3));
    assert_eq!(a.read_reply(), msg("news", "x"));
    assert_eq!(b.read_reply(), msg("news", "x"));
    assert_eq!(c.read_reply(), pmsg("n*", "news", "x"));
}

#[test]
fn channel_and_pattern_on_same_client_both_deliver() {
    let s = TestServer::start(&[]);
    let mut sub = s.raw();
    let mut p = s.raw();
    subscribe(&mut sub, "SUBSCRIBE", &["news"]);
    subscribe(&mut sub, "PSUBSCRIBE", &["ne*", "*s"]);
    assert_eq!(p.cmd(&["PUBLISH", "news", "x"]), Reply::int(3));
    let mut got = vec![sub.read_reply(), sub.read_reply(), sub.read_reply()];
    got.sort_by_key(|r| format!("{r:?}"));
    let mut want = vec![
        msg("news", "x"),
        pmsg("ne*", "news", "x"),
        pmsg("*s", "news", "x"),
    ];
    want.sort_by_key(|r| format!("{r:?}"));
    assert_eq!(got, want);
}

#[test]
fn psubscribe_pattern_matching() {
    let s = TestServer::start(&[]);
    let mut sub = s.raw();
    let mut p = s.raw();
    subscribe(&mut sub, "PSUBSCRIBE", &["h?llo", "a[bc]d"]);
    assert_eq!(p.cmd(&["PUBLISH", "hello", "1"]), Reply::int(1));
    assert_eq!(p.cmd(&["PUBLISH", "hllo", "2"]), Reply::int(0));
    assert_eq!(p.cmd(&["PUBLISH", "acd", "3"]), Reply::int(1));
    assert_eq!(p.cmd(&["PUBLISH", "aed", "4"]), Reply::int(0));
    assert_eq!(sub.read_reply(), pmsg("h?llo", "hello", "1"));
    assert_eq!(sub.read_reply(), pmsg("a[bc]d", "acd", "3"));
}

#[test]
fn unsubscribe_specific_and_all() {
    let s = TestServer::start(&[]);
    let mut sub = s.raw();
    let mut p = s.raw();
    subscribe(&mut sub, "SUBSCRIBE", &["a", "b", "c"]);
    sub.send_cmd(&["UNSUBSCRIBE", "b"]);
    assert_eq!(sub.read_reply(), ack("unsubscribe", Some("b"), 2));
    assert_eq!(p.cmd(&["PUBLISH", "b", "x"]), Reply::int(0));
    // Unsubscribing from a channel we are not in still acks.
    sub.send_cmd(&["UNSUBSCRIBE", "zzz"]);
    assert_eq!(sub.read_reply(), ack("unsubscribe", Some("zzz"), 2));
    sub.send_cmd(&["UNSUBSCRIBE"]);
    let mut names = vec![];
    for expected_count in [1, 0] {
        let reply = sub.read_reply();
        let items = reply.as_array();
        assert_eq!(items[0].as_string(), "unsubscribe");
        names.push(items[1].as_string());
        assert_eq!(items[2], Reply::int(expected_count));
    }
    names.sort();
    assert_eq!(names, vec!["a", "c"]);
    // Back to normal mode.
    assert_eq!(sub.cmd(&["SET", "k", "v"]), Reply::ok());
}

#[test]
fn unsubscribe_when_not_subscribed() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.cmd(&["UNSUBSCRIBE"]), ack("unsubscribe", None, 0));
    assert_eq!(r.cmd(&["PUNSUBSCRIBE"]), ack("punsubscribe", None, 0));
}

#[test]
fn punsubscribe() {
    let s = TestServer::start(&[]);
    let mut sub = s.raw();
    let mut p = s.raw();
    subscribe(&mut sub, "SUBSCRIBE", &["chan"]);
    subscribe(&mut sub, "PSUBSCRIBE", &["p1*", "p2*"]);
    sub.send_cmd(&["PUNSUBSCRIBE", "p1*"]);
    assert_eq!(sub.read_reply(), ack("punsubscribe", Some("p1*"), 2));
    assert_eq!(p.cmd(&["PUBLISH", "p1x", "m"]), Reply::int(0));
    sub.send_cmd(&["PUNSUBSCRIBE"]);
    assert_eq!(sub.read_reply(), ack("punsubscribe", Some("p2*"), 1));
    // Still subscribed to "chan": restricted mode persists.
    assert!(sub.cmd(&["GET", "k"]).is_error());
}

#[test]
fn pubsub_channels_numsub_numpat() {
    let s = TestServer::start(&[]);
    let mut a = s.raw();
    let mut b = s.raw();
    let mut q = s.raw();
    assert_eq!(q.cmd(&["PUBSUB", "CHANNELS"]), Reply::arr(vec![]));
    assert_eq!(q.cmd(&["PUBSUB", "NUMPAT"]), Reply::int(0));
    subscribe(&mut a, "SUBSCRIBE", &["news.tech", "news.art", "sport"]);
    subscribe(&mut b, "SUBSCRIBE", &["news.tech"]);
    subscribe(&mut b, "PSUBSCRIBE", &["x*", "y*"]);
    subscribe(&mut a, "PSUBSCRIBE", &["x*"]);
    let mut chans = q.cmd(&["PUBSUB", "CHANNELS"]).strings();
    chans.sort();
    assert_eq!(chans, vec!["news.art", "news.tech", "sport"]);
    let mut chans = q.cmd(&["PUBSUB", "CHANNELS", "news.*"]).strings();
    chans.sort();
    assert_eq!(chans, vec!["news.art", "news.tech"]);
    assert_eq!(
        q.cmd(&["PUBSUB", "NUMSUB", "news.tech", "sport", "none"]),
        Reply::arr(vec![
            Reply::bulk("news.tech"),
            Reply::int(2),
            Reply::bulk("sport"),
            Reply::int(1),
            Reply::bulk("none"),
            Reply::int(0),
        ])
    );
    assert_eq!(q.cmd(&["PUBSUB", "NUMSUB"]), Reply::arr(vec![]));
    // NUMPAT counts unique patterns.
    assert_eq!(q.cmd(&["PUBSUB", "NUMPAT"]), Reply::int(2));
    assert_eq!(
        q.cmd(&["PUBSUB", "FOO"]),
        Reply::err("ERR unknown subcommand 'FOO'. Try PUBSUB HELP.")
    );
}

#[test]
fn disconnect_removes_subscriptions() {
    let s = TestServer::start(&[]);
    let mut q = s.raw();
    {
        let mut a = s.raw();
        subscribe(&mut a, "SUBSCRIBE", &["gone"]);
        assert_eq!(
            q.cmd(&["PUBSUB", "NUMSUB", "gone"]),
            Reply::arr(vec![Reply::bulk("gone"), Reply::int(1)])
        );
    }
    let ok = poll_until(T, Duration::from_millis(10), || {
        q.cmd(&["PUBSUB", "NUMSUB", "gone"]) == Reply::arr(vec![Reply::bulk("gone"), Reply::int(0)])
    });
    assert!(ok);
    assert_eq!(q.cmd(&["PUBLISH", "gone", "x"]), Reply::int(0));
}

#[test]
fn resp2_subscribed_mode_rejects_commands() {
    let s = TestServer::start(&[]);
    let mut sub = s.raw();
    subscribe(&mut sub, "SUBSCRIBE", &["c"]);
    assert_eq!(
        sub.cmd(&["GET", "a"]),
        Reply::err(
            "ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / \
             PING / QUIT / RESET are allowed in this context"
        )
    );
    assert_eq!(
        sub.cmd(&["set", "a", "b"]),
        Reply::err(
            "ERR Can't execute 'set': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / \
             PING / QUIT / RESET are allowed in this context"
        )
    );
}

#[test]
fn resp2_subscribed_mode_ping() {
    let s = TestServer::start(&[]);
    let mut sub = s.raw();
    subscribe(&mut sub, "SUBSCRIBE", &["c"]);
    assert_eq!(sub.cmd(&["PING"]), Reply::bulks(&["pong", ""]));
    assert_eq!(sub.cmd(&["PING", "hey"]), Reply::bulks(&["pong", "hey"]));
}

#[test]
fn subscribe_arity() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    assert_eq!(
        r.cmd(&["SUBSCRIBE"]),
        Reply::err("ERR wrong number of arguments for 'subscribe' command")
    );
    assert_eq!(
        r.cmd(&["PUBLISH", "c"]),
        Reply::err("ERR wrong number of arguments for 'publish' command")
    );
}

#[test]
fn resp3_push_frames() {
    let s = TestServer::start(&[]);
    let mut sub = s.raw();
    let mut p = s.raw();
    sub.cmd(&["HELLO", "3"]);
    sub.send_cmd(&["SUBSCRIBE", "c1"]);
    let confirm = b">3\r\n$9\r\nsubscribe\r\n$2\r\nc1\r\n:1\r\n";
    assert_eq!(sub.read_bytes(confirm.len(), T).unwrap(), confirm);
    assert_eq!(p.cmd(&["PUBLISH", "c1", "hi"]), Reply::int(1));
    let expected = b">3\r\n$7\r\nmessage\r\n$2\r\nc1\r\n$2\r\nhi\r\n";
    assert_eq!(sub.read_bytes(expected.len(), T).unwrap(), expected);
}

#[test]
fn resp3_commands_work_while_subscribed() {
    let s = TestServer::start(&[]);
    let mut sub = s.raw();
    let mut p = s.raw();
    sub.cmd(&["HELLO", "3"]);
    sub.send_cmd(&["SUBSCRIBE", "c1"]);
    assert_eq!(
        sub.read_reply(),
        Reply::Push(vec![
            Reply::bulk("subscribe"),
            Reply::bulk("c1"),
            Reply::int(1)
        ])
    );
    assert_eq!(sub.cmd(&["SET", "a", "1"]), Reply::ok());
    assert_eq!(sub.cmd(&["GET", "a"]), Reply::bulk("1"));
    assert_eq!(sub.cmd(&["PING"]), Reply::simple("PONG"));
    p.cmd(&["PUBLISH", "c1", "m1"]);
    assert_eq!(
        sub.read_reply(),
        Reply::Push(vec![
            Reply::bulk("message"),
            Reply::bulk("c1"),
            Reply::bulk("m1")
        ])
    );
    assert_eq!(sub.cmd(&["GET", "missing"]), Reply::Nil);
}

#[test]
fn resp3_pmessage_push() {
    let s = TestServer::start(&[]);
    let mut sub = s.raw();
    let mut p = s.raw();
    sub.cmd(&["HELLO", "3"]);
    sub.send_cmd(&["PSUBSCRIBE", "n*"]);
    assert_eq!(
        sub.read_reply(),
        Reply::Push(vec![
            Reply::bulk("psubscribe"),
            Reply::bulk("n*"),
            Reply::int(1)
        ])
    );
    p.cmd(&["PUBLISH", "news", "x"]);
    assert_eq!(
        sub.read_reply(),
        Reply::Push(vec![
            Reply::bulk("pmessage"),
            Reply::bulk("n*"),
            Reply::bulk("news"),
            Reply::bulk("x")
        ])
    );
}

#[test]
fn resp3_publish_to_self_push_before_reply() {
    let s = TestServer::start(&[]);
    let mut sub = s.raw();
    sub.cmd(&["HELLO", "3"]);
    sub.send_cmd(&["SUBSCRIBE", "me"]);
    sub.read_reply();
    sub.send_cmd(&["PUBLISH", "me", "self"]);
    assert_eq!(
        sub.read_reply(),
        Reply::Push(vec![
            Reply::bulk("message"),
            Reply::bulk("me"),
            Reply::bulk("self")
        ])
    );
    assert_eq!(sub.read_reply(), Reply::int(1));
}

#[test]
fn binary_payload_and_ordering() {
    let s = TestServer::start(&[]);
    let mut sub = s.raw();
    let mut p = s.raw();
    subscribe(&mut sub, "SUBSCRIBE", &["bin"]);
    let payload: Vec<u8> = (0..=255u8).collect();
    assert_eq!(
        p.cmd(&[b"PUBLISH".as_slice(), b"bin", &payload]),
        Reply::int(1)
    );
    let reply = sub.read_reply();
    assert_eq!(reply.as_array()[2], Reply::Bulk(payload));
    let mut buf = Vec::new();
    for i in 0..200 {
        buf.extend(encode_cmd(&["PUBLISH", "bin", &i.to_string()]));
    }
    p.send(&buf);
    for _ in 0..200 {
        assert_eq!(p.read_reply(), Reply::int(1));
    }
    for i in 0..200 {
        assert_eq!(sub.read_reply(), msg("bin", &i.to_string()));
    }
}

#[test]
fn pubsub_via_redis_client() {
    let s = TestServer::start(&[]);
    let mut c = s.client();
    let mut publisher = s.client();
    let mut ps = c.as_pubsub();
    ps.set_read_timeout(Some(T)).unwrap();
    ps.subscribe("rc").unwrap();
    let n: i64 = redis::cmd("PUBLISH")
        .arg("rc")
        .arg("payload")
        .query(&mut publisher)
        .unwrap();
    assert_eq!(n, 1);
    let m = ps.get_message().unwrap();
    assert_eq!(m.get_channel_name(), "rc");
    let body: String = m.get_payload().unwrap();
    assert_eq!(body, "payload");
}

fn smsg(channel: &str, payload: &str) -> Reply {
    Reply::bulks(&["smessage", channel, payload])
}

#[test]
fn shard_channels_are_their_own_namespace() {
    let s = TestServer::start(&[]);
    let mut sub = s.raw();
    let mut p = s.raw();
    sub.send_cmd(&["SSUBSCRIBE", "a", "b"]);
    assert_eq!(sub.read_reply(), ack("ssubscribe", Some("a"), 1));
    assert_eq!(sub.read_reply(), ack("ssubscribe", Some("b"), 2));
    // Channels and patterns count apart from shard channels, as stock counts them.
    sub.send_cmd(&["SUBSCRIBE", "c"]);
    assert_eq!(sub.read_reply(), ack("subscribe", Some("c"), 1));
    sub.send_cmd(&["PSUBSCRIBE", "*"]);
    assert_eq!(sub.read_reply(), ack("psubscribe", Some("*"), 2));
    sub.send_cmd(&["SSUBSCRIBE", "a"]);
    assert_eq!(sub.read_reply(), ack("ssubscribe", Some("a"), 2));

    // SPUBLISH reaches shard subscribers only; patterns never see it.
    assert_eq!(p.cmd(&["SPUBLISH", "a", "hi"]), Reply::int(1));
    assert_eq!(sub.read_reply(), smsg("a", "hi"));
    assert_eq!(p.cmd(&["SPUBLISH", "c", "x"]), Reply::int(0));
    // PUBLISH to a shard channel's name reaches the pattern only.
    assert_eq!(p.cmd(&["PUBLISH", "a", "y"]), Reply::int(1));
    assert_eq!(sub.read_reply(), pmsg("*", "a", "y"));
    assert_eq!(p.cmd(&["PUBLISH", "c", "z"]), Reply::int(2));
    assert_eq!(sub.read_reply(), msg("c", "z"));
    assert_eq!(sub.read_reply(), pmsg("*", "c", "z"));

    let mut shard = p.cmd(&["PUBSUB", "SHARDCHANNELS"]).strings();
    shard.sort();
    assert_eq!(shard, ["a", "b"]);
    assert_eq!(
        p.cmd(&["PUBSUB", "SHARDCHANNELS", "a*"]),
        Reply::bulks(&["a"])
    );
    assert_eq!(
        p.cmd(&["PUBSUB", "SHARDNUMSUB", "a", "z"]),
        Reply::arr(vec![
            Reply::bulk("a"),
            Reply::int(1),
            Reply::bulk("z"),
            Reply::int(0)
        ])
    );
    assert_eq!(p.cmd(&["PUBSUB", "SHARDNUMSUB"]), Reply::arr(vec![]));
    assert_eq!(p.cmd(&["PUBSUB", "CHANNELS"]), Reply::bulks(&["c"]));
    assert_eq!(
        p.cmd(&["PUBSUB", "NUMSUB", "a"]),
        Reply::arr(vec![Reply::bulk("a"), Reply::int(0)])
    );
    assert_eq!(
        p.cmd(&["PUBSUB", "SHARDCHANNELS", "a", "b"]).err_text(),
        "ERR unknown subcommand or wrong number of arguments for 'SHARDCHANNELS'. Try PUBSUB HELP."
    );
    let info = p.cmd(&["INFO", "stats"]).as_string();
    assert!(info.contains("pubsubshard_channels:2\r\n"), "{info}");
    let list = p.cmd(&["CLIENT", "LIST"]).as_string();
    assert!(
        list.lines().any(|l| l.contains(" sub=1 psub=1 ssub=2 ")),
        "{list}"
    );

    sub.send_cmd(&["SUNSUBSCRIBE", "a"]);
    assert_eq!(sub.read_reply(), ack("sunsubscribe", Some("a"), 1));
    sub.send_cmd(&["SUNSUBSCRIBE"]);
    assert_eq!(sub.read_reply(), ack("sunsubscribe", Some("b"), 0));
    sub.send_cmd(&["SUNSUBSCRIBE"]);
    assert_eq!(sub.read_reply(), ack("sunsubscribe", None, 0));
    assert_eq!(p.cmd(&["PUBSUB", "SHARDCHANNELS"]), Reply::arr(vec![]));
    // Still subscribed to a channel and a pattern.
    sub.send_cmd(&["UNSUBSCRIBE"]);
    assert_eq!(sub.read_reply(), ack("unsubscribe", Some("c"), 1));
    sub.send_cmd(&["PUNSUBSCRIBE"]);
    assert_eq!(sub.read_reply(), ack("punsubscribe", Some("*"), 0));
    assert_eq!(sub.cmd(&["GET", "k"]), Reply::Nil);
}

#[test]
fn shard_subscription_alone_enters_resp2_subscribed_mode() {
    let s = TestServer::start(&[]);
    let mut sub = s.raw();
    sub.send_cmd(&["SSUBSCRIBE", "x"]);
    assert_eq!(sub.read_reply(), ack("ssubscribe", Some("x"), 1));
    assert_eq!(
        sub.cmd(&["GET", "k"]).err_text(),
        "ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
    );
    assert_eq!(sub.cmd(&["PING"]), Reply::bulks(&["pong", ""]));
    // Unsubscribing from plain channels leaves the shard subscription (count 0 is the
    // count of channels and patterns).
    sub.send_cmd(&["UNSUBSCRIBE"]);
    assert_eq!(sub.read_reply(), ack("unsubscribe", None, 0));
    assert!(sub.cmd(&["GET", "k"]).is_error());
    sub.send_cmd(&["SUNSUBSCRIBE", "x"]);
    assert_eq!(sub.read_reply(), ack("sunsubscribe", Some("x"), 0));
    assert_eq!(sub.cmd(&["GET", "k"]), Reply::Nil);
    // RESET drops shard subscriptions too.
    sub.send_cmd(&["SSUBSCRIBE", "y"]);
    assert_eq!(sub.read_reply(), ack("ssubscribe", Some("y"), 1));
    assert_eq!(sub.cmd(&["RESET"]), Reply::simple("RESET"));
    let mut p = s.raw();
    assert_eq!(p.cmd(&["SPUBLISH", "y", "m"]), Reply::int(0));
    assert_eq!(
        sub.cmd(&["SSUBSCRIBE"]).err_text(),
        "ERR wrong number of arguments for 'ssubscribe' command"
    );
    assert_eq!(
        sub.cmd(&["SPUBLISH", "y"]).err_text(),
        "ERR wrong number of arguments for 'spublish' command"
    );
}

#[test]
fn resp3_smessage_push_and_ssubscribe_refused_in_exec() {
    let s = TestServer::start(&[]);
    let mut sub = s.raw();
    let mut p = s.raw();
    sub.cmd(&["HELLO", "3"]);
    sub.send_cmd(&["SSUBSCRIBE", "c1"]);
    let confirm = b">3\r\n$10\r\nssubscribe\r\n$2\r\nc1\r\n:1\r\n";
    assert_eq!(sub.read_bytes(confirm.len(), T).unwrap(), confirm);
    assert_eq!(p.cmd(&["SPUBLISH", "c1", "hi"]), Reply::int(1));
    let expected = b">3\r\n$8\r\nsmessage\r\n$2\r\nc1\r\n$2\r\nhi\r\n";
    assert_eq!(sub.read_bytes(expected.len(), T).unwrap(), expected);
    // Publishing to its own shard channel: the push comes before the count.
    sub.send_cmd(&["SPUBLISH", "c1", "me"]);
    let expected = b">3\r\n$8\r\nsmessage\r\n$2\r\nc1\r\n$2\r\nme\r\n:1\r\n";
    assert_eq!(sub.read_bytes(expected.len(), T).unwrap(), expected);

    // Inside EXEC stock marks the client DENY_BLOCKING: SSUBSCRIBE is refused there.
    assert_eq!(p.cmd(&["MULTI"]), Reply::ok());
    assert_eq!(p.cmd(&["SSUBSCRIBE", "c2"]), Reply::simple("QUEUED"));
    assert_eq!(
        p.cmd(&["EXEC"]),
        Reply::arr(vec![Reply::err(
            "ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client"
        )])
    );
    assert_eq!(p.cmd(&["GET", "k"]), Reply::Nil);
}

#[test]
fn shard_channels_obey_acl_channel_rules() {
    let s = TestServer::start(&[]);
    let mut admin = s.raw();
    assert_eq!(
        admin.cmd(&[
            "ACL",
            "SETUSER",
            "app",
            "on",
            "nopass",
            "+@all",
            "~*",
            "resetchannels",
            "&news.*"
        ]),
        Reply::ok()
    );
    let mut app = s.raw();
    assert_eq!(app.cmd(&["AUTH", "app", "x"]), Reply::ok());
    assert_eq!(app.cmd(&["SPUBLISH", "news.eu", "x"]), Reply::int(0));
    let denied =
        "NOPERM this user has no permissions to access one of the channels used as arguments";
    assert_eq!(app.cmd(&["SPUBLISH", "sport", "x"]).err_text(), denied);
    assert_eq!(
        app.cmd(&["SSUBSCRIBE", "news.eu", "sport"]).err_text(),
        denied
    );
    // SUNSUBSCRIBE needs no channel permission, as stock.
    app.send_cmd(&["SUNSUBSCRIBE", "sport"]);
    assert_eq!(app.read_reply(), ack("sunsubscribe", Some("sport"), 0));
    // A shard subscriber whose channel a rule change revokes is disconnected.
    app.send_cmd(&["SSUBSCRIBE", "news.eu"]);
    assert_eq!(app.read_reply(), ack("ssubscribe", Some("news.eu"), 1));
    assert_eq!(
        admin.cmd(&["ACL", "SETUSER", "app", "resetchannels", "&other"]),
        Reply::ok()
    );
    assert!(app.wait_closed(T));
}
