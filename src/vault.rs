//! Azure Key Vault's secrets: vault and secret names, the vault's URL in this machine's cloud
//! (or at `--vault-endpoint`), a secret and the list of a vault's secrets, and Key Vault's
//! refusals with the fix for each.
//!
//! A vault `myvault` is `https://myvault.vault.azure.net` (`vault.usgovcloudapi.net`,
//! `vault.azure.cn` in the other clouds), and its tokens are for `https://vault.azure.net`. The
//! token goes to that one host only: a list's `nextLink` (on the vault, with an explicit `:443`)
//! is followed only there.

use serde_json::{Map, Value};

use crate::answer::{self, Answer};
use crate::arm::{Origin, Session, Url};
use crate::cloud::{CLOUDS, Cloud};
use crate::error::{Error, Kind, Result};
use crate::http::{Endpoint, Reply};
use crate::secret::Secret;
use crate::text::{echo, percent_encode};
use crate::time::rfc3339;

/// The secrets API version armi speaks (what most scripts send; 7.5, 7.6 and 2025-07-01 are
/// served too).
pub const API_VERSION: &str = "7.4";
/// More pages than a vault's list has (25 secrets a page); a service that keeps sending
/// `nextLink`s past this is looping.
const MAX_PAGES: usize = 100_000;

/// What `armi secret` names: a vault, and in it a secret (or none, to list the vault).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub vault: String,
    /// The host and port, when a URL gave them; else they come from the cloud.
    pub given: Option<(String, u16)>,
    /// The cloud a URL's host belongs to (`None` for a bare name or an endpoint override).
    pub cloud: Option<Cloud>,
    pub secret: Option<SecretName>,
}

/// A secret's name and, optionally, one of its versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretName {
    pub name: String,
    pub version: Option<String>,
}

impl Wanted {
    /// Reads `VAULT [NAME[/VERSION]]`: VAULT is a vault name, a vault URL, or a secret's whole
    /// id URL (then without NAME). Everything is checked here, before anything is sent.
    pub fn parse(vault: &str, name: Option<&str>, endpoint: Option<&Endpoint>) -> Result<Wanted> {
        let mut wanted = if vault.contains("://") {
            from_url(vault, endpoint)?
        } else {
            check_vault_name(vault).map_err(|e| Error::usage(format!("VAULT {e}")))?;
            Wanted {
                vault: vault.to_ascii_lowercase(),
                given: None,
                cloud: None,
                secret: None,
            }
        };
        if let Some(name) = name {
            if wanted.secret.is_some() {
                return Err(Error::usage(format!(
                    "'{}' names a secret already, and so does '{}': give one of them",
                    echo(vault),
                    echo(name)
                )));
            }
            let (name, version) = match name.split_once('/') {
                Some((name, version)) => (name, Some(version)),
                None => (name, None),
            };
            wanted.secret = Some(secret_name(name, version)?);
        }
        Ok(wanted)
    }

    /// The vault's origin: the URL's host, the override's, or `{vault}.{cloud's suffix}`.
    pub fn origin(&self, cloud: &Cloud, endpoint: Option<&Endpoint>) -> Endpoint {
        let (host, port) = match (&self.given, endpoint) {
            (Some((host, port)), _) => (host.clone(), Some(*port)),
            (None, Some(e)) => (format!("{}.{}", self.vault, e.host), e.port),
            (None, None) => (format!("{}.{}", self.vault, cloud.vault_suffix), None),
        };
        Endpoint {
            https: endpoint.is_none_or(|e| e.https),
            host,
            port,
            path: String::new(),
        }
    }
}

