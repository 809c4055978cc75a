//! Host names to addresses, for every agent.
//!
//! - An IP address is used as it is, without asking the system resolver.
//! - `localhost` and every name below it (`myvault.localhost`) are this machine, always:
//!   127.0.0.1 and ::1, never asked of DNS (RFC 6761 § 6.3). armi sends a token over plain HTTP
//!   only to such hosts, so what it means by "this machine" cannot be changed by a DNS answer or a
//!   missing `/etc/hosts` line.
//! - Any other name is looked up once per run and remembered: a list of 50 pages asks DNS once,
//!   not 50 times (ureq's own resolver asks on every connection, on a thread of its own when a
//!   timeout is set).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

use super::endpoint::is_loopback_host;

/// `host:port` and the addresses found for it.
type Known = Vec<(String, Vec<SocketAddr>)>;

/// The resolver all of armi's agents share.
#[derive(Clone, Default)]
pub struct Resolve {
    known: Arc<Mutex<Known>>,
}

impl fmt::Debug for Resolve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Resolve")
    }
}

impl Resolver for Resolve {
    fn resolve(
        &self,
        uri: &Uri,
        _config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let host = uri
            .host()
            .ok_or(ureq::Error::HostNotFound)?
            .trim_start_matches('[')
            .trim_end_matches(']');
        let https = uri.scheme_str() == Some("https");
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let addrs = self.addresses(host, port, timeout)?;
        let mut out = self.empty();
        for addr in addrs.into_iter().take(16) {
            out.push(addr);
        }
        if out.is_empty() {
            return Err(ureq::Error::HostNotFound);
        }
        Ok(out)
    }
}

impl Resolve {
    fn addresses(
        &self,
        host: &str,
        port: u16,
        timeout: NextTimeout,
    ) -> Result<Vec<SocketAddr>, ureq::Error> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        if is_loopback_host(host) {
            return Ok(vec![
                SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
                SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port),
            ]);
        }
        let key = format!("{host}:{port}");
        if let Some(found) = self.lock().iter().find(|(k, _)| *k == key) {
            return Ok(found.1.clone());
        }
        let found = lookup(key.clone(), timeout)?;
        self.lock().push((key, found.clone()));
        Ok(found)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Known> {
        self.known.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The system resolver, within the timeout: on a thread, because getaddrinfo cannot be told to
/// stop (as ureq does it).
fn lookup(key: String, timeout: NextTimeout) -> Result<Vec<SocketAddr>, ureq::Error> {
    let (tx, rx) = mpsc::sync_channel(1);
    std::thread::spawn(move || {
        let found = key.to_socket_addrs().map(Iterator::collect::<Vec<_>>);
        tx.send(found).ok();
    });
    match rx.recv_timeout(*timeout.after) {
        Ok(Ok(found)) => Ok(found),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => Err(ureq::Error::HostNotFound),
        Ok(Err(_)) => Err(ureq::Error::HostNotFound),
        Err(mpsc::RecvTimeoutError::Timeout) => Err(ureq::Error::Timeout(timeout.reason)),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(ureq::Error::HostNotFound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(host: &str, port: u16) -> Vec<SocketAddr> {
        Resolve::default()
            .addresses(host, port, NextTimeout::default())
            .unwrap()
    }

    #[test]
    fn names_below_localhost_are_this_machine_without_dns() {
        for host in ["localhost", "myvault.localhost", "A.B.LOCALHOST"] {
            let addrs = resolve(host, 8443);
            assert!(!addrs.is_empty(), "{host}");
            assert!(
                addrs
                    .iter()
                    .all(|a| a.ip().is_loopback() && a.port() == 8443)
            );
        }
    }

    #[test]
    fn addresses_are_used_as_they_are() {
        assert_eq!(
            resolve("127.0.0.7", 80),
            vec!["127.0.0.7:80".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(
            resolve("::1", 443),
            vec!["[::1]:443".parse::<SocketAddr>().unwrap()]
        );
    }
}
