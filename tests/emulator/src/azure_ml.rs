//! Azure Machine Learning's identity endpoint (`MSI_ENDPOINT`, `MSI_SECRET`; protocol.md §5.5):
//! App Service's 2017-09-01 protocol with its own quirks. `GET /MSI/token?api-version=2017-09-01
//! &resource=R[&clientid=X]` with the `secret` header; `expires_on` is a number (MSAL Python,
//! azure-identity); `client_id` instead of `clientid` is refused ("a known bug in Azure ML
//! 2017 API", MSAL Python; 400 seen in Azure/azure-sdk-for-net#49174). Its errors are plain
//! text, as in "Invalid secret token header: " (Azure/azure-sdk-for-net#46932).

use std::sync::Arc;

use serde_json::Value;

use crate::app_service;
use crate::encoding::{epoch_now, http_date};
use crate::host::Host;
use crate::http::{Request, Response};
use crate::identities::{self, Selector};
use crate::record::Service;
use crate::scenario::Route;
use crate::server::ConnInfo;
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
pub struct Failure {
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
}

impl Host for AzureMl {
    type Failure = Failure;

    fn service(&self) -> Service {
        Service::AzureMl
    }

    fn on_route(&self, route: &Route, _request: &Request) -> bool {
        matches!(route, Route::AzureMl)
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
            .resource()
            .ok_or_else(|| fail(400, "The resource parameter is required."))?;
        let identity = self.identity(request)?;
        // MSAL Python's and azure-identity's fields; `expires_on` a JSON number.
        Ok(app_service::token(
            &self.shared,
            &identity,
            &resource,
            Value::from,
        ))
    }

    fn error_response(&self, failure: &Failure, _: &Request, _: &ConnInfo) -> Response {
        let mut response =
            Response::new(failure.status).header("Content-Type", "text/plain; charset=utf-8");
        response.body = failure.text.clone().into_bytes();
        response
    }

    fn fault_failure(code: u16) -> Failure {
        fail(code, crate::http::reason(code))
    }

    fn finish(&self, mut response: Response, _: &Request) -> Response {
        response.default_header("Content-Type", "application/json");
        response.default_header("Date", &http_date(epoch_now()));
        response
    }
}
