//! Transport: the two HTTP agents (identity endpoint and ARM), the one deadline, retries with
//! backoff, body caps, proxy rules and the `-v` trace.
//!
//! The identity endpoint is always reached directly (IMDS documents that proxies must be
//! bypassed); ARM honours the proxy variables with curl's rules, which armi reads itself because
//! ureq's own reading differs from curl's. No agent follows redirects: a redirect would carry
//! the request to a host armi did not choose.

use std::cell::{Cell, OnceCell, RefCell};
use std::io::IsTerminal;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ureq::Agent;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

use crate::error::{Error, Kind, Result, redact};

/// Bodies larger than this from the identity endpoint are refused.
pub const IMDS_BODY_CAP: u64 = 1 << 20;
/// Bodies larger than this from ARM are refused.
pub const ARM_BODY_CAP: u64 = 32 << 20;
/// How long "connection refused" or "unreachable" is retried: long enough for cloud-init at early
/// boot, short enough that a machine that is not on Azure learns it fast.
pub const UNREACHABLE_WINDOW: Duration = Duration::from_secs(10);
/// Connect timeout to the identity endpoint (a local, non-routed address: it answers fast or not
/// at all).
const IMDS_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Connect timeout to ARM. ureq counts the proxy CONNECT and the TLS handshake as part of
/// connecting, so this is longer than the identity endpoint's.
const ARM_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// One attempt at the identity endpoint may take this long before it is retried.
const IMDS_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(20);
const BACKOFF_FIRST: Duration = Duration::from_secs(1);
const BACKOFF_CAP: Duration = Duration::from_secs(10);
/// When stderr is a terminal and armi has waited this long, it says what it is waiting for.
const PROGRESS_AFTER: Duration = Duration::from_secs(2);

const USER_AGENT: &str = concat!("armi/", env!("CARGO_PKG_VERSION"));

/// Which service a request goes to; it decides the agent, the cap and the retry rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// IMDS (VMs and scale sets): plain HTTP, never a proxy, IMDS's retry rules (410 for 70 s).
    Imds,
    /// Another identity host on this machine (Arc, App Service, Cloud Shell, Azure ML): plain
    /// HTTP, never a proxy. The label names it in messages.
    Local(&'static str),
    /// Service Fabric's identity endpoint: HTTPS to a certificate pinned by its thumbprint.
    Pinned(&'static str),
    /// Azure Resource Manager, or another Azure API (`armi rest --resource`).
    Arm,
    /// Entra ID's token endpoint (workload identity): remote, like ARM, but a token request is
    /// safe to repeat.
    Entra,
}

impl Service {
    pub fn label(self) -> &'static str {
        match self {
            Service::Imds => "IMDS",
            Service::Local(name) | Service::Pinned(name) => name,
            Service::Arm => "ARM",
            Service::Entra => "Entra ID",
        }
    }

    /// Identity endpoints on this machine: nothing answering there means "not on such a host".
    fn is_local(self) -> bool {
        matches!(self, Service::Imds | Service::Local(_) | Service::Pinned(_))
    }
}

/// A base URL given on the command line or in the environment: scheme, host, port, path prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub https: bool,
    /// Host as written (IPv6 without brackets), lower-cased.
    pub host: String,
    pub port: Option<u16>,
    /// Path prefix without trailing slash ("" for none).
    pub path: String,
}

impl Endpoint {
    /// Parses `http(s)://host[:port][/path]`. No user info, query or fragment: a base URL has
    /// no use for them, and user info would be a secret in `-v` output.
    pub fn parse(text: &str) -> std::result::Result<Endpoint, String> {
        if text.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err("contains whitespace or control characters".into());
        }
        let (https, rest) = if let Some(r) = strip_prefix_ci(text, "https://") {
            (true, r)
        } else if let Some(r) = strip_prefix_ci(text, "http://") {
            (false, r)
        } else {
            return Err("must start with http:// or https://".into());
        };
        if rest.contains(['?', '#']) {
            return Err("must not have a query or fragment".into());
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err("must not contain user info".into());
        }
        let (host, port) = split_host_port(authority)?;
        if host.is_empty() {
            return Err("has no host".into());
        }
        if path.split('/').any(|s| s == ".." || s == ".") {
            return Err("must not contain '.' or '..' path segments".into());
        }
        Ok(Endpoint {
            https,
            host: host.to_ascii_lowercase(),
            port,
            path: path.to_string(),
        })
    }

    /// True when the host is on this machine (127.0.0.0/8, ::1, localhost).
    pub fn is_loopback(&self) -> bool {
        if self.host == "localhost" || self.host.ends_with(".localhost") {
            return true;
        }
        self.host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    /// `scheme://host[:port]`, the origin a token may be sent to.
    pub fn origin(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match self.port {
            Some(p) => format!("{scheme}://{host}:{p}"),
            None => format!("{scheme}://{host}"),
        }
    }

    /// The full URL for a path (which starts with `/`) and an already-encoded query.
    pub fn url(&self, path: &str, query: &str) -> String {
        let mut url = format!("{}{}{}", self.origin(), self.path, path);
        if !query.is_empty() {
            url.push('?');
            url.push_str(query);
        }
        url
    }
}

fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

fn split_host_port(authority: &str) -> std::result::Result<(&str, Option<u16>), String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let end = rest.find(']').ok_or("has an unclosed '[' in the host")?;
        let after = &rest[end + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err("has junk after the IPv6 address".into()),
        };
        (&rest[..end], port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) => Some(
            p.parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| format!("has an invalid port '{p}'"))?,
        ),
        None => None,
    };
    // A colon belongs only to an IPv6 address, and that only in brackets (split off above): the
    // HTTP stack would refuse anything else, or read another host from it.
    let valid_host = if authority.starts_with('[') {
        host.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        host.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    };
    if !valid_host {
        return Err(format!("has an invalid host '{host}'"));
    }
    Ok((host, port))
}

/// The single deadline of a command, retries included.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    end: Instant,
    total: Duration,
}

impl Deadline {
    pub fn after(total: Duration) -> Deadline {
        Deadline {
            end: Instant::now() + total,
            total,
        }
    }

    /// Time left, or `None` once it has passed.
    pub fn remaining(&self) -> Option<Duration> {
        self.end
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
    }

    pub fn total(&self) -> Duration {
        self.total
    }
}

/// One request, as the service modules describe it.
pub struct Request<'a> {
    pub service: Service,
    pub method: &'a str,
    pub url: String,
    /// What is being done, for messages: "get a token", "GET resource group 'x'".
    pub what: String,
    /// Headers besides the defaults. The bearer token goes in `bearer`, never here.
    pub headers: Vec<(&'a str, String)>,
    pub bearer: Option<&'a str>,
    pub body: Option<Vec<u8>>,
}

/// A response that armi read to the end (within the cap).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Set when this was a retryable answer and armi stopped retrying: why.
    pub gave_up: Option<String>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `Retry-After` in seconds (the only form IMDS and ARM send).
    pub fn retry_after(&self) -> Option<Duration> {
        let v = self.header("retry-after")?.trim();
        v.parse::<u64>().ok().map(Duration::from_secs)
    }
}

/// How an identity host on this machine or its host (IMDS, Arc, App Service, Service Fabric...)
/// is reached: directly, never through a proxy, never following a redirect.
fn local_host_config() -> ureq::config::ConfigBuilder<ureq::typestate::AgentScope> {
    Agent::config_builder()
        .proxy(None)
        .max_redirects(0)
        .http_status_as_error(false)
        .timeout_connect(Some(IMDS_CONNECT_TIMEOUT))
        .user_agent(USER_AGENT)
        .accept("application/json")
}

/// The transport settings a command runs with.
pub struct Http {
    identity: Agent,
    arm_transport: Option<ArmTransport>,
    /// One agent per remote host (ARM, another API, Entra ID), built when first needed.
    remote: RefCell<Vec<(String, Agent)>>,
    pinned: OnceCell<Agent>,
    pub deadline: Deadline,
    pub verbose: bool,
    progress_shown: Cell<bool>,
}

/// How ARM (or another API armi sends a token to) is reached: trusted roots and the proxy
/// variables, read and checked before anything is sent. The agent itself is built once the
/// destination is known, because `NO_PROXY` depends on the host.
#[derive(Clone)]
pub struct ArmTransport {
    pub roots: Option<Vec<Certificate<'static>>>,
    pub proxies: ProxyEnv,
}

impl Http {
    pub fn new(deadline: Deadline, verbose: bool, arm: Option<ArmTransport>) -> Http {
        let identity = local_host_config().build().new_agent();
        Http {
            identity,
            arm_transport: arm,
            remote: RefCell::new(Vec::new()),
            pinned: OnceCell::new(),
            deadline,
            verbose,
            progress_shown: Cell::new(false),
        }
    }

