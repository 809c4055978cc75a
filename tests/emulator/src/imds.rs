//! The Instance Metadata Service: managed-identity tokens, instance metadata, identity info and
//! versions, with IMDS's request rules (protocol.md §1, §2) and its two error shapes: OAuth-style
//! `{"error","error_description"}` under `/metadata/identity`, free text `{"error"}` elsewhere.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::encoding::epoch_now;
use crate::gate::ImdsGate;
use crate::host::Host;
use crate::http::{Request, Response};
use crate::identities::{self, Selector};
use crate::instance::{self, Answer};
use crate::record::Service;
use crate::scenario::{Route, Scenario};
use crate::server::ConnInfo;
use crate::state::Shared;
use crate::token::Identity;

/// Every api-version IMDS documents, newest first.
const VERSIONS: [&str; 35] = [
    "2025-04-07",
    "2024-07-17",
    "2024-03-15",
    "2023-11-15",
    "2023-07-01",
    "2021-12-13",
    "2021-11-15",
    "2021-11-01",
    "2021-10-01",
    "2021-08-01",
    "2021-05-01",
    "2021-03-01",
    "2021-02-01",
    "2021-01-01",
    "2020-12-01",
    "2020-10-01",
    "2020-09-01",
    "2020-07-15",
    "2020-06-01",
    "2019-11-01",
    "2019-08-15",
    "2019-08-01",
    "2019-06-04",
    "2019-06-01",
    "2019-04-30",
    "2019-03-11",
    "2019-02-01",
    "2018-10-01",
    "2018-04-02",
    "2018-02-01",
    "2017-12-01",
    "2017-10-01",
    "2017-08-01",
    "2017-04-02",
    "2017-03-01",
];
/// The `/metadata/identity` category appeared in this version.
const IDENTITY_SINCE: &str = "2018-02-01";
const SERVER: &str = "IMDS/150.870.65.528";
const TOKEN_PATH: &str = "/metadata/identity/oauth2/token";
/// IMDSv2's first step (certificate-bound tokens): MSAL .NET's `ImdsV2ManagedIdentitySource`
/// probes it without `Metadata: true` and takes IMDS's 400 for that missing header to mean v2
/// is there; an IMDS without v2 does not know the path, header or not.
const PLATFORM_METADATA_PATH: &str = "/metadata/identity/getplatformmetadata";
const SELECTORS: [&str; 3] = ["client_id", "object_id", "msi_res_id"];

pub struct Imds {
    shared: Arc<Shared>,
    /// The VM of a fleet this IMDS belongs to; `None` for the scenario's own VM.
    vm: Option<Scenario>,
    /// This VM's limits, when the scenario throttles.
    gate: Option<ImdsGate>,
}

/// What the request path names.
#[derive(PartialEq)]
enum Endpoint<'a> {
    Token,
    IdentityInfo,
    PlatformMetadata,
    Instance(&'a str),
    Versions,
    Unknown,
}

impl<'a> Endpoint<'a> {
    fn of(path: &'a str) -> Self {
        match path {
            TOKEN_PATH => Endpoint::Token,
            "/metadata/identity/info" => Endpoint::IdentityInfo,
            PLATFORM_METADATA_PATH => Endpoint::PlatformMetadata,
            "/metadata/versions" => Endpoint::Versions,
            "/metadata/instance" => Endpoint::Instance(""),
            _ => match path.strip_prefix("/metadata/instance/") {
                Some(sub) => Endpoint::Instance(sub),
                None => Endpoint::Unknown,
            },
        }
    }
}

/// An IMDS error, rendered in the shape of the endpoint's category.
pub enum Failure {
    Error {
        status: u16,
        /// The OAuth `error` code, shown only in the identity category.
        code: &'static str,
        text: String,
    },
    /// Missing or unsupported api-version: one documented body for every endpoint.
    ApiVersion,
}

fn fail(status: u16, code: &'static str, text: &str) -> Failure {
    Failure::Error {
        status,
        code,
        text: text.to_string(),
    }
}

impl Imds {
    pub fn new(shared: Arc<Shared>) -> Self {
        Imds::serving(shared, None)
    }

    /// The IMDS of one VM of a fleet, which sees the world as `vm` says.
    pub fn for_vm(shared: Arc<Shared>, vm: Scenario) -> Self {
        Imds::serving(shared, Some(vm))
    }

    fn serving(shared: Arc<Shared>, vm: Option<Scenario>) -> Self {
        let gate = shared
            .scenario
            .throttling
            .as_ref()
            .map(|throttling| ImdsGate::new(throttling.imds.clone()));
        Imds { shared, vm, gate }
    }

    /// The scenario as this VM sees it.
    fn scenario(&self) -> &Scenario {
        self.vm.as_ref().unwrap_or(&self.shared.scenario)
    }

