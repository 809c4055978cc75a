//! A TLS-terminating forwarding proxy in front of Azurite that breaks downloads on purpose:
//! the network a resumable, verified blob download must survive.
//!
//! It listens on 127.0.0.1 with a certificate from the test CA (SANs 127.0.0.1, `::1`,
//! `localhost`, `devstoreaccount1.blob.localhost`, `devstoreaccount1.localhost`), passes every
//! request on to Azurite over TLS as received (the `Host` header too, so Azurite still tells
//! path-style from host-style URLs), and answers with Azurite's response, streamed both ways
//! in 64 KiB pieces. What [`CutterOptions`] asks for changes that:
//!
//! - **cut**: for the first K `GET` answers that are 2xx with a body longer than N bytes, the
//!   head and N body bytes are sent, then the TCP connection is shut down: no more bytes, no
//!   TLS `close_notify`, as when a connection drops. A hook then runs before any further
//!   request is forwarded (to replace the blob through Azurite directly, so its `ETag`
//!   changes between the cut and the resumption; the hook must not go through the cutter).
//! - **deny for T**: for T from the cutter's start, every request is answered 403
//!   `AuthorizationPermissionMismatch` (a role assignment that has not propagated yet).
//! - **busy for K**: the first K requests are answered 503 `ServerBusy`.
//!
//! Always, as Storage (not Azurite) does, a bearer request without `x-ms-version` 2017-11-09
//! or later is answered 403 `AuthenticationFailed` ("Authentication scheme Bearer is not
//! supported in this version.").
//!
//! Both answers have Storage's real shape (see `storage`). Every request is recorded with the
//! headers a resumable client's behaviour shows in ([`Forwarded`]).
//!
//! Not handled: `Expect: 100-continue` (ureq, hence armi and the blob client, never send it; a
//! client that does, as curl does for large uploads, waits its own timeout, a second for curl,
//! before sending the body).

use std::io::{self, BufReader, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection, StreamOwned};

use crate::azurite::{AZURITE_ACCOUNT, Azurite};
use crate::relay::{Copied, Framing, Head, copy_body, read_head};
use crate::storage::{
    BEARER_NEEDS_VERSION, FIRST_BEARER_VERSION, PERMISSION_MISMATCH, SERVER_BUSY, StorageError,
};
use crate::tls::{TestCa, with_loopback};

/// How often blocked sockets look whether the cutter is stopping.
const POLL: Duration = Duration::from_millis(50);

/// Runs after a cut, with the cut's number (1 for the first).
pub type CutHook = Arc<dyn Fn(u32) + Send + Sync>;

/// What the cutter does besides forwarding. `CutterOptions::default()` forwards everything.
#[derive(Clone, Default)]
pub struct CutterOptions {
    cut_after: u64,
    cuts: u32,
    hook: Option<CutHook>,
    deny_for: Duration,
    busy: u32,
}

impl CutterOptions {
    /// Cut the first `times` 2xx `GET` answers whose body is longer than `after_bytes`, after
    /// that many body bytes.
    pub fn cut(mut self, after_bytes: u64, times: u32) -> Self {
        self.cut_after = after_bytes;
        self.cuts = times;
        self
    }

    /// Run `hook` after each cut, before the next request is forwarded.
    pub fn after_cut(mut self, hook: impl Fn(u32) + Send + Sync + 'static) -> Self {
        self.hook = Some(Arc::new(hook));
        self
    }

    /// Answer 403 `AuthorizationPermissionMismatch` for `window` from the start.
    pub fn deny_for(mut self, window: Duration) -> Self {
        self.deny_for = window;
        self
    }

    /// Answer 503 `ServerBusy` to the first `times` requests.
    pub fn busy(mut self, times: u32) -> Self {
        self.busy = times;
        self
    }
}

/// Who answered a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnsweredBy {
    /// Azurite (possibly cut).
    Azurite,
    /// The cutter: 403 `AuthorizationPermissionMismatch`.
    Denied,
    /// The cutter: 503 `ServerBusy`.
    Busy,
    /// The cutter, as Storage does for a bearer token without `x-ms-version` 2017-11-09 or
    /// later (Azurite would take it): 403 `AuthenticationFailed`.
    OldVersion,
}

