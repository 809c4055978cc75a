//! Token responses from the identity hosts, parsed leniently and handed on in one normalised shape.
//!
//! The hosts agree on field names but not on types (protocol.md §1.2, §5): IMDS sends every field as a
//! string, Entra sends `expires_in` as a number and no `expires_on`, App Service sends `expires_on` as
//! epoch seconds in a string or, on the 2017-09-01 protocol, as a date whose format depends on the host's
//! OS. armi accepts all of them and prints `expires_on` as epoch seconds and `expires_at` as RFC 3339 UTC.
//!
//! Accepted `expires_on` forms (anything else falls back to `expires_in` + the time the request was sent):
//! - epoch seconds as a JSON number or a string of ASCII digits, integral floats included (`1586984735.0`);
//! - `1/16/2020 5:24:12 AM +00:00` (App Service on Windows: month/day/year, 12-hour clock);
//! - `06/20/2019 02:57:58 +00:00` (App Service on Linux: month/day/year, 24-hour clock);
//! - `2024-10-18T19:51:37.0000000+00:00` and RFC 3339 with `Z` or an offset and any fraction;
//! - `2006-01-02 15:04:05` (no zone: UTC).
//!
//! Offsets may be any `±HH:MM` (or `±HHMM`); a missing offset means UTC; fractions of a second are
//! dropped; a leap second `:60` counts as `:59`. Dates must lie in 1970–9999.
//!
//! Nothing here puts the token, or any other part of the response body, into an error message or into
//! `Debug` output: errors name the field and the JSON type it had, nothing more.

use serde_json::{Map, Value};

use crate::time::{MAX_EPOCH, parse_seconds};
pub use crate::time::{now, parse_expires_on, rfc3339};

use crate::error::{Error, Result};
use crate::secret::Secret;

/// A token as armi hands it on: normalised, whatever the identity host sent.
#[derive(Clone, Debug)]
pub struct Token {
    /// The bearer token itself.
    pub access_token: Secret,
    /// The scheme for the `Authorization` header; `Bearer` when the host left it out.
    pub token_type: String,
    /// The audience the host says it issued the token for, as echoed.
    pub resource: Option<String>,
    /// The client id of the identity the host used, when it says.
    pub client_id: Option<String>,
    /// The object id and resource id the host says it used (Azure Arc echoes the selector it
    /// honoured); not printed.
    pub object_id: Option<String>,
    pub msi_res_id: Option<String>,
    /// When the token expires, in epoch seconds.
    pub expires_on: u64,
}

impl Token {
    /// Parse an identity host's 200 body. `now` = epoch seconds when the request was sent (for expires_in fallback).
    ///
    /// Errors are kind Failed and say only which field is missing or invalid and what JSON type it had.
    pub fn parse(body: &[u8], now: u64) -> Result<Token> {
        let value = crate::json::parse(body).map_err(|e| not_json(&e))?;
        let fields = match value {
            Value::Object(fields) => fields,
            other => {
                return Err(invalid(format!(
                    "is {}, expected a JSON object",
                    type_name(&other)
                )));
            }
        };
        Ok(Token {
            access_token: access_token(fields.get("access_token"))?,
            token_type: token_type(fields.get("token_type"))?,
            resource: echoed(fields.get("resource")),
            client_id: echoed(fields.get("client_id")),
            object_id: echoed(fields.get("object_id")),
            msi_res_id: echoed(fields.get("msi_res_id"))
                .or_else(|| echoed(fields.get("mi_res_id"))),
            expires_on: expiry(&fields, now)?,
        })
    }

    /// The token, unless it expired before `asked_at` (epoch seconds): no use to anyone then. The
    /// host's clock, or armi's, is wrong, or the answer is not the host's.
    pub fn fresh(self, asked_at: u64) -> Result<Token> {
        if self.expires_on > asked_at {
            return Ok(self);
        }
        Err(invalid(format!(
            "has a token that expired at {}, before it was asked for ({}); check this machine's clock (date -u)",
            rfc3339(self.expires_on),
            rfc3339(asked_at)
        )))
    }

