//! Service Fabric's managed identity token service: HTTPS to `IDENTITY_ENDPOINT`, whose
//! self-signed certificate is trusted only by its thumbprint (`IDENTITY_SERVER_THUMBPRINT`), the
//! secret `IDENTITY_HEADER` in `Secret`, api-version 2019-07-01-preview (protocol.md § 5.5). The
//! application manifest picks the identity.

use super::{Ask, Guarded, Host, IdentityHost, Vars, get_token};
use crate::error::{Error, Result};
use crate::http::Service;
use crate::http::tls::Pin;
use crate::identity::Selectors;
use crate::token::Token;

const WHY_NOT: &str =
    "Service Fabric picks the identity in the application manifest, not at run time";

#[derive(Debug)]
pub struct ServiceFabric {
    host: Guarded,
    pin: Pin,
}

impl ServiceFabric {
    pub fn from_env(vars: &Vars) -> Result<ServiceFabric> {
        let host = Guarded::from_env(vars, "IDENTITY_ENDPOINT", "IDENTITY_HEADER")?;
        if !host.endpoint.https {
            return Err(Error::usage(
                "IDENTITY_ENDPOINT: Service Fabric's identity endpoint must be https",
            ));
        }
        let pin = Pin::parse(&vars.need("IDENTITY_SERVER_THUMBPRINT")?)
            .map_err(|e| Error::usage(format!("IDENTITY_SERVER_THUMBPRINT: {e}")))?;
        Ok(ServiceFabric { host, pin })
    }
}

impl IdentityHost for ServiceFabric {
    fn token(&self, ask: &Ask) -> Result<Token> {
        super::selector(Host::ServiceFabric, ask.identity, &Selectors::NONE, WHY_NOT)?;
        let headers = self.host.headers("Secret", false);
        let service = Service::Pinned("Service Fabric", &self.pin);
        let api = "2019-07-01-preview";
        get_token(
            ask,
            Host::ServiceFabric,
            service,
            &self.host.endpoint,
            api,
            None,
            headers,
        )
    }
}
