//! App Service and Azure Functions: `IDENTITY_ENDPOINT` on the sandbox's loopback, the secret
//! `IDENTITY_HEADER` in `X-IDENTITY-HEADER`, api-version 2019-08-01 (protocol.md § 5.2).

use super::{Ask, Guarded, Host, IdentityHost, Vars, get_token};
use crate::error::Result;
use crate::http::Service;
use crate::identity::Selectors;
use crate::token::Token;

/// App Service's names for a user-assigned identity (2019-08-01).
const SELECTORS: Selectors = Selectors {
    client_id: Some("client_id"),
    object_id: Some("principal_id"),
    resource_id: Some("mi_res_id"),
};

#[derive(Debug)]
pub struct AppService(Guarded);

impl AppService {
    pub fn from_env(vars: &Vars) -> Result<AppService> {
        Guarded::from_env(vars, "IDENTITY_ENDPOINT", "IDENTITY_HEADER").map(AppService)
    }
}

impl IdentityHost for AppService {
    fn token(&self, ask: &Ask) -> Result<Token> {
        let selector = super::selector(Host::AppService, ask.identity, &SELECTORS, "")?;
        let headers = self.0.headers("X-IDENTITY-HEADER", true);
        let service = Service::Local("App Service");
        get_token(
            ask,
            Host::AppService,
            service,
            &self.0.endpoint,
            "2019-08-01",
            selector,
            headers,
        )
    }
}
