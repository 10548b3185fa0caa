//! TLS: `tls-port` with certificates generated here (rcgen), reached with stock
//! `redis-cli --tls`; client certificates required, optional or off; followers over TLS
//! (`tls-replication yes`) to our leader and to and from stock Redis. Also passes against
//! stock Redis 7.0 (`FC_SERVER_BIN=$(which redis-server)`).

mod common;

use common::*;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, SanType};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// A CA, a server certificate for 127.0.0.1 / localhost and a client certificate, as PEM
/// files in a scratch directory.
struct Certs {
    dir: PathBuf,
}

impl Certs {
    fn new() -> Certs {
        let dir = make_temp_dir();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Ferrocache test CA");
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        std::fs::write(dir.join("ca.crt"), ca.pem()).unwrap();
        for (name, cn) in [("server", "Server"), ("client", "Client")] {
            let key = KeyPair::generate().unwrap();
            let mut p = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
            p.subject_alt_names
                .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
            p.distinguished_name.push(DnType::CommonName, cn);
            let cert = p.signed_by(&key, &ca).unwrap();
            std::fs::write(dir.join(format!("{name}.crt")), cert.pem()).unwrap();
            std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
        }
        Certs { dir }
    }

    fn path(&self, f: &str) -> String {
        self.dir.join(f).display().to_string()
    }

    /// Server arguments for a TLS port (client certificates per `auth`).
    fn server_args(&self, tls_port: u16, auth: &str) -> Vec<String> {
        vec![
            "--tls-port".into(),
            tls_port.to_string(),
            "--tls-cert-file".into(),
            self.path("server.crt"),
            "--tls-key-file".into(),
            self.path("server.key"),
            "--tls-ca-cert-file".into(),
            self.path("ca.crt"),
            "--tls-auth-clients".into(),
            auth.into(),
        ]
    }
}

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start_tls(certs: &Certs, auth: &str, extra: &[&str]) -> (TestServer, u16) {
    let tls_port = free_port();
    let mut args = certs.server_args(tls_port, auth);
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    (TestServer::start(&refs), tls_port)
}

/// Runs `redis-cli --tls` against the TLS port; returns (success, stdout+stderr).
fn cli(certs: &Certs, port: u16, with_cert: bool, cmd: &[&str]) -> (bool, String) {
    let mut c = Command::new(stock_bin("redis-cli"));
    c.args([
        "-h",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "--tls",
        "--cacert",
    ])
    .arg(certs.path("ca.crt"));
    if with_cert {
        c.arg("--cert")
            .arg(certs.path("client.crt"))
            .arg("--key")
            .arg(certs.path("client.key"));
    }
    let out = c.args(cmd).output().expect("redis-cli");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (
        out.status.success() && !text.contains("Could not connect"),
        text,
    )
}

fn wait_synced(f: &TestServer, key: &str, value: &str) -> bool {
    let mut r = f.raw();
    poll_until(Duration::from_secs(20), Duration::from_millis(20), || {
        r.cmd(&["GET", key]) == Reply::bulk(value)
    })
}

