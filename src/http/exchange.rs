//! One attempt: the request on the wire, the body read within its cap, and what went wrong,
//! sorted by what to do about it.

use std::time::Duration;

use ureq::Agent;

use super::proxy::Proxy;
use super::{Reply, Request, Service};
use crate::error::{Error, Kind};
use crate::text::{clean, seconds};

pub(super) fn exchange(
    agent: &Agent,
    via: Option<&Proxy>,
    req: &Request,
    cap: u64,
    timeout: Duration,
) -> std::result::Result<Reply, Failure> {
    let mut builder = head(req);
    if req.body.is_some()
        && !req
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        builder = builder.header("Content-Type", "application/json");
    }
    // A GET must go without a body at all (not even an empty one), so the two shapes are
    // built separately.
    let sent = match &req.body {
        Some(body) => run(agent, builder.body(body.as_slice()), req, timeout)?,
        None => run(agent, builder.body(()), req, timeout)?,
    };
    let response = sent.map_err(|e| classify(req, via, e))?;
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
        return Err(classify(req, via, ureq::Error::BodyExceedsLimit(cap)));
    }
    let body = response
        .into_body()
        .into_with_config()
        .limit(cap)
        .read_to_vec()
        .map_err(|e| classify(req, via, e))?;
    Ok(Reply {
        status,
        headers,
        body,
        gave_up: None,
    })
}

/// Sends one built request on `agent` within `timeout` (the attempt's share of the deadline);
/// the outer error is a request that could not be built, the inner what ureq made of the
/// exchange.
pub(super) fn run<B: ureq::AsSendBody>(
    agent: &Agent,
    built: ureq::http::Result<ureq::http::Request<B>>,
    req: &Request,
    timeout: Duration,
) -> std::result::Result<std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error>, Failure>
{
    let request = built
        .map_err(|e| Failure::Fatal(Error::usage(format!("{}: invalid request: {e}", req.what))))?;
    let configured = agent
        .configure_request(request)
        .timeout_global(Some(timeout))
        .build();
    Ok(agent.run(configured))
}

/// The `-v` line of an attempt that got no answer.
pub(super) fn failed_line(req: &Request, ms: u128, failure: &Failure) -> String {
    format!(
        "{} {} -> {} ({ms} ms)",
        req.method,
        req.url,
        failure.describe()
    )
}

/// The request's method, URL, headers and token: what every attempt sends before its body
/// (here, and for the streamed transfers).
pub(super) fn head(req: &Request) -> ureq::http::request::Builder {
    let mut builder = ureq::http::Request::builder()
        .method(req.method)
        .uri(&req.url);
    for (k, v) in &req.headers {
        builder = builder.header(*k, v);
    }
    builder = builder.header("x-ms-client-request-id", super::client_request_id());
    if let Some(token) = req.bearer {
        builder = builder.header("Authorization", format!("Bearer {token}"));
    }
    builder
}

/// What went wrong with one attempt, sorted by what to do about it.
#[derive(Debug)]
pub(super) enum Failure {
    /// No point retrying.
    Fatal(Error),
    /// Nothing answered: retried within the unreachable window only. `why` names the service,
    /// for `-v`; `brief` names only the address, for after a `what` that names the service.
    Unreachable { why: String, brief: String },
    /// Timeouts, resets, truncated bodies: retried where the method allows.
    Transient(String),
}

impl Failure {
    pub(super) fn describe(&self) -> String {
        match self {
            Failure::Fatal(e) => e.message.clone(),
            Failure::Unreachable { why: s, .. } | Failure::Transient(s) => s.clone(),
        }
    }
}

