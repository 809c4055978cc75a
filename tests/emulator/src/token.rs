//! Access tokens: IMDS and the other identity hosts mint them, ARM checks them. A token is
//! valid for ARM only if this emulator issued it, so tokens are remembered with their claims
//! instead of being signed.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::{Value, json};

use crate::encoding::{base64url, epoch_now};
use crate::ids::{random_below, random_bytes};
use crate::scenario::Scenario;

/// The managed identity a token is for.
#[derive(Clone, Debug)]
pub struct Identity {
    pub object_id: String,
    pub client_id: String,
    /// `xms_mirid`: the VM's id for the system identity, the identity's own id for a user one.
    pub resource_id: String,
}

/// One token to mint: for whom, for what, and how the host came by it.
pub struct Order<'a> {
    pub tenant: &'a str,
    pub identity: &'a Identity,
    /// The audience, byte for byte as requested.
    pub resource: &'a str,
    pub lifetime: u64,
    /// Handed out from the host's cache, as managed-identity hosts do: issued a while ago, so
    /// `expires_in` is a little below `lifetime`. Entra ID answers with a fresh one.
    pub cached: bool,
    /// The signed-in user's UPN for a delegated user token (Cloud Shell); `None` for the
    /// application token of a managed or workload identity.
    pub upn: Option<&'a str>,
}

/// What ARM needs to know about a token it is shown.
#[derive(Clone, Debug)]
pub struct Claims {
    pub aud: String,
    pub oid: String,
    pub appid: String,
    pub exp: u64,
}

/// A freshly minted token and the timing fields of the IMDS answer that carries it.
pub struct Minted {
    pub access_token: String,
    pub expires_in: u64,
    pub expires_on: u64,
    pub not_before: u64,
    pub ext_expires_in: u64,
}

/// Skew AAD puts between `nbf` and the moment of issue.
const CLOCK_SKEW_SECS: u64 = 300;

/// Every token issued, in order, and looked up by value (a storm shows ARM thousands of
/// them).
#[derive(Default)]
pub struct TokenBook {
    issued: Mutex<Issued>,
}

#[derive(Default)]
struct Issued {
    in_order: Vec<String>,
    claims: HashMap<String, Claims>,
}

impl TokenBook {
    /// Mints a managed identity's token for `identity` with audience `resource` (byte for byte
    /// as requested), as IMDS hands it out of its cache: the scenario's tenant and lifetime.
    pub fn mint(&self, scenario: &Scenario, identity: &Identity, resource: &str) -> Minted {
        self.issue(&Order {
            tenant: &scenario.tenant_id,
            identity,
            resource,
            lifetime: scenario.token_lifetime_secs,
            cached: true,
            upn: None,
        })
    }

    /// Mints the token `order` describes and remembers it for ARM.
    pub fn issue(&self, order: &Order) -> Minted {
        let (identity, resource, lifetime) = (order.identity, order.resource, order.lifetime);
        let now = epoch_now();
        let age = if order.cached {
            random_below(lifetime.min(3000) / 10 + 1)
        } else {
            0
        };
        let issued = now - age;
        let nbf = issued.saturating_sub(CLOCK_SKEW_SECS);
        let exp = issued + lifetime;
        let claims = claims(order, nbf, exp);
        let header = json!({"typ": "JWT", "alg": "RS256"});
        let access_token = format!(
            "{}.{}.{}",
            base64url(header.to_string().as_bytes()),
            base64url(claims.to_string().as_bytes()),
            random_segment(32)
        );
        let remembered = Claims {
            aud: resource.to_string(),
            oid: identity.object_id.clone(),
            appid: identity.client_id.clone(),
            exp,
        };
        let mut issued = self.lock();
        issued.in_order.push(access_token.clone());
        issued.claims.insert(access_token.clone(), remembered);
        drop(issued);
        Minted {
            access_token,
            expires_in: exp.saturating_sub(now),
            expires_on: exp,
            not_before: nbf,
            ext_expires_in: lifetime,
        }
    }

    /// The claims of a token this emulator issued.
    pub fn lookup(&self, token: &str) -> Option<Claims> {
        self.lock().claims.get(token).cloned()
    }

    pub fn all(&self) -> Vec<String> {
        self.lock().in_order.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Issued> {
        self.issued.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A v1 access token's claims, as Entra ID writes them for an application (managed or
/// workload identity) or for a signed-in user.
fn claims(order: &Order, nbf: u64, exp: u64) -> Value {
    let (tenant, identity) = (order.tenant, order.identity);
    let mut claims = json!({
        "aud": order.resource,
        "iss": format!("https://sts.windows.net/{tenant}/"),
        "iat": nbf,
        "nbf": nbf,
        "exp": exp,
        "aio": random_segment(48),
    });
    let specific = match order.upn {
        None => json!({
            "appid": identity.client_id,
            "appidacr": "2",
            "idp": format!("https://sts.windows.net/{tenant}/"),
            "idtyp": "app",
            "oid": identity.object_id,
            "rh": random_segment(36),
            "sub": identity.object_id,
        }),
        // A delegated token names the user, the public client that signed them in, and the
        // delegated scope; `sub` is pairwise, so not the object id.
        Some(upn) => json!({
            "acr": "1",
            "amr": ["pwd", "mfa"],
            "appid": identity.client_id,
            "appidacr": "0",
            "idtyp": "user",
            "name": upn.split('@').next().unwrap_or(upn),
            "oid": identity.object_id,
            "rh": random_segment(36),
            "scp": "user_impersonation",
            "sub": random_segment(32),
            "unique_name": upn,
            "upn": upn,
        }),
    };
    let tail = json!({
        "tid": tenant,
        "uti": random_segment(16),
        "ver": "1.0",
    });
    for part in [specific, tail] {
        if let (Some(all), Value::Object(more)) = (claims.as_object_mut(), part) {
            all.extend(more);
        }
    }
    // Only managed identities carry the id of their Azure resource.
    if !identity.resource_id.is_empty() && order.upn.is_none() {
        claims["xms_mirid"] = identity.resource_id.clone().into();
    }
    claims
}

fn random_segment(len_bytes: usize) -> String {
    let mut bytes = vec![0u8; len_bytes];
    random_bytes(&mut bytes);
    base64url(&bytes)
}
