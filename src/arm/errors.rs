//! ARM's refusals: what each status and code means (the exit code) and the fix (the hint).

use crate::answer::{self, Answer};
use crate::error::{Error, Kind};
use crate::http::Reply;
use crate::text::clean;

/// Turns an ARM answer that is not a success into an error of the right kind, with the fix.
pub fn failure(what: &str, reply: &Reply) -> Error {
    if (300..=399).contains(&reply.status) && reply.gave_up.is_none() {
        return Error::failed(format!(
            "{what}: ARM answered {} with a redirect to '{}'; armi does not follow redirects, so the token stays with ARM",
            reply.status,
            clean(reply.header("location").unwrap_or_default())
        ));
    }
    let retry = "ARM kept throttling or failing; raise --timeout to wait longer";
    answer::error(what, reply, retry, meaning)
}

/// ARM's table.
fn meaning(a: &Answer) -> (Kind, Option<String>) {
    let code = a.code.as_deref().unwrap_or_default();
    match a.status {
        401 => (Kind::Denied, Some(denied_hint(code))),
        403 => (Kind::Denied, Some(authorization_hint(&a.message))),
        404 => {
            let hint = match code {
                "SubscriptionNotFound" => {
                    "check -s: the identity sees only subscriptions where it has a role"
                }
                "ResourceGroupNotFound" => {
                    "check -g or the NAME argument (names are case-insensitive)"
                }
                _ => "check the subscription, group and path",
            };
            (Kind::NotFound, Some(hint.into()))
        }
        // Reached only for methods armi does not retry (the others come back with `gave_up`).
        500..=599 => (
            Kind::GaveUp,
            Some(
                "ARM failed on its side; armi does not repeat a POST or PATCH by itself, because it may \
                 have taken effect: check before running it again"
                    .into(),
            ),
        ),
        _ => (Kind::Failed, None),
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
    fn authorization_failed_names_role_object_and_scope() {
        let body = r#"{"error":{"code":"AuthorizationFailed","message":"The client 'aaaa' with object id 'bbbb' does not have authorization to perform action 'Microsoft.Resources/subscriptions/resourcegroups/read' over scope '/subscriptions/s/resourcegroups/rg' or the scope is invalid. If access was recently granted, please refresh your credentials."}}"#;
        let e = failure("GET resource group 'rg'", &Reply::new(403, body.as_bytes()));
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
                &Reply::new(
                    404,
                    r#"{"error":{"code":"ResourceGroupNotFound","message":"m"}}"#
                )
            )
            .kind,
            Kind::NotFound
        );
        assert_eq!(
            failure("x", &Reply::new(401, "".as_bytes())).kind,
            Kind::Denied
        );
        assert_eq!(
            failure("x", &Reply::new(400, "{}".as_bytes())).kind,
            Kind::Failed
        );
        assert_eq!(
            failure("x", &Reply::new(409, "not json".as_bytes())).kind,
            Kind::Failed
        );
        let mut gave_up = Reply::new(503, "");
        gave_up.gave_up = Some("gave up".into());
        assert_eq!(failure("x", &gave_up).kind, Kind::GaveUp);
    }

    #[test]
    fn wrong_audience_points_at_cloud() {
        let body = r#"{"error":{"code":"InvalidAuthenticationTokenAudience","message":"The access token has been obtained for wrong audience or resource 'x'."}}"#;
        assert!(
            failure("x", &Reply::new(401, body.as_bytes()))
                .hint
                .unwrap()
                .contains("--cloud")
        );
    }
}
