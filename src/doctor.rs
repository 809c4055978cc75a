//! `armi doctor`: walks the chain from this machine to its resource group, one step at a time,
//! and for each step that fails or looks wrong says the exact fix. Every step has its own short
//! budget, so a broken IMDS is diagnosed in seconds, not after the 90-second retry deadline.

use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use crate::arm::{self, Origin, ResourceGroupName, Session, SubscriptionId};
use crate::claims::Claims;
use crate::cloud::Cloud;
use crate::error::{Error, Kind};
use crate::http::{self, ArmTransport, Deadline, Endpoint, Http, Request, Service};
use crate::imds::{self, Vm, clean};
use crate::sources::{Host, Source};
use crate::token::{self, Token};

/// The whole doctor run fits in this unless `--timeout` gives more.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pass,
    Warn,
    Fail,
    Skip,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone)]
pub struct Step {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
    pub fix: Option<String>,
    pub millis: u128,
    /// The exit code this step stands for when it fails.
    pub code: u8,
}

/// The report: the steps, and the verdict.
pub struct Report {
    pub steps: Vec<Step>,
}

/// What the doctor needs: where things are and what to check.
pub struct Checkup<'a> {
    pub source: &'a Source,
    pub imds_endpoint: &'a Endpoint,
    pub identity: &'a imds::Identity,
    pub cloud: Option<Cloud>,
    pub arm_endpoint: Option<Endpoint>,
    pub subscription: Option<SubscriptionId>,
    pub resource_group: Option<ResourceGroupName>,
    pub transport: ArmTransport,
    pub budget: Duration,
    pub verbose: bool,
}

impl Report {
    /// The exit code of the first failing step, 0 when none failed.
    pub fn exit_code(&self) -> u8 {
        self.steps
            .iter()
            .find(|s| s.status == Status::Fail)
            .map_or(0, |s| s.code)
    }

    pub fn verdict(&self) -> String {
        match self.steps.iter().find(|s| s.status == Status::Fail) {
            Some(step) => {
                let short: String = step.detail.chars().take(160).collect();
                let cut = if short.len() < step.detail.len() {
                    "…"
                } else {
                    ""
                };
                format!("FAIL at {} (exit {}): {short}{cut}", step.name, step.code)
            }
            None if self.steps.iter().any(|s| s.status == Status::Warn) => {
                "PASS with warnings: the chain works; see the WARN lines".to_string()
            }
            None => {
                "PASS: this machine can act as its managed identity and read its resource group"
                    .to_string()
            }
        }
    }

    pub fn text(&self) -> String {
        let mut out = String::new();
        for s in &self.steps {
            out.push_str(&format!(
                "{:<4}  {:<18} {} ({} ms)\n",
                s.status.label(),
                s.name,
                s.detail,
                s.millis
            ));
            if let Some(fix) = &s.fix {
                out.push_str(&format!("      fix: {fix}\n"));
            }
        }
        out.push_str(&format!("verdict: {}\n", self.verdict()));
        out
    }

    pub fn to_json(&self) -> Value {
        let steps: Vec<Value> = self
            .steps
            .iter()
            .map(|s| {
                json!({
                    "step": s.name,
                    "status": s.status.label(),
                    "detail": s.detail,
                    "fix": s.fix,
                    "ms": s.millis as u64,
                    "exit_code": if s.status == Status::Fail { Some(s.code) } else { None },
                })
            })
            .collect();
        let mut out = Map::new();
        out.insert("steps".into(), Value::Array(steps));
        out.insert("verdict".into(), Value::String(self.verdict()));
        out.insert("exit_code".into(), json!(self.exit_code()));
        Value::Object(out)
    }
}

