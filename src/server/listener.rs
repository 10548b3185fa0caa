//! Binds the configured addresses and accepts connections, enforcing maxclients and
//! protected mode before a connection task starts.

use crate::server::Server;
use crate::server::client::ClientHandle;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

const PROTECTED_MODE_MSG: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// Binds every address in `bind` (a `-` prefix marks an optional address, as in Redis).
/// Port 0 picks a free port (shared by all addresses); the port is recorded in `srv.port`.
pub async fn bind(srv: &Server) -> std::io::Result<Vec<TcpListener>> {
    let (listeners, port) = bind_port(srv, srv.config.get_i64("port") as u16)?;
    srv.port.store(port, Ordering::Relaxed);
    Ok(listeners)
}

/// Binds `tls-port` on the same addresses; none when it is 0 (TLS off).
pub async fn bind_tls(srv: &Server) -> std::io::Result<Vec<TcpListener>> {
    let port = srv.config.get_i64("tls-port") as u16;
    if port == 0 {
        return Ok(Vec::new());
    }
    Ok(bind_port(srv, port)?.0)
}

fn bind_port(srv: &Server, mut port: u16) -> std::io::Result<(Vec<TcpListener>, u16)> {
    let bind = srv.config.get("bind").unwrap_or_default();
    let mut listeners = Vec::new();
    for word in bind.split_whitespace() {
        let (optional, addr) = match word.strip_prefix('-') {
            Some(a) => (true, a),
            None => (false, word),
        };
        let ip = match addr {
            "*" => "0.0.0.0",
            "::*" => "::",
            other => other,
        };
        let sa: SocketAddr = match format!("{}:{}", ip, port)
            .parse()
            .or_else(|_| format!("[{}]:{}", ip, port).parse())
        {
            Ok(sa) => sa,
            Err(_) if optional => continue,
            Err(_) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("invalid bind address '{}'", addr),
                ));
            }
        };
        let sock = if sa.is_ipv4() {
            tokio::net::TcpSocket::new_v4()
        } else {
            tokio::net::TcpSocket::new_v6()
        };
        let attempt = sock.and_then(|s| {
            s.set_reuseaddr(true)?;
            if sa.is_ipv6() {
                socket2::SockRef::from(&s).set_only_v6(true)?;
            }
            s.bind(sa)?;
            s.listen(srv.config.get_i64("tcp-backlog").max(1) as u32)
        });
        match attempt {
            Ok(l) => {
                if port == 0 {
                    port = l.local_addr()?.port();
                }
                listeners.push(l);
            }
            Err(_) if optional => continue,
            Err(e) => {
                return Err(std::io::Error::new(
                    e.kind(),
                    format!("Could not create server TCP listening socket {}: {}", sa, e),
                ));
            }
        }
    }
    if listeners.is_empty() {
        return Err(std::io::Error::other("no address could be bound"));
    }
    Ok((listeners, port))
}

/// Starts accepting plain TCP connections on `listeners`, replacing (and stopping) the
/// ones accepting before: how CONFIG SET `port` / `bind` take effect without a restart.
/// Connections already accepted stay open, as in Redis.
pub fn serve_plain(srv: &Arc<Server>, listeners: Vec<TcpListener>) {
    let mut running = srv.plain_accept_loops.lock();
    for l in listeners {
        running.push(tokio::spawn(accept_loop(srv.clone(), l, None)));
    }
}

/// Stops accepting plain TCP connections and waits until the listening sockets are
/// closed, so their addresses can be bound again.
fn close_plain(srv: &Server) {
    let old: Vec<_> = srv.plain_accept_loops.lock().drain(..).collect();
    for task in &old {
        task.abort();
    }
    let handle = tokio::runtime::Handle::current();
    if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread {
        tokio::task::block_in_place(|| {
            handle.block_on(async {
                for task in old {
                    let _ = task.await;
                }
            })
        });
    }
}

/// CONFIG SET `port` or `bind`, as Redis does it: closes the current listeners, then
/// binds the configured addresses. On an error nothing listens; the caller restores the
/// old values and calls this again.
pub fn rebind(srv: &Arc<Server>) -> std::io::Result<()> {
    close_plain(srv);
    let (listeners, port) = bind_port(srv, srv.config.get_i64("port") as u16)?;
    srv.port.store(port, Ordering::Relaxed);
    serve_plain(srv, listeners);
    tracing::info!(port, bind = %srv.config.get("bind").unwrap_or_default(), "Listening on new addresses");
    Ok(())
}

/// Accepts connections on one listener until shutdown; with `tls`, each connection
/// completes a TLS handshake (in its own task) before it is served.
pub async fn accept_loop(
    srv: Arc<Server>,
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    let mut shutdown = srv.shutdown.subscribe();
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.changed() => return,
        };
        let (stream, addr) = match accepted {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                // Out of descriptors and the like: back off briefly instead of spinning.
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        srv.stats
            .connections_received
            .fetch_add(1, Ordering::Relaxed);
        admit(&srv, stream, addr, tls.clone()).await;
    }
}

async fn admit(
    srv: &Arc<Server>,
    mut stream: TcpStream,
    addr: SocketAddr,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    let live = &srv.config.live;
    if live.protected_mode.load(Ordering::Relaxed)
        && srv.acl.default_user().nopass()
        && !super::is_local_address(addr.ip())
    {
        let _ = stream.write_all(PROTECTED_MODE_MSG.as_bytes()).await;
        return;
    }
    let keepalive = srv.config.get_i64("tcp-keepalive");
    if keepalive > 0 {
        let ka = socket2::TcpKeepalive::new()
            .with_time(std::time::Duration::from_secs(keepalive as u64));
        let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&ka);
    }
    let laddr = stream.local_addr().unwrap_or(addr);
    use std::os::fd::AsRawFd;
    let fd = stream.as_raw_fd();
    let handle = Arc::new(ClientHandle::new(srv.next_client_id(), addr, laddr, fd));
    let admitted = {
        let mut clients = srv.clients.lock();
        let room = clients.len() < live.maxclients.load(Ordering::Relaxed);
        if room {
            clients.insert(handle.id, handle.clone());
        }
        room
    };
    if !admitted {
        srv.stats
            .rejected_connections
            .fetch_add(1, Ordering::Relaxed);
        let _ = stream
            .write_all(b"-ERR max number of clients reached\r\n")
            .await;
        return;
    }
    use tracing::Instrument;
    let span = tracing::debug_span!("client", id = handle.id, addr = %handle.addr);
    let _ = stream.set_nodelay(true);
    let srv = srv.clone();
    let Some(acceptor) = tls else {
        let (rd, wr) = stream.into_split();
        tokio::spawn(super::connection::serve(srv, rd, wr, handle).instrument(span));
        return;
    };
    tokio::spawn(
        async move {
            match super::tls::accept(&acceptor, stream).await {
                Ok(tls) => {
                    let (rd, wr) = tokio::io::split(tls);
                    super::connection::serve(srv, rd, wr, handle).await;
                }
                Err(e) => {
                    tracing::info!(addr = %handle.addr, error = %e, "Error accepting a client connection");
                    srv.remove_client(handle.id);
                }
            }
        }
        .instrument(span),
    );
}