    /// RFC 3339 UTC, "2026-11-27T14:39:48Z"
    pub fn expires_at(&self) -> String {
        rfc3339(self.expires_on)
    }

    /// The normalised token as armi prints it: `access_token`, `token_type`, `resource`, `client_id`
    /// (`null` when the host did not say), `expires_on` (a number) and `expires_at`, in that order.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("access_token".into(), self.access_token.expose().into());
        out.insert("token_type".into(), self.token_type.clone().into());
        out.insert("resource".into(), self.resource.clone().into());
        out.insert("client_id".into(), self.client_id.clone().into());
        out.insert("expires_on".into(), self.expires_on.into());
        out.insert("expires_at".into(), self.expires_at().into());
        Value::Object(out)
    }
}

/// Checks a token's audience (`armi token RESOURCE`, `rest --resource`) before it is sent: an
/// https URL (plain http only on this machine), an `api://` application URI, or an application's
/// GUID (Azure DevOps is `499b84ac-1321-427f-aa17-267ca6975798`). `source` names where it came
/// from in the error.
pub fn check_audience(text: &str, source: &str) -> Result<()> {
    let refuse = |why: &str| Error::usage(format!("{source}: '{}' {why}", crate::text::echo(text)));
    if text.is_empty() {
        return Err(refuse(
            "is empty: give the API's URL, e.g. https://vault.azure.net",
        ));
    }
    if text.starts_with('-') {
        return Err(refuse("is not an audience but looks like a flag")
            .with_hint("flags go before --; after it, RESOURCE is the API's URL"));
    }
    if let Some(base) = text.trim_end_matches('/').strip_suffix("/.default") {
        return Err(refuse("is a v2 scope, not a resource")
            .with_hint(format!("drop /.default: {}", crate::text::echo(base))));
    }
    if crate::arm::is_guid(text) || (text.starts_with("api://") && text.len() > 6) {
        return Ok(());
    }
    let url = crate::arm::Url::parse(text).map_err(|e| {
        refuse(&format!(
            "{e}; an audience is the API's URL, e.g. https://vault.azure.net"
        ))
    })?;
    if url.rest.contains(['?', '#']) {
        return Err(refuse("has a query: an audience is the API's base URL"));
    }
    if !url.https && !crate::http::endpoint::is_loopback_host(&url.host) {
        return Err(refuse(
            "is plain http; a token goes only over https (http only on this machine)",
        ));
    }
    Ok(())
}

/// The error for a body that does not parse, built from the error's category and place only: serde
/// messages are safe today, but the body must never leak through one tomorrow.
fn not_json(refused: &crate::json::Refused) -> Error {
    let error = match refused {
        crate::json::Refused::Syntax(error) => error,
        too_large => return invalid(format!("is refused: {too_large}")),
    };
    if error.is_eof() {
        invalid("is not valid JSON: it ends early (truncated?)".to_string())
    } else {
        invalid(format!(
            "is not valid JSON (line {}, column {})",
            error.line(),
            error.column()
        ))
    }
}

fn invalid(what: String) -> Error {
    Error::failed(format!("token response {what}"))
}

fn access_token(field: Option<&Value>) -> Result<Secret> {
    let token = match field {
        Some(Value::String(token)) => token,
        Some(other) => return Err(wrong_type("access_token", other)),
        None => return Err(invalid("has no access_token".to_string())),
    };
    if token.is_empty() {
        return Err(invalid("has an empty access_token".to_string()));
    }
    if !is_b64token(token) {
        return Err(invalid(
            "has an access_token with characters a bearer token cannot hold (RFC 6750: letters, \
             digits, - . _ ~ + / and trailing =)"
                .to_string(),
        ));
    }
    if token.len() > MAX_TOKEN_BYTES {
        return Err(invalid(format!(
            "has an access_token of {} bytes, over the {MAX_TOKEN_BYTES} an HTTP header can carry",
            token.len()
        )));
    }
    Ok(Secret::new(token.as_str()))
}

/// The longest token armi accepts. Entra's tokens are a few kilobytes (about 8 KiB with many
/// group claims); ARM refuses request headers much past this.
const MAX_TOKEN_BYTES: usize = 16 << 10;

