//! ARM as armi meets it: authentication, authorization, resource groups, over TLS and HTTP.

mod common;

use armi_emulator::{Emulator, Fault, Grant, Limit, Route, Scenario};
use common::{http, https};

const SUB: &str = "8d10da13-8125-4ba9-a717-bf7490507b3d";

/// A token from the emulator's IMDS for `resource`.
fn token(emulator: &Emulator, resource: &str) -> String {
    let target =
        format!("/metadata/identity/oauth2/token?api-version=2018-02-01&resource={resource}");
    let body = http(
        &emulator.imds_url(),
        "GET",
        &target,
        &[("Metadata", "true")],
    )
    .json();
    body["access_token"].as_str().expect("a token").to_string()
}

fn group_path(name: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/{name}?api-version=2025-04-01")
}

#[test]
fn without_authorization_arm_says_401_authentication_failed() {
    let emulator = Emulator::start(Scenario::default());
    let reply = https(
        &emulator.arm_url(),
        &emulator.ca_file(),
        "GET",
        &group_path("rg-armi-demo"),
        &[],
    );
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()["error"]["code"], "AuthenticationFailed");
    assert_eq!(
        reply.json()["error"]["message"],
        "Authentication failed. The 'Authorization' header is missing."
    );
    assert!(
        reply
            .header("WWW-Authenticate")
            .is_some_and(|c| c.starts_with("Bearer authorization_uri="))
    );
    assert_eq!(reply.header("x-ms-failure-cause"), Some("gateway"));
    assert_eq!(
        reply.header("x-ms-request-id"),
        reply.header("x-ms-correlation-request-id")
    );
}

#[test]
fn an_issued_token_reads_the_vm_group_over_tls_and_http() {
    let emulator = Emulator::start(Scenario::default());
    let bearer = format!(
        "Bearer {}",
        token(&emulator, "https://management.azure.com/")
    );
    let auth = [("Authorization", bearer.as_str())];
    // Path keyword and name in other cases, name percent-encoded: ARM matches them anyway.
    let target =
        format!("/subscriptions/{SUB}/resourcegroups/RG%2DARMI%2Ddemo?api-version=2025-04-01");
    let reply = https(
        &emulator.arm_url(),
        &emulator.ca_file(),
        "GET",
        &target,
        &auth,
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json();
    assert_eq!(
        body["id"],
        format!("/subscriptions/{SUB}/resourceGroups/rg-armi-demo")
    );
    assert_eq!(body["name"], "rg-armi-demo");
    assert_eq!(body["type"], "Microsoft.Resources/resourceGroups");
    assert_eq!(body["properties"]["provisioningState"], "Succeeded");
    assert_eq!(body["tags"]["owner"], "");
    for header in [
        "x-ms-request-id",
        "x-ms-correlation-request-id",
        "x-ms-routing-request-id",
        "Strict-Transport-Security",
        "Date",
    ] {
        assert!(reply.header(header).is_some(), "{header} missing");
    }
    assert_eq!(reply.header("Cache-Control"), Some("no-cache"));

    let plain = http(&emulator.arm_http_url(), "GET", &target, &auth);
    assert_eq!(plain.status, 200);
    assert!(plain.header("Strict-Transport-Security").is_none());
    let reads = |r: &common::Reply| -> u32 {
        r.header("x-ms-ratelimit-remaining-subscription-reads")
            .and_then(|v| v.parse().ok())
            .expect("reads")
    };
    assert!(
        reads(&plain) < reads(&reply),
        "the remaining reads count down"
    );

    let head = http(&emulator.arm_http_url(), "HEAD", &target, &auth);
    assert_eq!(head.status, 204);
}

#[test]
fn a_group_without_a_grant_is_403_and_a_missing_granted_one_404() {
    let mut scenario = Scenario::default();
    let oid = scenario.system_object_id();
    scenario.groups = vec!["rg-other".into()];
    scenario.grants.push(Grant::new(
        &oid,
        &format!("/subscriptions/{SUB}/resourceGroups/rg-gone"),
    ));
    let emulator = Emulator::start(scenario);
    let bearer = format!(
        "Bearer {}",
        token(&emulator, "https://management.azure.com")
    );
    let auth = [("Authorization", bearer.as_str())];

    let denied = http(
        &emulator.arm_http_url(),
        "GET",
        &group_path("rg-other"),
        &auth,
    );
    assert_eq!(denied.status, 403);
    assert_eq!(denied.json()["error"]["code"], "AuthorizationFailed");
    let expected = format!(
        "The client '{}' with object id '{oid}' does not have authorization to perform action \
         'Microsoft.Resources/subscriptions/resourcegroups/read' over scope \
         '/subscriptions/{SUB}/resourcegroups/rg-other' or the scope is invalid. If access was \
         recently granted, please refresh your credentials.",
        emulator.scenario().system_client_id()
    );
    assert_eq!(denied.json()["error"]["message"], expected.as_str());

    let missing = http(
        &emulator.arm_http_url(),
        "GET",
        &group_path("rg-gone"),
        &auth,
    );
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.text(),
        r#"{"error":{"code":"ResourceGroupNotFound","message":"Resource group 'rg-gone' could not be found."}}"#
    );
}

