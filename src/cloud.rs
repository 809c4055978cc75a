//! Azure clouds: each one's ARM endpoint and token audience, picked by the name IMDS reports in
//! `compute.azEnvironment` (which IMDS spells in upper case in JSON, mixed case in text).

/// One Azure cloud. The ARM endpoint and the token audience always go together: a token for one
/// cloud's audience is refused by another cloud's ARM (`InvalidAuthenticationTokenAudience`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cloud {
    /// The canonical name, as the docs spell `azEnvironment`.
    pub name: &'static str,
    /// Short alias accepted by `--cloud`.
    pub alias: &'static str,
    /// ARM base URL, without trailing slash.
    pub arm_endpoint: &'static str,
    /// The `resource` to ask a token for, to call ARM.
    pub arm_audience: &'static str,
    /// Entra ID's authority host (workload identity's token exchange).
    pub authority: &'static str,
    /// Key Vault: vaults are `{vault}.{vault_suffix}`, and their tokens are for
    /// `https://{vault_suffix}`.
    pub vault_suffix: &'static str,
    /// Storage: blob hosts are `{account}.blob.{storage_suffix}` (the token's audience,
    /// `https://storage.azure.com/`, is the same in every cloud).
    pub storage_suffix: &'static str,
}

/// Every cloud armi knows; the first is the default.
pub const CLOUDS: [Cloud; 4] = [
    Cloud {
        name: "AzurePublicCloud",
        alias: "public",
        arm_endpoint: "https://management.azure.com",
        arm_audience: "https://management.azure.com/",
        authority: "https://login.microsoftonline.com",
        vault_suffix: "vault.azure.net",
        storage_suffix: "core.windows.net",
    },
    Cloud {
        name: "AzureUSGovernmentCloud",
        alias: "usgov",
        arm_endpoint: "https://management.usgovcloudapi.net",
        arm_audience: "https://management.usgovcloudapi.net/",
        authority: "https://login.microsoftonline.us",
        vault_suffix: "vault.usgovcloudapi.net",
        storage_suffix: "core.usgovcloudapi.net",
    },
    Cloud {
        name: "AzureChinaCloud",
        alias: "china",
        arm_endpoint: "https://management.chinacloudapi.cn",
        arm_audience: "https://management.chinacloudapi.cn/",
        authority: "https://login.chinacloudapi.cn",
        vault_suffix: "vault.azure.cn",
        storage_suffix: "core.chinacloudapi.cn",
    },
    // Retired, but IMDS still documents the name; mapped so that an old image says something exact.
    Cloud {
        name: "AzureGermanCloud",
        alias: "germany",
        arm_endpoint: "https://management.microsoftazure.de",
        arm_audience: "https://management.microsoftazure.de/",
        authority: "https://login.microsoftonline.de",
        vault_suffix: "vault.microsoftazure.de",
        storage_suffix: "core.cloudapi.de",
    },
];

impl Cloud {
    /// The public cloud, used when nothing names another.
    pub fn public() -> Cloud {
        CLOUDS[0]
    }

    /// Looks a cloud up by its name or alias, case-insensitively.
    pub fn from_name(name: &str) -> Option<Cloud> {
        let name = name.trim();
        CLOUDS
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name) || c.alias.eq_ignore_ascii_case(name))
            .copied()
    }

    /// The names `--cloud` accepts, for error messages and help.
    pub fn choices() -> String {
        CLOUDS
            .iter()
            .map(|c| format!("{} ({})", c.name, c.alias))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imds_upper_case_names_are_found() {
        assert_eq!(Cloud::from_name("AZUREPUBLICCLOUD"), Some(Cloud::public()));
        let gov = Cloud::from_name("AZUREUSGOVERNMENTCLOUD").map(|c| c.arm_endpoint);
        assert_eq!(gov, Some("https://management.usgovcloudapi.net"));
    }

    #[test]
    fn aliases_are_accepted_in_any_case() {
        assert_eq!(
            Cloud::from_name("China").map(|c| c.name),
            Some("AzureChinaCloud")
        );
        assert_eq!(Cloud::from_name(" usgov ").map(|c| c.alias), Some("usgov"));
    }

    #[test]
    fn unknown_and_empty_names_are_none() {
        assert_eq!(Cloud::from_name(""), None);
        assert_eq!(Cloud::from_name("AzureStackCloud"), None);
        assert_eq!(Cloud::from_name("publicc"), None);
    }

    #[test]
    fn endpoint_and_audience_share_a_host() {
        for c in CLOUDS {
            assert!(c.arm_audience.starts_with(c.arm_endpoint), "{}", c.name);
        }
    }
}
