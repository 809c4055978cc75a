//! The Instance Metadata Service (VMs and scale sets): managed-identity tokens and instance
//! metadata.
//!
//! Requests are plain HTTP to a link-local address, `Metadata: true`, never through a proxy
//! (the transport's identity agent has none). Error texts from IMDS "can change at any time", so
//! armi classifies by status first and reads the description only to pick a hint.

use serde_json::Value;

use super::{Ask, Host, IdentityHost};
use crate::answer::{self, Answer};
use crate::error::{Error, Kind, Result};
use crate::http::{Endpoint, Http, Reply, Request, Service};
use crate::identity::{Identity, Selectors};
use crate::text::{clean, percent_encode};
use crate::token::Token;

/// The token api-version every SDK uses.
pub const TOKEN_API_VERSION: &str = "2018-02-01";
/// An instance api-version with `azEnvironment`, `resourceId` and
/// `securityProfile.securityType` (which came last, in 2021-12-13).
pub const INSTANCE_API_VERSION: &str = "2021-12-13";
/// IMDS's own address, used when nothing overrides it.
pub const DEFAULT_ENDPOINT: &str = "http://169.254.169.254";

/// IMDS's names for a user-assigned identity: it spells the resource id `msi_res_id` (App
/// Service's `mi_res_id` would be ignored here).
const SELECTORS: Selectors = Selectors {
    client_id: Some("client_id"),
    object_id: Some("object_id"),
    resource_id: Some("msi_res_id"),
};

/// IMDS at its address (or the override).
#[derive(Debug)]
pub struct Imds {
    endpoint: Endpoint,
}

impl Imds {
    pub fn new(endpoint: Endpoint) -> Imds {
        Imds { endpoint }
    }
}

