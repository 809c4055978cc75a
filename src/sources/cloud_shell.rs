//! Cloud Shell: `MSI_ENDPOINT` (default `http://localhost:50342/oauth2/token`) hands out the
//! signed-in user's tokens, asked for with a form POST (protocol.md § 5.4). There is no managed
//! identity to choose.

use super::{Ask, Host, IdentityHost, Vars, fetch, no_meaning};
use crate::arm::Url;
use crate::error::Result;
use crate::http::{Request, Service};
use crate::identity::Selectors;
use crate::text::percent_encode;
use crate::token::Token;

const DEFAULT_ENDPOINT: &str = "http://localhost:50342/oauth2/token";
const WHY_NOT: &str = "Cloud Shell hands out the signed-in user's token, not a managed identity's";

#[derive(Debug)]
pub struct CloudShell {
    endpoint: Url,
}

impl CloudShell {
    pub fn from_env(vars: &Vars) -> Result<CloudShell> {
        Ok(CloudShell {
            endpoint: vars.url("MSI_ENDPOINT", Some(DEFAULT_ENDPOINT))?,
        })
    }
}

impl IdentityHost for CloudShell {
    fn token(&self, ask: &Ask) -> Result<Token> {
        super::selector(Host::CloudShell, ask.identity, &Selectors::NONE, WHY_NOT)?;
        let request = Request {
            service: Service::Local("Cloud Shell"),
            method: "POST",
            url: self.endpoint.to_url(),
            what: super::what(Host::CloudShell, ask.resource, ask.identity),
            headers: vec![
                ("Metadata", "true".into()),
                ("Content-Type", "application/x-www-form-urlencoded".into()),
            ],
            bearer: None,
            body: Some(format!("resource={}", percent_encode(ask.resource)).into_bytes()),
        };
        fetch(ask, Host::CloudShell, request, &no_meaning)
    }
}
