//! What distinguishes the Azure clouds to ARM: the token audiences it accepts and the
//! authority it names in its `WWW-Authenticate` challenge.

/// Audiences ARM of `cloud` accepts, in the order its 401 message lists them: the legacy
/// service-management audience first, each with and without the trailing slash.
pub fn accepted_audiences(cloud: &str) -> Vec<String> {
    let (legacy, current) = hosts(cloud);
    [legacy, current]
        .iter()
        .flat_map(|host| [format!("https://{host}/"), format!("https://{host}")])
        .collect()
}

/// The AAD authority ARM of `cloud` points clients to.
pub fn login_host(cloud: &str) -> &'static str {
    match canonical(cloud) {
        Cloud::UsGovernment => "login.microsoftonline.us",
        Cloud::China => "login.chinacloudapi.cn",
        Cloud::Public => "login.windows.net",
    }
}

/// The canonical (mixed-case) name of the IMDS `azEnvironment` value, as `format=text` shows it.
pub fn canonical_name(az_environment: &str) -> Option<&'static str> {
    match az_environment.to_ascii_lowercase().as_str() {
        "azurepubliccloud" => Some("AzurePublicCloud"),
        "azureusgovernmentcloud" => Some("AzureUSGovernmentCloud"),
        "azurechinacloud" => Some("AzureChinaCloud"),
        "azuregermancloud" => Some("AzureGermanCloud"),
        _ => None,
    }
}

enum Cloud {
    Public,
    UsGovernment,
    China,
}

fn canonical(cloud: &str) -> Cloud {
    match cloud.to_ascii_lowercase().as_str() {
        "azureusgovernmentcloud" | "usgov" => Cloud::UsGovernment,
        "azurechinacloud" | "china" => Cloud::China,
        _ => Cloud::Public,
    }
}

fn hosts(cloud: &str) -> (&'static str, &'static str) {
    match canonical(cloud) {
        Cloud::UsGovernment => (
            "management.core.usgovcloudapi.net",
            "management.usgovcloudapi.net",
        ),
        Cloud::China => (
            "management.core.chinacloudapi.cn",
            "management.chinacloudapi.cn",
        ),
        Cloud::Public => ("management.core.windows.net", "management.azure.com"),
    }
}
