//! TLS with rustls (ring provider): the server side of `tls-port`, the client side of a
//! follower's link with `tls-replication yes` (and of sentinels), from the same `tls-*`
//! parameters as Redis. Certificates and keys are PEM files.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::rustls::{
    self, ClientConfig, RootCertStore, ServerConfig,
    pki_types::{CertificateDer, PrivateKeyDer, ServerName, pem::PemObject},
    server::WebPkiClientVerifier,
};

/// The TLS settings, read once from the configuration (Redis names).
#[derive(Debug, Clone, Default)]
pub struct TlsSettings {
    /// `tls-cert-file`: the server certificate chain.
    pub cert_file: String,
    /// `tls-key-file`.
    pub key_file: String,
    /// `tls-client-cert-file` / `tls-client-key-file`: what this node presents when it
    /// connects out (falls back to the server pair).
    pub client_cert_file: String,
    /// See `client_cert_file`.
    pub client_key_file: String,
    /// `tls-ca-cert-file`: CAs trusted for peers.
    pub ca_cert_file: String,
    /// `tls-ca-cert-dir`: more CAs, every file in the directory.
    pub ca_cert_dir: String,
    /// `tls-auth-clients`: yes, no or optional.
    pub auth_clients: String,
    /// `tls-protocols`: e.g. "TLSv1.2 TLSv1.3" (empty: both).
    pub protocols: String,
}

impl TlsSettings {
    /// Reads the `tls-*` parameters.
    pub fn from_config(cfg: &crate::config::Config) -> TlsSettings {
        Self::from_lookup(|n| cfg.get(n).unwrap_or_default())
    }

    /// Reads the `tls-*` parameters from any source (the sentinel keeps its own).
    pub fn from_lookup(g: impl Fn(&str) -> String) -> TlsSettings {
        TlsSettings {
            cert_file: g("tls-cert-file"),
            key_file: g("tls-key-file"),
            client_cert_file: g("tls-client-cert-file"),
            client_key_file: g("tls-client-key-file"),
            ca_cert_file: g("tls-ca-cert-file"),
            ca_cert_dir: g("tls-ca-cert-dir"),
            auth_clients: Some(g("tls-auth-clients"))
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "yes".into()),
            protocols: g("tls-protocols"),
        }
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn load_certs(path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("Failed to load certificate: {path}: {e}"))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("Failed to load certificate: {path}: {e}"))?;
    if certs.is_empty() {
        return Err(format!(
            "Failed to load certificate: {path}: no certificate found"
        ));
    }
    Ok(certs)
}

fn load_key(path: &str) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path)
        .map_err(|e| format!("Failed to load private key: {path}: {e}"))
}

fn roots(s: &TlsSettings) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    let mut files: Vec<String> = Vec::new();
    if !s.ca_cert_file.is_empty() {
        files.push(s.ca_cert_file.clone());
    }
    if !s.ca_cert_dir.is_empty() {
        let dir = std::fs::read_dir(&s.ca_cert_dir).map_err(|e| {
            format!(
                "Failed to configure CA certificate(s) directory: {}: {e}",
                s.ca_cert_dir
            )
        })?;
        for entry in dir.flatten() {
            if entry.path().is_file() {
                files.push(entry.path().display().to_string());
            }
        }
    }
    if files.is_empty() {
        return Err(
            "Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or tls-auth-clients are enabled!".into(),
        );
    }
    for f in files {
        for c in load_certs(&f)? {
            store.add(c).map_err(|e| {
                format!("Failed to configure CA certificate(s) file/directory: {f}: {e}")
            })?;
        }
    }
    Ok(store)
}

fn versions(s: &TlsSettings) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, String> {
    if s.protocols.trim().is_empty() {
        return Ok(vec![&rustls::version::TLS13, &rustls::version::TLS12]);
    }
    let mut v = Vec::new();
    for p in s.protocols.split_whitespace() {
        match p.to_ascii_lowercase().as_str() {
            "tlsv1.3" => v.push(&rustls::version::TLS13),
            "tlsv1.2" => v.push(&rustls::version::TLS12),
            other => {
                return Err(format!(
                    "Invalid tls-protocols specified. Use a combination of 'TLSv1.2' and 'TLSv1.3' ('{other}' is not supported)."
                ));
            }
        }
    }
    Ok(v)
}