    fn token(&self, request: &Request) -> Result<Response, Failure> {
        let scenario = self.scenario();
        if let Some(delay) = self
            .shared
            .scenario
            .throttling
            .as_ref()
            .map(|t| t.imds_token_delay)
            && !delay.is_zero()
        {
            self.shared.sleep(delay);
        }
        let resource = request.resource().ok_or_else(|| {
            fail(
                400,
                "invalid_request",
                "Required audience parameter not specified",
            )
        })?;
        let known = |identity: &Identity| !self.shared.still_attaching(identity);
        let identity = choose_identity(scenario, request, &known)?;
        let minted = self.shared.tokens.mint(scenario, &identity, &resource);
        // Field order of the recorded real answers (alphabetical); every value a string.
        let mut body = Map::new();
        body.insert("access_token".into(), minted.access_token.into());
        body.insert("client_id".into(), identity.client_id.clone().into());
        body.insert("expires_in".into(), minted.expires_in.to_string().into());
        body.insert("expires_on".into(), minted.expires_on.to_string().into());
        body.insert(
            "ext_expires_in".into(),
            minted.ext_expires_in.to_string().into(),
        );
        if let Some(id) = request.query("msi_res_id") {
            body.insert("msi_res_id".into(), id.into());
        }
        body.insert("not_before".into(), minted.not_before.to_string().into());
        if let Some(id) = request.query("object_id") {
            body.insert("object_id".into(), id.into());
        }
        body.insert("refresh_token".into(), "".into());
        body.insert("resource".into(), resource.into());
        body.insert("token_type".into(), "Bearer".into());
        Ok(Response::json(200, &Value::Object(body)))
    }

    fn instance(&self, request: &Request, version: &str, sub: &str) -> Result<Response, Failure> {
        let format = request.query("format");
        match instance::answer(self.scenario(), version, sub, format.as_deref()) {
            Answer::Json(value) => Ok(Response::json(200, &value)),
            Answer::Text(text) => {
                let mut response =
                    Response::new(200).header("Content-Type", "text/plain; charset=utf-8");
                response.body = text.into_bytes();
                Ok(response)
            }
            Answer::NotFound => Err(fail(404, "not_found", "Not found")),
            Answer::LeafNeedsText => Err(fail(
                400,
                "bad_request",
                "Bad request. Leaf nodes can only be queried with format=text",
            )),
        }
    }
}

/// The rules every IMDS request must pass (IMDS-DOC "Security and authentication", "HTTP
/// verbs", "Query parameters").
fn check_request(request: &Request) -> Result<(), Failure> {
    if request.method != "GET" {
        return Err(fail(405, "method_not_allowed", "Not allowed"));
    }
    if request.header("metadata") != Some("true") {
        return Err(fail(
            400,
            "invalid_request",
            "Required metadata header not specified",
        ));
    }
    if request.header("x-forwarded-for").is_some() {
        return Err(fail(400, "invalid_request", "Bad request"));
    }
    let pairs = request.query_pairs();
    let duplicated = pairs
        .iter()
        .enumerate()
        .any(|(i, (key, _))| pairs[..i].iter().any(|(k, _)| k == key));
    if duplicated {
        return Err(fail(400, "invalid_request", "Bad request"));
    }
    Ok(())
}

/// The request's api-version if IMDS supports it for this endpoint.
fn api_version(request: &Request, endpoint: &Endpoint) -> Result<String, Failure> {
    let identity = matches!(endpoint, Endpoint::Token | Endpoint::IdentityInfo);
    request
        .query("api-version")
        .filter(|v| VERSIONS.contains(&v.as_str()))
        .filter(|v| !identity || v.as_str() >= IDENTITY_SINCE)
        .ok_or(Failure::ApiVersion)
}

/// The identity a token request designates (protocol.md §1.1, §1.3, §1.4 known issue), among
/// those IMDS already `known`s (one just attached is not, for a while: data-plane.md §3).
fn choose_identity(
    scenario: &Scenario,
    request: &Request,
    known: &dyn Fn(&Identity) -> bool,
) -> Result<Identity, Failure> {
    let selectors: Vec<(&str, String)> = SELECTORS
        .iter()
        .filter_map(|key| request.query(key).map(|value| (*key, value)))
        .collect();
    let system = identities::system(scenario);
    let users: Vec<Identity> = identities::users(scenario)
        .into_iter()
        .filter(|u| known(u))
        .collect();
    let not_found = || fail(400, "invalid_request", "Identity not found");
    if scenario.imds_ignores_selectors {
        return system.ok_or_else(not_found);
    }
    match selectors.as_slice() {
        [] => match (system, users.len()) {
            (Some(system), _) => Ok(system),
            (None, 1) => Ok(users[0].clone()),
            (None, 0) => Err(not_found()),
            (None, _) => Err(fail(
                400,
                "invalid_request",
                "Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request",
            )),
        },
        [(key, value)] => {
            let selector = match *key {
                "client_id" => Selector::Client,
                "object_id" => Selector::Object,
                _ => Selector::Resource,
            };
            identities::find(scenario, selector, value)
                .filter(|identity| known(identity))
                .ok_or_else(not_found)
        }
        _ => Err(fail(
            400,
            "invalid_request",
            "Only one of client_id, object_id and msi_res_id may be specified",
        )),
    }
}