/// `Bearer`, the only token type armi sends (or none, which means it).
fn token_type(field: Option<&Value>) -> Result<String> {
    match field {
        None | Some(Value::Null) => Ok("Bearer".to_string()),
        Some(Value::String(kind)) if kind.is_empty() || kind.eq_ignore_ascii_case("bearer") => {
            Ok("Bearer".to_string())
        }
        // Named only when it looks like a scheme's name: the field could hold anything.
        Some(Value::String(kind))
            if kind.len() <= 16 && kind.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            Err(invalid(format!(
                "has token_type '{kind}', not Bearer: armi sends only bearer tokens"
            )))
        }
        Some(Value::String(_)) => Err(invalid(
            "has a token_type that is not Bearer: armi sends only bearer tokens".to_string(),
        )),
        Some(other) => Err(wrong_type("token_type", other)),
    }
}

/// RFC 6750 § 2.1: `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
/// Nothing else may reach an `Authorization` header, or a shell that evaluates `-o env`.
pub fn is_b64token(text: &str) -> bool {
    let body = text.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

/// An echo of the request (`resource`, `client_id`): informational, so anything but a string is ignored
/// rather than failing the whole token.
fn echoed(field: Option<&Value>) -> Option<String> {
    field.and_then(Value::as_str).map(str::to_string)
}

fn wrong_type(field: &str, value: &Value) -> Error {
    invalid(format!(
        "field {field} is {}, expected a string",
        type_name(value)
    ))
}

/// `expires_on` when it can be read, else `expires_in` counted from when the request was sent.
fn expiry(fields: &Map<String, Value>, now: u64) -> Result<u64> {
    let expires_on = fields.get("expires_on");
    if let Some(epoch) = expires_on.and_then(parse_expires_on) {
        return Ok(epoch);
    }
    let expires_in = fields.get("expires_in");
    let from_now = expires_in
        .and_then(parse_seconds)
        .and_then(|seconds| now.checked_add(seconds))
        .filter(|&epoch| epoch <= MAX_EPOCH);
    from_now.ok_or_else(|| {
        invalid(format!(
            "has no usable expiry: expires_on {}, and expires_in {}",
            describe(expires_on, "not epoch seconds or a known date"),
            describe(expires_in, "not a number of seconds"),
        ))
    })
}

/// How an unusable expiry field looked, without its value.
fn describe(field: Option<&Value>, problem: &str) -> String {
    match field {
        None => "is missing".to_string(),
        Some(Value::Null) => "is null".to_string(),
        Some(value) => format!("is {} that is {problem}", type_name(value)),
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;
    use serde_json::json;

    /// When the tests pretend the request was sent: 2026-11-27T14:39:48Z.
    const NOW: u64 = 1_795_790_388;

    fn token(body: &str) -> Token {
        match Token::parse(body.as_bytes(), NOW) {
            Ok(token) => token,
            Err(e) => panic!("should parse: {}", e.message),
        }
    }

    fn failure(body: &[u8]) -> String {
        match Token::parse(body, NOW) {
            Ok(token) => panic!("should fail, got {token:?}"),
            Err(e) => {
                assert_eq!(e.kind, Kind::Failed);
                assert!(e.message.starts_with("token response "), "{}", e.message);
                e.message
            }
        }
    }

    #[test]
    fn imds_docs_sample() {
        // imds/token-200-docs-how-to-use-vm-token.json
        let t = token(
            r#"{
  "access_token": "eyJ0eXAi...",
  "refresh_token": "",
  "expires_in": "3599",
  "expires_on": "1506484173",
  "not_before": "1506480273",
  "resource": "https://management.azure.com/",
  "token_type": "Bearer"
}"#,
        );
        assert_eq!(t.access_token.expose(), "eyJ0eXAi...");
        assert_eq!(t.token_type, "Bearer");
        assert_eq!(t.resource.as_deref(), Some("https://management.azure.com/"));
        assert_eq!(t.client_id, None);
        assert_eq!(t.expires_on, 1_506_484_173);
        assert_eq!(t.expires_at(), "2017-09-27T03:49:33Z");
    }

    #[test]
    fn imds_recording_system_assigned() {
        // imds/token-system-assigned.sdkpy-recording.json, the 200's ResponseBody.
        let t = token(
            r#"{
        "access_token": "access_token",
        "client_id": "fe83865b-495e-4ec7-9574-12b264882c9f",
        "expires_in": "86311",
        "expires_on": "1643312761",
        "ext_expires_in": "86399",
        "not_before": "1643226061",
        "resource": "https://management.azure.com",
        "token_type": "Bearer"
      }"#,
        );
        assert_eq!(t.access_token.expose(), "access_token");
        assert_eq!(
            t.client_id.as_deref(),
            Some("fe83865b-495e-4ec7-9574-12b264882c9f")
        );
        assert_eq!(t.resource.as_deref(), Some("https://management.azure.com"));
        assert_eq!(t.expires_on, 1_643_312_761);
    }

    #[test]
    fn imds_recordings_from_yaml() {
        // imds/token-400-missing-metadata-then-200.sdkpy-recording.yaml
        let t = token(
            r#"{"access_token": "redacted", "client_id": "e15dd129-090a-41d4-add5-bb4b16b2b1a9",
        "expires_in": "86104", "expires_on": "1619561325", "ext_expires_in": "86399",
        "not_before": "1619474625", "resource": "https://management.azure.com", "token_type":
        "Bearer"}"#,
        );
        assert_eq!(t.expires_on, 1_619_561_325);
        // imds/token-user-assigned-client_id.sdkpy-recording.yaml
        let t = token(
            r#"{"access_token": "redacted", "client_id": "client-id",
        "expires_in": "86400", "expires_on": "1619561622", "ext_expires_in": "86399",
        "not_before": "1619474922", "resource": "https://management.azure.com", "token_type":
        "Bearer"}"#,
        );
        assert_eq!(t.client_id.as_deref(), Some("client-id"));
        assert_eq!(t.expires_on, 1_619_561_622);
    }

    #[test]
    fn imds_swagger_example_without_token_type_defaults_to_bearer() {
        // imds/token-swagger-example-2018-02-01.json
        let t = token(
            r#"{
        "access_token": "dummytoken",
        "client_id": "be5947ed-3560-4afe-9504-59967a63f810",
        "expires_in": "3599",
        "expires_on": "1541705014",
        "ext_expires_in": "262800",
        "not_before": "1508961830",
        "resource": "https://va"
      }"#,
        );
        assert_eq!(t.token_type, "Bearer");
        assert_eq!(t.expires_on, 1_541_705_014);
    }

    #[test]
    fn app_service_epoch_string_samples() {
        // mi-hosts/appservice-2019-08-01-token-200-docs.http
        let t = token(
            r#"{
    "access_token": "eyJ0eXAi…",
    "expires_on": "1586984735",
    "resource": "https://vault.azure.net",
    "token_type": "Bearer",
    "client_id": "5E29463D-71DA-4FE0-8E69-999B57DB23B0"
}"#
            .replace('…', "...")
            .as_str(),
        );
        assert_eq!(t.expires_on, 1_586_984_735);
        // mi-hosts/appservice-2019-08-01-expires_on-epochstring.sdkpy-recording.yaml
        let t = token(
            r#"{"access_token": "redacted", "expires_on": "1646265298",
        "resource": "https://management.azure.com", "token_type": "Bearer", "client_id":
        "6d807b1c-2a6f-41a0-b428-d0e3a08382a0"}"#,
        );
        assert_eq!(t.expires_on, 1_646_265_298);
    }

    #[test]
    fn app_service_docs_sample_as_published_has_a_non_ascii_ellipsis_token() {
        // The docs sample's token ends in "…" (U+2026): not something a header can carry.
        let body = r#"{"access_token": "eyJ0eXAi…", "expires_on": "1586984735"}"#;
        let message = failure(body.as_bytes());
        assert!(message.contains("a bearer token cannot hold"), "{message}");
    }

    #[test]
    fn app_service_date_string_samples() {
        // mi-hosts/appservice-2019-08-01-system-assigned-expires_on-datestring.sdkpy-recording.yaml
        // 05/22/2021 17:14:33 +00:00 = 1621703673
        let t = token(
            r#"{"access_token": "redacted", "expires_on": "05/22/2021 17:14:33 +00:00",
        "resource": "https://management.azure.com", "token_type": "Bearer", "client_id":
        "6d807b1c-2a6f-41a0-b428-d0e3a08382a0"}"#,
        );
        assert_eq!(t.expires_on, 1_621_703_673);
        assert_eq!(t.expires_at(), "2021-05-22T17:14:33Z");
        // mi-hosts/appservice-user-assigned-clientid-expires_on-datestring.sdkpy-recording.yaml
        // 05/22/2021 17:18:21 +00:00 = 1621703673 + 228 = 1621703901
        let t = token(
            r#"{"access_token": "redacted", "expires_on": "05/22/2021 17:18:21 +00:00",
        "resource": "https://management.azure.com", "token_type": "Bearer", "client_id":
        "client-id"}"#,
        );
        assert_eq!(t.expires_on, 1_621_703_901);
    }

    #[test]
    fn megabytes_of_digits_are_cheap_and_rejected() {
        let digits = "9".repeat(10 * 1024 * 1024);
        assert_eq!(parse_expires_on(&Value::String(digits.clone())), None);
        let body =
            format!(r#"{{"access_token":"t","expires_on":"{digits}","expires_in":"{digits}"}}"#);
        let message = failure(body.as_bytes());
        assert!(message.len() < 300, "{message}");
        // Bare JSON numbers that long overflow f64: serde rejects the body, which is also fine.
        let body = format!(r#"{{"access_token":"t","expires_on":{digits}}}"#);
        failure(body.as_bytes());
    }

    #[test]
    fn entra_expires_in_number_without_expires_on() {
        // mi-hosts/entra-v2-token-200-client-credentials-docs.json
        let t = token(
            r#"{
  "token_type": "Bearer",
  "expires_in": 3599,
  "access_token": "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiIsIng1dCI6Ik1uQ19WWmNBVGZNNXBP..."
}"#,
        );
        assert_eq!(t.expires_on, NOW + 3599);
        assert_eq!(t.resource, None);
    }

    #[test]
    fn arc_sample_uses_expires_in_string() {
        // mi-hosts/arc-401-challenge-then-200.msal-py-test.txt
        let t = token(r#"{"access_token": "AT", "expires_in": "1234", "resource": "R"}"#);
        assert_eq!(t.expires_on, NOW + 1234);
        assert_eq!(t.token_type, "Bearer");
    }

    #[test]
    fn unreadable_expires_on_falls_back_to_expires_in() {
        let t = token(r#"{"access_token":"t","expires_on":"soon","expires_in":60}"#);
        assert_eq!(t.expires_on, NOW + 60);
        let t = token(r#"{"access_token":"t","expires_on":null,"expires_in":"60.0"}"#);
        assert_eq!(t.expires_on, NOW + 60);
        // When both are readable, expires_on wins: it does not depend on our clock.
        let t = token(r#"{"access_token":"t","expires_on":"1586984735","expires_in":60}"#);
        assert_eq!(t.expires_on, 1_586_984_735);
    }

    #[test]
    fn no_usable_expiry_names_both_fields_and_their_types() {
        let message = failure(br#"{"access_token":"t"}"#);
        assert_eq!(
            message,
            "token response has no usable expiry: expires_on is missing, and expires_in is missing"
        );
        let message = failure(br#"{"access_token":"t","expires_on":"soon-ish","expires_in":[1]}"#);
        assert_eq!(
            message,
            "token response has no usable expiry: expires_on is a string that is not epoch seconds \
             or a known date, and expires_in is an array that is not a number of seconds"
        );
        assert!(!message.contains("soon-ish"));
        let message = failure(br#"{"access_token":"t","expires_on":null,"expires_in":-5}"#);
        assert!(message.contains("expires_on is null"), "{message}");
        assert!(
            message.contains("expires_in is a number that is not"),
            "{message}"
        );
    }

    #[test]
    fn expires_in_past_year_9999_is_unusable() {
        let body = format!(r#"{{"access_token":"t","expires_in":{MAX_EPOCH}}}"#);
        assert!(failure(body.as_bytes()).contains("no usable expiry"));
        let t = Token::parse(br#"{"access_token":"t","expires_in":1}"#, MAX_EPOCH - 1);
        assert_eq!(t.map(|t| t.expires_on).ok(), Some(MAX_EPOCH));
        let t = Token::parse(br#"{"access_token":"t","expires_in":1}"#, u64::MAX);
        assert!(t.is_err());
    }

    #[test]
    fn access_token_must_be_a_visible_ascii_string() {
        assert_eq!(
            failure(br#"{"expires_in":1}"#),
            "token response has no access_token"
        );
        assert_eq!(
            failure(br#"{"access_token":12345,"expires_in":1}"#),
            "token response field access_token is a number, expected a string"
        );
        assert_eq!(
            failure(br#"{"access_token":null,"expires_in":1}"#),
            "token response field access_token is null, expected a string"
        );
        assert_eq!(
            failure(br#"{"access_token":{"a":"b"},"expires_in":1}"#),
            "token response field access_token is an object, expected a string"
        );
        assert_eq!(
            failure(br#"{"access_token":"","expires_in":1}"#),
            "token response has an empty access_token"
        );
        for bad in [
            "a b",
            "ab\n",
            "\tab",
            "a\rb",
            "a\u{0}b",
            "a\u{7f}b",
            "tök",
            "x';touch${IFS}/tmp/PWNED;'",
            "a;b",
            "a$b",
            "a`b`",
            "a|b",
            "a\"b",
            "=abc",
            "ab=c",
        ] {
            let body = json!({"access_token": bad, "expires_in": 1}).to_string();
            assert!(
                failure(body.as_bytes()).contains("a bearer token cannot hold"),
                "{bad:?}"
            );
        }
        for good in ["eyJ0.eyJ1.c2ln", "a-b_c~d+e/f", "abc==", "Zm9v="] {
            let body = json!({"access_token": good, "expires_in": 1}).to_string();
            assert_eq!(token(&body).access_token.expose(), good);
        }
        let long = "a".repeat(16 * 1024 + 1);
        let body = json!({"access_token": long, "expires_in": 1}).to_string();
        assert!(failure(body.as_bytes()).contains("over the 16384"));
    }

    #[test]
    fn token_type_defaults_to_bearer_and_must_be_bearer() {
        for kind in [r#""""#, "null", r#""bearer""#, r#""BEARER""#] {
            let t = token(&format!(
                r#"{{"access_token":"t","expires_in":1,"token_type":{kind}}}"#
            ));
            assert_eq!(t.token_type, "Bearer", "{kind}");
        }
        assert!(
            failure(br#"{"access_token":"t","expires_in":1,"token_type":"PoP"}"#)
                .contains("token_type 'PoP', not Bearer")
        );
        assert!(
            failure(br#"{"access_token":"t","expires_in":1,"token_type":"Bearer\nX-Evil: 1"}"#)
                .contains("a token_type that is not Bearer")
        );
        assert_eq!(
            failure(br#"{"access_token":"t","expires_in":1,"token_type":7}"#),
            "token response field token_type is a number, expected a string"
        );
    }

    #[test]
    fn echoed_fields_of_the_wrong_type_are_ignored() {
        let t = token(r#"{"access_token":"t","expires_in":1,"resource":5,"client_id":["x"]}"#);
        assert_eq!(t.resource, None);
        assert_eq!(t.client_id, None);
    }

    #[test]
    fn bodies_that_are_not_a_json_object() {
        assert!(failure(b"").contains("ends early"));
        assert!(failure(br#"{"access_token": "eyJhbGciOi"#).contains("ends early"));
        assert!(failure(b"undefined").contains("not valid JSON (line 1, column 1)"));
        assert!(failure(b"\xff\xfe{}").contains("not valid JSON"));
        assert!(failure(br#"{"a":1} trailing"#).contains("not valid JSON"));
        assert_eq!(
            failure(b"[]"),
            "token response is an array, expected a JSON object"
        );
        assert_eq!(
            failure(br#""eyJhbGciOiJSUzI1NiJ9.eyJ4IjoxfQ.sig""#),
            "token response is a string, expected a JSON object"
        );
        assert!(failure(b"null").contains("is null"));
        let deep = "[".repeat(100_000);
        assert!(failure(deep.as_bytes()).contains("not valid JSON"));
    }

    #[test]
    fn no_error_message_ever_contains_the_token() {
        let secret = "eyJSECRETzzz.SECRETpayload.SECRETsig";
        let bodies = [
            format!(r#"{{"access_token":"{secret}"}}"#),
            format!(r#"{{"access_token":"{secret}","expires_on":"{secret}"}}"#),
            format!(r#"{{"access_token":"{secret} ","expires_in":1}}"#),
            format!(r#"{{"access_token":"{secret}\n","expires_in":1}}"#),
            format!(r#"{{"access_token":"{secret}","expires_in":1,"token_type":"{secret} "}}"#),
            format!(r#"{{"access_token":["{secret}"],"expires_in":1}}"#),
            format!(r#"{{"access_token":"{secret}","expires_in":1"#),
            format!(r#"{{"access_token":"{secret}",,"expires_in":1}}"#),
            format!(r#"{{"access_token":"{secret}\q","expires_in":1}}"#),
            format!(r#"["{secret}"]"#),
            format!(r#""{secret}""#),
            secret.to_string(),
        ];
        for body in &bodies {
            let message = failure(body.as_bytes());
            assert!(!message.contains("SECRET"), "{message}");
        }
        // Every truncation of a good body, too.
        let good =
            format!(r#"{{"access_token":"{secret}","expires_on":"05/22/2021 17:14:33 +00:00"}}"#);
        for end in 0..good.len() {
            if let Err(e) = Token::parse(&good.as_bytes()[..end], NOW) {
                assert!(!e.message.contains("SECRET"), "{}", e.message);
                assert!(e.hint.is_none());
            }
        }
    }

    #[test]
    fn debug_never_shows_the_token() {
        let t = token(r#"{"access_token":"eyJSECRET.abc.def","expires_in":1,"client_id":"c"}"#);
        let shown = format!("{t:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("<secret, 17 bytes>"), "{shown}");
        assert!(shown.contains("client_id: Some(\"c\")"), "{shown}");
        let pretty = format!("{t:#?}");
        assert!(!pretty.contains("SECRET"), "{pretty}");
    }

    #[test]
    fn a_token_that_expired_before_it_was_asked_for_is_refused() {
        let t = token(r#"{"access_token":"t","expires_on":"1000"}"#);
        let e = t.clone().fresh(1000).unwrap_err();
        assert!(
            e.message.contains("expired at 1970-01-01T00:16:40Z"),
            "{}",
            e.message
        );
        assert_eq!(t.fresh(999).unwrap().expires_on, 1000);
    }

    #[test]
    fn to_json_has_the_documented_shape_and_order() {
        let t = token(
            r#"{"access_token":"t","expires_on":1795790388,"resource":"https://management.azure.com/"}"#,
        );
        let printed = t.to_json().to_string();
        assert_eq!(
            printed,
            r#"{"access_token":"t","token_type":"Bearer","resource":"https://management.azure.com/","client_id":null,"expires_on":1795790388,"expires_at":"2026-11-27T14:39:48Z"}"#
        );
    }

    #[test]
    fn garbage_bodies_never_panic_or_leak() {
        let good = br#"{"access_token":"eyJSECRET.x.y","expires_on":"1/16/2020 5:24:12 AM +00:00","expires_in":"3599","resource":"r"}"#;
        let mut garbage = crate::garbage::Garbage(0xDEAD_BEEF_CAFE_F00D);
        for _ in 0..20_000 {
            let mut body = good.to_vec();
            for _ in 0..(garbage.next() % 4 + 1) {
                let at = (garbage.next() % body.len() as u64) as usize;
                body[at] = (garbage.next() & 0xff) as u8;
            }
            if let Err(e) = Token::parse(&body, NOW) {
                assert!(!e.message.contains("SECRET"), "{}", e.message);
            }
        }
    }
}
