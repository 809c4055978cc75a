//! Azure Resource Manager: bearer-token authentication against the tokens IMDS issued, the
//! api-version rules, resource groups (get, check existence, list) and the resources of a group,
//! with ARM's gateway errors and headers (protocol.md §4, samples/arm).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::{Map, Value, json};

use crate::cloud::{accepted_audiences, login_host};
use crate::encoding::{dotnet_time, epoch_now, http_date, path_decode, rfc3339, routing_time};
use crate::http::{Request, Response};
use crate::ids::{random_guid, random_hex_upper};
use crate::record::Service;
use crate::scenario::{Grant, Route};
use crate::server::{ConnInfo, Handler};
use crate::state::Shared;
use crate::token::Claims;

/// Microsoft.Resources api-versions, newest first, ending as the real list does (quoted in
/// public issues: InvalidApiVersionParameter messages).
const VERSIONS: &str = "2025-04-01,2024-11-01,2024-07-01,2024-03-01,2023-07-01,2022-09-01,\
2022-01-01,2021-04-01,2021-01-01,2020-10-01,2020-09-01,2020-08-01,2020-07-01,2020-06-01,\
2020-05-01,2020-01-01,2019-11-01,2019-10-01,2019-09-01,2019-08-01,2019-07-01,2019-06-01,\
2019-05-10,2019-05-01,2019-03-01,2018-11-01,2018-09-01,2018-08-01,2018-07-01,2018-06-01,\
2018-05-01,2018-02-01,2018-01-01,2017-12-01,2017-08-01,2017-06-01,2017-05-10,2017-05-01,\
2017-03-01,2016-09-01,2016-07-01,2016-06-01,2016-02-01,2015-11-01,2015-01-01,\
2014-04-01-preview,2014-04-01,2014-01-01,2013-03-01,2014-02-26,2014-04";

const READ_GROUP: &str = "Microsoft.Resources/subscriptions/resourcegroups/read";
const WRITE_GROUP: &str = "Microsoft.Resources/subscriptions/resourcegroups/write";
const DELETE_GROUP: &str = "Microsoft.Resources/subscriptions/resourcegroups/delete";
const READ_RESOURCES: &str = "Microsoft.Resources/subscriptions/resourceGroups/resources/read";

/// Tags of the VM's own group: one with an empty value, as real tags can have.
const GROUP_TAGS: [(&str, &str); 2] = [("project", "armi"), ("owner", "")];

pub struct Arm {
    shared: Arc<Shared>,
    reads: AtomicU32,
    global_reads: AtomicU32,
    writes: AtomicU32,
}

/// An error ARM itself generates.
struct ArmError {
    status: u16,
    code: &'static str,
    message: String,
    /// `error_description` of the `WWW-Authenticate` challenge on a 401.
    challenge: Option<String>,
}

fn error(status: u16, code: &'static str, message: String) -> ArmError {
    ArmError {
        status,
        code,
        message,
        challenge: None,
    }
}

fn unauthenticated(code: &'static str, message: &str, description: &str) -> ArmError {
    ArmError {
        challenge: Some(description.to_string()),
        ..error(401, code, message.to_string())
    }
}

/// What the path names.
enum Target {
    Group { sub: String, name: String },
    Groups { sub: String },
    Resources { sub: String, group: String },
}

impl Target {
    /// Path keywords match case-insensitively and names are percent-decoded, as ARM does. An
    /// unknown path gives the resource provider namespace it names.
    fn parse(path: &str) -> Result<Target, String> {
        let mut segments: Vec<String> = path
            .trim_start_matches('/')
            .split('/')
            .map(path_decode)
            .collect();
        if segments.last().is_some_and(String::is_empty) {
            segments.pop();
        }
        let keyword = |i: usize, word: &str| {
            segments
                .get(i)
                .is_some_and(|s| s.eq_ignore_ascii_case(word))
        };
        let named = segments.iter().all(|s| !s.is_empty());
        if named && keyword(0, "subscriptions") && keyword(2, "resourcegroups") {
            let sub = segments[1].clone();
            match segments.len() {
                3 => return Ok(Target::Groups { sub }),
                4 => {
                    let name = segments[3].clone();
                    return Ok(Target::Group { sub, name });
                }
                5 if keyword(4, "resources") => {
                    let group = segments[3].clone();
                    return Ok(Target::Resources { sub, group });
                }
                _ => {}
            }
        }
        let namespace = segments
            .iter()
            .position(|s| s.eq_ignore_ascii_case("providers"))
            .and_then(|i| segments.get(i + 1))
            .cloned()
            .unwrap_or_else(|| "Microsoft.Resources".to_string());
        Err(namespace)
    }
}

