//! RESP2/RESP3 protocol behaviour, inline commands, pipelining, COMMAND.

mod common;

use common::{Reply, TestServer, encode_cmd};
use std::time::Duration;

const T: Duration = Duration::from_secs(5);

#[test]
fn resp2_simple_string_and_bulk() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    r.send(&encode_cmd(&["SET", "k", "hello"]));
    assert_eq!(r.read_bytes(5, T).unwrap(), b"+OK\r\n");
    r.send(&encode_cmd(&["GET", "k"]));
    assert_eq!(r.read_bytes(11, T).unwrap(), b"$5\r\nhello\r\n");
}

#[test]
fn resp2_nil_bulk_encoding() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    r.send(&encode_cmd(&["GET", "missing"]));
    assert_eq!(r.read_bytes(5, T).unwrap(), b"$-1\r\n");
}

#[test]
fn resp2_integer_and_empty_array() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    r.send(&encode_cmd(&["INCR", "n"]));
    assert_eq!(r.read_bytes(4, T).unwrap(), b":1\r\n");
    r.send(&encode_cmd(&["KEYS", "nomatch*"]));
    assert_eq!(r.read_bytes(4, T).unwrap(), b"*0\r\n");
}

#[test]
fn resp2_array_of_bulks_with_nil() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.cmd(&["SET", "a", "1"]), Reply::ok());
    r.send(&encode_cmd(&["MGET", "a", "b"]));
    assert_eq!(r.read_bytes(16, T).unwrap(), b"*2\r\n$1\r\n1\r\n$-1\r\n");
}

#[test]
fn commands_are_case_insensitive() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.cmd(&["pInG"]), Reply::simple("PONG"));
    assert_eq!(r.cmd(&["set", "k", "v"]), Reply::ok());
    assert_eq!(r.cmd(&["GeT", "k"]), Reply::bulk("v"));
}

#[test]
fn ping_with_argument_returns_bulk() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.cmd(&["PING", "hello"]), Reply::bulk("hello"));
    assert_eq!(
        r.cmd(&["PING", "a", "b"]),
        Reply::err("ERR wrong number of arguments for 'ping' command")
    );
}

#[test]
fn hello3_reply_map_fields() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    let reply = r.cmd(&["HELLO", "3"]);
    assert!(
        matches!(reply, Reply::Map(_)),
        "expected RESP3 map: {reply:?}"
    );
    let server = reply.get("server").expect("server field");
    assert!(!server.as_string().is_empty());
    let version = reply.get("version").expect("version field");
    assert!(!version.as_string().is_empty());
    assert_eq!(reply.get("proto"), Some(Reply::Int(3)));
    assert!(matches!(reply.get("id"), Some(Reply::Int(id)) if id > 0));
    assert_eq!(reply.get("mode").unwrap().as_string(), "standalone");
    assert_eq!(reply.get("role").unwrap().as_string(), "master");
    let modules = reply.get("modules").expect("modules field");
    assert!(modules.as_array().is_empty());
}

#[test]
fn hello3_switches_null_encoding() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    r.cmd(&["HELLO", "3"]);
    r.send(&encode_cmd(&["GET", "missing"]));
    assert_eq!(r.read_bytes(3, T).unwrap(), b"_\r\n");
}

#[test]
fn hello3_map_reply_for_config_get() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    r.cmd(&["HELLO", "3"]);
    let reply = r.cmd(&["CONFIG", "GET", "port"]);
    assert!(matches!(reply, Reply::Map(_)), "{reply:?}");
    assert_eq!(reply.get("port").unwrap().as_string(), s.port.to_string());
}

#[test]
fn hello2_returns_flat_array() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    let reply = r.cmd(&["HELLO", "2"]);
    assert!(
        matches!(reply, Reply::Array(_)),
        "expected flat array: {reply:?}"
    );
    assert_eq!(reply.get("proto"), Some(Reply::Int(2)));
    assert_eq!(reply.get("mode").unwrap().as_string(), "standalone");
    assert_eq!(reply.get("role").unwrap().as_string(), "master");
}

#[test]
fn hello3_then_hello2_goes_back() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    r.cmd(&["HELLO", "3"]);
    r.cmd(&["HELLO", "2"]);
    r.send(&encode_cmd(&["GET", "missing"]));
    assert_eq!(r.read_bytes(5, T).unwrap(), b"$-1\r\n");
}