/// Runs every step in order; a step whose input is missing is skipped, never guessed.
pub fn run(c: &Checkup) -> Report {
    let started = Instant::now();
    let mut steps = Vec::new();
    let left = |share: f64| -> Duration {
        let total_left = c.budget.saturating_sub(started.elapsed());
        c.budget
            .mul_f64(share)
            .min(total_left)
            .max(Duration::from_millis(200))
    };
    steps.push(timed("environment", || environment(c)));
    let on_vm = c.source.host == Host::Imds;
    let reachable = if on_vm {
        let step = timed("imds-reachable", || imds_reachable(c, left(0.15)));
        let ok = step.status != Status::Fail;
        steps.push(step);
        ok
    } else {
        steps.push(skip(
            "imds-reachable",
            &format!("not used: the identity host is {}", c.source.host.name()),
        ));
        true
    };
    let mut vm = None;
    if on_vm && reachable {
        let (step, found) = timed_with("instance-metadata", || instance(c, left(0.15)));
        steps.push(step);
        vm = found;
    } else if on_vm {
        steps.push(skip("instance-metadata", "IMDS is not reachable"));
    } else {
        steps.push(skip("instance-metadata", "only VMs have instance metadata"));
    }
    let cloud = c
        .cloud
        .or_else(|| {
            vm.as_ref()
                .and_then(|v| Cloud::from_name(&v.az_environment))
        })
        .unwrap_or_else(Cloud::public);
    let mut token = None;
    if reachable {
        let (step, got) = timed_with("identity", || identity(c, &cloud, left(0.25)));
        steps.push(step);
        token = got;
    } else {
        steps.push(skip("identity", "IMDS is not reachable"));
    }
    match &token {
        Some(t) => steps.push(timed("token", || token_claims(c, t, &cloud))),
        None => steps.push(skip("token", "no token")),
    }
    let endpoint = c
        .arm_endpoint
        .clone()
        .or_else(|| Endpoint::parse(cloud.arm_endpoint).ok());
    let Some(endpoint) = endpoint else {
        steps.push(skip("arm-reachable", "no ARM endpoint"));
        return Report { steps };
    };
    let arm_step = timed("arm-reachable", || arm_reachable(c, &endpoint, left(0.2)));
    let arm_ok = arm_step.status != Status::Fail;
    steps.push(arm_step);
    match (&token, arm_ok) {
        (Some(t), true) => steps.push(timed("group-read", || {
            group_read(c, vm.as_ref(), &endpoint, t, left(0.25))
        })),
        (None, _) => steps.push(skip("group-read", "no token")),
        (_, false) => steps.push(skip("group-read", "ARM is not reachable")),
    }
    Report { steps }
}

fn timed(name: &'static str, f: impl FnOnce() -> Outcome) -> Step {
    timed_with(name, || (f(), ())).0
}

fn timed_with<T>(name: &'static str, f: impl FnOnce() -> (Outcome, T)) -> (Step, T) {
    let started = Instant::now();
    let (outcome, value) = f();
    let step = Step {
        name,
        status: outcome.status,
        detail: outcome.detail,
        fix: outcome.fix,
        millis: started.elapsed().as_millis(),
        code: outcome.code,
    };
    (step, value)
}

fn skip(name: &'static str, why: &str) -> Step {
    Step {
        name,
        status: Status::Skip,
        detail: why.to_string(),
        fix: None,
        millis: 0,
        code: 0,
    }
}

/// What a step found.
struct Outcome {
    status: Status,
    detail: String,
    fix: Option<String>,
    code: u8,
}

fn pass(detail: String) -> Outcome {
    Outcome {
        status: Status::Pass,
        detail,
        fix: None,
        code: 0,
    }
}

fn warn(detail: String, fix: String) -> Outcome {
    Outcome {
        status: Status::Warn,
        detail,
        fix: Some(fix),
        code: 0,
    }
}

fn fail(detail: String, fix: Option<String>, code: u8) -> Outcome {
    Outcome {
        status: Status::Fail,
        detail,
        fix,
        code,
    }
}

