//! The absolute URLs ARM hands out (list `nextLink`s, the polling URLs of long-running
//! operations): real ARM builds them from the host the client called, so the emulator does too,
//! unless the scenario points them elsewhere to see whether armi follows.

use std::net::SocketAddr;

use crate::http::Request;
use crate::scenario::LinkHost;
use crate::server::{ConnInfo, reachable};

/// Where the emulator's other listeners are, for links that lead to them.
#[derive(Clone, Copy, Debug)]
pub struct Hosts {
    /// ARM over plain HTTP.
    pub arm_http: SocketAddr,
    /// The host armi must never contact.
    pub foreign: SocketAddr,
}

impl Hosts {
    /// `http://127.0.0.1:PORT` of the foreign host, as `Emulator::foreign_url` prints it.
    pub fn foreign_url(&self) -> String {
        format!("http://{}", reachable(self.foreign))
    }
}

/// `scheme://host:port` (no trailing slash) that a link answering `request` starts with.
pub fn base(link: &LinkHost, request: &Request, conn: &ConnInfo, hosts: &Hosts) -> String {
    let (host, port) = called_host(request, conn);
    match link {
        LinkHost::Same => {
            let scheme = if conn.tls { "https" } else { "http" };
            format!("{scheme}://{host}:{port}")
        }
        LinkHost::Foreign => hosts.foreign_url(),
        LinkHost::PlainHttp => format!("http://{host}:{}", hosts.arm_http.port()),
    }
}

/// The host and port the client says it called (`Host`), else the socket's own address. A
/// `Host` without a port means the socket's port: a client leaving out a non-default port is
/// still talking to this socket.
fn called_host(request: &Request, conn: &ConnInfo) -> (String, u16) {
    let local = reachable(conn.local);
    let Some(header) = request.header("host").filter(|h| !h.is_empty()) else {
        let host = match local {
            SocketAddr::V4(v4) => v4.ip().to_string(),
            SocketAddr::V6(v6) => format!("[{}]", v6.ip()),
        };
        return (host, local.port());
    };
    // `[::1]:443`, `127.0.0.1:443`, `name` and `[::1]` all occur.
    let (host, port) = match header.rfind(':') {
        Some(i) if !header[i..].contains(']') => (&header[..i], header[i + 1..].parse().ok()),
        _ => (header, None),
    };
    (host.to_string(), port.unwrap_or(local.port()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(host: Option<&str>) -> Request {
        Request {
            method: "GET".into(),
            target: "/".into(),
            version: "HTTP/1.1".into(),
            headers: host
                .map(|h| vec![("Host".to_string(), h.to_string())])
                .unwrap_or_default(),
            body: Vec::new(),
        }
    }

    #[test]
    fn links_follow_the_called_host_or_the_scenario() {
        let conn = ConnInfo {
            tls: true,
            local: "127.0.0.1:8443".parse().expect("addr"),
        };
        let hosts = Hosts {
            arm_http: "127.0.0.1:8080".parse().expect("addr"),
            foreign: "127.0.0.1:9090".parse().expect("addr"),
        };
        let same = |host| base(&LinkHost::Same, &request(host), &conn, &hosts);
        assert_eq!(same(Some("localhost:8443")), "https://localhost:8443");
        assert_eq!(same(Some("[::1]:8443")), "https://[::1]:8443");
        assert_eq!(same(Some("localhost")), "https://localhost:8443");
        assert_eq!(same(None), "https://127.0.0.1:8443");
        let plain = base(
            &LinkHost::PlainHttp,
            &request(Some("localhost:8443")),
            &conn,
            &hosts,
        );
        assert_eq!(plain, "http://localhost:8080");
        let foreign = base(&LinkHost::Foreign, &request(None), &conn, &hosts);
        assert_eq!(foreign, "http://127.0.0.1:9090");
    }
}
