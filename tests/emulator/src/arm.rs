//! Azure Resource Manager: bearer-token authentication against the tokens IMDS issued, the
//! api-version rules, RBAC, resource groups and the resources in them (read, written, listed a
//! page at a time) and long-running operations, with ARM's errors and headers (protocol.md §4,
//! samples/arm, Azure/azure-resource-manager-rpc).

mod body;
mod errors;
mod groups;
mod lro;
mod resources;
mod subscription;
mod target;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use serde_json::{Map, Value, json};

use crate::cloud::{accepted_audiences, login_host};
use crate::encoding::{dotnet_time, epoch_now, http_date, rfc3339, routing_time};
use crate::gate::ArmGate;
use crate::http::{Request, Response};
use crate::ids::{random_guid, random_hex_upper};
use crate::links;
use crate::paging::{Page, SkipTokens, next_link, requested_page};
use crate::record::Service;
use crate::scenario::{LinkHost, Route};
use crate::server::{ConnInfo, Handler};
use crate::state::Shared;
use crate::throttle::{ArmVerdict, Operation};
use crate::token::Claims;
use errors::{ArmError, authorization_failed, error, method_not_allowed, unauthenticated};
use target::Target;

/// Microsoft.Resources api-versions, newest first, ending as the real list does (quoted in
/// public issues: InvalidApiVersionParameter messages).
const VERSIONS: &str = "2025-04-01,2024-11-01,2024-07-01,2024-03-01,2023-07-01,2022-09-01,\
2022-01-01,2021-04-01,2021-01-01,2020-10-01,2020-09-01,2020-08-01,2020-07-01,2020-06-01,\
2020-05-01,2020-01-01,2019-11-01,2019-10-01,2019-09-01,2019-08-01,2019-07-01,2019-06-01,\
2019-05-10,2019-05-01,2019-03-01,2018-11-01,2018-09-01,2018-08-01,2018-07-01,2018-06-01,\
2018-05-01,2018-02-01,2018-01-01,2017-12-01,2017-08-01,2017-06-01,2017-05-10,2017-05-01,\
2017-03-01,2016-09-01,2016-07-01,2016-06-01,2016-02-01,2015-11-01,2015-01-01,\
2014-04-01-preview,2014-04-01,2014-01-01,2013-03-01,2014-02-26,2014-04";

pub struct Arm {
    shared: Arc<Shared>,
    skip_tokens: SkipTokens,
    reads: AtomicU32,
    global_reads: AtomicU32,
    writes: AtomicU32,
    global_writes: AtomicU32,
    deletes: AtomicU32,
    global_deletes: AtomicU32,
    /// The buckets, when the scenario throttles.
    gate: Option<ArmGate>,
    /// Laps of endless lists served (`Scenario::endless_pages`).
    laps: AtomicU64,
}

/// Skip-token positions from here on stand for "the list again, from its start" (one per lap,
/// so that every `nextLink` differs).
const LAP: u64 = 1 << 48;

