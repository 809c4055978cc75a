//! What the emulated subscription holds before any test writes to it: generated resource groups
//! and resources, made up from their index alone (so 50,000 of them cost nothing until a page
//! of them is listed), the VM's own resource, and the canonical spelling of well-known types.

use serde_json::{Map, Value, json};

use crate::ids::stable_guid;
use crate::instance;
use crate::scenario::Scenario;

/// Types the generated resources rotate through, spelled as ARM returns them.
pub const GENERATED_TYPES: [&str; 4] = [
    "Microsoft.Compute/virtualMachines",
    "Microsoft.Network/networkInterfaces",
    "Microsoft.Storage/storageAccounts",
    "Microsoft.Compute/disks",
];

/// Well-known types with nested ones, for the canonical spelling RPs answer with whatever
/// case the request used.
const KNOWN_TYPES: [&str; 9] = [
    "Microsoft.Compute/virtualMachines",
    "Microsoft.Compute/virtualMachines/extensions",
    "Microsoft.Compute/disks",
    "Microsoft.Network/networkInterfaces",
    "Microsoft.Network/virtualNetworks",
    "Microsoft.Network/virtualNetworks/subnets",
    "Microsoft.Storage/storageAccounts",
    "Microsoft.KeyVault/vaults",
    "Microsoft.ManagedIdentity/userAssignedIdentities",
];

/// Locations the generated groups rotate through after the VM's own.
const OTHER_LOCATIONS: [&str; 2] = ["eastus", "northeurope"];

/// `rg-gen-0001` for index 1.
pub fn generated_group_name(index: u64) -> String {
    format!("rg-gen-{index:04}")
}

/// The index of a generated group's name (any case), if it is one.
pub fn generated_group_index(name: &str) -> Option<u64> {
    let digits = name
        .to_ascii_lowercase()
        .strip_prefix("rg-gen-")?
        .to_string();
    canonical_number(&digits, 4)
}

/// Where generated group `index` lives: mostly the VM's region, some elsewhere.
pub fn generated_group_location(index: u64, home: &str) -> String {
    match index % 3 {
        0 => home.to_string(),
        i => OTHER_LOCATIONS[i as usize - 1].to_string(),
    }
}

/// Tags of generated group `index`: none on some, as on real groups.
pub fn generated_group_tags(index: u64) -> Option<Map<String, Value>> {
    (index % 2 == 1).then(|| tags(&[("purpose", "list-test"), ("index", &index.to_string())]))
}

/// `res-00001` for index 1.
pub fn generated_resource_name(index: u64) -> String {
    format!("res-{index:05}")
}

/// The index of a generated resource's name (any case), if it is one.
pub fn generated_resource_index(name: &str) -> Option<u64> {
    let digits = name.to_ascii_lowercase().strip_prefix("res-")?.to_string();
    canonical_number(&digits, 5)
}

/// The type of generated resource `index` (1-based: `res-00001` is a VM).
pub fn generated_resource_type(index: u64) -> &'static str {
    GENERATED_TYPES[(index.saturating_sub(1) % GENERATED_TYPES.len() as u64) as usize]
}

/// Generated resource `index` as a GET answers it. Its tags vary the way real ones do: absent,
/// empty, empty values, spaces in names, a tab and a newline in values, non-ASCII.
pub fn generated_resource(sub: &str, group: &str, location: &str, index: u64) -> Value {
    let kind = generated_resource_type(index);
    let name = generated_resource_name(index);
    let mut body = Map::new();
    body.insert(
        "id".into(),
        format!("/subscriptions/{sub}/resourceGroups/{group}/providers/{kind}/{name}").into(),
    );
    body.insert("name".into(), name.into());
    body.insert("type".into(), kind.into());
    if kind == "Microsoft.Storage/storageAccounts" {
        body.insert(
            "sku".into(),
            json!({"name": "Standard_LRS", "tier": "Standard"}),
        );
        body.insert("kind".into(), "StorageV2".into());
    }
    body.insert("location".into(), location.into());
    let tags = match index % 7 {
        0 => None,
        1 => Some(Map::new()),
        2 => Some(tags(&[("env", "prod"), ("owner", "team-a")])),
        3 => Some(tags(&[
            ("env", "dev"),
            ("cost center", "1234"),
            ("owner", ""),
        ])),
        4 => Some(tags(&[("note", "line one\nline two")])),
        5 => Some(tags(&[("path", "C:\\data\tcolumn")])),
        _ => Some(tags(&[("Größe", "groß"), (" padded ", "value ")])),
    };
    if let Some(tags) = tags {
        body.insert("tags".into(), Value::Object(tags));
    }
    body.insert(
        "properties".into(),
        json!({"provisioningState": "Succeeded"}),
    );
    Value::Object(body)
}

