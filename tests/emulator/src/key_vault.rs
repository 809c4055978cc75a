//! Azure Key Vault's secrets, as the real service answers them (data-plane.md §1), for the
//! vaults of `Scenario::key_vaults`, on a TLS listener of their own.
//!
//! The vault is the first label of the `Host` (`myvault.localhost:PORT`), as
//! `{vault}.vault.azure.net` names it on the real service; the listener's certificate (from
//! the test CA) names `localhost` and every vault's `{vault}.localhost`. webpki refuses a
//! `*.localhost` wildcard (it wants two labels after the `*`), hence the explicit names. A
//! TLS client naming (SNI) another host gets no certificate, and the handshake fails: the
//! stand-in for a vault name that does not resolve. A `Host` naming no vault of the scenario
//! gets the 400 "Invalid Hostname" page that HTTP.sys serves for a host it has no site for.
//!
//! Only tokens this emulator issued for the cloud's vault audience (`https://vault.azure.net`,
//! with or without the trailing slash) open a vault; who may read follows the vault's
//! permission model, Azure RBAC (403 `ForbiddenByRbac`) or access policies (403
//! `AccessDenied`), with grants that may take effect only a while after the emulator starts.
//!
//! `GET /secrets/{name}[/{version}]` answers the secret bundle, `GET /secrets` the list a page
//! at a time (`maxresults`, `$skiptoken`) with a `nextLink` that names the vault host with its
//! port (`:443` on the real service) and is `null` on the last page. Every answer carries
//! `x-ms-request-id` and echoes `x-ms-client-request-id` (as recorded in
//! vcsjones/AzureSignTool#219, a throttled answer). Faults on `Route::KeyVault` answer the
//! service's error for the status: 429 is its `Throttled`.
//!
//! Marked **[inferred]** below: messages no public recording shows.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::cloud::login_host;
use crate::encoding::{base64url, epoch_now, http_date};
use crate::http::{Request, Response};
use crate::ids::{keyed_digest, random_below, random_guid};
use crate::links;
use crate::record::Service;
use crate::scenario::{LinkHost, Route};
use crate::server::{ConnInfo, Handler};
use crate::state::Shared;
use crate::token::Claims;
use crate::vaults::{KEY_VAULT_PAGE_LIMIT, KeyVault, Secret, SecretVersion, VaultAccess};

/// The api-versions the secrets API serves, oldest first; the last is the newest.
const VERSIONS: [&str; 9] = [
    "2016-10-01",
    "7.0",
    "7.1",
    "7.2",
    "7.3",
    "7.4",
    "7.5",
    "7.6",
    "2025-07-01",
];

/// What Key Vault's front end says it runs, and its network info header.
const SERVICE_VERSION: &str = "1.9.2164.1";
const NETWORK_INFO: &str = "conn_type=Ipv4;addr=127.0.0.1;act_addr_fam=InterNetwork;";

/// The page HTTP.sys serves for a `Host` it has no site for.
const INVALID_HOSTNAME: &str = "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01//EN\"\"http://www.w3.org/TR/html4/strict.dtd\">\r\n\
<HTML><HEAD><TITLE>Bad Request</TITLE>\r\n\
<META HTTP-EQUIV=\"Content-Type\" Content=\"text/html; charset=us-ascii\"></HEAD>\r\n\
<BODY><h2>Bad Request - Invalid Hostname</h2>\r\n\
<hr><p>HTTP Error 400. The request hostname is invalid.</p>\r\n\
</BODY></HTML>\r\n";

/// The vault audience of `cloud` (its token resource and its challenge's `resource`).
pub fn vault_audience(cloud: &str) -> &'static str {
    match cloud.to_ascii_lowercase().as_str() {
        "azureusgovernmentcloud" | "usgov" => "https://vault.usgovcloudapi.net",
        "azurechinacloud" | "china" => "https://vault.azure.cn",
        _ => "https://vault.azure.net",
    }
}

/// The names on the listener's certificate: `localhost` and every vault's host.
pub fn certificate_names(vaults: &[KeyVault]) -> Vec<String> {
    let mut names = vec!["localhost".to_string()];
    names.extend(vaults.iter().map(|v| host_of(&v.name)));
    names
}

/// `{vault}.localhost`, lower case as DNS names are compared.
pub fn host_of(vault: &str) -> String {
    format!("{}.localhost", vault.to_ascii_lowercase())
}