/// Request ids of one answer. ARM echoes a caller's correlation id; on gateway errors the
/// request id equals the correlation id (observed, azure-cli#32165).
struct Ids {
    request: String,
    correlation: String,
}

impl Arm {
    pub fn new(shared: Arc<Shared>) -> Self {
        Arm {
            shared,
            reads: AtomicU32::new(12_000),
            global_reads: AtomicU32::new(16_500),
            writes: AtomicU32::new(1_200),
        }
    }

    fn answer(&self, request: &Request, conn: &ConnInfo) -> Result<Response, ArmError> {
        let caller = self.authenticate(request)?;
        let version = request.query("api-version").ok_or_else(|| {
            error(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests."
                    .into(),
            )
        })?;
        let target = Target::parse(request.path()).map_err(|namespace| {
            error(
                404,
                "InvalidResourceType",
                format!(
                    "The resource type could not be found in the namespace '{namespace}' for api version '{version}'."
                ),
            )
        })?;
        if !VERSIONS.split(',').any(|v| v == version) {
            return Err(error(
                400,
                "InvalidApiVersionParameter",
                format!(
                    "The api-version '{version}' is invalid. The supported versions are '{VERSIONS}'."
                ),
            ));
        }
        match target {
            Target::Group { sub, name } => {
                self.known_subscription(&sub)?;
                self.group(request, &caller, &sub, &name)
            }
            Target::Groups { sub } => {
                self.known_subscription(&sub)?;
                only_get(request)?;
                self.groups(request, conn, &caller, &sub, &version)
            }
            Target::Resources { sub, group } => {
                self.known_subscription(&sub)?;
                only_get(request)?;
                self.resources(&caller, &sub, &group)
            }
        }
    }

    /// The claims of the bearer token, if ARM would accept it.
    fn authenticate(&self, request: &Request) -> Result<Claims, ArmError> {
        let Some(header) = request.header("authorization") else {
            return Err(unauthenticated(
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
                "The authentication failed because of missing 'Authorization' header.",
            ));
        };
        let token = match header.split_once(' ') {
            Some((scheme, token))
                if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
            {
                token.trim()
            }
            _ => {
                return Err(unauthenticated(
                    "AuthenticationFailedInvalidHeader",
                    "Authentication failed. The 'Authorization' header is provided in an invalid format.",
                    "The authentication failed because of invalid 'Authorization' header.",
                ));
            }
        };
        let invalid = "The access token is invalid.";
        let claims = self
            .shared
            .tokens
            .lookup(token)
            .ok_or_else(|| unauthenticated("InvalidAuthenticationToken", invalid, invalid))?;
        let now = epoch_now();
        if claims.exp <= now {
            let message = format!(
                "The access token expiry UTC time '{}' is earlier than current UTC time '{}'.",
                dotnet_time(claims.exp),
                dotnet_time(now)
            );
            return Err(unauthenticated(
                "ExpiredAuthenticationToken",
                &message,
                &message,
            ));
        }
        let accepted = accepted_audiences(&self.shared.scenario.arm_cloud);
        if !accepted.contains(&claims.aud) {
            let allowed: Vec<String> = accepted.iter().map(|a| format!("'{a}'")).collect();
            let message = format!(
                "The access token has been obtained for wrong audience or resource '{}'. It should exactly match with one of the allowed audiences {}.",
                claims.aud,
                allowed.join(",")
            );
            return Err(unauthenticated(
                "InvalidAuthenticationTokenAudience",
                &message,
                &message,
            ));
        }
        Ok(claims)
    }

    fn known_subscription(&self, sub: &str) -> Result<(), ArmError> {
        if sub.eq_ignore_ascii_case(&self.shared.scenario.subscription_id) {
            return Ok(());
        }
        Err(error(
            404,
            "SubscriptionNotFound",
            format!("The subscription '{sub}' could not be found."),
        ))
    }

