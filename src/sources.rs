//! Where a token comes from. On a VM it is IMDS; elsewhere the environment names another
//! identity host, detected in the order the Azure SDKs use (protocol.md § 5): Service Fabric,
//! App Service (and Functions), Azure Arc, Azure ML, Cloud Shell, AKS workload identity, else
//! IMDS. `--source` overrides the detection. Each host has its own request; all answers go
//! through the same lenient parser, retry rules as far as each host allows, and error mapping.

pub mod arc;

use std::path::PathBuf;

use crate::arm::{Url, percent_encode};
use crate::cloud::Cloud;
use crate::error::{Error, Kind, Result};
use crate::http::{Endpoint, Http, Reply, Request, Service};
use crate::imds::{self, Identity, clean};
use crate::pinned::Pin;
use crate::token::{self, Token};

/// The identity hosts armi speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    Imds,
    Arc,
    AppService,
    CloudShell,
    ServiceFabric,
    AzureMl,
    Workload,
}

impl Host {
    pub const NAMES: &'static str =
        "auto, imds, arc, appservice, cloudshell, servicefabric, azureml, workload";

    /// `--source` values; `auto` is `None`.
    pub fn parse(text: &str) -> std::result::Result<Option<Host>, String> {
        let host = match text.to_ascii_lowercase().as_str() {
            "auto" => return Ok(None),
            "imds" | "vm" => Host::Imds,
            "arc" => Host::Arc,
            "appservice" | "app-service" | "functions" => Host::AppService,
            "cloudshell" | "cloud-shell" => Host::CloudShell,
            "servicefabric" | "service-fabric" => Host::ServiceFabric,
            "azureml" | "azure-ml" | "ml" => Host::AzureMl,
            "workload" | "workload-identity" | "aks" => Host::Workload,
            _ => {
                return Err(format!(
                    "'{}' is not a source; choose one of {}",
                    clean(text),
                    Host::NAMES
                ));
            }
        };
        Ok(Some(host))
    }

    pub fn name(self) -> &'static str {
        match self {
            Host::Imds => "IMDS",
            Host::Arc => "Azure Arc",
            Host::AppService => "App Service",
            Host::CloudShell => "Cloud Shell",
            Host::ServiceFabric => "Service Fabric",
            Host::AzureMl => "Azure ML",
            Host::Workload => "workload identity",
        }
    }
}

/// The chosen identity host, with everything needed to ask it for a token.
#[derive(Debug)]
pub struct Source {
    pub host: Host,
    /// Why this host: for `-v`.
    pub why: String,
    config: Config,
}

#[derive(Debug)]
enum Config {
    Imds(Endpoint),
    Arc {
        endpoint: Url,
        key_dir: PathBuf,
    },
    AppService {
        endpoint: Url,
        secret: String,
    },
    CloudShell {
        endpoint: Url,
    },
    ServiceFabric {
        endpoint: Url,
        secret: String,
        pin: Pin,
    },
    AzureMl {
        endpoint: Url,
        secret: String,
    },
    Workload {
        token_file: PathBuf,
        client_id: String,
        tenant_id: String,
        authority: Option<Url>,
    },
}

/// Where the Arc agent keeps its challenge files (Linux).
const ARC_KEY_DIR: &str = "/var/opt/azcmagent/tokens";
/// The Arc agent's binary: MSAL Python and MSAL Go disagree on the path, so both count.
const HIMDS_PATHS: [&str; 2] = ["/opt/azcmagent/bin/himds", "/var/opt/azcmagent/bin/himds"];
const ARC_DEFAULT_ENDPOINT: &str = "http://127.0.0.1:40342/metadata/identity/oauth2/token";
const CLOUD_SHELL_DEFAULT_ENDPOINT: &str = "http://localhost:50342/oauth2/token";

