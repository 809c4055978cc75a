//! Transport: every request armi sends goes through [`Http::send`], which picks the agent from
//! what the request says it is for, retries what that service's rules allow until the one
//! deadline, caps the body, and writes the `-v` trace.
//!
//! Identity endpoints are always reached directly (IMDS documents that proxies must be
//! bypassed); hosts armi sends a token to over the network (ARM, Entra ID, other APIs) honour the
//! proxy variables with curl's rules ([`proxy`]) and trust the embedded roots or `--ca-file`
//! ([`tls`]). No agent follows redirects: a redirect would carry the request to a host armi did
//! not choose. Agents are built when a request first needs them.

pub mod endpoint;
mod exchange;
pub mod proxy;
mod request;
mod resolve;
pub mod retry;
mod stream;
pub mod tls;

use std::cell::{Cell, OnceCell, RefCell};
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ureq::Agent;
use ureq::tls::{Certificate, RootCerts, TlsConfig};
use ureq::unversioned::transport::DefaultConnector;

pub use endpoint::Endpoint;
pub use exchange::origin_of;
use exchange::{Failure, exchange, failed_line, unreachable};
pub use proxy::ProxyEnv;
pub use request::{Reply, Request, Service};
pub use retry::Deadline;
use retry::{Decision, Said, Tries, Why};
pub use stream::{Fetched, FileBody, Opened, Sink, Stream};

use crate::error::{Error, Kind, Result};
use crate::text::seconds;

/// Bodies larger than this from the identity endpoint are refused.
pub const IMDS_BODY_CAP: u64 = 1 << 20;
/// Bodies larger than this from ARM are refused.
pub const ARM_BODY_CAP: u64 = 32 << 20;
/// Connect timeout to the identity endpoint (a local, non-routed address: it answers fast or not
/// at all).
const IMDS_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Connect timeout to ARM. ureq counts the proxy CONNECT and the TLS handshake as part of
/// connecting, so this is longer than the identity endpoint's.
const ARM_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// One attempt at the identity endpoint may take this long before it is retried.
const IMDS_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(20);
/// When stderr is a terminal and armi has waited this long, it says what it is waiting for.
const PROGRESS_AFTER: Duration = Duration::from_secs(2);

const USER_AGENT: &str = concat!("armi/", env!("CARGO_PKG_VERSION"));

/// One GUID for the whole run, sent as `x-ms-client-request-id` on every request, so that one
/// run is one id in the services' logs.
pub fn client_request_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        use ring::rand::SecureRandom;
        let mut b = [0u8; 16];
        // A failing system random source leaves zeros: the id is for logs, not for security.
        let _ = ring::rand::SystemRandom::new().fill(&mut b);
        b[6] = (b[6] & 0x0f) | 0x40; // version 4
        b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        )
    })
}

/// How hosts armi sends a token to over the network are reached: the trusted roots and the
/// proxy variables. Both are read when first needed, so that a command that never leaves this
/// machine is not refused for a setting it does not use.
#[derive(Debug, Clone, Default)]
pub struct Remote {
    /// `--ca-file` or `SSL_CERT_FILE`: the path, and which of the two named it.
    pub ca_file: Option<(String, &'static str)>,
    pub proxies: ProxyEnv,
}

/// The transport a command runs with.
pub struct Http {
    pub deadline: Deadline,
    pub verbose: bool,
    remote: Remote,
    roots: OnceCell<Option<Arc<Vec<Certificate<'static>>>>>,
    /// The agents built so far, by the origin (or kind) they serve.
    agents: RefCell<Vec<(String, Route)>>,
    resolve: resolve::Resolve,
    progress_shown: Cell<bool>,
}

impl Http {
    pub fn new(deadline: Deadline, verbose: bool, remote: Remote) -> Http {
        Http {
            deadline,
            verbose,
            remote,
            roots: OnceCell::new(),
            agents: RefCell::new(Vec::new()),
            resolve: resolve::Resolve::default(),
            progress_shown: Cell::new(false),
        }
    }

    /// The same transport with another deadline (a step of `armi doctor`); agents are built
    /// afresh, the settings are the same.
    pub fn with_deadline(&self, deadline: Deadline) -> Http {
        Http::new(deadline, self.verbose, self.remote.clone())
    }

    /// The settings for remote hosts, as given.
    pub fn remote(&self) -> &Remote {
        &self.remote
    }

    /// Reads the roots and checks the proxy variables now, for a command that will call a remote
    /// host: a bad `--ca-file` or `HTTPS_PROXY` is then refused before the first request.
    pub fn check_remote(&self) -> Result<()> {
        self.roots()?;
        self.remote.proxies.check()
    }

    fn roots(&self) -> Result<Option<Arc<Vec<Certificate<'static>>>>> {
        if let Some(roots) = self.roots.get() {
            return Ok(roots.clone());
        }
        let loaded = match &self.remote.ca_file {
            Some((path, source)) => Some(Arc::new(tls::load_roots(path, source)?)),
            None => None,
        };
        Ok(self.roots.get_or_init(|| loaded).clone())
    }

