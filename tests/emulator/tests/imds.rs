//! IMDS as armi meets it: tokens, selection of identities, request rules, faults.

mod common;

use armi_emulator::{Emulator, Fault, Limit, Route, Scenario, Service, UserIdentity};
use common::http;

const TOKEN: &str = "/metadata/identity/oauth2/token?api-version=2018-02-01";
const META: (&str, &str) = ("Metadata", "true");

#[test]
fn token_for_the_system_identity_has_string_fields_and_echoes_the_resource() {
    let emulator = Emulator::start(Scenario::default());
    let target = format!("{TOKEN}&resource=https://management.azure.com");
    let reply = http(&emulator.imds_url(), "GET", &target, &[META]);

    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("Content-Type"),
        Some("application/json; charset=utf-8")
    );
    assert!(
        reply
            .header("Server")
            .is_some_and(|s| s.starts_with("IMDS/"))
    );
    let body = reply.json();
    let fields = body.as_object().expect("an object");
    for (name, value) in fields {
        assert!(value.is_string(), "{name} is not a string: {value}");
    }
    for name in [
        "access_token",
        "expires_in",
        "expires_on",
        "ext_expires_in",
        "not_before",
    ] {
        assert!(fields.contains_key(name), "{name} missing");
    }
    assert_eq!(body["resource"], "https://management.azure.com");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["client_id"], emulator.scenario().system_client_id());
    let expires_in: u64 = body["expires_in"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("number");
    assert!((86_000..=86_399).contains(&expires_in), "{expires_in}");
    let token = body["access_token"].as_str().expect("token");
    assert_eq!(token.split('.').count(), 3);
    assert_eq!(emulator.issued_tokens(), vec![token.to_string()]);
}

#[test]
fn the_resource_is_echoed_decoded_and_byte_for_byte() {
    let emulator = Emulator::start(Scenario::default());
    let target = format!("{TOKEN}&resource=https%3A%2F%2Fmanagement.azure.com%2F");
    let body = http(&emulator.imds_url(), "GET", &target, &[META]).json();
    assert_eq!(body["resource"], "https://management.azure.com/");
}

#[test]
fn a_missing_metadata_header_gets_the_recorded_400() {
    let emulator = Emulator::start(Scenario::default());
    let target = format!("{TOKEN}&resource=https://management.azure.com");
    let reply = http(&emulator.imds_url(), "GET", &target, &[]);
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.text(),
        r#"{"error":"invalid_request","error_description":"Required metadata header not specified"}"#
    );
    let upper = http(
        &emulator.imds_url(),
        "GET",
        &target,
        &[("Metadata", "True")],
    );
    assert_eq!(upper.status, 400, "only lower-case true is accepted");
    assert!(emulator.issued_tokens().is_empty());
}

#[test]
fn request_rules_reject_forwarding_duplicates_methods_and_versions() {
    let emulator = Emulator::start(Scenario::default());
    let imds = emulator.imds_url();
    let ok = format!("{TOKEN}&resource=https://management.azure.com/");
    let forwarded = http(&imds, "GET", &ok, &[META, ("X-Forwarded-For", "10.0.0.1")]);
    assert_eq!(forwarded.status, 400);
    let twice = format!("{ok}&resource=https://vault.azure.net");
    assert_eq!(http(&imds, "GET", &twice, &[META]).status, 400);
    assert_eq!(http(&imds, "POST", &ok, &[META]).status, 405);
    let versionless = http(&imds, "GET", "/metadata/instance?format=json", &[META]);
    assert_eq!(versionless.status, 400);
    assert_eq!(versionless.json()["newest-versions"][0], "2025-04-07");
}