    /// Builds the agent for a remote host (ARM, another API, Entra ID): the trusted roots, and
    /// the proxy the environment names for this host.
    pub fn open_remote(&self, host: &str, https: bool) -> Result<()> {
        let key = remote_key(host, https);
        if self.remote.borrow().iter().any(|(k, _)| *k == key) {
            return Ok(());
        }
        let Some(transport) = &self.arm_transport else {
            return Err(Error::failed(
                "internal: no transport for remote hosts was set up",
            ));
        };
        let roots = match &transport.roots {
            Some(certs) => RootCerts::Specific(Arc::new(certs.clone())),
            None => RootCerts::WebPki,
        };
        let proxy = match transport.proxies.for_host(host, https) {
            Some((name, url)) => {
                self.trace(&format!(
                    "{host} via proxy {} (from {name})",
                    proxy_display(&url)
                ));
                Some(ureq::Proxy::new(&url).map_err(|e| {
                    Error::usage(format!(
                        "{name}: '{}' is not a usable proxy URL: {e}",
                        proxy_display(&url)
                    ))
                })?)
            }
            None => None,
        };
        let agent = Agent::config_builder()
            .proxy(proxy)
            .https_only(https)
            .max_redirects(0)
            .http_status_as_error(false)
            .timeout_connect(Some(ARM_CONNECT_TIMEOUT))
            .tls_config(TlsConfig::builder().root_certs(roots).build())
            .user_agent(USER_AGENT)
            .accept("application/json")
            .build()
            .new_agent();
        self.remote.borrow_mut().push((key, agent));
        Ok(())
    }

    /// Builds the agent for an identity endpoint whose certificate is pinned by thumbprint
    /// (Service Fabric): never a proxy, and no web PKI: only that certificate is trusted.
    pub fn open_pinned(&self, pin: crate::pinned::Pin) {
        if self.pinned.get().is_some() {
            return;
        }
        let _ = self
            .pinned
            .set(crate::pinned::agent(local_host_config().build(), pin));
    }

    /// Writes one `-v` line (redacted).
    pub fn trace(&self, line: &str) {
        if self.verbose {
            eprintln!("armi: {}", redact(line));
        }
    }

