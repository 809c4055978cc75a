//! One attempt: the request on the wire, the body read within its cap, and what went wrong,
//! sorted by what to do about it.

use std::time::Duration;

use ureq::Agent;

use super::{Reply, Request, Service};
use crate::error::{Error, Kind};
use crate::text::seconds;

pub(super) fn exchange(
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
    if req.body.is_some()
        && !req
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
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

/// What went wrong with one attempt, sorted by what to do about it.
#[derive(Debug)]
pub(super) enum Failure {
    /// No point retrying.
    Fatal(Error),
    /// Nothing answered: retried within the unreachable window only.
    Unreachable(String),
    /// Timeouts, resets, truncated bodies: retried where the method allows.
    Transient(String),
}

impl Failure {
    pub(super) fn describe(&self) -> String {
        match self {
            Failure::Fatal(e) => e.message.clone(),
            Failure::Unreachable(s) | Failure::Transient(s) => s.clone(),
        }
    }
}

fn classify(req: &Request, e: ureq::Error) -> Failure {
    use std::io::ErrorKind as K;
    let service = req.service.label();
    let may_retry = req.service.may_repeat(req.method);
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
            format!(
                "{}: {service} did not answer in time (not retried: {} is not idempotent)",
                req.what, req.method
            ),
        )),
        ureq::Error::Io(io) => match io.kind() {
            K::ConnectionRefused
            | K::NetworkUnreachable
            | K::HostUnreachable
            | K::AddrNotAvailable
            | K::NetworkDown => {
                let why = format!(
                    "cannot connect to {service} at {}: {io}",
                    origin_of(&req.url)
                );
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
            Error::failed(format!(
                "{}: cannot resolve the {service} host name",
                req.what
            ))
            .with_hint("check /etc/resolv.conf and DNS; ARM needs name resolution"),
        ),
        ureq::Error::Protocol(p) if may_retry => {
            Failure::Transient(format!("{service} broke the HTTP protocol: {p}"))
        }
        other => Failure::Fatal(Error::failed(format!("{}: {service}: {other}", req.what))),
    }
}

/// `scheme://host:port` of a URL, for messages.
pub fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => &url[..after_scheme + i],
        None => url,
    }
}

pub(super) fn unreachable(req: &Request, why: &str, elapsed: Duration) -> Error {
    Error::new(
        Kind::Unreachable,
        format!(
            "{}: {why} (tried for {})",
            req.what,
            seconds(elapsed)
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