#[test]
fn tokens_arm_refuses() {
    let scenario = Scenario {
        token_lifetime_secs: 0,
        ..Scenario::default()
    };
    let emulator = Emulator::start(scenario);
    let arm = emulator.arm_http_url();
    let code = |bearer: &str| {
        let reply = http(
            &arm,
            "GET",
            &group_path("rg-armi-demo"),
            &[("Authorization", bearer)],
        );
        assert_eq!(reply.status, 401);
        reply.json()["error"]["code"].as_str().map(str::to_string)
    };
    assert_eq!(
        code("Bearer not.a.token").as_deref(),
        Some("InvalidAuthenticationToken")
    );
    let expired = format!(
        "Bearer {}",
        token(&emulator, "https://management.azure.com/")
    );
    assert_eq!(
        code(&expired).as_deref(),
        Some("ExpiredAuthenticationToken")
    );
}

#[test]
fn a_token_for_another_audience_is_refused_with_the_allowed_list() {
    let emulator = Emulator::start(Scenario::default());
    let bearer = format!("Bearer {}", token(&emulator, "https://datalake.azure.net/"));
    let reply = http(
        &emulator.arm_http_url(),
        "GET",
        &group_path("rg-armi-demo"),
        &[("Authorization", &bearer)],
    );
    assert_eq!(reply.status, 401);
    // Byte for byte the body in samples/arm/error-401-InvalidAuthenticationTokenAudience.issue.json.
    let recorded = r#"{"error":{"code":"InvalidAuthenticationTokenAudience","message":"The access token has been obtained for wrong audience or resource 'https://datalake.azure.net/'. It should exactly match with one of the allowed audiences 'https://management.core.windows.net/','https://management.core.windows.net','https://management.azure.com/','https://management.azure.com'."}}"#;
    assert_eq!(reply.text(), recorded);
}

#[test]
fn api_version_is_required_and_checked() {
    let emulator = Emulator::start(Scenario::default());
    let bearer = format!(
        "Bearer {}",
        token(&emulator, "https://management.azure.com/")
    );
    let auth = [("Authorization", bearer.as_str())];
    let arm = emulator.arm_http_url();
    let missing = http(
        &arm,
        "GET",
        &format!("/subscriptions/{SUB}/resourcegroups/rg-armi-demo"),
        &auth,
    );
    assert_eq!(
        missing.json()["error"]["code"],
        "MissingApiVersionParameter"
    );
    let old = http(
        &arm,
        "GET",
        &format!("/subscriptions/{SUB}/resourcegroups/rg-armi-demo?api-version=2016-03-30"),
        &auth,
    );
    assert_eq!(old.status, 400);
    assert!(
        old.json()["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with(
                "The api-version '2016-03-30' is invalid. The supported versions are '2025-04-01,"
            ))
    );
    let other_sub = http(
        &arm,
        "GET",
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/x?api-version=2021-04-01",
        &auth,
    );
    assert_eq!(other_sub.status, 404);
    assert_eq!(other_sub.json()["error"]["code"], "SubscriptionNotFound");
}

#[test]
fn throttling_carries_retry_after_then_recovers() {
    let scenario = Scenario::default().with_fault(Fault::status_retry_after(
        Route::Arm,
        429,
        "2",
        Limit::Times(1),
    ));
    let emulator = Emulator::start(scenario);
    let bearer = format!(
        "Bearer {}",
        token(&emulator, "https://management.azure.com/")
    );
    let auth = [("Authorization", bearer.as_str())];
    let first = http(
        &emulator.arm_http_url(),
        "GET",
        &group_path("rg-armi-demo"),
        &auth,
    );
    assert_eq!(first.status, 429);
    assert_eq!(first.header("Retry-After"), Some("2"));
    assert_eq!(
        first.json()["error"]["code"],
        "SubscriptionRequestsThrottled"
    );
    let second = http(
        &emulator.arm_http_url(),
        "GET",
        &group_path("rg-armi-demo"),
        &auth,
    );
    assert_eq!(second.status, 200);
}

#[test]
fn group_lists_page_with_absolute_next_links() {
    let mut scenario = Scenario {
        groups: vec!["rg-a".into(), "rg-b".into()],
        page_size: Some(2),
        ..Scenario::default()
    };
    let sub_scope = scenario.subscription_scope();
    let oid = scenario.system_object_id();
    scenario.grants = vec![Grant::new(&oid, &sub_scope)];
    let emulator = Emulator::start(scenario);
    let bearer = format!(
        "Bearer {}",
        token(&emulator, "https://management.azure.com/")
    );
    let auth = [("Authorization", bearer.as_str())];
    let first = https(
        &emulator.arm_url(),
        &emulator.ca_file(),
        "GET",
        &format!("/subscriptions/{SUB}/resourcegroups?api-version=2025-04-01"),
        &auth,
    )
    .json();
    assert_eq!(first["value"].as_array().map(Vec::len), Some(2));
    let next = first["nextLink"].as_str().expect("a nextLink");
    let prefix = format!("{}/", emulator.arm_url());
    assert!(next.starts_with(&prefix), "{next}");
    let second = https(
        &emulator.arm_url(),
        &emulator.ca_file(),
        "GET",
        &next[prefix.len() - 1..],
        &auth,
    )
    .json();
    assert_eq!(second["value"][0]["name"], "rg-b");
    assert!(second.get("nextLink").is_none());
}
