//! The Instance Metadata Service: managed-identity tokens and instance metadata.
//!
//! Requests are plain HTTP to a link-local address, `Metadata: true`, never through a proxy
//! (the transport's identity agent has none). Error texts from IMDS "can change at any time", so
//! armi classifies by status first and reads the description only to pick a hint.

use serde_json::Value;

use crate::arm::percent_encode;
use crate::error::{Error, Kind, Result};
use crate::http::{Endpoint, Http, Reply, Request, Service};
use crate::token::Token;

/// The token api-version every SDK uses.
pub const TOKEN_API_VERSION: &str = "2018-02-01";
/// The first instance api-version with both `azEnvironment` and `resourceId` (and `userData`).
pub const INSTANCE_API_VERSION: &str = "2021-02-01";
/// IMDS's own address, used when nothing overrides it.
pub const DEFAULT_ENDPOINT: &str = "http://169.254.169.254";

/// Which managed identity to act as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// The VM's system-assigned identity (IMDS's default).
    System,
    /// A user-assigned identity by client (application) id; `from_env` when it came from
    /// `AZURE_CLIENT_ID` rather than a flag, so that messages can say so.
    ClientId { id: String, from_env: bool },
    /// A user-assigned identity by object (principal) id.
    ObjectId(String),
    /// A user-assigned identity by its ARM resource id.
    ResourceId(String),
}

impl Identity {
    /// The IMDS query parameter that selects this identity, if any.
    fn selector(&self) -> Option<(&'static str, &str)> {
        match self {
            Identity::System => None,
            Identity::ClientId { id, .. } => Some(("client_id", id)),
            Identity::ObjectId(id) => Some(("object_id", id)),
            // IMDS spells it msi_res_id; App Service's mi_res_id would be ignored here.
            Identity::ResourceId(id) => Some(("msi_res_id", id)),
        }
    }

    /// For messages: "the system-assigned identity", "the user-assigned identity with client id X".
    pub fn describe(&self) -> String {
        match self {
            Identity::System => "the system-assigned identity".into(),
            Identity::ClientId { id, from_env } => format!(
                "the user-assigned identity with client id {id}{}",
                if *from_env {
                    " (from AZURE_CLIENT_ID)"
                } else {
                    ""
                }
            ),
            Identity::ObjectId(id) => format!("the user-assigned identity with object id {id}"),
            Identity::ResourceId(id) => format!("the user-assigned identity {id}"),
        }
    }
}

/// The parts of instance metadata armi itself needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Vm {
    pub subscription_id: String,
    pub resource_group: String,
    pub name: String,
    pub location: String,
    pub resource_id: String,
    pub az_environment: String,
}

