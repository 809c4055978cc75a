//! Service Fabric's managed identity token service (protocol.md §5.4, SF-DOC:
//! MicrosoftDocs/azure-compute-docs `articles/service-fabric/how-to-managed-identity-service-fabric-app-code.md`):
//! HTTPS with a self-signed certificate that clients pin by `IDENTITY_SERVER_THUMBPRINT`,
//! `GET ?api-version=2019-07-01-preview&resource=R` with the `Secret` header. The identity is
//! the one the cluster gave the application; requests cannot choose. Errors are
//! `{"error":{"correlationId","code","message"}}` with the documented codes and messages.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::encoding::{epoch_now, http_date};
use crate::host::Host;
use crate::http::{Request, Response};
use crate::identities;
use crate::ids::random_guid;
use crate::record::Service;
use crate::scenario::Route;
use crate::server::ConnInfo;
use crate::state::Shared;

pub const TOKEN_PATH: &str = "/metadata/identity/oauth2/token";
/// "currently the only accepted value" (SF-DOC).
pub const API_VERSION: &str = "2019-07-01-preview";
/// The subject of the token service's self-signed certificate.
pub const CERTIFICATE_NAME: &str = "ServiceFabricManagedIdentityTokenService";

pub struct ServiceFabric {
    shared: Arc<Shared>,
    /// `IDENTITY_HEADER`: the authentication code of the service's code package.
    secret: String,
}

/// A token service error: status, code, message.
pub struct Failure {
    status: u16,
    code: &'static str,
    message: String,
}

fn fail(status: u16, code: &'static str, message: &str) -> Failure {
    Failure {
        status,
        code,
        message: message.into(),
    }
}

/// SF-DOC: "The application has no identity, or the authentication code is unknown."
fn identity_not_found() -> Failure {
    fail(
        404,
        "ManagedIdentityNotFound",
        "Managed identity not found for the specified application host.",
    )
}

impl ServiceFabric {
    pub fn new(shared: Arc<Shared>, secret: String) -> Self {
        ServiceFabric { shared, secret }
    }

    /// SF-DOC's field order; `expires_on` a number as documented, or the string the Azure
    /// SDK team saw when the scenario asks for it.
    fn token(&self, resource: &str) -> Result<Response, Failure> {
        let scenario = &self.shared.scenario;
        // The cluster assigns the application one identity: the system one, else its only
        // user-assigned one.
        let users = identities::users(scenario);
        let identity = match (identities::system(scenario), users.as_slice()) {
            (Some(system), _) => system,
            (None, [only]) => only.clone(),
            _ => return Err(identity_not_found()),
        };
        let minted = self.shared.tokens.mint(scenario, &identity, resource);
        let expires_on: Value = if scenario.service_fabric_expires_on_string {
            minted.expires_on.to_string().into()
        } else {
            minted.expires_on.into()
        };
        let mut body = Map::new();
        body.insert("token_type".into(), "Bearer".into());
        body.insert("access_token".into(), minted.access_token.into());
        body.insert("expires_on".into(), expires_on);
        body.insert("resource".into(), resource.into());
        Ok(Response::json(200, &Value::Object(body)))
    }
}

impl Host for ServiceFabric {
    type Failure = Failure;

    fn service(&self) -> Service {
        Service::ServiceFabric
    }

    fn on_route(&self, route: &Route, _request: &Request) -> bool {
        matches!(route, Route::ServiceFabric)
    }

    fn answer(&self, request: &Request) -> Result<Response, Failure> {
        if request.path() != TOKEN_PATH {
            return Err(fail(404, "NotFound", "Not found."));
        }
        if request.method != "GET" {
            return Err(fail(405, "MethodNotAllowed", "Method not allowed."));
        }
        match request.header("secret") {
            None => {
                return Err(fail(
                    404,
                    "SecretHeaderNotFound",
                    "Secret is not found in the request headers.",
                ));
            }
            Some(secret) if secret != self.secret => return Err(identity_not_found()),
            Some(_) => {}
        }
        let version = request.query("api-version").unwrap_or_default();
        if version != API_VERSION {
            let message = format!(
                "The api-version '{version}' is not supported. Supported version is '{API_VERSION}'."
            );
            return Err(fail(400, "InvalidApiVersion", &message));
        }
        let resource = request.resource().ok_or_else(|| {
            fail(
                400,
                "ArgumentNullOrEmpty",
                "The parameter 'resource' should not be null or empty string.",
            )
        })?;
        self.token(&resource)
    }

    fn error_response(&self, failure: &Failure, _: &Request, _: &ConnInfo) -> Response {
        Response::json(
            failure.status,
            &json!({"error": {
                "correlationId": random_guid(),
                "code": failure.code,
                "message": failure.message,
            }}),
        )
    }

    /// The error for a status injected by a fault; 500's is SF-DOC's.
    fn fault_failure(code: u16) -> Failure {
        match code {
            404 => identity_not_found(),
            429 => fail(429, "TooManyRequests", "Throttle limit reached."),
            500 => fail(500, "InternalServerError", "An error occurred."),
            _ => fail(code, "Error", crate::http::reason(code)),
        }
    }

    fn finish(&self, mut response: Response, _: &Request) -> Response {
        response.default_header("Content-Type", "application/json");
        response.default_header("Date", &http_date(epoch_now()));
        response
    }
}
