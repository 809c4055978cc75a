//! Names ARM uses, validated before anything is sent, and the one way armi encodes them.

use crate::text::echo;

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
                echo(text)
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
                echo(text)
            ));
        }
        if text.ends_with('.') {
            return Err(format!(
                "'{}' is not a resource group name: it must not end with '.'",
                echo(text)
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
            echo(text)
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
        let ninety = "a".repeat(90);
        let ninety_one = "a".repeat(91);
        for (name, ok) in [
            ("rg", true),
            ("my_rg-1.(x)", true),
            ("grüne-gruppe", true),
            ("日本語", true),
            (ninety.as_str(), true),
            ("", false),
            ("ends.", false),
            ("has space", false),
            ("slash/inside", false),
            ("..", false),
            ("a%2F", false),
            ("new\nline", false),
            ("q?x", false),
            (ninety_one.as_str(), false),
        ] {
            assert_eq!(ResourceGroupName::parse(name).is_ok(), ok, "{name:?}");
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
}