    /// One resource group: GET, HEAD; writes are refused, as to any Reader.
    fn group(
        &self,
        request: &Request,
        caller: &Claims,
        sub: &str,
        name: &str,
    ) -> Result<Response, ArmError> {
        let scope = format!("/subscriptions/{sub}/resourcegroups/{name}");
        let action = match request.method.as_str() {
            "GET" | "HEAD" => READ_GROUP,
            "PUT" | "PATCH" => WRITE_GROUP,
            "DELETE" => DELETE_GROUP,
            _ => return Err(method_not_allowed(request)),
        };
        if action != READ_GROUP || !self.can_read(caller, &scope) {
            return Err(authorization_failed(caller, action, &scope));
        }
        let Some(stored) = self.find_group(name) else {
            return Err(group_not_found(name));
        };
        if request.method == "HEAD" {
            return Ok(Response::new(204));
        }
        Ok(Response::json(200, &self.group_body(&stored)))
    }

    /// The subscription's groups the caller may read, a page at a time.
    fn groups(
        &self,
        request: &Request,
        conn: &ConnInfo,
        caller: &Claims,
        sub: &str,
        version: &str,
    ) -> Result<Response, ArmError> {
        let scenario = &self.shared.scenario;
        let sub_scope = format!("/subscriptions/{sub}");
        let visible: Vec<String> = scenario
            .existing_groups()
            .into_iter()
            .filter(|g| self.can_read(caller, &format!("{sub_scope}/resourcegroups/{g}")))
            .collect();
        // Without any role in the subscription the list itself is refused; with roles on some
        // groups only, it shows those.
        let within_subscription = Grant::new(&caller.oid, &sub_scope);
        let any_grant = scenario.grants.iter().any(|g| {
            g.principal_object_id.eq_ignore_ascii_case(&caller.oid)
                && within_subscription.covers(&caller.oid, &g.scope)
        });
        if !any_grant {
            return Err(authorization_failed(caller, READ_GROUP, &sub_scope));
        }
        let skip: usize = request
            .query("$skiptoken")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let top: Option<usize> = request.query("$top").and_then(|t| t.parse().ok());
        let page = top.or(scenario.page_size).unwrap_or(usize::MAX).max(1);
        let end = skip.saturating_add(page).min(visible.len());
        let items: Vec<Value> = visible
            .get(skip.min(end)..end)
            .unwrap_or_default()
            .iter()
            .map(|g| self.group_body(g))
            .collect();
        let mut body = Map::new();
        body.insert("value".into(), Value::Array(items));
        if end < visible.len() {
            let scheme = if conn.tls { "https" } else { "http" };
            let host = request
                .header("host")
                .map_or_else(|| conn.local.to_string(), str::to_string);
            let top = top.map_or(String::new(), |t| format!("&%24top={t}"));
            body.insert(
                "nextLink".into(),
                format!(
                    "{scheme}://{host}/subscriptions/{sub}/resourcegroups?api-version={version}{top}&%24skiptoken={end}"
                )
                .into(),
            );
        }
        Ok(Response::json(200, &Value::Object(body)))
    }

    /// The resources of a group: the emulated groups hold none.
    fn resources(&self, caller: &Claims, sub: &str, group: &str) -> Result<Response, ArmError> {
        let scope = format!("/subscriptions/{sub}/resourceGroups/{group}");
        if !self.can_read(caller, &scope) {
            return Err(authorization_failed(caller, READ_RESOURCES, &scope));
        }
        if self.find_group(group).is_none() {
            return Err(group_not_found(group));
        }
        Ok(Response::json(200, &json!({"value": []})))
    }

    fn can_read(&self, caller: &Claims, scope: &str) -> bool {
        self.shared
            .scenario
            .grants
            .iter()
            .any(|grant| grant.covers(&caller.oid, scope))
    }

    /// The stored spelling of a group name (ARM compares names case-insensitively).
    fn find_group(&self, name: &str) -> Option<String> {
        let wanted = name.to_lowercase();
        self.shared
            .scenario
            .existing_groups()
            .into_iter()
            .find(|g| g.to_lowercase() == wanted)
    }