/// `https://{vault}.{suffix}[:port][/secrets/{name}[/{version}]]`.
fn from_url(text: &str, endpoint: Option<&Endpoint>) -> Result<Wanted> {
    let bad = |why: &str| Error::usage(format!("'{}' {why}", echo(text)));
    let url = Url::parse(text).map_err(|e| bad(&e))?;
    let (vault, suffix) = url
        .host
        .split_once('.')
        .ok_or_else(|| bad("is not a vault's URL (https://VAULT.vault.azure.net)"))?;
    let cloud = match endpoint {
        Some(e) => {
            if suffix != e.host || url.port != e.port_or_default() || url.https != e.https {
                return Err(bad(&format!(
                    "is not a vault at --vault-endpoint {} ({}://VAULT.{}:{})",
                    e.origin(),
                    if e.https { "https" } else { "http" },
                    e.host,
                    e.port_or_default()
                )));
            }
            None
        }
        None => {
            let cloud = CLOUDS.iter().find(|c| c.vault_suffix == suffix);
            match cloud {
                Some(c) if url.https && url.port == 443 => Some(*c),
                _ => {
                    return Err(bad(
                        "is not a Key Vault URL (https://VAULT.vault.azure.net, .vault.usgovcloudapi.net or .vault.azure.cn)",
                    ));
                }
            }
        }
    };
    check_vault_name(vault).map_err(|e| bad(&format!("has a vault name that {e}")))?;
    let path = url.rest.as_str();
    if path.contains('?') {
        return Err(bad(
            "has a query: give the vault's or the secret's URL alone",
        ));
    }
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let secret = match segments.as_slice() {
        [""] => None,
        ["secrets", name] => Some(secret_name(name, None)?),
        ["secrets", name, version] => {
            Some(secret_name(name, Some(*version).filter(|v| !v.is_empty()))?)
        }
        _ => {
            return Err(bad(
                "is not a vault's or a secret's URL (https://VAULT.vault.azure.net/secrets/NAME[/VERSION])",
            ));
        }
    };
    Ok(Wanted {
        vault: vault.to_string(),
        given: Some((url.host.clone(), url.port)),
        cloud,
        secret,
    })
}

/// Vault names: 3–24 letters, digits and `-`, starting with a letter, not ending in `-`, no
/// `--`.
fn check_vault_name(name: &str) -> std::result::Result<(), String> {
    let ok = (3..=24).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && !name.ends_with('-')
        && !name.contains("--")
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        return Ok(());
    }
    Err(format!(
        "'{}' is not a vault name: 3 to 24 letters, digits and '-', starting with a letter, \
         not ending in '-', no '--'",
        echo(name)
    ))
}

/// Secret names: 1–127 letters, digits and `-`; versions: 32 hex digits.
fn secret_name(name: &str, version: Option<&str>) -> Result<SecretName> {
    let name_ok = (1..=127).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !name_ok {
        return Err(Error::usage(format!(
            "'{}' is not a secret name: 1 to 127 letters, digits and '-'",
            echo(name)
        )));
    }
    if let Some(v) = version
        && !(v.len() == 32 && v.chars().all(|c| c.is_ascii_hexdigit()))
    {
        return Err(Error::usage(format!(
            "'{}' is not a secret version: 32 hex digits, as in the secret's id",
            echo(v)
        )));
    }
    Ok(SecretName {
        name: name.to_string(),
        version: version.map(str::to_ascii_lowercase),
    })
}

/// The token audience for `cloud`'s vaults: `https://vault.azure.net`.
pub fn audience(cloud: &Cloud) -> String {
    format!("https://{}", cloud.vault_suffix)
}

/// A session with the vault at `origin`: the token goes there only.
pub fn session<'a>(http: &'a crate::http::Http, origin: &Endpoint, token: &'a str) -> Session<'a> {
    Session::with_api(http, Origin::of(origin), token, "Key Vault")
}

/// A secret: its value and what Key Vault says about it.
pub struct Bundle {
    pub value: Secret,
    /// Everything else, as armi prints it with `-o json` (with the value added then).
    pub about: Map<String, Value>,
}

/// GETs one secret (its current version, or the one named).
pub fn get(session: &Session, origin: &Endpoint, secret: &SecretName) -> Result<Bundle> {
    let mut path = format!("/secrets/{}", percent_encode(&secret.name));
    if let Some(v) = &secret.version {
        path.push('/');
        path.push_str(v);
    }
    let url = url(origin, &path)?;
    let what = format!("get secret '{}' from {}", secret.name, origin.host);
    let reply = session.send("GET", &url, vec![], None, &what)?;
    if !(200..300).contains(&reply.status) || reply.gave_up.is_some() {
        return Err(failure(&what, &reply, "get"));
    }
    let body = crate::json::parse(&reply.body).ok();
    let Some(Value::String(value)) = body.as_ref().and_then(|b| b.get("value")) else {
        return Err(Error::failed(format!(
            "{what}: Key Vault answered {} without the secret's value",
            reply.status
        )));
    };
    let value = Secret::new(value.as_str());
    let about = body.as_ref().map(describe).unwrap_or_default();
    Ok(Bundle { value, about })
}