impl Vm {
    /// Reads the compute section. IMDS sends every field as a string and sends "" for what does
    /// not apply, so a missing field and an empty one mean the same.
    pub fn from_instance(instance: &Value) -> Vm {
        let field = |name: &str| {
            instance
                .pointer(&format!("/compute/{name}"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .trim()
                .to_string()
        };
        Vm {
            subscription_id: field("subscriptionId"),
            resource_group: field("resourceGroupName"),
            name: field("name"),
            location: field("location"),
            resource_id: field("resourceId"),
            az_environment: field("azEnvironment"),
        }
    }
}

/// Gets a token for `resource` as `identity`.
pub fn token(
    http: &Http,
    endpoint: &Endpoint,
    resource: &str,
    identity: &Identity,
) -> Result<Token> {
    let mut query = format!(
        "api-version={TOKEN_API_VERSION}&resource={}",
        percent_encode(resource)
    );
    if let Some((key, value)) = identity.selector() {
        query.push_str(&format!("&{key}={}", percent_encode(value)));
    }
    http.trace(&format!(
        "identity source: IMDS at {}, {}",
        endpoint.origin(),
        identity.describe()
    ));
    let requested_at = crate::token::now();
    let reply = http.send(&Request {
        service: Service::Imds,
        method: "GET",
        url: endpoint.url("/metadata/identity/oauth2/token", &query),
        what: format!("get a token for {resource} from IMDS"),
        headers: vec![("Metadata", "true".into())],
        bearer: None,
        body: None,
    })?;
    let what = format!(
        "get a token for {resource} from IMDS as {}",
        identity.describe()
    );
    if reply.status != 200 || reply.gave_up.is_some() {
        return Err(failure(&what, &reply, Some(identity)));
    }
    Token::parse(&reply.body, requested_at).map_err(|e| {
        let e = Error::failed(format!("{what}: {}", e.message));
        with_proxy_hint(e, &reply)
    })
}

/// Gets the instance metadata document.
pub fn instance(http: &Http, endpoint: &Endpoint) -> Result<Value> {
    let reply = http.send(&Request {
        service: Service::Imds,
        method: "GET",
        url: endpoint.url(
            "/metadata/instance",
            &format!("api-version={INSTANCE_API_VERSION}"),
        ),
        what: "read instance metadata from IMDS".into(),
        headers: vec![("Metadata", "true".into())],
        bearer: None,
        body: None,
    })?;
    let what = "read instance metadata from IMDS";
    if reply.status != 200 || reply.gave_up.is_some() {
        return Err(failure(what, &reply, None));
    }
    match serde_json::from_slice::<Value>(&reply.body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(with_proxy_hint(
            Error::failed(format!("{what}: 200 but the body is not a JSON object")),
            &reply,
        )),
    }
}

/// Turns a non-200 IMDS answer into an error of the right kind, with a hint where one is known.
fn failure(what: &str, reply: &Reply, identity: Option<&Identity>) -> Error {
    let (code, text) = error_text(reply);
    let mut message = format!(
        "{what}: {}{}",
        reply.status,
        code.map(|c| format!(" {c}")).unwrap_or_default()
    );
    if !text.is_empty() {
        message.push_str(&format!(": {text}"));
    }
    if let Some(why) = &reply.gave_up {
        return Error::new(Kind::GaveUp, format!("{message} ({why})")).with_hint(
            "IMDS kept answering with a transient error; it documents 410 for up to 70 s during updates. \
             Raise --timeout to wait longer; -v shows each retry",
        );
    }
    let lower = text.to_ascii_lowercase();
    match reply.status {
        400 => identity_failure(message, &lower, identity),
        403 if lower.contains("unreachable") || lower.contains("connectex") => Error::new(
            Kind::Unreachable,
            message,
        )
        .with_hint(
            "that answer came from a network proxy, not IMDS (Docker Desktop answers like this): \
             IMDS is only reachable from an Azure VM or a container on its host network",
        ),
        401 | 403 => Error::new(Kind::Denied, message),
        _ => with_proxy_hint(Error::failed(message), reply),
    }
}

/// IMDS's 400s about identities become "no identity" errors that name the fix.
fn identity_failure(message: String, lower: &str, identity: Option<&Identity>) -> Error {
    let Some(identity) = identity else {
        return Error::failed(message);
    };
    if lower.contains("multiple user assigned identities") {
        return Error::new(Kind::NoIdentity, message).with_hint(
            "this VM has several user-assigned identities and no system-assigned one: \
             choose one with --client-id, --object-id or --resource-id (or set AZURE_CLIENT_ID)",
        );
    }
    if lower.contains("identity not found") || lower.contains("identity") {
        let hint = match identity {
            Identity::System => {
                "this VM has no system-assigned identity: enable it (az vm identity assign -g GROUP -n VM), \
                 or choose a user-assigned one with --client-id, --object-id or --resource-id"
                    .to_string()
            }
            Identity::ClientId { from_env: true, .. } => {
                "AZURE_CLIENT_ID names an identity this VM does not have: fix or unset it, or pass --client-id"
                    .to_string()
            }
            other => format!(
                "{} is not assigned to this VM: check the id (a client, object or resource id, not the name) \
                 and the VM's identities (az vm identity show -g GROUP -n VM)",
                other.describe()
            ),
        };
        return Error::new(Kind::NoIdentity, message).with_hint(hint);
    }
    Error::failed(message)
}

/// IMDS's token errors are `{"error": code, "error_description": text}`; its instance errors
/// are `{"error": text}`. Anything else is shown as a short, cleaned snippet.
fn error_text(reply: &Reply) -> (Option<String>, String) {
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&reply.body) {
        let error = map.get("error").and_then(Value::as_str).map(clean);
        let description = map
            .get("error_description")
            .and_then(Value::as_str)
            .map(clean);
        return match (error, description) {
            (Some(code), Some(text)) => (Some(code), text),
            (Some(text), None) => (None, text),
            (None, Some(text)) => (None, text),
            (None, None) => (None, String::new()),
        };
    }
    (None, clean(&String::from_utf8_lossy(&reply.body)))
}

/// One line, at most 1000 characters (ARM's AuthorizationFailed message alone is about 350),
/// no control characters: service text goes to a terminal.
pub fn clean(text: &str) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let trimmed = one_line.split_whitespace().collect::<Vec<_>>().join(" ");
    if trimmed.chars().count() > 1000 {
        let cut: String = trimmed.chars().take(1000).collect();
        format!("{cut}…")
    } else {
        trimmed
    }
}

