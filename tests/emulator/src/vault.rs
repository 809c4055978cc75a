//! The foreign host acting as an Azure Key Vault (`Scenario::vault`): the data-plane service
//! armi reaches with `--resource`, a token for another audience than ARM. Its audience is the
//! host's own URL, with or without the trailing slash, and only tokens this emulator's IMDS
//! issued for it open it. Error bodies are Key Vault's `{"error":{"code","message"}}` with its
//! `AKV...` messages (quoted in public issues, e.g. go-autorest#525, MicrosoftDocs/azure-docs#109562).

use serde_json::json;

use crate::encoding::epoch_now;
use crate::http::{Request, Response};
use crate::ids::{random_guid, stable_guid};
use crate::state::Shared;

/// Secret versions are 32 hex digits; this one is made up from the name.
fn version_of(name: &str) -> String {
    stable_guid(&format!("secret:{}", name.to_lowercase())).replace('-', "")
}

/// The vault's answer to one request.
pub fn answer(shared: &Shared, request: &Request) -> Response {
    let response = match answer_or_fail(shared, request) {
        Ok(response) => response,
        Err((status, code, message)) => {
            let body = json!({"error": {"code": code, "message": message}});
            let mut response = Response::json(status, &body);
            if status == 401 {
                response = response.header("WWW-Authenticate", &challenge(shared));
            }
            response
        }
    };
    key_vault_headers(shared, response)
}

type Failure = (u16, &'static str, String);

fn answer_or_fail(shared: &Shared, request: &Request) -> Result<Response, Failure> {
    authorize(shared, request)?;
    if request.query("api-version").is_none_or(|v| v.is_empty()) {
        return Err((
            400,
            "BadParameter",
            "The request URI contains an invalid parameter: api-version is required.".into(),
        ));
    }
    let segments: Vec<&str> = request
        .path()
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let (name, version) = match segments.as_slice() {
        [secrets, name] if secrets.eq_ignore_ascii_case("secrets") => (*name, None),
        [secrets, name, version] if secrets.eq_ignore_ascii_case("secrets") => {
            (*name, Some(*version))
        }
        _ => {
            return Err((
                404,
                "NotFound",
                "The requested resource was not found.".into(),
            ));
        }
    };
    if request.method != "GET" {
        return Err((
            405,
            "BadParameter",
            format!(
                "The requested resource does not support http method '{}'.",
                request.method
            ),
        ));
    }
    let current = version_of(name);
    if version.is_some_and(|v| !v.eq_ignore_ascii_case(&current)) {
        return Err((
            404,
            "SecretNotFound",
            format!(
                "A secret with (name/id) {name}/{} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182",
                version.unwrap_or_default()
            ),
        ));
    }
    let created = 1_735_689_600;
    let body = json!({
        "value": "s3cr3t",
        "id": format!("{}/secrets/{name}/{current}", shared.hosts.foreign_url()),
        "attributes": {
            "enabled": true,
            "created": created,
            "updated": created,
            "recoveryLevel": "Recoverable+Purgeable",
            "recoverableDays": 90
        },
        "tags": {}
    });
    Ok(Response::json(200, &body))
}

/// Lets the request through if it carries a live token this emulator issued for the vault.
fn authorize(shared: &Shared, request: &Request) -> Result<(), Failure> {
    let unauthorized = |message: String| (401, "Unauthorized", message);
    let token = request
        .header("authorization")
        .and_then(|h| h.split_once(' '))
        .filter(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer") && !token.is_empty())
        .map(|(_, token)| token.trim())
        .ok_or_else(|| {
            unauthorized("AKV10000: Request is missing a Bearer or PoP token.".into())
        })?;
    let claims = shared.tokens.lookup(token).ok_or_else(|| {
        unauthorized("[BearerReadAccessTokenFailed] Error validating token: 'S2S12005'.".into())
    })?;
    if claims.exp <= epoch_now() {
        return Err(unauthorized(
            "[TokenExpired] Error validating token: 'S2S12086'.".into(),
        ));
    }
    let audience = shared.hosts.foreign_url();
    if claims.aud != audience && claims.aud != format!("{audience}/") {
        return Err(unauthorized(format!(
            "AKV10022: Invalid audience. Expected {audience}, found: {}.",
            claims.aud
        )));
    }
    Ok(())
}

/// Where to get a token for this vault, as Key Vault's 401 says it.
fn challenge(shared: &Shared) -> String {
    format!(
        "Bearer authorization=\"https://login.microsoftonline.com/{}\", resource=\"{}\"",
        shared.scenario.tenant_id,
        shared.hosts.foreign_url()
    )
}

fn key_vault_headers(shared: &Shared, response: Response) -> Response {
    response
        .header("Cache-Control", "no-cache")
        .header("Pragma", "no-cache")
        .header("Content-Type", "application/json; charset=utf-8")
        .header("Expires", "-1")
        .header("x-ms-keyvault-region", &shared.scenario.location)
        .header("x-ms-request-id", &random_guid())
        .header("x-ms-keyvault-service-version", "1.9.2164.1")
        .header(
            "x-ms-keyvault-network-info",
            "conn_type=Ipv4;addr=127.0.0.1;act_addr_fam=InterNetwork;",
        )
        .header("X-Content-Type-Options", "nosniff")
}
