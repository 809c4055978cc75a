//! Azure Machine Learning's identity endpoint (`MSI_ENDPOINT`, `MSI_SECRET`; protocol.md §5.5):
//! App Service's 2017-09-01 protocol with its own quirks. `GET /MSI/token?api-version=2017-09-01
//! &resource=R[&clientid=X]` with the `secret` header; `expires_on` is a number (MSAL Python,
//! azure-identity); `client_id` instead of `clientid` is refused ("a known bug in Azure ML
//! 2017 API", MSAL Python; 400 seen in Azure/azure-sdk-for-net#49174). Its errors are plain
//! text, as in "Invalid secret token header: " (Azure/azure-sdk-for-net#46932).

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::encoding::{epoch_now, http_date};
use crate::http::{Request, Response};
use crate::identities::{self, Selector};
use crate::record::Service;
use crate::scenario::Route;
use crate::server::{ConnInfo, Handler};
use crate::state::Shared;
use crate::token::Identity;

/// The path seen in Azure/azure-sdk-for-net#49174's log.
pub const TOKEN_PATH: &str = "/MSI/token";
const API_VERSION: &str = "2017-09-01";

pub struct AzureMl {
    shared: Arc<Shared>,
    /// `MSI_SECRET`.
    secret: String,
}

/// An error: status and plain-text message.
struct Failure {
    status: u16,
    text: String,
}

fn fail(status: u16, text: &str) -> Failure {
    Failure {
        status,
        text: text.into(),
    }
}

impl AzureMl {
    pub fn new(shared: Arc<Shared>, secret: String) -> Self {
        AzureMl { shared, secret }
    }

    fn answer(&self, request: &Request) -> Result<Response, Failure> {
        if !request.path().eq_ignore_ascii_case(TOKEN_PATH) {
            return Err(fail(404, "Not Found"));
        }
        if request.method != "GET" {
            return Err(fail(405, "Method Not Allowed"));
        }
        let secret = request.header("secret").unwrap_or_default();
        if secret != self.secret {
            return Err(fail(400, &format!("Invalid secret token header: {secret}")));
        }
        let version = request.query("api-version").unwrap_or_default();
        if version != API_VERSION {
            return Err(fail(
                400,
                &format!("Unsupported api-version '{version}'. Use {API_VERSION}."),
            ));
        }
        let resource = request
            .query("resource")
            .filter(|r| !r.is_empty())
            .ok_or_else(|| fail(400, "The resource parameter is required."))?;
        let identity = self.identity(request)?;
        Ok(self.token(&identity, &resource))
    }

    /// `clientid` selects a user-assigned identity; without it, the system one.
    fn identity(&self, request: &Request) -> Result<Identity, Failure> {
        let scenario = &self.shared.scenario;
        if request.query("client_id").is_some() {
            return Err(fail(
                400,
                "Unknown query parameter 'client_id'. Use 'clientid' to select an identity.",
            ));
        }
        match request.query("clientid") {
            None => identities::system(scenario)
                .ok_or_else(|| fail(400, "No system-assigned identity is configured.")),
            Some(id) => identities::find(scenario, Selector::Client, &id)
                .ok_or_else(|| fail(400, &format!("Identity with client id '{id}' not found."))),
        }
    }

    /// MSAL Python's and azure-identity's fields; `expires_on` a JSON number.
    fn token(&self, identity: &Identity, resource: &str) -> Response {
        let scenario = &self.shared.scenario;
        let minted = self.shared.tokens.mint(
            &scenario.tenant_id,
            identity,
            resource,
            scenario.token_lifetime_secs,
        );
        let mut body = Map::new();
        body.insert("access_token".into(), minted.access_token.into());
        body.insert("expires_on".into(), minted.expires_on.into());
        body.insert("resource".into(), resource.into());
        body.insert("token_type".into(), "Bearer".into());
        body.insert("client_id".into(), identity.client_id.clone().into());
        Response::json(200, &Value::Object(body))
    }

    fn finish(&self, mut response: Response) -> Response {
        response.default_header("Content-Type", "application/json");
        response.default_header("Date", &http_date(epoch_now()));
        response
    }
}

fn error_response(failure: &Failure) -> Response {
    let mut response =
        Response::new(failure.status).header("Content-Type", "text/plain; charset=utf-8");
    response.body = failure.text.clone().into_bytes();
    response
}

impl Handler for AzureMl {
    fn service(&self) -> Service {
        Service::AzureMl
    }

    fn on_route(&self, route: &Route, _request: &Request) -> bool {
        matches!(route, Route::AzureMl)
    }

    fn respond(&self, request: &Request, _conn: &ConnInfo) -> Response {
        let response = self
            .answer(request)
            .unwrap_or_else(|failure| error_response(&failure));
        self.finish(response)
    }

    fn fault(&self, _: &Request, code: u16, retry_after: Option<&str>, _: &ConnInfo) -> Response {
        let mut response = error_response(&fail(code, crate::http::reason(code)));
        if let Some(seconds) = retry_after {
            response = response.header("Retry-After", seconds);
        }
        self.finish(response)
    }

    fn decorate(&self, response: &mut Response, _request: &Request, _conn: &ConnInfo) {
        *response = self.finish(std::mem::replace(response, Response::new(0)));
    }
}
