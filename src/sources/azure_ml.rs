//! Azure Machine Learning compute: `MSI_ENDPOINT` with the secret `MSI_SECRET` in `secret`,
//! api-version 2017-09-01, a user-assigned identity by client id only, spelled `clientid`
//! (protocol.md § 5.6).

use super::{Ask, Guarded, Host, IdentityHost, Vars, get_token};
use crate::error::Result;
use crate::http::Service;
use crate::identity::Selectors;
use crate::token::Token;

const SELECTORS: Selectors = Selectors {
    client_id: Some("clientid"),
    ..Selectors::NONE
};
const WHY_NOT: &str = "Azure ML selects a user-assigned identity by client id only";

#[derive(Debug)]
pub struct AzureMl(Guarded);

impl AzureMl {
    pub fn from_env(vars: &Vars) -> Result<AzureMl> {
        Guarded::from_env(vars, "MSI_ENDPOINT", "MSI_SECRET").map(AzureMl)
    }
}

impl IdentityHost for AzureMl {
    fn token(&self, ask: &Ask) -> Result<Token> {
        let selector = super::selector(Host::AzureMl, ask.identity, &SELECTORS, WHY_NOT)?;
        let headers = self.0.headers("secret", true);
        let service = Service::Local("Azure ML");
        get_token(
            ask,
            Host::AzureMl,
            service,
            &self.0.endpoint,
            "2017-09-01",
            selector,
            headers,
        )
    }
}
