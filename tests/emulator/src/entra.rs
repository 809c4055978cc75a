//! Entra ID's v2 token endpoint as AKS workload identity uses it: the client credentials grant
//! with a federated service-account token as client assertion (protocol.md §5.6, ENTRA-CC),
//! over TLS. Errors are Entra's `{"error","error_description","error_codes",...}` with the
//! AADSTS texts quoted in public issues.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::encoding::{entra_time, epoch_now, http_date, rfc3339};
use crate::federation::{self, Assertion};
use crate::host::Host;
use crate::http::{Request, Response, query_pairs};
use crate::identities;
use crate::ids::random_guid;
use crate::record::Service;
use crate::scenario::Route;
use crate::server::ConnInfo;
use crate::state::Shared;
use crate::token::Order;

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// `expires_in` of a client credentials token (ENTRA-CC sample).
const LIFETIME_SECS: u64 = 3599;

pub struct Entra {
    shared: Arc<Shared>,
}

/// An Entra error: status, OAuth `error`, AADSTS number and its text.
pub struct Failure {
    status: u16,
    error: &'static str,
    code: u32,
    text: String,
}

fn fail(status: u16, error: &'static str, code: u32, text: String) -> Failure {
    Failure {
        status,
        error,
        code,
        text,
    }
}

/// `AADSTS900144`: a form field is missing.
fn missing(field: &str) -> Failure {
    fail(
        400,
        "invalid_request",
        900_144,
        format!("The request body must contain the following parameter: '{field}'."),
    )
}

impl Entra {
    pub fn new(shared: Arc<Shared>) -> Self {
        Entra { shared }
    }

    /// The client must prove itself with a service-account token this emulator wrote, within
    /// its validity.
    fn check_assertion(&self, form: &Form) -> Result<(), Failure> {
        let no_credential = || {
            fail(
                401,
                "invalid_client",
                7_000_218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.".into(),
            )
        };
        let assertion = form.get("client_assertion").ok_or_else(no_credential)?;
        if form.get("client_assertion_type") != Some(ASSERTION_TYPE) {
            return Err(no_credential());
        }
        let Some((iss, sub, aud)) = federation::peek(assertion) else {
            return Err(fail(
                400,
                "invalid_request",
                50_027,
                "JWT token is invalid or malformed.".into(),
            ));
        };
        let Some(known) = self.shared.federation.lookup(assertion) else {
            return Err(fail(
                400,
                "invalid_request",
                70_021,
                format!(
                    "No matching federated identity record found for presented assertion. Assertion Issuer: '{iss}'. Assertion Subject: '{sub}'. Assertion Audience: '{aud}'. https://docs.microsoft.com/en-us/azure/active-directory/develop/workload-identity-federation"
                ),
            ));
        };
        let now = epoch_now();
        if now < known.nbf || now >= known.exp {
            return Err(out_of_time(&known, now));
        }
        Ok(())
    }
}

/// `AADSTS700024`, with Entra's seven-digit fractions (quoted in MSAL issues).
fn out_of_time(assertion: &Assertion, now: u64) -> Failure {
    let instant = |epoch| rfc3339(epoch).replace('Z', ".0000000Z");
    fail(
        400,
        "invalid_client",
        700_024,
        format!(
            "Client assertion is not within its valid time range. Current time: {}, assertion valid from {}, expiry time of assertion {}. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .",
            instant(now),
            instant(assertion.nbf),
            instant(assertion.exp)
        ),
    )
}

/// The tenant of `/{tenant}/oauth2/v2.0/token`.
fn tenant_of(path: &str) -> Option<&str> {
    match path.split('/').collect::<Vec<_>>().as_slice() {
        ["", tenant, "oauth2", "v2.0", "token"] if !tenant.is_empty() => Some(tenant),
        _ => None,
    }
}

/// The audience a client credentials `scope` asks for: `<resource>/.default`, one scope only.
/// `https://management.azure.com//.default` asks for the resource with its trailing slash.
fn resource_of(scope: &str) -> Result<&str, Failure> {
    let invalid = || {
        fail(
            400,
            "invalid_scope",
            70_011,
            format!(
                "The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."
            ),
        )
    };
    if scope.split_whitespace().count() != 1 {
        return Err(invalid());
    }
    let Some(resource) = scope.strip_suffix("/.default") else {
        return Err(fail(
            400,
            "invalid_scope",
            1_002_012,
            format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        ));
    };
    if resource.is_empty() {
        return Err(invalid());
    }
    Ok(resource)
}

/// The fields of a form-encoded body; nothing unless the request says it is a form, as
/// Entra reads no other body.
struct Form(Vec<(String, String)>);

impl Form {
    fn of(request: &Request) -> Self {
        let is_form = request.header("content-type").is_some_and(|t| {
            t.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
        if !is_form {
            return Form(Vec::new());
        }
        Form(query_pairs(&String::from_utf8_lossy(&request.body)))
    }

    /// The first non-empty value of `key`.
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }
}

impl Host for Entra {
    type Failure = Failure;

    fn service(&self) -> Service {
        Service::Authority
    }

    fn on_route(&self, route: &Route, _request: &Request) -> bool {
        matches!(route, Route::Authority)
    }

