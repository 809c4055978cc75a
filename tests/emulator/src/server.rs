//! The threaded HTTP/1.1 server under every emulated service: accept loops, keep-alive
//! connections over plain TCP or TLS, and the delivery of faults (which happen on the wire,
//! so they live here rather than in the services).

use std::io::{self, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rustls::{ServerConfig, ServerConnection, StreamOwned};

use crate::http::{ReadError, Request, Response, read_request};
use crate::record::Service;
use crate::scenario::{Action, Route};
use crate::state::{POLL, Shared};

/// One emulated service's behaviour; the server does the wire.
pub trait Handler: Send + Sync {
    fn service(&self) -> Service;
    /// Whether a fault on `route` applies to this request.
    fn on_route(&self, route: &Route, request: &Request) -> bool;
    /// The normal, complete answer.
    fn respond(&self, request: &Request, conn: &ConnInfo) -> Response;
    /// The service's own error answer for `code` (a status fault).
    fn fault(
        &self,
        request: &Request,
        code: u16,
        retry_after: Option<&str>,
        conn: &ConnInfo,
    ) -> Response;
    /// Adds the headers this service puts on everything to a response the server built.
    fn decorate(&self, response: &mut Response, request: &Request, conn: &ConnInfo);
}

/// What a handler may want to know about the connection.
pub struct ConnInfo {
    pub tls: bool,
    pub local: SocketAddr,
}

/// A running accept loop.
pub struct Listener {
    pub addr: SocketAddr,
    thread: Option<JoinHandle<()>>,
}

impl Listener {
    /// Unblocks the accept loop (the emulator is stopping) and waits for it to end.
    pub fn join(&mut self) {
        let _ = TcpStream::connect_timeout(&reachable(self.addr), Duration::from_secs(1));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The address to connect to for a listener bound to `addr` (loopback for a wildcard bind).
pub fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => (Ipv4Addr::LOCALHOST, addr.port()).into(),
        IpAddr::V6(ip) if ip.is_unspecified() => (Ipv6Addr::LOCALHOST, addr.port()).into(),
        _ => addr,
    }
}

/// Serves `handler` over HTTP (TLS with `tls`) on every connection `socket` accepts.
pub fn http_service(
    socket: TcpListener,
    shared: &Arc<Shared>,
    name: &str,
    handler: Arc<dyn Handler>,
    tls: Option<Arc<ServerConfig>>,
) -> io::Result<Listener> {
    let connection_shared = Arc::clone(shared);
    spawn_acceptor(socket, Arc::clone(shared), name, move |tcp| {
        serve_http(
            tcp,
            tls.clone(),
            Arc::clone(&handler),
            Arc::clone(&connection_shared),
        )
    })
}

/// Accepts connections on `listener`, each served by `serve` on its own thread.
pub fn spawn_acceptor(
    listener: TcpListener,
    shared: Arc<Shared>,
    name: &str,
    serve: impl Fn(TcpStream) + Send + Sync + 'static,
) -> io::Result<Listener> {
    let addr = listener.local_addr()?;
    let serve = Arc::new(serve);
    let thread_name = name.to_string();
    let thread = std::thread::Builder::new()
        .name(format!("{name}-accept"))
        .spawn(move || {
            for stream in listener.incoming() {
                if shared.is_stopping() {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let serve = Arc::clone(&serve);
                let _ = std::thread::Builder::new()
                    .name(thread_name.clone())
                    .spawn(move || serve(stream));
            }
        })?;
    Ok(Listener {
        addr,
        thread: Some(thread),
    })
}

/// A socket whose blocking reads and writes give up only when the emulator stops, so that no
/// connection thread outlives its emulator by more than a poll interval.
pub struct Patient {
    pub tcp: TcpStream,
    shared: Arc<Shared>,
}

impl Patient {
    pub fn new(tcp: TcpStream, shared: Arc<Shared>) -> io::Result<Self> {
        tcp.set_read_timeout(Some(POLL))?;
        tcp.set_write_timeout(Some(POLL))?;
        Ok(Patient { tcp, shared })
    }

    fn retry<T>(&mut self, mut op: impl FnMut(&mut TcpStream) -> io::Result<T>) -> io::Result<T> {
        loop {
            match op(&mut self.tcp) {
                Err(e) if is_timeout(&e) && !self.shared.is_stopping() => continue,
                other => return other,
            }
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

impl Read for Patient {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.retry(|tcp| tcp.read(buf))
    }
}

impl Write for Patient {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.retry(|tcp| tcp.write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.retry(|tcp| tcp.flush())
    }
}

/// A connection's byte stream, plain or TLS.
enum Wire {
    Plain(Patient),
    Tls(Box<StreamOwned<ServerConnection, Patient>>),
}

impl Wire {
    /// Ends the connection the orderly way; for TLS that is a close_notify alert first.
    fn close(&mut self) {
        if let Wire::Tls(tls) = self {
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    }
}

impl Read for Wire {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Wire::Plain(plain) => plain.read(buf),
            Wire::Tls(tls) => tls.read(buf),
        }
    }
}

impl Write for Wire {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Wire::Plain(plain) => plain.write(buf),
            Wire::Tls(tls) => tls.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Wire::Plain(plain) => plain.flush(),
            Wire::Tls(tls) => tls.flush(),
        }
    }
}

/// How a connection goes on after an answer.
#[derive(PartialEq)]
enum Next {
    KeepOpen,
    /// Close after a complete response.
    Close,
    /// Drop the connection as it is (faults that break it).
    Abort,
}

/// Serves HTTP requests on one connection until either side closes it.
pub fn serve_http(
    tcp: TcpStream,
    tls: Option<Arc<ServerConfig>>,
    handler: Arc<dyn Handler>,
    shared: Arc<Shared>,
) {
    let _ = serve_connection(tcp, tls, handler.as_ref(), &shared);
}

fn serve_connection(
    tcp: TcpStream,
    tls: Option<Arc<ServerConfig>>,
    handler: &dyn Handler,
    shared: &Arc<Shared>,
) -> io::Result<()> {
    tcp.set_nodelay(true)?;
    let conn = ConnInfo {
        tls: tls.is_some(),
        local: tcp.local_addr()?,
    };
    // A second handle on the socket, to reset it without going through TLS.
    let raw = tcp.try_clone()?;
    let patient = Patient::new(tcp, Arc::clone(shared))?;
    let stream = match tls {
        Some(config) => {
            let session = ServerConnection::new(config).map_err(io::Error::other)?;
            Wire::Tls(Box::new(StreamOwned::new(session, patient)))
        }
        None => Wire::Plain(patient),
    };
    let mut reader = BufReader::new(stream);
    loop {
        let request = match read_request(&mut reader) {
            Ok(Some(request)) => request,
            Ok(None) | Err(ReadError::Closed) => return Ok(()),
            Err(ReadError::Malformed(why)) => {
                let mut response = Response::new(400).header("Content-Type", "text/plain");
                response.body = why.as_bytes().to_vec();
                response.close = true;
                return reader.get_mut().write_all(&response.to_bytes());
            }
        };
        shared.journal.record(handler.service(), &request);
        let action = shared
            .faults
            .fire(|route| handler.on_route(route, &request));
        let delivery = Delivery {
            out: reader.get_mut(),
            raw: &raw,
            request: &request,
            handler,
            conn: &conn,
            shared,
        };
        let (status, next) = delivery.run(action.as_ref())?;
        if shared.logs() {
            log_line(handler.service(), &request, status, action.as_ref());
        }
        match next {
            Next::KeepOpen => {}
            Next::Close => {
                reader.get_mut().close();
                return Ok(());
            }
            Next::Abort => return Ok(()),
        }
    }
}

/// Writes the answer to one request, faulty or not.
struct Delivery<'a> {
    out: &'a mut Wire,
    raw: &'a TcpStream,
    request: &'a Request,
    handler: &'a dyn Handler,
    conn: &'a ConnInfo,
    shared: &'a Shared,
}