#[test]
fn hello_without_version_reports_current_proto() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    let reply = r.cmd(&["HELLO"]);
    assert_eq!(reply.get("proto"), Some(Reply::Int(2)));
}

#[test]
fn hello_bad_version_noproto() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    assert_eq!(
        r.cmd(&["HELLO", "4"]),
        Reply::err("NOPROTO unsupported protocol version")
    );
    assert_eq!(
        r.cmd(&["HELLO", "1"]),
        Reply::err("NOPROTO unsupported protocol version")
    );
    assert_eq!(
        r.cmd(&["HELLO", "abc"]),
        Reply::err("ERR Protocol version is not an integer or out of range")
    );
    // The connection is still usable and still RESP2.
    r.send(&encode_cmd(&["GET", "missing"]));
    assert_eq!(r.read_bytes(5, T).unwrap(), b"$-1\r\n");
}

#[test]
fn hello_auth_wrong_password() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    assert_eq!(
        r.cmd(&["HELLO", "3", "AUTH", "nosuchuser", "nope"]),
        Reply::err("WRONGPASS invalid username-password pair or user is disabled.")
    );
    // The default user has no password: any password is accepted.
    let ok = r.cmd(&["HELLO", "3", "AUTH", "default", "whatever"]);
    assert_eq!(ok.get("proto"), Some(Reply::Int(3)));
}

#[test]
fn inline_ping() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    r.send(b"PING\r\n");
    assert_eq!(r.read_bytes(7, T).unwrap(), b"+PONG\r\n");
}

#[test]
fn inline_commands_with_quotes_and_lf_only() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    r.send(b"SET k \"hello world\"\r\n");
    assert_eq!(r.read_reply(), Reply::ok());
    r.send(b"GET k\n");
    assert_eq!(r.read_reply(), Reply::bulk("hello world"));
    r.send(b"SET k2 'single quoted'\r\nGET k2\r\n");
    assert_eq!(r.read_reply(), Reply::ok());
    assert_eq!(r.read_reply(), Reply::bulk("single quoted"));
    r.send(b"SET k3 \"a\\x41\\n\"\r\nGET k3\r\n");
    assert_eq!(r.read_reply(), Reply::ok());
    assert_eq!(r.read_reply(), Reply::bulk("aA\n"));
}

#[test]
fn inline_empty_lines_are_ignored() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    r.send(b"\r\n\r\nPING\r\n");
    assert_eq!(r.read_bytes(7, T).unwrap(), b"+PONG\r\n");
}

#[test]
fn inline_and_multibulk_mixed() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    let mut buf = b"SET a 1\r\n".to_vec();
    buf.extend(encode_cmd(&["INCR", "a"]));
    buf.extend_from_slice(b"GET a\r\n");
    r.send(&buf);
    assert_eq!(r.read_reply(), Reply::ok());
    assert_eq!(r.read_reply(), Reply::int(2));
    assert_eq!(r.read_reply(), Reply::bulk("2"));
}

#[test]
fn pipelining_5000_commands_in_one_write() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    let mut buf = Vec::new();
    for _ in 0..5000 {
        buf.extend(encode_cmd(&["INCR", "counter"]));
    }
    r.send(&buf);
    for i in 1..=5000 {
        assert_eq!(r.read_reply(), Reply::int(i));
    }
    assert_eq!(r.cmd(&["GET", "counter"]), Reply::bulk("5000"));
}

#[test]
fn pipelining_mixed_commands_keep_order() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    let mut buf = Vec::new();
    for i in 0..1000 {
        buf.extend(encode_cmd(&["SET", &format!("k{i}"), &format!("v{i}")]));
        buf.extend(encode_cmd(&["GET", &format!("k{i}")]));
    }
    r.send(&buf);
    for i in 0..1000 {
        assert_eq!(r.read_reply(), Reply::ok());
        assert_eq!(r.read_reply(), Reply::bulk(format!("v{i}")));
    }
}

