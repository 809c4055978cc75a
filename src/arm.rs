//! Azure Resource Manager: the session a token is used in, calls, lists and ARM's errors.
//!
//! Every request with a token goes through a [`Session`], whose [`Origin`] is the only place
//! the token may be sent; the URLs come from [`Origin::target`] (command line) or
//! [`Origin::follow`] (links in responses), which refuse anything else.

mod link;
pub mod lro;
mod names;
pub mod pages;

use serde_json::Value;

pub use link::{Origin, Url};
pub use names::{
    ResourceGroupName, SubscriptionId, check_identity_resource_id, is_guid, percent_encode,
};

use crate::error::{Error, Kind, Result};
use crate::http::{Endpoint, Http, Reply, Request, Service};
use crate::imds::clean;

/// api-version for resource groups and resource lists, when `--api-version` does not say.
pub const GROUP_API_VERSION: &str = "2021-04-01";

/// A token and the one origin it may be sent to.
pub struct Session<'a> {
    pub http: &'a Http,
    pub origin: Origin,
    token: &'a str,
}

impl<'a> Session<'a> {
    pub fn new(http: &'a Http, origin: Origin, token: &'a str) -> Session<'a> {
        Session {
            http,
            origin,
            token,
        }
    }

    /// Sends one request (with retries) and returns whatever status came back.
    pub fn send(
        &self,
        method: &str,
        url: &Url,
        headers: Vec<(&str, String)>,
        body: Option<Vec<u8>>,
        what: &str,
    ) -> Result<Reply> {
        // Callers pass URLs that were checked already; checking again here keeps the promise
        // even if a caller someday does not.
        if !self.origin.allows(url) {
            return Err(Error::failed(format!(
                "{what}: refused to send the token to '{}', which is not {}",
                clean(&url.to_url()),
                self.origin.describe()
            )));
        }
        self.http.send(&Request {
            service: Service::Arm,
            method,
            url: url.to_url(),
            what: what.to_string(),
            headers,
            bearer: Some(self.token),
            body,
        })
    }

    /// GETs a URL and returns its JSON body, or the error ARM gave.
    pub fn get_json(&self, url: &Url, what: &str) -> Result<Value> {
        let reply = self.send("GET", url, vec![], None, what)?;
        let body = expect_success(reply, what)?;
        serde_json::from_slice(&body.body).map_err(|e| {
            Error::failed(format!(
                "{what}: ARM answered {} but the body is not JSON ({e})",
                body.status
            ))
        })
    }
}

/// The reply when it is a success, else the error of the right kind.
pub fn expect_success(reply: Reply, what: &str) -> Result<Reply> {
    if (200..300).contains(&reply.status) && reply.gave_up.is_none() {
        Ok(reply)
    } else {
        Err(failure(what, &reply))
    }
}

/// `/subscriptions/{sub}/resourcegroups/{group}` (the SDKs' spelling; ARM ignores case), each segment encoded on its own.
fn group_path(subscription: &SubscriptionId, group: &ResourceGroupName) -> String {
    format!(
        "/subscriptions/{}/resourcegroups/{}",
        percent_encode(subscription.as_str()),
        percent_encode(group.as_str())
    )
}

/// The URL of one resource group.
pub fn group_url(
    endpoint: &Endpoint,
    subscription: &SubscriptionId,
    group: &ResourceGroupName,
    api_version: &str,
) -> Result<Url> {
    build(
        endpoint,
        &group_path(subscription, group),
        api_version,
        None,
    )
}

/// The URL of the subscription's resource group list.
pub fn groups_url(
    endpoint: &Endpoint,
    subscription: &SubscriptionId,
    api_version: &str,
    top: Option<u32>,
) -> Result<Url> {
    let path = format!(
        "/subscriptions/{}/resourcegroups",
        percent_encode(subscription.as_str())
    );
    build(endpoint, &path, api_version, top)
}

/// The URL of the list of resources in a group.
pub fn resources_url(
    endpoint: &Endpoint,
    subscription: &SubscriptionId,
    group: &ResourceGroupName,
    api_version: &str,
) -> Result<Url> {
    let path = format!("{}/resources", group_path(subscription, group));
    build(endpoint, &path, api_version, None)
}

fn build(endpoint: &Endpoint, path: &str, api_version: &str, top: Option<u32>) -> Result<Url> {
    let mut query = format!("api-version={}", percent_encode(api_version));
    if let Some(top) = top {
        query.push_str(&format!("&%24top={top}"));
    }
    Url::parse(&endpoint.url(path, &query))
        .map_err(|e| Error::failed(format!("internal: built an invalid URL: {e}")))
}

/// An ARM error body, `{"error":{"code","message"}}`, when there is one.
fn error_parts(reply: &Reply) -> (String, String) {
    let parsed: Option<Value> = serde_json::from_slice(&reply.body).ok();
    let error = parsed.as_ref().and_then(|v| v.get("error"));
    let field = |k: &str| {
        error
            .and_then(|e| e.get(k))
            .and_then(Value::as_str)
            .map(clean)
            .unwrap_or_default()
    };
    let (code, message) = (field("code"), field("message"));
    if code.is_empty() && message.is_empty() {
        (String::new(), clean(&String::from_utf8_lossy(&reply.body)))
    } else {
        (code, message)
    }
}

