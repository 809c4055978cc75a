//! Grants that are not there yet: an ARM role assignment still propagating, and a
//! user-assigned identity that IMDS does not know for its first seconds.

mod common;

use std::time::Duration;

use armi_emulator::{Emulator, Role, Scenario, UserIdentity};
use common::{bearer, http, https};

const PENDING: Duration = Duration::from_millis(1500);

fn group_path(scenario: &Scenario) -> String {
    format!(
        "{}?api-version=2025-04-01",
        scenario.group_scope(&scenario.resource_group)
    )
}

#[test]
fn arm_refuses_a_role_assignment_until_it_has_propagated() {
    let mut scenario = Scenario::default();
    let me = scenario.system_object_id();
    let scope = scenario.group_scope(&scenario.resource_group);
    scenario
        .grants
        .retain(|g| !g.principal_object_id.eq_ignore_ascii_case(&me));
    let emulator = Emulator::start(scenario.with_grant_after(Role::Reader, &me, &scope, PENDING));
    let auth = bearer(&emulator.imds_url(), "https://management.azure.com/");
    let path = group_path(emulator.scenario());
    let get = || {
        https(
            &emulator.arm_url(),
            &emulator.ca_file(),
            "GET",
            &path,
            &[("Authorization", &auth)],
        )
    };

    let early = get();
    assert_eq!(early.status, 403);
    assert_eq!(early.json()["error"]["code"], "AuthorizationFailed");
    let scenario = emulator.scenario();
    let expected = format!(
        "The client '{}' with object id '{me}' does not have authorization to perform action 'Microsoft.Resources/subscriptions/resourcegroups/read' over scope '/subscriptions/{}/resourcegroups/{}' or the scope is invalid. If access was recently granted, please refresh your credentials.",
        scenario.system_client_id(),
        scenario.subscription_id,
        scenario.resource_group
    );
    assert_eq!(early.json()["error"]["message"], expected.as_str());
    std::thread::sleep(PENDING + Duration::from_millis(100));
    let later = get();
    assert_eq!(later.status, 200, "{}", later.text());
}

#[test]
fn a_pending_reader_grant_does_not_let_its_holder_write() {
    let mut scenario = Scenario::default();
    let me = scenario.system_object_id();
    let scope = scenario.group_scope(&scenario.resource_group);
    scenario
        .grants
        .retain(|g| !g.principal_object_id.eq_ignore_ascii_case(&me));
    let emulator =
        Emulator::start(scenario.with_grant_after(Role::Reader, &me, &scope, Duration::ZERO));
    let auth = bearer(&emulator.imds_url(), "https://management.azure.com/");
    let path = format!(
        "{scope}/providers/Microsoft.Network/virtualNetworks/vnet-1?api-version=2024-05-01"
    );
    let reply = common::https_body(
        &emulator.arm_url(),
        &emulator.ca_file(),
        "PUT",
        &path,
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        br#"{"location":"westeurope"}"#,
    );
    assert_eq!(reply.status, 403, "{}", reply.text());
    assert_eq!(reply.json()["error"]["code"], "AuthorizationFailed");
    let read = https(
        &emulator.arm_url(),
        &emulator.ca_file(),
        "GET",
        &group_path(emulator.scenario()),
        &[("Authorization", &auth)],
    );
    assert_eq!(read.status, 200);
}

/// `id-new` (client id `1111…`, object id `2111…`) and `id-old` (`3111…`, `4111…`).
fn new_and_old() -> Vec<UserIdentity> {
    vec![
        UserIdentity::new(
            "id-new",
            "11111111-1111-4111-8111-111111111111",
            "21111111-1111-4111-8111-111111111111",
        ),
        UserIdentity::new(
            "id-old",
            "31111111-1111-4111-8111-111111111111",
            "41111111-1111-4111-8111-111111111111",
        ),
    ]
}

#[test]
fn imds_does_not_know_a_newly_attached_identity_for_its_first_seconds() {
    let scenario = Scenario {
        user_identities: new_and_old(),
        ..Scenario::default()
    }
    .with_identity_attaching("id-new", PENDING);
    let emulator = Emulator::start(scenario);
    let token = |selector: &str| {
        let target = format!(
            "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/&{selector}"
        );
        http(
            &emulator.imds_url(),
            "GET",
            &target,
            &[("Metadata", "true")],
        )
    };
    for selector in [
        "client_id=11111111-1111-4111-8111-111111111111",
        "object_id=21111111-1111-4111-8111-111111111111",
    ] {
        let early = token(selector);
        assert_eq!(early.status, 400, "{selector}");
        assert_eq!(
            early.text(),
            r#"{"error":"invalid_request","error_description":"Identity not found"}"#
        );
    }
    assert_eq!(
        token("client_id=31111111-1111-4111-8111-111111111111").status,
        200
    );
    std::thread::sleep(PENDING + Duration::from_millis(100));
    let later = token("client_id=11111111-1111-4111-8111-111111111111");
    assert_eq!(later.status, 200, "{}", later.text());
    assert_eq!(
        later.json()["client_id"],
        "11111111-1111-4111-8111-111111111111"
    );
}

#[test]
fn an_identity_still_attaching_does_not_count_when_none_is_named() {
    let scenario = Scenario {
        system_identity: false,
        user_identities: new_and_old(),
        ..Scenario::default()
    }
    .with_identity_attaching("id-new", Duration::from_secs(60));
    let emulator = Emulator::start(scenario);
    let target = "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/";
    let reply = http(&emulator.imds_url(), "GET", target, &[("Metadata", "true")]);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.json()["client_id"],
        "31111111-1111-4111-8111-111111111111"
    );
}