#[test]
fn command_split_across_many_writes() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    let bytes = encode_cmd(&["SET", "split", "value-in-pieces"]);
    for b in &bytes {
        r.send(std::slice::from_ref(b));
    }
    assert_eq!(r.read_reply(), Reply::ok());
    assert_eq!(r.cmd(&["GET", "split"]), Reply::bulk("value-in-pieces"));
}

#[test]
fn binary_safe_keys_and_values_raw() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    let key: Vec<u8> = (0..=255u8).collect();
    let val: Vec<u8> = (0..=255u8).rev().chain(b"\r\n\0".iter().copied()).collect();
    assert_eq!(r.cmd(&[b"SET".as_slice(), &key, &val]), Reply::ok());
    assert_eq!(r.cmd(&[b"GET".as_slice(), &key]), Reply::Bulk(val.clone()));
    assert_eq!(
        r.cmd(&[b"STRLEN".as_slice(), &key]),
        Reply::int(val.len() as i64)
    );
    assert_eq!(r.cmd(&[b"EXISTS".as_slice(), &key]), Reply::int(1));
}

#[test]
fn binary_safe_keys_and_values_client() {
    let s = TestServer::start(&[]);
    let mut c = s.client();
    let key: Vec<u8> = (0..=255u8).collect();
    let val: Vec<u8> = (0..=255u8).rev().collect();
    let _: () = redis::cmd("SET").arg(&key).arg(&val).query(&mut c).unwrap();
    let got: Vec<u8> = redis::cmd("GET").arg(&key).query(&mut c).unwrap();
    assert_eq!(got, val);
    let _: () = redis::cmd("SET").arg("e").arg("").query(&mut c).unwrap();
    let got: Vec<u8> = redis::cmd("GET").arg("e").query(&mut c).unwrap();
    assert!(got.is_empty());
}

#[test]
fn large_value_roundtrip() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    let val: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(r.cmd(&[b"SET".as_slice(), b"big", &val]), Reply::ok());
    assert_eq!(r.cmd(&["GET", "big"]), Reply::Bulk(val));
}

#[test]
fn unknown_command_error_format() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    assert_eq!(
        r.cmd(&["foo", "a", "b"]),
        Reply::err("ERR unknown command 'foo', with args beginning with: 'a' 'b' ")
    );
    assert_eq!(
        r.cmd(&["foo"]),
        Reply::err("ERR unknown command 'foo', with args beginning with: ")
    );
    // Connection remains usable.
    assert_eq!(r.cmd(&["PING"]), Reply::simple("PONG"));
}

#[test]
fn unknown_command_via_client() {
    let s = TestServer::start(&[]);
    let mut c = s.client();
    let e = redis::cmd("FOO")
        .arg("a")
        .arg("b")
        .query::<redis::Value>(&mut c)
        .unwrap_err();
    assert_eq!(
        common::err_text(&e),
        "ERR unknown command 'FOO', with args beginning with: 'a' 'b' "
    );
}

#[test]
fn arity_error_format() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    assert_eq!(
        r.cmd(&["GET"]),
        Reply::err("ERR wrong number of arguments for 'get' command")
    );
    assert_eq!(
        r.cmd(&["get", "a", "b"]),
        Reply::err("ERR wrong number of arguments for 'get' command")
    );
    assert_eq!(
        r.cmd(&["SET", "a"]),
        Reply::err("ERR wrong number of arguments for 'set' command")
    );
    assert_eq!(
        r.cmd(&["MSET", "a", "1", "b"]),
        Reply::err("ERR wrong number of arguments for 'mset' command")
    );
}

#[test]
fn command_count_positive() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    let n = r.cmd(&["COMMAND", "COUNT"]).as_int();
    assert!(n > 0, "COMMAND COUNT = {n}");
}

#[test]
fn command_info_get() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    let reply = r.cmd(&["COMMAND", "INFO", "get"]);
    let items = reply.as_array();
    assert_eq!(items.len(), 1);
    let info = items[0].as_array();
    assert_eq!(info[0].as_string(), "get");
    assert_eq!(info[1], Reply::int(2));
    let flags = info[2].strings();
    assert!(flags.contains(&"readonly".to_string()), "{flags:?}");
    assert_eq!(info[3], Reply::int(1));
    assert_eq!(info[4], Reply::int(1));
    assert_eq!(info[5], Reply::int(1));
}

