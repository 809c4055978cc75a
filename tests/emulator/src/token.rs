//! Access tokens: IMDS mints them, ARM checks them. A token is valid for ARM only if this
//! emulator issued it, so tokens are remembered with their claims instead of being signed.

use std::sync::Mutex;

use serde_json::json;

use crate::encoding::{base64url, epoch_now};
use crate::ids::{random_below, random_bytes};

/// The managed identity a token is for.
#[derive(Clone, Debug)]
pub struct Identity {
    pub object_id: String,
    pub client_id: String,
    /// `xms_mirid`: the VM's id for the system identity, the identity's own id for a user one.
    pub resource_id: String,
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

/// Every token issued, in order.
#[derive(Default)]
pub struct TokenBook {
    issued: Mutex<Vec<(String, Claims)>>,
}

impl TokenBook {
    /// Mints a token for `identity` with audience `resource` (byte for byte as requested).
    pub fn mint(&self, tenant: &str, identity: &Identity, resource: &str, lifetime: u64) -> Minted {
        let now = epoch_now();
        // IMDS hands out cached tokens, so `expires_in` is a little below the full lifetime.
        let age = random_below(lifetime.min(3000) / 10 + 1);
        let issued = now - age;
        let nbf = issued.saturating_sub(CLOCK_SKEW_SECS);
        let exp = issued + lifetime;
        let claims = json!({
            "aud": resource,
            "iss": format!("https://sts.windows.net/{tenant}/"),
            "iat": nbf,
            "nbf": nbf,
            "exp": exp,
            "aio": random_segment(48),
            "appid": identity.client_id,
            "appidacr": "2",
            "idp": format!("https://sts.windows.net/{tenant}/"),
            "idtyp": "app",
            "oid": identity.object_id,
            "rh": random_segment(36),
            "sub": identity.object_id,
            "tid": tenant,
            "uti": random_segment(16),
            "ver": "1.0",
            "xms_mirid": identity.resource_id,
        });
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
        self.lock().push((access_token.clone(), remembered));
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
        self.lock()
            .iter()
            .find(|(issued, _)| issued == token)
            .map(|(_, claims)| claims.clone())
    }

    pub fn all(&self) -> Vec<String> {
        self.lock().iter().map(|(token, _)| token.clone()).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(String, Claims)>> {
        self.issued.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn random_segment(len_bytes: usize) -> String {
    let mut bytes = vec![0u8; len_bytes];
    random_bytes(&mut bytes);
    base64url(&bytes)
}