/// Every secret of the vault (names and attributes: a list never holds values), page by page.
pub fn list(session: &Session, origin: &Endpoint) -> Result<Vec<Value>> {
    let mut next = url(origin, "/secrets")?;
    let what = format!("list the secrets of {}", origin.host);
    let mut items = Vec::new();
    for page in 1..=MAX_PAGES {
        let page_what = match page {
            1 => what.clone(),
            n => format!("{what} (page {n})"),
        };
        let reply = session.send("GET", &next, vec![], None, &page_what)?;
        if !(200..300).contains(&reply.status) || reply.gave_up.is_some() {
            return Err(failure(&page_what, &reply, "list"));
        }
        let body = crate::json::parse(&reply.body).map_err(|e| {
            Error::failed(format!(
                "{page_what}: Key Vault answered {} but the body is not JSON ({e})",
                reply.status
            ))
        })?;
        if let Some(Value::Array(values)) = body.get("value") {
            items.extend(values.iter().map(describe).map(Value::Object));
        }
        let Some(link) = body.get("nextLink").and_then(Value::as_str) else {
            return Ok(items);
        };
        let url = session.origin.follow(link, "nextLink")?;
        if url == next {
            return Err(Error::failed(format!(
                "{page_what}: the nextLink points at the page itself; stopping instead of looping"
            )));
        }
        next = url;
    }
    Err(Error::failed(format!(
        "{what}: more than {MAX_PAGES} pages; stopping"
    )))
}

fn url(origin: &Endpoint, path: &str) -> Result<Url> {
    Url::parse(&origin.url(path, &format!("api-version={API_VERSION}")))
        .map_err(|e| Error::failed(format!("internal: built an invalid URL: {e}")))
}

/// A bundle or a list item as armi prints it: name, version, id, content type, enabled, and
/// times in RFC 3339, never the value.
fn describe(item: &Value) -> Map<String, Value> {
    let id = item.get("id").and_then(Value::as_str).unwrap_or_default();
    // https://{vault}.vault.azure.net/secrets/{name}[/{version}]
    let mut parts = id.split("/secrets/").nth(1).unwrap_or_default().split('/');
    let mut out = Map::new();
    out.insert("name".into(), parts.next().unwrap_or_default().into());
    if let Some(version) = parts.next().filter(|v| !v.is_empty()) {
        out.insert("version".into(), version.into());
    }
    out.insert("id".into(), id.into());
    let content_type = item.get("contentType").cloned().unwrap_or(Value::Null);
    out.insert("content_type".into(), content_type);
    let attributes = item.get("attributes");
    let attribute = |name: &str| attributes.and_then(|a| a.get(name));
    out.insert(
        "enabled".into(),
        attribute("enabled").cloned().unwrap_or(Value::Null),
    );
    for (from, to) in [
        ("created", "created"),
        ("updated", "updated"),
        ("nbf", "not_before"),
        ("exp", "expires"),
    ] {
        if let Some(at) = attribute(from).and_then(Value::as_u64) {
            out.insert(to.into(), rfc3339(at).into());
        }
    }
    if let Some(tags) = item.get("tags").filter(|t| t.is_object()) {
        out.insert("tags".into(), tags.clone());
    }
    out
}

/// Key Vault's refusals: the exit code and the fix. `wanted` is the permission the call needs
/// (`get` or `list`).
pub fn failure(what: &str, reply: &Reply, wanted: &str) -> Error {
    let retry = "Key Vault kept throttling or failing; raise --timeout to wait longer";
    let mut not_yet = false;
    let error = answer::error(what, reply, retry, |a| {
        not_yet = a.status == 403 && inner_is(a, "ForbiddenByRbac");
        meaning(a, wanted)
    });
    error.not_yet_if(not_yet)
}

fn inner_is(a: &Answer, code: &str) -> bool {
    a.inner_code
        .as_deref()
        .is_some_and(|c| c.eq_ignore_ascii_case(code))
}