    /// Sends a request, retrying what the service's rules allow until the deadline. Retryable
    /// statuses that outlast the retries come back as a `Reply` with `gave_up` set, so that the
    /// service module can report the service's own error text.
    pub fn send(&self, req: &Request) -> Result<Reply> {
        let first = Instant::now();
        for attempt in 1u32.. {
            let Some(remaining) = self.deadline.remaining() else {
                return Err(self.deadline_passed(req, attempt - 1));
            };
            let outcome = self.attempt(req, remaining);
            let mut nothing_answered = false;
            let (reason, retry_after, last) = match outcome {
                Ok(reply) => match retry_reason(req, reply.status) {
                    None => return Ok(reply),
                    Some(reason) => (reason, reply.retry_after(), Some(reply)),
                },
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Unreachable(why)) => {
                    nothing_answered = true;
                    (why, None, None)
                }
                Err(Failure::Transient(why)) => (why, None, None),
            };
            let mut wait = retry_after
                .map(|d| d.max(Duration::from_millis(100)))
                .unwrap_or_else(|| backoff(attempt));
            let left = self.deadline.remaining().unwrap_or_default();
            if nothing_answered {
                // Nothing listening is its own verdict (exit 3), given once the early-boot
                // window or the deadline is over; the last try lands at the window's end.
                let window_left = UNREACHABLE_WINDOW.saturating_sub(first.elapsed());
                if window_left.is_zero() || left.is_zero() {
                    return Err(unreachable(req, &reason, first.elapsed()));
                }
                wait = wait.min(window_left);
                if wait >= left {
                    return Err(unreachable(req, &reason, first.elapsed()));
                }
            }
            if wait >= left {
                let why = format!(
                    "{reason}; gave up after {attempt} attempt{} in {:.0} s (--timeout {} s)",
                    if attempt == 1 { "" } else { "s" },
                    first.elapsed().as_secs_f64(),
                    self.deadline.total().as_secs()
                );
                return match last {
                    Some(mut reply) => {
                        reply.gave_up = Some(why);
                        Ok(reply)
                    }
                    None => Err(Error::new(Kind::GaveUp, format!("{}: {why}", req.what))),
                };
            }
            self.trace(&format!(
                "{} {reason}; retry {attempt} in {:.1} s ({:.0} s left)",
                req.service.label(),
                wait.as_secs_f64(),
                left.as_secs_f64()
            ));
            self.show_progress(req, &reason, first.elapsed());
            std::thread::sleep(wait);
        }
        unreachable!("the attempt counter is unbounded")
    }

    fn remote_agent(&self, url: &str) -> Option<Agent> {
        let endpoint = Endpoint::parse(origin_of(url)).ok()?;
        let key = remote_key(&endpoint.host, endpoint.https);
        self.remote
            .borrow()
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, agent)| agent.clone())
    }

    fn deadline_passed(&self, req: &Request, attempts: u32) -> Error {
        Error::new(
            Kind::GaveUp,
            format!(
                "{}: the --timeout of {} s passed after {attempts} attempt(s)",
                req.what,
                self.deadline.total().as_secs()
            ),
        )
    }

    /// One line, once, for a person watching a terminal while armi waits.
    fn show_progress(&self, req: &Request, reason: &str, waited: Duration) {
        // `waited` is the time since the first attempt of this request.
        if self.verbose || self.progress_shown.get() || waited < PROGRESS_AFTER {
            return;
        }
        if !std::io::stderr().is_terminal() {
            return;
        }
        self.progress_shown.set(true);
        let left = self.deadline.remaining().unwrap_or_default();
        eprintln!(
            "armi: still trying to {} ({reason}); will keep retrying for up to {:.0} s (-v shows each retry)",
            req.what,
            left.as_secs_f64()
        );
    }

    fn attempt(&self, req: &Request, remaining: Duration) -> std::result::Result<Reply, Failure> {
        let local_timeout = remaining.min(IMDS_ATTEMPT_TIMEOUT);
        let remote;
        let pinned;
        let (agent, cap, timeout) = match req.service {
            Service::Imds | Service::Local(_) => (&self.identity, IMDS_BODY_CAP, local_timeout),
            Service::Pinned(_) => {
                pinned = self.pinned.get().cloned();
                match &pinned {
                    Some(agent) => (agent, IMDS_BODY_CAP, local_timeout),
                    None => {
                        return Err(Failure::Fatal(Error::failed(
                            "internal: pinned agent used before it was set up",
                        )));
                    }
                }
            }
            Service::Arm | Service::Entra => {
                remote = self.remote_agent(&req.url);
                match &remote {
                    Some(agent) => (agent, ARM_BODY_CAP, remaining),
                    None => {
                        return Err(Failure::Fatal(Error::failed(format!(
                            "internal: no agent was set up for {}",
                            origin_of(&req.url)
                        ))));
                    }
                }
            }
        };
        let started = Instant::now();
        let result = self.exchange(agent, req, cap, timeout);
        let ms = started.elapsed().as_millis();
        match &result {
            Ok(r) => self.trace(&format!(
                "{} {} -> {} ({ms} ms, {} bytes)",
                req.method,
                req.url,
                r.status,
                r.body.len()
            )),
            Err(e) => self.trace(&format!(
                "{} {} -> {} ({ms} ms)",
                req.method,
                req.url,
                e.describe()
            )),
        }
        result
    }

    fn exchange(
        &self,
        agent: &Agent,
        req: &Request,
        cap: u64,
        timeout: Duration,
    ) -> std::result::Result<Reply, Failure> {
        let mut builder = ureq::http::Request::builder()
            .method(req.method)
            .uri(&req.url);
        for (k, v) in &req.headers {
            builder = builder.header(*k, v);
        }
        if let Some(token) = req.bearer {
            builder = builder.header("Authorization", format!("Bearer {token}"));
        }
        if req.body.is_some() {
            builder = builder.header("Content-Type", "application/json");
        }
        let invalid = |e: ureq::http::Error| {
            Failure::Fatal(Error::usage(format!("{}: invalid request: {e}", req.what)))
        };
        // A GET must go without a body at all (not even an empty one), so the two shapes are
        // built separately.
        let sent = match &req.body {
            Some(body) => {
                let request = builder.body(body.as_slice()).map_err(invalid)?;
                let configured = agent
                    .configure_request(request)
                    .timeout_global(Some(timeout))
                    .build();
                agent.run(configured)
            }
            None => {
                let request = builder.body(()).map_err(invalid)?;
                let configured = agent
                    .configure_request(request)
                    .timeout_global(Some(timeout))
                    .build();
                agent.run(configured)
            }
        };
        let response = sent.map_err(|e| classify(req, e))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect::<Vec<(String, String)>>();
        // A declared length over the cap is refused before reading a byte of it.
        let declared = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > cap) {
            return Err(classify(req, ureq::Error::BodyExceedsLimit(cap)));
        }
        let body = response
            .into_body()
            .into_with_config()
            .limit(cap)
            .read_to_vec()
            .map_err(|e| classify(req, e))?;
        Ok(Reply {
            status,
            headers,
            body,
            gave_up: None,
        })
    }
}