pub struct KeyVaultService {
    shared: Arc<Shared>,
    /// Keys the `$skiptoken`s this emulator hands out.
    token_key: u64,
}

/// An answer other than the one asked for.
enum Failure {
    /// `{"error":{"code","message"[,"innererror":{"code"}]}}`.
    Error {
        status: u16,
        code: &'static str,
        message: String,
        inner: Option<&'static str>,
    },
    /// 401 with the challenge.
    Unauthorized(String),
    /// No vault of that name here.
    UnknownHost,
}

fn fail(status: u16, code: &'static str, message: String) -> Failure {
    Failure::Error {
        status,
        code,
        message,
        inner: None,
    }
}

fn bad_parameter(message: String) -> Failure {
    fail(400, "BadParameter", message)
}

/// What a request reads.
enum Operation<'a> {
    List,
    Get {
        name: &'a str,
        /// `None` (or an empty segment, as SDKs send `/secrets/{name}/`) is the current one.
        version: Option<&'a str>,
    },
}

/// One request with its vault and caller.
struct Call<'a> {
    request: &'a Request,
    conn: &'a ConnInfo,
    vault: &'a KeyVault,
    caller: Claims,
    api_version: String,
}

impl KeyVaultService {
    pub fn new(shared: Arc<Shared>) -> Self {
        KeyVaultService {
            shared,
            token_key: random_below(u64::MAX),
        }
    }

    fn answer(&self, request: &Request, conn: &ConnInfo) -> Result<Response, Failure> {
        let vault = self.vault_of(request).ok_or(Failure::UnknownHost)?;
        let caller = self.authenticate(request)?;
        let api_version = api_version(request)?;
        let call = Call {
            request,
            conn,
            vault,
            caller,
            api_version,
        };
        match operation(request)? {
            Operation::List => self.list(&call),
            Operation::Get { name, version } => self.get(&call, name, version),
        }
    }

    /// The scenario's vault the `Host` names (`{vault}.localhost[:port]`).
    fn vault_of(&self, request: &Request) -> Option<&KeyVault> {
        let host = request.header("host")?;
        let name = host.split(':').next()?.to_ascii_lowercase();
        let vault = name.strip_suffix(".localhost")?;
        self.shared
            .scenario
            .key_vaults
            .iter()
            .find(|v| v.name.eq_ignore_ascii_case(vault))
    }

    /// The claims of a live token this emulator issued for the vault audience.
    fn authenticate(&self, request: &Request) -> Result<Claims, Failure> {
        let token = request
            .header("authorization")
            .and_then(|h| h.split_once(' '))
            .filter(|(scheme, token)| {
                (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("pop"))
                    && !token.trim().is_empty()
            })
            .map(|(_, token)| token.trim())
            .ok_or_else(|| {
                Failure::Unauthorized("Request is missing a Bearer or PoP token.".into())
            })?;
        let claims = self.shared.tokens.lookup(token).ok_or_else(|| {
            Failure::Unauthorized(
                "[BearerReadAccessTokenFailed] Error validating token: 'S2S12005'.".into(),
            )
        })?;
        if claims.exp <= epoch_now() {
            return Err(Failure::Unauthorized(
                "[TokenExpired] Error validating token: 'S2S12086'.".into(),
            ));
        }
        let audience = self.audience();
        if claims.aud.trim_end_matches('/') != audience {
            return Err(Failure::Unauthorized(format!(
                "AKV10022: Invalid audience. Expected {audience}, found: {}.",
                claims.aud
            )));
        }
        Ok(claims)
    }

