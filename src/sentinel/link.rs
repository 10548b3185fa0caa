//! A small async RESP2 client for the sentinel's links to nodes and to other sentinels.
//!
//! Sentinel only ever sends a handful of commands and reads their replies in order, so a
//! request/reply connection with a timeout per call is all it needs; replies are decoded by
//! `redis-protocol` and bounded in size.

use bytes::BytesMut;
use redis_protocol::resp2::decode::decode_bytes_mut;
pub use redis_protocol::resp2::types::BytesFrame as Frame;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Largest reply accepted from a node (INFO of a node with many replicas is a few KB).
const MAX_REPLY: usize = 16 * 1024 * 1024;

/// Why a link call failed; any error drops the link and the caller reconnects.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// Connect, read or write failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// No reply in time.
    #[error("timed out")]
    Timeout,
    /// The peer sent something that is not RESP2, or too much of it.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The peer closed the connection.
    #[error("connection closed")]
    Closed,
}

/// TLS for outgoing links (`tls-replication yes`); None: plain TCP.
pub type Tls = Option<tokio_rustls::TlsConnector>;

/// An established connection to a node or sentinel.
pub struct Link {
    stream: crate::server::tls::MaybeTls,
    buf: BytesMut,
}

/// Credentials for nodes (`auth-user`/`auth-pass` of the monitored group).
#[derive(Clone, Debug, Default)]
pub struct Auth {
    /// ACL user, if any.
    pub user: Option<String>,
    /// Password, if any.
    pub pass: Option<String>,
}

impl Link {
    /// Connects, authenticates when `auth` has a password, and names the connection as
    /// stock Sentinel does (`CLIENT SETNAME sentinel-<id8>-<kind>`), so operators can tell
    /// sentinel connections apart in CLIENT LIST.
    pub async fn open(
        addr: &str,
        auth: &Auth,
        tls: &Tls,
        name: Option<&str>,
        timeout: Duration,
    ) -> Result<Link, LinkError> {
        let (host, port) = addr
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h.trim_matches(|c| c == '[' || c == ']'), p.parse().ok()?)))
            .ok_or(LinkError::Closed)?;
        let stream = tokio::time::timeout(
            timeout,
            crate::server::tls::MaybeTls::connect(host, port, tls.as_ref()),
        )
        .await
        .map_err(|_| LinkError::Timeout)??;
        let mut link = Link {
            stream,
            buf: BytesMut::with_capacity(4096),
        };
        if let Some(pass) = &auth.pass {
            let reply = match &auth.user {
                Some(user) => link.call(&["AUTH", user, pass], timeout).await?,
                None => link.call(&["AUTH", pass], timeout).await?,
            };
            if let Frame::Error(e) = reply {
                tracing::warn!(addr, error = %e, "authentication refused");
            }
        }
        if let Some(n) = name {
            let _ = link.call(&["CLIENT", "SETNAME", n], timeout).await?;
        }
        Ok(link)
    }

    /// Our address on this connection: what a hello announces when no `announce-ip` is
    /// set (the address the node sees us on, as stock Sentinel does).
    pub fn local_ip(&self) -> String {
        self.stream
            .local_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_else(|_| "127.0.0.1".into())
    }

    /// Sends one command.
    pub async fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<(), LinkError> {
        let mut out = Vec::new();
        crate::base::encode_command(&mut out, args);
        self.stream.write_all(&out).await?;
        Ok(())
    }

    /// Reads the next reply (or pushed message).
    pub async fn read(&mut self) -> Result<Frame, LinkError> {
        loop {
            match decode_bytes_mut(&mut self.buf) {
                Ok(Some((frame, _, _))) => return Ok(frame),
                Ok(None) => {}
                Err(e) => return Err(LinkError::Protocol(e.to_string())),
            }
            if self.buf.len() > MAX_REPLY {
                return Err(LinkError::Protocol("reply too large".into()));
            }
            self.buf.reserve(4096);
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                return Err(LinkError::Closed);
            }
        }
    }

    /// Sends a command and waits (bounded) for its reply.
    pub async fn call<A: AsRef<[u8]>>(
        &mut self,
        args: &[A],
        timeout: Duration,
    ) -> Result<Frame, LinkError> {
        self.send(args).await?;
        tokio::time::timeout(timeout, self.read())
            .await
            .map_err(|_| LinkError::Timeout)?
    }
}

/// The text of a simple, bulk or error reply.
pub fn frame_text(f: &Frame) -> Option<String> {
    match f {
        Frame::SimpleString(b) | Frame::BulkString(b) => Some(String::from_utf8_lossy(b).into()),
        Frame::Error(e) => Some(e.to_string()),
        Frame::Integer(i) => Some(i.to_string()),
        _ => None,
    }
}
