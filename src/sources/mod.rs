//! Where a token comes from. On a VM it is IMDS; elsewhere the environment names another
//! identity host, detected in the order the Azure SDKs use (protocol.md § 5): Service Fabric,
//! App Service (and Functions), Azure Arc, Azure ML, Cloud Shell, AKS workload identity, else
//! IMDS. `--source` overrides the detection.
//!
//! One file per host holds how to ask it (its settings from the environment, its request, its
//! names for a user-assigned identity, its own error hints); what they share is here: detection,
//! the identity check before anything is sent, the request-and-parse step, and the error line.

pub mod app_service;
pub mod arc;
pub mod azure_ml;
pub mod cloud_shell;
pub mod imds;
pub mod service_fabric;
mod token_proxy;
pub mod workload;

use std::fmt;

use crate::answer::{self, Answer};
use crate::arm::Url;
use crate::cloud::Cloud;
use crate::env::Env;
use crate::error::{Error, Kind, Result};
use crate::http::{Endpoint, Http, Reply, Request};
use crate::identity::{Identity, Selectors};
use crate::secret::Secret;
use crate::text::echo;
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
    /// The `--source` values, for help and completions.
    pub const NAMES: [&'static str; 8] = [
        "auto",
        "imds",
        "arc",
        "appservice",
        "cloudshell",
        "servicefabric",
        "azureml",
        "workload",
    ];

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
                    echo(text),
                    Host::NAMES.join(", ")
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

/// What a token request needs, whichever host answers it.
pub struct Ask<'a> {
    pub http: &'a Http,
    pub resource: &'a str,
    pub identity: &'a Identity,
    pub cloud: &'a Cloud,
}

/// One identity host, configured from the environment.
pub trait IdentityHost: fmt::Debug {
    /// Gets a token for `ask.resource` as `ask.identity`.
    fn token(&self, ask: &Ask) -> Result<Token>;
}

/// The chosen identity host, with everything needed to ask it for a token.
#[derive(Debug)]
pub struct Source {
    pub host: Host,
    /// Why this host: for `-v`.
    pub why: String,
    config: Box<dyn IdentityHost>,
}

/// Finds the identity host from the environment (or takes the forced one) and reads its
/// settings. Bad or missing settings are exit 2: nothing has been sent yet.
pub fn detect(forced: Option<Host>, imds_endpoint: &Endpoint, env: &Env) -> Result<Source> {
    let (host, why) = match forced {
        Some(host) => (host, "--source".to_string()),
        None => detected(env),
    };
    let vars = Vars { host, env };
    let config: Box<dyn IdentityHost> = match host {
        Host::Imds => Box::new(imds::Imds::new(imds_endpoint.clone())),
        Host::Arc => Box::new(arc::Arc::from_env(&vars)?),
        Host::AppService => Box::new(app_service::AppService::from_env(&vars)?),
        Host::CloudShell => Box::new(cloud_shell::CloudShell::from_env(&vars)?),
        Host::ServiceFabric => Box::new(service_fabric::ServiceFabric::from_env(&vars)?),
        Host::AzureMl => Box::new(azure_ml::AzureMl::from_env(&vars)?),
        Host::Workload => Box::new(workload::Workload::from_env(&vars)?),
    };
    Ok(Source { host, why, config })
}

/// The host the environment names, and why.
fn detected(env: &Env) -> (Host, String) {
    let has = |name: &str| env.get(name).is_some();
    if has("IDENTITY_ENDPOINT") && has("IDENTITY_HEADER") && has("IDENTITY_SERVER_THUMBPRINT") {
        return (
            Host::ServiceFabric,
            "IDENTITY_ENDPOINT, IDENTITY_HEADER and IDENTITY_SERVER_THUMBPRINT are set".into(),
        );
    }
    if has("IDENTITY_ENDPOINT") && has("IDENTITY_HEADER") {
        return (
            Host::AppService,
            "IDENTITY_ENDPOINT and IDENTITY_HEADER are set".into(),
        );
    }
    if has("IDENTITY_ENDPOINT") && has("IMDS_ENDPOINT") {
        return (
            Host::Arc,
            "IDENTITY_ENDPOINT and IMDS_ENDPOINT are set".into(),
        );
    }
    if let Some(himds) = arc::HIMDS_PATHS.iter().find(|p| env.exists(p)) {
        return (Host::Arc, format!("the Arc agent is installed ({himds})"));
    }
    if has("MSI_ENDPOINT") && has("MSI_SECRET") {
        return (Host::AzureMl, "MSI_ENDPOINT and MSI_SECRET are set".into());
    }
    if has("MSI_ENDPOINT") {
        return (Host::CloudShell, "MSI_ENDPOINT is set".into());
    }
    if env
        .get("AZUREPS_HOST_ENVIRONMENT")
        .is_some_and(|v| v.starts_with("cloud-shell"))
    {
        return (
            Host::CloudShell,
            "AZUREPS_HOST_ENVIRONMENT says cloud-shell".into(),
        );
    }
    if has("AZURE_FEDERATED_TOKEN_FILE") && has("AZURE_CLIENT_ID") && has("AZURE_TENANT_ID") {
        return (
            Host::Workload,
            "AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID and AZURE_TENANT_ID are set".into(),
        );
    }
    (
        Host::Imds,
        "no other identity host in the environment".into(),
    )
}

