//! An HTTP CONNECT proxy that records every request and tunnels only to this emulator's own
//! listeners. It never resolves or dials anything else, so a test can point armi at it and
//! prove where armi wanted to go without any packet leaving the machine.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use crate::http::{ReadError, Request, Response, read_request};
use crate::record::Service;
use crate::server::{Patient, reachable};
use crate::state::Shared;

/// Where CONNECT may lead.
#[derive(Clone)]
pub struct Targets {
    /// The emulator's own listeners (IMDS, ARM over TLS and HTTP, foreign).
    pub own: Vec<SocketAddr>,
    /// ARM's TLS listener, for CONNECTs to one of ARM's certificate names.
    pub arm_tls: SocketAddr,
    /// Extra names ARM's certificate carries (e.g. `management.azure.com`).
    pub arm_names: Vec<String>,
}

impl Targets {
    /// The listener a `host:port` CONNECT target designates, if it is one of ours.
    fn resolve(&self, target: &str) -> Option<SocketAddr> {
        let (host, port) = target.rsplit_once(':')?;
        let port: u16 = port.parse().ok()?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if self.arm_names.iter().any(|n| n.eq_ignore_ascii_case(host))
            && (port == 443 || port == self.arm_tls.port())
        {
            return Some(reachable(self.arm_tls));
        }
        let loopback = matches!(
            host.to_ascii_lowercase().as_str(),
            "127.0.0.1" | "localhost" | "::1"
        );
        self.own
            .iter()
            .find(|addr| addr.port() == port && (loopback || addr.ip().to_string() == host))
            .map(|addr| reachable(*addr))
    }
}

/// Serves one client connection of the proxy.
pub fn serve(tcp: TcpStream, targets: Targets, shared: Arc<Shared>) {
    let _ = serve_connection(tcp, &targets, &shared);
}

fn serve_connection(tcp: TcpStream, targets: &Targets, shared: &Arc<Shared>) -> io::Result<()> {
    let client = tcp.try_clone()?;
    let mut reader = BufReader::new(Patient::new(tcp, Arc::clone(shared))?);
    let request = match read_request(&mut reader) {
        Ok(Some(request)) => request,
        Ok(None) | Err(ReadError::Closed) => return Ok(()),
        Err(ReadError::Malformed(_)) => return refuse(reader.get_mut(), 400, "Bad Request"),
    };
    shared.journal.record(Service::Proxy, &request);
    if shared.logs() {
        eprintln!("armi-emulator: Proxy {} {}", request.method, request.target);
    }
    let upstream = match connect_target(&request, targets) {
        Some(upstream) => upstream,
        None => {
            return refuse(
                reader.get_mut(),
                403,
                "Forbidden by the armi emulator's proxy",
            );
        }
    };
    let mut upstream = upstream?;
    reader
        .get_mut()
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
    // Bytes the client sent right behind the CONNECT head belong to the tunnel.
    upstream.write_all(reader.buffer())?;
    let pending = reader.buffer().len();
    reader.consume(pending);
    tunnel(client, upstream, shared)
}

/// A connection to the CONNECT target, or `None` when the request is not a CONNECT to one of
/// the emulator's listeners (absolute-form GETs included: armi must never send those).
fn connect_target(request: &Request, targets: &Targets) -> Option<io::Result<TcpStream>> {
    if !request.method.eq_ignore_ascii_case("CONNECT") {
        return None;
    }
    let addr = targets.resolve(&request.target)?;
    Some(TcpStream::connect_timeout(&addr, Duration::from_secs(2)))
}

fn refuse(out: &mut Patient, status: u16, text: &str) -> io::Result<()> {
    let mut response = Response::new(status).header("Content-Type", "text/plain");
    response.body = format!("{text}\n").into_bytes();
    response.close = true;
    out.write_all(&response.to_bytes())
}

/// Copies bytes both ways until each side has finished sending.
fn tunnel(client: TcpStream, upstream: TcpStream, shared: &Arc<Shared>) -> io::Result<()> {
    let (client_in, upstream_out) = (client.try_clone()?, upstream.try_clone()?);
    let downstream_shared = Arc::clone(shared);
    let down = std::thread::spawn(move || pump(upstream, client, &downstream_shared));
    pump(client_in, upstream_out, shared);
    let _ = down.join();
    Ok(())
}

fn pump(from: TcpStream, to: TcpStream, shared: &Arc<Shared>) {
    let (Ok(mut from), Ok(mut to)) = (
        Patient::new(from, Arc::clone(shared)),
        Patient::new(to, Arc::clone(shared)),
    ) else {
        return;
    };
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.tcp.shutdown(Shutdown::Write);
}