    /// Writes one `-v` line (redacted).
    pub fn trace(&self, line: &str) {
        if self.verbose {
            crate::error::say(&format!("armi: {line}"));
        }
    }

    /// The agent for a request, built on first use: the identity agent for hosts on this
    /// machine, the pinned agent for Service Fabric, and one agent per remote host (its proxy
    /// depends on the host).
    fn agent(&self, req: &Request) -> Result<Route> {
        let key = match req.service {
            Service::Imds | Service::Local(_) => "local".to_string(),
            Service::Pinned(..) => "pinned".to_string(),
            Service::TokenProxy(tls) => tls.key(),
            _ => origin_of(&req.url).to_ascii_lowercase(),
        };
        if let Some((_, route)) = self.agents.borrow().iter().find(|(k, _)| *k == key) {
            return Ok(route.clone());
        }
        let direct = |agent| Route { agent, via: None };
        let route = match req.service {
            Service::Imds | Service::Local(_) => {
                direct(local_config().build().new_agent_with(self))
            }
            Service::Pinned(_, pin) => direct(tls::pinned_agent(
                local_config().build(),
                pin.clone(),
                self.resolve.clone(),
            )),
            // In the cluster, reached directly: the proxy variables are for the way out.
            Service::TokenProxy(tls) => direct(tls::proxy_agent(
                remote_config(),
                tls,
                self.resolve.clone(),
            )?),
            _ => self.remote_agent(&req.url)?,
        };
        self.agents.borrow_mut().push((key, route.clone()));
        Ok(route)
    }

    fn remote_agent(&self, url: &str) -> Result<Route> {
        let endpoint = Endpoint::parse(origin_of(url))
            .map_err(|e| Error::failed(format!("'{}' {e}", crate::text::clean(url))))?;
        let roots = match self.roots()? {
            Some(certs) => RootCerts::Specific(certs),
            None => RootCerts::WebPki,
        };
        let via = self
            .remote
            .proxies
            .for_host(&endpoint.host, endpoint.https)?;
        let proxy = match &via {
            Some(proxy) => {
                self.trace(&format!(
                    "{} via proxy {} (from {})",
                    endpoint.host,
                    proxy.shown(),
                    proxy.variable
                ));
                let parsed = ureq::Proxy::new(proxy.url.expose()).map_err(|e| {
                    Error::usage(format!(
                        "{}: '{}' is not a usable proxy URL: {e}",
                        proxy.variable,
                        proxy.shown()
                    ))
                })?;
                Some(parsed)
            }
            None => None,
        };
        let config = Agent::config_builder()
            .proxy(proxy)
            .https_only(endpoint.https)
            .max_redirects(0)
            .http_status_as_error(false)
            .timeout_connect(Some(ARM_CONNECT_TIMEOUT))
            .tls_config(TlsConfig::builder().root_certs(roots).build())
            .user_agent(USER_AGENT)
            .accept("application/json")
            .build();
        Ok(Route {
            agent: config.new_agent_with(self),
            via,
        })
    }

    /// Sends a request, retrying what the service's rules allow until the deadline. Retryable
    /// statuses that outlast the retries come back as a `Reply` with `gave_up` set, so that the
    /// service module can report the service's own error text.
    pub fn send(&self, req: &Request) -> Result<Reply> {
        let route = self.agent(req)?;
        self.retrying(
            req,
            |remaining| {
                let reply = self.attempt(&route, req, remaining)?;
                Ok(if req.service.retries(req.method, reply.status) {
                    Tried::Again(reply)
                } else {
                    Tried::Done(reply)
                })
            },
            |reply| reply,
        )
    }