/// The acceptor for `tls-port`: the server certificate, and client certificates
/// required (`tls-auth-clients yes`, the default), optional or not asked for.
pub fn acceptor(s: &TlsSettings) -> Result<tokio_rustls::TlsAcceptor, String> {
    if s.cert_file.is_empty() || s.key_file.is_empty() {
        return Err("tls-port needs tls-cert-file and tls-key-file".into());
    }
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&versions(s)?)
        .map_err(|e| e.to_string())?;
    let builder = match s.auth_clients.as_str() {
        "no" => builder.with_no_client_auth(),
        mode => {
            let v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots(s)?), provider());
            let v = if mode == "optional" {
                v.allow_unauthenticated()
            } else {
                v
            };
            builder.with_client_cert_verifier(v.build().map_err(|e| e.to_string())?)
        }
    };
    let config = builder
        .with_single_cert(load_certs(&s.cert_file)?, load_key(&s.key_file)?)
        .map_err(|e| format!("Invalid certificate or key: {e}"))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// How long a TLS client may take to complete its handshake.
const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The server side of a handshake on an accepted connection, bounded in time (server and
/// sentinel listeners alike); the error says why it failed.
pub async fn accept(
    acceptor: &tokio_rustls::TlsAcceptor,
    stream: TcpStream,
) -> Result<tokio_rustls::server::TlsStream<TcpStream>, String> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(format!("TLS handshake failed: {e}")),
        Err(_) => Err("TLS handshake timed out".into()),
    }
}

/// The connector for outgoing links (a follower to its leader): peers verified against
/// the CA, presenting the client certificate (or the server one) when there is one.
pub fn connector(s: &TlsSettings) -> Result<tokio_rustls::TlsConnector, String> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&versions(s)?)
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots(s)?);
    let (cert, key) = if !s.client_cert_file.is_empty() {
        (&s.client_cert_file, &s.client_key_file)
    } else {
        (&s.cert_file, &s.key_file)
    };
    let config = if cert.is_empty() || key.is_empty() {
        builder.with_no_client_auth()
    } else {
        builder
            .with_client_auth_cert(load_certs(cert)?, load_key(key)?)
            .map_err(|e| format!("Invalid client certificate or key: {e}"))?
    };
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// The name a peer's certificate must carry: its IP address (an IP SAN) or host name.
pub fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    ServerName::try_from(host.to_string())
        .map_err(|e| format!("invalid TLS server name '{host}': {e}"))
}

/// A client connection that is plain TCP or TLS over TCP, so link code is written once.
#[allow(clippy::large_enum_variant)]
pub enum MaybeTls {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS (client side).
    Tls(tokio_rustls::client::TlsStream<TcpStream>),
}

impl MaybeTls {
    /// Connects to `host:port`, with a TLS handshake when `tls` is given.
    pub async fn connect(
        host: &str,
        port: u16,
        tls: Option<&tokio_rustls::TlsConnector>,
    ) -> std::io::Result<MaybeTls> {
        let tcp = TcpStream::connect((host, port)).await?;
        let _ = tcp.set_nodelay(true);
        match tls {
            None => Ok(MaybeTls::Plain(tcp)),
            Some(c) => {
                let name = server_name(host).map_err(std::io::Error::other)?;
                Ok(MaybeTls::Tls(c.connect(name, tcp).await?))
            }
        }
    }

    fn tcp(&self) -> &TcpStream {
        match self {
            MaybeTls::Plain(s) => s,
            MaybeTls::Tls(s) => s.get_ref().0,
        }
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.tcp().peer_addr()
    }

    /// Our address.
    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.tcp().local_addr()
    }
}

impl AsyncRead for MaybeTls {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_read(cx, buf),
            MaybeTls::Tls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for MaybeTls {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_write(cx, buf),
            MaybeTls::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_flush(cx),
            MaybeTls::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_shutdown(cx),
            MaybeTls::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
