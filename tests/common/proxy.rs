//! A fault-injecting TCP proxy (drops, delays, partitions) between two endpoints.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A direction through a [`FaultProxy`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Dir {
    /// Bytes from the connecting client to the target.
    ToTarget,
    /// Bytes from the target back to the client.
    ToClient,
}

#[derive(Default)]
struct Faults {
    blocked: std::sync::atomic::AtomicBool,
    delay_ms: std::sync::atomic::AtomicU64,
    /// Silently discard bytes in a direction (a black hole: no error, no data).
    drop: [std::sync::atomic::AtomicBool; 2],
    stop: std::sync::atomic::AtomicBool,
}

/// A fault-injecting TCP proxy for failure tests: forwards 127.0.0.1:`port` to a target,
/// and can delay traffic, silently drop it in one or both directions, cut every live
/// connection (both ways or one way), or refuse new connections for a while. No root
/// needed: partitions are made by putting a proxy between the nodes.
pub struct FaultProxy {
    /// The port clients connect to.
    pub port: u16,
    /// Live connections: (client side, target side).
    conns: std::sync::Arc<std::sync::Mutex<Vec<(TcpStream, TcpStream)>>>,
    faults: std::sync::Arc<Faults>,
}

impl FaultProxy {
    /// Starts forwarding to `target_port` on loopback.
    pub fn start(target_port: u16) -> FaultProxy {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let conns: std::sync::Arc<std::sync::Mutex<Vec<(TcpStream, TcpStream)>>> =
            Default::default();
        let faults: std::sync::Arc<Faults> = Default::default();
        let (c2, f2) = (conns.clone(), faults.clone());
        std::thread::spawn(move || {
            while !f2.stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        if f2.blocked.load(Ordering::Relaxed) {
                            drop(client);
                            continue;
                        }
                        let _ = client.set_nonblocking(false);
                        let Ok(server) = TcpStream::connect(("127.0.0.1", target_port)) else {
                            continue;
                        };
                        let _ = client.set_nodelay(true);
                        let _ = server.set_nodelay(true);
                        c2.lock()
                            .unwrap()
                            .push((client.try_clone().unwrap(), server.try_clone().unwrap()));
                        for (from, to, dir) in [
                            (client.try_clone().unwrap(), server.try_clone().unwrap(), 0),
                            (server, client, 1),
                        ] {
                            let f3 = f2.clone();
                            std::thread::spawn(move || pipe(from, to, &f3, dir));
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        FaultProxy {
            port,
            conns,
            faults,
        }
    }

    /// Closes every connection going through the proxy (a network cut).
    pub fn cut(&self) {
        for (c, s) in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(std::net::Shutdown::Both);
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }

    /// Ends one direction of every live connection: the receiving side reads EOF while
    /// the other direction keeps flowing.
    pub fn cut_one_way(&self, dir: Dir) {
        for (c, s) in self.conns.lock().unwrap().iter() {
            let _ = match dir {
                Dir::ToTarget => s.shutdown(std::net::Shutdown::Write),
                Dir::ToClient => c.shutdown(std::net::Shutdown::Write),
            };
        }
    }

    /// While blocked, new connections are accepted and closed at once.
    pub fn set_blocked(&self, on: bool) {
        self.faults
            .blocked
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Silently drops (or stops dropping) the bytes going one way: connections stay
    /// open, nothing arrives, as behind a black-holing firewall.
    pub fn set_drop(&self, dir: Dir, on: bool) {
        let i = usize::from(dir == Dir::ToClient);
        self.faults.drop[i].store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Delays every forwarded chunk by `d` (both ways).
    pub fn set_delay(&self, d: Duration) {
        self.faults
            .delay_ms
            .store(d.as_millis() as u64, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Forwards one direction, applying the current faults to each chunk.
fn pipe(mut from: TcpStream, mut to: TcpStream, faults: &Faults, dir: usize) {
    use std::sync::atomic::Ordering;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if faults.drop[dir].load(Ordering::Relaxed) {
            continue;
        }
        let delay = faults.delay_ms.load(Ordering::Relaxed);
        if delay > 0 {
            std::thread::sleep(Duration::from_millis(delay));
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.faults
            .stop
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.cut();
    }
}
