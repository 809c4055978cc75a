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
    let mut not_yet = false;
    let error = answer::error(what, reply, retry, |a| {
        not_yet = a.status == 403 && a.code_is("AuthorizationFailed");
        meaning(a)
    });
    error.not_yet_if(not_yet)
}

/// Another Azure API's refusal (`armi rest --resource`): the shared reading, and hints that do
/// not assume ARM.
pub fn api_failure(name: &str, what: &str, reply: &Reply) -> Error {
    let retry = format!("{name} kept throttling or failing; raise --timeout to wait longer");
    let mut not_yet = false;
    let error = answer::error(what, reply, &retry, |a| {
        not_yet = a.status == 403
            && (a.code_is("AuthorizationFailed")
                || a.code_is("AuthorizationPermissionMismatch")
                || a.inner_code.as_deref() == Some("ForbiddenByRbac"));
        api_meaning(name, a)
    });
    error.not_yet_if(not_yet)
}

/// Another Azure API's table: hints that do not assume ARM.
fn api_meaning(name: &str, a: &Answer) -> (Kind, Option<String>) {
    match a.status {
        401 => (
            Kind::Denied,
            Some(format!(
                "{name} refused the token: check that --resource is its audience \
                 (armi token {name} -o json shows what the token is for)"
            )),
        ),
        403 => (
            Kind::Denied,
            Some(format!(
                "the identity has no role (or access policy) on this {name} resource that allows the call"
            )),
        ),
        404 => (Kind::NotFound, None),
        500..=599 => (Kind::GaveUp, None),
        _ => (Kind::Failed, None),
    }
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
        409 if a.code_is("AnotherOperationInProgress") => (
            Kind::Failed,
            Some(
                "an earlier operation on this resource is still running: wait for it (armi rest \
                 ... --wait waits for a write's operation to end), then try again"
                    .into(),
            ),
        ),
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

/// For `AuthorizationFailed`, names the denied action, a role that has it, to whom and on which
/// scope, from ARM's own message; the command is a line of its own, ready to paste.
fn authorization_hint(text: &str) -> String {
    let quoted_after = |marker: &str| {
        let start = text.find(marker)? + marker.len();
        let rest = &text[start..];
        let end = rest.find('\'')?;
        Some(rest[..end].to_string())
    };
    let delay = "new role assignments can take up to 24 hours to show in managed-identity tokens, \
                 which IMDS caches";
    let action = quoted_after("perform action '");
    let role = action.as_deref().map_or("Reader", role_for);
    let (Some(oid), Some(scope)) = (quoted_after("object id '"), quoted_after("over scope '"))
    else {
        return format!("the identity lacks a role on this scope (e.g. {role})\n{delay}");
    };
    let needs = match &action {
        Some(action) => format!("a role with '{action}'"),
        None => "a role on this scope".to_string(),
    };
    format!(
        "grant the identity {needs}, e.g. {role}:\n  az role assignment create --assignee-object-id {oid} \
         --assignee-principal-type ServicePrincipal --role {} --scope {}\n{delay}",
        shell_word(role),
        shell_word(&scope)
    )
}

/// A built-in role that allows `action`: Reader for reads; for writes, deletes and actions the
/// resource provider's own contributor role where there is one, else Contributor.
fn role_for(action: &str) -> &'static str {
    let lower = action.to_ascii_lowercase();
    if lower.ends_with("/read") {
        return "Reader";
    }
    let provider = lower.split('/').next().unwrap_or_default();
    match provider {
        "microsoft.compute" => "Virtual Machine Contributor",
        "microsoft.network" => "Network Contributor",
        "microsoft.storage" => "Storage Account Contributor",
        "microsoft.keyvault" => "Key Vault Contributor",
        "microsoft.web" => "Website Contributor",
        "microsoft.sql" => "SQL Server Contributor",
        "microsoft.authorization" => "User Access Administrator",
        _ => "Contributor",
    }
}

/// A word for a pasted command: as it is when it holds only safe characters, else quoted (group
/// names may hold parentheses, role names spaces).
fn shell_word(text: &str) -> String {
    let safe = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.' | ':'));
    if safe {
        text.to_string()
    } else {
        crate::text::shell_quote(text)
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
        assert!(hint.contains("--role Reader"), "{hint}");
        assert!(
            hint.contains("--scope /subscriptions/s/resourcegroups/rg\n"),
            "{hint}"
        );
        assert!(hint.ends_with("\nnew role assignments can take up to 24 hours to show in managed-identity tokens, which IMDS caches"), "{hint}");
    }

    #[test]
    fn a_denied_write_or_action_names_it_and_a_role_that_has_it() {
        for (action, role) in [
            (
                "Microsoft.Compute/virtualMachines/restart/action",
                "'Virtual Machine Contributor'",
            ),
            (
                "Microsoft.Compute/disks/write",
                "'Virtual Machine Contributor'",
            ),
            (
                "Microsoft.Resources/subscriptions/resourcegroups/write",
                "Contributor",
            ),
            (
                "Microsoft.Network/virtualNetworks/delete",
                "'Network Contributor'",
            ),
        ] {
            let message = format!(
                "The client 'a' with object id 'b' does not have authorization to perform action '{action}' over scope '/subscriptions/s/resourcegroups/rg (x)' or the scope is invalid."
            );
            let hint = authorization_hint(&message);
            assert!(hint.contains(&format!("a role with '{action}'")), "{hint}");
            assert!(hint.contains(&format!("--role {role} ")), "{hint}");
            assert!(
                hint.contains("--scope '/subscriptions/s/resourcegroups/rg (x)'\n"),
                "{hint}"
            );
            assert!(
                !hint.lines().nth(1).unwrap_or_default().contains(';'),
                "{hint}"
            );
        }
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