/// IMDS's 429 over its limits, with no `Retry-After`: the identity category's body as seen
/// in public (azure-sdk-for-net#39574), elsewhere the category's free-text shape with the
/// swagger example's text.
fn throttled(request: &Request) -> Failure {
    if in_identity_category(request) {
        fail(
            429,
            "invalid_request",
            "Temporarily throttled, too many requests",
        )
    } else {
        fail(429, "too_many_requests", "Too many requests")
    }
}

fn in_identity_category(request: &Request) -> bool {
    request.path().starts_with("/metadata/identity")
}

impl Host for Imds {
    type Failure = Failure;

    fn service(&self) -> Service {
        Service::Imds
    }

    fn on_route(&self, route: &Route, request: &Request) -> bool {
        match route {
            Route::ImdsToken => request.path() == TOKEN_PATH,
            Route::ImdsInstance => matches!(Endpoint::of(request.path()), Endpoint::Instance(_)),
            Route::AnyImds => true,
            _ => false,
        }
    }

    fn answer(&self, request: &Request) -> Result<Response, Failure> {
        // Held until the answer is made: identity requests in flight count against the VM's
        // concurrency.
        let _pass = match &self.gate {
            Some(gate) => match gate.enter(&self.shared.throttle_counts, request.path()) {
                Some(pass) => Some(pass),
                None => return Err(throttled(request)),
            },
            None => None,
        };
        let endpoint = Endpoint::of(request.path());
        if endpoint == Endpoint::PlatformMetadata && !self.shared.scenario.imds_v2 {
            return Err(fail(404, "not_found", "Not found"));
        }
        check_request(request)?;
        if endpoint == Endpoint::Versions {
            let ascending: Vec<&str> = VERSIONS.iter().rev().copied().collect();
            return Ok(Response::json(200, &json!({"apiVersions": ascending})));
        }
        if endpoint == Endpoint::Unknown {
            return Err(fail(404, "not_found", "Not found"));
        }
        let version = api_version(request, &endpoint)?;
        match endpoint {
            Endpoint::Token => self.token(request),
            Endpoint::IdentityInfo => Ok(Response::json(
                200,
                &json!({"tenantId": self.scenario().tenant_id}),
            )),
            Endpoint::Instance(sub) => self.instance(request, &version, sub),
            Endpoint::PlatformMetadata => Ok(Response::json(
                200,
                &json!({
                    "clientId": identities::system(&self.shared.scenario).map(|i| i.client_id),
                    "tenantId": self.shared.scenario.tenant_id,
                    "cuId": {"vmId": crate::ids::stable_guid("vm-id")},
                }),
            )),
            Endpoint::Versions | Endpoint::Unknown => Err(fail(404, "not_found", "Not found")),
        }
    }

    /// The status and body of an IMDS error, in the category's shape.
    fn error_response(&self, failure: &Failure, request: &Request, _: &ConnInfo) -> Response {
        match failure {
            Failure::ApiVersion => Response::json(
                400,
                &json!({
                    "error": "Bad request. api-version is invalid or was not specified in the request. For more information refer to aka.ms/azureimds",
                    "newest-versions": VERSIONS[..3],
                }),
            ),
            Failure::Error { status, code, text } if in_identity_category(request) => {
                Response::json(*status, &json!({"error": code, "error_description": text}))
            }
            Failure::Error { status, text, .. } => Response::json(*status, &json!({"error": text})),
        }
    }

    /// The category's error for a status injected by a fault (swagger examples, VMTOKEN table).
    fn fault_failure(code: u16) -> Failure {
        match code {
            400 => fail(400, "invalid_request", "Bad request"),
            401 => fail(401, "unauthorized_client", "Unauthorized"),
            403 => fail(403, "forbidden", "Forbidden"),
            404 => fail(404, "not_found", "Not found"),
            405 => fail(405, "method_not_allowed", "Not allowed"),
            410 => fail(410, "service_unavailable", "IMDS is going through updates"),
            429 => fail(429, "too_many_requests", "Too many requests"),
            500 => fail(500, "server_error", "Server error"),
            501..=599 => fail(code, "service_unavailable", "Service unavailable"),
            _ => fail(code, "bad_request", "Bad request"),
        }
    }

    /// IMDS's common headers.
    fn finish(&self, mut response: Response, _: &Request) -> Response {
        response.default_header("Content-Type", "application/json; charset=utf-8");
        response.default_header("Server", SERVER);
        response.default_header("Date", &crate::encoding::http_date(epoch_now()));
        response
    }
}