impl IdentityHost for Imds {
    fn token(&self, ask: &Ask) -> Result<Token> {
        token(ask.http, &self.endpoint, ask.resource, ask.identity)
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
    /// `securityProfile.securityType`: `TrustedLaunch`, `ConfidentialVM`, or "" for a standard VM.
    pub security_type: String,
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
            security_type: field("securityProfile/securityType"),
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
    if let Some((key, value)) = super::selector(Host::Imds, identity, &SELECTORS, "")? {
        query.push_str(&format!("&{key}={}", percent_encode(value)));
    }
    http.trace(&format!(
        "IMDS at {}, {}",
        endpoint.origin(),
        identity.describe()
    ));
    let requested_at = crate::token::now();
    let what = format!(
        "get a token for {resource} from IMDS as {}",
        identity.describe()
    );
    let url = endpoint.url("/metadata/identity/oauth2/token", &query);
    let reply = http.send(&Request::metadata(Service::Imds, url, &what))?;
    if reply.status != 200 || reply.gave_up.is_some() {
        return Err(failure(&what, &reply, Some(identity)));
    }
    Token::parse(&reply.body, requested_at).map_err(|e| {
        not_imds(&reply).unwrap_or_else(|| Error::failed(format!("{what}: {}", e.message)))
    })
}

/// Gets the instance metadata document.
pub fn instance(http: &Http, endpoint: &Endpoint) -> Result<Value> {
    let what = "read instance metadata from IMDS";
    let query = format!("api-version={INSTANCE_API_VERSION}");
    let url = endpoint.url("/metadata/instance", &query);
    let reply = http.send(&Request::metadata(Service::Imds, url, what))?;
    if reply.status != 200 || reply.gave_up.is_some() {
        return Err(failure(what, &reply, None));
    }
    match crate::json::parse(&reply.body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(not_imds(&reply).unwrap_or_else(|| {
            Error::failed(format!("{what}: 200 but the body is not a JSON object"))
        })),
    }
}

/// Turns a non-200 IMDS answer into an error of the right kind, with a hint where one is known.
fn failure(what: &str, reply: &Reply, identity: Option<&Identity>) -> Error {
    if let Some(e) = not_imds(reply) {
        return e;
    }
    let retry = "IMDS kept answering with a transient error; it documents 410 for up to 70 s during updates. \
                 Raise --timeout to wait longer; -v shows each retry";
    // An identity attached seconds ago is "not found" until IMDS learns of it (10-20 s on a
    // VM, 30-40 s on a scale set): --wait-access asks again.
    let mut not_yet = false;
    let error = answer::error(what, reply, retry, |a| {
        not_yet = a.status == 400 && identity.is_some() && a.lower().contains("identity not found");
        meaning(a, identity)
    });
    error.not_yet_if(not_yet)
}

/// IMDS's own table: what its statuses and texts mean, and the fix.
fn meaning(a: &Answer, identity: Option<&Identity>) -> (Kind, Option<String>) {
    let lower = a.lower();
    match a.status {
        400 => identity_failure(&lower, identity),
        403 if lower.contains("unreachable") || lower.contains("connectex") => (
            Kind::Unreachable,
            Some(
                "that answer came from a network proxy, not IMDS (Docker Desktop answers like this): \
                 IMDS is only reachable from an Azure VM or a container on its host network"
                    .into(),
            ),
        ),
        401 | 403 => (Kind::Denied, None),
        _ => (Kind::Failed, None),
    }
}

/// IMDS's 400s about identities become "no identity" errors that name the fix.
fn identity_failure(lower: &str, identity: Option<&Identity>) -> (Kind, Option<String>) {
    let Some(identity) = identity else {
        return (Kind::Failed, None);
    };
    if lower.contains("multiple user assigned identities") {
        return (
            Kind::NoIdentity,
            Some(
                "this VM has several user-assigned identities and no system-assigned one: \
                 choose one with --client-id, --object-id or --resource-id (or set AZURE_CLIENT_ID)"
                    .into(),
            ),
        );
    }
    if lower.contains("identity") {
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
        return (Kind::NoIdentity, Some(hint));
    }
    (Kind::Failed, None)
}

/// The error for an answer that is not IMDS's: real IMDS names itself in `Server` and answers in
/// JSON; a proxy's or firewall's page in its place means IMDS is not reachable from here (exit 3),
/// whatever status the page came with. `None` for an answer that may well be IMDS's.
pub fn not_imds(reply: &Reply) -> Option<Error> {
    let server = reply.header("server").unwrap_or_default();
    if server.starts_with("IMDS") || crate::json::parse(&reply.body).is_ok() {
        return None;
    }
    let snippet: String = clean(&String::from_utf8_lossy(&reply.body))
        .chars()
        .take(120)
        .collect();
    Some(
        Error::new(
            Kind::Unreachable,
            format!(
                "the answer at the metadata address did not come from IMDS: {} (Server: '{}'): {snippet}",
                reply.status,
                clean(server)
            ),
        )
        .with_hint(PROXY_HINT),
    )
}

/// What to do when something else answers for IMDS (also `armi doctor`'s fix).
pub const PROXY_HINT: &str = "a proxy, firewall or another service answers for the metadata address \
    (Docker Desktop does this): IMDS answers only an Azure VM itself, directly; armi never uses a \
    proxy for IMDS, so check routes and --imds-endpoint";

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> Reply {
        let mut r = Reply::new(status, body.as_bytes());
        r.headers
            .push(("Server".into(), "IMDS/150.870.65.528".into()));
        r
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
    fn a_proxys_page_for_imds_is_unreachable_whatever_its_status() {
        for status in [200, 403, 502] {
            let mut r = reply(status, "<html><body>\n<h1>Bad gateway</h1></body></html>");
            r.headers = vec![("Server".into(), "squid/5.7".into())];
            let e = failure("x", &r, None);
            assert_eq!(e.kind, Kind::Unreachable, "{status}");
            assert!(e.message.contains("Server: 'squid/5.7'"), "{}", e.message);
            assert!(e.message.contains("<h1>Bad gateway</h1>"), "{}", e.message);
            assert_eq!(e.hint.as_deref(), Some(PROXY_HINT));
        }
    }
}