/// One request the cutter received, and what became of it.
#[derive(Clone, Debug)]
pub struct Forwarded {
    pub method: String,
    /// `/path?query` as received.
    pub target: String,
    pub range: Option<String>,
    pub if_match: Option<String>,
    pub x_ms_version: Option<String>,
    pub client_request_id: Option<String>,
    /// Whether an `Authorization` header came (its value is never kept).
    pub authorization: bool,
    pub content_length: Option<String>,
    pub transfer_encoding: Option<String>,
    /// The status sent, if any head was.
    pub status: Option<u16>,
    pub answered_by: AnsweredBy,
    /// The response body bytes sent.
    pub body_bytes: u64,
    /// The connection was cut in this response's body.
    pub cut: bool,
    /// When the cutter took it up: after any hook that was running had returned.
    pub at: Instant,
}

/// A running cutter. Dropping it stops it.
pub struct Cutter {
    addr: SocketAddr,
    state: Arc<State>,
    thread: Option<JoinHandle<()>>,
}

struct State {
    options: CutterOptions,
    started: Instant,
    upstream: SocketAddr,
    client: Arc<ClientConfig>,
    server: Arc<ServerConfig>,
    stopping: AtomicBool,
    counters: Mutex<Counters>,
    /// Forwarding takes it for reading before each request; a cut holds it for writing from
    /// the moment it closes the socket until its hook returns.
    gate: RwLock<()>,
    journal: Mutex<Vec<Forwarded>>,
    /// Requests taken up and not yet recorded: the client may have its whole answer before
    /// the cutter records it, so [`Cutter::requests`] waits for these.
    in_flight: std::sync::atomic::AtomicUsize,
}

#[derive(Default)]
struct Counters {
    requests: u32,
    cuts: u32,
}

impl Cutter {
    /// Starts a cutter in front of `azurite`, its certificate issued by `ca` (which must be
    /// the CA of Azurite's certificate too). Panics if it cannot listen.
    pub fn start(azurite: &Azurite, ca: &TestCa, options: CutterOptions) -> Cutter {
        let upstream = SocketAddr::from((Ipv4Addr::LOCALHOST, azurite.port()));
        Cutter::try_start(upstream, ca, options).expect("the cutter failed to start")
    }

    /// A cutter in front of any TLS server at `upstream` whose certificate `ca` issued for
    /// its IP address.
    pub fn try_start(
        upstream: SocketAddr,
        ca: &TestCa,
        options: CutterOptions,
    ) -> io::Result<Cutter> {
        let names = with_loopback(&[
            format!("{AZURITE_ACCOUNT}.blob.localhost"),
            format!("{AZURITE_ACCOUNT}.localhost"),
        ]);
        let state = Arc::new(State {
            options,
            started: Instant::now(),
            upstream,
            client: ca.client_config(),
            server: ca.issue("armi-emulator cutter", &names).server_config(),
            stopping: AtomicBool::new(false),
            counters: Mutex::new(Counters::default()),
            gate: RwLock::new(()),
            journal: Mutex::new(Vec::new()),
            in_flight: std::sync::atomic::AtomicUsize::new(0),
        });
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let accepting = Arc::clone(&state);
        let thread = std::thread::Builder::new()
            .name("cutter-accept".into())
            .spawn(move || accept(listener, accepting))?;
        Ok(Cutter {
            addr,
            state,
            thread: Some(thread),
        })
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `https://127.0.0.1:PORT/devstoreaccount1`: Azurite's account, path-style, through the
    /// cutter.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}/{AZURITE_ACCOUNT}", self.port())
    }

    /// `https://devstoreaccount1.blob.localhost:PORT`: the same, host-style.
    pub fn host_style_url(&self) -> String {
        format!("https://{AZURITE_ACCOUNT}.blob.localhost:{}", self.port())
    }

    /// Every request received so far, in order of completion, once those being answered are
    /// recorded too (for at most a second).
    pub fn requests(&self) -> Vec<Forwarded> {
        let until = Instant::now() + Duration::from_secs(1);
        while self.state.in_flight.load(Ordering::SeqCst) > 0 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
        lock(&self.state.journal).clone()
    }

    /// How many connections were cut so far.
    pub fn cuts(&self) -> u32 {
        lock(&self.state.counters).cuts
    }
}

