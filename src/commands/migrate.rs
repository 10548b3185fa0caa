//! MIGRATE: moves keys to another server (Ferrocache or Redis) as RESTORE commands, and
//! the internal RESTORE-ASKING and ASKING that cluster-mode migrations use.
//!
//! As in Redis the transfer is atomic for this server's other clients: the command holds
//! the write section while it talks to the target, so no write lands between a key's
//! serialisation and its deletion; the command's timeout bounds how long that lasts.
//! Connections are kept per target for [`SOCKET_TTL`] so a migration of many keys one by
//! one (what resharding tools do) does not reconnect each time.

use super::table::{Command, KeyRef, cmd, flags::*, key, key_range};
use super::{CmdError, CmdResult, Ctx, arg_i64, is};
use crate::store::notify::GENERIC;
use bytes::Bytes;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Cached connections are closed after this long unused (Redis's 10 seconds).
pub const SOCKET_TTL: Duration = Duration::from_secs(10);
/// At most this many targets keep a cached connection (Redis's 64).
const SOCKET_CACHE_ITEMS: usize = 64;
/// Requests go out in chunks of this size, each with the full timeout (as Redis).
const WRITE_CHUNK: usize = 64 * 1024;
/// Longest reply line read from the target (Redis reads each into a 1 KB buffer).
const MAX_REPLY_LINE: u64 = 1024;

/// MIGRATE family table.
#[rustfmt::skip]
pub fn commands() -> Vec<Command> {
    vec![
        cmd("migrate", -6, WRITE, const { &[key_range(key::RW | key::ACCESS | key::DELETE, 3, 0, 1, 0), key_range(key::RW | key::ACCESS | key::DELETE | key::INCOMPLETE, 0, -1, 1, 0).after_keyword("KEYS", -2)] }, "generic", "2.6.0", "Atomically transfer a key from a Redis instance to another one.", migrate)
            .tips("nondeterministic_output")
            .getkeys(migrate_keys)
            .args("host port:integer key_or_empty_string(key:key|=empty_string:pure-token) destination-db:integer timeout:integer [COPY] [REPLACE] [authentication(AUTH=password|AUTH2=username_password{username password})] [KEYS=key:key...]")
            .acl("keyspace dangerous"),
        cmd("restore-asking", -4, WRITE | DENYOOM | ASKING, const { &[key_range(key::OW | key::UPDATE, 1, 0, 1, 0)] }, "server", "3.0.0", "An internal command for migrating keys in a cluster", super::keys::restore)
            .args("key:key ttl:integer serialized-value:string [REPLACE] [ABSTTL] [IDLETIME=seconds:integer] [FREQ=frequency:integer]")
            .acl("keyspace dangerous"),
        cmd("asking", 1, FAST, &[], "cluster", "3.0.0", "Sent by cluster clients after an -ASK redirect", asking)
            .acl("connection"),
    ]
}

/// A kept connection to a migration target.
pub struct CachedSocket {
    conn: BufReader<TcpStream>,
    /// The database the connection has selected (None: unknown, SELECT next time).
    selected_db: Option<i64>,
    last_use: Instant,
}

/// Connections kept per `host:port`, for INFO's `migrate_cached_sockets` and reuse.
#[derive(Default)]
pub struct SocketCache {
    sockets: parking_lot::Mutex<std::collections::HashMap<String, CachedSocket>>,
}

impl SocketCache {
    /// How many connections are kept now.
    pub fn len(&self) -> usize {
        self.sockets.lock().len()
    }

    /// Whether no connection is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Closes connections unused for [`SOCKET_TTL`] (run by the cron).
    pub fn close_idle(&self) {
        self.sockets
            .lock()
            .retain(|_, s| s.last_use.elapsed() <= SOCKET_TTL);
    }

    fn take(&self, name: &str) -> Option<CachedSocket> {
        self.sockets.lock().remove(name)
    }

    fn put(&self, name: String, mut socket: CachedSocket) {
        socket.last_use = Instant::now();
        let mut map = self.sockets.lock();
        if map.len() >= SOCKET_CACHE_ITEMS && !map.contains_key(&name) {
            // Too many targets: drop one (Redis drops a random one).
            if let Some(victim) = map.keys().next().cloned() {
                map.remove(&victim);
            }
        }
        map.insert(name, socket);
    }
}

/// MIGRATE's keys (Redis's migrateGetKeys): those after the first KEYS when the key
/// argument is empty, else the key argument.
fn migrate_keys(args: &[Bytes]) -> Option<Vec<KeyRef>> {
    let flags = key::RW | key::ACCESS | key::DELETE;
    let keyword = if args.get(3).is_some_and(|k| k.is_empty()) {
        (6..args.len()).find(|&i| is(&args[i], "keys"))
    } else {
        None
    };
    let positions = match keyword {
        Some(i) => i + 1..args.len(),
        None => 3..4,
    };
    Some(positions.map(|pos| KeyRef { pos, flags }).collect())
}

/// ASKING: only meaningful in cluster mode, which this server does not run.
fn asking(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    Err(CmdError::err("This instance has cluster support disabled"))
}

/// Why a transfer failed on the connection (not a reply from the target).
enum SocketError {
    Connect,
    Write,
    /// Reading a reply failed; `timed_out` tells a timeout from a dropped connection.
    Read {
        timed_out: bool,
    },
}

impl SocketError {
    fn reply(&self) -> CmdError {
        CmdError::Msg(
            match self {
                SocketError::Connect => "IOERR error or timeout connecting to the client",
                SocketError::Write => "IOERR error or timeout writing to target instance",
                SocketError::Read { .. } => "IOERR error or timeout reading to target instance",
            }
            .into(),
        )
    }
}

/// MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH password]
/// [AUTH2 username password] [KEYS key...]
fn migrate(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (mut copy, mut replace) = (false, false);
    let mut auth: Option<(Option<&[u8]>, &[u8])> = None;
    let mut keys: &[Bytes] = &args[3..4];
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let a = &args[j];
        if is(a, "copy") {
            copy = true;
        } else if is(a, "replace") {
            replace = true;
        } else if is(a, "auth") {
            if more < 1 {
                return Err(CmdError::Syntax);
            }
            auth = Some((None, &args[j + 1]));
            j += 1;
        } else if is(a, "auth2") {
            if more < 2 {
                return Err(CmdError::Syntax);
            }
            auth = Some((Some(&args[j + 1]), &args[j + 2]));
            j += 2;
        } else if is(a, "keys") {
            if !args[3].is_empty() {
                return Err(CmdError::err(
                    "When using MIGRATE KEYS option, the key argument must be set to the empty string",
                ));
            }
            keys = &args[j + 1..];
            break;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let timeout = arg_i64(&args[5])?;
    let dbid = arg_i64(&args[4])?;
    let timeout = Duration::from_millis(if timeout <= 0 { 1000 } else { timeout as u64 });

    let db = ctx.db();
    // Serialise now, under the write section: what is sent is what gets deleted.
    let now = crate::base::now_ms();
    let mut request = Vec::new();
    if let Some((user, pass)) = auth {
        match user {
            Some(u) => crate::base::encode_command(&mut request, &[b"AUTH", u, pass]),
            None => crate::base::encode_command(&mut request, &[b"AUTH", pass]),
        }
    }
    let select_at = request.len();
    let (mut found, mut sent) = (0, Vec::with_capacity(keys.len()));
    for k in keys {
        let Some(e) = ctx.lookup(k) else { continue };
        found += 1;
        let ttl = match e.expire_at {
            0 => 0,
            at if at < now => continue,
            at => (at - now).max(1),
        };
        let payload = crate::server::persistence::dump(&e.value);
        let ttl = ttl.to_string();
        let mut cmd: Vec<&[u8]> = vec![b"RESTORE", k, ttl.as_bytes(), &payload];
        if replace {
            cmd.push(b"REPLACE");
        }
        crate::base::encode_command(&mut request, &cmd);
        sent.push(k);
    }
    if found == 0 {
        // Often a key that just expired: not an error.
        ctx.out.simple("NOKEY");
        return Ok(());
    }

    let name = format!(
        "{}:{}",
        String::from_utf8_lossy(&args[1]),
        String::from_utf8_lossy(&args[2])
    );
    let cache = &ctx.srv.migrate_sockets;
    let mut retried = false;
    let outcome = loop {
        let attempt = crate::base::block_in_place(|| {
            let mut socket = match cache.take(&name) {
                Some(s) => s,
                None => connect(&args[1], &args[2], timeout)?,
            };
            let result = transfer(
                &mut socket,
                &request,
                select_at,
                auth.is_some(),
                dbid,
                sent.len(),
                timeout,
            );
            Ok((socket, result))
        });
        match attempt {
            Err(e) => break Err(e),
            Ok((socket, Ok(replies))) => break Ok((socket, replies)),
            // A kept connection the target closed: reconnect once, unless it timed out
            // or some reply already arrived (then keys may have been restored).
            Ok((_, Err((e, answered)))) => {
                let retry = !retried
                    && answered == 0
                    && !matches!(e, SocketError::Read { timed_out: true });
                if !retry {
                    break Err(e);
                }
                retried = true;
            }
        }
    };
    let (mut socket, replies) = match outcome {
        Ok(v) => v,
        Err(e) => return Err(e.reply()),
    };

    // The first error line the target sent (AUTH, SELECT or a RESTORE) is the reply;
    // every key whose RESTORE succeeded is deleted here unless COPY.
    let mut first_error = replies.auth.filter(|l| l.starts_with('-'));
    first_error = first_error.or(replies.select.filter(|l| l.starts_with('-')));
    // A refused AUTH or SELECT means no RESTORE ran where it was meant to.
    let auth_or_select_failed = first_error.is_some();
    let mut deleted: Vec<&[u8]> = vec![b"DEL"];
    let t = ctx.w()?;
    for (k, line) in sent.iter().zip(&replies.restores) {
        if first_error.is_none() && line.starts_with('-') {
            first_error = Some(line.clone());
        }
        let ok = !line.starts_with('-') && !auth_or_select_failed;
        if ok && !copy && t.remove(db, k).is_some() {
            t.notify(GENERIC, "del", db, k);
            deleted.push(k);
        }
    }
    if deleted.len() > 1 {
        t.propagate(db, &deleted);
    }
    let answered_all = replies.restores.len() == sent.len();
    match first_error {
        Some(line) => {
            // A connection that failed mid-way is dropped; one that answered is kept.
            if answered_all {
                socket.selected_db = None;
                cache.put(name, socket);
            }
            Err(CmdError::Msg(format!(
                "ERR Target instance replied with error: {}",
                &line[1..]
            )))
        }
        None if !answered_all => Err(SocketError::Read { timed_out: false }.reply()),
        None => {
            socket.selected_db = Some(dbid);
            cache.put(name, socket);
            ctx.out.ok();
            Ok(())
        }
    }
}

/// The target's reply lines, in request order.
struct Replies {
    auth: Option<String>,
    select: Option<String>,
    restores: Vec<String>,
}

/// Sends the request (with a SELECT when the connection is on another database) and
/// reads one line per command. On a failure mid-way, the replies read so far come back
/// with the error only through the count (`answered`).
fn transfer(
    socket: &mut CachedSocket,
    request: &[u8],
    select_at: usize,
    authenticating: bool,
    dbid: i64,
    restores: usize,
    timeout: Duration,
) -> Result<Replies, (SocketError, usize)> {
    let select = socket.selected_db != Some(dbid);
    let mut out = Vec::with_capacity(request.len() + 32);
    out.extend_from_slice(&request[..select_at]);
    if select {
        crate::base::encode_command(
            &mut out,
            &[b"SELECT".as_slice(), dbid.to_string().as_bytes()],
        );
    }
    out.extend_from_slice(&request[select_at..]);
    let stream = socket.conn.get_mut();
    let _ = stream.set_write_timeout(Some(timeout));
    let _ = stream.set_read_timeout(Some(timeout));
    for chunk in out.chunks(WRITE_CHUNK) {
        if stream.write_all(chunk).is_err() {
            return Err((SocketError::Write, 0));
        }
    }
    let mut read_line = |answered: usize| -> Result<String, (SocketError, usize)> {
        let mut line = Vec::new();
        match (&mut socket.conn)
            .take(MAX_REPLY_LINE)
            .read_until(b'\n', &mut line)
        {
            Ok(n) if n > 0 && line.ends_with(b"\n") => {
                let s = String::from_utf8_lossy(&line);
                Ok(s.trim_end_matches(['\r', '\n']).to_string())
            }
            Ok(_) => Err((SocketError::Read { timed_out: false }, answered)),
            Err(e) => {
                let timed_out = matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                );
                Err((SocketError::Read { timed_out }, answered))
            }
        }
    };
    let auth = if authenticating {
        Some(read_line(0)?)
    } else {
        None
    };
    let select = if select { Some(read_line(0)?) } else { None };
    let mut lines = Vec::with_capacity(restores);
    for i in 0..restores {
        match read_line(i) {
            Ok(l) => lines.push(l),
            Err(e) if i == 0 => return Err(e),
            // Some RESTOREs were answered: what they did stands; the rest is an IOERR.
            Err(_) => break,
        }
    }
    Ok(Replies {
        auth,
        select,
        restores: lines,
    })
}

/// Opens a connection to `host:port` within `timeout` (any resolved address). As with
/// Redis's non-blocking connect, a refused connection only shows when the request is
/// written; a name that does not resolve or a timeout is a connect error.
fn connect(host: &[u8], port: &[u8], timeout: Duration) -> Result<CachedSocket, SocketError> {
    let host = std::str::from_utf8(host).map_err(|_| SocketError::Connect)?;
    let port: u16 = std::str::from_utf8(port)
        .ok()
        .and_then(|p| p.parse().ok())
        .ok_or(SocketError::Write)?;
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(|_| SocketError::Connect)?;
    let mut failure = SocketError::Connect;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                return Ok(CachedSocket {
                    conn: BufReader::new(stream),
                    selected_db: None,
                    last_use: Instant::now(),
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => failure = SocketError::Connect,
            Err(_) => failure = SocketError::Write,
        }
    }
    Err(failure)
}