/// One request being answered, with who sent it.
struct Call<'a> {
    request: &'a Request,
    conn: &'a ConnInfo,
    caller: Claims,
    version: String,
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
            skip_tokens: SkipTokens::new(),
            laps: AtomicU64::new(0),
            reads: AtomicU32::new(12_000),
            global_reads: AtomicU32::new(16_500),
            writes: AtomicU32::new(1_200),
            global_writes: AtomicU32::new(12_000),
            deletes: AtomicU32::new(15_000),
            global_deletes: AtomicU32::new(12_000),
            gate: shared
                .scenario
                .throttling
                .as_ref()
                .map(|throttling| ArmGate::new(throttling.arm.clone())),
            shared,
        }
    }

    /// What the buckets say about this request: `None` when nothing throttles, or the caller
    /// is unknown (ARM throttles principals; an unauthenticated request gets its 401).
    fn limit(&self, request: &Request) -> Option<(Operation, String, ArmVerdict)> {
        let gate = self.gate.as_ref()?;
        let caller = self.authenticate(request).ok()?;
        let sub = Target::parse(request.path()).map_or_else(
            |_| self.shared.scenario.subscription_id.clone(),
            |target| target.subscription().to_string(),
        );
        let op = Operation::of_method(&request.method);
        let verdict = gate.admit(&self.shared.throttle_counts, &caller.oid, &sub, op);
        let message = verdict.retry_after_secs.map(|secs| {
            format!(
                "Number of '{}' requests for subscription '{sub}' actor '{}' exceeded. Please try again after '{secs}' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling for additional information.",
                op.name(),
                caller.oid
            )
        });
        Some((op, message.unwrap_or_default(), verdict))
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
        self.check_version(&target, &version)?;
        self.known_subscription(target.subscription())?;
        let call = Call {
            request,
            conn,
            caller,
            version,
        };
        match target {
            Target::Group { sub, name } => self.group(&call, &sub, &name),
            Target::Groups { sub } => {
                only_get(request)?;
                self.groups(&call, &sub)
            }
            Target::Resources { sub, group } => {
                only_get(request)?;
                self.resources(&call, &sub, &group)
            }
            Target::Resource { address, tail } => self.resource(&call, address, tail),
            Target::Poll {
                sub,
                namespace,
                location,
                id,
                kind,
            } => {
                only_get(request)?;
                self.poll(&call, &sub, &namespace, &location, &id, kind)
            }
            Target::GroupDeletion { sub, id } => {
                only_get(request)?;
                self.poll_group_deletion(&call, &sub, &id)
            }
            Target::SubscriptionCollection {
                sub,
                namespace,
                kind,
            } => {
                only_get(request)?;
                self.subscription_collection(&call, &sub, &namespace, &kind)
            }
        }
    }

    /// Microsoft.Resources knows its api-versions; for a resource provider's types, ARM
    /// refuses what cannot be one (the providers' lists are not emulated).
    fn check_version(&self, target: &Target, version: &str) -> Result<(), ArmError> {
        if target.is_microsoft_resources() {
            if VERSIONS.split(',').any(|v| v == version) {
                return Ok(());
            }
            return Err(error(
                400,
                "InvalidApiVersionParameter",
                format!(
                    "The api-version '{version}' is invalid. The supported versions are '{VERSIONS}'."
                ),
            ));
        }
        if looks_like_api_version(version) {
            return Ok(());
        }
        let kind = match target {
            Target::Resource { address, tail } => tail
                .clone()
                .or_else(|| address.types.last().cloned())
                .unwrap_or_default(),
            Target::SubscriptionCollection { kind, .. } => kind.clone(),
            _ => "locations/operationStatuses".into(),
        };
        Err(error(
            400,
            "NoRegisteredProviderFound",
            format!(
                "No registered resource provider found for location '{}' and API version '{version}' for type '{kind}'. The supported api-versions are '2024-11-01, 2024-07-01, 2024-03-01, 2023-09-01, 2023-03-01'. The supported locations are 'eastus, westeurope, northeurope'.",
                self.shared.scenario.location
            ),
        ))
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

    /// Refuses the call unless the caller may perform `action` over `scope`: reading needs
    /// any role there, everything else a writer's.
    fn authorize(&self, call: &Call, action: &str, scope: &str) -> Result<(), ArmError> {
        let allowed = if action.ends_with("/read") {
            self.shared.can_read(&call.caller.oid, scope)
        } else {
            self.shared.can_write(&call.caller.oid, scope)
        };
        if allowed {
            Ok(())
        } else {
            Err(authorization_failed(&call.caller, action, scope))
        }
    }

    /// The page a list request asks for (`list` names the list for its skip tokens).
    fn page(&self, call: &Call, list: &str) -> Result<Page, ArmError> {
        requested_page(
            &self.skip_tokens,
            list,
            call.request.query("$top").as_deref(),
            call.request.query("$skiptoken").as_deref(),
            self.shared.scenario.page_size,
        )
        .map(|mut page| {
            if page.start >= LAP {
                page.start = 0;
            }
            page
        })
        .map_err(|refused| error(400, refused.code, refused.message))
    }

    /// `{"value": items}` with a `nextLink` to position `next` of the list if there is one.
    fn list_body(&self, call: &Call, page: &Page, items: Vec<Value>, next: Option<u64>) -> Value {
        let next = next.or_else(|| {
            self.shared
                .scenario
                .endless_pages
                .then(|| LAP + self.laps.fetch_add(1, Ordering::SeqCst))
        });
        let mut body = Map::new();
        body.insert("value".into(), Value::Array(items));
        if let Some(next) = next {
            let path = call.request.path();
            let token = self.skip_tokens.issue(path, next);
            let base = self.link_base(call, &self.shared.scenario.next_link);
            let link = next_link(&base, path, &call.version, page.top, &token);
            body.insert("nextLink".into(), link.into());
        }
        Value::Object(body)
    }

    fn link_base(&self, call: &Call, link: &LinkHost) -> String {
        links::base(link, call.request, call.conn, &self.shared.hosts)
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

    fn error_response(&self, failure: ArmError) -> Response {
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
        if failure.gateway {
            response = response.header("x-ms-failure-cause", "gateway");
        }
        response
    }

    /// ARM's common headers (recordings in samples/arm). Empty answers other than 200 (204,
    /// 202, 201) carry no `Content-Type`, as in the recordings.
    fn finish(&self, response: &mut Response, request: &Request, conn: &ConnInfo, ids: &Ids) {
        let now = epoch_now();
        response.default_header("Cache-Control", "no-cache");
        response.default_header("Pragma", "no-cache");
        if !response.body.is_empty() || response.status == 200 {
            response.default_header("Content-Type", "application/json; charset=utf-8");
        }
        response.default_header("Expires", "-1");
        let (budget, global, kind) = match request.method.as_str() {
            "GET" | "HEAD" => (&self.reads, &self.global_reads, "reads"),
            "DELETE" => (&self.deletes, &self.global_deletes, "deletes"),
            _ => (&self.writes, &self.global_writes, "writes"),
        };
        response.default_header(
            &format!("x-ms-ratelimit-remaining-subscription-{kind}"),
            &countdown(budget),
        );
        response.default_header(
            &format!("x-ms-ratelimit-remaining-subscription-global-{kind}"),
            &countdown(global),
        );
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
        let sub = target
            .as_ref()
            .map_or(scenario.subscription_id.as_str(), Target::subscription);
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
        // Throttling is the gateway's doing; 5xx come from behind it.
        ArmError {
            gateway: code < 500,
            ..failure
        }
    }
}

/// `2025-04-01`, `2024-07-01-preview`: what an api-version looks like.
fn looks_like_api_version(version: &str) -> bool {
    let (date, suffix) = version.split_at(version.len().min(10));
    let shaped = date.len() == 10
        && date.char_indices().all(|(i, c)| {
            if i == 4 || i == 7 {
                c == '-'
            } else {
                c.is_ascii_digit()
            }
        });
    shaped && (suffix.is_empty() || suffix.starts_with('-') && suffix.len() > 1)
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

impl Handler for Arm {
    fn service(&self) -> Service {
        Service::Arm
    }

    fn on_route(&self, route: &Route, request: &Request) -> bool {
        match route {
            Route::Arm => true,
            Route::ArmNextPage => request.query("$skiptoken").is_some(),
            _ => false,
        }
    }

    fn respond(&self, request: &Request, conn: &ConnInfo) -> Response {
        let limit = self.limit(request);
        let mut response = match &limit {
            Some((_, message, verdict)) if !verdict.admitted => {
                let throttled = error(429, "SubscriptionRequestsThrottled", message.clone());
                let retry_after = verdict.retry_after_secs.unwrap_or(1).to_string();
                self.error_response(throttled)
                    .retry_after(Some(&retry_after))
            }
            _ => self
                .answer(request, conn)
                .unwrap_or_else(|failure| self.error_response(failure)),
        };
        if let Some((op, _, verdict)) = &limit {
            let kind = op.plural();
            response.default_header(
                &format!("x-ms-ratelimit-remaining-subscription-{kind}"),
                &verdict.remaining.to_string(),
            );
            response.default_header(
                &format!("x-ms-ratelimit-remaining-subscription-global-{kind}"),
                &verdict.global_remaining.to_string(),
            );
        }
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
        let mut response = self.error_response(failure).retry_after(retry_after);
        self.finish(&mut response, request, conn, &ids);
        response
    }

    fn decorate(&self, response: &mut Response, request: &Request, conn: &ConnInfo) {
        let ids = self.ids(request, response.status);
        self.finish(response, request, conn, &ids);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions_are_dates_with_an_optional_suffix() {
        for good in ["2025-04-01", "2024-07-01-preview", "2015-06-15"] {
            assert!(looks_like_api_version(good), "{good}");
        }
        for bad in ["", "latest", "2025-4-01", "2025-04-01-", "2025-04-01x"] {
            assert!(!looks_like_api_version(bad), "{bad}");
        }
    }
}