#[test]
fn redis_cli_over_tls_with_client_certificates() {
    let certs = Certs::new();
    let (s, tls_port) = start_tls(&certs, "yes", &[]);
    let (ok, out) = cli(&certs, tls_port, true, &["SET", "k", "over-tls"]);
    assert!(ok && out.trim() == "OK", "{out}");
    let (ok, out) = cli(&certs, tls_port, true, &["GET", "k"]);
    assert!(ok && out.trim() == "over-tls", "{out}");
    // The plain port still serves, the same data.
    assert_eq!(s.raw().cmd(&["GET", "k"]), Reply::bulk("over-tls"));
    // No client certificate: refused during the handshake.
    let (_, out) = cli(&certs, tls_port, false, &["PING"]);
    assert!(!out.contains("PONG"), "{out}");
    // Plain RESP on the TLS port is not served.
    let mut plain = RawConn::connect(&format!("127.0.0.1:{tls_port}"));
    plain.send(b"*1\r\n$4\r\nPING\r\n");
    assert!(
        !matches!(plain.try_read_reply(Duration::from_secs(3)), Ok(Reply::Simple(ref p)) if p == "PONG")
    );
    // A config naming no certificate cannot start.
    let out = Command::new(server_bin())
        .args(["--port", "0", "--tls-port", &free_port().to_string()])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn client_certificates_optional_or_off() {
    let certs = Certs::new();
    for auth in ["no", "optional"] {
        let (_s, tls_port) = start_tls(&certs, auth, &[]);
        let (ok, out) = cli(&certs, tls_port, false, &["PING"]);
        assert!(ok && out.trim() == "PONG", "tls-auth-clients {auth}: {out}");
        let (ok, out) = cli(&certs, tls_port, true, &["PING"]);
        assert!(ok && out.trim() == "PONG", "tls-auth-clients {auth}: {out}");
    }
}

fn tls_follower_args(certs: &Certs, leader_tls_port: u16) -> Vec<String> {
    let mut a = certs.server_args(free_port(), "yes");
    a.extend(
        [
            "--tls-replication",
            "yes",
            "--replicaof",
            "127.0.0.1",
            &leader_tls_port.to_string(),
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    a
}

#[test]
fn followers_replicate_over_tls() {
    let certs = Certs::new();
    let (leader, leader_tls) = start_tls(&certs, "yes", &[]);
    let mut l = leader.raw();
    assert_eq!(l.cmd(&["SET", "a", "1"]), Reply::ok());
    let args = tls_follower_args(&certs, leader_tls);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let f = TestServer::start(&refs);
    assert!(wait_synced(&f, "a", "1"), "follower synced over TLS");
    assert_eq!(l.cmd(&["SET", "b", "2"]), Reply::ok());
    assert!(wait_synced(&f, "b", "2"), "live stream over TLS");
    // The leader sees the follower's link coming in on its TLS port.
    let clients = l.cmd(&["CLIENT", "LIST"]).as_string();
    assert!(
        clients.contains(&format!("laddr=127.0.0.1:{leader_tls}")),
        "{clients}"
    );
    // A stock replica over TLS follows the same leader.
    let sargs = tls_follower_args(&certs, leader_tls);
    let srefs: Vec<&str> = sargs.iter().map(String::as_str).collect();
    let stock = TestServer::start_stock(&srefs);
    assert!(wait_synced(&stock, "b", "2"), "stock replica over TLS");
}

#[test]
fn follower_of_a_stock_leader_over_tls() {
    if is_stock_redis() {
        return; // the same as followers_replicate_over_tls then
    }
    let certs = Certs::new();
    let tls_port = free_port();
    let args = certs.server_args(tls_port, "yes");
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let leader = TestServer::start_stock(&refs);
    assert_eq!(leader.raw().cmd(&["SET", "s", "stock"]), Reply::ok());
    let fargs = tls_follower_args(&certs, tls_port);
    let frefs: Vec<&str> = fargs.iter().map(String::as_str).collect();
    let f = TestServer::start(&frefs);
    assert!(
        wait_synced(&f, "s", "stock"),
        "our follower of a stock TLS leader"
    );
}

fn sentinel_field(s: &TestServer, name: &str) -> String {
    let v = s.raw().cmd(&["SENTINEL", "MASTER", "mymaster"]).strings();
    v.chunks(2)
        .find(|c| c[0] == name)
        .map(|c| c[1].clone())
        .unwrap_or_default()
}

#[test]
fn sentinels_over_tls_fail_over_tls_nodes() {
    let certs = Certs::new();
    let (mut leader, leader_tls) = start_tls(&certs, "yes", &["--tls-replication", "yes"]);
    assert_eq!(leader.raw().cmd(&["SET", "k", "v"]), Reply::ok());
    let fargs = tls_follower_args(&certs, leader_tls);
    let frefs: Vec<&str> = fargs.iter().map(String::as_str).collect();
    let follower = TestServer::start(&frefs);
    assert!(wait_synced(&follower, "k", "v"));
    let follower_tls: u16 = fargs[1].parse().unwrap();
    let conf = |tls_port: u16| {
        format!(
            "tls-port {tls_port}\ntls-replication yes\ntls-cert-file {}\ntls-key-file {}\ntls-ca-cert-file {}\n\
             sentinel monitor mymaster 127.0.0.1 {leader_tls} 2\n\
             sentinel down-after-milliseconds mymaster 500\nsentinel failover-timeout mymaster 5000\n",
            certs.path("server.crt"),
            certs.path("server.key"),
            certs.path("ca.crt"),
        )
    };
    let sentinels: Vec<(TestServer, u16)> = (0..3)
        .map(|_| {
            let p = free_port();
            (TestServer::start_sentinel(&conf(p)), p)
        })
        .collect();
    for (s, _) in &sentinels {
        assert!(
            poll_until(Duration::from_secs(20), Duration::from_millis(50), || {
                sentinel_field(s, "num-slaves") == "1"
                    && sentinel_field(s, "num-other-sentinels") == "2"
            }),
            "discovery over TLS: {:?}",
            s.raw().cmd(&["SENTINEL", "MASTER", "mymaster"])
        );
    }
    // Clients reach a sentinel on its TLS port too.
    let (ok, out) = cli(
        &certs,
        sentinels[0].1,
        true,
        &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"],
    );
    assert!(ok && out.contains(&leader_tls.to_string()), "{out}");
    // kill -9 of the leader: the follower (known by its TLS port) is promoted.
    let pid = leader.pid().unwrap().to_string();
    Command::new("kill").args(["-9", &pid]).status().unwrap();
    assert!(leader.wait_exit(Duration::from_secs(10)).is_some());
    for (s, _) in &sentinels {
        assert!(
            poll_until(Duration::from_secs(30), Duration::from_millis(50), || {
                s.raw()
                    .cmd(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"])
                    .strings()
                    .get(1)
                    == Some(&follower_tls.to_string())
            }),
            "failover over TLS"
        );
    }
    let info = follower.raw().cmd(&["INFO", "replication"]).as_string();
    assert_eq!(info_field(&info, "role").as_deref(), Some("master"));
}
