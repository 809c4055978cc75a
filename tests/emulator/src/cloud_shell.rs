//! Cloud Shell's token endpoint (`MSI_ENDPOINT`, protocol.md §5.3): `POST /oauth2/token` with
//! `Metadata: true` and the form `resource=R`, answered with the signed-in user's token, not
//! a managed identity's. It also answers IMDS's `GET /metadata/identity/oauth2/token`
//! (Azure/CloudShell#477). Only an allow-list of audiences gets tokens; the rest get 400
//! `AudienceNotSupported` (Azure/CloudShell#109, #155, #972). Errors are
//! `{"error":{"code","message"}}`.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::cloud::accepted_audiences;
use crate::encoding::{epoch_now, http_date};
use crate::host::Host;
use crate::http::{Request, Response, query_pairs};
use crate::record::Service;
use crate::scenario::Route;
use crate::server::ConnInfo;
use crate::state::Shared;
use crate::token::{Identity, Order};

pub const TOKEN_PATH: &str = "/oauth2/token";
const IMDS_PATH: &str = "/metadata/identity/oauth2/token";
/// The public client the user's tokens are issued to (Azure CLI's well-known application id).
const CLIENT_APP_ID: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
/// A user token's lifetime; the endpoint hands out tokens it holds, so a little less is left.
const LIFETIME_SECS: u64 = 3599;
/// The audiences Cloud Shell issues tokens for, in the order its error message lists them
/// (Azure/CloudShell#972, 2024, as far as quoted there).
const AUDIENCES: [&str; 31] = [
    "https://management.core.windows.net/",
    "https://management.azure.com/",
    "https://graph.windows.net/",
    "https://vault.azure.net",
    "cfa8b339-82a2-471a-a3c9-0fc0be7a4093",
    "https://datalake.azure.net/",
    "https://outlook.office365.com/",
    "https://graph.microsoft.com/",
    "00000003-0000-0000-c000-000000000000",
    "https://batch.core.windows.net/",
    "https://analysis.windows.net/powerbi/api",
    "https://storage.azure.com/",
    "https://rest.media.azure.net",
    "https://api.loganalytics.io",
    "https://ossrdbms-aad.database.windows.net",
    "https://www.yammer.com",
    "https://digitaltwins.azure.net",
    "0b07f429-9f4b-4714-9392-cc5e8e80c8b0",
    "822c8694-ad95-4735-9c55-256f7db2f9b4",
    "https://dev.azuresynapse.net",
    "https://database.windows.net",
    "https://quantum.microsoft.com",
    "https://iothubs.azure.net",
    "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d",
    "https://azuredatabricks.net/",
    "ce34e7e5-485f-4d76-964f-b3d2b16d1e4f",
    "https://azure-devices-provisioning.net",
    "https://managedhsm.azure.net",
    "499b84ac-1321-427f-aa17-267ca6975798",
    "https://api.adu.microsoft.com/",
    "https://purview.azure.net/",
];

pub struct CloudShell {
    shared: Arc<Shared>,
}

/// A Cloud Shell error: status, code, message.
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

impl CloudShell {
    pub fn new(shared: Arc<Shared>) -> Self {
        CloudShell { shared }
    }

    /// Whether the audience is allowed: the public list, plus the scenario's own ARM in a
    /// sovereign cloud. A trailing slash is not held against a caller **[inferred]**.
    fn supports(&self, resource: &str) -> bool {
        let trimmed = resource.trim_end_matches('/');
        let cloud = accepted_audiences(&self.shared.scenario.arm_cloud);
        AUDIENCES
            .iter()
            .map(|a| a.to_string())
            .chain(cloud)
            .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(trimmed))
    }

    /// AAD v1's token answer, every value a string, for the signed-in user.
    fn token(&self, resource: &str) -> Response {
        let scenario = &self.shared.scenario;
        let user = &scenario.cloud_shell_user;
        let identity = Identity {
            object_id: user.object_id.clone(),
            client_id: CLIENT_APP_ID.into(),
            resource_id: String::new(),
        };
        let minted = self.shared.tokens.issue(&Order {
            tenant: &scenario.tenant_id,
            identity: &identity,
            resource,
            lifetime: LIFETIME_SECS,
            cached: true,
            upn: Some(&user.upn),
        });
        let mut body = Map::new();
        body.insert("access_token".into(), minted.access_token.into());
        body.insert("refresh_token".into(), "".into());
        body.insert("expires_in".into(), minted.expires_in.to_string().into());
        body.insert("expires_on".into(), minted.expires_on.to_string().into());
        body.insert("not_before".into(), minted.not_before.to_string().into());
        body.insert("resource".into(), resource.into());
        body.insert("token_type".into(), "Bearer".into());
        Response::json(200, &Value::Object(body))
    }
}

/// The url-encoded form of a request body.
fn form(request: &Request) -> Vec<(String, String)> {
    query_pairs(&String::from_utf8_lossy(&request.body))
}

impl Host for CloudShell {
    type Failure = Failure;

    fn service(&self) -> Service {
        Service::CloudShell
    }

    fn on_route(&self, route: &Route, _request: &Request) -> bool {
        matches!(route, Route::CloudShell)
    }

    fn answer(&self, request: &Request) -> Result<Response, Failure> {
        // The form on the documented path, the query on the IMDS-compatible one.
        let fields = match (request.path(), request.method.as_str()) {
            (TOKEN_PATH, "POST") => form(request),
            (IMDS_PATH, "GET") => request.query_pairs(),
            (TOKEN_PATH | IMDS_PATH, _) => {
                return Err(fail(
                    405,
                    "MethodNotAllowed",
                    "The requested resource does not support this http method.",
                ));
            }
            _ => return Err(fail(404, "NotFound", "Not found")),
        };
        if request.header("metadata") != Some("true") {
            return Err(fail(
                400,
                "BadRequest",
                "Required metadata header not specified",
            ));
        }
        let resource = fields
            .iter()
            .find(|(key, value)| key == "resource" && !value.is_empty())
            .map(|(_, value)| value.clone())
            .ok_or_else(|| {
                fail(
                    400,
                    "BadRequest",
                    "Required audience parameter not specified",
                )
            })?;
        if !self.supports(&resource) {
            let message = format!(
                "Audience {resource} is not a supported MSI token audience. Supported audiences: {}",
                AUDIENCES.join(",")
            );
            return Err(fail(400, "AudienceNotSupported", &message));
        }
        // A `client_id` in the form (old azure-sdk-for-go sends one) changes nothing: the
        // token is the user's.
        Ok(self.token(&resource))
    }

    fn error_response(&self, failure: &Failure, _: &Request, _: &ConnInfo) -> Response {
        Response::json(
            failure.status,
            &json!({"error": {"code": failure.code, "message": failure.message}}),
        )
    }

    fn fault_failure(code: u16) -> Failure {
        match code {
            429 => fail(429, "TooManyRequests", "Too many requests."),
            500 => fail(500, "InternalServerError", "An internal error occurred."),
            _ => fail(code, "Error", crate::http::reason(code)),
        }
    }

    fn finish(&self, mut response: Response, _: &Request) -> Response {
        response.default_header("Content-Type", "application/json; charset=utf-8");
        response.default_header("Date", &http_date(epoch_now()));
        response
    }
}
