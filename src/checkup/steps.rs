//! The steps of the diagnosis, each a function of what the steps before it found.

use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::{Checkup, Outcome, fail, failed, pass, skipped, warn};
use crate::arm::{self, Origin, Session};
use crate::claims::Claims;
use crate::cloud::Cloud;
use crate::error::Kind;
use crate::http::{Endpoint, Http, Request, Service, proxy};
use crate::scope;
use crate::sources::Host;
use crate::sources::imds::{self, Vm};
use crate::text::clean;
use crate::token::{self, Token};

/// Proxy variables that would catch IMDS in other tools, the identity host the environment
/// selects, and whether this is a container.
pub(super) fn environment(c: &Checkup) -> Outcome {
    let mut notes = vec![format!(
        "identity source: {} ({})",
        c.source.host.name(),
        c.source.why
    )];
    let mut warnings = Vec::new();
    let proxy = c
        .env
        .first(&["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"]);
    let no_proxy = c
        .env
        .first(&["no_proxy", "NO_PROXY"])
        .map(|(_, v)| v)
        .unwrap_or_default();
    // Other tools reach IMDS at its real address, whatever armi is pointed at.
    let imds_host = "169.254.169.254";
    if let Some((name, value)) = proxy
        && c.source.host == Host::Imds
        && !proxy::no_proxy_matches(no_proxy, imds_host)
    {
        warnings.push((
            format!(
                "{name}={} would catch IMDS in curl, the Azure CLI and the SDKs (armi never uses a proxy for it)",
                proxy::display(value)
            ),
            format!("add {imds_host} to NO_PROXY (export NO_PROXY={imds_host},$NO_PROXY)"),
        ));
    }
    if let Some(container) = container_hint() {
        notes.push(container);
    }
    match warnings.into_iter().next() {
        Some((detail, fix)) => warn(format!("{detail}; {}", notes.join("; ")), fix),
        None => pass(notes.join("; ")),
    }
}

fn container_hint() -> Option<String> {
    let cgroup = std::fs::read_to_string("/proc/1/cgroup").unwrap_or_default();
    let marker = ["docker", "kubepods", "containerd", "libpod"]
        .into_iter()
        .find(|m| cgroup.contains(m));
    if std::path::Path::new("/.dockerenv").exists() || marker.is_some() {
        Some("running in a container: IMDS answers only with the host's network or a route to 169.254.169.254".into())
    } else {
        None
    }
}

/// TCP to IMDS, then a request without `Metadata: true`, which only IMDS answers with its 400.
pub(super) fn imds_reachable(c: &Checkup, http: &Http) -> Outcome {
    let endpoint = c.imds_endpoint;
    let address = format!(
        "{}:{}",
        crate::http::endpoint::bracket(&endpoint.host),
        endpoint.port_or_default()
    );
    let connect_budget = http.deadline.total().min(Duration::from_secs(2));
    let addrs: Vec<_> = match address.to_socket_addrs() {
        Ok(a) => a.collect(),
        Err(e) => {
            return fail(
                format!("cannot resolve {address}: {e}"),
                None,
                Kind::Unreachable,
            );
        }
    };
    let started = Instant::now();
    let mut last_error = None;
    let connected = addrs.iter().find_map(|a| {
        TcpStream::connect_timeout(a, connect_budget)
            .map_err(|e| last_error = Some(e))
            .ok()
    });
    let connect_ms = started.elapsed().as_millis();
    if connected.is_none() {
        let why = match last_error {
            Some(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                format!(
                    "no TCP connection to {address} within {} ms",
                    connect_budget.as_millis()
                )
            }
            Some(e) => format!("cannot connect to {address}: {e}"),
            None => format!("no address to connect to for {address}"),
        };
        let fix = format!(
            "this is not an Azure VM, or a firewall or route blocks {} (in a container: use the \
             host network); --imds-endpoint or ARMI_IMDS_ENDPOINT names another address",
            endpoint.host
        );
        return fail(why, Some(fix), Kind::Unreachable);
    }
    drop(connected);
    let reply = http.send(&Request {
        service: Service::Imds,
        method: "GET",
        url: endpoint.url(
            "/metadata/instance",
            &format!("api-version={}", imds::INSTANCE_API_VERSION),
        ),
        what: "ask IMDS without the Metadata header".into(),
        headers: vec![],
        bearer: None,
        body: None,
    });
    let reply = match reply {
        Ok(r) => r,
        Err(e) if e.kind == Kind::GaveUp => {
            return fail(
                format!(
                    "TCP connects in {connect_ms} ms but nothing answers HTTP within the step's budget"
                ),
                Some("IMDS is hung or overloaded; retry later, or raise --timeout".into()),
                Kind::GaveUp,
            );
        }
        Err(e) => return failed(&e),
    };
    let server = clean(reply.header("server").unwrap_or_default());
    let body = clean(&String::from_utf8_lossy(&reply.body)).to_ascii_lowercase();
    if reply.status == 400 && (server.starts_with("IMDS") || body.contains("metadata")) {
        return pass(format!(
            "TCP connect {connect_ms} ms; IMDS answered 400 to a request without Metadata: true, as only IMDS does"
        ));
    }
    // IMDS itself, busy: it documents 410 while it updates (up to 70 s), and throttles with 429.
    if server.starts_with("IMDS") && matches!(reply.status, 410 | 429 | 500..=599) {
        return warn(
            format!(
                "TCP connect {connect_ms} ms; IMDS answered {} (busy or updating) for the step's whole budget",
                reply.status
            ),
            "IMDS documents 410 for up to 70 s while it updates: run again in a minute (the commands \
             themselves retry it within --timeout)"
                .into(),
        );
    }
    fail(
        format!(
            "something that is not IMDS answered: {} (Server: '{server}')",
            reply.status
        ),
        Some(imds::PROXY_HINT.to_string()),
        Kind::Unreachable,
    )
}