impl Drop for Cutter {
    fn drop(&mut self) {
        self.state.stopping.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One request between its head and its record (or the error that ends its connection).
struct InFlight<'s>(&'s State);

impl<'s> InFlight<'s> {
    fn new(state: &'s State) -> InFlight<'s> {
        state.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(state)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn accept(listener: TcpListener, state: Arc<State>) {
    for stream in listener.incoming() {
        if state.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let state = Arc::clone(&state);
        let _ = std::thread::Builder::new()
            .name("cutter".into())
            .spawn(move || {
                let _ = serve(stream, &state);
            });
    }
}

/// A socket whose blocking calls give up only when the cutter stops.
struct Watchful {
    tcp: TcpStream,
    state: Arc<State>,
}

impl Watchful {
    fn new(tcp: TcpStream, state: &Arc<State>) -> io::Result<Watchful> {
        tcp.set_nodelay(true)?;
        tcp.set_read_timeout(Some(POLL))?;
        tcp.set_write_timeout(Some(POLL))?;
        Ok(Watchful {
            tcp,
            state: Arc::clone(state),
        })
    }

    fn retry<T>(&mut self, mut op: impl FnMut(&mut TcpStream) -> io::Result<T>) -> io::Result<T> {
        loop {
            match op(&mut self.tcp) {
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) && !self.state.stopping.load(Ordering::SeqCst) =>
                {
                    continue;
                }
                other => return other,
            }
        }
    }
}

impl Read for Watchful {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.retry(|tcp| tcp.read(buf))
    }
}

impl Write for Watchful {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.retry(|tcp| tcp.write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.retry(|tcp| tcp.flush())
    }
}

type Downstream = BufReader<StreamOwned<ServerConnection, Watchful>>;
type Upstream = BufReader<StreamOwned<ClientConnection, Watchful>>;

/// Serves one client connection until it closes, or until a cut.
fn serve(tcp: TcpStream, state: &Arc<State>) -> io::Result<()> {
    let raw = tcp.try_clone()?;
    let session = ServerConnection::new(Arc::clone(&state.server)).map_err(io::Error::other)?;
    let mut client: Downstream =
        BufReader::new(StreamOwned::new(session, Watchful::new(tcp, state)?));
    let mut upstream: Option<Link> = None;
    while let Some(request) = read_head(&mut client)? {
        let _taken = InFlight::new(state);
        // Wait for a hook that runs after a cut.
        drop(state.gate.read().unwrap_or_else(|e| e.into_inner()));
        let mut record = Forwarded::of(&request);
        let verdict = state.verdict(&request);
        if verdict != AnsweredBy::Azurite {
            copy_body(
                &mut client,
                &mut io::sink(),
                request.request_framing()?,
                None,
            )?;
            let error: &StorageError = match verdict {
                AnsweredBy::Busy => &SERVER_BUSY,
                AnsweredBy::OldVersion => &BEARER_NEEDS_VERSION,
                _ => &PERMISSION_MISMATCH,
            };
            let answer = error.to_bytes(
                request.header("x-ms-client-request-id"),
                request.header("x-ms-version"),
            );
            client.get_mut().write_all(&answer)?;
            client.get_mut().flush()?;
            record.answered_by = verdict;
            record.status = Some(error.status);
            state.record(record);
            if request.closes() {
                return Ok(());
            }
            continue;
        }
        // A connection Azurite may be closing is not used: the request's body could not be
        // sent again on a fresh one.
        if upstream.as_ref().is_some_and(|link| !link.usable()) {
            upstream = None;
        }
        let link = match upstream.as_mut() {
            Some(link) => link,
            None => upstream.insert(Link::open(state)?),
        };
        link.last_used = Instant::now();
        let outcome = forward(&request, &mut client, &mut link.stream, state, &mut record)?;
        link.last_used = Instant::now();
        state.record(record);
        match outcome {
            Outcome::KeepBoth => {}
            Outcome::ReconnectUpstream => upstream = None,
            Outcome::Close => return Ok(()),
            Outcome::Cut(number) => {
                let _held = state.gate.write().unwrap_or_else(|e| e.into_inner());
                let _ = raw.shutdown(Shutdown::Both);
                if let Some(hook) = &state.options.hook {
                    hook(number);
                }
                return Ok(());
            }
        }
    }
    Ok(())
}

/// What happens after a forwarded exchange.
enum Outcome {
    KeepBoth,
    /// Azurite closes its side: the next request needs a new connection to it.
    ReconnectUpstream,
    /// The client asked to close.
    Close,
    /// The response was cut; this is the cut's number.
    Cut(u32),
}

/// Azurite closes connections idle for 5 s (`--blobKeepAliveTimeout`); one idle for this
/// long is not reused, so that a request never races that close.
const UPSTREAM_IDLE: Duration = Duration::from_secs(3);

/// A connection to Azurite.
struct Link {
    stream: Upstream,
    raw: TcpStream,
    last_used: Instant,
}

impl Link {
    fn open(state: &Arc<State>) -> io::Result<Link> {
        let tcp = TcpStream::connect_timeout(&state.upstream, Duration::from_secs(5))?;
        let raw = tcp.try_clone()?;
        let name = ServerName::IpAddress(state.upstream.ip().into());
        let session =
            ClientConnection::new(Arc::clone(&state.client), name).map_err(io::Error::other)?;
        Ok(Link {
            stream: BufReader::new(StreamOwned::new(session, Watchful::new(tcp, state)?)),
            raw,
            last_used: Instant::now(),
        })
    }

