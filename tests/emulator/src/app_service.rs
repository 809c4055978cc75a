//! App Service / Azure Functions' local identity endpoint (`IDENTITY_ENDPOINT`, protocol.md
//! §5.2, APPSVC-DOC): `GET /msi/token?resource=R&api-version=2019-08-01` with
//! `X-IDENTITY-HEADER`, or the older 2017-09-01 protocol with a `secret` header, `clientid`,
//! and `expires_on` as a date. It runs on Kestrel, and its errors are
//! `{"statusCode","message","correlationId"}` (observed, Azure/azure-sdk-for-net#43691).

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::encoding::{app_service_time, epoch_now, http_date};
use crate::host::Host;
use crate::http::{Request, Response};
use crate::identities::{self, Selector};
use crate::ids::random_guid;
use crate::record::Service;
use crate::scenario::Route;
use crate::server::ConnInfo;
use crate::state::Shared;
use crate::token::Identity;

/// The endpoint's path; Windows plans spell it `/MSI/token`, Linux ones `/msi/token`.
pub const TOKEN_PATH: &str = "/MSI/token";

pub struct AppService {
    shared: Arc<Shared>,
    /// `IDENTITY_HEADER`, which the platform rotates; one per emulator here.
    secret: String,
}

/// The two protocol versions and what differs between them.
#[derive(Clone, Copy, PartialEq)]
enum Protocol {
    /// 2019-08-01: `X-IDENTITY-HEADER`, `client_id`/`principal_id`/`object_id`/`mi_res_id`,
    /// `expires_on` in epoch seconds (as a string).
    Current,
    /// 2017-09-01: `secret`, `clientid` only, `expires_on` as a date string.
    Legacy,
}

impl Protocol {
    fn header(self) -> &'static str {
        match self {
            Protocol::Current => "X-IDENTITY-HEADER",
            Protocol::Legacy => "secret",
        }
    }

    /// The selectors the version knows, with what they select by.
    fn selectors(self) -> &'static [(&'static str, Selector)] {
        match self {
            Protocol::Current => &[
                ("client_id", Selector::Client),
                ("principal_id", Selector::Object),
                ("object_id", Selector::Object),
                ("mi_res_id", Selector::Resource),
            ],
            Protocol::Legacy => &[("clientid", Selector::Client)],
        }
    }
}

/// An App Service error: its status and message.
pub struct Failure {
    status: u16,
    message: String,
}

fn fail(status: u16, message: &str) -> Failure {
    Failure {
        status,
        message: message.into(),
    }
}

impl AppService {
    pub fn new(shared: Arc<Shared>, secret: String) -> Self {
        AppService { shared, secret }
    }

    /// The identity the request selects: at most one selector, none meaning the system one.
    fn identity(&self, request: &Request, protocol: Protocol) -> Result<Identity, Failure> {
        let scenario = &self.shared.scenario;
        let chosen: Vec<(Selector, String)> = protocol
            .selectors()
            .iter()
            .filter_map(|(key, selector)| request.query(key).map(|value| (*selector, value)))
            .collect();
        // What the real endpoint says for an identity it cannot find, e.g. when only
        // user-assigned identities exist and none was selected (azure-sdk-for-net#43691).
        let unknown = || fail(400, "Unable to load the proper Managed Identity.");
        match chosen.as_slice() {
            [] => identities::system(scenario).ok_or_else(unknown),
            [(selector, value)] => identities::find(scenario, *selector, value).ok_or_else(unknown),
            _ => Err(fail(
                400,
                "Only one of client_id, principal_id, object_id and mi_res_id may be specified.",
            )),
        }
    }
}

/// The token answer in the field order of the documented and recorded ones. Azure ML speaks
/// the 2017-09-01 protocol and answers the same, but for how it writes `expires_on`.
pub fn token(
    shared: &Shared,
    identity: &Identity,
    resource: &str,
    expires_on: impl FnOnce(u64) -> Value,
) -> Response {
    let minted = shared.tokens.mint(&shared.scenario, identity, resource);
    let mut body = Map::new();
    body.insert("access_token".into(), minted.access_token.into());
    body.insert("expires_on".into(), expires_on(minted.expires_on));
    body.insert("resource".into(), resource.into());
    body.insert("token_type".into(), "Bearer".into());
    body.insert("client_id".into(), identity.client_id.clone().into());
    Response::json(200, &Value::Object(body))
}

impl Host for AppService {
    type Failure = Failure;

    fn service(&self) -> Service {
        Service::AppService
    }

    fn on_route(&self, route: &Route, _request: &Request) -> bool {
        matches!(route, Route::AppService)
    }

    fn answer(&self, request: &Request) -> Result<Response, Failure> {
        if !request.path().eq_ignore_ascii_case(TOKEN_PATH) {
            return Err(fail(404, "Not Found"));
        }
        if request.method != "GET" {
            return Err(fail(405, "Method Not Allowed"));
        }
        let protocol = match request.query("api-version").as_deref() {
            Some("2019-08-01") => Protocol::Current,
            Some("2017-09-01") => Protocol::Legacy,
            other => {
                let message = format!(
                    "The api-version '{}' is not supported. Use 2019-08-01 or 2017-09-01.",
                    other.unwrap_or_default()
                );
                return Err(fail(400, &message));
            }
        };
        if request.header(protocol.header()) != Some(self.secret.as_str()) {
            let message = format!("The {} header is missing or invalid.", protocol.header());
            return Err(fail(401, &message));
        }
        let resource = request
            .resource()
            .ok_or_else(|| fail(400, "The resource parameter is required."))?;
        let identity = self.identity(request, protocol)?;
        Ok(token(
            &self.shared,
            &identity,
            &resource,
            |epoch| match protocol {
                Protocol::Current => epoch.to_string().into(),
                Protocol::Legacy => app_service_time(epoch).into(),
            },
        ))
    }

    /// The error body, its correlation id repeated in `X-CORRELATION-ID` as the real one sends.
    fn error_response(&self, failure: &Failure, _: &Request, _: &ConnInfo) -> Response {
        let correlation = random_guid();
        Response::json(
            failure.status,
            &json!({
                "statusCode": failure.status,
                "message": failure.message,
                "correlationId": correlation,
            }),
        )
        .header("X-CORRELATION-ID", &correlation)
    }

    /// The message for a status injected by a fault. MSAL Python notes that "wrong resource ends
    /// up with a vague statusCode=500".
    fn fault_failure(code: u16) -> Failure {
        match code {
            429 => fail(429, "Too many requests."),
            500 => fail(
                500,
                "An unexpected error occurred while fetching the AAD token.",
            ),
            _ => fail(code, crate::http::reason(code)),
        }
    }

    /// Kestrel's headers.
    fn finish(&self, mut response: Response, _: &Request) -> Response {
        response.default_header("Content-Type", "application/json; charset=utf-8");
        response.default_header("Date", &http_date(epoch_now()));
        response.default_header("Server", "Kestrel");
        response
    }
}