/// Finds the identity host from the environment (or takes the forced one) and reads its
/// settings. Bad or missing settings are exit 2: nothing has been sent yet.
pub fn detect(
    forced: Option<Host>,
    imds_endpoint: &Endpoint,
    env: &dyn Fn(&str) -> Option<String>,
    exists: &dyn Fn(&str) -> bool,
) -> Result<Source> {
    let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let has = |name: &str| env(name).is_some();
    let himds = HIMDS_PATHS.iter().find(|p| exists(p));
    let (host, why) = match forced {
        Some(host) => (host, "--source".to_string()),
        None if has("IDENTITY_ENDPOINT")
            && has("IDENTITY_HEADER")
            && has("IDENTITY_SERVER_THUMBPRINT") =>
        {
            (
                Host::ServiceFabric,
                "IDENTITY_ENDPOINT, IDENTITY_HEADER and IDENTITY_SERVER_THUMBPRINT are set".into(),
            )
        }
        None if has("IDENTITY_ENDPOINT") && has("IDENTITY_HEADER") => (
            Host::AppService,
            "IDENTITY_ENDPOINT and IDENTITY_HEADER are set".into(),
        ),
        None if has("IDENTITY_ENDPOINT") && has("IMDS_ENDPOINT") => (
            Host::Arc,
            "IDENTITY_ENDPOINT and IMDS_ENDPOINT are set".into(),
        ),
        None if himds.is_some() => (
            Host::Arc,
            format!(
                "the Arc agent is installed ({})",
                himds.copied().unwrap_or_default()
            ),
        ),
        None if has("MSI_ENDPOINT") && has("MSI_SECRET") => {
            (Host::AzureMl, "MSI_ENDPOINT and MSI_SECRET are set".into())
        }
        None if has("MSI_ENDPOINT") => (Host::CloudShell, "MSI_ENDPOINT is set".into()),
        None if env("AZUREPS_HOST_ENVIRONMENT").is_some_and(|v| v.starts_with("cloud-shell")) => (
            Host::CloudShell,
            "AZUREPS_HOST_ENVIRONMENT says cloud-shell".into(),
        ),
        None if has("AZURE_FEDERATED_TOKEN_FILE")
            && has("AZURE_CLIENT_ID")
            && has("AZURE_TENANT_ID") =>
        {
            (
                Host::Workload,
                "AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID and AZURE_TENANT_ID are set".into(),
            )
        }
        None => (
            Host::Imds,
            "no other identity host in the environment".into(),
        ),
    };
    let need = |name: &str| {
        env(name).ok_or_else(|| {
            Error::usage(format!("{} needs {name} in the environment", host.name()))
                .with_hint("unset --source to detect the host, or set the variable")
        })
    };
    let url = |name: &str, default: Option<&str>| -> Result<Url> {
        let text = match (env(name), default) {
            (Some(v), _) => v,
            (None, Some(d)) => d.to_string(),
            (None, None) => need(name)?,
        };
        Url::parse(text.trim()).map_err(|e| Error::usage(format!("{name}: '{}' {e}", clean(&text))))
    };
    let config = match host {
        Host::Imds => Config::Imds(imds_endpoint.clone()),
        Host::Arc => Config::Arc {
            endpoint: url("IDENTITY_ENDPOINT", Some(ARC_DEFAULT_ENDPOINT))?,
            // Tests and relocated agents name another directory; the checks stay the same.
            key_dir: PathBuf::from(
                env("ARMI_ARC_TOKEN_DIR").unwrap_or_else(|| ARC_KEY_DIR.to_string()),
            ),
        },
        Host::AppService => Config::AppService {
            endpoint: url("IDENTITY_ENDPOINT", None)?,
            secret: need("IDENTITY_HEADER")?,
        },
        Host::CloudShell => Config::CloudShell {
            endpoint: url("MSI_ENDPOINT", Some(CLOUD_SHELL_DEFAULT_ENDPOINT))?,
        },
        Host::ServiceFabric => {
            let endpoint = url("IDENTITY_ENDPOINT", None)?;
            if !endpoint.https {
                return Err(Error::usage(
                    "IDENTITY_ENDPOINT: Service Fabric's identity endpoint must be https",
                ));
            }
            let pin = Pin::parse(&need("IDENTITY_SERVER_THUMBPRINT")?)
                .map_err(|e| Error::usage(format!("IDENTITY_SERVER_THUMBPRINT: {e}")))?;
            Config::ServiceFabric {
                endpoint,
                secret: need("IDENTITY_HEADER")?,
                pin,
            }
        }
        Host::AzureMl => Config::AzureMl {
            endpoint: url("MSI_ENDPOINT", None)?,
            secret: need("MSI_SECRET")?,
        },
        Host::Workload => Config::Workload {
            token_file: PathBuf::from(need("AZURE_FEDERATED_TOKEN_FILE")?),
            client_id: need("AZURE_CLIENT_ID")?,
            tenant_id: tenant(&need("AZURE_TENANT_ID")?)?,
            authority: env("AZURE_AUTHORITY_HOST")
                .map(|_| url("AZURE_AUTHORITY_HOST", None))
                .transpose()?,
        },
    };
    Ok(Source { host, why, config })
}

