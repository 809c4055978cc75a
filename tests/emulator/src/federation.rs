//! AKS workload identity's side of the federation: the projected service-account tokens the
//! kubelet writes to `AZURE_FEDERATED_TOKEN_FILE`, which Entra ID accepts as client
//! assertions for the identity whose federated credential names their issuer and subject.
//! The emulator signs nothing, so Entra accepts only the tokens remembered here.

use std::sync::Mutex;

use serde_json::{Value, json};

use crate::encoding::{base64url, epoch_now, unbase64};
use crate::ids::{random_bytes, random_guid, stable_guid};
use crate::scenario::Scenario;

/// The audience Entra ID requires of federated assertions.
pub const AUDIENCE: &str = "api://AzureADTokenExchange";
/// The service account the pod runs as: `default/armi`.
pub const SUBJECT: &str = "system:serviceaccount:default:armi";
/// How long the kubelet makes projected tokens live (the workload identity webhook's
/// default `azure.workload.identity/service-account-token-expiration`).
const LIFETIME_SECS: u64 = 3600;

/// What Entra ID checks of an assertion.
#[derive(Clone, Debug)]
pub struct Assertion {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub nbf: u64,
    pub exp: u64,
}

/// Every service-account token written so far.
#[derive(Default)]
pub struct Federation {
    written: Mutex<Vec<(String, Assertion)>>,
}

impl Federation {
    /// A new projected token for the scenario's cluster, valid now or expired an hour ago.
    pub fn mint(&self, scenario: &Scenario, expired: bool) -> String {
        let now = epoch_now();
        let iat = if expired {
            now - 2 * LIFETIME_SECS
        } else {
            now
        };
        let assertion = Assertion {
            iss: issuer(scenario),
            sub: SUBJECT.into(),
            aud: AUDIENCE.into(),
            nbf: iat,
            exp: iat + LIFETIME_SECS,
        };
        // The claims of a real projected token, `aud` an array as the API server writes it.
        let claims = json!({
            "aud": [assertion.aud],
            "exp": assertion.exp,
            "iat": iat,
            "iss": assertion.iss,
            "kubernetes.io": {
                "namespace": "default",
                "pod": {"name": "armi-7d9c5b8f6-x2k4q", "uid": random_guid()},
                "serviceaccount": {"name": "armi", "uid": stable_guid("armi-serviceaccount")},
            },
            "nbf": assertion.nbf,
            "sub": assertion.sub,
        });
        let mut kid = [0u8; 32];
        random_bytes(&mut kid);
        let header = json!({"alg": "RS256", "kid": base64url(&kid)});
        let mut signature = [0u8; 256];
        random_bytes(&mut signature);
        let token = format!(
            "{}.{}.{}",
            base64url(header.to_string().as_bytes()),
            base64url(claims.to_string().as_bytes()),
            base64url(&signature)
        );
        self.lock().push((token.clone(), assertion));
        token
    }

    /// The assertion behind a token this emulator wrote.
    pub fn lookup(&self, token: &str) -> Option<Assertion> {
        self.lock()
            .iter()
            .find(|(written, _)| written == token)
            .map(|(_, assertion)| assertion.clone())
    }

    // A poisoned lock still holds whole entries.
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(String, Assertion)>> {
        self.written.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The cluster's OIDC issuer URL, in AKS's shape:
/// `https://<region>.oic.prod-aks.azure.com/<tenant>/<cluster guid>/`.
pub fn issuer(scenario: &Scenario) -> String {
    format!(
        "https://{}.oic.prod-aks.azure.com/{}/{}/",
        scenario.location,
        scenario.tenant_id,
        stable_guid(&format!("aks-issuer:{}", scenario.subscription_id))
    )
}

/// The `iss`, `sub` and `aud` of any JWT-shaped token (for Entra's error messages about
/// assertions it does not know); `None` if it is not a JWT.
pub fn peek(token: &str) -> Option<(String, String, String)> {
    let mut parts = token.split('.');
    let (Some(_), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let standard = payload.replace('-', "+").replace('_', "/");
    let claims: Value = serde_json::from_slice(&unbase64(&standard)?).ok()?;
    let text = |key: &str| match &claims[key] {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.first().and_then(Value::as_str).unwrap_or("").into(),
        _ => String::new(),
    };
    Some((text("iss"), text("sub"), text("aud")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_tokens_are_jwts_that_are_remembered() {
        let scenario = Scenario::default();
        let federation = Federation::default();
        let token = federation.mint(&scenario, false);
        let (iss, sub, aud) = peek(&token).expect("a JWT");
        assert_eq!(iss, issuer(&scenario));
        assert_eq!(sub, SUBJECT);
        assert_eq!(aud, AUDIENCE);
        let remembered = federation.lookup(&token).expect("remembered");
        assert!(remembered.exp > epoch_now());
        let expired = federation.mint(&scenario, true);
        assert!(federation.lookup(&expired).expect("remembered").exp < epoch_now());
        assert!(federation.lookup("a.b.c").is_none());
        assert!(peek("not a jwt").is_none());
    }
}