/// What went wrong with one attempt, sorted by what to do about it.
#[derive(Debug)]
enum Failure {
    /// No point retrying.
    Fatal(Error),
    /// Nothing answered: retried within the unreachable window only.
    Unreachable(String),
    /// Timeouts, resets, truncated bodies: retried where the method allows.
    Transient(String),
}

impl Failure {
    fn describe(&self) -> String {
        match self {
            Failure::Fatal(e) => e.message.clone(),
            Failure::Unreachable(s) | Failure::Transient(s) => s.clone(),
        }
    }
}

/// Whether a status is worth another attempt, and how to describe it.
fn retry_reason(req: &Request, status: u16) -> Option<String> {
    let retry = match req.service {
        // IMDS: 404 and 410 while it updates (410 for up to 70 s), 429 throttled, 5xx.
        Service::Imds => matches!(status, 404 | 410 | 429 | 500..=599),
        // The other identity hosts and Entra ID: what MSAL retries for them (no 404 or 410 rule;
        // Service Fabric documents that 404 must not be retried).
        Service::Local(_) | Service::Pinned(_) | Service::Entra => {
            matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
        }
        Service::Arm => status == 429 || ((500..=599).contains(&status) && idempotent(req)),
    };
    retry.then(|| format!("{} answered {status}", req.service.label()))
}

/// Methods that may be sent twice without doing the work twice (RFC 9110 § 9.2.2).
fn idempotent(req: &Request) -> bool {
    matches!(req.method, "GET" | "HEAD" | "PUT" | "DELETE")
}

fn classify(req: &Request, e: ureq::Error) -> Failure {
    use std::io::ErrorKind as K;
    let service = req.service.label();
    // A token request may be repeated whatever its method; an ARM call only if idempotent.
    let may_retry = req.service != Service::Arm || idempotent(req);
    match e {
        ureq::Error::Timeout(ureq::Timeout::Connect) => {
            let why = format!(
                "{service} at {} did not accept a connection in time",
                origin_of(&req.url)
            );
            if req.service.is_local() {
                Failure::Unreachable(why)
            } else if may_retry {
                Failure::Transient(why)
            } else {
                Failure::Fatal(Error::failed(format!("{}: {why}", req.what)))
            }
        }
        ureq::Error::Timeout(_) if may_retry => {
            Failure::Transient(format!("{service} did not answer in time"))
        }
        ureq::Error::Timeout(_) => Failure::Fatal(Error::new(
            Kind::GaveUp,
            format!("{}: {service} did not answer in time (not retried: {} is not idempotent)", req.what, req.method),
        )),
        ureq::Error::Io(io) => match io.kind() {
            K::ConnectionRefused
            | K::NetworkUnreachable
            | K::HostUnreachable
            | K::AddrNotAvailable
            | K::NetworkDown => {
                let why = format!("cannot connect to {service} at {}: {io}", origin_of(&req.url));
                if req.service.is_local() {
                    Failure::Unreachable(why)
                } else {
                    Failure::Fatal(Error::failed(format!("{}: {why}", req.what)).with_hint(
                        "check the network path (firewall, HTTPS_PROXY/NO_PROXY, --arm-endpoint)",
                    ))
                }
            }
            K::ConnectionReset
            | K::ConnectionAborted
            | K::UnexpectedEof
            | K::BrokenPipe
            | K::TimedOut
                if may_retry =>
            {
                Failure::Transient(format!("{service} connection broke: {io}"))
            }
            K::InvalidData if io.to_string().contains("certificate") => Failure::Fatal(
                Error::failed(format!("{}: TLS: {io}", req.what)).with_hint(
                    "ARM's certificate is not signed by a trusted root; behind a TLS-inspecting proxy, pass its CA with --ca-file or SSL_CERT_FILE",
                ),
            ),
            _ => Failure::Fatal(Error::failed(format!("{}: {service}: {io}", req.what))),
        },
        ureq::Error::BodyExceedsLimit(cap) => Failure::Fatal(Error::failed(format!(
            "{}: {service} sent a body larger than the {} MiB cap",
            req.what,
            cap >> 20
        ))),
        ureq::Error::HostNotFound => Failure::Fatal(
            Error::failed(format!("{}: cannot resolve the {service} host name", req.what))
                .with_hint("check /etc/resolv.conf and DNS; ARM needs name resolution"),
        ),
        ureq::Error::Protocol(p) if may_retry => {
            Failure::Transient(format!("{service} broke the HTTP protocol: {p}"))
        }
        other => Failure::Fatal(Error::failed(format!("{}: {service}: {other}", req.what))),
    }
}