/// Turns an ARM answer that is not a success into an error of the right kind, with the fix.
pub fn failure(what: &str, reply: &Reply) -> Error {
    let (code, text) = error_parts(reply);
    let mut message = format!("{what}: {}", reply.status);
    if !code.is_empty() {
        message.push_str(&format!(" {code}"));
    }
    if !text.is_empty() {
        message.push_str(&format!(": {text}"));
    }
    if let Some(why) = &reply.gave_up {
        return Error::new(Kind::GaveUp, format!("{message} ({why})"))
            .with_hint("ARM kept throttling or failing; raise --timeout to wait longer");
    }
    match reply.status {
        300..=399 => Error::failed(format!(
            "{what}: ARM answered {} with a redirect to '{}'; armi does not follow redirects, so the token stays with ARM",
            reply.status,
            clean(reply.header("location").unwrap_or_default())
        )),
        401 => Error::new(Kind::Denied, message).with_hint(denied_hint(&code)),
        403 => {
            let hint = authorization_hint(&text);
            Error::new(Kind::Denied, message).with_hint(hint)
        }
        404 => {
            let hint = match code.as_str() {
                "SubscriptionNotFound" => {
                    "check -s: the identity sees only subscriptions where it has a role"
                }
                "ResourceGroupNotFound" => {
                    "check -g or the NAME argument (names are case-insensitive)"
                }
                _ => "check the subscription, group and path",
            };
            Error::new(Kind::NotFound, message).with_hint(hint)
        }
        // Reached only for methods armi does not retry (the others come back with `gave_up`).
        500..=599 => Error::new(Kind::GaveUp, message).with_hint(
            "ARM failed on its side; armi does not repeat a POST or PATCH by itself, because it may \
             have taken effect: check before running it again",
        ),
        _ => Error::failed(message),
    }
}

fn denied_hint(code: &str) -> String {
    match code {
        "InvalidAuthenticationTokenAudience" => {
            "the token is for another cloud's ARM: choose the cloud with --cloud (public, usgov, china) \
             so that ARM endpoint and token audience match"
                .into()
        }
        "ExpiredAuthenticationToken" => {
            "ARM says the token has expired: check this machine's clock (date -u)".into()
        }
        _ => "ARM refused the token; `armi token -o json` shows which resource it was issued for".into(),
    }
}

/// For `AuthorizationFailed`, names the role to grant, to whom, on which scope, from ARM's own
/// message.
fn authorization_hint(text: &str) -> String {
    let quoted_after = |marker: &str| {
        let start = text.find(marker)? + marker.len();
        let rest = &text[start..];
        let end = rest.find('\'')?;
        Some(rest[..end].to_string())
    };
    let object_id = quoted_after("object id '");
    let scope = quoted_after("over scope '");
    let delay = "new role assignments can take up to 24 hours to show in managed-identity tokens, \
                 which IMDS caches";
    match (object_id, scope) {
        (Some(oid), Some(scope)) => format!(
            "grant the identity a role that can read it, e.g. Reader: \
             az role assignment create --assignee-object-id {oid} --assignee-principal-type ServicePrincipal \
             --role Reader --scope {scope}; {delay}"
        ),
        _ => format!("the identity lacks a role on this scope (e.g. Reader); {delay}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: vec![],
            body: body.as_bytes().to_vec(),
            gave_up: None,
        }
    }

    #[test]
    fn authorization_failed_names_role_object_and_scope() {
        let body = r#"{"error":{"code":"AuthorizationFailed","message":"The client 'aaaa' with object id 'bbbb' does not have authorization to perform action 'Microsoft.Resources/subscriptions/resourcegroups/read' over scope '/subscriptions/s/resourcegroups/rg' or the scope is invalid. If access was recently granted, please refresh your credentials."}}"#;
        let e = failure("GET resource group 'rg'", &reply(403, body));
        assert_eq!(e.kind, Kind::Denied);
        assert!(
            e.message
                .starts_with("GET resource group 'rg': 403 AuthorizationFailed: The client 'aaaa'")
        );
        let hint = e.hint.unwrap();
        assert!(hint.contains("--assignee-object-id bbbb"), "{hint}");
        assert!(
            hint.contains("--scope /subscriptions/s/resourcegroups/rg"),
            "{hint}"
        );
        assert!(hint.contains("24 hours"), "{hint}");
    }

    #[test]
    fn statuses_map_to_kinds() {
        assert_eq!(
            failure(
                "x",
                &reply(
                    404,
                    r#"{"error":{"code":"ResourceGroupNotFound","message":"m"}}"#
                )
            )
            .kind,
            Kind::NotFound
        );
        assert_eq!(failure("x", &reply(401, "")).kind, Kind::Denied);
        assert_eq!(failure("x", &reply(400, "{}")).kind, Kind::Failed);
        assert_eq!(failure("x", &reply(409, "not json")).kind, Kind::Failed);
        let mut gave_up = reply(503, "");
        gave_up.gave_up = Some("gave up".into());
        assert_eq!(failure("x", &gave_up).kind, Kind::GaveUp);
    }

    #[test]
    fn wrong_audience_points_at_cloud() {
        let body = r#"{"error":{"code":"InvalidAuthenticationTokenAudience","message":"The access token has been obtained for wrong audience or resource 'x'."}}"#;
        assert!(
            failure("x", &reply(401, body))
                .hint
                .unwrap()
                .contains("--cloud")
        );
    }
}