    fn answer(&self, request: &Request) -> Result<Response, Failure> {
        let tenant = tenant_of(request.path()).ok_or_else(|| {
            fail(
                404,
                "invalid_request",
                90_012,
                "The requested endpoint was not found.".into(),
            )
        })?;
        if request.method != "POST" {
            return Err(fail(
                400,
                "invalid_request",
                900_561,
                format!(
                    "The endpoint only accepts POST, OPTIONS requests. Received a {} request.",
                    request.method
                ),
            ));
        }
        let scenario = &self.shared.scenario;
        if !tenant.eq_ignore_ascii_case(&scenario.tenant_id) {
            return Err(fail(
                400,
                "invalid_tenant",
                90_002,
                format!(
                    "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
                ),
            ));
        }
        let form = Form::of(request);
        let grant = form
            .get("grant_type")
            .ok_or_else(|| missing("grant_type"))?;
        if grant != "client_credentials" {
            return Err(fail(
                400,
                "unsupported_grant_type",
                70_003,
                format!("The app requested an unsupported grant type '{grant}'."),
            ));
        }
        let client_id = form.get("client_id").ok_or_else(|| missing("client_id"))?;
        let workload = &scenario.workload_identity;
        if !client_id.eq_ignore_ascii_case(&workload.client_id) {
            return Err(fail(
                400,
                "unauthorized_client",
                700_016,
                format!(
                    "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
                ),
            ));
        }
        let scope = form.get("scope").ok_or_else(|| missing("scope"))?;
        let resource = resource_of(scope)?;
        self.check_assertion(&form)?;
        let identity = identities::user(scenario, workload);
        let minted = self.shared.tokens.issue(&Order {
            tenant: &scenario.tenant_id,
            identity: &identity,
            resource,
            lifetime: LIFETIME_SECS,
            cached: false,
            upn: None,
        });
        // ENTRA-CC: `expires_in` is a number here, and there is no `expires_on`.
        Ok(Response::json(
            200,
            &json!({
                "token_type": "Bearer",
                "expires_in": minted.expires_in,
                "ext_expires_in": minted.ext_expires_in,
                "access_token": minted.access_token,
            }),
        ))
    }

    /// Entra's error body. The correlation id echoes the client's `client-request-id`.
    fn error_response(&self, failure: &Failure, request: &Request, conn: &ConnInfo) -> Response {
        let now = epoch_now();
        let trace = random_guid();
        let correlation = request
            .header("client-request-id")
            .map_or_else(random_guid, str::to_string);
        let timestamp = entra_time(now);
        let description = format!(
            "AADSTS{}: {}\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\nTimestamp: {timestamp}",
            failure.code, failure.text
        );
        let scheme = if conn.tls { "https" } else { "http" };
        let host = request
            .header("host")
            .unwrap_or("login.microsoftonline.com");
        let body: Value = json!({
            "error": failure.error,
            "error_description": description,
            "error_codes": [failure.code],
            "timestamp": timestamp,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": format!("{scheme}://{host}/error?code={}", failure.code),
        });
        Response::json(failure.status, &body)
    }

    /// The error for a status injected by a fault.
    fn fault_failure(code: u16) -> Failure {
        let transient = "A transient error has occurred. Please try again.".to_string();
        match code {
            429 | 502..=504 => fail(code, "temporarily_unavailable", 90_033, transient),
            500 => fail(
                500,
                "server_error",
                50_000,
                "There was an error issuing a token or an issue with our sign-in service.".into(),
            ),
            404 => fail(
                404,
                "invalid_request",
                90_012,
                "The requested endpoint was not found.".into(),
            ),
            _ => fail(
                code,
                "invalid_request",
                90_014,
                "The request is not valid.".into(),
            ),
        }
    }

    /// Entra's headers on every answer.
    fn finish(&self, mut response: Response, request: &Request) -> Response {
        response.default_header("Content-Type", "application/json; charset=utf-8");
        response.default_header("Cache-Control", "no-store, no-cache");
        response.default_header("Pragma", "no-cache");
        response.default_header("x-ms-request-id", &random_guid());
        response.default_header("x-ms-ests-server", "2.1.19875.6 - WEULR1 ProdSlices");
        if let Some(id) = request.header("client-request-id") {
            response.default_header("client-request-id", id);
        }
        response.default_header("Date", &http_date(epoch_now()));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_name_one_resource_with_default() {
        assert_eq!(
            resource_of("https://management.azure.com/.default").ok(),
            Some("https://management.azure.com")
        );
        assert_eq!(
            resource_of("https://management.azure.com//.default").ok(),
            Some("https://management.azure.com/")
        );
        let code = |scope| resource_of(scope).err().map(|f| f.code);
        assert_eq!(code("https://management.azure.com"), Some(1_002_012));
        assert_eq!(code("/.default"), Some(70_011));
        assert_eq!(code("a/.default b/.default"), Some(70_011));
    }

    #[test]
    fn only_the_v2_token_path_names_a_tenant() {
        assert_eq!(tenant_of("/t1/oauth2/v2.0/token"), Some("t1"));
        assert_eq!(tenant_of("//t1/oauth2/v2.0/token"), None);
        assert_eq!(tenant_of("/t1/oauth2/token"), None);
    }
}