#[test]
fn command_info_set_and_unknown() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    let reply = r.cmd(&["COMMAND", "INFO", "set", "nosuchcmd"]);
    let items = reply.as_array();
    assert_eq!(items.len(), 2);
    let info = items[0].as_array();
    assert_eq!(info[0].as_string(), "set");
    assert_eq!(info[1], Reply::int(-3));
    assert!(info[2].strings().contains(&"write".to_string()));
    assert_eq!(items[1], Reply::Nil);
}

#[test]
fn command_docs_get_has_summary() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    let reply = r.cmd(&["COMMAND", "DOCS", "get"]);
    let doc = reply.get("get").expect("docs for get");
    let summary = doc.get("summary").expect("summary field");
    assert!(!summary.as_string().is_empty());
}

#[test]
fn command_docs_resp3_is_map() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    r.cmd(&["HELLO", "3"]);
    let reply = r.cmd(&["COMMAND", "DOCS", "get"]);
    assert!(matches!(reply, Reply::Map(_)), "{reply:?}");
    let doc = reply.get("get").unwrap();
    assert!(matches!(doc, Reply::Map(_)), "{doc:?}");
    assert!(doc.get("summary").is_some());
}

#[test]
fn command_getkeys() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    assert_eq!(
        r.cmd(&["COMMAND", "GETKEYS", "set", "a", "b"]),
        Reply::bulks(&["a"])
    );
    assert_eq!(
        r.cmd(&["COMMAND", "GETKEYS", "mset", "a", "1", "b", "2"]),
        Reply::bulks(&["a", "b"])
    );
    assert_eq!(
        r.cmd(&["COMMAND", "GETKEYS", "mget", "x", "y", "z"]),
        Reply::bulks(&["x", "y", "z"])
    );
}

#[test]
fn command_getkeys_errors() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    assert_eq!(
        r.cmd(&["COMMAND", "GETKEYS", "nosuch", "a"]),
        Reply::err("ERR Invalid command specified")
    );
    assert_eq!(
        r.cmd(&["COMMAND", "GETKEYS", "echo", "x"]),
        Reply::err("ERR The command has no key arguments")
    );
}

#[test]
fn command_unknown_subcommand() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    assert_eq!(
        r.cmd(&["COMMAND", "nosuch"]),
        Reply::err("ERR unknown subcommand 'nosuch'. Try COMMAND HELP.")
    );
}

#[test]
fn echo_binary() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    let data: Vec<u8> = (0..=255u8).collect();
    assert_eq!(
        r.cmd(&[b"ECHO".as_slice(), &data]),
        Reply::Bulk(data.clone())
    );
}

#[test]
fn many_connections_concurrently() {
    let s = TestServer::start(&[]);
    let mut conns: Vec<_> = (0..20).map(|_| s.raw()).collect();
    for (i, c) in conns.iter_mut().enumerate() {
        assert_eq!(
            c.cmd(&["SET", &format!("c{i}"), &i.to_string()]),
            Reply::ok()
        );
    }
    for (i, c) in conns.iter_mut().enumerate() {
        assert_eq!(
            c.cmd(&["GET", &format!("c{i}")]),
            Reply::bulk(i.to_string())
        );
    }
}

#[test]
fn command_docs_arguments_drive_redis_cli_hints() {
    // redis-cli builds its argument hints and `help` output from these fields.
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    let reply = r.cmd(&["COMMAND", "DOCS", "set", "config"]);
    let set = reply.get("set").expect("docs for set");
    let args = set.get("arguments").expect("arguments");
    let args = args.as_array();
    assert_eq!(args[0].get("name"), Some(Reply::bulk("key")));
    assert_eq!(args[0].get("type"), Some(Reply::bulk("key")));
    let cond = &args[2];
    assert_eq!(cond.get("type"), Some(Reply::bulk("oneof")));
    let alternatives = cond.get("arguments").unwrap();
    let nx = &alternatives.as_array()[0];
    assert_eq!(nx.get("token"), Some(Reply::bulk("NX")));
    let config = reply.get("config").expect("docs for config");
    let subs = config.get("subcommands").expect("subcommands");
    let get = subs.get("config|get").expect("config|get");
    assert!(get.get("summary").is_some());
    assert!(get.get("arguments").is_some());
}