/// An armi error as a failed step: its message, its hint as the fix, its exit code.
fn failed(e: &Error) -> Outcome {
    fail(e.to_string(), e.hint.clone(), e.exit_code())
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Proxy variables that would catch IMDS in other tools, the identity host the environment
/// selects, and whether this is a container.
fn environment(c: &Checkup) -> Outcome {
    let mut notes = vec![format!(
        "identity source: {} ({})",
        c.source.host.name(),
        c.source.why
    )];
    let mut warnings = Vec::new();
    let proxy = ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"]
        .iter()
        .find_map(|n| env(n).map(|v| (*n, v)));
    let no_proxy = env("no_proxy")
        .or_else(|| env("NO_PROXY"))
        .unwrap_or_default();
    if let Some((name, value)) = proxy
        && c.source.host == Host::Imds
        && !http::no_proxy_matches(&no_proxy, "169.254.169.254")
    {
        warnings.push((
            format!("{name}={} would catch IMDS in curl, the Azure CLI and the SDKs (armi never uses a proxy for it)", http::proxy_display(&value)),
            "add 169.254.169.254 to NO_PROXY (export NO_PROXY=169.254.169.254,$NO_PROXY)".to_string(),
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
fn imds_reachable(c: &Checkup, budget: Duration) -> Outcome {
    let endpoint = c.imds_endpoint;
    let port = endpoint.port.unwrap_or(80);
    let address = format!("{}:{port}", endpoint.host);
    let connect_budget = budget.min(Duration::from_secs(2));
    let addrs: Vec<_> = match address.to_socket_addrs() {
        Ok(a) => a.collect(),
        Err(e) => return fail(format!("cannot resolve {address}: {e}"), None, 3),
    };
    let started = Instant::now();
    let connected = addrs
        .iter()
        .find_map(|a| TcpStream::connect_timeout(a, connect_budget).ok());
    let connect_ms = started.elapsed().as_millis();
    if connected.is_none() {
        return fail(
            format!("no TCP connection to {address} within {} ms", connect_budget.as_millis()),
            Some("this is not an Azure VM, or a firewall/route blocks 169.254.169.254 (in a container: use the host network); \
                  --imds-endpoint names another address".into()),
            Kind::Unreachable.exit_code(),
        );
    }
    drop(connected);
    let http = Http::new(
        Deadline::after(budget.saturating_sub(started.elapsed())),
        c.verbose,
        None,
    );
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
                Kind::GaveUp.exit_code(),
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
    let fix = if reply.status == 403 && body.contains("unreachable") {
        "a network proxy answered for IMDS (Docker Desktop does this): IMDS is only reachable from an Azure VM".to_string()
    } else {
        "something other than IMDS answers at the metadata address (a proxy, a firewall page): \
         route 169.254.169.254 directly; armi itself never sends IMDS requests through a proxy"
            .to_string()
    };
    fail(
        format!(
            "something that is not IMDS answered: {} (Server: '{server}')",
            reply.status
        ),
        Some(fix),
        Kind::Unreachable.exit_code(),
    )
}

fn instance(c: &Checkup, budget: Duration) -> (Outcome, Option<Vm>) {
    let http = Http::new(Deadline::after(budget), c.verbose, None);
    match imds::instance(&http, c.imds_endpoint) {
        Ok(doc) => {
            let vm = Vm::from_instance(&doc);
            let detail = format!(
                "VM '{}' in group '{}', subscription {}, cloud {}",
                vm.name,
                vm.resource_group,
                vm.subscription_id,
                if vm.az_environment.is_empty() {
                    "(none named)"
                } else {
                    &vm.az_environment
                }
            );
            (pass(detail), Some(vm))
        }
        Err(e) => (failed(&e), None),
    }
}

fn identity(c: &Checkup, cloud: &Cloud, budget: Duration) -> (Outcome, Option<Token>) {
    let http = Http::new(
        Deadline::after(budget),
        c.verbose,
        Some(c.transport.clone()),
    );
    if let Some((host, https)) = c.source.remote_host(cloud)
        && let Err(e) = http.open_remote(&host, https)
    {
        return (failed(&e), None);
    }
    match c.source.token(&http, cloud.arm_audience, c.identity, cloud) {
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
fn token_claims(c: &Checkup, token: &Token, cloud: &Cloud) -> Outcome {
    let claims = match Claims::decode(&token.access_token) {
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
            Kind::NoIdentity.exit_code(),
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
            Kind::Denied.exit_code(),
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
fn arm_reachable(c: &Checkup, endpoint: &Endpoint, budget: Duration) -> Outcome {
    let http = Http::new(
        Deadline::after(budget),
        c.verbose,
        Some(c.transport.clone()),
    );
    if let Err(e) = http.open_remote(&endpoint.host, endpoint.https) {
        return failed(&e);
    }
    let via = match c.transport.proxies.for_host(&endpoint.host, endpoint.https) {
        Some((name, url)) => format!("via proxy {} ({name})", http::proxy_display(&url)),
        None => "direct".to_string(),
    };
    let roots = if c.transport.roots.is_some() {
        "trusted CA file"
    } else {
        "built-in roots"
    };
    let reply = http.send(&Request {
        service: Service::Arm,
        method: "GET",
        url: endpoint.url("/subscriptions", "api-version=2022-12-01"),
        what: format!("reach ARM at {}", endpoint.origin()),
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
fn group_read(
    c: &Checkup,
    vm: Option<&Vm>,
    endpoint: &Endpoint,
    token: &Token,
    budget: Duration,
) -> Outcome {
    let subscription = c
        .subscription
        .clone()
        .or_else(|| vm.and_then(|v| SubscriptionId::parse(&v.subscription_id).ok()));
    let group = c
        .resource_group
        .clone()
        .or_else(|| vm.and_then(|v| ResourceGroupName::parse(&v.resource_group).ok()));
    let (Some(subscription), Some(group)) = (subscription, group) else {
        return Outcome {
            status: Status::Skip,
            detail: "no subscription and group to read: pass -s and -g".into(),
            fix: None,
            code: 0,
        };
    };
    let http = Http::new(
        Deadline::after(budget),
        c.verbose,
        Some(c.transport.clone()),
    );
    if let Err(e) = http.open_remote(&endpoint.host, endpoint.https) {
        return failed(&e);
    }
    let session = Session::new(&http, Origin::of(endpoint), &token.access_token);
    let url = match arm::group_url(endpoint, &subscription, &group, arm::GROUP_API_VERSION) {
        Ok(u) => u,
        Err(e) => return failed(&e),
    };
    let what = format!("read resource group '{}'", group.as_str());
    match session.get_json(&url, &what) {
        Ok(_) => pass(format!("{what} in subscription {}", subscription.as_str())),
        Err(e) => failed(&e),
    }
}
