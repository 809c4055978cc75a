//! AKS workload identity: the projected service-account token in `AZURE_FEDERATED_TOKEN_FILE`
//! (read afresh each time, because it rotates) is exchanged at Entra ID for an access token of
//! the identity in `AZURE_CLIENT_ID`, in the tenant `AZURE_TENANT_ID` (protocol.md § 5.7);
//! with AKS identity binding, through the cluster's token proxy ([`super::token_proxy`]).

use std::path::PathBuf;

use super::token_proxy::TokenProxy;
use super::{Ask, Host, IdentityHost, Vars, fetch};
use crate::answer::Answer;
use crate::arm::Url;
use crate::error::{Error, Kind, Result};
use crate::files::{Links, read_regular};
use crate::http::{Request, Service};
use crate::identity::{Identity, Selectors};
use crate::secret::Secret;
use crate::text::{echo, percent_encode};
use crate::token::Token;

/// The federated credential's client id is the one identity this host can act as; a
/// `--client-id` names another identity with a federated credential for the same account.
const SELECTORS: Selectors = Selectors {
    client_id: Some("client_id"),
    ..Selectors::NONE
};
const WHY_NOT: &str = "workload identity acts as the identity in AZURE_CLIENT_ID";
/// A Kubernetes service-account token is about a kilobyte; anything near this is not one.
const MAX_ASSERTION_BYTES: u64 = 64 << 10;

#[derive(Debug)]
pub struct Workload {
    token_file: PathBuf,
    client_id: String,
    tenant_id: String,
    authority: Option<Url>,
    proxy: Option<TokenProxy>,
}

impl Workload {
    pub fn from_env(vars: &Vars) -> Result<Workload> {
        Ok(Workload {
            token_file: PathBuf::from(vars.need("AZURE_FEDERATED_TOKEN_FILE")?),
            client_id: vars.need("AZURE_CLIENT_ID")?,
            tenant_id: tenant(&vars.need("AZURE_TENANT_ID")?)?,
            authority: match vars.env.get("AZURE_AUTHORITY_HOST") {
                Some(_) => Some(authority(vars.url("AZURE_AUTHORITY_HOST", None)?)?),
                None => None,
            },
            proxy: TokenProxy::from_env(vars)?,
        })
    }

    fn assertion(&self) -> Result<Secret> {
        let bytes =
            read_regular(&self.token_file, MAX_ASSERTION_BYTES, Links::Follow).map_err(|why| {
                Error::new(
                    Kind::NoIdentity,
                    format!(
                        "workload identity: cannot read AZURE_FEDERATED_TOKEN_FILE '{}': {}",
                        echo(&self.token_file.to_string_lossy()),
                        why.describe(MAX_ASSERTION_BYTES)
                    ),
                )
            })?;
        let assertion = String::from_utf8_lossy(&bytes).trim().to_string();
        if assertion.is_empty() {
            return Err(Error::new(
                Kind::NoIdentity,
                format!(
                    "workload identity: AZURE_FEDERATED_TOKEN_FILE '{}' is empty; nothing was sent",
                    echo(&self.token_file.to_string_lossy())
                ),
            )
            .with_hint("the service account token is not projected (yet): check the pod's azure.workload.identity/use label and its service account"));
        }
        Ok(Secret::new(assertion))
    }
}

/// Entra ID gets the federated assertion and hands out a token: https, or plain http only to this
/// machine (an emulator).
fn authority(url: Url) -> Result<Url> {
    if url.https || crate::http::endpoint::is_loopback_host(&url.host) {
        return Ok(url);
    }
    Err(Error::usage(format!(
        "AZURE_AUTHORITY_HOST: '{}' is plain http on a host that is not this machine; the \
         federated token and the new token would travel in clear text, so it must be https",
        echo(&url.to_url())
    )))
}

/// A tenant id goes into a URL path: a GUID or a domain name, nothing else.
fn tenant(text: &str) -> Result<String> {
    crate::text::dotted_word(text, 256, "AZURE_TENANT_ID", "a tenant id or domain")
        .map_err(Error::usage)
}

impl IdentityHost for Workload {
    fn token(&self, ask: &Ask) -> Result<Token> {
        super::selector(Host::Workload, ask.identity, &SELECTORS, WHY_NOT)?;
        let client_id = match ask.identity {
            Identity::ClientId {
                id,
                from_env: false,
            } => id.clone(),
            _ => self.client_id.clone(),
        };
        let authority = match &self.authority {
            Some(url) => url.clone(),
            None => Url::parse(ask.cloud.authority).map_err(Error::failed)?,
        };
        let assertion = self.assertion()?;
        // v2 scopes are `<resource>/.default`; a trailing slash on the resource is dropped first,
        // so `https://management.azure.com/` asks for `https://management.azure.com/.default`.
        let scope = format!("{}/.default", ask.resource.trim_end_matches('/'));
        let form = [
            ("client_id", client_id.as_str()),
            ("scope", scope.as_str()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion.expose()),
            ("grant_type", "client_credentials"),
        ];
        let body = form
            .iter()
            .map(|(k, v)| format!("{k}={}", percent_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let path = format!("/{}/oauth2/v2.0/token", percent_encode(&self.tenant_id));
        let proxy_tls = match &self.proxy {
            Some(proxy) => Some(proxy.tls(ask.http)?),
            None => None,
        };
        let (service, url) = match (&self.proxy, &proxy_tls) {
            (Some(proxy), Some(tls)) => (Service::TokenProxy(tls), proxy.url(&path)),
            _ => (
                Service::Entra,
                format!("{}{path}", authority.to_url().trim_end_matches('/')),
            ),
        };
        let request = Request {
            service,
            method: "POST",
            url,
            what: super::what(Host::Workload, ask.resource, ask.identity),
            headers: vec![("Content-Type", "application/x-www-form-urlencoded".into())],
            bearer: None,
            body: Some(body.into_bytes()),
        };
        // Entra's v2 answer names neither the audience nor the identity: armi knows both.
        let mut token = fetch(ask, Host::Workload, request, &meaning)?;
        token
            .resource
            .get_or_insert_with(|| ask.resource.to_string());
        token.client_id.get_or_insert(client_id);
        Ok(token)
    }
}

/// Entra ID's refusals of a federated token.
fn meaning(a: &Answer) -> Option<(Kind, String)> {
    matches!(a.status, 400 | 401).then(|| {
        (
            Kind::Denied,
            "Entra ID refused the federated token: check the federated credential (issuer, subject) \
             and AZURE_CLIENT_ID / AZURE_TENANT_ID"
                .to_string(),
        )
    })
}