impl Delivery<'_> {
    /// The status sent (if any) and what becomes of the connection.
    fn run(self, action: Option<&Action>) -> io::Result<(Option<u16>, Next)> {
        let Some(action) = action else {
            let response = self.handler.respond(self.request, self.conn);
            return self.send(response);
        };
        match action {
            Action::Status { code, retry_after } => {
                let response =
                    self.handler
                        .fault(self.request, *code, retry_after.as_deref(), self.conn);
                self.send(response)
            }
            Action::Hang => {
                // Keep the socket (held by our caller) open until the emulator stops.
                while self.shared.sleep(Duration::from_secs(3600)) {}
                Ok((None, Next::Abort))
            }
            Action::Reset => {
                reset(self.raw);
                Ok((None, Next::Abort))
            }
            Action::SlowBody { total } => {
                let response = self.handler.respond(self.request, self.conn);
                self.trickle(response, *total)
            }
            Action::Malformed => {
                let mut response = Response::new(200).header("Content-Type", "text/html");
                response.body = PROXY_PAGE.as_bytes().to_vec();
                self.handler
                    .decorate(&mut response, self.request, self.conn);
                self.send(response)
            }
            Action::ProxyPage => {
                let mut response = Response::new(200)
                    .header("Content-Type", "text/html")
                    .header("Server", "squid/5.7");
                response.body = PROXY_PAGE.as_bytes().to_vec();
                self.send(response)
            }
            Action::Truncated => {
                let mut response = self.handler.respond(self.request, self.conn);
                response.close = true;
                let half = response.body.len() / 2;
                self.out
                    .write_all(&response.head_bytes(response.body.len()))?;
                self.out.write_all(&response.body[..half])?;
                self.out.flush()?;
                Ok((Some(response.status), Next::Abort))
            }
            Action::Oversized { bytes } => self.oversized(*bytes),
            Action::Body { status, body } => {
                let mut response =
                    Response::new(*status).header("Content-Type", "application/json");
                response.body = body.as_bytes().to_vec();
                self.handler
                    .decorate(&mut response, self.request, self.conn);
                self.send(response)
            }
            Action::Raw { bytes } => {
                self.out.write_all(bytes)?;
                self.out.flush()?;
                Ok((None, Next::Abort))
            }
            Action::Redirect { to } => {
                let mut response = Response::new(302).header("Location", to);
                self.handler
                    .decorate(&mut response, self.request, self.conn);
                self.send(response)
            }
        }
    }

    fn send(self, mut response: Response) -> io::Result<(Option<u16>, Next)> {
        response.omit_body |= self.request.method.eq_ignore_ascii_case("HEAD");
        response.close |= self.request.wants_close();
        self.out.write_all(&response.to_bytes())?;
        self.out.flush()?;
        Ok((Some(response.status), next_after(&response)))
    }

    /// Headers now, then the body in small pieces spread over `total`.
    fn trickle(self, mut response: Response, total: Duration) -> io::Result<(Option<u16>, Next)> {
        response.close |= self.request.wants_close();
        self.out
            .write_all(&response.head_bytes(response.body.len()))?;
        self.out.flush()?;
        let pieces = response.body.len().clamp(1, 50);
        let piece_len = response.body.len().div_ceil(pieces).max(1);
        let pause = total / pieces as u32;
        for piece in response.body.chunks(piece_len) {
            if !self.shared.sleep(pause) {
                return Ok((Some(response.status), Next::Abort));
            }
            self.out.write_all(piece)?;
            self.out.flush()?;
        }
        Ok((Some(response.status), next_after(&response)))
    }

    /// 200 announcing `bytes` of JSON that never ends, written in pieces, never held in memory.
    fn oversized(self, bytes: usize) -> io::Result<(Option<u16>, Next)> {
        let mut response = Response::new(200);
        response.close = true;
        self.handler
            .decorate(&mut response, self.request, self.conn);
        self.out.write_all(&response.head_bytes(bytes))?;
        let start = br#"{"value":["#;
        let head = &start[..start.len().min(bytes)];
        self.out.write_all(head)?;
        let padding = [b' '; 64 * 1024];
        let mut left = bytes - head.len();
        while left > 0 && !self.shared.is_stopping() {
            let n = left.min(padding.len());
            self.out.write_all(&padding[..n])?;
            left -= n;
        }
        self.out.flush()?;
        Ok((Some(200), Next::Close))
    }
}

fn next_after(response: &Response) -> Next {
    if response.close {
        Next::Close
    } else {
        Next::KeepOpen
    }
}

/// What a TLS-inspecting proxy or captive portal answers instead of the service.
const PROXY_PAGE: &str = "<!DOCTYPE html>\n<html><head><title>Access Denied</title></head>\
<body><h1>Web Page Blocked</h1><p>Access to the requested URL has been blocked by your \
organization's web proxy.</p></body></html>\n";

/// Makes the coming close a TCP reset (SO_LINGER 0) instead of an orderly FIN.
fn reset(tcp: &TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: the descriptor is open for the lifetime of `tcp`, and the option value points to a
    // `linger` of the size passed.
    unsafe {
        libc::setsockopt(
            tcp.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

fn log_line(service: Service, request: &Request, status: Option<u16>, action: Option<&Action>) {
    let status = status.map_or("-".to_string(), |s| s.to_string());
    let fault = action.map_or(String::new(), |a| format!(" (fault: {a:?})"));
    eprintln!(
        "armi-emulator: {service:?} {} {} -> {status}{fault}",
        request.method, request.target
    );
}