/// Real IMDS names itself in `Server`; when something else answered, a proxy is the usual
/// culprit, and IMDS must be reached directly.
fn with_proxy_hint(e: Error, reply: &Reply) -> Error {
    let server = reply.header("server").unwrap_or_default();
    if server.starts_with("IMDS") {
        return e;
    }
    e.with_hint(format!(
        "the answer did not come from IMDS (Server: '{}'): a proxy or another service is answering \
         for the metadata address; armi never uses a proxy for IMDS, so check routes and --imds-endpoint",
        clean(server)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: vec![("Server".into(), "IMDS/150.870.65.528".into())],
            body: body.as_bytes().to_vec(),
            gave_up: None,
        }
    }

    #[test]
    fn vm_fields_come_from_the_compute_section() {
        let doc: Value = serde_json::from_str(
            r#"{"compute":{"subscriptionId":"8d10da13-8125-4ba9-a717-bf7490507b3d","resourceGroupName":"rg-x ","name":"vm","azEnvironment":"AZUREPUBLICCLOUD"}}"#,
        )
        .unwrap();
        let vm = Vm::from_instance(&doc);
        assert_eq!(vm.subscription_id, "8d10da13-8125-4ba9-a717-bf7490507b3d");
        assert_eq!(vm.resource_group, "rg-x");
        assert_eq!(vm.az_environment, "AZUREPUBLICCLOUD");
    }

    #[test]
    fn vm_tolerates_missing_and_non_string_fields() {
        let doc: Value =
            serde_json::from_str(r#"{"compute":{"subscriptionId":5,"name":null}}"#).unwrap();
        assert_eq!(Vm::from_instance(&doc), Vm::default());
        assert_eq!(Vm::from_instance(&Value::Null), Vm::default());
    }

    #[test]
    fn multiple_identities_is_no_identity_with_the_flags_named() {
        let r = reply(
            400,
            r#"{"error":"invalid_request","error_description":"Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request"}"#,
        );
        let e = failure("get a token", &r, Some(&Identity::System));
        assert_eq!(e.kind, Kind::NoIdentity);
        assert!(e.hint.unwrap().contains("--client-id"));
    }

    #[test]
    fn identity_not_found_for_a_client_id_names_it() {
        let r = reply(
            400,
            r#"{"error":"invalid_request","error_description":"Identity not found"}"#,
        );
        let id = Identity::ClientId {
            id: "11111111-1111-1111-1111-111111111111".into(),
            from_env: false,
        };
        let e = failure("get a token", &r, Some(&id));
        assert_eq!(e.kind, Kind::NoIdentity);
        assert_eq!(
            e.message,
            "get a token: 400 invalid_request: Identity not found"
        );
        assert!(
            e.hint
                .unwrap()
                .contains("11111111-1111-1111-1111-111111111111")
        );
    }

    #[test]
    fn docker_desktop_403_is_unreachable_not_denied() {
        let r = reply(
            403,
            "connecting to 169.254.169.254:80: connectex: A socket operation was attempted to an unreachable network.",
        );
        assert_eq!(
            failure("x", &r, Some(&Identity::System)).kind,
            Kind::Unreachable
        );
    }

    #[test]
    fn an_html_body_from_a_proxy_gets_the_proxy_hint() {
        let mut r = reply(502, "<html><body>\n<h1>Bad gateway</h1></body></html>");
        r.headers = vec![("Server".into(), "squid/5.7".into())];
        let e = failure("x", &r, None);
        assert_eq!(e.kind, Kind::Failed);
        assert!(e.message.contains("<h1>Bad gateway</h1>"), "{}", e.message);
        assert!(e.hint.unwrap().contains("squid/5.7"));
    }

    #[test]
    fn clean_makes_one_short_line() {
        assert_eq!(clean("a\r\n\tb  c"), "a b c");
        let long = "x".repeat(5000);
        assert_eq!(clean(&long).chars().count(), 1001);
    }
}