pub(super) fn instance(c: &Checkup, http: &Http) -> (Outcome, Option<Vm>) {
    match imds::instance(http, c.imds_endpoint) {
        Ok(doc) => {
            let vm = Vm::from_instance(&doc);
            let named = |value: &str, none: &str| {
                if value.is_empty() {
                    none.to_string()
                } else {
                    clean(value)
                }
            };
            let detail = format!(
                "VM '{}' in group '{}', subscription {}, cloud {}, security type {}",
                clean(&vm.name),
                clean(&vm.resource_group),
                clean(&vm.subscription_id),
                named(&vm.az_environment, "(none named)"),
                named(&vm.security_type, "standard"),
            );
            (pass(detail), Some(vm))
        }
        Err(e) => (failed(&e), None),
    }
}

/// Whether IMDS offers its second generation (certificate-bound tokens): MSAL .NET's
/// `ImdsV2ManagedIdentitySource` asks `getplatformmetadata` without `Metadata: true` and takes
/// the 400 for the missing header to mean it is there. Never a failure: armi uses IMDS v1's
/// bearer tokens, as every SDK still does.
pub(super) fn imds_v2(c: &Checkup, http: &Http) -> Outcome {
    // Not Service::Imds, whose 404 rule would retry the "no" answer until the step's end.
    let reply = http.send(&Request {
        service: Service::Local("IMDS"),
        method: "GET",
        url: c.imds_endpoint.url(
            "/metadata/identity/getplatformmetadata",
            "cred-api-version=2.0",
        ),
        what: "ask IMDS whether it offers v2".into(),
        headers: vec![],
        bearer: None,
        body: None,
    });
    let v1 = "armi uses IMDS v1 bearer tokens, as every SDK still does";
    match reply {
        Ok(r) if r.status == 400 => pass(format!(
            "IMDS offers v2 (certificate-bound tokens; preview, Windows VMs only); {v1}"
        )),
        Ok(r) => pass(format!(
            "IMDS does not offer v2 (it answered {}); {v1}",
            r.status
        )),
        Err(e) => pass(format!(
            "could not tell whether IMDS offers v2 ({}); {v1}",
            e.message
        )),
    }
}

pub(super) fn identity(c: &Checkup, cloud: &Cloud, http: &Http) -> (Outcome, Option<Token>) {
    match c.source.token(http, cloud.arm_audience, c.identity, cloud) {
        Ok(t) => (
            pass(format!(
                "{}: a token for {}",
                c.identity.describe(),
                cloud.arm_audience
            )),
            Some(t),
        ),
        Err(e) => (failed(&e), None),
    }
}