fn meaning(a: &Answer, wanted: &str) -> (Kind, Option<String>) {
    match a.status {
        401 => (
            Kind::Denied,
            Some(
                "the vault refused the token: it takes tokens for its own cloud's vault audience \
                 and from its own tenant (check --cloud; a managed identity gets tokens only in \
                 its own tenant)"
                    .into(),
            ),
        ),
        403 if inner_is(a, "ForbiddenByRbac") => (Kind::Denied, Some(rbac_hint(&a.message))),
        403 if inner_is(a, "AccessDenied") => (Kind::Denied, Some(policy_hint(&a.message, wanted))),
        403 if inner_is(a, "SecretDisabled") => (
            Kind::Denied,
            Some("this version of the secret is disabled: enable it, or ask for another".into()),
        ),
        403 if inner_is(a, "ForbiddenByFirewall")
            || a.lower().contains("client address is not authorized") =>
        {
            (
                Kind::Denied,
                Some(
                    "the vault's firewall does not let this machine in: add its address or \
                     virtual network to the vault's network rules"
                        .into(),
                ),
            )
        }
        403 => (Kind::Denied, None),
        404 if a.code_is("SecretNotFound") => (
            Kind::NotFound,
            Some(
                "check the name (and version); `armi secret VAULT` lists the vault's secrets"
                    .into(),
            ),
        ),
        404 => (Kind::NotFound, None),
        500..=599 => (Kind::GaveUp, None),
        _ => (Kind::Failed, None),
    }
}

/// Names the role, the identity and the scope from Key Vault's own message
/// (`Caller: appid=..;oid=..;...`, `Resource: '...'`).
fn rbac_hint(message: &str) -> String {
    let oid = between(message, "oid=", ";");
    let scope = between(message, "Resource: '", "'");
    let role = "Key Vault Secrets User";
    match (oid, scope) {
        (Some(oid), Some(scope)) => format!(
            "grant the identity the role {role} on the vault (or the secret):\n  az role assignment \
             create --assignee-object-id {oid} --assignee-principal-type ServicePrincipal \
             --role '{role}' --scope {scope}"
        ),
        _ => format!("grant the identity the role {role} on the vault (or the secret)"),
    }
}

/// For a vault with access policies: the missing secret permission, from the message.
fn policy_hint(message: &str, wanted: &str) -> String {
    let permission = between(message, "does not have secrets ", " permission")
        .filter(|p| p.chars().all(|c| c.is_ascii_alphabetic()))
        .unwrap_or(wanted);
    let vault = between(message, "on key vault '", ";");
    match (between(message, "oid=", ";"), vault) {
        (Some(oid), Some(vault)) => format!(
            "the vault uses access policies, and none gives the identity the secret '{permission}' \
             permission:\n  az keyvault set-policy --name {vault} --object-id {oid} \
             --secret-permissions {permission}"
        ),
        _ => format!(
            "the vault uses access policies, and none gives the identity the secret \
             '{permission}' permission"
        ),
    }
}

/// The text between `start` and the next `end`, if it is a clean word for a command line.
fn between<'m>(message: &'m str, start: &str, end: &str) -> Option<&'m str> {
    let from = message.find(start)? + start.len();
    let rest = &message[from..];
    let text = &rest[..rest.find(end)?];
    let safe = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    safe.then_some(text)
}

