//! What a token says about who holds it: the claims in its payload, decoded locally. The
//! signature is not checked (armi is not the audience; the service is) and the token itself is
//! never shown: only named claims leave this module.

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::identity::Identity;
use crate::text::clean;
use crate::time::rfc3339;

/// The claims of an access token.
#[derive(Debug, Clone)]
pub struct Claims(Map<String, Value>);

impl Claims {
    /// Decodes the payload (the second of the three dot-separated parts).
    pub fn decode(token: &str) -> Result<Claims> {
        let bad = |why: &str| {
            Error::failed(format!(
                "the token is not a JWT whose claims can be read: {why}"
            ))
        };
        let mut parts = token.split('.');
        let (Some(_header), Some(payload), Some(_signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("it does not have three parts"));
        };
        let bytes = base64url(payload).ok_or_else(|| bad("the payload is not base64url"))?;
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(Claims(map)),
            _ => Err(bad("the payload is not a JSON object")),
        }
    }

    fn text(&self, name: &str) -> Option<String> {
        self.0.get(name).and_then(Value::as_str).map(clean)
    }

    fn number(&self, name: &str) -> Option<u64> {
        let v = self.0.get(name)?;
        v.as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    }

    /// The principal's object id (`oid`).
    pub fn object_id(&self) -> Option<String> {
        self.text("oid")
    }

    /// The application (client) id: `appid` in v1 tokens, `azp` in v2.
    pub fn client_id(&self) -> Option<String> {
        self.text("appid").or_else(|| self.text("azp"))
    }

    pub fn tenant_id(&self) -> Option<String> {
        self.text("tid")
    }

    /// The managed identity's ARM resource id (`xms_mirid`), when the token carries it.
    pub fn resource_id(&self) -> Option<String> {
        self.text("xms_mirid")
    }

    /// `aud`: a string, or the first of a list.
    pub fn audience(&self) -> Option<String> {
        match self.0.get("aud")? {
            Value::String(s) => Some(clean(s)),
            Value::Array(items) => items.first().and_then(Value::as_str).map(clean),
            _ => None,
        }
    }

    pub fn expires(&self) -> Option<u64> {
        self.number("exp")
    }

    pub fn issued(&self) -> Option<u64> {
        self.number("iat")
    }

    /// What kind of principal: a VM's or resource's own identity, a user-assigned one, a user
    /// (Cloud Shell), or an application (workload identity).
    pub fn kind(&self) -> &'static str {
        if self.text("idtyp").as_deref() == Some("user") || self.text("upn").is_some() {
            return "user";
        }
        match self.resource_id() {
            Some(id)
                if id
                    .to_ascii_lowercase()
                    .contains("/microsoft.managedidentity/userassignedidentities/") =>
            {
                "user-assigned"
            }
            Some(_) => "system-assigned",
            None => "application",
        }
    }

    /// The claims `armi whoami` shows, in a fixed order.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        let mut put = |k: &str, v: Option<String>| {
            out.insert(k.to_string(), v.map(Value::String).unwrap_or(Value::Null));
        };
        put("kind", Some(self.kind().to_string()));
        put("object_id", self.object_id());
        put("client_id", self.client_id());
        put("tenant_id", self.tenant_id());
        put("resource_id", self.resource_id());
        put("user", self.text("upn"));
        put("audience", self.audience());
        put("issued_at", self.issued().map(rfc3339));
        put("expires_at", self.expires().map(rfc3339));
        Value::Object(out)
    }

    /// Whether the token is for the identity that was asked for; `Err` says how it differs.
    pub fn check(&self, identity: &Identity) -> std::result::Result<(), String> {
        let same =
            |claim: Option<String>, want: &str| claim.is_some_and(|c| c.eq_ignore_ascii_case(want));
        let (ok, asked, got) = match identity {
            Identity::System => return Ok(()),
            Identity::ClientId { id, .. } => (
                same(self.client_id(), id),
                format!("client id {id}"),
                self.client_id(),
            ),
            Identity::ObjectId(id) => (
                same(self.object_id(), id),
                format!("object id {id}"),
                self.object_id(),
            ),
            Identity::ResourceId(id) => (
                same(self.resource_id(), id),
                format!("resource id {id}"),
                self.resource_id(),
            ),
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "the token is not for the {asked}: it carries {}",
                got.unwrap_or_else(|| "no such claim".into())
            ))
        }
    }
}

/// Decodes base64url without padding (JWT segments); padding is tolerated.
fn base64url(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut buffer = 0u32;
    let mut bits = 0;
    for c in text.bytes() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(bytes: &[u8]) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b))
                << (8 * (3 - chunk.len()));
            for i in 0..=chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    }

    fn token(payload: &str) -> String {
        format!(
            "{}.{}.c2ln",
            encode(br#"{"typ":"JWT","alg":"RS256"}"#),
            encode(payload.as_bytes())
        )
    }

    #[test]
    fn claims_of_a_managed_identity_token_are_read() {
        let c = Claims::decode(&token(
            r#"{"aud":"https://management.azure.com/","oid":"0f1e","appid":"6a1b","tid":"72f9","iat":1700000000,"exp":1700086400,"xms_mirid":"/subscriptions/s/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-1"}"#,
        ))
        .unwrap();
        assert_eq!(c.kind(), "user-assigned");
        assert_eq!(c.client_id().as_deref(), Some("6a1b"));
        assert_eq!(c.to_json()["expires_at"], "2023-11-15T22:13:20Z");
        assert!(
            c.check(&Identity::ClientId {
                id: "6A1B".into(),
                from_env: false
            })
            .is_ok()
        );
        assert!(
            c.check(&Identity::ObjectId("other".into()))
                .unwrap_err()
                .contains("0f1e")
        );
    }

    #[test]
    fn v2_and_user_tokens_are_recognised() {
        let c = Claims::decode(&token(
            r#"{"aud":["api://x"],"azp":"c","upn":"a@b.c","idtyp":"user"}"#,
        ))
        .unwrap();
        assert_eq!(c.kind(), "user");
        assert_eq!(c.client_id().as_deref(), Some("c"));
        assert_eq!(c.audience().as_deref(), Some("api://x"));
    }

    #[test]
    fn hostile_tokens_are_errors_not_panics() {
        for bad in [
            "",
            "a",
            "a.b",
            "a.b.c.d",
            "a.!!!.c",
            &token("[1,2]"),
            &token("not json"),
            "..",
            "a..c",
        ] {
            assert!(Claims::decode(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn base64url_round_trips_every_length() {
        let data: Vec<u8> = (0..=255u8).collect();
        for n in 0..data.len() {
            assert_eq!(base64url(&encode(&data[..n])).unwrap(), &data[..n]);
        }
    }
}