    /// Not idle for long, and with nothing to read (a connection between answers that has
    /// bytes waiting, or an end of stream, is being closed).
    fn usable(&self) -> bool {
        if self.last_used.elapsed() >= UPSTREAM_IDLE || !self.stream.buffer().is_empty() {
            return false;
        }
        if self.raw.set_nonblocking(true).is_err() {
            return false;
        }
        let quiet = matches!(
            self.raw.peek(&mut [0u8; 1]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock
        );
        self.raw.set_nonblocking(false).is_ok() && quiet
    }
}

/// Passes one request to Azurite and its answer back, cutting it if it is due.
fn forward(
    request: &Head,
    client: &mut Downstream,
    upstream: &mut Upstream,
    state: &State,
    record: &mut Forwarded,
) -> io::Result<Outcome> {
    upstream.get_mut().write_all(&request.raw)?;
    copy_body(client, upstream.get_mut(), request.request_framing()?, None)?;
    upstream.get_mut().flush()?;
    let response = loop {
        let head = read_head(upstream)?
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "Azurite closed"))?;
        if head.status() >= 200 || head.status() == 101 {
            break head;
        }
        // 100 Continue and friends go straight through.
        client.get_mut().write_all(&head.raw)?;
    };
    record.status = Some(response.status());
    let framing = response.response_framing(request.method())?;
    let cut = state.cut_due(request, &response, framing);
    client.get_mut().write_all(&response.raw)?;
    let limit = cut.map(|_| state.options.cut_after);
    let Copied { bytes, complete } = copy_body(upstream, client.get_mut(), framing, limit)?;
    record.body_bytes = bytes;
    match (cut, complete) {
        (Some(number), false) => {
            record.cut = true;
            return Ok(Outcome::Cut(number));
        }
        // A body of unknown length that ended before the limit: nothing was cut.
        (Some(_), true) => state.uncount_cut(),
        (None, _) => {}
    }
    if request.closes() {
        return Ok(Outcome::Close);
    }
    if response.closes() || framing == Framing::UntilClose {
        return Ok(Outcome::ReconnectUpstream);
    }
    Ok(Outcome::KeepBoth)
}

impl State {
    /// Who answers `request`, counting it.
    fn verdict(&self, request: &Head) -> AnsweredBy {
        let mut counters = lock(&self.counters);
        counters.requests += 1;
        let bearer = request
            .header("authorization")
            .is_some_and(|a| a.len() > 7 && a[..7].eq_ignore_ascii_case("bearer "));
        let version = request.header("x-ms-version").unwrap_or_default();
        if counters.requests <= self.options.busy {
            AnsweredBy::Busy
        } else if bearer && version < FIRST_BEARER_VERSION {
            AnsweredBy::OldVersion
        } else if self.started.elapsed() < self.options.deny_for {
            AnsweredBy::Denied
        } else {
            AnsweredBy::Azurite
        }
    }

    /// The number of the cut this response gets, if it gets one (counting it).
    fn cut_due(&self, request: &Head, response: &Head, framing: Framing) -> Option<u32> {
        let long_enough = match framing {
            Framing::Length(n) => n > self.options.cut_after,
            Framing::Chunked | Framing::UntilClose => true,
            Framing::Empty => false,
        };
        let eligible = request.method().eq_ignore_ascii_case("GET")
            && (200..300).contains(&response.status())
            && long_enough;
        let mut counters = lock(&self.counters);
        if !eligible || counters.cuts >= self.options.cuts {
            return None;
        }
        counters.cuts += 1;
        Some(counters.cuts)
    }

    fn uncount_cut(&self) {
        let mut counters = lock(&self.counters);
        counters.cuts = counters.cuts.saturating_sub(1);
    }

    fn record(&self, entry: Forwarded) {
        lock(&self.journal).push(entry);
    }
}

impl Forwarded {
    fn of(request: &Head) -> Forwarded {
        let header = |name| request.header(name).map(str::to_string);
        Forwarded {
            method: request.method().to_string(),
            target: request.target().to_string(),
            range: header("range"),
            if_match: header("if-match"),
            x_ms_version: header("x-ms-version"),
            client_request_id: header("x-ms-client-request-id"),
            authorization: request.header("authorization").is_some(),
            content_length: header("content-length"),
            transfer_encoding: header("transfer-encoding"),
            status: None,
            answered_by: AnsweredBy::Azurite,
            body_bytes: 0,
            cut: false,
            at: Instant::now(),
        }
    }
}