    fn audience(&self) -> &'static str {
        vault_audience(&self.shared.scenario.arm_cloud)
    }

    fn get(&self, call: &Call, name: &str, version: Option<&str>) -> Result<Response, Failure> {
        check_name(name)?;
        self.authorize(call, Some(name))?;
        let not_found = || {
            let id = version.map_or(name.to_string(), |v| format!("{name}/{v}"));
            fail(
                404,
                "SecretNotFound",
                format!(
                    "A secret with (name/id) {id} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182"
                ),
            )
        };
        let secret = call.vault.secret(name).ok_or_else(not_found)?;
        let found = match version {
            None => secret.current(),
            Some(version) => secret.version(version),
        };
        let found = found.ok_or_else(not_found)?;
        if !found.enabled {
            return Err(Failure::Error {
                status: 403,
                code: "Forbidden",
                message: "Operation get is not allowed on a disabled secret.".into(),
                inner: Some("SecretDisabled"),
            });
        }
        let base = self.base(call);
        let mut bundle = Map::new();
        bundle.insert("value".into(), found.value.clone().into());
        if let Some(content_type) = &found.content_type {
            bundle.insert("contentType".into(), content_type.clone().into());
        }
        let id = format!("{base}/secrets/{}/{}", secret.name, found.version);
        bundle.insert("id".into(), id.into());
        bundle.insert("attributes".into(), attributes(found));
        if !found.tags.is_empty() {
            bundle.insert("tags".into(), tags(found));
        }
        Ok(Response::json(200, &Value::Object(bundle)))
    }

    /// The vault's secrets (names and attributes, never values), a page at a time.
    fn list(&self, call: &Call) -> Result<Response, Failure> {
        self.authorize(call, None)?;
        let request = call.request;
        let maxresults = request
            .query("maxresults")
            .map(|raw| parse_maxresults(&raw))
            .transpose()?;
        let start = match request.query("$skiptoken") {
            None => 0,
            Some(token) => self
                .redeem(call.vault, &token)
                .ok_or_else(|| bad_parameter(format!("The skip token '{token}' is not valid.")))?,
        };
        let server = self
            .shared
            .scenario
            .key_vault_page_size
            .clamp(1, KEY_VAULT_PAGE_LIMIT);
        let size = maxresults.map_or(server, |m| m.min(server));
        let mut secrets: Vec<&Secret> = call.vault.secrets.iter().collect();
        secrets.sort_by_key(|s| s.name.to_lowercase());
        let base = self.base(call);
        let items: Vec<Value> = secrets
            .iter()
            .skip(start)
            .take(size)
            .filter_map(|secret| {
                let current = secret.current()?;
                let mut item = Map::new();
                item.insert(
                    "id".into(),
                    format!("{base}/secrets/{}", secret.name).into(),
                );
                item.insert("attributes".into(), attributes(current));
                if let Some(content_type) = &current.content_type {
                    item.insert("contentType".into(), content_type.clone().into());
                }
                if !current.tags.is_empty() {
                    item.insert("tags".into(), tags(current));
                }
                Some(Value::Object(item))
            })
            .collect();
        let next = start + size;
        let next_link = if next < secrets.len() {
            let mut link = format!(
                "{base}/secrets?api-version={}&$skiptoken={}",
                call.api_version,
                self.issue(call.vault, next)
            );
            if let Some(max) = maxresults {
                link.push_str(&format!("&maxresults={max}"));
            }
            Value::String(link)
        } else {
            Value::Null
        };
        Ok(Response::json(
            200,
            &json!({"value": items, "nextLink": next_link}),
        ))
    }

    /// Refuses the call unless the caller may read `secret` (`None`: list the vault) now.
    fn authorize(&self, call: &Call, secret: Option<&str>) -> Result<(), Failure> {
        let vault = call.vault;
        let elapsed = self.shared.started.elapsed();
        let allowed = vault.readers.iter().any(|reader| {
            let scope_fits = match (&reader.secret, secret) {
                (None, _) => true,
                (Some(granted), Some(wanted)) => {
                    vault.access == VaultAccess::Rbac && granted.eq_ignore_ascii_case(wanted)
                }
                (Some(_), None) => false,
            };
            reader
                .principal_object_id
                .eq_ignore_ascii_case(&call.caller.oid)
                && scope_fits
                && elapsed >= reader.effective_after
        });
        if allowed {
            return Ok(());
        }
        let scenario = &self.shared.scenario;
        let caller = format!(
            "appid={};oid={};iss=https://sts.windows.net/{}/",
            call.caller.appid, call.caller.oid, scenario.tenant_id
        );
        let location = format!("{};location={}", vault.name, scenario.location);
        let failure = match vault.access {
            VaultAccess::Rbac => {
                let action = if secret.is_some() {
                    "Microsoft.KeyVault/vaults/secrets/getSecret/action"
                } else {
                    "Microsoft.KeyVault/vaults/secrets/readMetadata/action"
                };
                let group = vault
                    .resource_group
                    .as_deref()
                    .unwrap_or(&scenario.resource_group);
                let mut resource = format!(
                    "/subscriptions/{}/resourcegroups/{group}/providers/microsoft.keyvault/vaults/{}",
                    scenario.subscription_id, vault.name
                );
                if let Some(name) = secret {
                    resource.push_str(&format!("/secrets/{name}"));
                }
                // terraform-provider-azurerm#23927 and piyushsachdeva/Terraform_AKS#2 quote it
                // whole; the resource path is lower case there.
                Failure::Error {
                    status: 403,
                    code: "Forbidden",
                    message: format!(
                        "Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nCaller: {caller}\r\nAction: '{action}'\r\nResource: '{}'\r\nAssignment: (not found)\r\nDenyAssignmentId: null\r\nDecisionReason: 'DeniedWithNoValidRBAC' \r\nVault: {location}\r\n",
                        resource.to_lowercase()
                    ),
                    inner: Some("ForbiddenByRbac"),
                }
            }
            // turbot/steampipe-plugin-azure#127, ansible-collections/azure#635.
            VaultAccess::AccessPolicy => Failure::Error {
                status: 403,
                code: "Forbidden",
                message: format!(
                    "The user, group or application '{caller}' does not have secrets {} permission on key vault '{location}'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287",
                    if secret.is_some() { "get" } else { "list" }
                ),
                inner: Some("AccessDenied"),
            },
        };
        Err(failure)
    }

    /// `https://{vault}.localhost:PORT`, the host as called, always with its port.
    fn base(&self, call: &Call) -> String {
        links::base(&LinkHost::Same, call.request, call.conn, &self.shared.hosts)
    }

    /// An opaque token for "`vault`'s list from position `next` on", shaped like Key Vault's
    /// (base64 of `{"NextMarker":..,"TargetLocation":0}`) and bound to the vault.
    fn issue(&self, vault: &KeyVault, next: usize) -> String {
        let marker = format!(
            "2!{next}!{:016x}",
            keyed_digest(
                self.token_key,
                &format!("{}|{next}", vault.name.to_lowercase())
            )
        );
        base64url(
            json!({"NextMarker": marker, "TargetLocation": 0})
                .to_string()
                .as_bytes(),
        )
    }

    fn redeem(&self, vault: &KeyVault, token: &str) -> Option<usize> {
        let json = crate::encoding::unbase64url(token)?;
        let payload: Value = serde_json::from_slice(&json).ok()?;
        let marker = payload.get("NextMarker")?.as_str()?;
        let next: usize = marker.split('!').nth(1)?.parse().ok()?;
        (self.issue(vault, next) == token).then_some(next)
    }

    fn error_response(&self, failure: &Failure) -> Response {
        match failure {
            Failure::Error {
                status,
                code,
                message,
                inner,
            } => {
                let mut error = json!({"code": code, "message": message});
                if let Some(inner) = inner {
                    error["innererror"] = json!({"code": inner});
                }
                Response::json(*status, &json!({"error": error}))
            }
            Failure::Unauthorized(message) => {
                let scenario = &self.shared.scenario;
                let challenge = format!(
                    "Bearer authorization=\"https://{}/{}\", resource=\"{}\"",
                    login_host(&scenario.arm_cloud),
                    scenario.tenant_id,
                    self.audience()
                );
                let body = json!({"error": {"code": "Unauthorized", "message": message}});
                Response::json(401, &body).header("WWW-Authenticate", &challenge)
            }
            Failure::UnknownHost => {
                let mut response = Response::new(400)
                    .header("Content-Type", "text/html; charset=us-ascii")
                    .header("Server", "Microsoft-HTTPAPI/2.0")
                    .header("Date", &http_date(epoch_now()));
                response.body = INVALID_HOSTNAME.as_bytes().to_vec();
                response.close = true;
                response
            }
        }
    }

    /// Key Vault's headers on every answer (vcsjones/AzureSignTool#219).
    fn finish(&self, response: &mut Response, request: &Request) {
        if response.has_header("Server") {
            // HTTP.sys's own page: none of the vault's headers.
            return;
        }
        response.default_header("Cache-Control", "no-cache");
        response.default_header("Pragma", "no-cache");
        response.default_header("Content-Type", "application/json; charset=utf-8");
        response.default_header("Expires", "-1");
        response.default_header("x-ms-keyvault-region", &self.shared.scenario.location);
        if let Some(id) = request.header("x-ms-client-request-id") {
            response.default_header("x-ms-client-request-id", id);
        }
        response.default_header("x-ms-request-id", &random_guid());
        response.default_header("x-ms-keyvault-service-version", SERVICE_VERSION);
        response.default_header("x-ms-keyvault-network-info", NETWORK_INFO);
        response.default_header("X-Content-Type-Options", "nosniff");
        response.default_header(
            "Strict-Transport-Security",
            "max-age=31536000;includeSubDomains",
        );
        response.default_header("Date", &http_date(epoch_now()));
    }
}

