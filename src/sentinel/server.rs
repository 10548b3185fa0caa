//! The sentinel's client side: listener and one task per connection (bounded request
//! parsing shared with the server, RESP2/RESP3 replies, pub/sub for events).

use super::Sentinel;
use super::commands::{Ctx, dispatch};
use crate::protocol::{Parsed, ReplyBuf, RequestLimits, RequestParser};
use bytes::{Bytes, BytesMut};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Request limits for sentinel clients (small: sentinel commands are short).
const LIMITS: RequestLimits = RequestLimits {
    max_bulk_len: 1 << 20,
    max_multibulk_len: 1024,
};

/// Query buffer cap per client.
const MAX_QUERY: usize = 1 << 20;

/// Binds the configured addresses (all interfaces by default) on `port`, or with `tls`
/// on `tls-port`. No listener when that port is 0 (only a TLS one with `port 0`).
pub async fn bind(sh: &Sentinel, tls: bool) -> std::io::Result<Vec<TcpListener>> {
    let (port, binds) = {
        let c = sh.config.lock();
        let port = if tls { c.tls_port() } else { c.port };
        if port == 0 && (tls || c.tls_port() != 0) {
            return Ok(Vec::new());
        }
        (port, c.bind.clone())
    };
    let addrs = if binds.is_empty() {
        vec!["0.0.0.0".to_string()]
    } else {
        binds
    };
    let mut out = Vec::new();
    for a in addrs {
        let a = a.trim_start_matches('-').to_string();
        out.push(TcpListener::bind((a.as_str(), port)).await?);
    }
    Ok(out)
}

/// Accepts clients until shutdown (after a TLS handshake with `tls`).
pub async fn serve(
    sh: Arc<Sentinel>,
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    let mut shutdown = sh.shutdown.subscribe();
    loop {
        tokio::select! {
            r = listener.accept() => {
                if let Ok((stream, _)) = r {
                    let sh2 = sh.clone();
                    let _ = stream.set_nodelay(true);
                    match tls.clone() {
                        None => {
                            let (rd, wr) = stream.into_split();
                            tokio::spawn(async move { client(sh2, rd, wr).await });
                        }
                        Some(acceptor) => {
                            tokio::spawn(async move {
                                if let Ok(s) = crate::server::tls::accept(&acceptor, stream).await {
                                    let (rd, wr) = tokio::io::split(s);
                                    client(sh2, rd, wr).await;
                                }
                            });
                        }
                    }
                }
            }
            _ = shutdown.changed() => return,
        }
    }
}

fn push_message(out: &mut ReplyBuf, (pattern, channel, payload): super::events::Message) {
    if out.resp3 {
        out.push(if pattern.is_some() { 4 } else { 3 });
    } else {
        out.array(if pattern.is_some() { 4 } else { 3 });
    }
    match pattern {
        Some(p) => {
            out.bulk(b"pmessage");
            out.bulk(p.as_bytes());
        }
        None => out.bulk(b"message"),
    }
    out.bulk(channel.as_bytes());
    out.bulk(payload.as_bytes());
}

/// (P)SUBSCRIBE / (P)UNSUBSCRIBE; returns false when `cmd` is not one of them.
fn pubsub(sub: &super::events::Subscriber, out: &mut ReplyBuf, cmd: &str, args: &[Bytes]) -> bool {
    let pattern = cmd.starts_with('p');
    let subscribe = matches!(cmd, "subscribe" | "psubscribe");
    if !matches!(
        cmd,
        "subscribe" | "psubscribe" | "unsubscribe" | "punsubscribe"
    ) {
        return false;
    }
    if subscribe && args.len() < 2 {
        out.error(&format!(
            "ERR wrong number of arguments for '{cmd}' command"
        ));
        return true;
    }
    let set = if pattern {
        &sub.patterns
    } else {
        &sub.channels
    };
    let names: Vec<String> = if args.len() > 1 {
        args[1..]
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect()
    } else {
        set.lock().iter().cloned().collect()
    };
    if names.is_empty() {
        if out.resp3 {
            out.push(3);
        } else {
            out.array(3);
        }
        out.bulk(cmd.as_bytes());
        out.null();
        out.int(sub.count() as i64);
        return true;
    }
    for n in names {
        if subscribe {
            set.lock().insert(n.clone());
        } else {
            set.lock().remove(&n);
        }
        if out.resp3 {
            out.push(3);
        } else {
            out.array(3);
        }
        out.bulk(cmd.as_bytes());
        out.bulk(n.as_bytes());
        out.int(sub.count() as i64);
    }
    true
}

async fn client<R, W>(sh: Arc<Sentinel>, mut rd: R, mut wr: W)
where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    let id = sh.next_client_id.fetch_add(1, Ordering::Relaxed);
    let mut authenticated = sh.config.lock().requirepass.is_none();
    let mut name = String::new();
    let mut inbuf = BytesMut::with_capacity(4096);
    let mut parser = RequestParser::default();
    let mut out = ReplyBuf::default();
    let (sub, mut messages) = sh.events.subscriber();
    let mut shutdown = sh.shutdown.subscribe();
    'conn: loop {
        let mut close = false;
        loop {
            match parser.parse(&mut inbuf, &LIMITS) {
                Ok(Parsed::Command(args)) => {
                    let cmd = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
                    let subscribed = sub.count() > 0;
                    if authenticated && pubsub(&sub, &mut out, &cmd, &args) {
                        continue;
                    }
                    if subscribed
                        && !out.resp3
                        && !matches!(cmd.as_str(), "ping" | "quit" | "reset")
                    {
                        out.error(&format!("ERR Can't execute '{cmd}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"));
                        continue;
                    }
                    if cmd == "quit" {
                        out.ok();
                        close = true;
                        break;
                    }
                    let mut ctx = Ctx {
                        sh: &sh,
                        out: &mut out,
                        client_id: id,
                        name: &mut name,
                        authenticated: &mut authenticated,
                        close: false,
                    };
                    dispatch(&mut ctx, &args);
                    if ctx.close {
                        close = true;
                        break;
                    }
                }
                Ok(Parsed::Nothing) => {}
                Ok(Parsed::Incomplete) => break,
                Err(e) => {
                    out.error(&format!("ERR {e}"));
                    close = true;
                    break;
                }
            }
        }
        while let Ok(m) = messages.try_recv() {
            push_message(&mut out, m);
        }
        if !out.buf.is_empty() {
            if wr.write_all(&out.buf).await.is_err() {
                break;
            }
            out.buf.clear();
        }
        if close || inbuf.len() > MAX_QUERY {
            break;
        }
        inbuf.reserve(4096);
        tokio::select! {
            r = rd.read_buf(&mut inbuf) => match r {
                Ok(0) | Err(_) => break 'conn,
                Ok(_) => {}
            },
            m = messages.recv() => match m {
                Some(m) => push_message(&mut out, m),
                None => break 'conn,
            },
            _ = shutdown.changed() => break 'conn,
        }
    }
    sh.events.remove(&sub);
}