/// The bundle as `-o json` prints it: the value first, then what [`describe`] says.
pub fn to_json(bundle: Bundle) -> Value {
    let mut out = Map::new();
    out.insert("value".into(), bundle.value.expose().into());
    out.extend(bundle.about);
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(vault: &str, name: Option<&str>) -> Result<Wanted> {
        Wanted::parse(vault, name, None)
    }

    #[test]
    fn a_vault_is_a_name_a_vault_url_or_a_secrets_id() {
        let by_name = parse("MyVault", Some("db")).unwrap();
        assert_eq!(by_name.vault, "myvault");
        assert_eq!(by_name.secret.unwrap().name, "db");
        let by_url = parse("https://myvault.vault.usgovcloudapi.net/", None).unwrap();
        assert_eq!(by_url.cloud.map(|c| c.alias), Some("usgov"));
        assert_eq!(by_url.secret, None);
        let version = "0123456789abcdef0123456789ABCDEF";
        let id = format!("https://myvault.vault.azure.net:443/secrets/db/{version}");
        let by_id = parse(&id, None).unwrap();
        let secret = by_id.secret.unwrap();
        assert_eq!(
            secret.version.as_deref(),
            Some(version.to_ascii_lowercase().as_str())
        );
        assert_eq!(by_id.given, Some(("myvault.vault.azure.net".into(), 443)));
        let named = parse("v-1", Some(&format!("db/{version}"))).unwrap();
        assert!(named.secret.unwrap().version.is_some());
    }

    #[test]
    fn names_versions_and_hosts_are_checked_before_anything_is_sent() {
        for (vault, name) in [
            ("ab", None),
            ("1vault", None),
            ("my--vault", None),
            ("vault-", None),
            ("a-vault-name-much-too-long", None),
            ("myvault", Some("bad_name")),
            ("myvault", Some("db/123")),
            ("myvault", Some("")),
            ("https://myvault.vault.azure.net.evil.com/", None),
            ("https://myvault.evil.com/", None),
            ("http://myvault.vault.azure.net/", None),
            ("https://myvault.vault.azure.net:8443/", None),
            ("https://myvault.vault.azure.net/keys/k", None),
            ("https://myvault.vault.azure.net/secrets/db?x=1", None),
            ("https://myvault.vault.azure.net/secrets/db", Some("other")),
        ] {
            let e = parse(vault, name).unwrap_err();
            assert_eq!(e.kind, Kind::Usage, "{vault} {name:?}");
        }
    }

    #[test]
    fn an_endpoint_override_puts_vaults_below_its_host_and_port() {
        let e = Endpoint::parse_origin("https://localhost:8443").unwrap();
        let wanted = Wanted::parse("kv1", None, Some(&e)).unwrap();
        let origin = wanted.origin(&Cloud::public(), Some(&e));
        assert_eq!(origin.origin(), "https://kv1.localhost:8443");
        assert!(Wanted::parse("https://kv1.localhost:8443/secrets/a", None, Some(&e)).is_ok());
        assert!(Wanted::parse("https://kv1.localhost:9443/", None, Some(&e)).is_err());
        assert!(Wanted::parse("https://kv1.vault.azure.net/", None, Some(&e)).is_err());
        let public = parse("kv1", None).unwrap().origin(&Cloud::public(), None);
        assert_eq!(public.origin(), "https://kv1.vault.azure.net");
    }

    #[test]
    fn rbac_and_access_policy_denials_name_the_fix() {
        let rbac = r#"{"error":{"code":"Forbidden","message":"Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nCaller: appid=a1;oid=0f1e2d3c;iss=https://sts.windows.net/t/\r\nAction: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'\r\nResource: '/subscriptions/s/resourcegroups/rg/providers/microsoft.keyvault/vaults/kv1/secrets/db'\r\n","innererror":{"code":"ForbiddenByRbac"}}}"#;
        let e = failure("get", &Reply::new(403, rbac), "get");
        assert_eq!(e.kind, Kind::Denied);
        assert!(e.not_yet);
        let hint = e.hint.unwrap();
        assert!(hint.contains("--role 'Key Vault Secrets User'"), "{hint}");
        assert!(hint.contains("--assignee-object-id 0f1e2d3c"), "{hint}");
        assert!(hint.contains("--scope /subscriptions/s/resourcegroups/rg/providers/microsoft.keyvault/vaults/kv1/secrets/db"), "{hint}");
        let policy = r#"{"error":{"code":"Forbidden","message":"The user, group or application 'appid=a1;oid=0f1e2d3c;iss=https://sts.windows.net/t/' does not have secrets get permission on key vault 'kv1;location=westeurope'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287","innererror":{"code":"AccessDenied"}}}"#;
        let e = failure("get", &Reply::new(403, policy), "get");
        assert!(!e.not_yet);
        let hint = e.hint.unwrap();
        assert!(
            hint.contains("--name kv1 --object-id 0f1e2d3c --secret-permissions get"),
            "{hint}"
        );
        let missing = r#"{"error":{"code":"SecretNotFound","message":"A secret with (name/id) db was not found in this key vault."}}"#;
        assert_eq!(
            failure("get", &Reply::new(404, missing), "get").kind,
            Kind::NotFound
        );
        let e = failure(
            "get",
            &Reply::new(401, r#"{"error":{"code":"Unauthorized"}}"#),
            "get",
        );
        assert!(!e.not_yet && e.kind == Kind::Denied);
    }

    #[test]
    fn a_bundle_is_described_without_its_value_and_with_rfc_3339_times() {
        let item = serde_json::json!({"value": "s3cr3t", "id": "https://kv1.vault.azure.net/secrets/db/0123", "contentType": "text/plain", "attributes": {"enabled": true, "created": 1735689600, "updated": 1735776000}});
        let about = describe(&item);
        assert_eq!(about["name"], "db");
        assert_eq!(about["version"], "0123");
        assert_eq!(about["created"], "2025-01-01T00:00:00Z");
        assert_eq!(about["updated"], "2025-01-02T00:00:00Z");
        assert!(!Value::Object(about).to_string().contains("s3cr3t"));
    }
}