/// A tenant id goes into a URL path: a GUID or a domain name, nothing else.
fn tenant(text: &str) -> Result<String> {
    let ok = !text.is_empty()
        && text.len() <= 256
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'));
    if ok {
        Ok(text.to_string())
    } else {
        Err(Error::usage(format!(
            "AZURE_TENANT_ID: '{}' is not a tenant id or domain",
            clean(text)
        )))
    }
}

impl Source {
    /// Whether this host has IMDS's instance metadata (VMs do; the other hosts do not).
    pub fn has_instance_metadata(&self) -> bool {
        self.host == Host::Imds
    }

    /// A remote host this source needs an agent for (Entra ID for workload identity).
    pub fn remote_host(&self, cloud: &Cloud) -> Option<(String, bool)> {
        match &self.config {
            Config::Workload { authority, .. } => {
                let url = authority
                    .clone()
                    .or_else(|| Url::parse(cloud.authority).ok())?;
                Some((url.host, url.https))
            }
            _ => None,
        }
    }

    /// Gets a token for `resource` as `identity`.
    pub fn token(
        &self,
        http: &Http,
        resource: &str,
        identity: &Identity,
        cloud: &Cloud,
    ) -> Result<Token> {
        http.trace(&format!(
            "identity source: {} ({})",
            self.host.name(),
            self.why
        ));
        check_identity(self.host, identity)?;
        match &self.config {
            Config::Imds(endpoint) => imds::token(http, endpoint, resource, identity),
            Config::Arc { endpoint, key_dir } => arc::token(http, endpoint, key_dir, resource),
            Config::AppService { endpoint, secret } => {
                let mut query = format!(
                    "api-version=2019-08-01&resource={}",
                    percent_encode(resource)
                );
                if let Some((key, id)) =
                    selector(identity, ["client_id", "principal_id", "mi_res_id"])
                {
                    query.push_str(&format!("&{key}={}", percent_encode(id)));
                }
                let headers = vec![
                    ("X-IDENTITY-HEADER", secret.clone()),
                    ("Metadata", "true".into()),
                ];
                self.get(
                    http,
                    endpoint,
                    &query,
                    headers,
                    resource,
                    identity,
                    Service::Local("App Service"),
                )
            }
            Config::CloudShell { endpoint } => {
                let body = format!("resource={}", percent_encode(resource));
                let what = what(Host::CloudShell, resource, identity);
                let requested_at = token::now();
                let reply = http.send(&Request {
                    service: Service::Local("Cloud Shell"),
                    method: "POST",
                    url: endpoint.to_url(),
                    what: what.clone(),
                    headers: vec![
                        ("Metadata", "true".into()),
                        ("Content-Type", "application/x-www-form-urlencoded".into()),
                    ],
                    bearer: None,
                    body: Some(body.into_bytes()),
                })?;
                parse(Host::CloudShell, &what, &reply, requested_at, identity)
            }
            Config::ServiceFabric {
                endpoint,
                secret,
                pin,
            } => {
                http.open_pinned(pin.clone());
                let query = format!(
                    "api-version=2019-07-01-preview&resource={}",
                    percent_encode(resource)
                );
                let headers = vec![("Secret", secret.clone())];
                self.get(
                    http,
                    endpoint,
                    &query,
                    headers,
                    resource,
                    identity,
                    Service::Pinned("Service Fabric"),
                )
            }
            Config::AzureMl { endpoint, secret } => {
                let mut query = format!(
                    "api-version=2017-09-01&resource={}",
                    percent_encode(resource)
                );
                // Azure ML's 2017 API spells the client id `clientid`.
                if let Some((_, id)) = selector(identity, ["clientid", "", ""]) {
                    query.push_str(&format!("&clientid={}", percent_encode(id)));
                }
                let headers = vec![("secret", secret.clone()), ("Metadata", "true".into())];
                self.get(
                    http,
                    endpoint,
                    &query,
                    headers,
                    resource,
                    identity,
                    Service::Local("Azure ML"),
                )
            }
            Config::Workload {
                token_file,
                client_id,
                tenant_id,
                authority,
            } => {
                let client_id = match identity {
                    Identity::ClientId {
                        id,
                        from_env: false,
                    } => id.clone(),
                    _ => client_id.clone(),
                };
                let authority = match authority {
                    Some(url) => url.clone(),
                    None => Url::parse(cloud.authority).map_err(Error::failed)?,
                };
                workload(
                    http, &authority, tenant_id, &client_id, token_file, resource, identity,
                )
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn get(
        &self,
        http: &Http,
        endpoint: &Url,
        query: &str,
        headers: Vec<(&'static str, String)>,
        resource: &str,
        identity: &Identity,
        service: Service,
    ) -> Result<Token> {
        let what = what(self.host, resource, identity);
        let joiner = if endpoint.rest.contains('?') {
            '&'
        } else {
            '?'
        };
        let requested_at = token::now();
        let reply = http.send(&Request {
            service,
            method: "GET",
            url: format!("{}{joiner}{query}", endpoint.to_url()),
            what: what.clone(),
            headers,
            bearer: None,
            body: None,
        })?;
        parse(self.host, &what, &reply, requested_at, identity)
    }
}

/// The query parameter for a user-assigned identity, by this host's names for client id,
/// object id and resource id ("" where the host has none).
fn selector<'a>(
    identity: &'a Identity,
    names: [&'static str; 3],
) -> Option<(&'static str, &'a str)> {
    let (name, id) = match identity {
        Identity::System => return None,
        Identity::ClientId { id, .. } => (names[0], id.as_str()),
        Identity::ObjectId(id) => (names[1], id.as_str()),
        Identity::ResourceId(id) => (names[2], id.as_str()),
    };
    (!name.is_empty()).then_some((name, id))
}

/// Hosts that cannot act as a user-assigned identity say so before anything is sent.
fn check_identity(host: Host, identity: &Identity) -> Result<()> {
    let supported = matches!(
        (host, identity),
        (_, Identity::System)
            | (Host::Imds | Host::AppService, _)
            | (Host::AzureMl | Host::Workload, Identity::ClientId { .. })
    );
    if supported {
        return Ok(());
    }
    let why = match host {
        Host::Arc => "Azure Arc supports only the machine's system-assigned identity",
        Host::CloudShell => {
            "Cloud Shell hands out the signed-in user's token, not a managed identity's"
        }
        Host::ServiceFabric => {
            "Service Fabric picks the identity in the application manifest, not at run time"
        }
        Host::AzureMl => "Azure ML selects a user-assigned identity by client id only",
        _ => "workload identity acts as the identity in AZURE_CLIENT_ID",
    };
    let hint = match identity {
        Identity::ClientId { from_env: true, .. } => format!("{why}; unset AZURE_CLIENT_ID"),
        _ => why.to_string(),
    };
    Err(Error::new(
        Kind::NoIdentity,
        format!("{}: cannot act as {}", host.name(), identity.describe()),
    )
    .with_hint(hint))
}

fn what(host: Host, resource: &str, identity: &Identity) -> String {
    format!(
        "get a token for {resource} from {} as {}",
        host.name(),
        identity.describe()
    )
}

/// A host's answer: the token, or an error of the right kind.
fn parse(
    host: Host,
    what: &str,
    reply: &Reply,
    requested_at: u64,
    identity: &Identity,
) -> Result<Token> {
    if reply.status != 200 || reply.gave_up.is_some() {
        return Err(failure(host, what, reply, identity));
    }
    Token::parse(&reply.body, requested_at)
        .map_err(|e| Error::failed(format!("{what}: {}", e.message)))
}

/// Any identity host's non-200 answer: 401/403 denied, an identity the host does not know is
/// "no identity", transient errors that outlasted the retries are "gave up".
pub fn failure(host: Host, what: &str, reply: &Reply, identity: &Identity) -> Error {
    let text = error_text(reply);
    let mut message = format!("{what}: {}", reply.status);
    if !text.is_empty() {
        message.push_str(&format!(": {text}"));
    }
    if let Some(why) = &reply.gave_up {
        return Error::new(Kind::GaveUp, format!("{message} ({why})"))
            .with_hint("the identity host kept failing; raise --timeout to wait longer");
    }
    let lower = text.to_ascii_lowercase();
    match reply.status {
        401 | 403 => Error::new(Kind::Denied, message),
        400 | 404 if lower.contains("identity") && !matches!(identity, Identity::System) => {
            Error::new(Kind::NoIdentity, message).with_hint(format!(
                "{} does not know {}",
                host.name(),
                identity.describe()
            ))
        }
        400 | 404
            if lower.contains("identity not found")
                || lower.contains("managedidentitynotfound") =>
        {
            Error::new(Kind::NoIdentity, message)
                .with_hint(format!("{} has no managed identity enabled", host.name()))
        }
        _ => Error::failed(message),
    }
}

/// The error text of the many shapes identity hosts use: `{"error": "...", "error_description"}`,
/// `{"error": {"code", "message"}}`, `{"statusCode", "message"}`, or plain text.
fn error_text(reply: &Reply) -> String {
    let Ok(doc) = serde_json::from_slice::<serde_json::Value>(&reply.body) else {
        return clean(&String::from_utf8_lossy(&reply.body));
    };
    let s = |v: Option<&serde_json::Value>| v.and_then(serde_json::Value::as_str).map(clean);
    let nested = doc.get("error").filter(|e| e.is_object());
    let parts = [
        s(nested.and_then(|e| e.get("code"))),
        s(nested.and_then(|e| e.get("message"))),
        s(doc.get("error")),
        s(doc.get("error_description")),
        s(doc.get("message")),
    ];
    parts.into_iter().flatten().collect::<Vec<_>>().join(": ")
}

/// Workload identity: exchange the federated token (the projected service-account token in
/// AZURE_FEDERATED_TOKEN_FILE, read afresh each time because it rotates) for an access token.
fn workload(
    http: &Http,
    authority: &Url,
    tenant_id: &str,
    client_id: &str,
    token_file: &PathBuf,
    resource: &str,
    identity: &Identity,
) -> Result<Token> {
    let assertion = std::fs::read_to_string(token_file).map_err(|e| {
        Error::new(
            Kind::NoIdentity,
            format!(
                "workload identity: cannot read AZURE_FEDERATED_TOKEN_FILE '{}': {e}",
                token_file.display()
            ),
        )
    })?;
    let assertion = assertion.trim();
    // v2 scopes are `<resource>/.default`; a trailing slash on the resource is dropped first, so
    // `https://management.azure.com/` asks for `https://management.azure.com/.default`.
    let scope = format!("{}/.default", resource.trim_end_matches('/'));
    let form = [
        ("client_id", client_id),
        ("scope", scope.as_str()),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", assertion),
        ("grant_type", "client_credentials"),
    ];
    let body = form
        .iter()
        .map(|(k, v)| format!("{k}={}", percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let base = authority.to_url();
    let url = format!(
        "{}/{}/oauth2/v2.0/token",
        base.trim_end_matches('/'),
        percent_encode(tenant_id)
    );
    let what = what(Host::Workload, resource, identity);
    let requested_at = token::now();
    let reply = http.send(&Request {
        service: Service::Entra,
        method: "POST",
        url,
        what: what.clone(),
        headers: vec![("Content-Type", "application/x-www-form-urlencoded".into())],
        bearer: None,
        body: Some(body.into_bytes()),
    })?;
    if reply.status == 400 || reply.status == 401 {
        let text = error_text(&reply);
        return Err(Error::new(Kind::Denied, format!("{what}: {} {text}", reply.status))
            .with_hint("Entra ID refused the federated token: check the federated credential (issuer, subject) and AZURE_CLIENT_ID / AZURE_TENANT_ID"));
    }
    parse(Host::Workload, &what, &reply, requested_at, identity)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn imds() -> Endpoint {
        Endpoint::parse("http://169.254.169.254").unwrap()
    }

    fn detect_with(vars: &[(&str, &str)], files: &[&str]) -> Result<Source> {
        let env = |k: &str| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        };
        let exists = |p: &str| files.contains(&p);
        detect(None, &imds(), &env, &exists)
    }

    fn host_of(vars: &[(&str, &str)]) -> Host {
        detect_with(vars, &[])
            .map(|s| s.host)
            .unwrap_or_else(|e| panic!("{vars:?}: {e:?}"))
    }

    #[test]
    fn detection_follows_the_sdk_order() {
        let ep = ("IDENTITY_ENDPOINT", "http://localhost:4141/MSI/token");
        assert_eq!(host_of(&[]), Host::Imds);
        assert_eq!(
            host_of(&[
                (
                    "IDENTITY_ENDPOINT",
                    "https://127.0.0.1:2377/metadata/identity/oauth2/token"
                ),
                ("IDENTITY_HEADER", "h"),
                ("IDENTITY_SERVER_THUMBPRINT", &"AB".repeat(20))
            ]),
            Host::ServiceFabric
        );
        assert_eq!(host_of(&[ep, ("IDENTITY_HEADER", "h")]), Host::AppService);
        assert_eq!(
            host_of(&[ep, ("IMDS_ENDPOINT", "http://localhost:40342")]),
            Host::Arc
        );
        let ml = [
            ("MSI_ENDPOINT", "http://127.0.0.1:1/token"),
            ("MSI_SECRET", "s"),
        ];
        assert_eq!(host_of(&ml), Host::AzureMl);
        assert_eq!(host_of(&ml[..1]), Host::CloudShell);
        assert_eq!(
            host_of(&[("AZUREPS_HOST_ENVIRONMENT", "cloud-shell/1.0")]),
            Host::CloudShell
        );
        let wi = [
            (
                "AZURE_FEDERATED_TOKEN_FILE",
                "/var/run/secrets/azure/tokens/azure-identity-token",
            ),
            ("AZURE_CLIENT_ID", "6a1b7f0c-2d3e-4f50-8a9b-0c1d2e3f4a5b"),
            ("AZURE_TENANT_ID", "72f988bf-86f1-41af-91ab-2d7cd011db47"),
        ];
        assert_eq!(host_of(&wi), Host::Workload);
        // Workload identity loses to an identity host, as in the SDKs.
        assert_eq!(
            host_of(&[wi[0], wi[1], wi[2], ep, ("IDENTITY_HEADER", "h")]),
            Host::AppService
        );
    }

    #[test]
    fn the_arc_agent_file_alone_means_arc() {
        let s = detect_with(&[], &["/opt/azcmagent/bin/himds"]).unwrap();
        assert_eq!(s.host, Host::Arc);
        assert!(s.why.contains("/opt/azcmagent/bin/himds"));
    }

    #[test]
    fn a_forced_source_needs_its_variables() {
        let env = |_: &str| None;
        let e = detect(Some(Host::AppService), &imds(), &env, &|_| false).unwrap_err();
        assert_eq!(e.kind, Kind::Usage);
        assert!(e.message.contains("IDENTITY_ENDPOINT"), "{}", e.message);
    }

    #[test]
    fn bad_settings_are_usage_errors_naming_the_variable() {
        let sf = [
            (
                "IDENTITY_ENDPOINT",
                "https://127.0.0.1:2377/metadata/identity/oauth2/token",
            ),
            ("IDENTITY_HEADER", "h"),
            ("IDENTITY_SERVER_THUMBPRINT", "not-hex"),
        ];
        assert!(
            detect_with(&sf, &[])
                .unwrap_err()
                .message
                .starts_with("IDENTITY_SERVER_THUMBPRINT")
        );
        let plain = [
            ("IDENTITY_ENDPOINT", "http://127.0.0.1:2377/x"),
            sf[1],
            ("IDENTITY_SERVER_THUMBPRINT", &"ab".repeat(20)),
        ];
        assert!(detect_with(&plain, &[]).is_err());
        let app = [
            ("IDENTITY_ENDPOINT", "localhost:4141"),
            ("IDENTITY_HEADER", "h"),
        ];
        assert!(
            detect_with(&app, &[])
                .unwrap_err()
                .message
                .starts_with("IDENTITY_ENDPOINT")
        );
        let wi = [
            ("AZURE_FEDERATED_TOKEN_FILE", "/f"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_TENANT_ID", "../../evil"),
        ];
        assert!(
            detect_with(&wi, &[])
                .unwrap_err()
                .message
                .starts_with("AZURE_TENANT_ID")
        );
    }

    #[test]
    fn hosts_refuse_identities_they_cannot_pick() {
        let ua = Identity::ClientId {
            id: "6a1b7f0c-2d3e-4f50-8a9b-0c1d2e3f4a5b".into(),
            from_env: false,
        };
        for host in [Host::Arc, Host::CloudShell, Host::ServiceFabric] {
            assert_eq!(
                check_identity(host, &ua).unwrap_err().kind,
                Kind::NoIdentity,
                "{host:?}"
            );
            assert!(check_identity(host, &Identity::System).is_ok());
        }
        assert!(check_identity(Host::AppService, &Identity::ObjectId("x".into())).is_ok());
        assert!(check_identity(Host::AzureMl, &Identity::ObjectId("x".into())).is_err());
    }

    #[test]
    fn error_texts_of_every_shape_are_read() {
        let reply = |body: &str| Reply {
            status: 400,
            headers: vec![],
            body: body.as_bytes().to_vec(),
            gave_up: None,
        };
        assert_eq!(
            error_text(&reply(
                r#"{"error":{"correlationId":"x","code":"SecretHeaderNotFound","message":"Secret is not found in the request headers."}}"#
            )),
            "SecretHeaderNotFound: Secret is not found in the request headers."
        );
        assert_eq!(
            error_text(&reply(
                r#"{"statusCode":500,"message":"An unexpected error occured while fetching the AAD Token."}"#
            )),
            "An unexpected error occured while fetching the AAD Token."
        );
        assert_eq!(
            error_text(&reply(
                r#"{"error":"invalid_scope","error_description":"AADSTS70011: bad"}"#
            )),
            "invalid_scope: AADSTS70011: bad"
        );
        assert_eq!(error_text(&reply("400 Bad Request\n")), "400 Bad Request");
    }
}