/// The environment as one host reads it: a missing variable names the host that needs it.
pub struct Vars<'a> {
    host: Host,
    pub env: &'a Env,
}

impl Vars<'_> {
    pub fn need(&self, name: &str) -> Result<String> {
        self.env.get(name).map(str::to_string).ok_or_else(|| {
            Error::usage(format!(
                "{} needs {name} in the environment",
                self.host.name()
            ))
            .with_hint("unset --source to detect the host, or set the variable")
        })
    }

    /// A URL from `name`, else `default`, else the variable is needed.
    pub fn url(&self, name: &str, default: Option<&str>) -> Result<Url> {
        let text = match (self.env.get(name), default) {
            (Some(v), _) => v.to_string(),
            (None, Some(d)) => d.to_string(),
            (None, None) => self.need(name)?,
        };
        Url::parse(text.trim()).map_err(|e| Error::usage(format!("{name}: '{}' {e}", echo(&text))))
    }
}

/// A host named by one variable and guarded by a secret in another (App Service, Azure ML,
/// Service Fabric): the secret goes in a header of the host's own name.
#[derive(Debug)]
pub struct Guarded {
    pub endpoint: Url,
    pub secret: Secret,
}

impl Guarded {
    pub fn from_env(vars: &Vars, endpoint: &str, secret: &str) -> Result<Guarded> {
        Ok(Guarded {
            endpoint: vars.url(endpoint, None)?,
            secret: Secret::new(vars.need(secret)?),
        })
    }

    /// The secret header, and `Metadata: true` where the host wants it.
    pub fn headers(&self, name: &'static str, metadata: bool) -> Vec<(&'static str, String)> {
        let mut headers = vec![(name, self.secret.expose().to_string())];
        if metadata {
            headers.push(("Metadata", "true".into()));
        }
        headers
    }
}

impl Source {
    /// Whether this host has IMDS's instance metadata (VMs do; the other hosts do not).
    pub fn has_instance_metadata(&self) -> bool {
        self.host == Host::Imds
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
        let asked_at = token::now();
        let token = self.config.token(&Ask {
            http,
            resource,
            identity,
            cloud,
        })?;
        let what = what(self.host, resource, identity);
        let token = token.fresh(asked_at).map_err(|e| Error {
            message: format!("{what}: {}", e.message),
            ..e
        })?;
        confirm(self.host, identity, &token).map_err(|e| Error {
            message: format!("{what}: {}", e.message),
            ..e
        })?;
        let same = |echoed: &str| echoed.trim_end_matches('/') == resource.trim_end_matches('/');
        if let Some(echoed) = token.resource.as_deref().filter(|r| !same(r)) {
            http.trace(&format!(
                "{} answered for resource '{}', not the '{resource}' asked for",
                self.host.name(),
                crate::text::clean(echoed)
            ));
        }
        Ok(token)
    }
}

/// Checks that a token is for the user-assigned identity asked for: by what the host's answer
/// echoes (`client_id`, `object_id`, `msi_res_id`), else by the token's claims (`appid`, `oid`,
/// `xms_mirid`). Older Arc agents ignore the selector and answer for the system-assigned
/// identity, so on Arc a token nothing confirms is refused too; elsewhere it is taken as it is.
fn confirm(host: Host, identity: &Identity, token: &Token) -> Result<()> {
    let (echoed, asked) = match identity {
        Identity::System => return Ok(()),
        Identity::ClientId { id, .. } => (&token.client_id, id),
        Identity::ObjectId(id) => (&token.object_id, id),
        Identity::ResourceId(id) => (&token.msi_res_id, id),
    };
    let not_asked = |why: String| {
        let hint = match host {
            Host::Arc => "the Arc agent is too old to choose a user-assigned identity and answered for the \
                          machine's system-assigned one: update the Connected Machine agent (azcmagent), or \
                          act as the system-assigned identity"
                .to_string(),
            _ => format!(
                "{} answered for another identity than the one asked for; check the id",
                host.name()
            ),
        };
        Error::new(Kind::NoIdentity, why).with_hint(hint)
    };
    if let Some(echoed) = echoed {
        return if echoed.eq_ignore_ascii_case(asked) {
            Ok(())
        } else {
            Err(not_asked(format!(
                "the answer is for '{}', not {}",
                crate::text::clean(echoed),
                identity.describe()
            )))
        };
    }
    match crate::claims::Claims::decode(token.access_token.expose()) {
        Ok(claims) => claims.check(identity).map_err(not_asked),
        Err(_) if host == Host::Arc => Err(not_asked(format!(
            "nothing in the answer confirms it is for {}",
            identity.describe()
        ))),
        Err(_) => Ok(()),
    }
}