fn remote_key(host: &str, https: bool) -> String {
    format!("{}://{host}", if https { "https" } else { "http" })
}

/// `scheme://host:port` of a URL, for messages.
fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => &url[..after_scheme + i],
        None => url,
    }
}

fn unreachable(req: &Request, why: &str, elapsed: Duration) -> Error {
    Error::new(
        Kind::Unreachable,
        format!(
            "{}: {why} (tried for {:.0} s)",
            req.what,
            elapsed.as_secs_f64()
        ),
    )
    .with_hint(match req.service {
        Service::Imds => {
            "is this an Azure VM? IMDS (169.254.169.254) answers only inside Azure, from the VM itself \
             (a container may need the host network); ARMI_IMDS_ENDPOINT or --imds-endpoint overrides the address"
        }
        _ => "the identity endpoint named by the environment does not answer: is its agent running? \
              -v shows which source armi chose and why; --source overrides it",
    })
}

/// Exponential backoff from 1 s, capped at 10 s, with ±25 % jitter so that many machines
/// started together do not retry in step.
pub fn backoff(attempt: u32) -> Duration {
    let exp = BACKOFF_FIRST.saturating_mul(1u32 << attempt.saturating_sub(1).min(8));
    let base = exp.min(BACKOFF_CAP);
    let jitter = 0.75 + 0.5 * random_unit();
    base.mul_f64(jitter)
}

/// A number in [0, 1), good enough for jitter; not for anything secret.
fn random_unit() -> f64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut x = u64::from(nanos) ^ (u64::from(std::process::id()) << 32) ^ 0x9E37_79B9_7F4A_7C15;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// Reads a PEM file of trusted roots (`--ca-file`, `SSL_CERT_FILE`).
pub fn load_roots(path: &str, source: &str) -> Result<Vec<Certificate<'static>>> {
    let pem = std::fs::read(path)
        .map_err(|e| Error::usage(format!("{source}: cannot read '{path}': {e}")))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => {
                return Err(Error::usage(format!(
                    "{source}: '{path}' is not valid PEM: {e}"
                )));
            }
        }
    }
    if certs.is_empty() {
        return Err(Error::usage(format!(
            "{source}: no certificates found in '{path}'"
        )));
    }
    Ok(certs)
}