/// The request's api-version, if the secrets API serves it.
fn api_version(request: &Request) -> Result<String, Failure> {
    let Some(version) = request.query("api-version").filter(|v| !v.is_empty()) else {
        // [inferred] No recording shows the message for a missing api-version.
        return Err(bad_parameter(
            "The request URI contains an invalid parameter: api-version is required.".into(),
        ));
    };
    if VERSIONS.contains(&version.as_str()) {
        return Ok(version);
    }
    // Azure/azure-sdk-for-python#28595.
    Err(bad_parameter(format!(
        "The specified version ({version}) is not recognized. Consider using the latest supported version ({}).",
        VERSIONS[VERSIONS.len() - 1]
    )))
}

/// What the path and method ask for.
fn operation(request: &Request) -> Result<Operation<'_>, Failure> {
    let path = request.path().trim_start_matches('/');
    let segments: Vec<&str> = path.split('/').collect();
    let operation = match segments.as_slice() {
        [secrets] | [secrets, ""] if secrets.eq_ignore_ascii_case("secrets") => Operation::List,
        [secrets, name] if secrets.eq_ignore_ascii_case("secrets") => Operation::Get {
            name,
            version: None,
        },
        [secrets, name, version] if secrets.eq_ignore_ascii_case("secrets") => Operation::Get {
            name,
            version: Some(*version).filter(|v| !v.is_empty()),
        },
        _ => {
            return Err(fail(
                404,
                "NotFound",
                "The requested resource was not found.".into(),
            ));
        }
    };
    if request.method != "GET" {
        return Err(fail(
            405,
            "BadParameter",
            format!(
                "The requested resource does not support http method '{}'.",
                request.method
            ),
        ));
    }
    Ok(operation)
}