    fn group_body(&self, name: &str) -> Value {
        let scenario = &self.shared.scenario;
        let mut body = Map::new();
        body.insert("id".into(), scenario.group_scope(name).into());
        body.insert("name".into(), name.into());
        body.insert("type".into(), "Microsoft.Resources/resourceGroups".into());
        body.insert("location".into(), scenario.location.clone().into());
        if name == scenario.resource_group {
            let tags: Map<String, Value> = GROUP_TAGS
                .iter()
                .map(|(k, v)| (k.to_string(), Value::from(*v)))
                .collect();
            body.insert("tags".into(), Value::Object(tags));
        }
        body.insert(
            "properties".into(),
            json!({"provisioningState": "Succeeded"}),
        );
        Value::Object(body)
    }

    fn ids(&self, request: &Request, status: u16) -> Ids {
        let correlation = request
            .header("x-ms-correlation-request-id")
            .filter(|id| !id.is_empty())
            .map_or_else(random_guid, str::to_string);
        let request_id = if status >= 400 {
            correlation.clone()
        } else {
            random_guid()
        };
        Ids {
            request: request_id,
            correlation,
        }
    }

    fn error_response(&self, failure: ArmError, gateway: bool) -> Response {
        let body = json!({"error": {"code": failure.code, "message": failure.message}});
        let mut response = Response::json(failure.status, &body);
        if let Some(description) = failure.challenge {
            let scenario = &self.shared.scenario;
            let challenge = format!(
                "Bearer authorization_uri=\"https://{}/{}\", error=\"invalid_token\", error_description=\"{}\"",
                login_host(&scenario.arm_cloud),
                scenario.tenant_id,
                description.replace('"', "'")
            );
            response = response.header("WWW-Authenticate", &challenge);
        }
        if gateway {
            response = response.header("x-ms-failure-cause", "gateway");
        }
        response
    }

    /// ARM's common headers (recordings in samples/arm).
    fn finish(&self, response: &mut Response, request: &Request, conn: &ConnInfo, ids: &Ids) {
        let now = epoch_now();
        let read = matches!(request.method.as_str(), "GET" | "HEAD");
        response.default_header("Cache-Control", "no-cache");
        response.default_header("Pragma", "no-cache");
        response.default_header("Content-Type", "application/json; charset=utf-8");
        response.default_header("Expires", "-1");
        if read {
            let reads = countdown(&self.reads);
            let global = countdown(&self.global_reads);
            response.default_header("x-ms-ratelimit-remaining-subscription-reads", &reads);
            response.default_header(
                "x-ms-ratelimit-remaining-subscription-global-reads",
                &global,
            );
        } else {
            let writes = countdown(&self.writes);
            response.default_header("x-ms-ratelimit-remaining-subscription-writes", &writes);
        }
        response.default_header("x-ms-request-id", &ids.request);
        response.default_header("x-ms-correlation-request-id", &ids.correlation);
        let region = self.shared.scenario.location.to_uppercase();
        let routing = format!("{region}:{}:{}", routing_time(now), ids.request);
        response.default_header("x-ms-routing-request-id", &routing);
        if request
            .header("x-ms-return-client-request-id")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
            && let Some(client_id) = request.header("x-ms-client-request-id")
        {
            response.default_header("x-ms-client-request-id", client_id);
        }
        if conn.tls {
            response.default_header(
                "Strict-Transport-Security",
                "max-age=31536000; includeSubDomains",
            );
        }
        response.default_header("X-Content-Type-Options", "nosniff");
        response.default_header("X-Cache", "CONFIG_NOCACHE");
        let edge = format!(
            "Ref A: {} Ref B: AMS231032607049 Ref C: {}",
            random_hex_upper(16),
            rfc3339(now)
        );
        response.default_header("X-MSEdge-Ref", &edge);
        response.default_header("Date", &http_date(now));
    }