/// The query parameter that selects `identity` on `host`, or the refusal before anything is
/// sent when the host cannot be asked for it (`why` says why).
pub fn selector<'a>(
    host: Host,
    identity: &'a Identity,
    names: &Selectors,
    why: &str,
) -> Result<Option<(&'static str, &'a str)>> {
    identity.select(names).map_err(|_| {
        let hint = match identity {
            Identity::ClientId { from_env: true, .. } => format!("{why}; unset AZURE_CLIENT_ID"),
            _ => why.to_string(),
        };
        Error::new(
            Kind::NoIdentity,
            format!("{}: cannot act as {}", host.name(), identity.describe()),
        )
        .with_hint(hint)
    })
}

/// "get a token for RESOURCE from HOST as IDENTITY"
pub fn what(host: Host, resource: &str, identity: &Identity) -> String {
    format!(
        "get a token for {resource} from {} as {}",
        host.name(),
        identity.describe()
    )
}

/// `url` with `query` appended (after `?` or `&`).
pub fn with_query(url: &Url, query: &str) -> String {
    let joiner = if url.rest.contains('?') { '&' } else { '?' };
    format!("{}{joiner}{query}", url.to_url())
}

/// The GET most hosts answer: `api-version`, `resource` and the identity's selector (checked by
/// [`selector`] before) in the query, the host's own headers.
pub fn get_token(
    ask: &Ask,
    host: Host,
    service: crate::http::Service,
    endpoint: &Url,
    api_version: &str,
    selector: Option<(&str, &str)>,
    headers: Vec<(&'static str, String)>,
) -> Result<Token> {
    let mut query = format!(
        "api-version={api_version}&resource={}",
        crate::text::percent_encode(ask.resource)
    );
    if let Some((key, id)) = selector {
        query.push_str(&format!("&{key}={}", crate::text::percent_encode(id)));
    }
    let request = Request {
        service,
        method: "GET",
        url: with_query(endpoint, &query),
        what: what(host, ask.resource, ask.identity),
        headers,
        bearer: None,
        body: None,
    };
    fetch(ask, host, request, &no_meaning)
}

/// The step every host ends with: send the request, then the token, or the error of the right
/// kind (`meaning` is the host's own table for what its refusals mean).
pub fn fetch(
    ask: &Ask,
    host: Host,
    request: Request,
    meaning: &dyn Fn(&Answer) -> Option<(Kind, String)>,
) -> Result<Token> {
    let requested_at = token::now();
    let reply = ask.http.send(&request)?;
    parse(
        host,
        &request.what,
        &reply,
        requested_at,
        ask.identity,
        meaning,
    )
}

/// A host's answer: the token, or an error of the right kind.
pub fn parse(
    host: Host,
    what: &str,
    reply: &Reply,
    requested_at: u64,
    identity: &Identity,
    meaning: &dyn Fn(&Answer) -> Option<(Kind, String)>,
) -> Result<Token> {
    if reply.status != 200 || reply.gave_up.is_some() {
        return Err(failure(host, what, reply, identity, meaning));
    }
    Token::parse(&reply.body, requested_at)
        .map_err(|e| Error::failed(format!("{what}: {}", e.message)))
}

/// Any identity host's refusal: the host's own table first, then what every host shares: 401/403
/// denied, an identity the host does not know is "no identity", the rest "failed".
pub fn failure(
    host: Host,
    what: &str,
    reply: &Reply,
    identity: &Identity,
    meaning: &dyn Fn(&Answer) -> Option<(Kind, String)>,
) -> Error {
    let retry = "the identity host kept failing; raise --timeout to wait longer";
    answer::error(what, reply, retry, |a| {
        if let Some((kind, hint)) = meaning(a) {
            return (kind, Some(hint));
        }
        let lower =
            format!("{} {}", a.code.as_deref().unwrap_or_default(), a.message).to_ascii_lowercase();
        match a.status {
            401 | 403 => (Kind::Denied, None),
            400 | 404 if lower.contains("identity") && !matches!(identity, Identity::System) => (
                Kind::NoIdentity,
                Some(format!(
                    "{} does not know {}",
                    host.name(),
                    identity.describe()
                )),
            ),
            400 | 404
                if lower.contains("identity not found")
                    || lower.contains("managedidentitynotfound") =>
            {
                (
                    Kind::NoIdentity,
                    Some(format!("{} has no managed identity enabled", host.name())),
                )
            }
            _ => (Kind::Failed, None),
        }
    })
}

/// No host-specific meanings: the shared table alone.
pub fn no_meaning(_: &Answer) -> Option<(Kind, String)> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn imds() -> Endpoint {
        Endpoint::parse("http://169.254.169.254").unwrap()
    }

    fn detect_with(vars: &[(&str, &str)], files: &[&str]) -> Result<Source> {
        let env = files
            .iter()
            .fold(Env::of(vars), |env, file| env.with_file(file));
        detect(None, &imds(), &env)
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
    fn blank_variables_do_not_select_a_host() {
        assert_eq!(
            host_of(&[("IDENTITY_ENDPOINT", " "), ("IDENTITY_HEADER", "h")]),
            Host::Imds
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
        let e = detect(Some(Host::AppService), &imds(), &Env::of(&[])).unwrap_err();
        assert_eq!(e.kind, Kind::Usage);
        assert!(e.message.contains("IDENTITY_ENDPOINT"), "{}", e.message);
    }

    #[test]
    fn bad_settings_are_usage_errors_naming_the_variable() {
        let sf_endpoint = "https://127.0.0.1:2377/metadata/identity/oauth2/token";
        let pin = "ab".repeat(20);
        type Vars<'a> = &'a [(&'a str, &'a str)];
        let cases: [(Vars, &str); 4] = [
            (
                &[
                    ("IDENTITY_ENDPOINT", sf_endpoint),
                    ("IDENTITY_HEADER", "h"),
                    ("IDENTITY_SERVER_THUMBPRINT", "not-hex"),
                ],
                "IDENTITY_SERVER_THUMBPRINT",
            ),
            (
                &[
                    ("IDENTITY_ENDPOINT", "http://127.0.0.1:2377/x"),
                    ("IDENTITY_HEADER", "h"),
                    ("IDENTITY_SERVER_THUMBPRINT", &pin),
                ],
                "IDENTITY_ENDPOINT",
            ),
            (
                &[
                    ("IDENTITY_ENDPOINT", "localhost:4141"),
                    ("IDENTITY_HEADER", "h"),
                ],
                "IDENTITY_ENDPOINT",
            ),
            (
                &[
                    ("AZURE_FEDERATED_TOKEN_FILE", "/f"),
                    ("AZURE_CLIENT_ID", "c"),
                    ("AZURE_TENANT_ID", "../../evil"),
                ],
                "AZURE_TENANT_ID",
            ),
        ];
        for (vars, named) in cases {
            let e = detect_with(vars, &[]).unwrap_err();
            assert_eq!(e.kind, Kind::Usage, "{vars:?}");
            assert!(e.message.starts_with(named), "{vars:?}: {}", e.message);
        }
    }

    #[test]
    fn a_sources_debug_shows_no_secret() {
        let app = [
            ("IDENTITY_ENDPOINT", "http://127.0.0.1:4141/msi/token"),
            ("IDENTITY_HEADER", "app-service-header-secret-value"),
        ];
        let ml = [
            ("MSI_ENDPOINT", "http://127.0.0.1:4142/token"),
            ("MSI_SECRET", "azure-ml-secret-value"),
        ];
        let sf = [
            ("IDENTITY_ENDPOINT", "https://127.0.0.1:2377/token"),
            ("IDENTITY_HEADER", "service-fabric-secret-value"),
            ("IDENTITY_SERVER_THUMBPRINT", &"ab".repeat(20)),
        ];
        for vars in [&app[..], &ml[..], &sf[..]] {
            let shown = format!("{:?}", detect_with(vars, &[]).unwrap());
            assert!(!shown.contains("secret-value"), "{shown}");
            assert!(shown.contains("<secret,"), "{shown}");
        }
    }

    #[test]
    fn an_unknown_identity_is_no_identity_and_the_rest_is_shared() {
        let reply = |status: u16, body: &str| Reply::new(status, body.as_bytes());
        let ua = Identity::ClientId {
            id: "6a1b7f0c-2d3e-4f50-8a9b-0c1d2e3f4a5b".into(),
            from_env: false,
        };
        let e = failure(
            Host::AppService,
            "get",
            &reply(
                400,
                r#"{"statusCode":400,"message":"Unable to load the proper Managed Identity."}"#,
            ),
            &ua,
            &no_meaning,
        );
        assert_eq!(e.kind, Kind::NoIdentity);
        let e = failure(Host::AppService, "get", &reply(403, "{}"), &ua, &no_meaning);
        assert_eq!(e.kind, Kind::Denied);
        let e = failure(
            Host::AppService,
            "get",
            &reply(500, "boom"),
            &ua,
            &no_meaning,
        );
        assert_eq!(e.message, "get: 500: boom");
    }
}