/// The VM the emulator runs on, as Microsoft.Compute answers a GET of it: the same vmId, size,
/// tags and identities IMDS reports.
pub fn vm_resource(s: &Scenario) -> Value {
    let vm_id = stable_guid(&format!("vmid:{}", s.vm_resource_id().to_lowercase()));
    let vm_tags: Vec<(&str, &str)> = instance::TAGS.to_vec();
    let mut body = json!({
        "name": s.vm_name,
        "id": s.vm_resource_id(),
        "type": "Microsoft.Compute/virtualMachines",
        "location": s.location,
        "tags": Value::Object(tags(&vm_tags)),
    });
    if let Some(identity) = vm_identity(s) {
        body["identity"] = identity;
    }
    body["properties"] = json!({
        "vmId": vm_id,
        "hardwareProfile": {"vmSize": "Standard_B2s"},
        "storageProfile": {
            "imageReference": {
                "publisher": "canonical",
                "offer": "ubuntu-24_04-lts",
                "sku": "server",
                "version": "latest",
                "exactVersion": "24.04.202501010"
            },
            "osDisk": {
                "osType": "Linux",
                "name": format!("{}_OsDisk_1_{}", s.vm_name, vm_id.replace('-', "")),
                "createOption": "FromImage",
                "caching": "ReadWrite",
                "managedDisk": {"storageAccountType": "Premium_LRS"},
                "deleteOption": "Delete",
                "diskSizeGB": 30
            },
            "dataDisks": []
        },
        "osProfile": {
            "computerName": s.vm_name,
            "adminUsername": "azureuser",
            "linuxConfiguration": {"disablePasswordAuthentication": true}
        },
        "networkProfile": {"networkInterfaces": []},
        "provisioningState": "Succeeded",
        "timeCreated": "2025-01-01T00:00:00.0000000+00:00"
    });
    body
}

fn vm_identity(s: &Scenario) -> Option<Value> {
    let users: Map<String, Value> = s
        .user_identities
        .iter()
        .map(|u| {
            let about = json!({"principalId": u.object_id, "clientId": u.client_id});
            (s.user_resource_id(u), about)
        })
        .collect();
    let kind = match (s.system_identity, users.is_empty()) {
        (true, true) => "SystemAssigned",
        (true, false) => "SystemAssigned, UserAssigned",
        (false, false) => "UserAssigned",
        (false, true) => return None,
    };
    let mut identity = json!({"type": kind});
    if s.system_identity {
        identity["principalId"] = s.system_object_id().into();
        identity["tenantId"] = s.tenant_id.clone().into();
    }
    if !users.is_empty() {
        identity["userAssignedIdentities"] = Value::Object(users);
    }
    Some(identity)
}

/// `Microsoft.Compute/virtualMachines` for `microsoft.compute/VIRTUALMACHINES`; unknown types
/// keep the request's spelling.
pub fn canonical_type(requested: &str) -> String {
    KNOWN_TYPES
        .iter()
        .chain(&["Microsoft.Resources/resourceGroups"])
        .find(|known| known.eq_ignore_ascii_case(requested))
        .map_or_else(|| requested.to_string(), |known| known.to_string())
}

/// The canonical spelling of a well-known type that is not nested in another, if `requested`
/// (any case) is one.
pub fn top_level_type(requested: &str) -> Option<&'static str> {
    KNOWN_TYPES
        .iter()
        .find(|known| known.eq_ignore_ascii_case(requested) && known.matches('/').count() == 1)
        .copied()
}

/// ARM stores locations in their short form: `West Europe` is `westeurope`.
pub fn normalize_location(location: &str) -> String {
    location
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// What POST `{resource}/{action}` answers when it completes: keys for `listKeys`, an empty
/// collection for other `list*` actions, an empty object for the rest (`restart`, `start`...).
pub fn action_result(resource_type: &str, action: &str, resource_id: &str) -> Value {
    let lower = action.to_ascii_lowercase();
    if lower == "listkeys"
        && resource_type.eq_ignore_ascii_case("Microsoft.Storage/storageAccounts")
    {
        let key = |n: u32| {
            let seed = stable_guid(&format!("key{n}:{}", resource_id.to_lowercase()));
            json!({
                "creationTime": "2025-01-01T00:00:00.0000000Z",
                "keyName": format!("key{n}"),
                "value": format!("{}==", seed.replace('-', "").repeat(2)),
                "permissions": "FULL"
            })
        };
        return json!({"keys": [key(1), key(2)]});
    }
    if lower == "listkeys" {
        let seed = stable_guid(&format!("keys:{}", resource_id.to_lowercase()));
        return json!({"primaryKey": seed, "secondaryKey": seed.chars().rev().collect::<String>()});
    }
    if lower.starts_with("list") {
        return json!({"value": []});
    }
    json!({})
}

fn tags(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Value::from(*v)))
        .collect()
}

/// `digits` as a number if it is exactly how the generator prints one (zero-padded to `width`),
/// so that `res-1` and `res-000001` name nothing generated.
fn canonical_number(digits: &str, width: usize) -> Option<u64> {
    let n: u64 = digits.parse().ok()?;
    (n > 0 && format!("{n:0width$}") == digits).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_names_round_trip_and_nothing_else_matches() {
        assert_eq!(generated_group_name(7), "rg-gen-0007");
        assert_eq!(generated_group_index("RG-GEN-0007"), Some(7));
        assert_eq!(generated_group_index("rg-gen-7"), None);
        assert_eq!(generated_resource_name(50_000), "res-50000");
        assert_eq!(generated_resource_index("res-50000"), Some(50_000));
        assert_eq!(generated_resource_index("res-123456"), Some(123_456));
        assert_eq!(generated_resource_index("res-00000"), None);
        assert_eq!(
            generated_resource_type(1),
            "Microsoft.Compute/virtualMachines"
        );
        assert_eq!(
            generated_resource_type(5),
            "Microsoft.Compute/virtualMachines"
        );
    }

    #[test]
    fn types_and_locations_are_spelled_as_arm_stores_them() {
        assert_eq!(
            canonical_type("microsoft.compute/VIRTUALMACHINES"),
            "Microsoft.Compute/virtualMachines"
        );
        assert_eq!(
            canonical_type("Contoso.Widgets/gadgets"),
            "Contoso.Widgets/gadgets"
        );
        assert_eq!(normalize_location("West Europe"), "westeurope");
    }
}