#[test]
fn selectors_pick_user_identities_and_unknown_ones_are_not_found() {
    let user = UserIdentity::new("uai-one", "11111111-aaaa-4aaa-8aaa-111111111111", "o-1");
    let other = UserIdentity::new("uai-two", "22222222-bbbb-4bbb-8bbb-222222222222", "o-2");
    let scenario = Scenario {
        system_identity: false,
        user_identities: vec![user.clone(), other],
        ..Scenario::default()
    };
    let emulator = Emulator::start(scenario);
    let imds = emulator.imds_url();
    let base = format!("{TOKEN}&resource=https://management.azure.com/");

    let none = http(&imds, "GET", &base, &[META]).json();
    assert!(
        none["error_description"]
            .as_str()
            .is_some_and(|d| d.starts_with("Multiple user assigned identities exist"))
    );

    let by_client = http(
        &imds,
        "GET",
        &format!("{base}&client_id={}", user.client_id.to_uppercase()),
        &[META],
    );
    assert_eq!(by_client.status, 200);
    assert_eq!(by_client.json()["client_id"], user.client_id);

    let res_id = emulator.scenario().user_resource_id(&user).to_uppercase();
    let by_res_id = http(
        &imds,
        "GET",
        &format!("{base}&msi_res_id={res_id}"),
        &[META],
    )
    .json();
    assert_eq!(
        by_res_id["msi_res_id"],
        res_id.as_str(),
        "echoed as requested"
    );

    let unknown = http(&imds, "GET", &format!("{base}&object_id=nobody"), &[META]);
    assert_eq!(unknown.status, 400);
    assert_eq!(
        unknown.text(),
        r#"{"error":"invalid_request","error_description":"Identity not found"}"#
    );

    let both = format!("{base}&client_id={}&object_id=o-1", user.client_id);
    assert_eq!(http(&imds, "GET", &both, &[META]).status, 400);
}

#[test]
fn a_fault_twice_410_then_success() {
    let scenario = Scenario::default().with_fault(Fault::status_retry_after(
        Route::ImdsToken,
        410,
        "1",
        Limit::Times(2),
    ));
    let emulator = Emulator::start(scenario);
    let target = format!("{TOKEN}&resource=https://management.azure.com/");
    for _ in 0..2 {
        let reply = http(&emulator.imds_url(), "GET", &target, &[META]);
        assert_eq!(reply.status, 410);
        assert_eq!(reply.header("Retry-After"), Some("1"));
        assert!(reply.json()["error"].is_string() && reply.json()["error_description"].is_string());
    }
    assert_eq!(
        http(&emulator.imds_url(), "GET", &target, &[META]).status,
        200
    );
    assert_eq!(emulator.count(Service::Imds), 3);
    assert_eq!(emulator.issued_tokens().len(), 1);
}

#[test]
fn instance_metadata_has_the_scenario_and_only_strings() {
    let emulator = Emulator::start(Scenario::default());
    let body = http(
        &emulator.imds_url(),
        "GET",
        "/metadata/instance?api-version=2021-02-01",
        &[META],
    )
    .json();
    let compute = &body["compute"];
    assert_eq!(compute["azEnvironment"], "AZUREPUBLICCLOUD");
    assert_eq!(
        compute["subscriptionId"],
        "8d10da13-8125-4ba9-a717-bf7490507b3d"
    );
    assert_eq!(compute["resourceGroupName"], "rg-armi-demo");
    assert_eq!(compute["resourceId"], emulator.scenario().vm_resource_id());
    assert_eq!(compute["zone"], "");
    fn all_strings(value: &serde_json::Value) -> bool {
        match value {
            serde_json::Value::Object(map) => map.values().all(all_strings),
            serde_json::Value::Array(items) => items.iter().all(all_strings),
            other => other.is_string(),
        }
    }
    assert!(all_strings(&body));
    let old = http(
        &emulator.imds_url(),
        "GET",
        "/metadata/instance/compute?api-version=2018-02-01",
        &[META],
    )
    .json();
    assert!(old.get("azEnvironment").is_none() && old.get("resourceId").is_none());
    let text = http(
        &emulator.imds_url(),
        "GET",
        "/metadata/instance/compute/azEnvironment?api-version=2021-02-01&format=text",
        &[META],
    );
    assert_eq!(text.text(), "AzurePublicCloud");
}