/// What the token says: audience for this cloud, not expired, and for the identity asked for.
pub(super) fn token_claims(c: &Checkup, token: &Token, cloud: &Cloud) -> Outcome {
    let claims = match Claims::decode(token.access_token.expose()) {
        Ok(claims) => claims,
        Err(e) => {
            return warn(
                e.message,
                "the identity host returned an opaque token; ARM will judge it".into(),
            );
        }
    };
    if let Err(why) = claims.check(c.identity) {
        return fail(
            why,
            Some("the identity host answered for another identity; check the id".into()),
            Kind::NoIdentity,
        );
    }
    let audience = claims.audience().unwrap_or_default();
    let who = format!(
        "{} principal {}, client {}",
        claims.kind(),
        claims.object_id().unwrap_or_else(|| "?".into()),
        claims.client_id().unwrap_or_else(|| "?".into())
    );
    let left = token.expires_on.saturating_sub(token::now());
    if left == 0 {
        return fail(
            format!("{who}: the token has expired"),
            Some("check this machine's clock (date -u)".into()),
            Kind::Denied,
        );
    }
    let cloud_audiences = [cloud.arm_audience, cloud.arm_audience.trim_end_matches('/')];
    if !cloud_audiences.contains(&audience.as_str()) {
        return warn(
            format!(
                "{who}: audience '{audience}' is not {}'s ARM ({})",
                cloud.name, cloud.arm_audience
            ),
            "pass --cloud to match the cloud the ARM endpoint belongs to".into(),
        );
    }
    pass(format!(
        "{who}; audience {audience}; expires in {} h {} min",
        left / 3600,
        left % 3600 / 60
    ))
}

/// ARM over TLS (and the configured proxy), asked without a token: a 401 proves the way works.
pub(super) fn arm_reachable(c: &Checkup, endpoint: &Endpoint, http: &Http) -> Outcome {
    let remote = c.http.remote();
    let via = match remote.proxies.for_host(&endpoint.host, endpoint.https) {
        Ok(Some(p)) => format!("via proxy {} ({})", p.shown(), p.variable),
        Ok(None) => "direct".to_string(),
        Err(e) => return failed(&e),
    };
    let roots = if remote.ca_file.is_some() {
        "trusted CA file"
    } else {
        "built-in roots"
    };
    let reply = http.send(&Request {
        service: Service::Arm,
        method: "GET",
        url: endpoint.url("/subscriptions", "api-version=2022-12-01"),
        what: "reach ARM".into(),
        headers: vec![],
        bearer: None,
        body: None,
    });
    match reply {
        Ok(r) if matches!(r.status, 401 | 200) => pass(format!(
            "{} answered {} {via}; TLS verified ({roots})",
            endpoint.origin(),
            r.status
        )),
        Ok(r) => warn(
            format!(
                "{} answered {} to an unauthenticated request (401 expected) {via}",
                endpoint.origin(),
                r.status
            ),
            "check --arm-endpoint and any proxy in between".into(),
        ),
        Err(e) => failed(&e),
    }
}

/// The group read, as `armi group` does it.
pub(super) fn group_read(
    c: &Checkup,
    vm: Option<&Vm>,
    endpoint: &Endpoint,
    token: &Token,
    http: &Http,
) -> Outcome {
    let host = c.source.host;
    let (subscription, group) = match (
        scope::SUBSCRIPTION.pick(c.subscription, vm, host),
        scope::GROUP.pick(c.resource_group, vm, host),
    ) {
        (Ok(s), Ok(g)) => (s, g),
        (Err(e), _) | (_, Err(e)) if e.kind == Kind::Usage => {
            return skipped(format!("no subscription and group to read: {}", e.message));
        }
        (Err(e), _) | (_, Err(e)) => return failed(&e),
    };
    let session = Session::new(http, Origin::of(endpoint), token.access_token.expose());
    let url = match arm::group_url(endpoint, &subscription, &group, "", arm::GROUP_API_VERSION) {
        Ok(u) => u,
        Err(e) => return failed(&e),
    };
    let what = format!("read resource group '{}'", group.as_str());
    match session.get_json(&url, &what) {
        Ok(_) => pass(format!("{what} in subscription {}", subscription.as_str())),
        Err(e) => failed(&e),
    }
}