    /// The retry loop of every request: `once` makes one attempt with the time left; an answer
    /// it hands back as [`Tried::Again`] is retried by the service's rules until the deadline,
    /// and the last of them, if retries run out, is handed to `refused` with `gave_up` set.
    fn retrying<T>(
        &self,
        req: &Request,
        mut once: impl FnMut(Duration) -> std::result::Result<Tried<T>, Failure>,
        refused: impl FnOnce(Reply) -> T,
    ) -> Result<T> {
        let first = Instant::now();
        let (mut throttles, mut longest_asked) = (0, Duration::ZERO);
        let mut attempt = 0u32;
        loop {
            attempt = attempt.saturating_add(1);
            let Some(remaining) = self.deadline.remaining() else {
                return Err(self.deadline_passed(req, attempt - 1));
            };
            let mut brief = None;
            let (said, reason, last) = match once(remaining) {
                Ok(Tried::Done(done)) => return Ok(done),
                Ok(Tried::Again(reply)) => (
                    said(req.service, &reply),
                    format!("{} answered {}", req.service.label(), reply.status),
                    Some(reply),
                ),
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Unreachable { why, brief: b }) => {
                    brief = Some(b);
                    (Said::NothingListening, why, None)
                }
                Err(Failure::Transient(why)) => (Said::Transient { retry_after: None }, why, None),
            };
            (throttles, longest_asked) = match said {
                Said::Throttled { retry_after } | Said::LocalThrottled { retry_after } => (
                    throttles + 1,
                    longest_asked.max(retry_after.unwrap_or_default()),
                ),
                _ => (0, Duration::ZERO),
            };
            let left = self.deadline.left();
            let tries = Tries {
                attempt,
                throttles,
                longest_asked,
                since_first: first.elapsed(),
                left,
            };
            let wait = match retry::decide(said, tries, retry::random_unit()) {
                Decision::Wait(wait) => wait,
                Decision::Unreachable => {
                    let brief = brief.as_deref().unwrap_or(&reason);
                    return Err(unreachable(req, &reason, brief, first.elapsed()));
                }
                Decision::GiveUp(why) => {
                    let why = self.why_stopped(&reason, why, attempt, first.elapsed());
                    return match last {
                        Some(mut reply) => {
                            reply.gave_up = Some(why);
                            Ok(refused(reply))
                        }
                        None => Err(Error::new(Kind::GaveUp, format!("{}: {why}", req.what))),
                    };
                }
            };
            self.trace(&format!(
                "{reason}; retry {attempt} {wait}; {} left",
                seconds(left)
            ));
            self.show_progress(req, &reason, first.elapsed());
            std::thread::sleep(wait.total);
        }
    }

    fn why_stopped(&self, reason: &str, why: Why, attempts: u32, elapsed: Duration) -> String {
        let tries = format!(
            "{attempts} attempt{} in {}",
            if attempts == 1 { "" } else { "s" },
            seconds(elapsed)
        );
        match why {
            Why::Deadline => format!(
                "{reason}; gave up after {tries} (--timeout {} s)",
                self.deadline.total().as_secs()
            ),
            Why::RetryAfterPastDeadline(asked) => format!(
                "{reason} and asked to retry after {} s, past the --timeout of {} s; gave up after {tries}",
                asked.as_secs(),
                self.deadline.total().as_secs()
            ),
        }
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
        if self.verbose || self.progress_shown.get() || waited < PROGRESS_AFTER {
            return;
        }
        if !std::io::stderr().is_terminal() {
            return;
        }
        self.progress_shown.set(true);
        crate::error::say(&format!(
            "armi: still trying to {} ({reason}); will keep retrying for up to {} (-v shows each retry)",
            req.what,
            seconds(self.deadline.left())
        ));
    }

    fn attempt(
        &self,
        route: &Route,
        req: &Request,
        remaining: Duration,
    ) -> std::result::Result<Reply, Failure> {
        let (cap, timeout) = if req.service.is_local() {
            (IMDS_BODY_CAP, remaining.min(IMDS_ATTEMPT_TIMEOUT))
        } else {
            (ARM_BODY_CAP, remaining)
        };
        let started = Instant::now();
        let result = exchange(&route.agent, route.via.as_ref(), req, cap, timeout);
        let ms = started.elapsed().as_millis();
        match &result {
            Ok(r) => self.trace(&format!(
                "{} {} -> {} ({ms} ms, {} bytes{})",
                req.method,
                req.url,
                r.status,
                r.body.len(),
                r.service_ids()
                    .map(|ids| format!("; {ids}"))
                    .unwrap_or_default()
            )),
            Err(e) => self.trace(&failed_line(req, ms, e)),
        }
        result
    }
}

/// One attempt, as the retry loop sees it: done, or an answer the service's rules retry.
enum Tried<T> {
    Done(T),
    Again(Reply),
}

/// What a retryable answer says for retrying: a 429 is throttling (by the identity endpoint on
/// this machine, or by a remote service's buckets), anything else transient.
fn said(service: Service, reply: &Reply) -> Said {
    let retry_after = reply.retry_after();
    match reply.status {
        429 if service.is_local() => Said::LocalThrottled { retry_after },
        429 => Said::Throttled { retry_after },
        _ => Said::Transient { retry_after },
    }
}

/// An agent, and the proxy it goes through (for messages that name it).
#[derive(Clone)]
struct Route {
    agent: Agent,
    via: Option<proxy::Proxy>,
}

/// Builds an agent from a configuration with armi's resolver and ureq's usual transport chain.
trait NewAgent {
    fn new_agent_with(self, http: &Http) -> Agent;
}

impl NewAgent for ureq::config::Config {
    fn new_agent_with(self, http: &Http) -> Agent {
        Agent::with_parts(self, DefaultConnector::default(), http.resolve.clone())
    }
}

/// How the AKS token proxy is reached: like a remote host, without a proxy.
fn remote_config() -> ureq::config::Config {
    Agent::config_builder()
        .proxy(None)
        .https_only(true)
        .max_redirects(0)
        .http_status_as_error(false)
        .timeout_connect(Some(ARM_CONNECT_TIMEOUT))
        .user_agent(USER_AGENT)
        .accept("application/json")
        .build()
}

/// How an identity host on this machine (IMDS, Arc, App Service, Service Fabric...) is
/// reached: directly, never through a proxy, never following a redirect.
fn local_config() -> ureq::config::ConfigBuilder<ureq::typestate::AgentScope> {
    Agent::config_builder()
        .proxy(None)
        .max_redirects(0)
        .http_status_as_error(false)
        .timeout_connect(Some(IMDS_CONNECT_TIMEOUT))
        .user_agent(USER_AGENT)
        .accept("application/json")
}
