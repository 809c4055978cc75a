//! Request bodies of writes as ARM reads them, and the resource bodies they make: a PUT
//! replaces, a PATCH merges (RFC 7396 JSON merge patch, except that `tags` are replaced
//! whole, as the RPC says and as Azure/typespec-azure#1234 spells out).

use serde_json::{Map, Value};

use super::errors::{ArmError, error, invalid_content};
use crate::address::Address;
use crate::catalog::normalize_location;
use crate::http::Request;

/// Read-only top-level keys: what the request says of them is ignored.
const READ_ONLY: [&str; 3] = ["id", "name", "type"];

/// The JSON object a write sends.
pub fn json_object(request: &Request) -> Result<Map<String, Value>, ArmError> {
    if let Some(media) = request.header("content-type")
        && !media.to_ascii_lowercase().contains("json")
    {
        return Err(error(
            415,
            "UnsupportedMediaType",
            format!(
                "The content media type '{media}' is not supported. Only 'application/json' is supported."
            ),
        ));
    }
    let value: Value =
        serde_json::from_slice(&request.body).map_err(|e| invalid_content(&e.to_string()))?;
    let found = match value {
        Value::Object(map) => return Ok(map),
        Value::Array(_) => "array",
        Value::Null => "null",
        _ => "primitive value",
    };
    Err(invalid_content(&format!(
        "Cannot deserialize the current JSON {found} into type 'ResourceDefinition' because the type requires a JSON object to deserialize correctly"
    )))
}

/// `location` of a body, normalised, if it has a non-empty one.
pub fn location(body: &Map<String, Value>) -> Option<String> {
    body.get("location")
        .and_then(Value::as_str)
        .filter(|l| !l.trim().is_empty())
        .map(normalize_location)
}

/// `tags` of a body: `Ok(None)` if absent or null, refused unless an object.
pub fn tags(body: &Map<String, Value>) -> Result<Option<Map<String, Value>>, ArmError> {
    match body.get("tags") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(tags)) => Ok(Some(tags.clone())),
        Some(_) => Err(invalid_content(
            "Error converting value to type 'System.Collections.Generic.Dictionary`2[System.String,System.String]'. Path 'tags'",
        )),
    }
}

/// The resource a PUT of `request` makes at `address`; `existing` keeps the id, name and type
/// it has, spelled as first created.
pub fn put_body(
    address: &Address,
    group: &str,
    request: &Map<String, Value>,
    existing: Option<&Value>,
) -> Result<Value, ArmError> {
    let tags = tags(request)?;
    let mut body = Map::new();
    let id = existing.and_then(|e| e.get("id")).cloned();
    body.insert(
        "id".into(),
        id.unwrap_or_else(|| address.canonical_id(group).into()),
    );
    let name = existing.and_then(|e| e.get("name")).cloned();
    body.insert("name".into(), name.unwrap_or_else(|| address.name().into()));
    body.insert("type".into(), address.full_type().into());
    if let Some(location) = location(request) {
        body.insert("location".into(), location.into());
    }
    if let Some(tags) = tags {
        body.insert("tags".into(), Value::Object(tags));
    }
    for (key, value) in request {
        let skipped = READ_ONLY.contains(&key.as_str())
            || ["location", "tags", "properties"].contains(&key.as_str());
        if !skipped {
            body.insert(key.clone(), value.clone());
        }
    }
    let properties = match request.get("properties") {
        Some(Value::Object(properties)) => properties.clone(),
        _ => Map::new(),
    };
    body.insert("properties".into(), Value::Object(properties));
    Ok(Value::Object(body))
}

/// `existing` with a PATCH body applied.
pub fn patched(existing: &Value, patch: &Map<String, Value>) -> Result<Value, ArmError> {
    let tags = tags(patch)?;
    let mut body = existing.clone();
    let Some(map) = body.as_object_mut() else {
        return Ok(body);
    };
    for (key, value) in patch {
        match key.as_str() {
            k if READ_ONLY.contains(&k) || k == "location" => {}
            "tags" => {
                match &tags {
                    Some(tags) => map.insert("tags".into(), Value::Object(tags.clone())),
                    None => map.remove("tags"),
                };
            }
            _ => merge(map, key, value),
        }
    }
    Ok(body)
}

/// RFC 7396: null removes, objects merge member by member, anything else replaces.
fn merge(target: &mut Map<String, Value>, key: &str, patch: &Value) {
    match patch {
        Value::Null => {
            target.remove(key);
        }
        Value::Object(members) => {
            let slot = target
                .entry(key.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            if let Some(inner) = slot.as_object_mut() {
                for (k, v) in members {
                    merge(inner, k, v);
                }
            }
        }
        other => {
            target.insert(key.to_string(), other.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().cloned().expect("an object")
    }

    #[test]
    fn patch_merges_properties_but_replaces_tags() {
        let existing = json!({
            "id": "x", "tags": {"a": "1", "b": "2"},
            "properties": {"keep": 1, "nested": {"x": 1, "y": 2}, "drop": true}
        });
        let patch = object(json!({
            "id": "ignored", "tags": {"c": "3"},
            "properties": {"nested": {"y": null, "z": 3}, "drop": null}
        }));
        let result = patched(&existing, &patch).expect("valid");
        assert_eq!(result["id"], "x");
        assert_eq!(result["tags"], json!({"c": "3"}));
        assert_eq!(
            result["properties"],
            json!({"keep": 1, "nested": {"x": 1, "z": 3}})
        );
        let untagged = patched(&existing, &object(json!({"tags": null}))).expect("valid");
        assert!(untagged.get("tags").is_none());
    }

    #[test]
    fn put_builds_the_resource_from_the_address_and_body() {
        let address = Address {
            sub: "s".into(),
            group: "RG".into(),
            namespace: "microsoft.storage".into(),
            types: vec!["storageaccounts".into()],
            names: vec!["st1".into()],
        };
        let request = object(json!({
            "location": "West Europe", "sku": {"name": "Standard_LRS"}, "name": "other"
        }));
        let body = put_body(&address, "rg", &request, None).expect("valid");
        assert_eq!(
            body["id"],
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st1"
        );
        assert_eq!(body["name"], "st1");
        assert_eq!(body["location"], "westeurope");
        assert_eq!(body["sku"]["name"], "Standard_LRS");
        assert_eq!(body["properties"], json!({}));
        assert!(tags(&object(json!({"tags": "x"}))).is_err());
    }
}
