//! The instance metadata document (`/metadata/instance`) of the scenario's VM and IMDS's route
//! filtering into it, shaped like the documented Linux sample: every primitive a string,
//! missing values as empty strings.

use serde_json::{Value, json};

use crate::cloud::canonical_name;
use crate::ids::stable_guid;
use crate::scenario::Scenario;

/// The answer to a filtered instance request.
pub enum Answer {
    Json(Value),
    Text(String),
    /// The path names no element.
    NotFound,
    /// A leaf was asked for without `format=text`.
    LeafNeedsText,
}

/// Looks up `sub_path` (after `/metadata/instance`, may be empty) in the document of `api_version`.
pub fn answer(
    scenario: &Scenario,
    api_version: &str,
    sub_path: &str,
    format: Option<&str>,
) -> Answer {
    let document = document(scenario, api_version);
    let mut node = &document;
    let mut key = "";
    for segment in sub_path.split('/').filter(|s| !s.is_empty()) {
        let child = match node {
            Value::Object(map) => map.get(segment),
            Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        };
        let Some(child) = child else {
            return Answer::NotFound;
        };
        node = child;
        key = segment;
    }
    let leaf = !(node.is_object() || node.is_array());
    match (format, leaf) {
        (Some("text"), _) => Answer::Text(text(key, node)),
        (_, true) => Answer::LeafNeedsText,
        _ => Answer::Json(node.clone()),
    }
}

/// `format=text`: a leaf's value, or the names of a node's children (`name/` for inner nodes).
fn text(key: &str, node: &Value) -> String {
    match node {
        // JSON shows the upper-case form, text the canonical one (documented samples).
        Value::String(s) if key == "azEnvironment" => canonical_name(s).unwrap_or(s).to_string(),
        Value::String(s) => s.clone(),
        Value::Object(map) => children(map.iter().map(|(k, v)| (k.clone(), v))),
        Value::Array(items) => children(items.iter().enumerate().map(|(i, v)| (i.to_string(), v))),
        other => other.to_string(),
    }
}

fn children<'a>(entries: impl Iterator<Item = (String, &'a Value)>) -> String {
    entries
        .map(|(name, value)| match value {
            Value::Object(_) | Value::Array(_) => format!("{name}/"),
            _ => name,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Fields appear from the api-version IMDS introduced them in (IMDS-DOC "Schema breakdown").
const INTRODUCED: [(&str, &str); 4] = [
    ("azEnvironment", "2018-10-01"),
    ("resourceId", "2019-03-11"),
    ("tagsList", "2019-06-04"),
    ("userData", "2021-01-01"),
];

/// The whole document as `api_version` returns it.
pub fn document(scenario: &Scenario, api_version: &str) -> Value {
    let mut compute = compute(scenario);
    if let Some(map) = compute.as_object_mut() {
        for (field, since) in INTRODUCED {
            // ISO dates compare correctly as strings.
            if api_version < since {
                map.remove(field);
            }
        }
        // securityProfile.securityType came in 2021-12-13 (IMDS-DOC "Schema breakdown").
        if api_version < "2021-12-13"
            && let Some(Value::Object(profile)) = map.get_mut("securityProfile")
        {
            profile.remove("securityType");
        }
    }
    json!({"compute": compute, "network": network(scenario)})
}

/// The VM's tags: one with an empty value, as real tags can have.
pub const TAGS: [(&str, &str); 2] = [("environment", "test"), ("owner", "")];

fn compute(s: &Scenario) -> Value {
    let vm_id = stable_guid(&format!("vmid:{}", s.vm_resource_id().to_lowercase()));
    let disk_id = format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Compute/disks/{}_OsDisk_1_{}",
        s.subscription_id,
        s.resource_group.to_uppercase(),
        s.vm_name,
        vm_id.replace('-', "")
    );
    let tags: Vec<String> = TAGS.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    let tags_list: Vec<Value> = TAGS
        .iter()
        .map(|(k, v)| json!({"name": k, "value": v}))
        .collect();
    json!({
        "azEnvironment": s.az_environment,
        "additionalCapabilities": {"hibernationEnabled": "false"},
        "hostGroup": {"id": ""},
        "extendedLocation": {"type": "", "name": ""},
        "evictionPolicy": "",
        "isHostCompatibilityLayerVm": "false",
        "licenseType": "",
        "location": s.location,
        "name": s.vm_name,
        "offer": "ubuntu-24_04-lts",
        "osProfile": {
            "adminUsername": "azureuser",
            "computerName": s.vm_name,
            "disablePasswordAuthentication": "true"
        },
        "osType": "Linux",
        "placementGroupId": "",
        "plan": {"name": "", "product": "", "publisher": ""},
        "platformFaultDomain": "0",
        "platformSubFaultDomain": "",
        "platformUpdateDomain": "0",
        "priority": "Regular",
        "provider": "Microsoft.Compute",
        "publicKeys": [{
            "keyData": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIArmiEmulatorTestKeyNotARealKey00000000000 azureuser",
            "path": "/home/azureuser/.ssh/authorized_keys"
        }],
        "publisher": "canonical",
        "resourceGroupName": s.resource_group,
        "resourceId": s.vm_resource_id(),
        "securityProfile": {
            "secureBootEnabled": "true",
            "virtualTpmEnabled": "true",
            "encryptionAtHost": "false",
            "securityType": "TrustedLaunch"
        },
        "sku": "server",
        "storageProfile": {
            "dataDisks": [],
            "imageReference": {
                "id": "",
                "offer": "ubuntu-24_04-lts",
                "publisher": "canonical",
                "sku": "server",
                "version": "latest",
                "communityGalleryImageId": "",
                "sharedGalleryImageId": "",
                "exactVersion": "24.04.202501010"
            },
            "osDisk": {
                "caching": "ReadWrite",
                "createOption": "FromImage",
                "diskSizeGB": "30",
                "diffDiskSettings": {"option": ""},
                "encryptionSettings": {"enabled": "false"},
                "image": {"uri": ""},
                "managedDisk": {"id": disk_id, "storageAccountType": "Premium_LRS"},
                "name": format!("{}_OsDisk_1_{}", s.vm_name, vm_id.replace('-', "")),
                "osType": "Linux",
                "vhd": {"uri": ""},
                "writeAcceleratorEnabled": "false"
            },
            "resourceDisk": {"size": "0"}
        },
        "subscriptionId": s.subscription_id,
        "tags": tags.join(";"),
        "tagsList": tags_list,
        "userData": "",
        "version": "24.04.202501010",
        "virtualMachineScaleSet": {"id": ""},
        "vmId": vm_id,
        "vmScaleSetName": "",
        "vmSize": "Standard_B2s",
        "zone": ""
    })
}

fn network(s: &Scenario) -> Value {
    let mac = stable_guid(&format!("mac:{}", s.vm_resource_id().to_lowercase())).replace('-', "")
        [..6]
        .to_uppercase();
    json!({
        "interface": [{
            "ipv4": {
                "ipAddress": [{"privateIpAddress": "10.0.0.4", "publicIpAddress": ""}],
                "subnet": [{"address": "10.0.0.0", "prefix": "24"}]
            },
            "ipv6": {"ipAddress": []},
            "macAddress": format!("000D3A{mac}")
        }]
    })
}
