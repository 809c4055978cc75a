//! Azure Resource Manager: validated names, URLs, calls and ARM's errors.
//!
//! Names are checked before anything is sent, and path segments are percent-encoded one by one,
//! so that a group name can never change which resource a request reaches.

use serde_json::Value;

use crate::error::{Error, Kind, Result};
use crate::http::{Endpoint, Http, Reply, Request, Service};
use crate::imds::clean;

/// api-version for resource groups, when `--api-version` does not say.
pub const GROUP_API_VERSION: &str = "2021-04-01";

/// A subscription id: a GUID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionId(String);

impl SubscriptionId {
    pub fn parse(text: &str) -> std::result::Result<SubscriptionId, String> {
        let text = text.trim();
        if is_guid(text) {
            Ok(SubscriptionId(text.to_ascii_lowercase()))
        } else {
            Err(format!(
                "'{}' is not a subscription id (a GUID like 00000000-0000-0000-0000-000000000000)",
                clean(text)
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A resource group name: 1–90 Unicode letters or digits, `_ - . ( )`, not ending in `.`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceGroupName(String);

impl ResourceGroupName {
    pub fn parse(text: &str) -> std::result::Result<ResourceGroupName, String> {
        let count = text.chars().count();
        if count == 0 || count > 90 {
            return Err(format!(
                "a resource group name has 1 to 90 characters, not {count}"
            ));
        }
        if let Some(bad) = text
            .chars()
            .find(|c| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '(' | ')')))
        {
            return Err(format!(
                "'{}' is not a resource group name: {bad:?} is not allowed (letters, digits, _ - . ( ) only)",
                clean(text)
            ));
        }
        if text.ends_with('.') {
            return Err(format!(
                "'{}' is not a resource group name: it must not end with '.'",
                clean(text)
            ));
        }
        Ok(ResourceGroupName(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// True for the 8-4-4-4-12 hex form, without braces.
pub fn is_guid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    let lengths = [8, 4, 4, 4, 12];
    groups.len() == 5
        && groups
            .iter()
            .zip(lengths)
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Checks a user-assigned identity's resource id:
/// `/subscriptions/{guid}/resourceGroups/{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}`.
pub fn check_identity_resource_id(text: &str) -> std::result::Result<(), String> {
    let bad = || {
        format!(
            "'{}' is not a user-assigned identity resource id \
             (/subscriptions/GUID/resourceGroups/GROUP/providers/Microsoft.ManagedIdentity/userAssignedIdentities/NAME)",
            clean(text)
        )
    };
    let parts: Vec<&str> = text.split('/').collect();
    let [
        "",
        subs,
        sub,
        groups,
        group,
        providers,
        namespace,
        kind,
        name,
    ] = parts.as_slice()
    else {
        return Err(bad());
    };
    let shape = subs.eq_ignore_ascii_case("subscriptions")
        && is_guid(sub)
        && groups.eq_ignore_ascii_case("resourcegroups")
        && ResourceGroupName::parse(group).is_ok()
        && providers.eq_ignore_ascii_case("providers")
        && namespace.eq_ignore_ascii_case("Microsoft.ManagedIdentity")
        && kind.eq_ignore_ascii_case("userAssignedIdentities")
        && !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if shape { Ok(()) } else { Err(bad()) }
}

/// Percent-encodes everything but RFC 3986's unreserved characters: safe for a path segment
/// and for a query value alike.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// GETs one resource group.
pub fn get_group(
    http: &Http,
    arm: &Endpoint,
    token: &str,
    subscription: &SubscriptionId,
    group: &ResourceGroupName,
    api_version: &str,
) -> Result<Value> {
    let path = format!(
        "/subscriptions/{}/resourcegroups/{}",
        percent_encode(subscription.as_str()),
        percent_encode(group.as_str())
    );
    let what = format!(
        "GET resource group '{}' in subscription {}",
        group.as_str(),
        subscription.as_str()
    );
    get_json(http, arm, token, &path, api_version, &what)
}

/// GETs an ARM path and returns its JSON body, or the error ARM gave.
fn get_json(
    http: &Http,
    arm: &Endpoint,
    token: &str,
    path: &str,
    api_version: &str,
    what: &str,
) -> Result<Value> {
    let reply = http.send(&Request {
        service: Service::Arm,
        method: "GET",
        url: arm.url(
            path,
            &format!("api-version={}", percent_encode(api_version)),
        ),
        what: what.to_string(),
        headers: vec![],
        bearer: Some(token),
        body: None,
    })?;
    if !(200..300).contains(&reply.status) || reply.gave_up.is_some() {
        return Err(failure(what, &reply));
    }
    serde_json::from_slice(&reply.body).map_err(|e| {
        Error::failed(format!(
            "{what}: ARM answered {} but the body is not JSON ({e})",
            reply.status
        ))
    })
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
fn failure(what: &str, reply: &Reply) -> Error {
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

    #[test]
    fn guids_are_8_4_4_4_12_hex() {
        assert!(is_guid("8d10da13-8125-4ba9-a717-bf7490507b3d"));
        assert!(is_guid("92F95D8F-3C67-4124-91C7-8CF07CDBF241"));
        for bad in [
            "",
            "{8d10da13-8125-4ba9-a717-bf7490507b3d}",
            "8d10da138125-4ba9-a717-bf7490507b3d",
            "8d10da13-8125-4ba9-a717-bf7490507b3",
            "8d10da13-8125-4ba9-a717-bf7490507b3dd",
            "xxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxx",
            "8d10da13-8125-4ba9-a717-bf7490507b3g",
            "８d10da13-8125-4ba9-a717-bf7490507b3d",
        ] {
            assert!(!is_guid(bad), "{bad}");
        }
    }

    #[test]
    fn subscription_ids_are_lower_cased_and_trimmed() {
        let s = SubscriptionId::parse(" 92F95D8F-3C67-4124-91C7-8CF07CDBF241 ").unwrap();
        assert_eq!(s.as_str(), "92f95d8f-3c67-4124-91c7-8cf07cdbf241");
        assert!(SubscriptionId::parse("my-subscription").is_err());
    }

    #[test]
    fn group_names_follow_arm_rules() {
        for ok in [
            "rg",
            "my_rg-1.(x)",
            "grüne-gruppe",
            "日本語",
            &"a".repeat(90),
        ] {
            assert!(ResourceGroupName::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "ends.",
            "has space",
            "slash/inside",
            "..",
            "a%2F",
            "new\nline",
            "q?x",
            &"a".repeat(91),
        ] {
            assert!(ResourceGroupName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn group_name_errors_do_not_echo_control_characters() {
        let e = ResourceGroupName::parse("a\u{1b}[31mred").unwrap_err();
        assert!(!e.contains('\u{1b}'), "{e:?}");
    }

    #[test]
    fn identity_resource_ids_are_checked() {
        let ok = "/subscriptions/8d10da13-8125-4ba9-a717-bf7490507b3d/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-1";
        assert!(check_identity_resource_id(ok).is_ok());
        for bad in [
            "",
            "id-1",
            "/subscriptions/x/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id",
            "/subscriptions/8d10da13-8125-4ba9-a717-bf7490507b3d/resourcegroups/rg/providers/Microsoft.Compute/virtualMachines/vm",
            "/subscriptions/8d10da13-8125-4ba9-a717-bf7490507b3d/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/",
            "/subscriptions/8d10da13-8125-4ba9-a717-bf7490507b3d/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/a/b",
            "/subscriptions/8d10da13-8125-4ba9-a717-bf7490507b3d/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/a&b=c",
        ] {
            assert!(check_identity_resource_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn percent_encoding_keeps_only_unreserved() {
        assert_eq!(
            percent_encode("https://management.azure.com/"),
            "https%3A%2F%2Fmanagement.azure.com%2F"
        );
        assert_eq!(percent_encode("grüne (1)"), "gr%C3%BCne%20%281%29");
        assert_eq!(percent_encode("a/../b?c#d&e"), "a%2F..%2Fb%3Fc%23d%26e");
    }

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