/// The proxy variables, read once with curl's rules: `https_proxy`/`HTTPS_PROXY` for https
/// (`http_proxy` for http: lower case only, as curl), then `all_proxy`/`ALL_PROXY`;
/// `no_proxy`/`NO_PROXY` lists hosts that go direct.
#[derive(Debug, Clone, Default)]
pub struct ProxyEnv {
    https: Option<(&'static str, String)>,
    http: Option<(&'static str, String)>,
    no_proxy: String,
}

impl ProxyEnv {
    /// Reads the variables; a value that is not a usable proxy URL is exit 2, not ignored.
    pub fn read(env: &dyn Fn(&str) -> Option<String>) -> Result<ProxyEnv> {
        let pick = |names: &[&'static str]| -> Result<Option<(&'static str, String)>> {
            let Some((name, value)) = names.iter().find_map(|n| {
                env(n)
                    .filter(|v| !v.trim().is_empty())
                    .map(|v| (*n, v.trim().to_string()))
            }) else {
                return Ok(None);
            };
            ureq::Proxy::new(&value).map_err(|e| {
                Error::usage(format!(
                    "{name}: '{}' is not a usable proxy URL: {e}",
                    proxy_display(&value)
                ))
            })?;
            Ok(Some((name, value)))
        };
        Ok(ProxyEnv {
            https: pick(&["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"])?,
            http: pick(&["http_proxy", "all_proxy", "ALL_PROXY"])?,
            no_proxy: env("no_proxy")
                .filter(|v| !v.is_empty())
                .or_else(|| env("NO_PROXY"))
                .unwrap_or_default(),
        })
    }

    /// The proxy for a host, or `None` to go direct.
    pub fn for_host(&self, host: &str, https: bool) -> Option<(&'static str, String)> {
        let chosen = if https { &self.https } else { &self.http };
        let chosen = chosen.clone()?;
        if no_proxy_matches(&self.no_proxy, host) {
            return None;
        }
        Some(chosen)
    }
}

/// curl's NO_PROXY matching: comma-separated entries, trimmed; `*` alone matches everything;
/// a name matches itself and its subdomains, with or without a leading dot; an IP address or
/// IPv4 CIDR range matches addresses.
pub fn no_proxy_matches(list: &str, host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let host_ip = host.parse::<IpAddr>().ok();
    list.split(',').map(str::trim).any(|entry| {
        if entry == "*" {
            return true;
        }
        let entry = entry
            .trim_start_matches('.')
            .trim_end_matches('.')
            .to_ascii_lowercase();
        if entry.is_empty() {
            return false;
        }
        if let Some(ip) = host_ip {
            return ip_matches(&entry, ip);
        }
        host == entry || host.ends_with(&format!(".{entry}"))
    })
}

fn ip_matches(entry: &str, ip: IpAddr) -> bool {
    let entry = entry.trim_start_matches('[').trim_end_matches(']');
    match entry.split_once('/') {
        None => entry.parse::<IpAddr>().is_ok_and(|e| e == ip),
        Some((net, bits)) => {
            let (Ok(net), Ok(bits), IpAddr::V4(ip)) =
                (net.parse::<Ipv4Addr>(), bits.parse::<u32>(), ip)
            else {
                return false;
            };
            if bits > 32 {
                return false;
            }
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(net) & mask == u32::from(ip) & mask
        }
    }
}

/// A proxy URL with any password removed, for messages.
pub fn proxy_display(url: &str) -> String {
    match url.rsplit_once('@') {
        Some((before, after)) => {
            let scheme = before.split_once("://").map_or("", |(s, _)| s);
            if scheme.is_empty() {
                format!("***@{after}")
            } else {
                format!("{scheme}://***@{after}")
            }
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_parses_host_port_and_path() {
        let e = Endpoint::parse("https://Management.Azure.com:8443/stack/").unwrap();
        assert!(e.https);
        assert_eq!(e.host, "management.azure.com");
        assert_eq!(e.port, Some(8443));
        assert_eq!(e.path, "/stack");
        assert_eq!(
            e.url("/subscriptions", "a=1"),
            "https://management.azure.com:8443/stack/subscriptions?a=1"
        );
    }

    #[test]
    fn endpoint_handles_ipv6_literals() {
        let e = Endpoint::parse("http://[::1]:8080").unwrap();
        assert_eq!(e.host, "::1");
        assert!(e.is_loopback());
        assert_eq!(e.origin(), "http://[::1]:8080");
    }

    #[test]
    fn endpoint_rejects_hostile_input() {
        for bad in [
            "ftp://x",
            "management.azure.com",
            "https://",
            "https://user:pw@host",
            "https://host?x=1",
            "https://host#f",
            "https://host:99999",
            "https://host:0",
            "https://host:abc",
            "https://ho st",
            "https://host/\n",
            "https://host/../x",
            "https://[::1",
            "https://exa%mple.com",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }

    /// Found by fuzzing (urls_names): `https://[:::::::::::::]:282/` passed as an IPv6 host,
    /// which the HTTP stack then refused; a colon outside brackets made another host.
    #[test]
    fn endpoint_hosts_with_colons_must_be_bracketed_ipv6_addresses() {
        for bad in [
            "https://[:::::::::::::]:282/",
            "https://[management.azure.com]",
            "https://[fe80::1%25eth0]",
            "https://::1:443",
            "https://evil.com:x.vault.azure.net:443",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
        for good in [
            "https://[::1]:443",
            "http://[2001:db8::7]",
            "https://[::ffff:127.0.0.1]",
        ] {
            assert!(Endpoint::parse(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn loopback_hosts_are_recognised() {
        for (url, lo) in [
            ("http://127.0.0.1:1", true),
            ("http://127.8.9.1", true),
            ("http://localhost", true),
            ("http://169.254.169.254", false),
            ("http://10.0.0.1", false),
            ("http://localhost.evil.com", false),
        ] {
            assert_eq!(Endpoint::parse(url).unwrap().is_loopback(), lo, "{url}");
        }
    }

    #[test]
    fn backoff_grows_to_the_cap_with_bounded_jitter() {
        for attempt in 1..20 {
            let d = backoff(attempt);
            let base = (1u64 << (attempt - 1).min(8)).min(10) as f64;
            assert!(d.as_secs_f64() >= base * 0.75 - 1e-9, "{attempt}: {d:?}");
            assert!(d.as_secs_f64() <= base * 1.25 + 1e-9, "{attempt}: {d:?}");
        }
    }

    #[test]
    fn backoff_outlasts_a_70_second_410_within_the_default_deadline() {
        // Any attempt made before 70 s is followed by one at most one (jittered, capped) wait
        // later, so the first attempt after the 410 window still falls inside 90 s.
        let longest = (1..40).map(backoff).max().unwrap_or_default();
        let default = Duration::from_secs(crate::cli::DEFAULT_TIMEOUT_SECS);
        assert!(Duration::from_secs(70) + longest < default, "{longest:?}");
    }

    const ARM_HOST: &str = "management.azure.com";

    #[test]
    fn an_unusable_proxy_value_is_a_usage_error_naming_it() {
        let e = ProxyEnv::read(&env_of(&[("ALL_PROXY", "socks9://x:1")])).unwrap_err();
        assert_eq!(e.kind, crate::error::Kind::Usage);
        assert!(e.message.starts_with("ALL_PROXY:"), "{}", e.message);
    }

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    fn proxy_for(
        host: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Option<(&'static str, String)> {
        ProxyEnv::read(env).unwrap().for_host(host, true)
    }

    #[test]
    fn https_proxy_applies_to_arm_and_lower_case_wins() {
        let env = env_of(&[
            ("HTTPS_PROXY", "http://upper:1"),
            ("https_proxy", "http://lower:1"),
        ]);
        assert_eq!(
            proxy_for(ARM_HOST, &env),
            Some(("https_proxy", "http://lower:1".into()))
        );
    }

    #[test]
    fn scheme_specific_proxy_beats_all_proxy_unlike_ureq() {
        let env = env_of(&[
            ("ALL_PROXY", "http://all:1"),
            ("HTTPS_PROXY", "http://https:1"),
        ]);
        assert_eq!(proxy_for(ARM_HOST, &env).map(|p| p.0), Some("HTTPS_PROXY"));
    }

    #[test]
    fn http_proxy_does_not_apply_to_https() {
        assert_eq!(
            proxy_for(
                ARM_HOST,
                &env_of(&[("HTTP_PROXY", "http://p:1"), ("http_proxy", "http://p:1")])
            ),
            None
        );
    }

    #[test]
    fn no_proxy_follows_curl() {
        for (list, host, direct) in [
            ("azure.com", "management.azure.com", true),
            (".azure.com", "azure.com", true),
            ("*", "management.azure.com", true),
            (
                "example.com, management.azure.com",
                "management.azure.com",
                true,
            ),
            ("evilazure.com", "management.azure.com", false),
            ("azure.com", "notazure.com", false),
            ("127.0.0.0/8", "127.0.0.1", true),
            ("10.0.0.0/8", "127.0.0.1", false),
            ("127.0.0.1", "127.0.0.1", true),
            ("::1", "::1", true),
            ("", "management.azure.com", false),
            (" , ,", "management.azure.com", false),
            ("127.0.0.0/99", "127.0.0.1", false),
        ] {
            assert_eq!(no_proxy_matches(list, host), direct, "{list:?} {host}");
        }
    }

    #[test]
    fn empty_no_proxy_does_not_shadow_the_upper_case_one() {
        let env = env_of(&[
            ("HTTPS_PROXY", "http://p:1"),
            ("no_proxy", ""),
            ("NO_PROXY", "azure.com"),
        ]);
        assert_eq!(proxy_for(ARM_HOST, &env), None);
    }

    #[test]
    fn proxy_passwords_are_not_displayed() {
        assert_eq!(
            proxy_display("http://user:secret@proxy:3128"),
            "http://***@proxy:3128"
        );
        assert_eq!(proxy_display("proxy:3128"), "proxy:3128");
    }

    #[test]
    fn retry_after_is_read_in_seconds() {
        let r = Reply {
            status: 429,
            headers: vec![("Retry-After".into(), " 7 ".into())],
            body: vec![],
            gave_up: None,
        };
        assert_eq!(r.retry_after(), Some(Duration::from_secs(7)));
    }
}