/// Sorts an attempt's error by what to do about it, naming what failed: the service, or the
/// proxy in front of it (`via`).
pub(super) fn classify(req: &Request, via: Option<&Proxy>, e: ureq::Error) -> Failure {
    use std::io::ErrorKind as K;
    let service = req.service.label();
    let origin = origin_of(&req.url);
    let may_retry = req.service.may_repeat(req.method);
    let fatal = |why: String| Failure::Fatal(Error::failed(format!("{}: {why}", req.what)));
    // A call that may have reached the service, and is not repeated, may have taken effect.
    let not_repeated = |why: String| {
        Failure::Fatal(
            Error::failed(format!(
                "{}: {why} (not repeated: {} is not idempotent)",
                req.what, req.method
            ))
            .with_hint("the call may have taken effect in Azure: check before running it again"),
        )
    };
    match e {
        ureq::Error::Timeout(ureq::Timeout::Connect) => {
            let why = match via {
                Some(p) => format!(
                    "no connection to {service} at {origin} through the proxy {} (from {}) in time",
                    p.shown(),
                    p.variable
                ),
                None => format!("{service} at {origin} did not accept a connection in time"),
            };
            if req.service.is_local() {
                Failure::Unreachable {
                    brief: why.replacen(&format!("{service} at "), "", 1),
                    why,
                }
            } else if may_retry {
                Failure::Transient(why)
            } else {
                fatal(why)
            }
        }
        ureq::Error::Timeout(_) if may_retry => {
            Failure::Transient(format!("{service} did not answer in time"))
        }
        ureq::Error::Timeout(_) => Failure::Fatal(
            Error::new(
                Kind::GaveUp,
                format!(
                    "{}: {service} did not answer in time (not retried: {} is not idempotent)",
                    req.what, req.method
                ),
            )
            .with_hint("the call may have taken effect in Azure: check before running it again"),
        ),
        ureq::Error::Io(io) => match io.kind() {
            K::ConnectionRefused
            | K::NetworkUnreachable
            | K::HostUnreachable
            | K::AddrNotAvailable
            | K::NetworkDown => match via {
                Some(p) => Failure::Fatal(
                    Error::failed(format!(
                        "{}: cannot connect to the proxy {} (from {}): {io}",
                        req.what,
                        p.shown(),
                        p.variable
                    ))
                    .with_hint(format!(
                        "is the proxy running? fix or unset {}, or add {} to NO_PROXY",
                        p.variable,
                        host_of(origin)
                    )),
                ),
                None => {
                    let why = format!("cannot connect to {service} at {origin}: {io}");
                    if req.service.is_local() {
                        Failure::Unreachable {
                            brief: format!("cannot connect to {origin}: {io}"),
                            why,
                        }
                    } else {
                        Failure::Fatal(Error::failed(format!("{}: {why}", req.what)).with_hint(
                            "check the network path (firewall, HTTPS_PROXY/NO_PROXY, --arm-endpoint)",
                        ))
                    }
                }
            },
            K::ConnectionReset
            | K::ConnectionAborted
            | K::UnexpectedEof
            | K::BrokenPipe
            | K::TimedOut => {
                let why = format!("{service} connection broke: {io}");
                if may_retry {
                    Failure::Transient(why)
                } else {
                    not_repeated(why)
                }
            }
            K::InvalidData if io.to_string().contains("certificate") => Failure::Fatal(
                Error::failed(format!("{}: TLS with {origin}: {io}", req.what)).with_hint(
                    "the certificate is not signed by a trusted root; behind a TLS-inspecting proxy, pass its CA with --ca-file or SSL_CERT_FILE",
                ),
            ),
            // rustls got something that is not TLS: the port speaks plain HTTP.
            K::InvalidData if io.to_string().contains("corrupt message") => {
                let server = via.map_or(format!("the server at {origin}"), |p| {
                    format!("the proxy {} (from {})", p.shown(), p.variable)
                });
                Failure::Fatal(
                    Error::failed(format!(
                        "{}: {server} does not speak https: it answered the TLS handshake with something else ({io})",
                        req.what
                    ))
                    .with_hint("check the scheme: http:// for a plain HTTP port"),
                )
            }
            _ => fatal(format!("{service}: {io}")),
        },
        ureq::Error::ConnectProxyFailed(why) => {
            let p = via.map_or_else(|| "the proxy".to_string(), |p| {
                format!("the proxy {} (from {})", p.shown(), p.variable)
            });
            Failure::Fatal(
                Error::failed(format!(
                    "{}: {p} would not tunnel to {origin}: {}",
                    req.what,
                    clean(&why)
                ))
                .with_hint("check the proxy's address and its rules for this host, or NO_PROXY"),
            )
        }
        ureq::Error::BodyExceedsLimit(cap) => fatal(format!(
            "{service} sent a body larger than the {} MiB cap",
            cap >> 20
        )),
        ureq::Error::HostNotFound => Failure::Fatal(
            Error::failed(format!(
                "{}: cannot resolve {}, the {service} host name",
                req.what,
                host_of(origin)
            ))
            .with_hint("check /etc/resolv.conf and DNS"),
        ),
        // The same bytes come back the same way: a broken protocol is not worth another try.
        ureq::Error::Protocol(p) => Failure::Fatal(
            Error::failed(format!(
                "{}: the server at {origin} did not answer in HTTP/1.1: {p}",
                req.what
            ))
            .with_hint(
                "if the port speaks TLS, check the scheme (https://); otherwise something other \
                 than the service answers there",
            ),
        ),
        ureq::Error::Http(e) => fatal(format!("{service} sent an answer armi cannot read: {e}")),
        other => fatal(format!("{service}: {other}")),
    }
}

/// The host of an origin, for messages.
fn host_of(origin: &str) -> String {
    super::Endpoint::parse(origin).map_or_else(|_| origin.to_string(), |e| e.host)
}

/// `scheme://host:port` of a URL, for messages.
pub fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => &url[..after_scheme + i],
        None => url,
    }
}

/// The end of a local service that never answered. `what` names the service in most requests
/// ("get a token … from IMDS"): then the reason names only the address.
pub(super) fn unreachable(req: &Request, why: &str, brief: &str, elapsed: Duration) -> Error {
    let why = if req.what.contains(req.service.label()) {
        brief
    } else {
        why
    };
    Error::new(
        Kind::Unreachable,
        format!("{}: {why} (tried for {})", req.what, seconds(elapsed)),
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