    /// ARM's answer to an injected status: gateway throttling for 429, upstream failures for 5xx.
    fn fault_error(
        &self,
        request: &Request,
        code: u16,
        retry_after: Option<&str>,
        ids: &Ids,
    ) -> ArmError {
        let scenario = &self.shared.scenario;
        let target = Target::parse(request.path());
        let sub = match &target {
            Ok(
                Target::Group { sub, .. } | Target::Groups { sub } | Target::Resources { sub, .. },
            ) => sub,
            Err(_) => &scenario.subscription_id,
        };
        let message = match code {
            429 => format!(
                "Number of requests for subscription '{sub}' and operation '{}' exceeded the backend storage limit. Please try again after '{}' seconds.",
                operation(request),
                retry_after.unwrap_or("6")
            ),
            500 => format!(
                "Encountered internal server error. Diagnostic information: timestamp '{}', subscription id '{sub}', tracking id '{}', request correlation id '{}'.",
                routing_time(epoch_now()),
                random_guid(),
                ids.correlation
            ),
            502 => "The gateway received an invalid response from the upstream server.".into(),
            503 => "The service is temporarily unavailable. Please retry the request after some time.".into(),
            504 => "The gateway did not receive a response from 'Microsoft.Resources' within the specified time period.".into(),
            _ => format!("{}.", crate::http::reason(code)),
        };
        let code_name = match code {
            400 => "BadRequest",
            401 => "InvalidAuthenticationToken",
            403 => "AuthorizationFailed",
            404 => "NotFound",
            409 => "Conflict",
            429 => "SubscriptionRequestsThrottled",
            500 => "InternalServerError",
            502 => "BadGateway",
            503 => "ServiceUnavailable",
            504 => "GatewayTimeout",
            _ => "UnexpectedStatus",
        };
        let failure = error(code, code_name, message);
        if code == 401 {
            let challenge = Some(failure.message.clone());
            return ArmError {
                challenge,
                ..failure
            };
        }
        failure
    }
}

/// `GET/SUBSCRIPTIONS/RESOURCEGROUPS`: the method and the path's type segments, as ARM names
/// an operation in throttling messages.
fn operation(request: &Request) -> String {
    let types: Vec<String> = request
        .path()
        .trim_start_matches('/')
        .split('/')
        .step_by(2)
        .map(str::to_uppercase)
        .collect();
    format!("{}/{}", request.method.to_uppercase(), types.join("/"))
}

fn countdown(counter: &AtomicU32) -> String {
    let previous = counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
            Some(n.saturating_sub(1))
        })
        .unwrap_or(0);
    previous.saturating_sub(1).to_string()
}

fn only_get(request: &Request) -> Result<(), ArmError> {
    if request.method == "GET" {
        Ok(())
    } else {
        Err(method_not_allowed(request))
    }
}

fn method_not_allowed(request: &Request) -> ArmError {
    error(
        405,
        "MethodNotAllowed",
        format!(
            "The requested resource does not support http method '{}'.",
            request.method
        ),
    )
}

fn authorization_failed(caller: &Claims, action: &str, scope: &str) -> ArmError {
    error(
        403,
        "AuthorizationFailed",
        format!(
            "The client '{}' with object id '{}' does not have authorization to perform action '{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.",
            caller.appid, caller.oid
        ),
    )
}

fn group_not_found(name: &str) -> ArmError {
    error(
        404,
        "ResourceGroupNotFound",
        format!("Resource group '{name}' could not be found."),
    )
}

impl Handler for Arm {
    fn service(&self) -> Service {
        Service::Arm
    }

    fn on_route(&self, route: &Route, _request: &Request) -> bool {
        matches!(route, Route::Arm)
    }

    fn respond(&self, request: &Request, conn: &ConnInfo) -> Response {
        let mut response = self
            .answer(request, conn)
            .unwrap_or_else(|failure| self.error_response(failure, true));
        let ids = self.ids(request, response.status);
        self.finish(&mut response, request, conn, &ids);
        response
    }

    fn fault(
        &self,
        request: &Request,
        code: u16,
        retry_after: Option<&str>,
        conn: &ConnInfo,
    ) -> Response {
        let ids = self.ids(request, code);
        let failure = self.fault_error(request, code, retry_after, &ids);
        // Throttling is the gateway's doing; 5xx come from behind it.
        let mut response = self.error_response(failure, code < 500);
        if let Some(seconds) = retry_after {
            response = response.header("Retry-After", seconds);
        }
        self.finish(&mut response, request, conn, &ids);
        response
    }

    fn decorate(&self, response: &mut Response, request: &Request, conn: &ConnInfo) {
        let ids = self.ids(request, response.status);
        self.finish(response, request, conn, &ids);
    }
}