/// Secret names are 1–127 letters, digits and `-`.
fn check_name(name: &str) -> Result<(), Failure> {
    let valid = (1..=127).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if valid {
        return Ok(());
    }
    // [inferred] The wording of the refusal of a malformed name.
    Err(bad_parameter(format!(
        "The request URI contains an invalid name: {name}"
    )))
}

fn parse_maxresults(raw: &str) -> Result<usize, Failure> {
    match raw.trim().parse::<usize>() {
        Ok(n) if (1..=KEY_VAULT_PAGE_LIMIT).contains(&n) => Ok(n),
        // [inferred] SDKs refuse such values before sending; the service's wording is unseen.
        _ => Err(bad_parameter(format!(
            "Invalid value for maxresults: '{raw}'. It must be between 1 and {KEY_VAULT_PAGE_LIMIT}."
        ))),
    }
}

fn attributes(version: &SecretVersion) -> Value {
    json!({
        "enabled": version.enabled,
        "created": version.created,
        "updated": version.updated,
        "recoveryLevel": "Recoverable+Purgeable",
        "recoverableDays": 90
    })
}

fn tags(version: &SecretVersion) -> Value {
    let map: Map<String, Value> = version
        .tags
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    Value::Object(map)
}

impl Handler for KeyVaultService {
    fn service(&self) -> Service {
        Service::KeyVault
    }

    fn on_route(&self, route: &Route, _request: &Request) -> bool {
        matches!(route, Route::KeyVault)
    }

    fn respond(&self, request: &Request, conn: &ConnInfo) -> Response {
        let mut response = self
            .answer(request, conn)
            .unwrap_or_else(|failure| self.error_response(&failure));
        self.finish(&mut response, request);
        response
    }

    fn fault(
        &self,
        request: &Request,
        code: u16,
        retry_after: Option<&str>,
        _conn: &ConnInfo,
    ) -> Response {
        let failure = match code {
            401 => Failure::Unauthorized("Request is missing a Bearer or PoP token.".into()),
            // vcsjones/AzureSignTool#219.
            429 => fail(
                429,
                "Throttled",
                "Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached".into(),
            ),
            500 => fail(500, "InternalServerError", "An unexpected error occurred.".into()),
            503 => fail(503, "ServiceUnavailable", "The service is unavailable.".into()),
            _ => fail(code, "BadRequest", format!("{}.", crate::http::reason(code))),
        };
        let mut response = self.error_response(&failure).retry_after(retry_after);
        self.finish(&mut response, request);
        response
    }

    fn decorate(&self, response: &mut Response, request: &Request, _conn: &ConnInfo) {
        self.finish(response, request);
    }
}
